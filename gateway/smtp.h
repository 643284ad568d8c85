/* gateway/smtp.h -- sending one plain-text mail through cfg->smtp with
 * libcurl (smtp:// or smtps://, STARTTLS none|try|required, AUTH with the
 * username and the password from the secret store).
 *
 * Conventions: MID_OK or a negative MID_E* code, `err` filled (may be
 * NULL; never contains the password); library code never prints.
 */
#pragma once
#include <stddef.h>
#include "gateway/instance.h"

typedef struct mid_mail {
	const char *to;          /* one address */
	const char *to_name;     /* display name, or NULL */
	const char *subject;     /* UTF-8 (encoded as RFC 2047 when not ASCII) */
	const char *body;        /* UTF-8 text; LF or CRLF line ends */
} mid_mail_t;

/* Build the whole message (headers Date, Message-ID, From, To, Subject,
 * MIME-Version, Content-Type text/plain; charset=utf-8,
 * Content-Transfer-Encoding 8bit; CRLF line ends) into a new string
 * (*out, free()). `from` is the sender address. */
int mid_mail_build(const char *from, const mid_mail_t *m, char **out,
                   mid_error_t *err);

/* Send `m` with the instance's smtp settings. Needs in->secrets when
 * cfg->smtp.password_secret is set. MID_EINVAL when smtp is not
 * configured; MID_EIO (retryable) for a connection failure; MID_EAUTH
 * when the server refused the login. */
int mid_smtp_send(mid_instance_t *in, const mid_mail_t *m, mid_error_t *err);
