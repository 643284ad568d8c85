/* reader/mid-reader-sim.c -- command-line reader simulator built on the
 * reference reader library.
 *
 *   mid-reader-sim challenge --reader-id HEX --state FILE [--nonce-bytes 16|32]
 *   mid-reader-sim verify --bundle FILE --state FILE --response B64|- [options]
 *
 * The state file (text, mode 0600) keeps the reader id, the outstanding
 * challenge, whether it was answered, and the pinned issuer key.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "reader/reader.h"

#define SIM_MAX_INPUT 65536

static const char SIM_USAGE[] =
	"Usage:\n"
	"  mid-reader-sim challenge --reader-id HEX --state FILE [--nonce-bytes 16|32]\n"
	"  mid-reader-sim verify --bundle FILE --state FILE --response B64|- [--issuer-key HEX]\n"
	"                        [--json] [--now UNIX_SECONDS] [--ttl SECONDS]\n"
	"  mid-reader-sim --help\n"
	"\n"
	"A Mobile ID reader simulator.\n"
	"\n"
	"challenge  makes a fresh challenge for the reader (HEX: 32 hex digits, the\n"
	"           16-byte reader id), prints it in base64url on one line and saves\n"
	"           it in the state file (created with mode 0600; a pinned issuer key\n"
	"           already in it is kept when the reader id is the same).\n"
	"verify     loads the reader bundle FILE (binary, as exported by the gateway),\n"
	"           checks it against the pinned issuer key, then verifies the phone's\n"
	"           response (base64url; '-' reads it from standard input) against the\n"
	"           challenge in the state file. The challenge counts as answered once\n"
	"           the device signature checks out, so a second answer is a replay.\n"
	"\n"
	"Options:\n"
	"  --issuer-key HEX  the site issuer's Ed25519 public key (64 hex digits) to\n"
	"                    pin. Without it, the key pinned in the state file is used;\n"
	"                    if there is none, the first bundle's signer is trusted and\n"
	"                    pinned (trust on first use; a warning is printed).\n"
	"  --json            print the result as one JSON object.\n"
	"  --now SECONDS     the reader's clock (default: the system clock).\n"
	"  --ttl SECONDS     how long a challenge may be answered (default 30).\n"
	"  --nonce-bytes N   nonce length, 16 or 32 (default 32).\n"
	"\n"
	"Output of verify: on success, three labelled lines (plus the format):\n"
	"  Wiegand bits: 10111011000000110010000110\n"
	"  Facility code: 118\n"
	"  Card number: 1603\n"
	"and exit status 0. On a denial: 'DENIED: <reason>: <explanation>' and exit\n"
	"status 1. Usage errors, unreadable files and bundles that are refused exit 2.\n";

typedef struct sim_state {
	uint8_t reader_id[MID_ID_SIZE];
	int have_challenge;
	mid_challenge_t challenge;
	int answered;
	int have_anchor;
	uint8_t anchor[MID_PK_SIZE];
} sim_state_t;

static int sim_hex(const char *hex, uint8_t *out, size_t n)
{
	size_t got = 0;
	if (!hex || strlen(hex) != 2 * n)
		return -1;
	if (sodium_hex2bin(out, n, hex, strlen(hex), NULL, &got, NULL) != 0 || got != n)
		return -1;
	return 0;
}

static void sim_put_hex(FILE *f, const char *key, const uint8_t *b, size_t n)
{
	char hex[2 * MID_NONCE_MAX + 1];
	sodium_bin2hex(hex, sizeof hex, b, n);
	fprintf(f, "%s=%s\n", key, hex);
}

static int sim_state_save(const char *path, const sim_state_t *s)
{
	char tmp[4096];
	FILE *f = NULL;
	int fd = -1, rc = -1;
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		goto out;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w")))
		goto out;
	fd = -1;
	fprintf(f, "# mid-reader-sim state\n");
	sim_put_hex(f, "reader_id", s->reader_id, MID_ID_SIZE);
	if (s->have_challenge) {
		sim_put_hex(f, "nonce", s->challenge.nonce, s->challenge.nonce_len);
		fprintf(f, "timestamp=%" PRId64 "\n", s->challenge.timestamp);
		fprintf(f, "answered=%d\n", s->answered);
	}
	if (s->have_anchor)
		sim_put_hex(f, "issuer_key", s->anchor, MID_PK_SIZE);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		goto out;
	if (fclose(f) != 0) {
		f = NULL;
		goto out;
	}
	f = NULL;
	if (rename(tmp, path) != 0)
		goto out;
	rc = 0;
out:
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd);
	if (rc != 0) {
		fprintf(stderr, "mid-reader-sim: cannot write state file %s: %s\n", path, strerror(errno));
		unlink(tmp);
	}
	return rc;
}

/* Returns 0, 1 when the file does not exist, -1 on a bad file (message printed). */
static int sim_state_load(const char *path, sim_state_t *s)
{
	char line[512];
	FILE *f = fopen(path, "r");
	int have_id = 0, lineno = 0, have_ts = 0;
	memset(s, 0, sizeof *s);
	if (!f) {
		if (errno == ENOENT)
			return 1;
		fprintf(stderr, "mid-reader-sim: cannot read state file %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f)) {
		char *eq, *val;
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (!(eq = strchr(line, '=')))
			goto bad;
		*eq = '\0';
		val = eq + 1;
		if (!strcmp(line, "reader_id")) {
			if (sim_hex(val, s->reader_id, MID_ID_SIZE) != 0)
				goto bad;
			have_id = 1;
		} else if (!strcmp(line, "nonce")) {
			size_t n = strlen(val) / 2;
			if ((n != MID_NONCE_MIN && n != MID_NONCE_MAX) || sim_hex(val, s->challenge.nonce, n) != 0)
				goto bad;
			s->challenge.nonce_len = (uint8_t)n;
			s->have_challenge = 1;
		} else if (!strcmp(line, "timestamp")) {
			char *end;
			errno = 0;
			s->challenge.timestamp = strtoll(val, &end, 10);
			if (errno || *end || end == val)
				goto bad;
			have_ts = 1;
		} else if (!strcmp(line, "answered")) {
			s->answered = !strcmp(val, "1");
		} else if (!strcmp(line, "issuer_key")) {
			if (sim_hex(val, s->anchor, MID_PK_SIZE) != 0)
				goto bad;
			s->have_anchor = 1;
		} else {
			goto bad;
		}
	}
	fclose(f);
	if (!have_id || (s->have_challenge && !have_ts)) {
		fprintf(stderr, "mid-reader-sim: state file %s is incomplete; run 'mid-reader-sim challenge' again\n", path);
		return -1;
	}
	memcpy(s->challenge.reader_id, s->reader_id, MID_ID_SIZE);
	return 0;
bad:
	fclose(f);
	fprintf(stderr, "mid-reader-sim: state file %s, line %d is not valid; run 'mid-reader-sim challenge' again\n",
		path, lineno);
	return -1;
}

/* Read a whole file into a malloc'ed buffer (the caller frees *out). */
static int sim_read_file(const char *path, size_t max, uint8_t **out, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	uint8_t *buf = NULL;
	size_t n = 0;
	int rc = -1;
	if (!f) {
		fprintf(stderr, "mid-reader-sim: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!(buf = malloc(max + 1)))
		goto out;
	n = fread(buf, 1, max + 1, f);
	if (ferror(f)) {
		fprintf(stderr, "mid-reader-sim: cannot read %s: %s\n", path, strerror(errno));
		goto out;
	}
	if (n > max) {
		fprintf(stderr, "mid-reader-sim: %s is larger than %zu bytes\n", path, max);
		goto out;
	}
	*out = buf;
	*len = n;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	if (f != stdin)
		fclose(f);
	return rc;
}

static int64_t sim_fixed_clock(void *ctx)
{
	return *(const int64_t *)ctx;
}

static int sim_challenge(const char *reader_hex, const char *state_path, int nonce_bytes)
{
	sim_state_t old, s;
	static mid_rdr_t r;
	mid_challenge_t ch;
	uint8_t enc[MID_CHALLENGE_MAX_SIZE];
	char b64[2 * MID_CHALLENGE_MAX_SIZE];
	size_t len;
	int lrc;

	memset(&s, 0, sizeof s);
	if (sim_hex(reader_hex, s.reader_id, MID_ID_SIZE) != 0) {
		fprintf(stderr, "mid-reader-sim: --reader-id needs 32 hex digits (16 bytes)\n");
		return 2;
	}
	lrc = sim_state_load(state_path, &old);
	if (lrc < 0)
		return 2;
	if (lrc == 0 && old.have_anchor && memcmp(old.reader_id, s.reader_id, MID_ID_SIZE) == 0) {
		s.have_anchor = 1;
		memcpy(s.anchor, old.anchor, MID_PK_SIZE);
	}
	if (mid_reader_init(&r, s.reader_id, NULL) != 0) {
		fprintf(stderr, "mid-reader-sim: libsodium failed to initialise\n");
		return 2;
	}
	r.nonce_len = (uint8_t)nonce_bytes;
	if (mid_reader_challenge(&r, &ch) != 0 || mid_challenge_encode(&ch, enc, sizeof enc, &len) != 0 ||
	    mid_b64url_encode(enc, len, b64, sizeof b64) != 0) {
		fprintf(stderr, "mid-reader-sim: cannot make a challenge\n");
		return 2;
	}
	s.have_challenge = 1;
	s.challenge = ch;
	s.answered = 0;
	if (sim_state_save(state_path, &s) != 0)
		return 2;
	printf("%s\n", b64);
	return 0;
}

static int sim_verify(const char *bundle_path, const char *state_path, const char *response,
		      const char *issuer_hex, int json, int have_now, int64_t now, int64_t ttl)
{
	static mid_rdr_t r;
	static uint8_t pres[SIM_MAX_INPUT];
	sim_state_t s;
	uint8_t anchor[MID_PK_SIZE], *bundle = NULL, *input = NULL;
	size_t blen = 0, ilen = 0, plen = 0;
	const uint8_t *anchor_p = NULL;
	char *text = NULL;
	mid_card_t card;
	mid_deny_t d;
	int rc = 2, lrc, tofu = 0;

	if ((lrc = sim_state_load(state_path, &s)) != 0) {
		if (lrc > 0)
			fprintf(stderr, "mid-reader-sim: no state file %s; run 'mid-reader-sim challenge' first\n", state_path);
		goto out;
	}
	if (issuer_hex) {
		if (sim_hex(issuer_hex, anchor, MID_PK_SIZE) != 0) {
			fprintf(stderr, "mid-reader-sim: --issuer-key needs 64 hex digits (32 bytes)\n");
			goto out;
		}
		anchor_p = anchor;
	} else if (s.have_anchor) {
		anchor_p = s.anchor;
	} else {
		tofu = 1;
	}
	if (mid_reader_init(&r, s.reader_id, anchor_p) != 0) {
		fprintf(stderr, "mid-reader-sim: libsodium failed to initialise\n");
		goto out;
	}
	if (have_now)
		mid_reader_set_clock(&r, sim_fixed_clock, &now);
	r.challenge_ttl = ttl;
	if (sim_read_file(bundle_path, MID_BUNDLE_MAX_SIZE, &bundle, &blen) != 0)
		goto out;
	if ((lrc = mid_reader_load_bundle(&r, bundle, blen)) != 0) {
		fprintf(stderr, "mid-reader-sim: bundle %s refused: %s\n", bundle_path, mid_cerr_str(lrc));
		goto out;
	}
	if (tofu)
		fprintf(stderr, "mid-reader-sim: warning: no issuer key pinned; trusting the bundle's signer "
				"(trust on first use) and pinning it in %s\n", state_path);
	if (s.have_challenge)
		mid_reader_restore_challenge(&r, &s.challenge, s.answered);

	if (!strcmp(response, "-")) {
		if (sim_read_file("-", SIM_MAX_INPUT * 2, &input, &ilen) != 0)
			goto out;
		if (!(text = malloc(ilen + 1)))
			goto out;
		memcpy(text, input, ilen);
		text[ilen] = '\0';
		if (strlen(text) != ilen) {
			fprintf(stderr, "mid-reader-sim: the response holds a NUL byte\n");
			goto out;
		}
	} else if (!(text = strdup(response))) {
		goto out;
	}
	lrc = mid_b64url_decode(text, pres, sizeof pres, &plen);
	if (lrc == MID_CERR_OVERSIZE) {
		d = MID_DENY_OVERSIZED;
	} else if (lrc != 0) {
		d = MID_DENY_MALFORMED;
	} else {
		d = mid_reader_verify(&r, pres, plen, &card);
	}

	/* remember what the reader learnt: the nonce is spent, the key pinned */
	s.answered = r.challenge_answered;
	if (!s.have_anchor || issuer_hex) {
		s.have_anchor = 1;
		memcpy(s.anchor, r.anchor_pk, MID_PK_SIZE);
	}
	if (sim_state_save(state_path, &s) != 0)
		goto out;

	if (d == MID_DENY_NONE) {
		char bits[MID_WIEGAND_MAX_BITS + 1], name[MID_WIEGAND_NAME_MAX];
		mid_wiegand_to_string(&card.bits, bits, sizeof bits);
		mid_wiegand_format_name(card.format, name, sizeof name);
		if (json)
			printf("{\"result\":\"accepted\",\"format\":\"%s\",\"bit_count\":%u,\"wiegand_bits\":\"%s\","
			       "\"facility_code\":%" PRIu32 ",\"card_number\":%" PRIu64 "}\n",
			       name, (unsigned)card.bits.nbits, bits, card.facility_code, card.card_number);
		else
			printf("Wiegand bits: %s\nFacility code: %" PRIu32 "\nCard number: %" PRIu64 "\nFormat: %s (%u bits)\n",
			       bits, card.facility_code, card.card_number, name, (unsigned)card.bits.nbits);
		rc = 0;
	} else {
		if (json)
			printf("{\"result\":\"denied\",\"reason\":\"%s\",\"message\":\"%s\"}\n", mid_deny_name(d),
			       mid_deny_str(d));
		else
			printf("DENIED: %s: %s\n", mid_deny_name(d), mid_deny_str(d));
		rc = 1;
	}
out:
	free(bundle);
	free(input);
	free(text);
	return rc;
}

int main(int argc, char **argv)
{
	enum { O_READER = 1000, O_STATE, O_BUNDLE, O_RESPONSE, O_ISSUER, O_JSON, O_NOW, O_TTL, O_NONCE, O_HELP };
	static const struct option opts[] = {
		{ "reader-id", required_argument, NULL, O_READER },
		{ "state", required_argument, NULL, O_STATE },
		{ "bundle", required_argument, NULL, O_BUNDLE },
		{ "response", required_argument, NULL, O_RESPONSE },
		{ "issuer-key", required_argument, NULL, O_ISSUER },
		{ "json", no_argument, NULL, O_JSON },
		{ "now", required_argument, NULL, O_NOW },
		{ "ttl", required_argument, NULL, O_TTL },
		{ "nonce-bytes", required_argument, NULL, O_NONCE },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd, *reader_id = NULL, *state = NULL, *bundle = NULL, *response = NULL, *issuer = NULL;
	int json = 0, have_now = 0, nonce_bytes = MID_NONCE_MAX, c;
	int64_t now = 0, ttl = 30;
	char *end;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(SIM_USAGE, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	cmd = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_READER: reader_id = optarg; break;
		case O_STATE: state = optarg; break;
		case O_BUNDLE: bundle = optarg; break;
		case O_RESPONSE: response = optarg; break;
		case O_ISSUER: issuer = optarg; break;
		case O_JSON: json = 1; break;
		case O_NOW:
			errno = 0;
			now = strtoll(optarg, &end, 10);
			if (errno || *end || end == optarg) {
				fprintf(stderr, "mid-reader-sim: --now needs unix seconds\n");
				return 2;
			}
			have_now = 1;
			break;
		case O_TTL:
			errno = 0;
			ttl = strtoll(optarg, &end, 10);
			if (errno || *end || end == optarg || ttl < 0) {
				fprintf(stderr, "mid-reader-sim: --ttl needs a number of seconds\n");
				return 2;
			}
			break;
		case O_NONCE:
			if (strcmp(optarg, "16") == 0)
				nonce_bytes = 16;
			else if (strcmp(optarg, "32") == 0)
				nonce_bytes = 32;
			else
				nonce_bytes = -1;
			if (nonce_bytes != MID_NONCE_MIN && nonce_bytes != MID_NONCE_MAX) {
				fprintf(stderr, "mid-reader-sim: --nonce-bytes is 16 or 32\n");
				return 2;
			}
			break;
		case O_HELP: fputs(SIM_USAGE, stdout); return 0;
		default: fputs(SIM_USAGE, stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "mid-reader-sim: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!strcmp(cmd, "challenge")) {
		if (!reader_id || !state) {
			fprintf(stderr, "mid-reader-sim: challenge needs --reader-id HEX and --state FILE\n");
			return 2;
		}
		return sim_challenge(reader_id, state, nonce_bytes);
	}
	if (!strcmp(cmd, "verify")) {
		if (!bundle || !state || !response) {
			fprintf(stderr, "mid-reader-sim: verify needs --bundle FILE, --state FILE and --response B64|-\n");
			return 2;
		}
		return sim_verify(bundle, state, response, issuer, json, have_now, now, ttl);
	}
	fprintf(stderr, "mid-reader-sim: unknown command '%s' (try --help)\n", cmd);
	return 2;
}
