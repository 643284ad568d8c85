/* gateway/ctl.c -- see ctl.h. */
#include <config.h>
#include "gateway/ctl.h"
#include "gateway/instance.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int ctl_err(const char *fmt, ...)
{
	va_list ap;
	fputs("mobileidctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CTL_FAIL;
}

int ctl_usage_err(ctl_t *c, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "mobileidctl %s: ", c->cmd ? c->cmd->name : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'mobileidctl %s --help'.\n", c->cmd ? c->cmd->name : "");
	return CTL_USAGE;
}

int ctl_help(ctl_t *c)
{
	printf("Usage: mobileidctl [-c FILE] [--json] %s", c->cmd->usage);
	return CTL_OK;
}

int ctl_simple_args(ctl_t *c, int argc, char **argv, int min_args, int max_args)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
	int ch;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (ch == 'h')
			return ctl_help(c);
		return ctl_usage_err(c, "unknown option '%s'", argv[optind - 1]);
	}
	int npos = argc - optind;
	if (npos < min_args)
		return ctl_usage_err(c, "missing argument");
	if (npos > max_args)
		return ctl_usage_err(c, "unexpected argument '%s'", argv[optind + max_args]);
	return -1;
}

mid_config_t *ctl_config(ctl_t *c)
{
	if (c->cfg)
		return c->cfg;
	mid_config_diag_t diag = { 0 };
	mid_error_t err = { 0 };
	if (mid_config_load_diag(c->config_path, &c->cfg, &diag, &err) != MID_OK) {
		if (diag.n == 0)
			ctl_err("%s", err.text);
		for (size_t i = 0; i < diag.n; i++)
			ctl_err("%s", diag.lines[i]);
		if (err.code == MID_ENOTFOUND)
			fprintf(stderr, "mobileidctl: create an instance with 'mobileidctl init DIR' "
			                "and pass its config with -c DIR/mobileidd.json\n");
		mid_config_diag_free(&diag);
		return NULL;
	}
	return c->cfg;
}

int ctl_print_json(json_t *v)
{
	if (!v)
		return ctl_err("out of memory");
	json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII * 0);
	fputc('\n', stdout);
	json_decref(v);
	return CTL_OK;
}

void ctl_table_init(ctl_table_t *t, size_t ncols, const char *const *heads)
{
	memset(t, 0, sizeof *t);
	t->ncols = ncols;
	t->heads = heads;
}

void ctl_table_add(ctl_table_t *t, ...)
{
	va_list ap;
	if (t->nrows == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 16;
		char **n = realloc(t->cells, nc * t->ncols * sizeof *n);
		if (!n)
			return;
		t->cells = n;
		t->cap = nc;
	}
	va_start(ap, t);
	for (size_t i = 0; i < t->ncols; i++) {
		const char *s = va_arg(ap, const char *);
		t->cells[t->nrows * t->ncols + i] = strdup(s ? s : "-");
	}
	va_end(ap);
	t->nrows++;
}

/* Display width of UTF-8 text: count code points (good enough for names). */
static size_t tb_width(const char *s)
{
	size_t w = 0;
	for (; s && *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

void ctl_table_print(const ctl_table_t *t, FILE *out)
{
	size_t w[32] = { 0 };
	size_t nc = t->ncols < 32 ? t->ncols : 32;
	for (size_t c = 0; c < nc; c++)
		w[c] = tb_width(t->heads[c]);
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < nc; c++) {
			size_t l = tb_width(t->cells[r * t->ncols + c]);
			if (l > w[c])
				w[c] = l;
		}
	for (size_t c = 0; c < nc; c++)
		fprintf(out, "%s%-*s", c ? "  " : "", c + 1 < nc ? (int)w[c] : 0, t->heads[c]);
	fputc('\n', out);
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < nc; c++) {
			const char *s = t->cells[r * t->ncols + c];
			fprintf(out, "%s%s", c ? "  " : "", s ? s : "");
			if (c + 1 < nc)
				for (size_t k = tb_width(s); k < w[c]; k++)
					fputc(' ', out);
		}
		fputc('\n', out);
	}
}

void ctl_table_free(ctl_table_t *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof *t);
}

static int pg_shown;
static struct timespec pg_last;

void ctl_progress(const char *label, unsigned long long done, unsigned long long total)
{
	if (!isatty(STDERR_FILENO))
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long ms = (now.tv_sec - pg_last.tv_sec) * 1000LL + (now.tv_nsec - pg_last.tv_nsec) / 1000000;
	if (pg_shown && ms < 100 && done != total)
		return;
	pg_last = now;
	pg_shown = 1;
	if (total)
		fprintf(stderr, "\r%s %llu/%llu (%llu%%)\033[K", label, done, total,
		        done * 100 / total);
	else
		fprintf(stderr, "\r%s %llu\033[K", label, done);
	fflush(stderr);
}

void ctl_progress_end(void)
{
	if (pg_shown) {
		fputs("\r\033[K", stderr);
		pg_shown = 0;
	}
}

struct mid_instance *ctl_instance(ctl_t *c, unsigned flags)
{
	if (c->inst)
		return c->inst;
	mid_config_t *cfg = ctl_config(c);
	if (!cfg)
		return NULL;
	char actor[128];
	const char *user = getenv("SUDO_USER");
	if (!user)
		user = getenv("USER");
	snprintf(actor, sizeof actor, "cli:%s", user ? user : "unknown");
	mid_error_t err = { 0 };
	c->cfg = NULL; /* the instance takes the config over */
	if (mid_instance_from_config(cfg, flags, actor, &c->inst, &err) != MID_OK) {
		ctl_err("%s", err.text);
		return NULL;
	}
	c->cfg = NULL;
	return c->inst;
}
