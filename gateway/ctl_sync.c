/* gateway/ctl_sync.c -- mobileidctl's sync, runs, people (list, show, count)
 * and outbox commands. */
#include <config.h>
#include "gateway/ctl.h"
#include "gateway/instance.h"
#include "gateway/sync.h"
#include "gateway/outbox.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void cs_time(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (!ms || !gmtime_r(&t, &tm)) {
		snprintf(out, 32, "-");
		return;
	}
	strftime(out, 32, "%Y-%m-%d %H:%M:%SZ", &tm);
}

static char *cs_i64(char buf[32], int64_t v)
{
	snprintf(buf, 32, "%" PRId64, v);
	return buf;
}

static int cs_parse_i64(const char *s, int64_t *v)
{
	char *end;
	long long x = strtoll(s, &end, 10);
	if (!*s || *end || x < 0)
		return -1;
	*v = x;
	return 0;
}

static void cs_progress(void *ctx, uint64_t done, uint64_t total)
{
	(void)ctx;
	ctl_progress("sync", done, total);
}

static void cs_print_report(const mid_sync_report_t *r)
{
	const mid_run_counts_t *k = &r->counts;
	if (r->run_id)
		printf("%s run %" PRId64 ": %s (%.1f s)\n", r->binding, r->run_id,
		       mid_run_status_name(r->status) ? mid_run_status_name(r->status) : "?",
		       (double)(r->finished - r->started) / 1000.0);
	else
		printf("Dry run of %s (nothing written): %s (%.1f s)\n", r->binding,
		       mid_run_status_name(r->status) ? mid_run_status_name(r->status) : "?",
		       (double)(r->finished - r->started) / 1000.0);
	if (r->source[0])
		printf("  source     %s\n", r->source);
	printf("  seen       %" PRId64 "\n  created    %" PRId64 "\n  updated    %" PRId64
	       "\n  unchanged  %" PRId64 "\n  suspended  %" PRId64 "\n  pushed     %" PRId64
	       "\n  failed     %" PRId64 "\n  disputed   %" PRId64 "\n  rejected   %" PRId64 "\n",
	       k->seen, k->created, k->updated, k->unchanged, k->suspended, k->pushed, k->failed,
	       k->disputed, k->rejected);
	if (r->conflicts)
		printf("  conflicts  %" PRId64 " (see the audit log)\n", r->conflicts);
	if (r->delete_candidates)
		printf("  not seen   %" PRId64 " of %" PRId64 " linked\n", r->delete_candidates,
		       r->delete_total);
	if (r->outbox_pending)
		printf("  outbox     %" PRId64 " pending\n", r->outbox_pending);
	if (r->nexamples) {
		printf("%s:\n", r->dry_run ? "First examples of what would change" : "Examples");
		for (size_t i = 0; i < r->nexamples; i++)
			printf("  %-9s %-16s %s\n", mid_sync_kind_name(r->examples[i].kind),
			       r->examples[i].external_id[0] ? r->examples[i].external_id : "-",
			       r->examples[i].detail);
	}
	if (r->message[0])
		printf("%s\n", r->message);
}

/* ---- sync run ---------------------------------------------------------------- */

static int cs_sync_run(ctl_t *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' }, { "dry-run", no_argument, NULL, 'n' },
		{ "full", no_argument, NULL, 'f' }, { "allow-deletes", required_argument, NULL, 'D' },
		{ "no-push", no_argument, NULL, 'P' }, { 0 } };
	mid_sync_opts_t o = { 0 };
	mid_sync_report_t rep;
	mid_error_t err = { 0 };
	int ch, rc;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "hnf", opts, NULL)) != -1) {
		switch (ch) {
		case 'h': return ctl_help(c);
		case 'n': o.dry_run = 1; break;
		case 'f': o.full = 1; break;
		case 'P': o.no_push = 1; break;
		case 'D':
			if (cs_parse_i64(optarg, &o.allow_deletes))
				return ctl_usage_err(c, "--allow-deletes wants a number, not '%s'", optarg);
			break;
		default: return ctl_usage_err(c, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return ctl_usage_err(c, argc - optind < 1 ? "missing BINDING" : "too many arguments");
	mid_instance_t *in = ctl_instance(c, MID_INST_STORE | MID_INST_SECRETS);
	if (!in)
		return CTL_FAIL;
	if (!c->json && isatty(STDERR_FILENO))
		o.progress = cs_progress;
	rc = mid_sync_run(in, argv[optind], &o, &rep, &err);
	ctl_progress_end();
	if (c->json) {
		json_t *j = mid_sync_report_json(&rep);
		if (rc && rc != MID_ELIMIT)
			json_object_set_new(j, "error", json_string(err.text));
		ctl_print_json(j);
	} else if (rc == MID_ENOTFOUND || rc == MID_ECONFLICT || (rc && !rep.started)) {
		ctl_err("%s", err.text);
	} else {
		cs_print_report(&rep);
	}
	if (rc && c->json)
		fprintf(stderr, "mobileidctl: %s\n", err.text);
	else if (rc && rc != MID_ENOTFOUND && rc != MID_ECONFLICT && rep.started && !c->json &&
	         rc != MID_ELIMIT)
		fprintf(stderr, "mobileidctl: sync run %s failed: %s\n", argv[optind], err.text);
	mid_sync_report_clear(&rep);
	return rc ? CTL_FAIL : CTL_OK;
}

/* ---- sync status ----------------------------------------------------------------- */

static int cs_sync_status(ctl_t *c, int argc, char **argv)
{
	static const char *const heads[] = { "BINDING", "DIRECTION", "LAST RUN", "STATUS", "SEEN",
		"CREATED", "UPDATED", "SUSPENDED", "NEXT RUN", "OUTBOX", "DEAD", "CURSOR" };
	int rc = ctl_simple_args(c, argc, argv, 0, 0);
	if (rc >= 0)
		return rc;
	mid_instance_t *in = ctl_instance(c, MID_INST_STORE);
	if (!in)
		return CTL_FAIL;
	ctl_table_t t;
	json_t *arr = json_array();
	int64_t now = mid_store_now(in->store);
	ctl_table_init(&t, 12, heads);
	for (size_t i = 0; i < in->cfg->nbindings; i++) {
		const mid_config_binding_t *b = &in->cfg->bindings[i];
		mid_run_t *runs = NULL;
		size_t n = 0;
		int64_t pend = 0, dead = 0, next = 0;
		int due = 0;
		char *cursor = NULL;
		mid_error_t err = { 0 };
		char lr[32], nr[32], a[32], bb[32], cc[32], d[32], e[32], f[32];
		static const char *const dirs[] = { "?", "inbound", "outbound", "both" };

		mid_store_run_list(in->store, b->name, 1, &runs, &n, &err);
		mid_store_outbox_count(in->store, b->name, MID_OUTBOX_PENDING, &pend, &err);
		mid_store_outbox_count(in->store, b->name, MID_OUTBOX_DEAD, &dead, &err);
		mid_store_cursor_get(in->store, b->name, &cursor, &err);
		mid_sync_due(in, b, now, &due, &next, &err);
		cs_time(n ? runs[0].started : 0, lr);
		if (!b->enabled)
			snprintf(nr, sizeof nr, "disabled");
		else if (b->schedule_seconds <= 0)
			snprintf(nr, sizeof nr, "manual");
		else if (due)
			snprintf(nr, sizeof nr, "now");
		else
			cs_time(next, nr);
		const char *status = n ? mid_run_status_name(runs[0].status) : "never run";
		ctl_table_add(&t, b->name, dirs[b->direction & 3], lr, status,
		              n ? cs_i64(a, runs[0].counts.seen) : NULL,
		              n ? cs_i64(bb, runs[0].counts.created) : NULL,
		              n ? cs_i64(cc, runs[0].counts.updated) : NULL,
		              n ? cs_i64(d, runs[0].counts.suspended) : NULL, nr,
		              cs_i64(e, pend), cs_i64(f, dead), cursor ? cursor : NULL);
		json_t *jb = json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:s?, s:I}",
		    "binding", b->name, "direction", dirs[b->direction & 3],
		    "schedule", b->schedule ? b->schedule : "manual", "due", due,
		    "outbox_pending", (json_int_t)pend, "outbox_dead", (json_int_t)dead,
		    "cursor", cursor, "next_run", (json_int_t)next);
		if (n)
			json_object_set_new(jb, "last_run", json_pack("{s:I, s:s, s:I, s:I, s:s, "
			    "s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
			    "id", (json_int_t)runs[0].id, "status", status,
			    "started", (json_int_t)runs[0].started, "finished", (json_int_t)runs[0].finished,
			    "message", runs[0].message, "counts",
			    "seen", (json_int_t)runs[0].counts.seen, "created", (json_int_t)runs[0].counts.created,
			    "updated", (json_int_t)runs[0].counts.updated,
			    "unchanged", (json_int_t)runs[0].counts.unchanged,
			    "suspended", (json_int_t)runs[0].counts.suspended,
			    "pushed", (json_int_t)runs[0].counts.pushed, "failed", (json_int_t)runs[0].counts.failed,
			    "disputed", (json_int_t)runs[0].counts.disputed,
			    "rejected", (json_int_t)runs[0].counts.rejected));
		json_array_append_new(arr, jb);
		free(runs);
		free(cursor);
	}
	if (c->json) {
		ctl_print_json(arr);
	} else {
		json_decref(arr);
		if (in->cfg->nbindings == 0)
			printf("No bindings in %s.\n", in->cfg->path);
		else
			ctl_table_print(&t, stdout);
	}
	ctl_table_free(&t);
	return CTL_OK;
}

/* ---- runs ------------------------------------------------------------------------ */

static json_t *cs_run_json(const mid_run_t *r)
{
	const mid_run_counts_t *k = &r->counts;
	return json_pack("{s:I, s:s, s:s, s:b, s:I, s:I, s:I, s:s, "
	                 "s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
	    "id", (json_int_t)r->id, "binding", r->binding,
	    "status", mid_run_status_name(r->status) ? mid_run_status_name(r->status) : "?",
	    "dry_run", r->dry_run, "started", (json_int_t)r->started,
	    "finished", (json_int_t)r->finished,
	    "duration_ms", (json_int_t)(r->finished > r->started ? r->finished - r->started : 0),
	    "message", r->message, "counts", "seen", (json_int_t)k->seen,
	    "created", (json_int_t)k->created, "updated", (json_int_t)k->updated,
	    "unchanged", (json_int_t)k->unchanged, "suspended", (json_int_t)k->suspended,
	    "pushed", (json_int_t)k->pushed, "failed", (json_int_t)k->failed,
	    "disputed", (json_int_t)k->disputed, "rejected", (json_int_t)k->rejected);
}

static int cs_runs_list(ctl_t *c, int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' },
		{ "limit", required_argument, NULL, 'l' }, { 0 } };
	static const char *const heads[] = { "ID", "BINDING", "STARTED", "SECONDS", "STATUS", "SEEN",
		"CREATED", "UPDATED", "UNCHANGED", "SUSPENDED", "PUSHED", "FAILED", "DISPUTED",
		"REJECTED" };
	int64_t limit = 20;
	int ch;
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "hl:", opts, NULL)) != -1) {
		if (ch == 'h')
			return ctl_help(c);
		if (ch == 'l' && !cs_parse_i64(optarg, &limit))
			continue;
		return ctl_usage_err(c, "bad option '%s'", argv[optind - 1]);
	}
	if (argc - optind > 1)
		return ctl_usage_err(c, "too many arguments");
	mid_instance_t *in = ctl_instance(c, MID_INST_STORE);
	if (!in)
		return CTL_FAIL;
	const char *binding = argc - optind == 1 ? argv[optind] : NULL;
	if (binding && !mid_config_binding(in->cfg, binding))
		return ctl_err("no binding named \"%s\" in %s", binding, in->cfg->path);
	mid_run_t *runs = NULL;
	size_t n = 0;
	mid_error_t err = { 0 };
	if (mid_store_run_list(in->store, binding, limit, &runs, &n, &err))
		return ctl_err("%s", err.text);
	if (c->json) {
		json_t *a = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, cs_run_json(&runs[i]));
		ctl_print_json(a);
	} else {
		ctl_table_t t;
		ctl_table_init(&t, 14, heads);
		for (size_t i = 0; i < n; i++) {
			char b[14][32];
			const mid_run_counts_t *k = &runs[i].counts;
			cs_time(runs[i].started, b[1]);
			snprintf(b[2], 32, "%.1f", runs[i].finished > runs[i].started
			         ? (double)(runs[i].finished - runs[i].started) / 1000.0 : 0.0);
			ctl_table_add(&t, cs_i64(b[0], runs[i].id), runs[i].binding, b[1], b[2],
			              mid_run_status_name(runs[i].status), cs_i64(b[3], k->seen),
			              cs_i64(b[4], k->created), cs_i64(b[5], k->updated),
			              cs_i64(b[6], k->unchanged), cs_i64(b[7], k->suspended),
			              cs_i64(b[8], k->pushed), cs_i64(b[9], k->failed),
			              cs_i64(b[10], k->disputed), cs_i64(b[11], k->rejected));
		}
		if (n)
			ctl_table_print(&t, stdout);
		else
			printf("No runs yet.\n");
		ctl_table_free(&t);
	}
	free(runs);
	return CTL_OK;
}

static int cs_runs_show(ctl_t *c, int argc, char **argv)
{
	int rc = ctl_simple_args(c, argc, argv, 1, 1);
	int64_t id;
	if (rc >= 0)
		return rc;
	if (cs_parse_i64(argv[optind], &id))
		return ctl_usage_err(c, "ID must be a run number, not '%s'", argv[optind]);
	mid_instance_t *in = ctl_instance(c, MID_INST_STORE);
	if (!in)
		return CTL_FAIL;
	mid_run_t r;
	mid_error_t err = { 0 };
	if (mid_store_run_get(in->store, id, &r, &err))
		return ctl_err("%s", err.text);
	if (c->json)
		return ctl_print_json(cs_run_json(&r));
	char s[32], f[32];
	cs_time(r.started, s);
	cs_time(r.finished, f);
	printf("run        %" PRId64 "\nbinding    %s\nstatus     %s\nstarted    %s\nfinished   %s\n"
	       "duration   %.1f s\nseen       %" PRId64 "\ncreated    %" PRId64 "\nupdated    %" PRId64
	       "\nunchanged  %" PRId64 "\nsuspended  %" PRId64 "\npushed     %" PRId64
	       "\nfailed     %" PRId64 "\ndisputed   %" PRId64 "\nrejected   %" PRId64 "\n",
	       r.id, r.binding, mid_run_status_name(r.status), s, f,
	       r.finished > r.started ? (double)(r.finished - r.started) / 1000.0 : 0.0,
	       r.counts.seen, r.counts.created, r.counts.updated, r.counts.unchanged,
	       r.counts.suspended, r.counts.pushed, r.counts.failed, r.counts.disputed,
	       r.counts.rejected);
	if (r.message[0])
		printf("message    %s\n", r.message);
	return CTL_OK;
}

/* ---- people ------------------------------------------------------------------------ */

static json_t *cs_person_json(const mid_person_t *p)
{
	char vf[32], vu[32];
	mid_sync_format_time(p->valid_from, vf);
	mid_sync_format_time(p->valid_until, vu);
	json_t *g = json_loads(p->access_groups ? p->access_groups : "[]", 0, NULL);
	json_t *a = json_loads(p->attributes ? p->attributes : "{}", 0, NULL);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:o, s:o, s:I, s:I}",
	    "id", p->id, "employee_id", p->employee_id, "given_name", p->given_name,
	    "family_name", p->family_name, "email", p->email, "mobile", p->mobile,
	    "status", mid_person_status_name(p->status), "valid_from", vf[0] ? vf : NULL,
	    "valid_until", vu[0] ? vu : NULL, "access_groups", g ? g : json_array(),
	    "attributes", a ? a : json_object(), "created", (json_int_t)p->created,
	    "updated", (json_int_t)p->updated);
}

static int cs_people_list(ctl_t *c, int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' },
		{ "status", required_argument, NULL, 's' }, { "limit", required_argument, NULL, 'l' },
		{ "offset", required_argument, NULL, 'o' }, { 0 } };
	static const char *const heads[] = { "ID", "EMPLOYEE", "NAME", "EMAIL", "STATUS" };
	int64_t limit = 100, offset = 0;
	int status = 0, ch;
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "hs:l:o:", opts, NULL)) != -1) {
		switch (ch) {
		case 'h': return ctl_help(c);
		case 's':
			if ((status = mid_person_status_parse(optarg)) < 0)
				return ctl_usage_err(c, "--status is active, suspended or deleted, not '%s'",
				                     optarg);
			break;
		case 'l':
			if (cs_parse_i64(optarg, &limit))
				return ctl_usage_err(c, "--limit wants a number");
			break;
		case 'o':
			if (cs_parse_i64(optarg, &offset))
				return ctl_usage_err(c, "--offset wants a number");
			break;
		default: return ctl_usage_err(c, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc != optind)
		return ctl_usage_err(c, "unexpected argument '%s'", argv[optind]);
	mid_instance_t *in = ctl_instance(c, MID_INST_STORE);
	if (!in)
		return CTL_FAIL;
	mid_person_t *ps = NULL;
	size_t n = 0;
	mid_error_t err = { 0 };
	if (mid_store_person_list(in->store, status, offset, limit, &ps, &n, &err))
		return ctl_err("%s", err.text);
	if (c->json) {
		json_t *a = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, cs_person_json(&ps[i]));
		ctl_print_json(a);
	} else {
		ctl_table_t t;
		ctl_table_init(&t, 5, heads);
		for (size_t i = 0; i < n; i++) {
			char name[300];
			snprintf(name, sizeof name, "%s %s", ps[i].given_name, ps[i].family_name);
			ctl_table_add(&t, ps[i].id, ps[i].employee_id, name, ps[i].email,
			              mid_person_status_name(ps[i].status));
		}
		if (n)
			ctl_table_print(&t, stdout);
		else
			printf("No people.\n");
		ctl_table_free(&t);
	}
	mid_person_list_free(ps, n);
	return CTL_OK;
}

/* Find a person by id, employee id or email. */
static int cs_find_person(mid_store_t *st, const char *key, mid_person_t *p, mid_error_t *err)
{
	char ids[2][MID_ID_LEN];
	size_t n = 0;
	int rc = mid_store_person_get(st, key, p, err);
	if (rc != MID_ENOTFOUND)
		return rc;
	if ((rc = mid_store_person_find_employee(st, key, ids, 2, &n, err)))
		return rc;
	if (n == 0 && strchr(key, '@') && (rc = mid_store_person_find_email(st, key, ids, 2, &n, err)))
		return rc;
	if (n == 0)
		return mid_error_set(err, MID_ENOTFOUND, 0, "no person with id, employee id or email "
		                     "\"%s\"", key);
	if (n > 1)
		return mid_error_set(err, MID_ECONFLICT, 0, "%zu people match \"%s\"; use the id "
		                     "(mobileidctl people list)", n, key);
	return mid_store_person_get(st, ids[0], p, err);
}

static int cs_people_show(ctl_t *c, int argc, char **argv)
{
	int rc = ctl_simple_args(c, argc, argv, 1, 1);
	if (rc >= 0)
		return rc;
	mid_instance_t *in = ctl_instance(c, MID_INST_STORE);
	if (!in)
		return CTL_FAIL;
	mid_person_t p;
	mid_link_t *ls = NULL;
	mid_credential_t *cs = NULL;
	size_t nl = 0, nc = 0;
	mid_error_t err = { 0 };
	memset(&p, 0, sizeof p);
	if (cs_find_person(in->store, argv[optind], &p, &err))
		return ctl_err("%s", err.text);
	if (mid_store_link_list_person(in->store, p.id, &ls, &nl, &err) ||
	    mid_store_credential_list(in->store, p.id, 0, 1000, &cs, &nc, &err)) {
		mid_person_clear(&p);
		free(ls);
		return ctl_err("%s", err.text);
	}
	if (c->json) {
		json_t *o = cs_person_json(&p), *la = json_array(), *ca = json_array();
		for (size_t i = 0; i < nl; i++) {
			char h[2 * MID_HASH_LEN + 1] = "";
			for (size_t k = 0; ls[i].has_recv && k < MID_HASH_LEN; k++)
				snprintf(h + 2 * k, 3, "%02x", ls[i].recv_hash[k]);
			json_array_append_new(la, json_pack("{s:s, s:s, s:s, s:I}", "binding", ls[i].binding,
			    "external_id", ls[i].external_id, "recv_hash", h, "updated",
			    (json_int_t)ls[i].updated));
		}
		for (size_t i = 0; i < nc; i++)
			json_array_append_new(ca, json_pack("{s:s, s:s, s:I, s:I, s:s, s:s}", "id", cs[i].id,
			    "format", cs[i].format, "facility_code", (json_int_t)cs[i].facility_code,
			    "card_number", (json_int_t)cs[i].card_number,
			    "type", mid_cred_type_name(cs[i].type) ? mid_cred_type_name(cs[i].type) : "?",
			    "status", mid_cred_status_name(cs[i].status)));
		json_object_set_new(o, "links", la);
		json_object_set_new(o, "credentials", ca);
		ctl_print_json(o);
	} else {
		char vf[32], vu[32], cr[32], up[32];
		mid_sync_format_time(p.valid_from, vf);
		mid_sync_format_time(p.valid_until, vu);
		cs_time(p.created, cr);
		cs_time(p.updated, up);
		printf("id             %s\nemployee id    %s\nname           %s %s\nemail          %s\n"
		       "mobile         %s\nstatus         %s\nvalid          %s .. %s\n"
		       "access groups  %s\nattributes     %s\ncreated        %s\nupdated        %s\n",
		       p.id, p.employee_id, p.given_name, p.family_name, p.email, p.mobile,
		       mid_person_status_name(p.status), vf[0] ? vf : "-", vu[0] ? vu : "-",
		       p.access_groups ? p.access_groups : "[]", p.attributes ? p.attributes : "{}",
		       cr, up);
		printf("links:\n");
		if (!nl)
			printf("  none\n");
		for (size_t i = 0; i < nl; i++)
			printf("  %s: %s\n", ls[i].binding, ls[i].external_id);
		printf("credentials:\n");
		if (!nc)
			printf("  none\n");
		for (size_t i = 0; i < nc; i++)
			printf("  %s  %s %" PRId64 "/%" PRId64 "  %s\n", cs[i].id, cs[i].format,
			       cs[i].facility_code, cs[i].card_number, mid_cred_status_name(cs[i].status));
	}
	mid_person_clear(&p);
	free(ls);
	mid_credential_list_free(cs, nc);
	return CTL_OK;
}

static int cs_people_count(ctl_t *c, int argc, char **argv)
{
	int rc = ctl_simple_args(c, argc, argv, 0, 0);
	if (rc >= 0)
		return rc;
	mid_instance_t *in = ctl_instance(c, MID_INST_STORE);
	if (!in)
		return CTL_FAIL;
	int64_t all = 0, n[4] = { 0 };
	mid_error_t err = { 0 };
	if (mid_store_person_count(in->store, 0, &all, &err))
		return ctl_err("%s", err.text);
	for (int s = 1; s <= 3; s++)
		mid_store_person_count(in->store, s, &n[s], &err);
	if (c->json)
		return ctl_print_json(json_pack("{s:I, s:I, s:I, s:I}", "total", (json_int_t)all,
		    "active", (json_int_t)n[1], "suspended", (json_int_t)n[2],
		    "deleted", (json_int_t)n[3]));
	printf("%" PRId64 " (active %" PRId64 ", suspended %" PRId64 ", deleted %" PRId64 ")\n", all,
	       n[1], n[2], n[3]);
	return CTL_OK;
}

/* ---- outbox ---------------------------------------------------------------------- */

static int cs_outbox_list(ctl_t *c, int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' },
		{ "dead", no_argument, NULL, 'd' }, { "all", no_argument, NULL, 'a' },
		{ "binding", required_argument, NULL, 'b' }, { "limit", required_argument, NULL, 'l' },
		{ 0 } };
	static const char *const heads[] = { "ID", "BINDING", "PERSON", "OP", "STATE", "ATTEMPTS",
		"NEXT ATTEMPT", "LAST ERROR" };
	int state = MID_OUTBOX_PENDING, ch;
	const char *binding = NULL;
	int64_t limit = 100;
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "hdab:l:", opts, NULL)) != -1) {
		switch (ch) {
		case 'h': return ctl_help(c);
		case 'd': state = MID_OUTBOX_DEAD; break;
		case 'a': state = 0; break;
		case 'b': binding = optarg; break;
		case 'l':
			if (cs_parse_i64(optarg, &limit))
				return ctl_usage_err(c, "--limit wants a number");
			break;
		default: return ctl_usage_err(c, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc != optind)
		return ctl_usage_err(c, "unexpected argument '%s'", argv[optind]);
	mid_instance_t *in = ctl_instance(c, MID_INST_STORE);
	if (!in)
		return CTL_FAIL;
	mid_outbox_entry_t *es = NULL;
	size_t n = 0;
	mid_error_t err = { 0 };
	if (mid_store_outbox_list(in->store, binding, state, 0, limit, &es, &n, &err))
		return ctl_err("%s", err.text);
	if (c->json) {
		json_t *a = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, json_pack("{s:I, s:s, s:s, s:s, s:s, s:i, s:I, s:s, s:I}",
			    "id", (json_int_t)es[i].id, "binding", es[i].binding, "person", es[i].person_id,
			    "op", es[i].op == MID_OP_DELETE ? "delete" : "upsert",
			    "state", mid_outbox_state_name(es[i].state), "attempts", es[i].attempts,
			    "next_attempt_at", (json_int_t)es[i].next_attempt_at,
			    "last_error", es[i].last_error, "created", (json_int_t)es[i].created));
		ctl_print_json(a);
	} else {
		ctl_table_t t;
		ctl_table_init(&t, 8, heads);
		for (size_t i = 0; i < n; i++) {
			char id[32], at[32], nx[32];
			cs_time(es[i].next_attempt_at, nx);
			snprintf(at, sizeof at, "%d", es[i].attempts);
			ctl_table_add(&t, cs_i64(id, es[i].id), es[i].binding, es[i].person_id,
			              es[i].op == MID_OP_DELETE ? "delete" : "upsert",
			              mid_outbox_state_name(es[i].state), at, nx,
			              es[i].last_error[0] ? es[i].last_error : NULL);
		}
		if (n)
			ctl_table_print(&t, stdout);
		else
			printf("The outbox is empty%s.\n", state == MID_OUTBOX_DEAD ? " of dead letters" : "");
		ctl_table_free(&t);
	}
	mid_outbox_list_free(es, n);
	return CTL_OK;
}

static int cs_outbox_retry(ctl_t *c, int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' },
		{ "all", no_argument, NULL, 'a' }, { "binding", required_argument, NULL, 'b' },
		{ "no-push", no_argument, NULL, 'P' }, { 0 } };
	int all = 0, no_push = 0, ch;
	int64_t id = 0, count = 0;
	const char *binding = NULL;
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "hab:", opts, NULL)) != -1) {
		switch (ch) {
		case 'h': return ctl_help(c);
		case 'a': all = 1; break;
		case 'b': binding = optarg; break;
		case 'P': no_push = 1; break;
		default: return ctl_usage_err(c, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind > 1)
		return ctl_usage_err(c, "too many arguments");
	if (argc - optind == 1 && cs_parse_i64(argv[optind], &id))
		return ctl_usage_err(c, "ID must be an outbox entry number, not '%s'", argv[optind]);
	if (binding && !id)
		all = 1; /* --binding B alone: every dead entry of B */
	if (!all && !id)
		return ctl_usage_err(c, "give an entry ID, --all or --binding B");
	mid_instance_t *in = ctl_instance(c, MID_INST_STORE | MID_INST_SECRETS);
	if (!in)
		return CTL_FAIL;
	mid_error_t err = { 0 };
	if (binding && !mid_config_binding(in->cfg, binding))
		return ctl_err("no binding named \"%s\" in %s", binding, in->cfg->path);
	if (mid_store_outbox_replay(in->store, binding, id, &count, &err))
		return ctl_err("%s", err.text);
	mid_push_stats_t ps = { 0 };
	json_t *fails = json_array();
	for (size_t i = 0; !no_push && i < in->cfg->nbindings; i++) {
		const mid_config_binding_t *b = &in->cfg->bindings[i];
		int64_t pend = 0;
		if (!b->enabled || !(b->direction & MID_DIRECTION_OUTBOUND) ||
		    (binding && strcmp(binding, b->name)))
			continue;
		mid_store_outbox_count(in->store, b->name, MID_OUTBOX_PENDING, &pend, &err);
		if (!pend)
			continue;
		mid_error_t perr = { 0 };
		if (mid_outbox_push_binding(in, b, NULL, &ps, &perr))
			json_array_append_new(fails, json_pack("{s:s, s:s}", "binding", b->name,
			                                       "error", perr.text));
	}
	if (c->json) {
		ctl_print_json(json_pack("{s:I, s:I, s:I, s:I, s:o}", "replayed", (json_int_t)count,
		    "pushed", (json_int_t)ps.pushed, "retry", (json_int_t)ps.retry,
		    "dead", (json_int_t)ps.dead, "errors", json_incref(fails)));
	} else {
		printf("%" PRId64 " dead entr%s made pending again; pushed %" PRId64 ", to retry later %"
		       PRId64 ", dead again %" PRId64 "\n", count, count == 1 ? "y" : "ies", ps.pushed,
		       ps.retry, ps.dead);
		for (size_t i = 0; i < json_array_size(fails); i++)
			fprintf(stderr, "mobileidctl: %s: %s\n",
			        json_string_value(json_object_get(json_array_get(fails, i), "binding")),
			        json_string_value(json_object_get(json_array_get(fails, i), "error")));
	}
	int rc = json_array_size(fails) ? CTL_FAIL : CTL_OK;
	json_decref(fails);
	return rc;
}

static const ctl_cmd_t cs_cmds[] = {
	{ "sync run", cs_sync_run, "run one binding's sync now",
	  "sync run BINDING [--dry-run] [--full] [--allow-deletes N] [--no-push]\n"
	  "\n"
	  "Run one sync of BINDING now: pull from its connector (inbound or both),\n"
	  "map, match and apply the changes one batch per transaction, suspend (or\n"
	  "purge) people a completed full pull no longer lists, then push the\n"
	  "binding's outbox (outbound or both). Prints the run report at the end;\n"
	  "progress goes to a terminal's stderr. Refused while another process\n"
	  "runs the same binding.\n"
	  "\n"
	  "  -n, --dry-run          plan only: nothing is written, the drop folder is\n"
	  "                         left as it is; prints counts and the first examples\n"
	  "                         of each kind of change\n"
	  "  -f, --full             pull everything, ignoring the stored cursor\n"
	  "      --allow-deletes N  let up to N deletes past the binding's\n"
	  "                         max_delete_ratio guard in this run\n"
	  "      --no-push          do not push the outbox in this run\n"
	  "      --json             the run report as JSON\n"
	  "  -h, --help             this text\n"
	  "\n"
	  "Exit status: 0 ok; 1 failed, refused, or stopped by the delete guard;\n"
	  "2 usage error.\n" },
	{ "sync status", cs_sync_status, "last run, next run, cursor and outbox of each binding",
	  "sync status\n"
	  "\n"
	  "Per binding: direction, last run (time, status, counts), next scheduled\n"
	  "run, outbox entries pending and dead, and the stored cursor.\n"
	  "\n"
	  "      --json   as JSON\n"
	  "  -h, --help   this text\n" },
	{ "runs list", cs_runs_list, "recent sync run reports",
	  "runs list [BINDING] [--limit N]\n"
	  "\n"
	  "Sync run reports, newest first, of BINDING or of all bindings (the last\n"
	  "runs_kept of each binding are kept).\n"
	  "\n"
	  "  -l, --limit N  at most N runs (default 20)\n"
	  "      --json     as JSON\n"
	  "  -h, --help     this text\n" },
	{ "runs show", cs_runs_show, "one sync run report",
	  "runs show ID\n"
	  "\n"
	  "The report of run ID: times, status, counts and message.\n"
	  "\n"
	  "      --json   as JSON\n"
	  "  -h, --help   this text\n" },
	{ "people list", cs_people_list, "list people",
	  "people list [--status S] [--limit N] [--offset N]\n"
	  "\n"
	  "People ordered by family name, given name.\n"
	  "\n"
	  "  -s, --status S   only active, suspended or deleted people\n"
	  "  -l, --limit N    at most N (default 100)\n"
	  "  -o, --offset N   skip the first N\n"
	  "      --json       as JSON\n"
	  "  -h, --help       this text\n" },
	{ "people show", cs_people_show, "one person with links and credentials",
	  "people show ID|EMPLOYEE_ID|EMAIL\n"
	  "\n"
	  "One person, found by gateway id, employee id or e-mail address, with the\n"
	  "PACS records linked to them and their Mobile IDs.\n"
	  "\n"
	  "      --json   as JSON\n"
	  "  -h, --help   this text\n" },
	{ "people count", cs_people_count, "count people by status",
	  "people count\n"
	  "\n"
	  "How many people the store holds, in all and by status.\n"
	  "\n"
	  "      --json   as JSON\n"
	  "  -h, --help   this text\n" },
	{ "outbox list", cs_outbox_list, "changes waiting to be pushed",
	  "outbox list [--dead | --all] [--binding B] [--limit N]\n"
	  "\n"
	  "Outbox entries (changes queued for outbound bindings), oldest first:\n"
	  "pending ones by default.\n"
	  "\n"
	  "  -d, --dead       dead letters (permanent failures) instead\n"
	  "  -a, --all        every state (pending, dead, done)\n"
	  "  -b, --binding B  only binding B\n"
	  "  -l, --limit N    at most N (default 100)\n"
	  "      --json       as JSON\n"
	  "  -h, --help       this text\n" },
	{ "outbox retry", cs_outbox_retry, "replay dead letters",
	  "outbox retry ID|--all|--binding B [--no-push]\n"
	  "\n"
	  "Make dead outbox entries pending again (entry ID, or all of them, or all\n"
	  "of binding B), then push the pending entries of the bindings concerned.\n"
	  "\n"
	  "  -a, --all        every dead entry\n"
	  "  -b, --binding B  only binding B\n"
	  "      --no-push    only replay; the next sync run pushes\n"
	  "      --json       as JSON\n"
	  "  -h, --help       this text\n" },
};

const ctl_group_t ctl_group_sync = { cs_cmds, sizeof cs_cmds / sizeof cs_cmds[0] };
