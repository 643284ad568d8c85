/* mobileidd -- the mobileid-gateway daemon.
 *
 * Reads its config (-c FILE), checks every binding's connector, and runs
 * until SIGTERM/SIGINT. SIGHUP reloads the config: a new config that does
 * not validate is refused with its problems logged, and the old one keeps
 * running. Tells systemd when it is ready (READY=1), reloading and
 * stopping. Logs to stderr in the foreground, or as the config says.
 */
#include <config.h>
#include "gateway/daemon.h"
#include "gateway/instance.h"
#include "gateway/log.h"
#include "gateway/sdnotify.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *out)
{
	fprintf(out,
	    "Usage: mobileidd [-c FILE] [--foreground] [--check]\n\n"
	    "The mobileid-gateway daemon: synchronizes Mobile ID users with PACS\n"
	    "users through connector modules, issues Mobile IDs and serves phones and\n"
	    "readers.\n\n"
	    "Options:\n"
	    "  -c, --config FILE  the config file (default: %s)\n"
	    "  -f, --foreground   stay in the foreground and log to stderr\n"
	    "      --check        load and check the config and the connectors, then exit\n"
	    "  -h, --help         this text\n"
	    "      --version      print the version\n\n"
	    "Signals: SIGTERM or SIGINT stop cleanly; SIGHUP reloads the config\n"
	    "(a config that does not validate is refused and the old one stays).\n\n"
	    "Environment: MOBILEID_CONFIG (the default config file),\n"
	    "MOBILEID_MODULE_PATH and MOBILEID_PLUGIN_DIR (colon-separated folders\n"
	    "searched before the config's module_path and plugin_path).\n\n"
	    "Exit status: 0 stopped cleanly (or --check found the config valid);\n"
	    "1 the config is invalid or the start failed (also without -f: the\n"
	    "command waits until the daemon has started); 2 usage error.\n",
	    mid_default_config_path());
}

/* Load a config and check its bindings. On failure every problem is logged
 * and NULL returned. */
static mid_config_t *load_checked(const char *path)
{
	mid_config_diag_t diag = { 0 };
	mid_error_t err = { 0 };
	mid_config_t *cfg = NULL;
	mid_modhost_t *mh = NULL;

	if (mid_config_load_diag(path, &cfg, &diag, &err) != MID_OK)
		goto fail;
	if (mid_instance_modhost(cfg, &mh, &err) != MID_OK) {
		mid_diag_add(&diag, "%s", err.text);
		goto fail;
	}
	for (size_t i = 0; i < cfg->nbindings; i++) {
		mid_error_t berr = { 0 };
		if (mid_binding_check(cfg, i, mh, NULL, &diag, &berr) == MID_ENOTSUP)
			mid_log(MID_LOG_WARNING, "%s", berr.text);
	}
	mid_modhost_free(mh);
	mh = NULL;
	if (diag.n)
		goto fail;
	mid_config_diag_free(&diag);
	return cfg;
fail:
	if (diag.n == 0)
		mid_log(MID_LOG_ERR, "%s", err.text);
	for (size_t i = 0; i < diag.n; i++)
		mid_log(MID_LOG_ERR, "%s", diag.lines[i]);
	mid_config_diag_free(&diag);
	mid_modhost_free(mh);
	mid_config_free(cfg);
	return NULL;
}

/* Go to the background. The original process waits until the daemon says
 * it started (a byte on a pipe) or failed (the pipe closes), and exits 0
 * or 1 accordingly, so `mobileidd` without -f reports a failed start.
 * Returns the write end of that pipe in the daemon, or -1 on error. */
static int daemonize(void)
{
	int p[2];
	if (pipe(p) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		char c = 0;
		close(p[1]);
		ssize_t n;
		while ((n = read(p[0], &c, 1)) < 0 && errno == EINTR)
			;
		_exit(n == 1 && c == '1' ? 0 : 1);
	}
	close(p[0]);
	if (setsid() < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	umask(027);
	if (chdir("/") != 0)
		return -1;
	int fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		return -1;
	dup2(fd, 0);
	dup2(fd, 1);
	if (fd > 2)
		close(fd);
	/* stderr stays open until the daemon has started, so a failed start
	 * is reported to whoever ran mobileidd. */
	return p[1];
}

/* Tell the waiting parent that the start succeeded and let go of stderr. */
static void daemonize_done(int ready_fd)
{
	if (ready_fd < 0)
		return;
	int fd = open("/dev/null", O_RDWR);
	if (write(ready_fd, "1", 1) != 1) {
		/* the parent is gone; nothing to tell */
	}
	close(ready_fd);
	if (fd >= 0) {
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "check", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	const char *path = mid_default_config_path();
	int foreground = 0, check = 0, ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "c:fh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'f': foreground = 1; break;
		case 'C': check = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("mobileidd (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION); return 0;
		default:
			fprintf(stderr, "mobileidd: unknown option '%s'\n", argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mobileidd: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	/* Make the config path absolute before any chdir. */
	char *abspath = realpath(path, NULL);
	mid_log_init("mobileidd", MID_LOGT_STDERR, MID_LOG_INFO);
	mid_config_t *cfg = load_checked(abspath ? abspath : path);
	if (!cfg) {
		mid_log(MID_LOG_ERR, "not started: fix the config above and run `mobileidctl -c %s config check`", path);
		free(abspath);
		return 1;
	}
	if (check) {
		printf("%s: valid\n", cfg->path);
		mid_config_free(cfg);
		free(abspath);
		return 0;
	}
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	int ready_fd = -1;
	if (!foreground && (ready_fd = daemonize()) < 0) {
		mid_log(MID_LOG_ERR, "cannot go to the background: %s", strerror(errno));
		return 1;
	}
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		mid_log(MID_LOG_ERR, "signalfd: %s", strerror(errno));
		return 1;
	}

	mid_daemon_t *d = NULL;
	mid_error_t err = { 0 };
	if (mid_daemon_start(cfg, &d, &err) != MID_OK) {
		mid_log(MID_LOG_ERR, "not started: %s", err.text);
		mid_config_free(cfg);
		close(sfd);
		free(abspath);
		return 1;
	}
	mid_log_set(foreground ? MID_LOGT_STDERR : (mid_log_target_t)cfg->log_target, cfg->log_level);
	mid_log(MID_LOG_NOTICE, "started %s with %s (%zu binding%s)", PACKAGE_VERSION, cfg->path,
	        cfg->nbindings, cfg->nbindings == 1 ? "" : "s");
	daemonize_done(ready_fd);
	mid_sd_notify("READY=1\nSTATUS=running");

	int running = 1, rc = 0;
	while (running) {
		struct pollfd pfd = { .fd = sfd, .events = POLLIN };
		int timeout = mid_daemon_next_timeout_ms(d);
		int n = poll(&pfd, 1, timeout);
		if (n < 0 && errno != EINTR) {
			mid_log(MID_LOG_ERR, "poll: %s", strerror(errno));
			rc = 1;
			break;
		}
		if (n > 0) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof si) != (ssize_t)sizeof si)
				continue;
			if (si.ssi_signo == SIGHUP) {
				mid_sd_notify("RELOADING=1");
				mid_log(MID_LOG_NOTICE, "SIGHUP: reloading %s", cfg->path);
				mid_config_t *ncfg = load_checked(cfg->path);
				if (!ncfg) {
					mid_log(MID_LOG_ERR, "reload refused: the new config is invalid; "
					        "still running with the old one");
				} else if (mid_daemon_reload(d, ncfg, &err) != MID_OK) {
					mid_log(MID_LOG_ERR, "reload refused: %s; still running with the old config",
					        err.text);
					mid_config_free(ncfg);
				} else {
					mid_config_free(cfg);
					cfg = ncfg;
					mid_log_set(foreground ? MID_LOGT_STDERR : (mid_log_target_t)cfg->log_target,
					            cfg->log_level);
					mid_log(MID_LOG_NOTICE, "reloaded %s (%zu binding%s)", cfg->path,
					        cfg->nbindings, cfg->nbindings == 1 ? "" : "s");
				}
				mid_sd_notify("READY=1\nSTATUS=running");
			} else {
				mid_log(MID_LOG_NOTICE, "%s: stopping", strsignal((int)si.ssi_signo));
				running = 0;
			}
			continue;
		}
		mid_daemon_tick(d);
	}
	mid_sd_notify("STOPPING=1");
	mid_daemon_stop(d);
	mid_log(MID_LOG_NOTICE, "stopped");
	mid_config_free(cfg);
	close(sfd);
	free(abspath);
	return rc;
}
