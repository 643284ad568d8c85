/* gateway/log.h -- the daemon's and CLI's logger: stderr or syslog.
 *
 * Only programs log; library code returns errors as values and its caller
 * decides what to print. Never pass a secret to these functions.
 */
#pragma once
#include <stdarg.h>
#include "mobileid/connector.h"

typedef enum { MID_LOGT_STDERR = 0, MID_LOGT_SYSLOG = 1 } mid_log_target_t;

/* Configure the logger: program name (borrowed, must outlive the logger),
 * target and the most verbose level printed (enum mid_log_level). */
void mid_log_init(const char *ident, mid_log_target_t target, int max_level);
/* Change the level or target after a config reload. */
void mid_log_set(mid_log_target_t target, int max_level);
/* Parse "error", "warning", "notice", "info", "debug"; -1 if unknown. */
int mid_log_level_parse(const char *name);
/* Log one line at `level`. */
void mid_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mid_vlog(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
