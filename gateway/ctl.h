/* gateway/ctl.h -- shared pieces of mobileidctl's subcommands.
 *
 * Each subcommand is a function `int ctl_X(ctl_t *c, int argc, char **argv)`
 * in a ctl_*.c file, listed in the command table of mobileidctl.c with its
 * usage text. argv[0] is the command's own name; options are parsed with
 * getopt_long. Exit codes: 0 done, 1 failed, 2 usage error.
 */
#pragma once
#include <stdio.h>
#include <jansson.h>
#include "gateway/config.h"

enum { CTL_OK = 0, CTL_FAIL = 1, CTL_USAGE = 2 };

typedef struct ctl {
	const char *config_path; /* -c FILE or the default */
	int json;                /* --json: machine output on stdout */
	int quiet;
	const struct ctl_cmd *cmd; /* the command being run */
	mid_config_t *cfg;       /* loaded on demand by ctl_config() */
	struct mid_instance *inst; /* opened on demand by ctl_instance() */
} ctl_t;

typedef struct ctl_cmd {
	const char *name;    /* "config check" */
	int (*fn)(ctl_t *c, int argc, char **argv);
	const char *summary; /* one line for the command list */
	const char *usage;   /* the full --help text after "Usage: mobileidctl " */
} ctl_cmd_t;

/* A group of commands defined in one ctl_*.c file. */
typedef struct ctl_group {
	const ctl_cmd_t *cmds;
	size_t n;
} ctl_group_t;
/* The groups mobileidctl.c lists, in this order (each defined in its file). */
extern const ctl_group_t ctl_group_admin;  /* ctl_admin.c: init, secret, status */
extern const ctl_group_t ctl_group_core;   /* ctl_config.c: config, connectors */
extern const ctl_group_t ctl_group_plugin; /* ctl_plugin.c: plugin list/show/enable/test */
extern const ctl_group_t ctl_group_sync;   /* ctl_sync.c: sync, runs, people, outbox */
extern const ctl_group_t ctl_group_issue;  /* ctl_issue.c: credentials, invitations, readers, keys */

/* Open the instance for a command: the config, and with MID_INST_STORE /
 * MID_INST_SECRETS the store and the secret store. On failure every problem
 * is printed and NULL returned. The instance is closed by mobileidctl's
 * main after the command returns. */
struct mid_instance *ctl_instance(ctl_t *c, unsigned flags);

/* Load the config (once); on failure print every problem to stderr and
 * return NULL. */
mid_config_t *ctl_config(ctl_t *c);

/* Print an error line "mobileidctl: ..." to stderr. Returns CTL_FAIL. */
int ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print a usage error naming the command and pointing at --help. Returns
 * CTL_USAGE. */
int ctl_usage_err(ctl_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print the command's --help text to stdout. Returns CTL_OK. */
int ctl_help(ctl_t *c);
/* Parse only --help (and reject any other option or extra argument beyond
 * `max_args` positional ones). Returns -1 to go on, or an exit code. */
int ctl_simple_args(ctl_t *c, int argc, char **argv, int min_args, int max_args);

/* Print `v` as indented JSON on stdout and release it. Returns CTL_OK. */
int ctl_print_json(json_t *v);

/* A table of text cells printed with aligned columns. */
typedef struct ctl_table {
	size_t ncols, nrows, cap;
	const char *const *heads;
	char **cells; /* nrows * ncols, owned */
} ctl_table_t;
void ctl_table_init(ctl_table_t *t, size_t ncols, const char *const *heads);
/* Add a row of ncols printf-style cells: each argument is a const char *
 * (NULL prints "-"). */
void ctl_table_add(ctl_table_t *t, ...);
void ctl_table_print(const ctl_table_t *t, FILE *out);
void ctl_table_free(ctl_table_t *t);

/* Progress on a terminal: prints "\rLABEL done/total (P%)" to stderr at
 * most 10 times a second when stderr is a tty; ctl_progress_end clears it. */
void ctl_progress(const char *label, unsigned long long done, unsigned long long total);
void ctl_progress_end(void);

