/* gateway/invite.c -- enrollment invitations. See invite.h. */
#include <config.h>
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>
#include <jansson.h>

#include "gateway/invite.h"
#include "gateway/secrets.h"
#include "gateway/smtp.h"

/* Crockford's base32: no I, L, O, U; typed O/I/L are read as 0/1/1. */
static const char iv_alpha[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
#define IV_KEY_SECRET "invite.hash-key"

static int iv_need(mid_instance_t *in, mid_error_t *err)
{
	if (!in || !in->store || !in->cfg)
		return mid_error_set(err, MID_EINVAL, 0, "the store is not open");
	if (!in->secrets)
		return mid_error_set(err, MID_EINVAL, 0, "the secret store is not open (invitation "
		                     "codes are hashed with a sealed key)");
	if (sodium_init() < 0)
		return mid_error_set(err, MID_EINTERNAL, 0, "libsodium failed to initialise");
	return MID_OK;
}

/* ---- codes ------------------------------------------------------------------ */

int mid_invite_normalize(const char *code, char out[MID_INVITE_CODE_CHARS + 1], mid_error_t *err)
{
	size_t n = 0;
	if (!code)
		return mid_error_set(err, MID_EINVAL, 0, "no code");
	for (const char *p = code; *p; p++) {
		int ch = toupper((unsigned char)*p);
		if (ch == '-' || ch == ' ' || ch == '\t')
			continue;
		if (ch == 'O')
			ch = '0';
		else if (ch == 'I' || ch == 'L')
			ch = '1';
		if (!strchr(iv_alpha, ch) || n >= MID_INVITE_CODE_CHARS)
			return mid_error_set(err, MID_EINVAL, 0, "that is not an invitation code");
		out[n++] = (char)ch;
	}
	if (n != MID_INVITE_CODE_CHARS)
		return mid_error_set(err, MID_EINVAL, 0, "that is not an invitation code");
	out[n] = '\0';
	return MID_OK;
}

/* The per-instance hashing key (created on first use). */
static int iv_key(mid_instance_t *in, unsigned char key[32], mid_error_t *err)
{
	char *v = NULL;
	size_t len = 0;
	int rc = mid_secret_get(in->secrets, IV_KEY_SECRET, &v, &len, err);
	if (rc == MID_ENOTFOUND) {
		randombytes_buf(key, 32);
		if (err)
			memset(err, 0, sizeof *err);
		return mid_secret_set(in->secrets, IV_KEY_SECRET, key, 32, err);
	}
	if (rc != MID_OK)
		return rc;
	if (len != 32) {
		mid_secret_free(v, len);
		return mid_error_set(err, MID_EINTERNAL, 0, "secret %s is not 32 bytes", IV_KEY_SECRET);
	}
	memcpy(key, v, 32);
	mid_secret_free(v, len);
	return MID_OK;
}

int mid_invite_hash(mid_instance_t *in, const char *normalized, unsigned char hash[MID_HASH_LEN],
                    mid_error_t *err)
{
	unsigned char key[32];
	int rc;
	if ((rc = iv_key(in, key, err)) != MID_OK)
		return rc;
	crypto_generichash(hash, MID_HASH_LEN, (const unsigned char *)normalized, strlen(normalized),
	                   key, sizeof key);
	sodium_memzero(key, sizeof key);
	return MID_OK;
}

/* A new code: normalised letters into raw, "XXXXX-XXXXX" into shown. */
static void iv_new_code(char raw[MID_INVITE_CODE_CHARS + 1], char shown[MID_INVITE_CODE_BUF])
{
	for (int i = 0; i < MID_INVITE_CODE_CHARS; i++)
		raw[i] = iv_alpha[randombytes_uniform(32)];
	raw[MID_INVITE_CODE_CHARS] = '\0';
	snprintf(shown, MID_INVITE_CODE_BUF, "%.5s-%.5s", raw, raw + 5);
}

/* ---- per-address rate limit ------------------------------------------------------ */

#define IV_SLOTS 1024
typedef struct iv_slot {
	char addr[64];
	int64_t start;
	int fails;
} iv_slot_t;
static iv_slot_t iv_slots[IV_SLOTS];
static pthread_mutex_t iv_lock = PTHREAD_MUTEX_INITIALIZER;

static iv_slot_t *iv_find(const char *addr, int64_t now, int create)
{
	unsigned char h[8];
	uint64_t x;
	iv_slot_t *victim = NULL;
	crypto_generichash(h, sizeof h, (const unsigned char *)addr, strlen(addr), NULL, 0);
	memcpy(&x, h, sizeof x);
	for (unsigned i = 0; i < 16; i++) {
		iv_slot_t *s = &iv_slots[(x + i) % IV_SLOTS];
		if (s->addr[0] && strcmp(s->addr, addr) == 0)
			return s;
		if (!s->addr[0]) {
			if (!victim || victim->addr[0])
				victim = s; /* an empty slot is best */
		} else if (!victim || (victim->addr[0] && s->start < victim->start)) {
			victim = s; /* else the oldest window */
		}
	}
	if (!create)
		return NULL;
	memset(victim, 0, sizeof *victim);
	snprintf(victim->addr, sizeof victim->addr, "%s", addr);
	victim->start = now;
	return victim;
}

int mid_invite_addr_allowed(const char *client_addr, int64_t now_ms)
{
	iv_slot_t *s;
	int ok = 1;
	pthread_mutex_lock(&iv_lock);
	s = iv_find(client_addr && client_addr[0] ? client_addr : "-", now_ms, 0);
	if (s && now_ms - s->start < MID_INVITE_ADDR_WINDOW_MS && s->fails >= MID_INVITE_ADDR_FAILURES)
		ok = 0;
	pthread_mutex_unlock(&iv_lock);
	return ok;
}

void mid_invite_addr_failed(const char *client_addr, int64_t now_ms)
{
	iv_slot_t *s;
	pthread_mutex_lock(&iv_lock);
	s = iv_find(client_addr && client_addr[0] ? client_addr : "-", now_ms, 1);
	if (now_ms - s->start >= MID_INVITE_ADDR_WINDOW_MS) {
		s->start = now_ms;
		s->fails = 0;
	}
	s->fails++;
	pthread_mutex_unlock(&iv_lock);
}

void mid_invite_addr_reset(void)
{
	pthread_mutex_lock(&iv_lock);
	memset(iv_slots, 0, sizeof iv_slots);
	pthread_mutex_unlock(&iv_lock);
}

/* ---- the mail ------------------------------------------------------------------------ */

static const char iv_template[] =
	"Subject: Your Mobile ID invitation\n"
	"Hello {{given_name}},\n"
	"\n"
	"you are invited to put your Mobile ID for {{site_name}} on your phone.\n"
	"\n"
	"Install the Mobile ID app: {{app_link}}\n"
	"Open it and enter this code:\n"
	"\n"
	"    {{code}}\n"
	"\n"
	"The code works once and expires on {{expires}}.\n"
	"If you did not expect this mail, ignore it.\n";

static char *iv_read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n < 65536 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1))) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
		}
	}
	fclose(f);
	return buf;
}

/* Replace {{name}} placeholders; a line naming {{app_link}} is dropped
 * when there is no app link. */
static char *iv_render(const char *tpl, const char *const *vars, size_t nvars, int drop_app)
{
	size_t cap = strlen(tpl) + 1024, len = 0;
	char *out = malloc(cap);
	const char *p = tpl;
	if (!out)
		return NULL;
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t ll = eol ? (size_t)(eol - p + 1) : strlen(p);
		if (drop_app && memmem(p, ll, "{{app_link}}", 12)) {
			p += ll;
			continue;
		}
		for (size_t i = 0; i < ll;) {
			const char *val = NULL;
			size_t klen = 0;
			if (p[i] == '{' && i + 1 < ll && p[i + 1] == '{') {
				for (size_t v = 0; v < nvars; v++) {
					size_t kl = strlen(vars[2 * v]);
					if (i + 4 + kl <= ll && memcmp(p + i + 2, vars[2 * v], kl) == 0 &&
					    memcmp(p + i + 2 + kl, "}}", 2) == 0) {
						val = vars[2 * v + 1] ? vars[2 * v + 1] : "";
						klen = kl + 4;
						break;
					}
				}
			}
			const char *src = val ? val : p + i;
			size_t sl = val ? strlen(val) : 1;
			if (len + sl + 1 > cap) {
				char *q;
				cap = (len + sl + 1) * 2;
				if (!(q = realloc(out, cap))) {
					free(out);
					return NULL;
				}
				out = q;
			}
			memcpy(out + len, src, sl);
			len += sl;
			i += val ? klen : 1;
		}
		p += ll;
	}
	out[len] = '\0';
	return out;
}

static int iv_send(mid_instance_t *in, const mid_person_t *p, const char *code, int64_t expires,
                   mid_error_t *err)
{
	const mid_config_t *cfg = in->cfg;
	char *tpl = NULL, *text = NULL, exp[40], name[260];
	const char *body, *subject = "Your Mobile ID invitation";
	time_t t = (time_t)(expires / 1000);
	struct tm tm;
	mid_mail_t m;
	int rc;

	gmtime_r(&t, &tm);
	strftime(exp, sizeof exp, "%Y-%m-%d %H:%M UTC", &tm);
	snprintf(name, sizeof name, "%s%s%s", p->given_name, p->given_name[0] && p->family_name[0] ? " " : "",
	         p->family_name);
	const char *vars[] = { "code", code, "given_name", p->given_name[0] ? p->given_name : name,
		               "family_name", p->family_name, "name", name, "expires", exp,
		               "app_link", cfg->issuance.app_link,
		               "site_name", cfg->site_name ? cfg->site_name : "your site" };
	if (cfg->smtp.template_path) {
		if (!(tpl = iv_read_file(cfg->smtp.template_path)))
			return mid_error_set(err, MID_EIO, 0, "cannot read the mail template %s",
			                     cfg->smtp.template_path);
	}
	if (!(text = iv_render(tpl ? tpl : iv_template, vars, sizeof vars / sizeof vars[0] / 2,
	                       cfg->issuance.app_link == NULL))) {
		rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		goto out;
	}
	body = text;
	if (strncmp(text, "Subject:", 8) == 0) {
		char *nl = strchr(text, '\n');
		subject = text + 8;
		while (*subject == ' ')
			subject++;
		if (nl) {
			*nl = '\0';
			body = nl + 1;
		} else {
			body = "";
		}
	}
	memset(&m, 0, sizeof m);
	m.to = p->email;
	m.to_name = name;
	m.subject = subject;
	m.body = body;
	rc = mid_smtp_send(in, &m, err);
out:
	if (text)
		sodium_memzero(text, strlen(text));
	free(text);
	free(tpl);
	return rc;
}

/* ---- create / resend ------------------------------------------------------------------ */

int mid_invite_create(mid_instance_t *in, const char *person_id, const char *credential_id,
                      const char *delivery, char code_out[MID_INVITE_CODE_BUF],
                      mid_invitation_t *inv_out, mid_error_t *err)
{
	mid_person_t p;
	mid_credential_t c;
	mid_invitation_t inv;
	char raw[MID_INVITE_CODE_CHARS + 1];
	int rc, email;

	memset(&p, 0, sizeof p);
	memset(&c, 0, sizeof c);
	memset(&inv, 0, sizeof inv);
	code_out[0] = '\0';
	if ((rc = iv_need(in, err)) != MID_OK)
		return rc;
	if (!delivery || (strcmp(delivery, "email") != 0 && strcmp(delivery, "shown") != 0))
		return mid_error_set(err, MID_EINVAL, 0, "delivery must be \"email\" or \"shown\"");
	email = strcmp(delivery, "email") == 0;
	if ((rc = mid_store_begin(in->store, err)) != MID_OK)
		return rc;
	if ((rc = mid_store_person_get(in->store, person_id, &p, err)) != MID_OK) {
		if (rc == MID_ENOTFOUND)
			mid_error_set(err, rc, 0, "no person %s", person_id);
		goto fail;
	}
	if (p.status != MID_PERSON_ACTIVE) {
		rc = mid_error_set(err, MID_ECONFLICT, 0, "person %s is %s", p.id,
		                   mid_person_status_name(p.status));
		goto fail;
	}
	if (email && !p.email[0]) {
		rc = mid_error_set(err, MID_EINVAL, 0, "person %s has no email address", p.id);
		goto fail;
	}
	if (email && !in->cfg->smtp.enabled) {
		rc = mid_error_set(err, MID_EINVAL, 0, "smtp is not configured: add an \"smtp\" "
		                   "object to the config, or show the code instead");
		goto fail;
	}
	if (credential_id && credential_id[0]) {
		if ((rc = mid_store_credential_get(in->store, credential_id, &c, err)) != MID_OK) {
			if (rc == MID_ENOTFOUND)
				mid_error_set(err, rc, 0, "no credential %s", credential_id);
			goto fail;
		}
		if (strcmp(c.person_id, p.id) != 0) {
			rc = mid_error_set(err, MID_EINVAL, 0, "credential %s belongs to another person",
			                   c.id);
			goto fail;
		}
		if (c.status != MID_CRED_PENDING && c.status != MID_CRED_ACTIVE) {
			rc = mid_error_set(err, MID_ECONFLICT, 0, "credential %s is %s", c.id,
			                   mid_cred_status_name(c.status));
			goto fail;
		}
		snprintf(inv.credential_id, sizeof inv.credential_id, "%s", c.id);
	}
	iv_new_code(raw, code_out);
	if ((rc = mid_invite_hash(in, raw, inv.code_hash, err)) != MID_OK)
		goto fail;
	snprintf(inv.person_id, sizeof inv.person_id, "%s", p.id);
	snprintf(inv.delivery, sizeof inv.delivery, "%s", delivery);
	inv.expires = mid_store_now(in->store) +
	              (int64_t)(in->cfg->issuance.invitation_ttl_hours > 0
	                            ? in->cfg->issuance.invitation_ttl_hours : 72) * 3600000LL;
	if ((rc = mid_store_invitation_invalidate_person(in->store, p.id, err)) != MID_OK ||
	    (rc = mid_store_invitation_create(in->store, &inv, err)) != MID_OK ||
	    (rc = mid_instance_audit(in, "invitation.create", inv.id,
	                             json_pack("{s:s,s:s,s:s,s:I}", "person", p.id, "credential",
	                                       inv.credential_id, "delivery", delivery, "expires",
	                                       (json_int_t)inv.expires),
	                             err)) != MID_OK)
		goto fail;
	if ((rc = mid_store_commit(in->store, err)) != MID_OK)
		goto out;
	if (email && (rc = iv_send(in, &p, code_out, inv.expires, err)) != MID_OK) {
		/* a code nobody received must not stay valid */
		mid_store_invitation_invalidate_person(in->store, p.id, NULL);
		mid_instance_audit(in, "invitation.send_failed", inv.id, NULL, NULL);
		goto out;
	}
	if (inv_out)
		*inv_out = inv;
	rc = MID_OK;
	goto out;
fail:
	mid_store_rollback(in->store, NULL);
out:
	sodium_memzero(raw, sizeof raw);
	if (rc != MID_OK)
		sodium_memzero(code_out, MID_INVITE_CODE_BUF);
	mid_person_clear(&p);
	mid_credential_clear(&c);
	return rc;
}

int mid_invite_resend(mid_instance_t *in, const char *ref, const char *delivery,
                      char code_out[MID_INVITE_CODE_BUF], mid_invitation_t *inv_out,
                      mid_error_t *err)
{
	mid_invitation_t inv, *list = NULL;
	mid_credential_t c;
	size_t n = 0;
	int rc, found = 0;

	memset(&c, 0, sizeof c);
	if ((rc = iv_need(in, err)) != MID_OK)
		return rc;
	rc = mid_store_invitation_get(in->store, ref, &inv, err);
	if (rc == MID_OK) {
		found = 1;
	} else if (rc == MID_ENOTFOUND) {
		if ((rc = mid_store_credential_get(in->store, ref, &c, err)) != MID_OK) {
			if (rc == MID_ENOTFOUND)
				mid_error_set(err, rc, 0, "no invitation or credential %s", ref);
			return rc;
		}
		if ((rc = mid_store_invitation_list(in->store, c.person_id, &list, &n, err)) != MID_OK)
			goto out;
		for (size_t i = 0; i < n; i++) {
			if (strcmp(list[i].credential_id, c.id) != 0)
				continue;
			if (!found || list[i].created >= inv.created)
				inv = list[i];
			found = 1;
		}
		if (!found) {
			memset(&inv, 0, sizeof inv);
			snprintf(inv.person_id, sizeof inv.person_id, "%s", c.person_id);
			snprintf(inv.credential_id, sizeof inv.credential_id, "%s", c.id);
			snprintf(inv.delivery, sizeof inv.delivery, "%s",
			         in->cfg->smtp.enabled ? "email" : "shown");
		}
	} else {
		return rc;
	}
	rc = mid_invite_create(in, inv.person_id, inv.credential_id,
	                       delivery ? delivery : inv.delivery, code_out, inv_out, err);
out:
	free(list);
	mid_credential_clear(&c);
	return rc;
}

/* ---- redeem ---------------------------------------------------------------------------------- */

int mid_invite_redeem(mid_instance_t *in, const char *code, const char *client_addr,
                      const unsigned char device_pk[32], const char *platform,
                      mid_signed_cred_t *out, mid_error_t *err)
{
	char raw[MID_INVITE_CODE_CHARS + 1];
	unsigned char h[MID_HASH_LEN];
	mid_invitation_t inv;
	int64_t now;
	int rc, attempts = 0;

	if ((rc = iv_need(in, err)) != MID_OK)
		return rc;
	now = mid_store_now(in->store);
	if (!mid_invite_addr_allowed(client_addr, now))
		return mid_error_set(err, MID_ELIMIT, 1, "too many failed attempts from this address: "
		                     "try again later");
	if (mid_invite_normalize(code, raw, NULL) != MID_OK) {
		mid_invite_addr_failed(client_addr, now);
		return mid_error_set(err, MID_EAUTH, 0, "unknown or expired invitation code");
	}
	rc = mid_invite_hash(in, raw, h, err);
	sodium_memzero(raw, sizeof raw);
	if (rc != MID_OK)
		return rc;
	rc = mid_store_invitation_find_code(in->store, h, &inv, err);
	if (rc == MID_ENOTFOUND || (rc == MID_OK && sodium_memcmp(inv.code_hash, h, MID_HASH_LEN) != 0)) {
		mid_invite_addr_failed(client_addr, now);
		return mid_error_set(err, MID_EAUTH, 0, "unknown or expired invitation code");
	}
	if (rc != MID_OK)
		return rc;
	if (inv.attempts >= MID_INVITE_MAX_ATTEMPTS)
		return mid_error_set(err, MID_ELIMIT, 0, "this invitation is locked after %d failed "
		                     "attempts: ask for a new one", inv.attempts);
	if (inv.used != 0 || inv.expires <= now) {
		rc = mid_error_set(err, MID_EAUTH, 0, inv.used > 0 ? "this invitation code was already used"
		                   : inv.used < 0 ? "this invitation code was replaced by a newer one"
		                                  : "this invitation code has expired");
		goto failed;
	}
	if (!inv.credential_id[0]) {
		rc = mid_error_set(err, MID_ECONFLICT, 0, "this invitation has no Mobile ID to enroll yet");
		goto failed;
	}
	if ((rc = mid_store_begin(in->store, err)) != MID_OK)
		return rc;
	if ((rc = mid_store_invitation_use(in->store, inv.id, now, err)) != MID_OK ||
	    (rc = mid_issuer_bind_device(in, inv.credential_id, device_pk, platform, out, err)) != MID_OK ||
	    (rc = mid_instance_audit(in, "invitation.redeem", inv.id,
	                             json_pack("{s:s,s:s}", "credential", inv.credential_id, "address",
	                                       client_addr ? client_addr : "-"),
	                             err)) != MID_OK) {
		mid_store_rollback(in->store, NULL);
		if (rc == MID_ELIMIT)
			mid_error_set(err, MID_EAUTH, 0, "this invitation code has expired");
		goto failed;
	}
	return mid_store_commit(in->store, err);
failed:
	mid_invite_addr_failed(client_addr, now);
	mid_store_invitation_attempt(in->store, inv.id, &attempts, NULL);
	return rc;
}
