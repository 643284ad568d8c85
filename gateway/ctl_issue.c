/* gateway/ctl_issue.c -- mobileidctl's issuance commands: people (add,
 * update, suspend, resume, delete), credentials, invitations, readers,
 * issuer keys and admin tokens. */
#include <config.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "gateway/ctl.h"
#include "gateway/instance.h"
#include "gateway/issuer.h"
#include "gateway/keys.h"
#include "gateway/invite.h"
#include "gateway/people.h"

#define CI_STORE MID_INST_STORE
#define CI_SECRETS (MID_INST_STORE | MID_INST_SECRETS)

static int ci_fail(const mid_error_t *e)
{
	return ctl_err("%s", e->text[0] ? e->text : "failed");
}

static void ci_time(int64_t ms, char *buf, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (ms == 0) {
		snprintf(buf, n, "-");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *ci_jtime(int64_t ms)
{
	char buf[40];
	if (ms == 0)
		return json_null();
	ci_time(ms, buf, sizeof buf);
	return json_string(buf);
}

static int ci_int(ctl_t *c, const char *s, int64_t *v)
{
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (errno || end == s || *end || x < 0)
		return ctl_usage_err(c, "\"%s\" is not a number", s);
	*v = x;
	return -1;
}

/* Parse options: returns -1 to go on, else an exit code. */
#define CI_GETOPT(c, argc, argv, shorts, longs, body)                                      \
	do {                                                                                \
		int ch_;                                                                    \
		optind = 0; /* 0: glibc re-initialises (and permutes) */       \
		opterr = 0;                                                                 \
		while ((ch_ = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {        \
			if (ch_ == 'h')                                                     \
				return ctl_help(c);                                         \
			switch (ch_) {                                                      \
				body                                                        \
			default:                                                            \
				return ctl_usage_err(c, "unknown option or missing value '%s'", \
				                     argv[optind - 1]);                         \
			}                                                                   \
		}                                                                           \
	} while (0)

/* ---- people ------------------------------------------------------------------ */

static json_t *ci_person_json(const mid_person_t *p)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o}", "id", p->id, "employee_id",
	                 p->employee_id, "given_name", p->given_name, "family_name", p->family_name,
	                 "email", p->email, "mobile", p->mobile, "status",
	                 mid_person_status_name(p->status), "valid_from", ci_jtime(p->valid_from),
	                 "valid_until", ci_jtime(p->valid_until));
}

static void ci_person_print(ctl_t *c, const mid_person_t *p, const char *what)
{
	if (c->json) {
		ctl_print_json(ci_person_json(p));
	} else if (!c->quiet) {
		printf("%s person %s (%s %s)\n", what, p->id, p->given_name, p->family_name);
	}
}

static const struct option ci_person_opts[] = {
	{ "given", required_argument, NULL, 'g' },   { "family", required_argument, NULL, 'f' },
	{ "email", required_argument, NULL, 'e' },   { "employee-id", required_argument, NULL, 'i' },
	{ "mobile", required_argument, NULL, 'm' },  { "valid-from", required_argument, NULL, 'F' },
	{ "valid-until", required_argument, NULL, 'U' }, { "help", no_argument, NULL, 'h' },
	{ 0 },
};

/* Apply person options to *p; returns -1 to go on. */
/* Which person options were given (bits of *given). */
enum { CI_G_GIVEN = 1, CI_G_FAMILY = 2, CI_G_EMAIL = 4, CI_G_EMPLOYEE = 8, CI_G_MOBILE = 16,
       CI_G_FROM = 32, CI_G_UNTIL = 64 };

static int ci_person_args(ctl_t *c, int argc, char **argv, mid_person_t *p, int *given)
{
	mid_error_t e = { 0 };
	*given = 0;
	CI_GETOPT(c, argc, argv, "h", ci_person_opts,
		case 'g': snprintf(p->given_name, sizeof p->given_name, "%s", optarg); *given |= CI_G_GIVEN; break;
		case 'f': snprintf(p->family_name, sizeof p->family_name, "%s", optarg); *given |= CI_G_FAMILY; break;
		case 'e': snprintf(p->email, sizeof p->email, "%s", optarg); *given |= CI_G_EMAIL; break;
		case 'i': snprintf(p->employee_id, sizeof p->employee_id, "%s", optarg); *given |= CI_G_EMPLOYEE; break;
		case 'm': snprintf(p->mobile, sizeof p->mobile, "%s", optarg); *given |= CI_G_MOBILE; break;
		case 'F':
			if (optarg[0] == '\0') { p->valid_from = 0; *given |= CI_G_FROM; break; }
			if (mid_issuer_parse_date(optarg, 0, &p->valid_from, &e) != MID_OK)
				return ctl_usage_err(c, "%s", e.text);
			*given |= CI_G_FROM;
			break;
		case 'U':
			if (optarg[0] == '\0') { p->valid_until = 0; *given |= CI_G_UNTIL; break; }
			if (mid_issuer_parse_date(optarg, 1, &p->valid_until, &e) != MID_OK)
				return ctl_usage_err(c, "%s", e.text);
			*given |= CI_G_UNTIL;
			break;
	);
	return -1;
}

static int ci_people_add(ctl_t *c, int argc, char **argv)
{
	mid_person_t p;
	mid_error_t e = { 0 };
	mid_instance_t *in;
	int rc, given;

	memset(&p, 0, sizeof p);
	if ((rc = ci_person_args(c, argc, argv, &p, &given)) >= 0)
		return rc;
	if (optind != argc)
		return ctl_usage_err(c, "unexpected argument '%s'", argv[optind]);
	if (!p.given_name[0] || !p.family_name[0])
		return ctl_usage_err(c, "--given and --family are required");
	if (!(in = ctl_instance(c, CI_STORE)))
		return CTL_FAIL;
	if (mid_people_create(in, &p, &e) != MID_OK) {
		mid_person_clear(&p);
		return ci_fail(&e);
	}
	ci_person_print(c, &p, "added");
	mid_person_clear(&p);
	return CTL_OK;
}

/* Resolve argv[optind] as a person. */
static int ci_person_ref(mid_instance_t *in, const char *ref, char id[MID_ID_LEN])
{
	mid_error_t e = { 0 };
	if (mid_people_resolve(in, ref, id, &e) != MID_OK)
		return ci_fail(&e);
	return -1;
}

static int ci_people_update(ctl_t *c, int argc, char **argv)
{
	mid_person_t opt, p;
	mid_error_t e = { 0 };
	mid_instance_t *in;
	char id[MID_ID_LEN];
	int rc, given;

	memset(&opt, 0, sizeof opt);
	memset(&p, 0, sizeof p);
	opt.valid_from = opt.valid_until = -1;
	if ((rc = ci_person_args(c, argc, argv, &opt, &given)) >= 0)
		return rc;
	if (optind + 1 != argc)
		return ctl_usage_err(c, "give exactly one person");
	if (!given)
		return ctl_usage_err(c, "nothing to change: give at least one option");
	if (!(in = ctl_instance(c, CI_STORE)))
		return CTL_FAIL;
	if ((rc = ci_person_ref(in, argv[optind], id)) >= 0)
		return rc;
	if (mid_store_person_get(in->store, id, &p, &e) != MID_OK)
		return ci_fail(&e);
	/* only what was given changes (an option given as "" clears it); the
	 * bits come from getopt, so abbreviated options count too */
	if (given & CI_G_GIVEN)
		memcpy(p.given_name, opt.given_name, sizeof p.given_name);
	if (given & CI_G_FAMILY)
		memcpy(p.family_name, opt.family_name, sizeof p.family_name);
	if (given & CI_G_EMAIL)
		memcpy(p.email, opt.email, sizeof p.email);
	if (given & CI_G_EMPLOYEE)
		memcpy(p.employee_id, opt.employee_id, sizeof p.employee_id);
	if (given & CI_G_MOBILE)
		memcpy(p.mobile, opt.mobile, sizeof p.mobile);
	if (given & CI_G_FROM)
		p.valid_from = opt.valid_from;
	if (given & CI_G_UNTIL)
		p.valid_until = opt.valid_until;
	if (mid_people_update(in, &p, &e) != MID_OK) {
		mid_person_clear(&p);
		return ci_fail(&e);
	}
	ci_person_print(c, &p, "updated");
	mid_person_clear(&p);
	return CTL_OK;
}

static int ci_people_status(ctl_t *c, int argc, char **argv, int what)
{
	static const struct option opts[] = { { "purge", no_argument, NULL, 'p' },
		                              { "help", no_argument, NULL, 'h' }, { 0 } };
	mid_error_t e = { 0 };
	mid_instance_t *in;
	char id[MID_ID_LEN];
	int rc, purge = 0;

	CI_GETOPT(c, argc, argv, "h", opts,
		case 'p': if (what != 'd') return ctl_usage_err(c, "unknown option '--purge'");
			purge = 1; break;
	);
	if (optind + 1 != argc)
		return ctl_usage_err(c, "give exactly one person");
	if (!(in = ctl_instance(c, CI_STORE)))
		return CTL_FAIL;
	if ((rc = ci_person_ref(in, argv[optind], id)) >= 0)
		return rc;
	rc = what == 's' ? mid_people_suspend(in, id, &e)
	   : what == 'r' ? mid_people_resume(in, id, &e)
	                 : mid_people_delete(in, id, purge, &e);
	if (rc != MID_OK)
		return ci_fail(&e);
	if (c->json)
		ctl_print_json(json_pack("{s:s,s:s}", "id", id, "status",
		                         what == 's' ? "suspended" : what == 'r' ? "active"
		                         : purge ? "purged" : "deleted"));
	else if (!c->quiet)
		printf("person %s %s\n", id, what == 's' ? "suspended" : what == 'r' ? "resumed"
		       : purge ? "purged" : "deleted");
	return CTL_OK;
}

static int ci_people_suspend(ctl_t *c, int argc, char **argv) { return ci_people_status(c, argc, argv, 's'); }
static int ci_people_resume(ctl_t *c, int argc, char **argv) { return ci_people_status(c, argc, argv, 'r'); }
static int ci_people_delete(ctl_t *c, int argc, char **argv) { return ci_people_status(c, argc, argv, 'd'); }

/* ---- credentials ---------------------------------------------------------------- */

static json_t *ci_cred_json(const mid_credential_t *k)
{
	return json_pack("{s:s,s:s?,s:s,s:I,s:I,s:s,s:s,s:o,s:o,s:s?,s:s?}", "id", k->id, "person",
	                 k->person_id[0] ? k->person_id : NULL, "format", k->format, "facility_code",
	                 (json_int_t)k->facility_code, "card_number", (json_int_t)k->card_number,
	                 "type", mid_cred_type_name(k->type), "status",
	                 mid_cred_status_name(k->status), "valid_from", ci_jtime(k->valid_from),
	                 "valid_until", ci_jtime(k->valid_until), "device",
	                 k->device_id[0] ? k->device_id : NULL, "issuer_key",
	                 k->issuer_key_id[0] ? k->issuer_key_id : NULL);
}

static int ci_cred_issue(ctl_t *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' }, { "facility-code", required_argument, NULL, 'F' },
		{ "card-number", required_argument, NULL, 'n' }, { "type", required_argument, NULL, 't' },
		{ "valid-from", required_argument, NULL, 'a' }, { "valid-until", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' }, { 0 },
	};
	mid_issue_opts_t o;
	mid_credential_t k;
	mid_error_t e = { 0 };
	mid_instance_t *in;
	char id[MID_ID_LEN];
	int rc;

	memset(&o, 0, sizeof o);
	memset(&k, 0, sizeof k);
	o.facility_code = -1;
	CI_GETOPT(c, argc, argv, "h", opts,
		case 'f': o.format = optarg; break;
		case 'F': if ((rc = ci_int(c, optarg, &o.facility_code)) >= 0) return rc; break;
		case 'n': if ((rc = ci_int(c, optarg, &o.card_number)) >= 0) return rc; break;
		case 't':
			if ((o.type = mid_cred_type_parse(optarg)) < 0)
				return ctl_usage_err(c, "--type is reusable or single-issue");
			break;
		case 'a':
			if (mid_issuer_parse_date(optarg, 0, &o.valid_from, &e) != MID_OK)
				return ctl_usage_err(c, "%s", e.text);
			break;
		case 'u':
			if (mid_issuer_parse_date(optarg, 1, &o.valid_until, &e) != MID_OK)
				return ctl_usage_err(c, "%s", e.text);
			break;
	);
	if (optind + 1 != argc)
		return ctl_usage_err(c, "give exactly one person");
	if (!(in = ctl_instance(c, CI_STORE)))
		return CTL_FAIL;
	if ((rc = ci_person_ref(in, argv[optind], id)) >= 0)
		return rc;
	if (mid_issuer_issue(in, id, &o, &k, &e) != MID_OK)
		return ci_fail(&e);
	if (c->json)
		ctl_print_json(ci_cred_json(&k));
	else if (!c->quiet)
		printf("issued credential %s: %s facility %lld card %lld (%s, pending until enrolled)\n",
		       k.id, k.format, (long long)k.facility_code, (long long)k.card_number,
		       mid_cred_type_name(k.type));
	mid_credential_clear(&k);
	return CTL_OK;
}

static int ci_cred_status(ctl_t *c, int argc, char **argv, int what)
{
	static const struct option opts[] = { { "reason", required_argument, NULL, 'r' },
		                              { "help", no_argument, NULL, 'h' }, { 0 } };
	mid_error_t e = { 0 };
	mid_instance_t *in;
	const char *reason = NULL;
	int rc;

	CI_GETOPT(c, argc, argv, "h", opts, case 'r': reason = optarg; break;);
	if (optind + 1 != argc)
		return ctl_usage_err(c, "give exactly one credential id");
	if (!(in = ctl_instance(c, CI_STORE)))
		return CTL_FAIL;
	rc = what == 'x' ? mid_issuer_revoke(in, argv[optind], reason, &e)
	   : what == 's' ? mid_issuer_suspend(in, argv[optind], reason, &e)
	                 : mid_issuer_resume(in, argv[optind], &e);
	if (rc != MID_OK)
		return ci_fail(&e);
	if (c->json)
		ctl_print_json(json_pack("{s:s,s:s}", "id", argv[optind], "action",
		                         what == 'x' ? "revoked" : what == 's' ? "suspended" : "resumed"));
	else if (!c->quiet)
		printf("credential %s %s\n", argv[optind],
		       what == 'x' ? "revoked" : what == 's' ? "suspended" : "resumed");
	return CTL_OK;
}

static int ci_cred_revoke(ctl_t *c, int argc, char **argv) { return ci_cred_status(c, argc, argv, 'x'); }
static int ci_cred_suspend(ctl_t *c, int argc, char **argv) { return ci_cred_status(c, argc, argv, 's'); }
static int ci_cred_resume(ctl_t *c, int argc, char **argv) { return ci_cred_status(c, argc, argv, 'r'); }

static int ci_cred_list(ctl_t *c, int argc, char **argv)
{
	static const char *const heads[] = { "ID", "PERSON", "FORMAT", "FC", "CARD", "TYPE",
		                             "STATUS", "VALID UNTIL" };
	mid_credential_t *list = NULL;
	mid_error_t e = { 0 };
	mid_instance_t *in;
	char id[MID_ID_LEN];
	size_t n = 0;
	int rc = ctl_simple_args(c, argc, argv, 0, 1);

	if (rc >= 0)
		return rc;
	if (!(in = ctl_instance(c, CI_STORE)))
		return CTL_FAIL;
	if (optind < argc && (rc = ci_person_ref(in, argv[optind], id)) >= 0)
		return rc;
	if (mid_store_credential_list(in->store, optind < argc ? id : NULL, 0, INT64_MAX / 2, &list,
	                              &n, &e) != MID_OK)
		return ci_fail(&e);
	if (c->json) {
		json_t *a = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, ci_cred_json(&list[i]));
		ctl_print_json(a);
	} else {
		ctl_table_t t;
		ctl_table_init(&t, 8, heads);
		for (size_t i = 0; i < n; i++) {
			char fc[24], cn[24], until[40];
			snprintf(fc, sizeof fc, "%lld", (long long)list[i].facility_code);
			snprintf(cn, sizeof cn, "%lld", (long long)list[i].card_number);
			ci_time(list[i].valid_until, until, sizeof until);
			ctl_table_add(&t, list[i].id, list[i].person_id[0] ? list[i].person_id : NULL,
			              list[i].format, fc, cn, mid_cred_type_name(list[i].type),
			              mid_cred_status_name(list[i].status), until);
		}
		ctl_table_print(&t, stdout);
		ctl_table_free(&t);
	}
	mid_credential_list_free(list, n);
	return CTL_OK;
}

/* ---- invitations -------------------------------------------------------------------- */

static int ci_inv_print(ctl_t *c, const mid_invitation_t *inv, const char *code, const char *what)
{
	char exp[40];
	int shown = strcmp(inv->delivery, "shown") == 0;
	ci_time(inv->expires, exp, sizeof exp);
	if (c->json) {
		json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", inv->id, "person", inv->person_id,
		                      "credential", inv->credential_id, "delivery", inv->delivery,
		                      "expires", exp);
		if (shown)
			json_object_set_new(o, "code", json_string(code));
		ctl_print_json(o);
	} else if (shown) {
		printf("invitation %s for person %s\ncode: %s\nexpires: %s (single use)\n", inv->id,
		       inv->person_id, code, exp);
	} else {
		printf("invitation %s %s to person %s (expires %s)\n", inv->id, what, inv->person_id, exp);
	}
	return CTL_OK;
}

static int ci_inv_create(ctl_t *c, int argc, char **argv)
{
	static const struct option opts[] = { { "email", no_argument, NULL, 'e' },
		                              { "show", no_argument, NULL, 's' },
		                              { "help", no_argument, NULL, 'h' }, { 0 } };
	const char *delivery = NULL;
	mid_credential_t k;
	mid_invitation_t inv;
	mid_error_t e = { 0 };
	mid_instance_t *in;
	char code[MID_INVITE_CODE_BUF];
	int rc;

	CI_GETOPT(c, argc, argv, "h", opts,
		case 'e': delivery = "email"; break;
		case 's': delivery = "shown"; break;
	);
	if (optind + 1 != argc)
		return ctl_usage_err(c, "give exactly one credential id");
	if (!(in = ctl_instance(c, CI_SECRETS)))
		return CTL_FAIL;
	memset(&k, 0, sizeof k);
	if (mid_store_credential_get(in->store, argv[optind], &k, &e) != MID_OK)
		return ci_fail(&e);
	if (!delivery)
		delivery = in->cfg->smtp.enabled ? "email" : "shown";
	rc = mid_invite_create(in, k.person_id, k.id, delivery, code, &inv, &e);
	mid_credential_clear(&k);
	if (rc != MID_OK)
		return ci_fail(&e);
	ci_inv_print(c, &inv, code, "mailed");
	sodium_memzero(code, sizeof code);
	return CTL_OK;
}

static int ci_inv_resend(ctl_t *c, int argc, char **argv)
{
	static const struct option opts[] = { { "email", no_argument, NULL, 'e' },
		                              { "show", no_argument, NULL, 's' },
		                              { "help", no_argument, NULL, 'h' }, { 0 } };
	const char *delivery = NULL;
	mid_invitation_t inv;
	mid_error_t e = { 0 };
	mid_instance_t *in;
	char code[MID_INVITE_CODE_BUF];

	CI_GETOPT(c, argc, argv, "h", opts,
		case 'e': delivery = "email"; break;
		case 's': delivery = "shown"; break;
	);
	if (optind + 1 != argc)
		return ctl_usage_err(c, "give exactly one invitation or credential id");
	if (!(in = ctl_instance(c, CI_SECRETS)))
		return CTL_FAIL;
	if (mid_invite_resend(in, argv[optind], delivery, code, &inv, &e) != MID_OK)
		return ci_fail(&e);
	ci_inv_print(c, &inv, code, "mailed again");
	sodium_memzero(code, sizeof code);
	return CTL_OK;
}

static int ci_inv_list(ctl_t *c, int argc, char **argv)
{
	static const char *const heads[] = { "ID", "PERSON", "CREDENTIAL", "DELIVERY", "STATE",
		                             "EXPIRES", "ATTEMPTS" };
	mid_invitation_t *list = NULL;
	mid_error_t e = { 0 };
	mid_instance_t *in;
	char id[MID_ID_LEN];
	size_t n = 0;
	int64_t now;
	int rc = ctl_simple_args(c, argc, argv, 0, 1);

	if (rc >= 0)
		return rc;
	if (!(in = ctl_instance(c, CI_STORE)))
		return CTL_FAIL;
	if (optind < argc && (rc = ci_person_ref(in, argv[optind], id)) >= 0)
		return rc;
	if (mid_store_invitation_list(in->store, optind < argc ? id : NULL, &list, &n, &e) != MID_OK)
		return ci_fail(&e);
	now = mid_store_now(in->store);
	json_t *a = json_array();
	ctl_table_t t;
	ctl_table_init(&t, 7, heads);
	for (size_t i = 0; i < n; i++) {
		const mid_invitation_t *v = &list[i];
		const char *state = v->used > 0 ? "used" : v->used < 0 ? "replaced"
		                  : v->attempts >= MID_INVITE_MAX_ATTEMPTS ? "locked"
		                  : v->expires <= now ? "expired" : "open";
		char exp[40], att[16];
		ci_time(v->expires, exp, sizeof exp);
		snprintf(att, sizeof att, "%d", v->attempts);
		ctl_table_add(&t, v->id, v->person_id, v->credential_id[0] ? v->credential_id : NULL,
		              v->delivery, state, exp, att);
		json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:i}", "id", v->id,
		                                   "person", v->person_id, "credential",
		                                   v->credential_id, "delivery", v->delivery, "state",
		                                   state, "expires", exp, "attempts", v->attempts));
	}
	if (c->json)
		ctl_print_json(a);
	else {
		json_decref(a);
		ctl_table_print(&t, stdout);
	}
	ctl_table_free(&t);
	free(list);
	return CTL_OK;
}

/* ---- readers ------------------------------------------------------------------------------ */

static int ci_readers_add(ctl_t *c, int argc, char **argv)
{
	char token[MID_TOKEN_TEXT_LEN];
	mid_reader_t r;
	mid_error_t e = { 0 };
	mid_instance_t *in;
	int rc = ctl_simple_args(c, argc, argv, 1, 1);

	if (rc >= 0)
		return rc;
	if (!(in = ctl_instance(c, CI_STORE)))
		return CTL_FAIL;
	if (mid_readers_add(in, argv[optind], token, &r, &e) != MID_OK)
		return ci_fail(&e);
	if (c->json)
		ctl_print_json(json_pack("{s:s,s:s,s:s}", "id", r.id, "name", r.name, "token", token));
	else
		printf("reader %s (%s)\ntoken: %s\nThe token is shown only now; store it in the reader.\n",
		       r.id, r.name, token);
	sodium_memzero(token, sizeof token);
	return CTL_OK;
}

static int ci_readers_token(ctl_t *c, int argc, char **argv)
{
	char token[MID_TOKEN_TEXT_LEN];
	mid_error_t e = { 0 };
	mid_instance_t *in;
	int rc = ctl_simple_args(c, argc, argv, 1, 1);

	if (rc >= 0)
		return rc;
	if (!(in = ctl_instance(c, CI_STORE)))
		return CTL_FAIL;
	if (mid_readers_new_token(in, argv[optind], token, &e) != MID_OK)
		return ci_fail(&e);
	if (c->json)
		ctl_print_json(json_pack("{s:s,s:s}", "id", argv[optind], "token", token));
	else
		printf("reader %s\ntoken: %s\nThe old token no longer works; this one is shown only now.\n",
		       argv[optind], token);
	sodium_memzero(token, sizeof token);
	return CTL_OK;
}

static int ci_readers_list(ctl_t *c, int argc, char **argv)
{
	static const char *const heads[] = { "ID", "NAME", "CREATED" };
	mid_reader_t *list = NULL;
	mid_error_t e = { 0 };
	mid_instance_t *in;
	size_t n = 0;
	int rc = ctl_simple_args(c, argc, argv, 0, 0);

	if (rc >= 0)
		return rc;
	if (!(in = ctl_instance(c, CI_STORE)))
		return CTL_FAIL;
	if (mid_store_reader_list(in->store, &list, &n, &e) != MID_OK)
		return ci_fail(&e);
	json_t *a = json_array();
	ctl_table_t t;
	ctl_table_init(&t, 3, heads);
	for (size_t i = 0; i < n; i++) {
		char cr[40];
		ci_time(list[i].created, cr, sizeof cr);
		ctl_table_add(&t, list[i].id, list[i].name, cr);
		json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "id", list[i].id, "name",
		                                   list[i].name, "created", cr));
	}
	if (c->json)
		ctl_print_json(a);
	else {
		json_decref(a);
		ctl_table_print(&t, stdout);
	}
	ctl_table_free(&t);
	free(list);
	return CTL_OK;
}

/* Write buf to path atomically: temporary file, fsync, rename. */
static int ci_write_atomic(const char *path, const unsigned char *buf, size_t len)
{
	size_t pl = strlen(path);
	char *tmp = malloc(pl + 16);
	int fd = -1, ok = 0;
	if (!tmp)
		return -1;
	snprintf(tmp, pl + 16, "%s.tmpXXXXXX", path);
	if ((fd = mkstemp(tmp)) < 0)
		goto out;
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, buf + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		off += (size_t)w;
	}
	if (fchmod(fd, 0644) != 0 || fsync(fd) != 0)
		goto out;
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto out;
	ok = 1;
out:
	if (fd >= 0)
		close(fd);
	if (!ok)
		unlink(tmp);
	free(tmp);
	return ok ? 0 : -1;
}

static int ci_readers_bundle(ctl_t *c, int argc, char **argv)
{
	static const struct option opts[] = { { "since", required_argument, NULL, 's' },
		                              { "output", required_argument, NULL, 'o' },
		                              { "help", no_argument, NULL, 'h' }, { 0 } };
	mid_error_t e = { 0 };
	mid_instance_t *in;
	const char *outp = NULL;
	unsigned char *buf = NULL;
	size_t len = 0;
	uint64_t ver = 0;
	int64_t since = 0;
	int rc, delta = 0;

	CI_GETOPT(c, argc, argv, "ho:", opts,
		case 's': if ((rc = ci_int(c, optarg, &since)) >= 0) return rc; break;
		case 'o': outp = optarg; break;
	);
	if (optind != argc)
		return ctl_usage_err(c, "unexpected argument '%s'", argv[optind]);
	if (!outp)
		return ctl_usage_err(c, "-o FILE is required");
	if (!(in = ctl_instance(c, CI_SECRETS)))
		return CTL_FAIL;
	if (mid_issuer_bundle(in, (uint64_t)since, &buf, &len, &ver, &delta, &e) != MID_OK)
		return ci_fail(&e);
	if (ci_write_atomic(outp, buf, len) != 0) {
		free(buf);
		return ctl_err("%s: cannot write: %s", outp, strerror(errno));
	}
	free(buf);
	if (c->json)
		ctl_print_json(json_pack("{s:s,s:I,s:I,s:b,s:I}", "file", outp, "version",
		                         (json_int_t)ver, "base", (json_int_t)(delta ? since : 0),
		                         "delta", delta, "bytes", (json_int_t)len));
	else if (!c->quiet)
		printf("wrote %s bundle version %llu%s to %s (%zu bytes)\n", delta ? "delta" : "full",
		       (unsigned long long)ver, delta ? " since the given version" : "", outp, len);
	return CTL_OK;
}

/* ---- keys --------------------------------------------------------------------------------- */

static int ci_keys_rotate(ctl_t *c, int argc, char **argv)
{
	char kid[MID_KEY_ID_HEX_LEN];
	mid_error_t e = { 0 };
	mid_instance_t *in;
	int rc = ctl_simple_args(c, argc, argv, 0, 0);

	if (rc >= 0)
		return rc;
	if (!(in = ctl_instance(c, CI_SECRETS)))
		return CTL_FAIL;
	if (mid_keys_rotate(in, kid, &e) != MID_OK)
		return ci_fail(&e);
	if (c->json)
		ctl_print_json(json_pack("{s:s}", "current", kid));
	else if (!c->quiet)
		printf("issuer key %s is now current; a new next key is published. Export a new "
		       "reader bundle.\n", kid);
	return CTL_OK;
}

static int ci_keys_list(ctl_t *c, int argc, char **argv)
{
	static const char *const heads[] = { "KEY ID", "STATE", "CREATED", "PUBLISHED UNTIL",
		                             "IN BUNDLES" };
	mid_published_key_t *k = NULL;
	mid_error_t e = { 0 };
	mid_instance_t *in;
	size_t n = 0;
	int rc = ctl_simple_args(c, argc, argv, 0, 0);

	if (rc >= 0)
		return rc;
	if (!(in = ctl_instance(c, CI_STORE)))
		return CTL_FAIL;
	if (mid_keys_list(in, &k, &n, &e) != MID_OK)
		return ci_fail(&e);
	json_t *a = json_array();
	ctl_table_t t;
	ctl_table_init(&t, 5, heads);
	for (size_t i = 0; i < n; i++) {
		char cr[40], na[40], pk[65];
		ci_time(k[i].created, cr, sizeof cr);
		ci_time(k[i].not_after, na, sizeof na);
		sodium_bin2hex(pk, sizeof pk, k[i].public_key, 32);
		ctl_table_add(&t, k[i].key_id, mid_key_state_name(k[i].state), cr, na,
		              k[i].published ? "yes" : "no");
		json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s,s:o,s:b}", "key_id", k[i].key_id,
		                                   "public_key", pk, "state",
		                                   mid_key_state_name(k[i].state), "created", cr,
		                                   "not_after", ci_jtime(k[i].not_after), "published",
		                                   k[i].published));
	}
	if (c->json)
		ctl_print_json(a);
	else {
		json_decref(a);
		ctl_table_print(&t, stdout);
	}
	ctl_table_free(&t);
	free(k);
	return CTL_OK;
}

/* ---- admin tokens ---------------------------------------------------------------------------- */

static int ci_tokens_add(ctl_t *c, int argc, char **argv)
{
	char token[MID_TOKEN_TEXT_LEN];
	mid_error_t e = { 0 };
	mid_instance_t *in;
	int rc = ctl_simple_args(c, argc, argv, 1, 1);

	if (rc >= 0)
		return rc;
	if (!(in = ctl_instance(c, CI_STORE)))
		return CTL_FAIL;
	if (mid_tokens_add(in, argv[optind], token, &e) != MID_OK)
		return ci_fail(&e);
	if (c->json)
		ctl_print_json(json_pack("{s:s,s:s}", "name", argv[optind], "token", token));
	else
		printf("token %s: %s\nThe token is shown only now; use it as \"Authorization: Bearer "
		       "TOKEN\".\n", argv[optind], token);
	sodium_memzero(token, sizeof token);
	return CTL_OK;
}

static int ci_tokens_list(ctl_t *c, int argc, char **argv)
{
	static const char *const heads[] = { "NAME", "CREATED" };
	mid_admin_token_t *list = NULL;
	mid_error_t e = { 0 };
	mid_instance_t *in;
	size_t n = 0;
	int rc = ctl_simple_args(c, argc, argv, 0, 0);

	if (rc >= 0)
		return rc;
	if (!(in = ctl_instance(c, CI_STORE)))
		return CTL_FAIL;
	if (mid_store_token_list(in->store, &list, &n, &e) != MID_OK)
		return ci_fail(&e);
	json_t *a = json_array();
	ctl_table_t t;
	ctl_table_init(&t, 2, heads);
	for (size_t i = 0; i < n; i++) {
		char cr[40];
		ci_time(list[i].created, cr, sizeof cr);
		ctl_table_add(&t, list[i].name, cr);
		json_array_append_new(a, json_pack("{s:s,s:s}", "name", list[i].name, "created", cr));
	}
	if (c->json)
		ctl_print_json(a);
	else {
		json_decref(a);
		ctl_table_print(&t, stdout);
	}
	ctl_table_free(&t);
	free(list);
	return CTL_OK;
}

static int ci_tokens_rm(ctl_t *c, int argc, char **argv)
{
	mid_error_t e = { 0 };
	mid_instance_t *in;
	int rc = ctl_simple_args(c, argc, argv, 1, 1);

	if (rc >= 0)
		return rc;
	if (!(in = ctl_instance(c, CI_STORE)))
		return CTL_FAIL;
	if (mid_tokens_remove(in, argv[optind], &e) != MID_OK)
		return ci_fail(&e);
	if (c->json)
		ctl_print_json(json_pack("{s:s,s:b}", "name", argv[optind], "removed", 1));
	else if (!c->quiet)
		printf("token %s removed\n", argv[optind]);
	return CTL_OK;
}

/* ---- the table ---------------------------------------------------------------------------------- */

#define PERSON_REF "A person is given by id, employee id or email.\n"

static const ctl_cmd_t issue_cmds[] = {
	{ "people add", ci_people_add, "add a person",
	  "people add --given G --family F [--email E] [--employee-id ID] [--mobile M]\n"
	  "           [--valid-from DATE] [--valid-until DATE]\n\n"
	  "Add an active person. The employee id and the email must not belong to\n"
	  "anyone else. DATE is YYYY-MM-DD (UTC; --valid-until means the end of that\n"
	  "day) or YYYY-MM-DDTHH:MM:SSZ. Outbound bindings are told in the same\n"
	  "transaction. Prints the new person's id.\n" },
	{ "people update", ci_people_update, "change fields of a person",
	  "people update PERSON [--given G] [--family F] [--email E] [--employee-id ID]\n"
	  "           [--mobile M] [--valid-from DATE] [--valid-until DATE]\n\n"
	  "Change only the fields given; an empty value (--email '') clears a field.\n"
	  PERSON_REF },
	{ "people suspend", ci_people_suspend, "suspend a person and their Mobile IDs",
	  "people suspend PERSON\n\n"
	  "Suspend a person: their pending and active Mobile IDs are suspended too\n"
	  "(readers learn it with the next bundle). " PERSON_REF },
	{ "people resume", ci_people_resume, "resume a suspended person",
	  "people resume PERSON\n\n"
	  "Make a suspended person active again and resume the Mobile IDs that were\n"
	  "suspended with them (not those suspended on their own). " PERSON_REF },
	{ "people delete", ci_people_delete, "delete a person and revoke their Mobile IDs",
	  "people delete PERSON [--purge]\n\n"
	  "Mark the person deleted and revoke every Mobile ID they hold. With\n"
	  "--purge the person's record is removed as well (their credentials stay,\n"
	  "detached, so the revocation list still carries them). " PERSON_REF },
	{ "credentials issue", ci_cred_issue, "issue a Mobile ID to a person",
	  "credentials issue PERSON [--format F] [--facility-code N] [--card-number N]\n"
	  "           [--type reusable|single-issue] [--valid-from DATE] [--valid-until DATE]\n\n"
	  "Create a pending Mobile ID. F is H10301, H10302, H10304 or C1000-35 (default:\n"
	  "the first range of issuance.ranges); the facility code defaults to that\n"
	  "range's. Without --card-number the next free number of the range is taken;\n"
	  "an explicit number must fit the format and must not be held by another\n"
	  "credential or a known PACS value. The type defaults to issuance.default_type;\n"
	  "validity to issuance.validity_days from now, never past the person's own\n"
	  "valid-until. It becomes active when a phone enrolls (see invitations create).\n"
	  PERSON_REF },
	{ "credentials revoke", ci_cred_revoke, "revoke a Mobile ID (final)",
	  "credentials revoke ID [--reason TEXT]\n\n"
	  "Revoke for good; readers refuse it after their next bundle, online\n"
	  "verification at once.\n" },
	{ "credentials suspend", ci_cred_suspend, "suspend a Mobile ID",
	  "credentials suspend ID [--reason TEXT]\n\n"
	  "Suspend a pending or active Mobile ID (it goes on the revocation list\n"
	  "until resumed).\n" },
	{ "credentials resume", ci_cred_resume, "resume a suspended Mobile ID",
	  "credentials resume ID\n\n"
	  "Back to active (or pending when no phone holds it yet).\n" },
	{ "credentials list", ci_cred_list, "list Mobile IDs",
	  "credentials list [PERSON]\n\n"
	  "List every Mobile ID, or those of one person. " PERSON_REF },
	{ "invitations create", ci_inv_create, "invite the holder of a Mobile ID to enroll a phone",
	  "invitations create CREDENTIAL [--email|--show]\n\n"
	  "Make a one-time enrollment code for the credential's person. --email sends\n"
	  "it through the configured SMTP server to the person's email (the default\n"
	  "when smtp is configured); --show prints it here instead (the only time it\n"
	  "is shown: only a hash is stored). The code expires after\n"
	  "issuance.invitation_ttl_hours and replaces any earlier unused code.\n" },
	{ "invitations resend", ci_inv_resend, "replace an invitation with a new code",
	  "invitations resend INVITATION|CREDENTIAL [--email|--show]\n\n"
	  "Invalidate the earlier code and make a new one, delivered as before (or as\n"
	  "given).\n" },
	{ "invitations list", ci_inv_list, "list invitations",
	  "invitations list [PERSON]\n\n"
	  "List invitations with their state: open, used, replaced, locked (too many\n"
	  "failed attempts) or expired. Codes are never shown. " PERSON_REF },
	{ "readers add", ci_readers_add, "register a reader and print its token",
	  "readers add NAME\n\n"
	  "Register a reader. Its API token is printed once; only a hash is stored.\n" },
	{ "readers token", ci_readers_token, "give a reader a new token",
	  "readers token ID\n\n"
	  "Replace the reader's token (the old one stops working) and print the new\n"
	  "one once.\n" },
	{ "readers list", ci_readers_list, "list readers",
	  "readers list\n\nList registered readers (tokens are never shown).\n" },
	{ "readers bundle export", ci_readers_bundle, "export the signed reader bundle to a file",
	  "readers bundle export [--since VERSION] -o|--output FILE\n\n"
	  "Write the signed reader bundle (issuer keys including the next key,\n"
	  "revocation list, version) to FILE atomically. With --since, a delta with\n"
	  "the changes since that version (a full bundle when that history is gone).\n" },
	{ "keys rotate", ci_keys_rotate, "rotate the site issuer key",
	  "keys rotate\n\n"
	  "The next key (already published in bundles) becomes current, the current\n"
	  "key is retired (published until the last credential it signed expires),\n"
	  "and a new next key is made. Export a new reader bundle afterwards.\n" },
	{ "keys list", ci_keys_list, "list issuer keys",
	  "keys list\n\nList issuer keys: id, state, publication window.\n" },
	{ "tokens add", ci_tokens_add, "add an admin API bearer token",
	  "tokens add NAME\n\n"
	  "Make an admin API token and print it once; only a hash is stored.\n" },
	{ "tokens list", ci_tokens_list, "list admin API tokens",
	  "tokens list\n\nList admin API token names (never the tokens).\n" },
	{ "tokens rm", ci_tokens_rm, "remove an admin API token",
	  "tokens rm NAME\n\nRemove the token; requests with it are refused from now on.\n" },
};

const ctl_group_t ctl_group_issue = { issue_cmds, sizeof issue_cmds / sizeof issue_cmds[0] };
