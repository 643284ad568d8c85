/* gateway/issuer.c -- Mobile ID issuance: allocation, life cycle, device
 * binding and signing, phone fetch, reader bundle. See issuer.h.
 *
 * Meta keys kept here (all in the store's meta table):
 *   bundle.version           the reader bundle version (decimal)
 *   bundle.log.<v>           {"add":{hex:until},"del":[hex]}: what version v changed
 *   issuer.revset            {hex wire id: until ms (0 = for ever)}: the
 *                            revocation list this module maintains
 *   cred.<id>.wire           hex wire id of a credential moved to another phone
 *   wire.<hex>               credential id of such a moved wire id
 *   cred.<id>.suspended      why a credential is suspended ("person", "admin", ...)
 *   alloc.<fmt>.<fc>.<first> the next card number to try in that range
 */
#include <config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>
#include <jansson.h>

/* reader/credfmt.h and gateway/store.h both define struct mid_credential
 * and MID_KEY_CURRENT/NEXT/RETIRED: inside this file the wire format's
 * names get a "wire" spelling. */
#include "reader/credfmt.h"

#include "gateway/issuer.h"
#include "gateway/keys.h"
#include "gateway/outbox.h"

_Static_assert(MID_ISSUER_CRED_SIZE == MID_CREDENTIAL_SIZE, "credential size");
_Static_assert(MID_ISSUER_WIRE_ID_SIZE == MID_ID_SIZE, "wire id size");

#define IS_DAY_MS 86400000LL

/* ---- helpers ----------------------------------------------------------------- */

static int is_need(mid_instance_t *in, mid_error_t *err)
{
	if (!in || !in->store || !in->cfg)
		return mid_error_set(err, MID_EINVAL, 0, "the store is not open");
	if (sodium_init() < 0)
		return mid_error_set(err, MID_EINTERNAL, 0, "libsodium failed to initialise");
	return MID_OK;
}

static void is_clear_err(mid_error_t *err)
{
	if (err)
		memset(err, 0, sizeof *err);
}

static int is_outbox(mid_instance_t *in, const char *person_id, mid_error_t *err)
{
	if (!person_id || !person_id[0])
		return MID_OK;
	return mid_outbox_enqueue_person(in, person_id, MID_OP_UPSERT, err);
}

/* UUID text -> 16 bytes. */
static int is_uuid_bin(const char *uuid, unsigned char out[16])
{
	size_t len = 0;
	if (!uuid || sodium_hex2bin(out, 16, uuid, strlen(uuid), "-", &len, NULL) != 0 || len != 16)
		return -1;
	return 0;
}

static void is_uuid_text(const unsigned char b[16], char out[MID_ID_LEN])
{
	char hex[33];
	sodium_bin2hex(hex, sizeof hex, b, 16);
	snprintf(out, MID_ID_LEN, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
	         hex + 20);
}

static int is_meta_get(mid_store_t *st, const char *key, char **val, mid_error_t *err)
{
	int rc = mid_store_meta_get(st, key, val, err);
	if (rc == MID_ENOTFOUND) {
		*val = NULL;
		is_clear_err(err);
		return MID_OK;
	}
	return rc;
}

static int is_meta_json(mid_store_t *st, const char *key, json_t **out, mid_error_t *err)
{
	char *s = NULL;
	int rc;
	*out = NULL;
	if ((rc = is_meta_get(st, key, &s, err)) != MID_OK)
		return rc;
	if (s && s[0])
		*out = json_loads(s, 0, NULL);
	free(s);
	return MID_OK;
}

static int is_meta_set_json(mid_store_t *st, const char *key, json_t *v, mid_error_t *err)
{
	char *s = json_dumps(v, JSON_COMPACT);
	int rc;
	if (!s)
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	rc = mid_store_meta_set(st, key, s, err);
	free(s);
	return rc;
}

static int is_version(mid_store_t *st, uint64_t *v, mid_error_t *err)
{
	char *s = NULL;
	int rc = is_meta_get(st, "bundle.version", &s, err);
	if (rc != MID_OK)
		return rc;
	*v = s ? strtoull(s, NULL, 10) : 0;
	free(s);
	return MID_OK;
}

/* The wire id the credential's current binding carries. */
static int is_wire_of(mid_instance_t *in, const char *cred_id, unsigned char out[16],
                      mid_error_t *err)
{
	char key[MID_ID_LEN + 16], *s = NULL;
	size_t len = 0;
	int rc;
	snprintf(key, sizeof key, "cred.%s.wire", cred_id);
	if ((rc = is_meta_get(in->store, key, &s, err)) != MID_OK)
		return rc;
	if (s && s[0]) {
		rc = sodium_hex2bin(out, 16, s, strlen(s), NULL, &len, NULL) == 0 && len == 16
		         ? MID_OK
		         : mid_error_set(err, MID_EINTERNAL, 0, "bad wire id in meta for %s", cred_id);
		free(s);
		return rc;
	}
	free(s);
	if (is_uuid_bin(cred_id, out) != 0)
		return mid_error_set(err, MID_EINTERNAL, 0, "credential id %s is not a UUID", cred_id);
	return MID_OK;
}

/* ---- bundle change log --------------------------------------------------------- */

int mid_issuer_bundle_touch(mid_instance_t *in, const unsigned char *add, const int64_t *add_until,
                            size_t nadd, const unsigned char *del, size_t ndel, mid_error_t *err)
{
	json_t *rev = NULL, *log = NULL, *ladd, *ldel;
	uint64_t v;
	char key[64], hex[33], num[32];
	int rc;

	if ((rc = is_version(in->store, &v, err)) != MID_OK)
		return rc;
	v++;
	if ((rc = is_meta_json(in->store, "issuer.revset", &rev, err)) != MID_OK)
		return rc;
	if (!json_is_object(rev)) {
		json_decref(rev);
		rev = json_object();
	}
	log = json_pack("{s:{},s:[]}", "add", "del");
	if (!rev || !log) {
		rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		goto out;
	}
	ladd = json_object_get(log, "add");
	ldel = json_object_get(log, "del");
	for (size_t i = 0; i < nadd; i++) {
		int64_t until = add_until ? add_until[i] : 0;
		sodium_bin2hex(hex, sizeof hex, add + i * 16, 16);
		json_object_set_new(rev, hex, json_integer(until));
		json_object_set_new(ladd, hex, json_integer(until));
	}
	for (size_t i = 0; i < ndel; i++) {
		sodium_bin2hex(hex, sizeof hex, del + i * 16, 16);
		json_object_del(rev, hex);
		json_object_del(ladd, hex);
		json_array_append_new(ldel, json_string(hex));
	}
	snprintf(key, sizeof key, "bundle.log.%llu", (unsigned long long)v);
	snprintf(num, sizeof num, "%llu", (unsigned long long)v);
	if ((nadd || ndel) && (rc = is_meta_set_json(in->store, "issuer.revset", rev, err)) != MID_OK)
		goto out;
	if ((rc = is_meta_set_json(in->store, key, log, err)) != MID_OK)
		goto out;
	rc = mid_store_meta_set(in->store, "bundle.version", num, err);
out:
	json_decref(rev);
	json_decref(log);
	return rc;
}

int mid_issuer_bundle_version(mid_instance_t *in, uint64_t *version, mid_error_t *err)
{
	int rc = is_need(in, err);
	if (rc != MID_OK)
		return rc;
	return is_version(in->store, version, err);
}

/* ---- dates ------------------------------------------------------------------- */

int mid_issuer_parse_date(const char *text, int end_of_day, int64_t *ms, mid_error_t *err)
{
	struct tm tm;
	int y, mo, d, h = 0, mi = 0, s = 0, n = 0;
	time_t t;

	if (!text)
		return mid_error_set(err, MID_EINVAL, 0, "no date given");
	memset(&tm, 0, sizeof tm);
	if (sscanf(text, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
		goto bad;
	if (text[10] == '\0') {
		/* a day */
	} else if ((text[10] == 'T' || text[10] == ' ') &&
	           sscanf(text + 11, "%2d:%2d:%2d%n", &h, &mi, &s, &n) == 3 && n == 8 &&
	           (strcmp(text + 19, "Z") == 0 || text[19] == '\0')) {
		end_of_day = 0;
	} else {
		goto bad;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 || y < 1970)
		goto bad;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	t = timegm(&tm);
	if (tm.tm_mday != d) /* 2025-02-30 rolled over */
		goto bad;
	*ms = (int64_t)t * 1000 + (end_of_day ? IS_DAY_MS - 1 : 0);
	return MID_OK;
bad:
	return mid_error_set(err, MID_EINVAL, 0,
	                     "\"%s\" is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC)", text);
}

/* ---- allocation ----------------------------------------------------------------- */

typedef struct is_pick {
	char format[32];
	mid_wformat_t wf;
	int64_t fc;
	uint32_t max_fc;
	uint64_t max_cn;
	const mid_config_range_t *range; /* NULL when no range fits */
	char hint_key[96];
} is_pick_t;

static int is_choose(mid_instance_t *in, const mid_issue_opts_t *o, is_pick_t *p, mid_error_t *err)
{
	const mid_config_t *cfg = in->cfg;
	const char *fname = o->format;
	char buf[MID_WIEGAND_NAME_MAX];

	memset(p, 0, sizeof *p);
	if (!fname || !fname[0]) {
		if (cfg->issuance.nranges == 0)
			return mid_error_set(err, MID_EINVAL, 0,
			                     "no issuance range is configured (issuance.ranges): give "
			                     "a format, a facility code and a card number");
		fname = cfg->issuance.ranges[0].format_name;
	}
	if (mid_wiegand_parse_format(fname, &p->wf) != 0 || p->wf.kind == MID_WIEGAND_RAW)
		return mid_error_set(err, MID_EINVAL, 0,
		                     "format \"%s\" is not one of H10301, H10302, H10304, C1000-35",
		                     fname);
	snprintf(p->format, sizeof p->format, "%s", mid_wiegand_format_name(p->wf, buf, sizeof buf));
	mid_wiegand_limits(p->wf, &p->max_fc, &p->max_cn);
	p->fc = o->facility_code;
	for (size_t i = 0; i < cfg->issuance.nranges; i++) {
		const mid_config_range_t *r = &cfg->issuance.ranges[i];
		if (r->format != (int)p->wf.kind)
			continue;
		if (p->fc >= 0 && (int64_t)r->facility_code != p->fc)
			continue;
		p->range = r;
		break;
	}
	if (p->fc < 0) {
		if (p->range)
			p->fc = p->range->facility_code;
		else if (p->max_fc == 0)
			p->fc = 0;
		else
			return mid_error_set(err, MID_EINVAL, 0,
			                     "no issuance range for format %s: give a facility code",
			                     p->format);
	}
	if (p->fc > (int64_t)p->max_fc)
		return mid_error_set(err, MID_EINVAL, 0,
		                     "facility code %lld does not fit format %s (0..%u)",
		                     (long long)p->fc, p->format, (unsigned)p->max_fc);
	if (o->card_number < 0 || (uint64_t)o->card_number > p->max_cn)
		return mid_error_set(err, MID_EINVAL, 0,
		                     "card number %lld does not fit format %s (1..%llu)",
		                     (long long)o->card_number, p->format,
		                     (unsigned long long)p->max_cn);
	if (o->card_number == 0 && !p->range)
		return mid_error_set(err, MID_EINVAL, 0,
		                     "no issuance range for format %s facility code %lld in the "
		                     "config: give a card number or add a range", p->format,
		                     (long long)p->fc);
	if (p->range)
		snprintf(p->hint_key, sizeof p->hint_key, "alloc.%s.%lld.%llu", p->format,
		         (long long)p->fc, (unsigned long long)p->range->first);
	return MID_OK;
}

/* The next free card number of the picked range at or after *hint (0: the
 * range's first); *hint moves past it. */
static int is_next(mid_instance_t *in, const is_pick_t *p, int64_t *hint, int64_t *card,
                   mid_error_t *err)
{
	int64_t from = (int64_t)p->range->first, to = (int64_t)p->range->last;
	int rc;
	if (to > (int64_t)p->max_cn)
		to = (int64_t)p->max_cn;
	if (from == 0)
		from = 1;
	if (*hint > from)
		from = *hint;
	if (from > to)
		return mid_error_set(err, MID_ELIMIT, 0,
		                     "no free card number left in %s facility %lld range %llu..%llu",
		                     p->format, (long long)p->fc,
		                     (unsigned long long)p->range->first,
		                     (unsigned long long)p->range->last);
	if ((rc = mid_store_value_next_free(in->store, p->format, p->fc, from, to, card, err)) != MID_OK)
		return rc;
	*hint = *card + 1;
	return MID_OK;
}

static int is_hint_load(mid_instance_t *in, const is_pick_t *p, int64_t *hint, mid_error_t *err)
{
	char *s = NULL;
	int rc;
	*hint = 0;
	if (!p->range)
		return MID_OK;
	if ((rc = is_meta_get(in->store, p->hint_key, &s, err)) != MID_OK)
		return rc;
	if (s)
		*hint = strtoll(s, NULL, 10);
	free(s);
	return MID_OK;
}

static int is_hint_save(mid_instance_t *in, const is_pick_t *p, int64_t hint, mid_error_t *err)
{
	char num[32];
	if (!p->range)
		return MID_OK;
	snprintf(num, sizeof num, "%lld", (long long)hint);
	return mid_store_meta_set(in->store, p->hint_key, num, err);
}

/* ---- issue ------------------------------------------------------------------------ */

/* Fill *c as a pending credential of `person` (fetched; its status is
 * checked here): format, facility code, type and validity, as of `now`.
 * The card number is left to the caller. Nothing is written. */
static int is_fill(mid_instance_t *in, const mid_person_t *person, const mid_issue_opts_t *o,
                   const is_pick_t *p, int64_t now, mid_credential_t *c, mid_error_t *err)
{
	const mid_config_t *cfg = in->cfg;

	memset(c, 0, sizeof *c);
	if (person->status != MID_PERSON_ACTIVE)
		return mid_error_set(err, MID_ECONFLICT, 0, "person %s is %s: resume them first",
		                     person->id, mid_person_status_name(person->status));
	snprintf(c->person_id, sizeof c->person_id, "%s", person->id);
	snprintf(c->format, sizeof c->format, "%s", p->format);
	c->facility_code = p->fc;
	c->type = o->type ? o->type : (cfg->issuance.default_type ? cfg->issuance.default_type
	                                                          : MID_CRED_REUSABLE);
	if (!mid_cred_type_name(c->type))
		return mid_error_set(err, MID_EINVAL, 0, "credential type %d is not valid", o->type);
	c->status = MID_CRED_PENDING;
	c->valid_from = o->valid_from ? o->valid_from : now;
	if (person->valid_from && c->valid_from < person->valid_from)
		c->valid_from = person->valid_from;
	c->valid_until = o->valid_until
	                     ? o->valid_until
	                     : c->valid_from + (int64_t)(cfg->issuance.validity_days > 0
	                                                     ? cfg->issuance.validity_days
	                                                     : 365) * IS_DAY_MS;
	if (person->valid_until && c->valid_until > person->valid_until)
		c->valid_until = person->valid_until;
	if (c->valid_until <= c->valid_from || c->valid_until <= now)
		return mid_error_set(err, MID_EINVAL, 0,
		                     "the validity ends before it starts or is already over");
	return MID_OK;
}

/* Create one pending credential for `person` (fetched and checked). */
static int is_issue_one(mid_instance_t *in, const mid_person_t *person, const mid_issue_opts_t *o,
                        const is_pick_t *p, int64_t *hint, mid_credential_t *c, mid_error_t *err)
{
	int64_t now = mid_store_now(in->store), card = o->card_number;
	int rc;

	if ((rc = is_fill(in, person, o, p, now, c, err)) != MID_OK)
		return rc;
	if (card == 0 && (rc = is_next(in, p, hint, &card, err)) != MID_OK)
		return rc;
	c->card_number = card;
	rc = mid_store_credential_create(in->store, c, err);
	if (rc == MID_ECONFLICT && err) {
		char why[sizeof err->text];
		snprintf(why, sizeof why, "%s", err->text);
		mid_error_set(err, rc, 0, "card number %lld (%s facility %lld) is already taken: %s",
		              (long long)card, p->format, (long long)p->fc, why);
	}
	if (rc != MID_OK)
		return rc;
	return mid_instance_audit(in, "credential.issue", c->id,
	                          json_pack("{s:s,s:s,s:I,s:I,s:s}", "person", c->person_id, "format",
	                                    c->format, "facility_code", (json_int_t)c->facility_code,
	                                    "card_number", (json_int_t)c->card_number, "type",
	                                    mid_cred_type_name(c->type)),
	                          err);
}

int mid_issuer_issue(mid_instance_t *in, const char *person_id, const mid_issue_opts_t *opts,
                     mid_credential_t *out, mid_error_t *err)
{
	mid_issue_opts_t dflt;
	mid_person_t person;
	is_pick_t pick;
	int64_t hint = 0;
	int rc;

	memset(&person, 0, sizeof person);
	memset(out, 0, sizeof *out);
	if ((rc = is_need(in, err)) != MID_OK)
		return rc;
	if (!opts) {
		memset(&dflt, 0, sizeof dflt);
		dflt.facility_code = -1;
		opts = &dflt;
	}
	if ((rc = is_choose(in, opts, &pick, err)) != MID_OK)
		return rc;
	if ((rc = mid_store_begin(in->store, err)) != MID_OK)
		return rc;
	if ((rc = mid_store_person_get(in->store, person_id, &person, err)) != MID_OK) {
		if (rc == MID_ENOTFOUND)
			mid_error_set(err, rc, 0, "no person %s", person_id);
		goto fail;
	}
	if ((rc = is_hint_load(in, &pick, &hint, err)) != MID_OK ||
	    (rc = is_issue_one(in, &person, opts, &pick, &hint, out, err)) != MID_OK ||
	    (rc = is_outbox(in, out->person_id, err)) != MID_OK)
		goto fail;
	if (opts->card_number == 0 && (rc = is_hint_save(in, &pick, hint, err)) != MID_OK)
		goto fail;
	if ((rc = mid_store_commit(in->store, err)) != MID_OK)
		goto fail2;
	mid_person_clear(&person);
	return MID_OK;
fail:
	mid_store_rollback(in->store, NULL);
fail2:
	mid_person_clear(&person);
	mid_credential_clear(out);
	return rc;
}

/* ---- binding and signing ------------------------------------------------------------- */

typedef struct is_site {
	unsigned char id[16];
} is_site_t;

static int is_site_id(mid_instance_t *in, is_site_t *s, mid_error_t *err)
{
	if (!in->cfg->site_id || is_uuid_bin(in->cfg->site_id, s->id) != 0)
		return mid_error_set(err, MID_EINVAL, 0, "site.id of the config is not a UUID");
	return MID_OK;
}

/* Sign credential c for device_pk with wire id `wire` into out. */
static int is_sign(const is_site_t *site, const mid_signing_key_t *key, const mid_credential_t *c,
                   const unsigned char wire[16], const unsigned char device_pk[32],
                   unsigned char out[MID_CREDENTIAL_SIZE], mid_error_t *err)
{
	mid_wire_cred_t w;
	int rc;

	memset(&w, 0, sizeof w);
	w.version = MID_CREDENTIAL_VERSION;
	if (mid_wiegand_parse_format(c->format, &w.format) != 0)
		return mid_error_set(err, MID_EINVAL, 0, "credential %s: unknown format %s", c->id,
		                     c->format);
	memcpy(w.site_id, site->id, 16);
	memcpy(w.credential_id, wire, 16);
	w.facility_code = (uint32_t)c->facility_code;
	w.card_number = (uint64_t)c->card_number;
	w.not_before = c->valid_from / 1000;
	w.not_after = c->valid_until ? c->valid_until / 1000 : INT64_MAX / 2;
	memcpy(w.device_pk, device_pk, 32);
	if ((rc = mid_credential_sign(&w, key->secret, out)) != 0)
		return mid_error_set(err, MID_EINTERNAL, 0, "credential %s: signing failed: %s", c->id,
		                     mid_cerr_str(rc));
	return MID_OK;
}

/* The device row of phone key pk into *dev: created on first sight,
 * otherwise its last_seen is set to now. */
static int is_device(mid_instance_t *in, const unsigned char pk[32], const char *platform,
                     int64_t now, mid_device_t *dev, mid_error_t *err)
{
	int rc;
	memset(dev, 0, sizeof *dev);
	rc = mid_store_device_find_key(in->store, pk, dev, err);
	if (rc == MID_ENOTFOUND) {
		is_clear_err(err);
		memset(dev, 0, sizeof *dev);
		memcpy(dev->public_key, pk, 32);
		snprintf(dev->platform, sizeof dev->platform, "%s",
		         platform && platform[0] ? platform : "unknown");
		dev->enrolled = now;
		dev->last_seen = now;
		return mid_store_device_create(in->store, dev, err);
	}
	if (rc == MID_OK)
		rc = mid_store_device_touch(in->store, dev->id, now, err);
	return rc;
}

/* Fill *out from signed credential c (blob of MID_CREDENTIAL_SIZE bytes). */
static void is_signed_out(const mid_credential_t *c, mid_signed_cred_t *out)
{
	memset(out, 0, sizeof *out);
	snprintf(out->credential_id, sizeof out->credential_id, "%s", c->id);
	snprintf(out->device_id, sizeof out->device_id, "%s", c->device_id);
	memcpy(out->bytes, c->blob, MID_CREDENTIAL_SIZE);
	out->len = MID_CREDENTIAL_SIZE;
	snprintf(out->format, sizeof out->format, "%s", c->format);
	out->facility_code = c->facility_code;
	out->card_number = c->card_number;
	out->type = c->type;
	out->valid_from = c->valid_from;
	out->valid_until = c->valid_until;
}

/* Bind loaded credential *c (in a transaction) to the device with key pk. */
static int is_bind(mid_instance_t *in, const is_site_t *site, const mid_signing_key_t *key,
                   mid_credential_t *c, const unsigned char pk[32], const char *platform,
                   int check_person, mid_signed_cred_t *out, mid_error_t *err)
{
	mid_device_t dev;
	unsigned char wire[16], blob[MID_CREDENTIAL_SIZE];
	int64_t now = mid_store_now(in->store);
	int rc, moved = 0;

	if (c->status != MID_CRED_PENDING && c->status != MID_CRED_ACTIVE)
		return mid_error_set(err, MID_ECONFLICT, 0, "credential %s is %s", c->id,
		                     mid_cred_status_name(c->status));
	if (c->valid_until && c->valid_until < now) {
		mid_store_credential_set_status(in->store, c->id, MID_CRED_EXPIRED, NULL);
		return mid_error_set(err, MID_ECONFLICT, 0, "credential %s has expired", c->id);
	}
	if (check_person && c->person_id[0]) {
		mid_person_t p;
		memset(&p, 0, sizeof p);
		if ((rc = mid_store_person_get(in->store, c->person_id, &p, err)) != MID_OK)
			return rc;
		rc = p.status;
		mid_person_clear(&p);
		if (rc != MID_PERSON_ACTIVE)
			return mid_error_set(err, MID_ECONFLICT, 0, "the person of credential %s is %s",
			                     c->id, mid_person_status_name(rc));
	}
	if ((rc = is_device(in, pk, platform, now, &dev, err)) != MID_OK)
		return rc;
	if ((rc = is_wire_of(in, c->id, wire, err)) != MID_OK)
		return rc;
	if (c->device_id[0] && strcmp(c->device_id, dev.id) != 0) {
		char key_name[MID_ID_LEN + 16], hex[33];
		int64_t until = c->valid_until;
		if (c->type == MID_CRED_SINGLE_ISSUE)
			return mid_error_set(err, MID_ECONFLICT, 0,
			                     "credential %s is single-issue and already bound to "
			                     "another phone", c->id);
		/* reusable: the old phone's copy goes on the revocation list and
		 * the new phone gets a fresh wire id */
		if ((rc = mid_issuer_bundle_touch(in, wire, &until, 1, NULL, 0, err)) != MID_OK)
			return rc;
		randombytes_buf(wire, sizeof wire);
		sodium_bin2hex(hex, sizeof hex, wire, 16);
		snprintf(key_name, sizeof key_name, "cred.%s.wire", c->id);
		if ((rc = mid_store_meta_set(in->store, key_name, hex, err)) != MID_OK)
			return rc;
		snprintf(key_name, sizeof key_name, "wire.%s", hex);
		if ((rc = mid_store_meta_set(in->store, key_name, c->id, err)) != MID_OK)
			return rc;
		moved = 1;
	}
	if ((rc = is_sign(site, key, c, wire, pk, blob, err)) != MID_OK)
		return rc;
	free(c->blob);
	if (!(c->blob = malloc(sizeof blob)))
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	memcpy(c->blob, blob, sizeof blob);
	c->blob_len = sizeof blob;
	snprintf(c->device_id, sizeof c->device_id, "%s", dev.id);
	snprintf(c->issuer_key_id, sizeof c->issuer_key_id, "%s", key->key_id);
	c->status = MID_CRED_ACTIVE;
	if ((rc = mid_store_credential_update(in->store, c, err)) != MID_OK)
		return rc;
	if ((rc = mid_instance_audit(in, moved ? "credential.move" : "credential.bind", c->id,
	                             json_pack("{s:s,s:s,s:s}", "device", dev.id, "platform", dev.platform,
	                                       "issuer_key", key->key_id),
	                             err)) != MID_OK)
		return rc;
	if (out)
		is_signed_out(c, out);
	return MID_OK;
}

int mid_issuer_bind_device(mid_instance_t *in, const char *credential_id,
                           const unsigned char device_pk[32], const char *platform,
                           mid_signed_cred_t *out, mid_error_t *err)
{
	mid_signing_key_t *key = NULL;
	mid_credential_t c;
	is_site_t site;
	int rc;

	memset(&c, 0, sizeof c);
	if ((rc = is_need(in, err)) != MID_OK || (rc = is_site_id(in, &site, err)) != MID_OK)
		return rc;
	if (!device_pk)
		return mid_error_set(err, MID_EINVAL, 0, "no device public key");
	if ((rc = mid_keys_load_current(in, &key, err)) != MID_OK)
		return rc;
	if ((rc = mid_store_begin(in->store, err)) != MID_OK)
		goto out;
	if ((rc = mid_store_credential_get(in->store, credential_id, &c, err)) != MID_OK) {
		if (rc == MID_ENOTFOUND)
			mid_error_set(err, rc, 0, "no credential %s", credential_id);
		goto fail;
	}
	if ((rc = is_bind(in, &site, key, &c, device_pk, platform, 1, out, err)) != MID_OK ||
	    (rc = is_outbox(in, c.person_id, err)) != MID_OK)
		goto fail;
	rc = mid_store_commit(in->store, err);
	goto out;
fail:
	mid_store_rollback(in->store, NULL);
out:
	mid_credential_clear(&c);
	mid_signing_key_free(key);
	return rc;
}

/* ---- batch ------------------------------------------------------------------------------ */

#define IS_BATCH_VALUES 4096   /* free card numbers taken per scan of the range */

/* One credential of a batch, in the batch's transaction: *c (filled by
 * is_fill) gets card number `card` and a new id; with a device key it is
 * bound and signed first, so its row is written once, already active (no
 * insert-then-update), with one audit entry saying both. */
static int is_batch_one(mid_instance_t *in, const is_site_t *site, const mid_signing_key_t *key,
                        const unsigned char *pk, int64_t now, int64_t card, mid_credential_t *c,
                        mid_error_t *err)
{
	unsigned char wire[16], blob[MID_CREDENTIAL_SIZE];
	mid_device_t dev;
	int rc;

	c->card_number = card;
	mid_uuid_new(c->id);
	memset(&dev, 0, sizeof dev);
	if (pk) {
		if ((rc = is_device(in, pk, "managed", now, &dev, err)) != MID_OK)
			return rc;
		if (is_uuid_bin(c->id, wire) != 0)
			return mid_error_set(err, MID_EINTERNAL, 0, "credential id %s is not a UUID", c->id);
		if ((rc = is_sign(site, key, c, wire, pk, blob, err)) != MID_OK)
			return rc;
		c->blob = blob; /* borrowed for the insert below */
		c->blob_len = sizeof blob;
		snprintf(c->device_id, sizeof c->device_id, "%s", dev.id);
		snprintf(c->issuer_key_id, sizeof c->issuer_key_id, "%s", key->key_id);
		c->status = MID_CRED_ACTIVE;
	}
	rc = mid_store_credential_insert_allocated(in->store, c, err);
	c->blob = NULL;
	c->blob_len = 0;
	if (rc != MID_OK)
		return rc;
	return mid_instance_audit(in, "credential.issue", c->id,
	                          json_pack("{s:s,s:s,s:I,s:I,s:s,s:s?,s:s?,s:s?}", "person",
	                                    c->person_id, "format", c->format, "facility_code",
	                                    (json_int_t)c->facility_code, "card_number",
	                                    (json_int_t)c->card_number, "type",
	                                    mid_cred_type_name(c->type), "device", pk ? dev.id : NULL,
	                                    "platform", pk ? dev.platform : NULL, "issuer_key",
	                                    pk ? key->key_id : NULL),
	                          err);
}

int mid_issuer_batch_issue(mid_instance_t *in, const char *const *person_ids,
                           const unsigned char (*device_pks)[32], size_t n,
                           const mid_issue_opts_t *opts, char (*ids_out)[MID_ID_LEN],
                           mid_error_t *err)
{
	mid_issue_opts_t o;
	mid_signing_key_t *key = NULL;
	mid_person_t person;
	mid_credential_t c;
	is_pick_t pick;
	is_site_t site = { { 0 } };
	int64_t hint = 0, now, *vals = NULL;
	size_t nvals = 0, vi = 0;
	int rc;

	memset(&person, 0, sizeof person);
	memset(&c, 0, sizeof c);
	if ((rc = is_need(in, err)) != MID_OK)
		return rc;
	if (opts) {
		o = *opts;
	} else {
		memset(&o, 0, sizeof o);
		o.facility_code = -1;
	}
	if (o.card_number != 0)
		return mid_error_set(err, MID_EINVAL, 0, "a batch allocates card numbers itself");
	if ((rc = is_choose(in, &o, &pick, err)) != MID_OK)
		return rc;
	/* the signing key is unsealed once for the whole batch */
	if (device_pks) {
		if ((rc = is_site_id(in, &site, err)) != MID_OK ||
		    (rc = mid_keys_load_current(in, &key, err)) != MID_OK)
			return rc;
	}
	if (!(vals = malloc(IS_BATCH_VALUES * sizeof *vals))) {
		rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		goto out;
	}
	if ((rc = mid_store_begin(in->store, err)) != MID_OK)
		goto out;
	if ((rc = is_hint_load(in, &pick, &hint, err)) != MID_OK)
		goto fail;
	now = mid_store_now(in->store);
	for (size_t i = 0; i < n; i++) {
		if ((rc = mid_store_person_get(in->store, person_ids[i], &person, err)) != MID_OK) {
			if (rc == MID_ENOTFOUND)
				mid_error_set(err, rc, 0, "no person %s (entry %zu)", person_ids[i], i + 1);
			goto fail;
		}
		if ((rc = is_fill(in, &person, &o, &pick, now, &c, err)) != MID_OK)
			goto fail;
		if (vi == nvals) {
			/* the next free values, many per scan (the write transaction
			 * keeps anyone else from taking them meanwhile) */
			int64_t from = (int64_t)pick.range->first, to = (int64_t)pick.range->last;
			if (to > (int64_t)pick.max_cn)
				to = (int64_t)pick.max_cn;
			if (from == 0)
				from = 1;
			if (hint > from)
				from = hint;
			if (from > to) {
				rc = mid_error_set(err, MID_ELIMIT, 0,
				                   "no free card number left in %s facility %lld range "
				                   "%llu..%llu", pick.format, (long long)pick.fc,
				                   (unsigned long long)pick.range->first,
				                   (unsigned long long)pick.range->last);
				goto fail;
			}
			if ((rc = mid_store_value_free_list(in->store, pick.format, pick.fc, from, to,
			                                    IS_BATCH_VALUES, vals, &nvals, err)) != MID_OK)
				goto fail;
			vi = 0;
		}
		hint = vals[vi] + 1;
		if ((rc = is_batch_one(in, &site, key, device_pks ? device_pks[i] : NULL, now,
		                       vals[vi++], &c, err)) != MID_OK ||
		    (rc = is_outbox(in, c.person_id, err)) != MID_OK)
			goto fail;
		if (ids_out)
			memcpy(ids_out[i], c.id, MID_ID_LEN);
		mid_credential_clear(&c);
		mid_person_clear(&person);
	}
	if ((rc = is_hint_save(in, &pick, hint, err)) != MID_OK ||
	    (rc = mid_instance_audit(in, "credential.batch_issue", "-",
	                             json_pack("{s:I,s:s}", "count", (json_int_t)n, "format", pick.format),
	                             err)) != MID_OK)
		goto fail;
	rc = mid_store_commit(in->store, err);
	if (rc == MID_OK)
		goto out;
fail:
	mid_store_rollback(in->store, NULL);
out:
	free(vals);
	mid_credential_clear(&c);
	mid_person_clear(&person);
	mid_signing_key_free(key);
	return rc;
}

/* ---- status changes ------------------------------------------------------------------------ */

enum { IS_REVOKE, IS_SUSPEND, IS_RESUME };

static int is_set_status(mid_instance_t *in, const char *id, int what, const char *reason,
                         mid_error_t *err)
{
	static const char *const actions[] = { "credential.revoke", "credential.suspend",
		                               "credential.resume" };
	mid_credential_t c;
	unsigned char wire[16];
	char key[MID_ID_LEN + 24];
	int rc, to, old;

	memset(&c, 0, sizeof c);
	if ((rc = is_need(in, err)) != MID_OK)
		return rc;
	if ((rc = mid_store_begin(in->store, err)) != MID_OK)
		return rc;
	if ((rc = mid_store_credential_get(in->store, id, &c, err)) != MID_OK) {
		if (rc == MID_ENOTFOUND)
			mid_error_set(err, rc, 0, "no credential %s", id);
		goto fail;
	}
	old = c.status;
	switch (what) {
	case IS_REVOKE:
		if (old == MID_CRED_REVOKED) {
			rc = mid_error_set(err, MID_ECONFLICT, 0, "credential %s is already revoked", id);
			goto fail;
		}
		to = MID_CRED_REVOKED;
		break;
	case IS_SUSPEND:
		if (old != MID_CRED_PENDING && old != MID_CRED_ACTIVE) {
			rc = mid_error_set(err, MID_ECONFLICT, 0, "credential %s is %s: only pending or "
			                   "active credentials can be suspended", id,
			                   mid_cred_status_name(old));
			goto fail;
		}
		to = MID_CRED_SUSPENDED;
		break;
	default:
		if (old != MID_CRED_SUSPENDED) {
			rc = mid_error_set(err, MID_ECONFLICT, 0, "credential %s is %s, not suspended", id,
			                   mid_cred_status_name(old));
			goto fail;
		}
		if (c.person_id[0]) {
			mid_person_t p;
			memset(&p, 0, sizeof p);
			if ((rc = mid_store_person_get(in->store, c.person_id, &p, err)) != MID_OK)
				goto fail;
			rc = p.status;
			mid_person_clear(&p);
			if (rc != MID_PERSON_ACTIVE) {
				rc = mid_error_set(err, MID_ECONFLICT, 0,
				                   "the person of credential %s is %s: resume them first", id,
				                   mid_person_status_name(rc));
				goto fail;
			}
		}
		to = c.device_id[0] ? MID_CRED_ACTIVE : MID_CRED_PENDING;
		break;
	}
	if ((rc = mid_store_credential_set_status(in->store, id, to, err)) != MID_OK)
		goto fail;
	/* what readers must learn: only a credential a phone holds matters */
	if (c.device_id[0] && old != MID_CRED_REVOKED) {
		int was_listed = old == MID_CRED_SUSPENDED;
		int listed = to == MID_CRED_SUSPENDED || to == MID_CRED_REVOKED;
		if ((rc = is_wire_of(in, id, wire, err)) != MID_OK)
			goto fail;
		if (listed && !was_listed)
			rc = mid_issuer_bundle_touch(in, wire, &c.valid_until, 1, NULL, 0, err);
		else if (!listed && was_listed)
			rc = mid_issuer_bundle_touch(in, NULL, NULL, 0, wire, 1, err);
		if (rc != MID_OK)
			goto fail;
	}
	snprintf(key, sizeof key, "cred.%s.suspended", id);
	if ((rc = mid_store_meta_set(in->store, key,
	                             to == MID_CRED_SUSPENDED ? (reason && reason[0] ? reason : "admin")
	                                                      : "",
	                             err)) != MID_OK)
		goto fail;
	if ((rc = mid_instance_audit(in, actions[what], id,
	                             json_pack("{s:s,s:s,s:s?}", "from", mid_cred_status_name(old), "to",
	                                       mid_cred_status_name(to), "reason", reason),
	                             err)) != MID_OK ||
	    (rc = is_outbox(in, c.person_id, err)) != MID_OK)
		goto fail;
	rc = mid_store_commit(in->store, err);
	mid_credential_clear(&c);
	return rc;
fail:
	mid_store_rollback(in->store, NULL);
	mid_credential_clear(&c);
	return rc;
}

int mid_issuer_revoke(mid_instance_t *in, const char *credential_id, const char *reason,
                      mid_error_t *err)
{
	return is_set_status(in, credential_id, IS_REVOKE, reason, err);
}

int mid_issuer_suspend(mid_instance_t *in, const char *credential_id, const char *reason,
                       mid_error_t *err)
{
	return is_set_status(in, credential_id, IS_SUSPEND, reason, err);
}

int mid_issuer_resume(mid_instance_t *in, const char *credential_id, mid_error_t *err)
{
	return is_set_status(in, credential_id, IS_RESUME, NULL, err);
}

/* ---- phone fetch and wire lookups ------------------------------------------------------------ */

int mid_issuer_credentials_for_device(mid_instance_t *in, const char *device_id,
                                      mid_signed_cred_t **out, size_t *n, mid_error_t *err)
{
	mid_credential_t *list = NULL;
	mid_signed_cred_t *res = NULL;
	size_t cnt = 0, k = 0;
	int64_t now;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = is_need(in, err)) != MID_OK)
		return rc;
	if ((rc = mid_store_credential_list_device(in->store, device_id, &list, &cnt, err)) != MID_OK)
		return rc;
	now = mid_store_now(in->store);
	if (cnt && !(res = calloc(cnt, sizeof *res))) {
		rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < cnt; i++) {
		mid_credential_t *c = &list[i];
		if (c->status != MID_CRED_ACTIVE || !c->blob || c->blob_len != MID_CREDENTIAL_SIZE)
			continue;
		if (c->valid_until && c->valid_until < now) {
			if ((rc = mid_store_credential_set_status(in->store, c->id, MID_CRED_EXPIRED,
			                                          err)) != MID_OK)
				goto out;
			continue;
		}
		is_signed_out(c, &res[k++]);
	}
	*out = res;
	*n = k;
	res = NULL;
	rc = MID_OK;
out:
	free(res);
	mid_credential_list_free(list, cnt);
	return rc;
}

int mid_issuer_find_wire(mid_instance_t *in, const unsigned char wire_id[16],
                         mid_credential_t *out, mid_error_t *err)
{
	char hex[33], key[48], *id = NULL, uuid[MID_ID_LEN];
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = is_need(in, err)) != MID_OK)
		return rc;
	sodium_bin2hex(hex, sizeof hex, wire_id, 16);
	snprintf(key, sizeof key, "wire.%s", hex);
	if ((rc = is_meta_get(in->store, key, &id, err)) != MID_OK)
		return rc;
	if (id) {
		snprintf(uuid, sizeof uuid, "%s", id);
		free(id);
	} else {
		is_uuid_text(wire_id, uuid);
	}
	rc = mid_store_credential_get(in->store, uuid, out, err);
	if (rc == MID_ENOTFOUND)
		mid_error_set(err, rc, 0, "unknown credential id %s", hex);
	return rc;
}

int mid_issuer_wire_revoked(mid_instance_t *in, const unsigned char wire_id[16], mid_error_t *err)
{
	mid_credential_t c;
	json_t *rev = NULL, *v;
	unsigned char cur[16];
	char hex[33];
	int64_t now;
	int rc;

	if ((rc = is_need(in, err)) != MID_OK)
		return rc;
	now = mid_store_now(in->store);
	sodium_bin2hex(hex, sizeof hex, wire_id, 16);
	if ((rc = is_meta_json(in->store, "issuer.revset", &rev, err)) != MID_OK)
		return rc;
	v = rev ? json_object_get(rev, hex) : NULL;
	if (v && (json_integer_value(v) == 0 || json_integer_value(v) >= now)) {
		json_decref(rev);
		return 1;
	}
	json_decref(rev);
	rc = mid_issuer_find_wire(in, wire_id, &c, err);
	if (rc == MID_ENOTFOUND) {
		is_clear_err(err);
		return 1; /* a credential we never issued */
	}
	if (rc != MID_OK)
		return rc;
	if (c.status != MID_CRED_ACTIVE) {
		mid_credential_clear(&c);
		return 1;
	}
	rc = is_wire_of(in, c.id, cur, err);
	mid_credential_clear(&c);
	if (rc != MID_OK)
		return rc;
	return sodium_memcmp(cur, wire_id, 16) != 0; /* an older phone's copy */
}

/* ---- reader bundle --------------------------------------------------------------------------- */

/* Append the hex ids of a JSON object's keys (or array's strings) whose
 * value passes the expiry check into ids. */
static int is_ids_add(unsigned char **ids, size_t *n, size_t *cap, const char *hex,
                      mid_error_t *err)
{
	size_t len = 0;
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		unsigned char *p = realloc(*ids, nc * 16);
		if (!p)
			return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		*ids = p;
		*cap = nc;
	}
	if (sodium_hex2bin(*ids + *n * 16, 16, hex, strlen(hex), NULL, &len, NULL) != 0 || len != 16)
		return MID_OK; /* skip junk */
	(*n)++;
	return MID_OK;
}

int mid_issuer_bundle(mid_instance_t *in, uint64_t since_version, unsigned char **out,
                      size_t *len, uint64_t *version, int *is_delta, mid_error_t *err)
{
	mid_signing_key_t *key = NULL;
	mid_published_key_t *keys = NULL;
	size_t nkeys = 0, nrev = 0, caprev = 0, nrem = 0, caprem = 0, outlen = 0;
	unsigned char *rev = NULL, *rem = NULL, *buf = NULL;
	char (*rids)[MID_ID_LEN] = NULL;
	size_t nrids = 0;
	json_t *set = NULL, *state = NULL;
	mid_bundle_t b;
	is_site_t site;
	uint64_t v;
	int64_t now;
	int rc, delta = 0;

	*out = NULL;
	*len = 0;
	if ((rc = is_need(in, err)) != MID_OK || (rc = is_site_id(in, &site, err)) != MID_OK)
		return rc;
	if ((rc = is_version(in->store, &v, err)) != MID_OK)
		return rc;
	if (v == 0)
		return mid_error_set(err, MID_ENOTFOUND, 0, "the instance has no issuer keys yet");
	if (since_version >= v)
		return mid_error_set(err, MID_ECONFLICT, 0, "bundle version %llu is up to date",
		                     (unsigned long long)v);
	now = mid_store_now(in->store);
	memset(&b, 0, sizeof b);

	/* keys: current and next first, then retired ones still in use */
	if ((rc = mid_keys_list(in, &keys, &nkeys, err)) != MID_OK)
		goto out;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < nkeys && b.nkeys < MID_BUNDLE_MAX_KEYS; i++) {
			mid_published_key_t *k = &keys[i];
			mid_bundle_key_t *bk;
			size_t kl = 0;
			if (!k->published || (pass == 0) != (k->state != MID_KEY_RETIRED))
				continue;
			bk = &b.keys[b.nkeys++];
			sodium_hex2bin(bk->key_id, sizeof bk->key_id, k->key_id, strlen(k->key_id), NULL,
			               &kl, NULL);
			memcpy(bk->pk, k->public_key, 32);
			bk->not_before = k->not_before / 1000;
			bk->not_after = k->not_after ? k->not_after / 1000 : 0;
			bk->status = (uint8_t)k->state; /* same numbers in store.h and credfmt.h */
		}
	}

	/* delta: replay the change log since the base version */
	if (since_version > 0) {
		state = json_object();
		delta = 1;
		for (uint64_t x = since_version + 1; x <= v && delta; x++) {
			char lk[64];
			json_t *log = NULL, *a, *d, *val;
			const char *hex;
			size_t i;
			snprintf(lk, sizeof lk, "bundle.log.%llu", (unsigned long long)x);
			if ((rc = is_meta_json(in->store, lk, &log, err)) != MID_OK)
				goto out;
			if (!log) {
				delta = 0; /* history gone: a full bundle */
				break;
			}
			a = json_object_get(log, "add");
			d = json_object_get(log, "del");
			json_object_foreach(a, hex, val)
				json_object_set_new(state, hex, json_true());
			json_array_foreach(d, i, val)
				json_object_set_new(state, json_string_value(val), json_false());
			json_decref(log);
		}
		if (delta) {
			const char *hex;
			json_t *val;
			json_object_foreach(state, hex, val) {
				if (json_is_true(val))
					rc = is_ids_add(&rev, &nrev, &caprev, hex, err);
				else
					rc = is_ids_add(&rem, &nrem, &caprem, hex, err);
				if (rc != MID_OK)
					goto out;
			}
		}
	}
	if (!delta) {
		const char *hex;
		json_t *val;
		if ((rc = is_meta_json(in->store, "issuer.revset", &set, err)) != MID_OK)
			goto out;
		json_object_foreach(set, hex, val) {
			int64_t until = json_integer_value(val);
			if (until != 0 && until < now)
				continue;
			if ((rc = is_ids_add(&rev, &nrev, &caprev, hex, err)) != MID_OK)
				goto out;
		}
		/* revocations made directly in the store (e.g. by a sync) too */
		if ((rc = mid_store_credential_revoked_ids(in->store, now, &rids, &nrids, err)) != MID_OK)
			goto out;
		for (size_t i = 0; i < nrids; i++) {
			char h[33];
			unsigned char w[16];
			if (is_uuid_bin(rids[i], w) != 0)
				continue;
			sodium_bin2hex(h, sizeof h, w, 16);
			if ((rc = is_ids_add(&rev, &nrev, &caprev, h, err)) != MID_OK)
				goto out;
		}
	}
	nrev = rev ? mid_ids_sort_unique(rev, nrev) : 0;
	nrem = rem ? mid_ids_sort_unique(rem, nrem) : 0;
	if (nrev > MID_BUNDLE_MAX_REVOKED || nrem > MID_BUNDLE_MAX_REVOKED) {
		rc = mid_error_set(err, MID_ELIMIT, 0,
		                   "the revocation list has %zu entries, more than a bundle carries "
		                   "(%d)", nrev > nrem ? nrev : nrem, MID_BUNDLE_MAX_REVOKED);
		goto out;
	}
	if ((rc = mid_keys_load_current(in, &key, err)) != MID_OK)
		goto out;
	b.version = MID_BUNDLE_VERSION;
	b.output_format.kind = 0; /* each credential's own format */
	b.output_format.bits = 0;
	memcpy(b.site_id, site.id, 16);
	b.generated_at = now / 1000;
	b.bundle_version = v;
	b.base_version = delta ? since_version : 0;
	b.nrevoked = (uint32_t)nrev;
	b.revoked = rev;
	b.nremoved = (uint32_t)nrem;
	b.removed = rem;
	{
		size_t cap = mid_bundle_size(b.nkeys, nrev, nrem);
		int crc;
		if (!(buf = malloc(cap))) {
			rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
			goto out;
		}
		if ((crc = mid_bundle_sign(&b, key->secret, buf, cap, &outlen)) != 0) {
			rc = mid_error_set(err, MID_EINTERNAL, 0, "signing the bundle failed: %s",
			                   mid_cerr_str(crc));
			goto out;
		}
	}
	*out = buf;
	*len = outlen;
	buf = NULL;
	if (version)
		*version = v;
	if (is_delta)
		*is_delta = delta;
	rc = MID_OK;
out:
	free(buf);
	free(rev);
	free(rem);
	free(rids);
	free(keys);
	json_decref(set);
	json_decref(state);
	mid_signing_key_free(key);
	return rc;
}
