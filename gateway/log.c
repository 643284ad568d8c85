/* gateway/log.c -- see log.h. */
#include "config.h"
#include "gateway/log.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static const char *lg_ident = "mobileid";
static mid_log_target_t lg_target = MID_LOGT_STDERR;
static int lg_max = MID_LOG_INFO;

static const char *const lg_names[] = {
	[MID_LOG_ERR] = "error", [MID_LOG_WARNING] = "warning",
	[MID_LOG_NOTICE] = "notice", [MID_LOG_INFO] = "info",
	[MID_LOG_DEBUG] = "debug",
};

void mid_log_init(const char *ident, mid_log_target_t target, int max_level)
{
	lg_ident = ident;
	mid_log_set(target, max_level);
}

void mid_log_set(mid_log_target_t target, int max_level)
{
	if (target == MID_LOGT_SYSLOG && lg_target != MID_LOGT_SYSLOG)
		openlog(lg_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	else if (target != MID_LOGT_SYSLOG && lg_target == MID_LOGT_SYSLOG)
		closelog();
	lg_target = target;
	lg_max = max_level;
}

int mid_log_level_parse(const char *name)
{
	for (int i = MID_LOG_ERR; i <= MID_LOG_DEBUG; i++)
		if (name && strcmp(name, lg_names[i]) == 0)
			return i;
	return -1;
}

void mid_vlog(int level, const char *fmt, va_list ap)
{
	if (level > lg_max)
		return;
	if (level < MID_LOG_ERR)
		level = MID_LOG_ERR;
	if (level > MID_LOG_DEBUG)
		level = MID_LOG_DEBUG;
	if (lg_target == MID_LOGT_SYSLOG) {
		vsyslog(level, fmt, ap);
		return;
	}
	char line[2048];
	vsnprintf(line, sizeof line, fmt, ap);
	/* One line per message: a message never spans lines in the log. */
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	fprintf(stderr, "%s: %s: %s\n", lg_ident, lg_names[level], line);
}

void mid_log(int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mid_vlog(level, fmt, ap);
	va_end(ap);
}
