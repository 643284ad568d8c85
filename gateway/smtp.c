/* gateway/smtp.c -- one plain-text mail through libcurl SMTP. See smtp.h. */
#include <config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <sodium.h>

#include "gateway/smtp.h"
#include "gateway/secrets.h"

typedef struct sm_buf {
	char *p;
	size_t len, cap;
	int oom;
} sm_buf_t;

static void sm_put(sm_buf_t *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t nc = (b->cap ? b->cap : 256);
		char *q;
		while (nc < b->len + n + 1)
			nc *= 2;
		if (!(q = realloc(b->p, nc))) {
			b->oom = 1;
			return;
		}
		b->p = q;
		b->cap = nc;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sm_puts(sm_buf_t *b, const char *s)
{
	sm_put(b, s, strlen(s));
}

static int sm_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

/* A header value: ASCII as is, anything else as one RFC 2047 word per
 * chunk (base64, UTF-8). */
static void sm_word(sm_buf_t *b, const char *s)
{
	size_t n = strlen(s);
	if (sm_ascii(s)) {
		sm_put(b, s, n);
		return;
	}
	for (size_t off = 0; off < n;) {
		/* 45 bytes of UTF-8 per word, never splitting a character */
		size_t chunk = n - off > 45 ? 45 : n - off;
		char enc[80];
		while (off + chunk < n && chunk > 0 && ((unsigned char)s[off + chunk] & 0xC0) == 0x80)
			chunk--;
		sodium_bin2base64(enc, sizeof enc, (const unsigned char *)s + off, chunk,
		                  sodium_base64_VARIANT_ORIGINAL);
		if (off)
			sm_puts(b, "\r\n ");
		sm_puts(b, "=?UTF-8?B?");
		sm_puts(b, enc);
		sm_puts(b, "?=");
		off += chunk;
	}
}

static int sm_bad_header(const char *s)
{
	return s && strpbrk(s, "\r\n") != NULL;
}

int mid_mail_build(const char *from, const mid_mail_t *m, char **out, mid_error_t *err)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const mons[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
		                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	sm_buf_t b = { 0 };
	unsigned char rnd[12];
	char line[160], hex[25];
	const char *dom;
	struct tm tm;
	time_t now = time(NULL);

	*out = NULL;
	if (!from || !m || !m->to || !m->subject || !m->body)
		return mid_error_set(err, MID_EINVAL, 0, "a mail needs a sender, a recipient, a "
		                     "subject and a body");
	if (sm_bad_header(from) || sm_bad_header(m->to) || sm_bad_header(m->to_name) ||
	    sm_bad_header(m->subject) || !strchr(m->to, '@') || strpbrk(m->to, "<> \t,;"))
		return mid_error_set(err, MID_EINVAL, 0, "a mail header holds a line break or the "
		                     "recipient is not one address");
	gmtime_r(&now, &tm);
	snprintf(line, sizeof line, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n",
	         days[tm.tm_wday], tm.tm_mday, mons[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	         tm.tm_min, tm.tm_sec);
	sm_puts(&b, line);
	randombytes_buf(rnd, sizeof rnd);
	sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
	dom = strrchr(from, '@');
	sm_puts(&b, "Message-ID: <");
	sm_puts(&b, hex);
	sm_puts(&b, dom ? dom : "@mobileid.invalid");
	sm_puts(&b, ">\r\nFrom: <");
	sm_puts(&b, from);
	sm_puts(&b, ">\r\nTo: ");
	if (m->to_name && m->to_name[0]) {
		if (sm_ascii(m->to_name)) {
			sm_puts(&b, "\"");
			for (const char *p = m->to_name; *p; p++) {
				if (*p == '"' || *p == '\\')
					sm_put(&b, "\\", 1);
				sm_put(&b, p, 1);
			}
			sm_puts(&b, "\"");
		} else {
			sm_word(&b, m->to_name);
		}
		sm_puts(&b, " ");
	}
	sm_puts(&b, "<");
	sm_puts(&b, m->to);
	sm_puts(&b, ">\r\nSubject: ");
	sm_word(&b, m->subject);
	sm_puts(&b, "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
	            "Content-Transfer-Encoding: 8bit\r\n\r\n");
	/* body with CRLF line ends; curl does the dot-stuffing */
	for (const char *p = m->body; *p; p++) {
		if (*p == '\r')
			continue;
		if (*p == '\n')
			sm_put(&b, "\r\n", 2);
		else
			sm_put(&b, p, 1);
	}
	if (b.len < 2 || memcmp(b.p + b.len - 2, "\r\n", 2) != 0)
		sm_put(&b, "\r\n", 2);
	if (b.oom) {
		free(b.p);
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	}
	*out = b.p;
	return MID_OK;
}

typedef struct sm_reader {
	const char *p;
	size_t left;
} sm_reader_t;

static size_t sm_read(char *dst, size_t size, size_t nmemb, void *ctx)
{
	sm_reader_t *r = ctx;
	size_t n = size * nmemb;
	if (n > r->left)
		n = r->left;
	memcpy(dst, r->p, n);
	r->p += n;
	r->left -= n;
	return n;
}

int mid_smtp_send(mid_instance_t *in, const mid_mail_t *m, mid_error_t *err)
{
	const mid_config_t *cfg;
	CURL *c = NULL;
	struct curl_slist *rcpt = NULL;
	char *msg = NULL, *pw = NULL, addr[300], ebuf[CURL_ERROR_SIZE];
	size_t pwlen = 0;
	sm_reader_t rd;
	CURLcode cc;
	int rc;

	if (!in || !in->cfg)
		return mid_error_set(err, MID_EINVAL, 0, "no instance");
	cfg = in->cfg;
	if (!cfg->smtp.enabled || !cfg->smtp.url || !cfg->smtp.from)
		return mid_error_set(err, MID_EINVAL, 0, "smtp is not configured (the config's "
		                     "\"smtp\" object with url and from)");
	if ((rc = mid_mail_build(cfg->smtp.from, m, &msg, err)) != MID_OK)
		return rc;
	if (cfg->smtp.password_secret) {
		if (!in->secrets) {
			rc = mid_error_set(err, MID_EINVAL, 0, "the secret store is not open (needed "
			                   "for smtp.password_secret)");
			goto out;
		}
		if ((rc = mid_secret_get(in->secrets, cfg->smtp.password_secret, &pw, &pwlen,
		                         err)) != MID_OK)
			goto out;
	}
	if (!(c = curl_easy_init())) {
		rc = mid_error_set(err, MID_ENOMEM, 0, "curl_easy_init failed");
		goto out;
	}
	snprintf(addr, sizeof addr, "<%s>", m->to);
	if (!(rcpt = curl_slist_append(NULL, addr))) {
		rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		goto out;
	}
	snprintf(addr, sizeof addr, "<%s>", cfg->smtp.from);
	rd.p = msg;
	rd.left = strlen(msg);
	ebuf[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, cfg->smtp.url);
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, addr);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, sm_read);
	curl_easy_setopt(c, CURLOPT_READDATA, &rd);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_USE_SSL,
	                 cfg->smtp.starttls == MID_STARTTLS_REQUIRED ? (long)CURLUSESSL_ALL
	                 : cfg->smtp.starttls == MID_STARTTLS_TRY    ? (long)CURLUSESSL_TRY
	                                                             : (long)CURLUSESSL_NONE);
	if (cfg->smtp.username)
		curl_easy_setopt(c, CURLOPT_USERNAME, cfg->smtp.username);
	if (pw)
		curl_easy_setopt(c, CURLOPT_PASSWORD, pw);
	cc = curl_easy_perform(c);
	switch (cc) {
	case CURLE_OK:
		rc = MID_OK;
		break;
	case CURLE_LOGIN_DENIED:
		rc = mid_error_set(err, MID_EAUTH, 0, "smtp %s refused the login of %s",
		                   cfg->smtp.url, cfg->smtp.username ? cfg->smtp.username : "(none)");
		break;
	case CURLE_USE_SSL_FAILED:
		rc = mid_error_set(err, MID_EIO, 0, "smtp %s does not offer STARTTLS (smtp.starttls "
		                   "is required)", cfg->smtp.url);
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		rc = mid_error_set(err, MID_EIO, 1, "smtp %s: %s", cfg->smtp.url,
		                   ebuf[0] ? ebuf : curl_easy_strerror(cc));
		break;
	default:
		rc = mid_error_set(err, MID_EIO, 0, "smtp %s: %s", cfg->smtp.url,
		                   ebuf[0] ? ebuf : curl_easy_strerror(cc));
		break;
	}
out:
	if (c)
		curl_easy_cleanup(c);
	curl_slist_free_all(rcpt);
	if (pw)
		mid_secret_free(pw, pwlen);
	free(msg);
	return rc;
}
