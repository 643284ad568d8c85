/* mobileidctl -- the installer's and administrator's tool.
 *
 * Global options come before the command: -c FILE, --json, --help,
 * --version. Commands are one or two words ("config check"); each has
 * its own --help.
 */
#include <config.h>
#include "gateway/ctl.h"
#include "gateway/instance.h"
#include "gateway/log.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const ctl_group_t *const ctl_groups[] = {
	&ctl_group_admin, &ctl_group_core, &ctl_group_plugin, &ctl_group_sync, &ctl_group_issue,
};
#define FOR_EACH_CMD(cmd) \
	for (size_t g_ = 0; g_ < sizeof ctl_groups / sizeof ctl_groups[0]; g_++) \
		for (const ctl_cmd_t *cmd = ctl_groups[g_]->cmds; \
		     cmd < ctl_groups[g_]->cmds + ctl_groups[g_]->n; cmd++)


static void usage(FILE *out)
{
	fprintf(out,
	    "Usage: mobileidctl [-c FILE] [--json] COMMAND [ARGS...]\n"
	    "       mobileidctl COMMAND --help\n\n"
	    "The mobileid-gateway administration tool.\n\n"
	    "Options:\n"
	    "  -c, --config FILE  the gateway config (default: %s)\n"
	    "      --json         machine-readable output on stdout\n"
	    "  -q, --quiet        print nothing on success (errors still go to stderr)\n"
	    "  -h, --help         this text\n"
	    "      --version      print the version\n\n"
	    "Commands:\n", mid_default_config_path());
	/* Grouped by their first word, in order of first appearance. */
	const char *firsts[64];
	size_t nf = 0;
	FOR_EACH_CMD(cmd) {
		size_t l = strcspn(cmd->name, " ");
		int seen = 0;
		for (size_t i = 0; i < nf; i++)
			if (strlen(firsts[i]) >= l && strncmp(firsts[i], cmd->name, l) == 0 &&
			    (firsts[i][l] == ' ' || firsts[i][l] == '\0'))
				seen = 1;
		if (!seen && nf < 64)
			firsts[nf++] = cmd->name;
	}
	for (size_t i = 0; i < nf; i++) {
		size_t l = strcspn(firsts[i], " ");
		FOR_EACH_CMD(cmd)
			if (strncmp(cmd->name, firsts[i], l) == 0 &&
			    (cmd->name[l] == ' ' || cmd->name[l] == '\0'))
				fprintf(out, "  %-22s %s\n", cmd->name, cmd->summary);
	}
	fprintf(out, "\nEnvironment: MOBILEID_CONFIG (default config file), MOBILEID_MODULE_PATH,\n"
	             "MOBILEID_PLUGIN_DIR (colon-separated folders searched first).\n"
	             "Exit status: 0 done, 1 failed, 2 usage error.\n");
}

/* Find the command named by the first words of argv (commands have one
 * to three words: "status", "config check", "readers bundle export").
 * Sets *words to the number of words used; the longest match wins. */
static const ctl_cmd_t *find_cmd(int argc, char **argv, int *words)
{
	const ctl_cmd_t *best = NULL;
	FOR_EACH_CMD(cmd) {
		const char *p = cmd->name;
		int w = 0, ok = 1;
		while (*p && ok) {
			size_t l = strcspn(p, " ");
			if (w >= argc || strlen(argv[w]) != l || strncmp(argv[w], p, l) != 0)
				ok = 0;
			w++;
			p += l;
			if (*p == ' ')
				p++;
		}
		if (ok && (!best || w > *words)) {
			best = cmd;
			*words = w;
		}
	}
	return best;
}

/* A group word alone ("config") or with --help lists its subcommands. */
static int group_help(const char *group, FILE *out)
{
	size_t l = strlen(group);
	int found = 0;
	FOR_EACH_CMD(cmd) {
		const char *name = cmd->name;
		if (strncmp(name, group, l) == 0 && name[l] == ' ') {
			if (!found)
				fprintf(out, "Usage: mobileidctl %s SUBCOMMAND [ARGS...]\n\nSubcommands:\n", group);
			fprintf(out, "  %-22s %s\n", name, cmd->summary);
			found = 1;
		}
	}
	if (found)
		fprintf(out, "\nRun 'mobileidctl %s SUBCOMMAND --help' for details.\n", group);
	return found;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	ctl_t c = { 0 };
	int ch, rc;

	mid_log_init("mobileidctl", MID_LOGT_STDERR, MID_LOG_WARNING);
	c.config_path = mid_default_config_path();
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+c:hq", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': c.config_path = optarg; break;
		case 'j': c.json = 1; break;
		case 'q': c.quiet = 1; break;
		case 'h': usage(stdout); return CTL_OK;
		case 'V': printf("mobileidctl (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION); return CTL_OK;
		default:
			fprintf(stderr, "mobileidctl: unknown option '%s'\n", argv[optind - 1]);
			usage(stderr);
			return CTL_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CTL_USAGE;
	}
	int words = 0;
	const ctl_cmd_t *cmd = find_cmd(argc - optind, argv + optind, &words);
	if (!cmd) {
		const char *w = argv[optind];
		int help = optind + 1 < argc && (strcmp(argv[optind + 1], "--help") == 0 ||
		                                 strcmp(argv[optind + 1], "-h") == 0);
		if (group_help(w, help ? stdout : stderr)) {
			if (help)
				return CTL_OK;
			if (optind + 1 < argc)
				fprintf(stderr, "mobileidctl: unknown subcommand '%s %s'\n", w, argv[optind + 1]);
			return CTL_USAGE;
		}
		fprintf(stderr, "mobileidctl: unknown command '%s'; run 'mobileidctl --help' for the list\n", w);
		return CTL_USAGE;
	}
	c.cmd = cmd;
	/* Let the command see a global --json given after the command name. */
	int cargc = argc - optind - (words - 1);
	char **cargv = argv + optind + (words - 1);
	for (int i = 1; i < cargc; i++)
		if (strcmp(cargv[i], "--json") == 0) {
			c.json = 1;
			memmove(&cargv[i], &cargv[i + 1], (size_t)(cargc - i) * sizeof *cargv);
			cargc--;
			i--;
		} else if (strcmp(cargv[i], "--") == 0) {
			break;
		}
	rc = cmd->fn(&c, cargc, cargv);
	mid_instance_close(c.inst);
	mid_config_free(c.cfg);
	return rc;
}
