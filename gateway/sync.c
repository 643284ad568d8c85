/* gateway/sync.c -- the sync engine (see gateway/sync.h and docs/sync.md).
 *
 * The hot path is the unchanged record: before the pull, one pass over the
 * binding's links (mid_store_link_each) loads external id -> first 11 bytes
 * of the received content hash into a compact open-addressing table. A
 * record whose hash matches is only marked seen in that table; nothing is
 * written. Changed records are applied in the open batch transaction, which
 * commits at each connector checkpoint together with the cursor. After a
 * completed full pull the links not marked seen are the delete candidates.
 */
#include <config.h>
#include "gateway/sync.h"
#include "gateway/mapper.h"
#include "gateway/outbox.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#define SY_HASH_KEEP 11          /* bytes of the content hash kept in memory: 88 bits,
                                  * so an entry is 16 bytes (a change missed only
                                  * if a BLAKE2b-256 prefix of 88 bits repeats) */
#define SY_EXAMPLES 5
#define SY_BATCH 1000
#define SY_GROUP_WRITES 20000    /* changed records that make a commit worth it */
#define SY_GROUP_MS 2000         /* ... or this long with the write lock held */

static const char *const sy_kind_names[MID_SYNC_KINDS] = {
	"create", "update", "suspend", "purge", "dispute", "reject", "conflict",
};

const char *mid_sync_kind_name(int kind)
{
	return kind >= 0 && kind < MID_SYNC_KINDS ? sy_kind_names[kind] : "?";
}

/* ---- the in-memory link table -------------------------------------------------- */

enum { SY_E_RECV = 1, SY_E_SEEN = 2, SY_E_OLD = 4 /* existed before the run */ };

typedef struct sy_ent {
	uint32_t ext;            /* offset of the external id in the string pool */
	unsigned char flags;
	unsigned char rh[SY_HASH_KEEP];
} sy_ent_t;
_Static_assert(sizeof(sy_ent_t) == 16, "a link table entry is 16 bytes");

typedef struct sy_table {
	sy_ent_t *ents;
	size_t n, cap;
	uint32_t *slots;         /* entry index + 1; 0 empty */
	size_t nslots;           /* power of two */
	char *pool;
	size_t plen, pcap;
} sy_table_t;

static uint64_t sy_strhash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a, then a final mix */
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

static void sy_table_free(sy_table_t *t)
{
	free(t->ents);
	free(t->slots);
	free(t->pool);
	memset(t, 0, sizeof *t);
}

static sy_ent_t *sy_find(const sy_table_t *t, const char *key)
{
	if (!t->nslots)
		return NULL;
	size_t mask = t->nslots - 1, i = (size_t)sy_strhash(key) & mask;
	for (;;) {
		uint32_t s = t->slots[i];
		if (!s)
			return NULL;
		sy_ent_t *e = &t->ents[s - 1];
		if (strcmp(t->pool + e->ext, key) == 0)
			return e;
		i = (i + 1) & mask;
	}
}

/* Ask for transparent huge pages on a large array (a hint; errors ignored):
 * the link table and the filter are probed at random, and on a virtual
 * machine a TLB miss costs more than the cache miss. */
static void sy_huge(void *p, size_t n)
{
	uintptr_t a = ((uintptr_t)p + 4095) & ~(uintptr_t)4095;
	if (n < (4u << 20) || a >= (uintptr_t)p + n)
		return;
	madvise((void *)a, ((uintptr_t)p + n - a) & ~(uintptr_t)4095, MADV_HUGEPAGE);
}

static int sy_rehash(sy_table_t *t, size_t nslots)
{
	uint32_t *ns = calloc(nslots, sizeof *ns);
	if (!ns)
		return MID_ENOMEM;
	sy_huge(ns, nslots * sizeof *ns);
	for (size_t k = 0; k < t->n; k++) {
		size_t i = (size_t)sy_strhash(t->pool + t->ents[k].ext) & (nslots - 1);
		while (ns[i])
			i = (i + 1) & (nslots - 1);
		ns[i] = (uint32_t)(k + 1);
	}
	free(t->slots);
	t->slots = ns;
	t->nslots = nslots;
	return MID_OK;
}

/* Grow the entry array to at least `ents` and the key pool to at least
 * `pool` bytes (exact sizes: the callers choose the growth). */
static int sy_grow(sy_table_t *t, size_t ents, size_t pool)
{
	if (ents > t->cap) {
		sy_ent_t *ne = realloc(t->ents, ents * sizeof *ne);
		if (!ne)
			return MID_ENOMEM;
		t->ents = ne;
		t->cap = ents;
		sy_huge(ne, ents * sizeof *ne);
	}
	if (pool > t->pcap) {
		char *np = realloc(t->pool, pool);
		if (!np)
			return MID_ENOMEM;
		t->pool = np;
		t->pcap = pool;
		sy_huge(np, pool);
	}
	return MID_OK;
}

/* Make room for n entries and pool bytes at once (before loading the links):
 * no rehash and no realloc copy while a million links are loaded. */
static int sy_reserve(sy_table_t *t, size_t n, size_t pool)
{
	size_t nslots = 1024;
	if (n >= UINT32_MAX / 4)
		return MID_OK;        /* sy_add refuses such sizes anyway */
	while (nslots < (n + 1) * 2)
		nslots *= 2;
	if (nslots > t->nslots && sy_rehash(t, nslots))
		return MID_ENOMEM;
	return sy_grow(t, n, pool);
}

/* Add a key known to be absent; returns the entry or NULL (no memory). */
static sy_ent_t *sy_add(sy_table_t *t, const char *key)
{
	size_t kl = strlen(key) + 1;
	if (t->n >= UINT32_MAX - 1 || t->plen + kl >= UINT32_MAX)
		return NULL;
	if ((t->n + 1) * 2 > t->nslots && sy_rehash(t, t->nslots ? t->nslots * 2 : 1024))
		return NULL;
	size_t ec = t->cap, pc = t->pcap;
	if (t->n == ec)
		ec = ec ? ec * 2 : 1024;
	if (t->plen + kl > pc)
		for (pc = pc ? pc * 2 : 65536; pc < t->plen + kl;)
			pc *= 2;
	if (sy_grow(t, ec, pc))
		return NULL;
	memcpy(t->pool + t->plen, key, kl);
	sy_ent_t *e = &t->ents[t->n];
	memset(e, 0, sizeof *e);
	e->ext = (uint32_t)t->plen;
	t->plen += kl;
	size_t i = (size_t)sy_strhash(key) & (t->nslots - 1);
	while (t->slots[i])
		i = (i + 1) & (t->nslots - 1);
	t->slots[i] = (uint32_t)(t->n + 1);
	t->n++;
	return e;
}

static int sy_load_cb(void *ctx, int64_t link_id, const char *external_id,
                      const char *person_id, const unsigned char *recv_hash)
{
	sy_table_t *t = ctx;
	(void)link_id;
	(void)person_id;
	sy_ent_t *e = sy_add(t, external_id);
	if (!e)
		return MID_ENOMEM;
	e->flags = SY_E_OLD;
	if (recv_hash) {
		e->flags |= SY_E_RECV;
		memcpy(e->rh, recv_hash, SY_HASH_KEEP);
	}
	return MID_OK;
}

/* ---- the bulk key filter ---------------------------------------------------------
 *
 * A first import into a store without people (mid_store_people_empty) can
 * only match records against people this run created. Their match keys
 * (employee id, folded email) and card values go into a Bloom filter: a key
 * the filter has never seen cannot match, so the SQL lookup is skipped; a
 * key it may have seen (a duplicate in the file, or a false positive, about
 * 1-2%) takes the normal SQL path, which is exact. The first layer is
 * 512 KiB (about 420,000 keys: a 100,000-person pull's keys stay in the
 * L2 cache), each further one 4 MiB (about 3.3 million keys); a test looks
 * at every layer (the small one is cached). The
 * filter is blocked: a key's 8 bits lie in one 64-byte block, one bit per
 * 64-bit word, so a test or an insert touches one cache line (a classic
 * filter with 7 probes all over 4 MiB cost 9% of a first import in cache
 * misses). */

#define SY_BLOOM_BITS0 (4u << 20)       /* bits of the first layer: 512 KiB */
#define SY_BLOOM_BITS (32u << 20)       /* bits of each further layer: 4 MiB */
#define SY_BLOOM_LAYERS 8

enum { SY_KEY_EMPLOYEE = 1, SY_KEY_EMAIL = 2, SY_KEY_CARD = 3 };

typedef struct sy_bloom {
	uint64_t *layer[SY_BLOOM_LAYERS];
	size_t blocks[SY_BLOOM_LAYERS];   /* 512-bit blocks of each layer */
	size_t nlayers;
	size_t nkeys;            /* keys in the newest layer */
} sy_bloom_t;

static uint64_t sy_keyhash(int kind, const char *s, uint64_t *h2)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)kind, g;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	g = h;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	g ^= g >> 29;
	g *= 0xc4ceb9fe1a85ec53ull;
	g ^= g >> 32;
	*h2 = g | 1;
	return h;
}

static int sy_bloom_maybe(const sy_bloom_t *b, int kind, const char *key)
{
	uint64_t h2, h = sy_keyhash(kind, key, &h2);
	for (size_t l = 0; l < b->nlayers; l++) {
		const uint64_t *w = b->layer[l] + (size_t)(h % b->blocks[l]) * 8;
		int all = 1;
		for (int i = 0; i < 8 && all; i++)
			all = (w[i] >> ((h2 >> (6 * i)) & 63)) & 1;
		if (all)
			return 1;
	}
	return 0;
}

/* Add a key; MID_ENOMEM when a new layer cannot be had (the caller then
 * stops using the filter). */
static int sy_bloom_add(sy_bloom_t *b, int kind, const char *key)
{
	uint64_t h2, h = sy_keyhash(kind, key, &h2);
	if (!b->nlayers || b->nkeys >= b->blocks[b->nlayers - 1] * 512 / 10) {
		if (b->nlayers == SY_BLOOM_LAYERS)
			return MID_ENOMEM;
		size_t bits = b->nlayers ? SY_BLOOM_BITS : SY_BLOOM_BITS0;
		/* 2 MiB aligned and advised as huge pages where the kernel has
		 * them: every probe lands on a random page, and TLB misses
		 * were most of the filter's cost */
		void *m = NULL;
		if (posix_memalign(&m, 2u << 20, bits / 8))
			return MID_ENOMEM;
		madvise(m, bits / 8, MADV_HUGEPAGE);
		memset(m, 0, bits / 8);
		b->layer[b->nlayers] = m;
		b->blocks[b->nlayers] = bits / 512;
		b->nlayers++;
		b->nkeys = 0;
	}
	uint64_t *w = b->layer[b->nlayers - 1] + (size_t)(h % b->blocks[b->nlayers - 1]) * 8;
	for (int i = 0; i < 8; i++)
		w[i] |= 1ull << ((h2 >> (6 * i)) & 63);
	b->nkeys++;
	return MID_OK;
}

static void sy_bloom_free(sy_bloom_t *b)
{
	for (size_t l = 0; l < b->nlayers; l++)
		free(b->layer[l]);
	memset(b, 0, sizeof *b);
}

/* ---- small helpers ------------------------------------------------------------------ */

/* Days from 1970-01-01 to Y-M-D of the proleptic Gregorian calendar (a day
 * past the month's end counts on, as timegm does). */
static int64_t sy_days(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int mid_sync_parse_time(const char *s, int64_t *ms)
{
	int Y, M, D, h = 0, mi = 0, sec = 0, n = 0;
	struct tm tm;
	*ms = 0;
	if (!s || !*s)
		return MID_OK;
	/* The common plain date YYYY-MM-DD without sscanf and timegm (a bulk
	 * import parses two per row). */
	if (s[4] == '-' && s[7] == '-' && !s[10] && s[0] >= '0' && s[0] <= '9' &&
	    s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9' && s[3] >= '0' &&
	    s[3] <= '9' && s[5] >= '0' && s[5] <= '9' && s[6] >= '0' && s[6] <= '9' &&
	    s[8] >= '0' && s[8] <= '9' && s[9] >= '0' && s[9] <= '9') {
		Y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
		M = (s[5] - '0') * 10 + (s[6] - '0');
		D = (s[8] - '0') * 10 + (s[9] - '0');
		if (M < 1 || M > 12 || D < 1 || D > 31)
			return MID_EINVAL;
		*ms = sy_days(Y, M, D) * 86400000;
		return MID_OK;
	}
	if (sscanf(s, "%4d-%2d-%2d%n", &Y, &M, &D, &n) != 3 || n != 10)
		return MID_EINVAL;
	s += 10;
	if (*s == 'T' || *s == ' ') {
		int k = 0;
		if (sscanf(s + 1, "%2d:%2d%n", &h, &mi, &k) != 2 || k != 5)
			return MID_EINVAL;
		s += 1 + k;
		if (*s == ':') {
			if (sscanf(s + 1, "%2d%n", &sec, &k) != 1 || k != 2)
				return MID_EINVAL;
			s += 3;
			if (*s == '.')
				for (s++; *s >= '0' && *s <= '9'; s++)
					;
		}
		if (*s == 'Z')
			s++;
	}
	if (*s || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || sec > 60)
		return MID_EINVAL;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*ms = (int64_t)timegm(&tm) * 1000;
	return MID_OK;
}

void mid_sync_format_time(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	out[0] = '\0';
	if (!ms || !gmtime_r(&t, &tm))
		return;
	if (ms % 86400000 == 0)
		strftime(out, 32, "%Y-%m-%d", &tm);
	else
		strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int mid_sync_guard_trips(int64_t candidates, int64_t total, double ratio, int64_t allowed)
{
	if (candidates <= 0 || candidates <= allowed)
		return 0;
	if (total <= 0)
		return 0;
	return (double)candidates / (double)total > ratio;
}

int mid_sync_authority(const json_t *authority, int auth[], mid_error_t *err)
{
	int def = MID_AUTH_PACS;
	const char *k;
	json_t *v;
	if (authority && json_is_object(authority)) {
		json_t *d = json_object_get(authority, "*");
		if (d && json_is_string(d))
			def = strcmp(json_string_value(d), "gateway") == 0 ? MID_AUTH_GATEWAY
			                                                  : MID_AUTH_PACS;
	}
	for (int f = 0; f <= MID_CF_N; f++)
		auth[f] = def;
	if (!authority || !json_is_object(authority))
		return MID_OK;
	json_object_foreach((json_t *)authority, k, v) {
		int f;
		if (strcmp(k, "*") == 0)
			continue;
		if (strcmp(k, "attributes") == 0)
			f = MID_CF_N;
		else if ((f = mid_cf_parse(k)) < 0)
			return mid_error_set(err, MID_EINVAL, 0,
			                     "authority: \"%s\" is not a canonical field", k);
		if (!json_is_string(v) || (strcmp(json_string_value(v), "pacs") &&
		                           strcmp(json_string_value(v), "gateway")))
			return mid_error_set(err, MID_EINVAL, 0,
			                     "authority.%s: must be \"pacs\" or \"gateway\"", k);
		auth[f] = strcmp(json_string_value(v), "gateway") == 0 ? MID_AUTH_GATEWAY
		                                                      : MID_AUTH_PACS;
	}
	return MID_OK;
}

/* Append s as a JSON string to buf (cap bytes); returns the new length or
 * (size_t)-1 when it does not fit. */
static size_t sy_json_str(char *buf, size_t len, size_t cap, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	if (len + 2 > cap)
		return (size_t)-1;
	buf[len++] = '"';
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (len + 7 > cap)
			return (size_t)-1;
		if (ch == '"' || ch == '\\') {
			buf[len++] = '\\';
			buf[len++] = (char)ch;
		} else if (ch < 0x20) {
			buf[len++] = '\\';
			buf[len++] = 'u';
			buf[len++] = '0';
			buf[len++] = '0';
			buf[len++] = hex[ch >> 4];
			buf[len++] = hex[ch & 15];
		} else {
			buf[len++] = (char)ch;
		}
	}
	if (len + 2 > cap)
		return (size_t)-1;
	buf[len++] = '"';
	buf[len] = '\0';
	return len;
}

/* A JSON array text of the values (new string). */
static char *sy_json_array(const mid_vals_t *v)
{
	size_t cap = 16;
	for (size_t i = 0; i < v->n; i++)
		cap += strlen(v->v[i]) * 6 + 4;
	char *b = malloc(cap);
	size_t len = 0;
	if (!b)
		return NULL;
	b[len++] = '[';
	for (size_t i = 0; i < v->n; i++) {
		if (i)
			b[len++] = ',';
		len = sy_json_str(b, len, cap, v->v[i]);
		if (len == (size_t)-1) {
			free(b);
			return NULL;
		}
	}
	b[len++] = ']';
	b[len] = '\0';
	return b;
}

/* Compact canonical text of a JSON value given as text (new string). */
static char *sy_json_norm(const char *text, const char *dflt)
{
	json_t *j = json_loads(text && *text ? text : dflt, 0, NULL);
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII * 0) : NULL;
	json_decref(j);
	return s ? s : strdup(dflt);
}

static int sy_setstr(char *dst, size_t cap, const mid_vals_t *v, const char *field,
                     mid_error_t *err)
{
	const char *s = v->n ? v->v[0] : "";
	size_t l = strlen(s);
	if (v->n > 1)
		return mid_error_set(err, MID_EINVAL, 0, "%s has %zu values; it takes one (map it "
		                     "with a join transform)", field, v->n);
	if (l >= cap)
		return mid_error_set(err, MID_EINVAL, 0, "%s is too long (%zu bytes, at most %zu)",
		                     field, l, cap - 1);
	memcpy(dst, s, l + 1);
	return MID_OK;
}

/* Copy s into dst (cap bytes), truncating like snprintf "%s" but without
 * its cost on the per-record path. */
static void sy_copy(char *dst, size_t cap, const char *s)
{
	size_t l = strlen(s);
	if (l >= cap)
		l = cap - 1;
	memcpy(dst, s, l);
	dst[l] = '\0';
}

/* Append the decimal digits of v (>= 0) at p; returns the end. */
static char *sy_utoa(char *p, unsigned long long v)
{
	char t[24];
	size_t n = 0;
	do
		t[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n)
		*p++ = t[--n];
	return p;
}

static char *sy_strdup0(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* ---- the planner ------------------------------------------------------------------ */

/* Text that JSON writes as it is (printable ASCII but '"' and '\\'). */
static int sy_plain(const char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e || *s == '"' || *s == '\\')
			return 0;
	return 1;
}

/* The attributes object of a record's attributes alone (no attributes
 * before), as json_dumps(JSON_COMPACT | JSON_SORT_KEYS) writes it, when
 * every key and value is plain printable ASCII without quote or backslash
 * and no key repeats; NULL otherwise (or on no memory), and the caller
 * builds it with jansson. A new person of a pull takes this path: the
 * jansson object, its strings and the dump were a tenth of a first pull's
 * engine time. */
static char *sy_attrs_plain(const mid_canon_t *c)
{
	size_t idx[32], n = 0, len = 3;
	for (size_t a = 0; a < c->nattrs; a++) {
		const mid_vals_t *v = &c->attrs[a].vals;
		if (v->n == 0 || (v->n == 1 && !v->v[0][0]))
			continue;   /* no value: not in the object */
		if (n == sizeof idx / sizeof idx[0] || !sy_plain(c->attrs[a].key))
			return NULL;
		len += strlen(c->attrs[a].key) + 6;
		for (size_t i = 0; i < v->n; i++) {
			if (!sy_plain(v->v[i]))
				return NULL;
			len += strlen(v->v[i]) + 3;
		}
		/* insertion sort by key (strcmp order, as JSON_SORT_KEYS) */
		size_t j = n;
		while (j > 0) {
			int d = strcmp(c->attrs[idx[j - 1]].key, c->attrs[a].key);
			if (d == 0)
				return NULL;   /* a repeated key: jansson keeps the last */
			if (d < 0)
				break;
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = a;
		n++;
	}
	char *o = malloc(len), *p = o;
	if (!o)
		return NULL;
	*p++ = '{';
	for (size_t k = 0; k < n; k++) {
		const mid_attr_t *at = &c->attrs[idx[k]];
		size_t kl = strlen(at->key);
		if (k)
			*p++ = ',';
		*p++ = '"';
		memcpy(p, at->key, kl);
		p += kl;
		*p++ = '"';
		*p++ = ':';
		if (at->vals.n > 1)
			*p++ = '[';
		for (size_t i = 0; i < at->vals.n; i++) {
			size_t vl = strlen(at->vals.v[i]);
			if (i)
				*p++ = ',';
			*p++ = '"';
			memcpy(p, at->vals.v[i], vl);
			p += vl;
			*p++ = '"';
		}
		if (at->vals.n > 1)
			*p++ = ']';
	}
	*p++ = '}';
	*p = '\0';
	return o;
}

int mid_sync_plan(const mid_canon_t *c, const mid_person_t *cur, int gateway_changed,
                  const int auth[], mid_person_t *np, unsigned *changed, unsigned *conflicts,
                  unsigned *kept, mid_error_t *err)
{
	int rc;
	*changed = *conflicts = *kept = 0;
	for (int f = 0; f < MID_CF_N; f++) {
		const mid_vals_t *v = &c->f[f];
		if (!(c->present & (1u << f)))
			continue;
		int diff = 0;
		switch (f) {
		case MID_CF_EMPLOYEE_ID:
			if ((rc = sy_setstr(np->employee_id, sizeof np->employee_id, v, "employee_id", err)))
				return rc;
			diff = strcmp(np->employee_id, cur ? cur->employee_id : "") != 0;
			break;
		case MID_CF_GIVEN_NAME:
			if ((rc = sy_setstr(np->given_name, sizeof np->given_name, v, "given_name", err)))
				return rc;
			diff = strcmp(np->given_name, cur ? cur->given_name : "") != 0;
			break;
		case MID_CF_FAMILY_NAME:
			if ((rc = sy_setstr(np->family_name, sizeof np->family_name, v, "family_name", err)))
				return rc;
			diff = strcmp(np->family_name, cur ? cur->family_name : "") != 0;
			break;
		case MID_CF_EMAIL:
			if ((rc = sy_setstr(np->email, sizeof np->email, v, "email", err)))
				return rc;
			diff = strcmp(np->email, cur ? cur->email : "") != 0;
			break;
		case MID_CF_MOBILE:
			if ((rc = sy_setstr(np->mobile, sizeof np->mobile, v, "mobile", err)))
				return rc;
			diff = strcmp(np->mobile, cur ? cur->mobile : "") != 0;
			break;
		case MID_CF_STATUS: {
			const char *s = v->n ? v->v[0] : "";
			int st = *s ? mid_person_status_parse(s) : MID_PERSON_ACTIVE;
			if (st < 0)
				return mid_error_set(err, MID_EINVAL, 0, "status \"%.64s\" is not active, "
				                     "suspended or deleted (map it with a lookup transform)", s);
			np->status = st;
			diff = !cur || cur->status != st;
			break;
		}
		case MID_CF_VALID_FROM:
		case MID_CF_VALID_UNTIL: {
			int64_t ms;
			const char *s = v->n ? v->v[0] : "";
			if (mid_sync_parse_time(s, &ms))
				return mid_error_set(err, MID_EINVAL, 0, "%s \"%.64s\" is not an ISO 8601 date "
				                     "(map it with a date transform)", mid_cf_name(f), s);
			if (f == MID_CF_VALID_FROM) {
				np->valid_from = ms;
				diff = (cur ? cur->valid_from : 0) != ms;
			} else {
				np->valid_until = ms;
				diff = (cur ? cur->valid_until : 0) != ms;
			}
			break;
		}
		case MID_CF_ACCESS_GROUPS: {
			char *a = sy_json_array(v);
			if (!a)
				return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
			const char *old = cur && cur->access_groups ? cur->access_groups : "[]";
			if (!cur) {
				diff = strcmp(a, "[]") != 0;
			} else if (strcmp(a, old) != 0) {
				char *n = sy_json_norm(old, "[]");
				diff = !n || strcmp(a, n) != 0;
				free(n);
			}
			free(np->access_groups);
			np->access_groups = a;
			break;
		}
		default: /* card fields: handled by the applier */
			break;
		}
		if (diff)
			*changed |= 1u << f;
	}
	if ((c->present & MID_CF_ATTRS) || c->nattrs) {
		char *s = NULL;
		if (!np->attributes || !*np->attributes || !strcmp(np->attributes, "{}"))
			s = sy_attrs_plain(c);
		json_t *o = s ? NULL : json_loads(np->attributes && *np->attributes ? np->attributes
		                                                                    : "{}", 0, NULL);
		if (!s && (!o || !json_is_object(o))) {
			json_decref(o);
			o = json_object();
		}
		for (size_t a = 0; o && a < c->nattrs; a++) {
			const mid_vals_t *v = &c->attrs[a].vals;
			json_t *nv;
			if (v->n == 0 || (v->n == 1 && !v->v[0][0])) {
				json_object_del(o, c->attrs[a].key);
				continue;
			}
			if (v->n == 1) {
				nv = json_string(v->v[0]);
			} else {
				nv = json_array();
				for (size_t i = 0; i < v->n; i++)
					json_array_append_new(nv, json_string(v->v[i]));
			}
			json_object_set_new(o, c->attrs[a].key, nv);
		}
		if (o) {
			s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
			json_decref(o);
		}
		if (!s)
			return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		if (!cur) {
			if (strcmp(s, "{}") != 0)
				*changed |= 1u << MID_CF_N;
		} else {
			char *old = sy_json_norm(cur->attributes, "{}");
			if (!old || strcmp(old, s) != 0)
				*changed |= 1u << MID_CF_N;
			free(old);
		}
		free(np->attributes);
		np->attributes = s;
	}
	if (!gateway_changed || !cur)
		return MID_OK;
	/* both sides changed since the last sync: each differing field goes to
	 * its authority */
	*conflicts = *changed;
	for (int f = 0; f <= MID_CF_N; f++) {
		if (!(*changed & (1u << f)) || auth[f] != MID_AUTH_GATEWAY)
			continue;
		*kept |= 1u << f;
		switch (f) {
		case MID_CF_EMPLOYEE_ID: memcpy(np->employee_id, cur->employee_id, sizeof np->employee_id); break;
		case MID_CF_GIVEN_NAME: memcpy(np->given_name, cur->given_name, sizeof np->given_name); break;
		case MID_CF_FAMILY_NAME: memcpy(np->family_name, cur->family_name, sizeof np->family_name); break;
		case MID_CF_EMAIL: memcpy(np->email, cur->email, sizeof np->email); break;
		case MID_CF_MOBILE: memcpy(np->mobile, cur->mobile, sizeof np->mobile); break;
		case MID_CF_STATUS: np->status = cur->status; break;
		case MID_CF_VALID_FROM: np->valid_from = cur->valid_from; break;
		case MID_CF_VALID_UNTIL: np->valid_until = cur->valid_until; break;
		case MID_CF_ACCESS_GROUPS:
			free(np->access_groups);
			np->access_groups = sy_strdup0(cur->access_groups);
			break;
		case MID_CF_N:
			free(np->attributes);
			np->attributes = sy_strdup0(cur->attributes);
			break;
		default:
			break;
		}
	}
	*changed &= ~*kept;
	return MID_OK;
}

/* A time-ordered UUID (version 7, RFC 9562): the run's start time, then a
 * counter, then random bits. Ids created by one run sort in creation order,
 * so the people primary key and the link index grow at their end instead
 * of splitting pages all over the B-trees (a large share of a first import). */
static void sy_uuid7(char out[MID_ID_LEN], int64_t ms, uint64_t seq,
                     const unsigned char rnd[6])
{
	unsigned char b[16];
	static const char hex[] = "0123456789abcdef";
	memcpy(b + 10, rnd, 6);
	b[0] = (unsigned char)(ms >> 40);
	b[1] = (unsigned char)(ms >> 32);
	b[2] = (unsigned char)(ms >> 24);
	b[3] = (unsigned char)(ms >> 16);
	b[4] = (unsigned char)(ms >> 8);
	b[5] = (unsigned char)ms;
	b[6] = (unsigned char)(0x70 | ((seq >> 32) & 0x0f));
	b[7] = (unsigned char)(seq >> 24);
	b[8] = (unsigned char)(0x80 | ((seq >> 16) & 0x3f));
	b[9] = (unsigned char)(seq >> 8);
	b[10] ^= (unsigned char)seq;   /* with the run's random bits after it */
	for (int i = 0, o = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[36] = '\0';
}

/* A deep copy of a person (np must be zeroed). */
static int sy_person_copy(mid_person_t *np, const mid_person_t *p)
{
	*np = *p;
	np->access_groups = sy_strdup0(p->access_groups);
	np->attributes = sy_strdup0(p->attributes);
	if ((p->access_groups && !np->access_groups) || (p->attributes && !np->attributes)) {
		mid_person_clear(np);
		return MID_ENOMEM;
	}
	return MID_OK;
}

/* ---- a run --------------------------------------------------------------------------- */

typedef struct sy_run {
	mid_instance_t *in;
	mid_store_t *st;
	const mid_config_binding_t *b;
	const mid_sync_opts_t *o;
	mid_sync_report_t *rep;
	mid_conn_t *conn;
	mid_mapper_t *map;
	int auth[MID_CF_N + 1];
	sy_table_t tab;
	int64_t run_id;
	int64_t total_at_start;
	uint64_t id_seq;          /* ids created in this run */
	unsigned char id_rnd[6];  /* random tail of this run's ids */
	int64_t txn_started;      /* monotonic ms the open transaction began */
	int in_txn;              /* a batch transaction is open */
	int64_t batch_writes;    /* changed records in the open batch */
	char *pending_cursor;    /* checkpoint cursor not yet stored */
	int64_t lease_renewed;
	char holder[160];
	char actor[MID_NAME_LEN + 8];
	char lease[MID_NAME_LEN + 8];
	char card_key[MID_NAME_LEN + 8]; /* attribute key of the binding's card value */
	int outbound_self;       /* the binding pushes too */
	int other_outbound;      /* another binding pushes */
	mid_arena_t arena;
	int bulk;                /* first import: match keys in the filter (see above) */
	int64_t data_version;    /* the store's, when bulk began */
	sy_bloom_t bloom;
	size_t nexkind[MID_SYNC_KINDS];
	mid_error_t *err;
	struct sy_pend *ib;      /* first imports not yet written (see sy_flush) */
	size_t ibn;
} sy_run_t;

static int sy_flush(sy_run_t *R);

/* Stop using the bulk filter (another writer committed, or no memory):
 * the rest of the run matches with SQL lookups. */
static void sy_bulk_off(sy_run_t *R)
{
	R->bulk = 0;
	sy_bloom_free(&R->bloom);
}

/* May a key of this kind be held in the store? 1 unless the bulk filter
 * knows it cannot. */
static int sy_bulk_maybe(const sy_run_t *R, int kind, const char *key)
{
	return !R->bulk || sy_bloom_maybe(&R->bloom, kind, key);
}

static void sy_bulk_key(sy_run_t *R, int kind, const char *key)
{
	if (R->bulk && *key && sy_bloom_add(&R->bloom, kind, key))
		sy_bulk_off(R);
}

/* Remember the match keys of a person this run wrote. */
static void sy_bulk_person(sy_run_t *R, const mid_person_t *p)
{
	char fold[sizeof p->email];
	if (!R->bulk)
		return;
	sy_bulk_key(R, SY_KEY_EMPLOYEE, p->employee_id);
	if (mid_fold(p->email, fold, sizeof fold) == MID_OK)
		sy_bulk_key(R, SY_KEY_EMAIL, fold);
}

static int64_t sy_now(const sy_run_t *R)
{
	return R->o && R->o->now_ms ? R->o->now_ms() : mid_store_now(R->st);
}

static void sy_example(sy_run_t *R, int kind, const char *ext, const char *pid,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void sy_example(sy_run_t *R, int kind, const char *ext, const char *pid,
                       const char *fmt, ...)
{
	size_t max = R->o && R->o->examples ? R->o->examples : SY_EXAMPLES;
	mid_sync_report_t *rep = R->rep;
	if (R->nexkind[kind] >= max)
		return;
	mid_sync_example_t *ne = realloc(rep->examples, (rep->nexamples + 1) * sizeof *ne);
	if (!ne)
		return;
	rep->examples = ne;
	mid_sync_example_t *e = &ne[rep->nexamples++];
	memset(e, 0, sizeof *e);
	e->kind = kind;
	snprintf(e->external_id, sizeof e->external_id, "%s", ext ? ext : "");
	snprintf(e->person_id, sizeof e->person_id, "%s", pid ? pid : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->detail, sizeof e->detail, fmt, ap);
	va_end(ap);
	R->nexkind[kind]++;
}

static int sy_audit(sy_run_t *R, const char *action, const char *subject, json_t *detail)
{
	char *d = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
	int rc = mid_store_audit_append(R->st, R->actor, action, subject ? subject : "", d, NULL,
	                                R->err);
	free(d);
	json_decref(detail);
	return rc;
}

static int64_t sy_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int sy_begin(sy_run_t *R)
{
	int rc;
	if (R->in_txn)
		return MID_OK;
	if ((rc = mid_store_begin(R->st, R->err)))
		return rc;
	if (R->bulk) {
		/* with the write lock held: did anyone else write since? */
		int64_t v;
		if (mid_store_data_version(R->st, &v, NULL) || v != R->data_version)
			sy_bulk_off(R);
	}
	R->in_txn = 1;
	R->batch_writes = 0;
	R->txn_started = sy_mono();
	return MID_OK;
}

/* Commit the open batch (with the pending cursor). */
static int sy_commit(sy_run_t *R, int force_cursor)
{
	int rc;
	if (!R->in_txn && !(force_cursor && R->pending_cursor))
		return MID_OK;
	if (!R->in_txn && (rc = sy_begin(R)))
		return rc;
	if ((rc = sy_flush(R)))
		goto fail;
	if (R->pending_cursor) {
		if ((rc = mid_store_cursor_set(R->st, R->b->name, R->pending_cursor, R->err)))
			goto fail;
		free(R->pending_cursor);
		R->pending_cursor = NULL;
	}
	if (R->o->dry_run) {       /* the outer dry-run transaction stays open */
		if ((rc = mid_store_commit(R->st, R->err)))
			goto fail;
	} else if ((rc = mid_store_commit(R->st, R->err))) {
		goto fail;
	}
	R->in_txn = 0;
	R->batch_writes = 0;
	/* keep the lease while the run goes on */
	int64_t now = mid_store_now(R->st);
	if (!R->o->dry_run && now - R->lease_renewed > MID_SYNC_LEASE_MS / 5) {
		if ((rc = mid_store_lease_renew(R->st, R->lease, R->holder, MID_SYNC_LEASE_MS,
		                                R->err)))
			return rc;
		R->lease_renewed = now;
	}
	return MID_OK;
fail:
	mid_store_rollback(R->st, NULL);
	R->in_txn = 0;
	return rc;
}

/* Queue the person for every other outbound binding (and this one when
 * `self`). */
static int sy_enqueue(sy_run_t *R, const char *person_id, int op, int self)
{
	int rc;
	if (!R->other_outbound && !(self && R->outbound_self))
		return MID_OK;
	for (size_t i = 0; i < R->in->cfg->nbindings; i++) {
		const mid_config_binding_t *ob = &R->in->cfg->bindings[i];
		if (!ob->enabled || !(ob->direction & MID_DIRECTION_OUTBOUND))
			continue;
		if (ob == R->b && !self)
			continue;
		if ((rc = mid_outbox_enqueue_person_binding(R->in, ob, person_id, op, R->err)))
			return rc;
	}
	return MID_OK;
}

/* Revoke a person's live credentials. */
static int sy_revoke_all(sy_run_t *R, const char *person_id)
{
	mid_credential_t *cs = NULL;
	size_t n = 0;
	int rc = mid_store_credential_list(R->st, person_id, 0, 100000, &cs, &n, R->err);
	for (size_t i = 0; rc == MID_OK && i < n; i++)
		if (cs[i].status != MID_CRED_REVOKED && cs[i].status != MID_CRED_EXPIRED)
			rc = mid_store_credential_set_status(R->st, cs[i].id, MID_CRED_REVOKED, R->err);
	mid_credential_list_free(cs, n);
	return rc;
}

/* The delete reaction for the link (binding, ext): suspend + revoke, or
 * purge. The link is removed. */
static int sy_delete(sy_run_t *R, const char *ext, const char *why)
{
	mid_link_t l;
	mid_person_t p;
	int rc;

	memset(&p, 0, sizeof p);
	rc = mid_store_link_get(R->st, R->b->name, ext, &l, R->err);
	if (rc == MID_ENOTFOUND)
		return MID_OK;    /* nothing linked: nothing to do */
	if (rc)
		return rc;
	rc = mid_store_person_get(R->st, l.person_id, &p, R->err);
	if (rc == MID_ENOTFOUND)
		return mid_store_link_remove(R->st, R->b->name, ext, R->err);
	if (rc)
		return rc;
	if (R->b->on_delete == MID_ON_DELETE_PURGE) {
		if ((rc = sy_revoke_all(R, p.id)) ||
		    (rc = sy_enqueue(R, p.id, MID_OP_DELETE, 0)) ||
		    (rc = sy_audit(R, "person.purge", p.id,
		                   json_pack("{s:s, s:s, s:s}", "binding", R->b->name,
		                             "external_id", ext, "reason", why))) ||
		    (rc = mid_store_person_purge(R->st, p.id, R->err)))
			goto out;
		R->rep->purged++;
		R->rep->counts.suspended++;
		sy_example(R, MID_SYNC_PURGE, ext, p.id, "%s %s (%s)", p.given_name, p.family_name, why);
	} else {
		if (p.status == MID_PERSON_ACTIVE &&
		    (rc = mid_store_person_set_status(R->st, p.id, MID_PERSON_SUSPENDED, R->err)))
			goto out;
		if ((rc = sy_revoke_all(R, p.id)) ||
		    (rc = mid_store_link_remove(R->st, R->b->name, ext, R->err)) ||
		    (rc = sy_enqueue(R, p.id, MID_OP_UPSERT, 0)) ||
		    (rc = sy_audit(R, "person.suspend", p.id,
		                   json_pack("{s:s, s:s, s:s}", "binding", R->b->name,
		                             "external_id", ext, "reason", why))))
			goto out;
		R->rep->counts.suspended++;
		sy_example(R, MID_SYNC_SUSPEND, ext, p.id, "%s %s (%s)", p.given_name, p.family_name,
		           why);
	}
	R->batch_writes++;
out:
	mid_person_clear(&p);
	return rc;
}

/* A card value whose recording the caller does itself (bulk import). */
typedef struct sy_cardval {
	int set;
	char fmt[32];
	long long fc, cn;
} sy_cardval_t;

/* ---- pending first imports ---------------------------------------------------------
 *
 * A first import (bulk, see the filter above) does not write each new
 * person when it is planned: up to MID_IMPORT_CHUNK of them wait here and
 * go to mid_store_import_people together, one multi-row INSERT per table,
 * which costs SQLite about half as much per row as three single-row
 * inserts. They are written in the open batch transaction, before its
 * commit (sy_commit) and before anything else of the run touches the store
 * in a way that could see them: a lookup for a key one of them holds, a
 * record that is not a plain import, a delete. A lookup for a key none of
 * them holds (the filter's false positives) needs no flush. */

typedef struct sy_pend {
	mid_person_t p;          /* owns its strings */
	mid_link_t l;
	sy_cardval_t cv;
} sy_pend_t;

static void sy_pend_drop(sy_run_t *R)
{
	for (size_t i = 0; i < R->ibn; i++)
		mid_person_clear(&R->ib[i].p);
	R->ibn = 0;
}

/* Write the pending imports (inside the batch transaction). */
static int sy_flush(sy_run_t *R)
{
	mid_import_row_t rows[MID_IMPORT_CHUNK];
	int rc;
	if (!R->ibn)
		return MID_OK;
	for (size_t i = 0; i < R->ibn; i++) {
		sy_pend_t *q = &R->ib[i];
		rows[i].person = &q->p;
		rows[i].link = &q->l;
		rows[i].card_format = q->cv.set ? q->cv.fmt : NULL;
		rows[i].facility_code = q->cv.fc;
		rows[i].card_number = q->cv.cn;
	}
	rc = mid_store_import_people(R->st, rows, R->ibn, R->err);
	sy_pend_drop(R);
	return rc;
}

/* Flush when a pending import holds the key (kind SY_KEY_*; for cards the
 * value fmt/fc/cn) that the caller is about to look up. */
static int sy_flush_for(sy_run_t *R, int kind, const char *key, const char *fmt,
                        long long fc, long long cn)
{
	char fold[256], f2[256];
	if (kind == SY_KEY_EMAIL && mid_fold(key, fold, sizeof fold) != MID_OK)
		return sy_flush(R);
	for (size_t i = 0; i < R->ibn; i++) {
		const sy_pend_t *q = &R->ib[i];
		int hit = 0;
		if (kind == SY_KEY_EMPLOYEE)
			hit = strcmp(q->p.employee_id, key) == 0;
		else if (kind == SY_KEY_EMAIL)
			hit = mid_fold(q->p.email, f2, sizeof f2) != MID_OK || strcmp(f2, fold) == 0;
		else
			hit = q->cv.set && q->cv.fc == fc && q->cv.cn == cn && strcmp(q->cv.fmt, fmt) == 0;
		if (hit)
			return sy_flush(R);
	}
	return MID_OK;
}

/* Correlate an unlinked record: *found 1 with id, 0 none, -1 disputed
 * (why says which rule). */
static int sy_correlate(sy_run_t *R, const mid_canon_t *c, char id[MID_ID_LEN], int *found,
                        char *why, size_t whysz)
{
	char ids[4][MID_ID_LEN];
	size_t n;
	int rc;
	*found = 0;
	for (size_t i = 0; i < R->b->nmatch; i++) {
		int f = mid_cf_parse(R->b->match[i]);
		const char *v = f >= 0 ? mid_canon_str(c, f) : "";
		if (!*v)
			continue;
		if (f == MID_CF_EMPLOYEE_ID) {
			if (!sy_bulk_maybe(R, SY_KEY_EMPLOYEE, v))
				continue;
			if ((rc = sy_flush_for(R, SY_KEY_EMPLOYEE, v, NULL, 0, 0)))
				return rc;
			rc = mid_store_person_find_employee(R->st, v, ids, 4, &n, R->err);
		} else if (f == MID_CF_EMAIL) {
			char fold[256];
			if (R->bulk && mid_fold(v, fold, sizeof fold) == MID_OK &&
			    !sy_bulk_maybe(R, SY_KEY_EMAIL, fold))
				continue;
			if ((rc = sy_flush_for(R, SY_KEY_EMAIL, v, NULL, 0, 0)))
				return rc;
			rc = mid_store_person_find_email(R->st, v, ids, 4, &n, R->err);
		} else {
			continue;      /* no index for other fields */
		}
		if (rc)
			return rc;
		if (n == 1) {
			memcpy(id, ids[0], MID_ID_LEN);
			*found = 1;
			return MID_OK;
		}
		if (n > 1) {
			snprintf(why, whysz, "%zu people match %s \"%.64s\"", n, mid_cf_name(f), v);
			*found = -1;
			return MID_OK;
		}
	}
	return MID_OK;
}

/* Handle the card value of a record for person np. Returns MID_EINVAL with
 * the reason when the row must be rejected. Sets *attr_changed when the
 * person's card attribute changed (np->attributes replaced). With defer
 * (not NULL) a new value is not recorded but returned there. */
static int sy_card(sy_run_t *R, const mid_canon_t *c, mid_person_t *np, int *attr_changed,
                   int plan_only, sy_cardval_t *defer)
{
	const char *cn = mid_canon_str(c, MID_CF_CARD_NUMBER);
	const char *fc = mid_canon_str(c, MID_CF_FACILITY_CODE);
	const char *fmt = mid_canon_str(c, MID_CF_CARD_FORMAT);
	char want[96] = "", have[96] = "";
	long long fcv = 0, cnv = 0;
	json_t *attrs = NULL, *hv;
	int rc = MID_OK;

	*attr_changed = 0;
	if (!(c->present & (1u << MID_CF_CARD_NUMBER)))
		return MID_OK;
	if (*cn) {
		char *end;
		errno = 0;
		cnv = strtoll(cn, &end, 10);
		if (errno || *end || cnv < 0 || end == cn)
			return mid_error_set(R->err, MID_EINVAL, 0, "card_number \"%.32s\" is not a "
			                     "number", cn);
		if (*fc) {
			fcv = strtoll(fc, &end, 10);
			if (errno || *end || fcv < 0 || end == fc)
				return mid_error_set(R->err, MID_EINVAL, 0, "facility_code \"%.32s\" is "
				                     "not a number", fc);
		}
		if (!*fmt)
			return mid_error_set(R->err, MID_EINVAL, 0, "card_number %s has no card_format "
			                     "(map one, e.g. {\"const\": \"H10301\"})", cn);
		/* "%.31s:%lld:%lld" (both numbers are >= 0) */
		size_t fl = strlen(fmt);
		char *w = want;
		if (fl > 31)
			fl = 31;
		memcpy(w, fmt, fl);
		w += fl;
		*w++ = ':';
		w = sy_utoa(w, (unsigned long long)fcv);
		*w++ = ':';
		w = sy_utoa(w, (unsigned long long)cnv);
		*w = '\0';
	}
	/* the card this binding last recorded for the person */
	if (np->attributes && strstr(np->attributes, R->card_key)) {
		attrs = json_loads(np->attributes, 0, NULL);
		hv = attrs ? json_object_get(attrs, R->card_key) : NULL;
		if (hv && json_is_string(hv))
			snprintf(have, sizeof have, "%s", json_string_value(hv));
	}
	if (strcmp(want, have) == 0)
		goto out;
	if (*want && sy_bulk_maybe(R, SY_KEY_CARD, want)) {
		int taken = 0;
		if ((rc = sy_flush_for(R, SY_KEY_CARD, NULL, fmt, fcv, cnv)))
			goto out;
		if ((rc = mid_store_value_taken(R->st, fmt, fcv, cnv, &taken, R->err)))
			goto out;
		if (taken) {
			rc = mid_error_set(R->err, MID_EINVAL, 0, "card value %s %lld/%lld is already held "
			                   "by another person or Mobile ID", fmt, fcv, cnv);
			goto out;
		}
	}
	if (!plan_only) {
		if (*have) {
			char hf[32];
			long long a = 0, bb = 0;
			if (sscanf(have, "%31[^:]:%lld:%lld", hf, &a, &bb) == 3 &&
			    (rc = mid_store_pacs_value_remove(R->st, R->b->name, hf, a, bb, R->err)) &&
			    rc != MID_ENOTFOUND)
				goto out;
		}
		if (*want && defer) {
			defer->set = 1;
			sy_copy(defer->fmt, sizeof defer->fmt, fmt);
			defer->fc = fcv;
			defer->cn = cnv;
		} else if (*want &&
		           (rc = mid_store_pacs_value_add(R->st, R->b->name, fmt, fcv, cnv, R->err))) {
			goto out;
		}
		if (*want)
			sy_bulk_key(R, SY_KEY_CARD, want);
	}
	rc = MID_OK;
	if (!attrs && *want && (!np->attributes || !*np->attributes ||
	                        strcmp(np->attributes, "{}") == 0) &&
	    sy_plain(R->card_key) && sy_plain(want)) {
		/* the one attribute, written as json_dumps would */
		size_t kl = strlen(R->card_key), wl = strlen(want);
		char *a = malloc(kl + wl + 8);
		if (!a) {
			rc = mid_error_set(R->err, MID_ENOMEM, 0, "out of memory");
			goto out;
		}
		a[0] = '{';
		a[1] = '"';
		memcpy(a + 2, R->card_key, kl);
		memcpy(a + 2 + kl, "\":\"", 3);
		memcpy(a + 5 + kl, want, wl);
		memcpy(a + 5 + kl + wl, "\"}", 3);
		free(np->attributes);
		np->attributes = a;
		*attr_changed = 1;
		goto out;
	}
	if (!attrs)
		attrs = json_loads(np->attributes && *np->attributes ? np->attributes : "{}", 0, NULL);
	if (!attrs || !json_is_object(attrs)) {
		json_decref(attrs);
		attrs = json_object();
	}
	if (*want)
		json_object_set_new(attrs, R->card_key, json_string(want));
	else
		json_object_del(attrs, R->card_key);
	free(np->attributes);
	np->attributes = json_dumps(attrs, JSON_COMPACT | JSON_SORT_KEYS);
	if (!np->attributes)
		rc = mid_error_set(R->err, MID_ENOMEM, 0, "out of memory");
	*attr_changed = 1;
out:
	json_decref(attrs);
	return rc;
}

/* Apply one changed record (inside the batch transaction). */
static int sy_apply(sy_run_t *R, const mid_record_t *rec, const mid_canon_t *c,
                    const unsigned char hash[MID_HASH_LEN], sy_ent_t *ent)
{
	const char *ext = rec->external_id;
	mid_link_t l;
	mid_person_t cur, np;
	int linked = 0, have_cur = 0, rc, gw_changed = 0, card_changed = 0;
	unsigned changed = 0, conflicts = 0, kept = 0;
	char why[520] = "";
	mid_error_t perr = { 0 };
	sy_cardval_t cv = { 0 };
	int import = 0;

	memset(&cur, 0, sizeof cur);
	memset(&np, 0, sizeof np);
	memset(&l, 0, sizeof l);
	if (ent && (rc = sy_flush(R)))    /* the link may be pending */
		return rc;
	if (ent) {
		rc = mid_store_link_get(R->st, R->b->name, ext, &l, R->err);
		if (rc == MID_OK)
			linked = 1;
		else if (rc != MID_ENOTFOUND)
			return rc;
	}
	if (linked) {
		/* echo: the PACS sends back what we pushed */
		if (l.has_sent && memcmp(l.sent_hash, hash, MID_HASH_LEN) == 0) {
			memcpy(l.recv_hash, hash, MID_HASH_LEN);
			l.has_recv = 1;
			l.seen_run = R->run_id;
			if ((rc = mid_store_link_upsert(R->st, &l, R->err)))
				return rc;
			R->rep->counts.unchanged++;
			goto mark;
		}
		rc = mid_store_person_get(R->st, l.person_id, &cur, R->err);
		if (rc == MID_OK)
			have_cur = 1;
		else if (rc != MID_ENOTFOUND)
			return rc;
		else
			linked = 0;   /* a dangling link: correlate again */
		gw_changed = have_cur && cur.updated > l.updated;
	}
	if (!have_cur) {
		char id[MID_ID_LEN];
		int found;
		if ((rc = sy_correlate(R, c, id, &found, why, sizeof why)))
			return rc;
		if (found < 0) {
			R->rep->counts.disputed++;
			sy_example(R, MID_SYNC_DISPUTE, ext, NULL, "%s", why);
			rc = sy_audit(R, "sync.dispute", ext,
			              json_pack("{s:s, s:s, s:s, s:I}", "binding", R->b->name,
			                        "external_id", ext, "reason", why,
			                        "line", (json_int_t)rec->source_pos));
			goto seen_only;
		}
		if (found) {
			mid_link_t *pl = NULL;
			size_t pn = 0;
			if ((rc = mid_store_person_get(R->st, id, &cur, R->err)))
				return rc;
			have_cur = 1;
			/* a person already linked to another record of this binding */
			if ((rc = mid_store_link_list_person(R->st, id, &pl, &pn, R->err)))
				goto out;
			for (size_t i = 0; i < pn; i++)
				if (strcmp(pl[i].binding, R->b->name) == 0 &&
				    strcmp(pl[i].external_id, ext) != 0) {
					snprintf(why, sizeof why, "the matching person is already linked to %s "
					         "record %.64s", R->b->name, pl[i].external_id);
					found = -1;
					break;
				}
			free(pl);
			if (found < 0) {
				R->rep->counts.disputed++;
				sy_example(R, MID_SYNC_DISPUTE, ext, id, "%s", why);
				rc = sy_audit(R, "sync.dispute", ext,
				              json_pack("{s:s, s:s, s:s, s:s}", "binding", R->b->name,
				                        "external_id", ext, "reason", why, "person", id));
				goto seen_only;
			}
		}
	}
	/* plan */
	if (have_cur) {
		if ((rc = sy_person_copy(&np, &cur))) {
			rc = mid_error_set(R->err, rc, 0, "out of memory");
			goto out;
		}
	} else {
		np.status = MID_PERSON_ACTIVE;
	}
	rc = mid_sync_plan(c, have_cur ? &cur : NULL, gw_changed, R->auth, &np, &changed,
	                   &conflicts, &kept, &perr);
	if (rc == MID_EINVAL) {
		snprintf(why, sizeof why, "%s", perr.text);
		goto reject;
	}
	if (rc) {
		*R->err = perr;
		goto out;
	}
	import = R->bulk && !have_cur && !ent; /* no link at the start, none made since */
	if (!import && (rc = sy_flush(R)))
		goto out;
	rc = sy_card(R, c, &np, &card_changed, 0, import ? &cv : NULL);
	if (rc == MID_EINVAL) {
		snprintf(why, sizeof why, "%s", R->err->text);
		memset(R->err, 0, sizeof *R->err);
		goto reject;
	}
	if (rc)
		goto out;
	if (card_changed)
		changed |= 1u << MID_CF_N;
	if (import) {
		/* person, link and card value in one go: three inserts */
		sy_uuid7(np.id, R->rep->started, ++R->id_seq, R->id_rnd);
		memset(&l, 0, sizeof l);
		sy_copy(l.binding, sizeof l.binding, R->b->name);
		sy_copy(l.external_id, sizeof l.external_id, ext);
		memcpy(l.recv_hash, hash, MID_HASH_LEN);
		l.has_recv = 1;
		l.seen_run = R->run_id;
		if (rec->etag)
			sy_copy(l.etag, sizeof l.etag, rec->etag);
		sy_bulk_person(R, &np);
		R->rep->counts.created++;
		sy_example(R, MID_SYNC_CREATE, ext, np.id, "%s %s <%s>", np.given_name,
		           np.family_name, np.email);
		R->batch_writes++;
		if (!R->other_outbound) {
			/* no outbox entry to write: the person waits for sy_flush */
			if (!R->ib && !(R->ib = calloc(MID_IMPORT_CHUNK, sizeof *R->ib))) {
				rc = mid_error_set(R->err, MID_ENOMEM, 0, "out of memory");
				goto out;
			}
			sy_pend_t *q = &R->ib[R->ibn++];
			q->p = np;          /* moves its strings */
			memset(&np, 0, sizeof np);
			q->l = l;
			q->cv = cv;
			if (R->ibn == MID_IMPORT_CHUNK && (rc = sy_flush(R)))
				goto out;
			goto mark;
		}
		if ((rc = mid_store_import_person(R->st, &np, &l, cv.set ? cv.fmt : NULL, cv.fc,
		                                  cv.cn, R->err)) ||
		    (rc = sy_enqueue(R, np.id, MID_OP_UPSERT, 0)))
			goto out;
		goto mark;
	}
	if (!have_cur) {
		sy_uuid7(np.id, R->rep->started, ++R->id_seq, R->id_rnd);
		if ((rc = mid_store_person_create(R->st, &np, R->err)))
			goto out;
		sy_bulk_person(R, &np);
		R->rep->counts.created++;
		sy_example(R, MID_SYNC_CREATE, ext, np.id, "%s %s <%s>", np.given_name,
		           np.family_name, np.email);
	} else if (changed) {
		if ((rc = mid_store_person_update(R->st, &np, R->err)))
			goto out;
		sy_bulk_person(R, &np);
		R->rep->counts.updated++;
		if (np.status == MID_PERSON_SUSPENDED && cur.status != MID_PERSON_SUSPENDED) {
			R->rep->counts.suspended++;
			sy_example(R, MID_SYNC_SUSPEND, ext, np.id, "status suspended by the PACS");
		}
		{
			char fl[200] = "";
			size_t fo = 0;
			for (int f = 0; f <= MID_CF_N && fo < sizeof fl - 20; f++)
				if (changed & (1u << f))
					fo += (size_t)snprintf(fl + fo, sizeof fl - fo, "%s%s", fo ? ", " : "",
					                      f == MID_CF_N ? "attributes" : mid_cf_name(f));
			sy_example(R, MID_SYNC_UPDATE, ext, np.id, "%s %s: %s", np.given_name,
			           np.family_name, fl);
		}
	} else if (!linked) {
		R->rep->counts.updated++;   /* newly linked, same content */
		sy_example(R, MID_SYNC_UPDATE, ext, np.id, "linked to the existing person");
	} else {
		R->rep->counts.unchanged++;
	}
	if (conflicts) {
		json_t *fields = json_array();
		for (int f = 0; f <= MID_CF_N; f++)
			if (conflicts & (1u << f))
				json_array_append_new(fields, json_pack("{s:s, s:s}", "field",
				    f == MID_CF_N ? "attributes" : mid_cf_name(f), "winner",
				    (kept & (1u << f)) ? "gateway" : "pacs"));
		R->rep->conflicts += __builtin_popcount(conflicts);
		sy_example(R, MID_SYNC_CONFLICT, ext, np.id, "%d field(s) changed on both sides",
		           __builtin_popcount(conflicts));
		if ((rc = sy_audit(R, "sync.conflict", np.id,
		                   json_pack("{s:s, s:s, s:o}", "binding", R->b->name, "external_id",
		                             ext, "fields", fields))))
			goto out;
	}
	/* the link */
	memset(&l.id, 0, sizeof l.id);
	snprintf(l.binding, sizeof l.binding, "%s", R->b->name);
	snprintf(l.external_id, sizeof l.external_id, "%s", ext);
	memcpy(l.person_id, np.id, MID_ID_LEN);
	memcpy(l.recv_hash, hash, MID_HASH_LEN);
	l.has_recv = 1;
	l.seen_run = R->run_id;
	if (rec->etag)
		snprintf(l.etag, sizeof l.etag, "%s", rec->etag);
	if ((rc = mid_store_link_upsert(R->st, &l, R->err)))
		goto out;
	/* outbound: others learn about the change; this binding gets the
	 * gateway's values back when the gateway won a conflict */
	if ((changed || !have_cur) && (rc = sy_enqueue(R, np.id, MID_OP_UPSERT, 0)))
		goto out;
	if (kept && (rc = sy_enqueue(R, np.id, MID_OP_UPSERT, 1)))
		goto out;
	R->batch_writes++;
mark:
	if (!ent)
		ent = sy_add(&R->tab, ext);
	if (!ent) {
		rc = mid_error_set(R->err, MID_ENOMEM, 0, "out of memory");
		goto out;
	}
	ent->flags |= SY_E_RECV | SY_E_SEEN;
	memcpy(ent->rh, hash, SY_HASH_KEEP);
	rc = MID_OK;
	goto out;
reject:
	R->rep->counts.rejected++;
	sy_example(R, MID_SYNC_REJECT, ext, NULL, "line %" PRIu64 ": %s", rec->source_pos, why);
	rc = MID_OK;
seen_only:
	if (ent)
		ent->flags |= SY_E_SEEN;   /* present in the source: never swept */
out:
	mid_person_clear(&cur);
	mid_person_clear(&np);
	return rc;
}

/* ---- the pull sink ------------------------------------------------------------------- */

static int sy_sink_record(void *ctx, const mid_record_t *rec, mid_error_t *err)
{
	sy_run_t *R = ctx;
	mid_canon_t c;
	unsigned char hash[MID_HASH_LEN];
	int rc;
	(void)err;

	R->rep->counts.seen++;
	if (!rec->external_id || !rec->external_id[0]) {
		R->rep->counts.rejected++;
		sy_example(R, MID_SYNC_REJECT, "", NULL, "line %" PRIu64 ": no external id",
		           rec->source_pos);
		return MID_OK;
	}
	if (rec->op == MID_OP_DELETE) {
		sy_ent_t *e = sy_find(&R->tab, rec->external_id);
		if (!e)
			return MID_OK;
		if ((rc = sy_begin(R)) || (rc = sy_flush(R)) ||
		    (rc = sy_delete(R, rec->external_id, "deleted in the PACS")))
			return rc;
		e->flags = (e->flags & ~SY_E_RECV) | SY_E_SEEN;
		goto batch;
	}
	{
		mid_error_t merr = { 0 };
		rc = mid_mapper_inbound(R->map, rec, &c, &merr);
		if (rc == MID_EINVAL) {
			R->rep->counts.rejected++;
			sy_example(R, MID_SYNC_REJECT, rec->external_id, NULL, "line %" PRIu64 ": %s",
			           rec->source_pos, merr.text);
			sy_ent_t *e = sy_find(&R->tab, rec->external_id);
			if (e)
				e->flags |= SY_E_SEEN;
			return MID_OK;
		}
		if (rc) {
			*R->err = merr;
			return rc;
		}
	}
	mid_canon_hash(&c, ~0u, hash);
	sy_ent_t *e = sy_find(&R->tab, rec->external_id);
	if (e && (e->flags & SY_E_RECV) && memcmp(e->rh, hash, SY_HASH_KEEP) == 0) {
		e->flags |= SY_E_SEEN;
		R->rep->counts.unchanged++;
		return MID_OK;
	}
	if ((rc = sy_begin(R)) || (rc = sy_apply(R, rec, &c, hash, e)))
		return rc;
batch:
	if (R->batch_writes >= (R->o->batch_size > 0 ? R->o->batch_size : SY_GROUP_WRITES * 5))
		return sy_commit(R, 0);   /* the connector does not checkpoint often enough */
	return MID_OK;
}

static int sy_sink_reject(void *ctx, uint64_t pos, const char *column, const char *reason,
                          const char *raw, mid_error_t *err)
{
	sy_run_t *R = ctx;
	(void)raw;
	(void)err;
	R->rep->counts.rejected++;
	sy_example(R, MID_SYNC_REJECT, "", NULL, "line %" PRIu64 "%s%s: %s", pos,
	           column ? ", column " : "", column ? column : "", reason ? reason : "");
	return MID_OK;
}

/* The connector is about to act on the source (archive the file): commit
 * the grouped checkpoints now, so that nothing it archives is still only
 * in an open transaction. */
static int sy_sink_commit(void *ctx, mid_error_t *err)
{
	sy_run_t *R = ctx;
	(void)err;   /* errors go to the run's error, like every sink callback */
	return sy_commit(R, 1);
}

static int sy_sink_checkpoint(void *ctx, const char *cursor, mid_error_t *err)
{
	sy_run_t *R = ctx;
	(void)err;
	free(R->pending_cursor);
	R->pending_cursor = cursor ? strdup(cursor) : NULL;
	if (cursor && !R->pending_cursor)
		return mid_error_set(R->err, MID_ENOMEM, 0, "out of memory");
	/* A batch without writes needs no transaction of its own: its cursor
	 * goes with the next batch that writes, or at the end. Small batches
	 * are grouped: the transaction commits at a checkpoint once it holds
	 * SY_GROUP_WRITES changed records or has been open SY_GROUP_MS (each
	 * commit rewrites every page it touched, so 1000-row commits cost
	 * many times the rows' own writes). A crash still loses whole batches
	 * only. */
	if (R->in_txn && R->batch_writes < SY_GROUP_WRITES &&
	    sy_mono() - R->txn_started < SY_GROUP_MS)
		return MID_OK;
	if (!R->in_txn) {
		int64_t now = mid_store_now(R->st);
		if (!R->o->dry_run && now - R->lease_renewed > MID_SYNC_LEASE_MS / 5) {
			int rc = mid_store_lease_renew(R->st, R->lease, R->holder, MID_SYNC_LEASE_MS,
			                               R->err);
			if (rc)
				return rc;
			R->lease_renewed = now;
		}
		return MID_OK;
	}
	return sy_commit(R, 1);
}

static void sy_sink_progress(void *ctx, uint64_t done, uint64_t total)
{
	sy_run_t *R = ctx;
	if (R->o->progress)
		R->o->progress(R->o->progress_ctx, done, total);
}

/* ---- sweep --------------------------------------------------------------------------- */

static int sy_sweep(sy_run_t *R)
{
	int64_t cand = 0;
	int rc;
	for (size_t i = 0; i < R->tab.n; i++)
		if ((R->tab.ents[i].flags & (SY_E_OLD | SY_E_SEEN)) == SY_E_OLD)
			cand++;
	R->rep->delete_candidates = cand;
	R->rep->delete_total = R->total_at_start;
	if (!cand)
		return MID_OK;
	if (mid_sync_guard_trips(cand, R->total_at_start, R->b->max_delete_ratio,
	                         R->o->allow_deletes)) {
		R->rep->status = MID_RUN_STOPPED;
		snprintf(R->rep->message, sizeof R->rep->message,
		         "binding %s: the full pull would delete %" PRId64 " of %" PRId64 " linked "
		         "people (%.1f%%), more than its max_delete_ratio %.2f allows; nothing was "
		         "deleted (the other changes were applied). If the source is right, run "
		         "`mobileidctl sync run %s --allow-deletes %" PRId64 "` or raise "
		         "max_delete_ratio for the binding", R->b->name, cand, R->total_at_start,
		         100.0 * (double)cand / (double)R->total_at_start, R->b->max_delete_ratio,
		         R->b->name, cand);
		return mid_error_set(R->err, MID_ELIMIT, 0, "%s", R->rep->message);
	}
	for (size_t i = 0; i < R->tab.n; i++) {
		sy_ent_t *e = &R->tab.ents[i];
		if ((e->flags & (SY_E_OLD | SY_E_SEEN)) != SY_E_OLD)
			continue;
		if ((rc = sy_begin(R)) ||
		    (rc = sy_delete(R, R->tab.pool + e->ext, "absent from a full pull")))
			return rc;
		e->flags |= SY_E_SEEN;
		if (R->batch_writes >= SY_BATCH && (rc = sy_commit(R, 0)))
			return rc;
	}
	return sy_commit(R, 0);
}

/* ---- lease -------------------------------------------------------------------------- */

/* Take the binding's lease; a holder on this host whose process is gone is
 * taken over. */
static int sy_lease(sy_run_t *R)
{
	char other[128] = "", host[64] = "";
	int64_t other_exp = 0;
	int got = 0, rc;

	gethostname(host, sizeof host - 1);
	snprintf(R->holder, sizeof R->holder, "%.40s pid %ld on %.60s", R->in->actor[0]
	         ? R->in->actor : "gateway", (long)getpid(), host);
	snprintf(R->lease, sizeof R->lease, "sync:%s", R->b->name);
	for (int attempt = 0; attempt < 2; attempt++) {
		if ((rc = mid_store_lease_acquire(R->st, R->lease, R->holder, MID_SYNC_LEASE_MS, &got,
		                                  other, &other_exp, R->err)))
			return rc;
		if (got) {
			R->lease_renewed = mid_store_now(R->st);
			return MID_OK;
		}
		/* "... pid N on HOST" */
		const char *p = strstr(other, " pid "), *on = strstr(other, " on ");
		long pid = p ? strtol(p + 5, NULL, 10) : 0;
		if (attempt == 0 && pid > 0 && on && strcmp(on + 4, host) == 0 &&
		    kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
			if ((rc = mid_store_lease_release(R->st, R->lease, other, R->err)))
				return rc;
			continue;
		}
		break;
	}
	int64_t left = other_exp - mid_store_now(R->st);
	return mid_error_set(R->err, MID_ECONFLICT, 1,
	                     "binding %s is being synced by %s (lease held for another %" PRId64
	                     " s); try again when that run ends", R->b->name, other,
	                     left > 0 ? (left + 999) / 1000 : 0);
}

/* ---- the run -------------------------------------------------------------------------- */

void mid_sync_report_clear(mid_sync_report_t *r)
{
	if (!r)
		return;
	free(r->examples);
	memset(r, 0, sizeof *r);
}

json_t *mid_sync_report_json(const mid_sync_report_t *r)
{
	const mid_run_counts_t *k = &r->counts;
	json_t *ex = json_array();
	for (size_t i = 0; i < r->nexamples; i++)
		json_array_append_new(ex, json_pack("{s:s, s:s, s:s?, s:s}", "kind",
		    mid_sync_kind_name(r->examples[i].kind), "external_id", r->examples[i].external_id,
		    "person", r->examples[i].person_id[0] ? r->examples[i].person_id : NULL,
		    "detail", r->examples[i].detail));
	return json_pack("{s:I, s:s, s:s, s:b, s:I, s:I, s:I, s:s, s:s, "
	                 "s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}, "
	                 "s:I, s:I, s:I, s:I, s:I, s:o}",
	    "run", (json_int_t)r->run_id, "binding", r->binding,
	    "status", mid_run_status_name(r->status) ? mid_run_status_name(r->status) : "?",
	    "dry_run", r->dry_run, "started", (json_int_t)r->started,
	    "finished", (json_int_t)r->finished,
	    "duration_ms", (json_int_t)(r->finished > r->started ? r->finished - r->started : 0),
	    "source", r->source, "message", r->message,
	    "counts", "seen", (json_int_t)k->seen, "created", (json_int_t)k->created,
	    "updated", (json_int_t)k->updated, "unchanged", (json_int_t)k->unchanged,
	    "suspended", (json_int_t)k->suspended, "pushed", (json_int_t)k->pushed,
	    "failed", (json_int_t)k->failed, "disputed", (json_int_t)k->disputed,
	    "rejected", (json_int_t)k->rejected,
	    "purged", (json_int_t)r->purged, "conflicts", (json_int_t)r->conflicts,
	    "delete_candidates", (json_int_t)r->delete_candidates,
	    "delete_total", (json_int_t)r->delete_total,
	    "outbox_pending", (json_int_t)r->outbox_pending, "examples", ex);
}

int mid_sync_run(mid_instance_t *in, const char *name, const mid_sync_opts_t *opts,
                 mid_sync_report_t *rep, mid_error_t *err)
{
	static const mid_sync_opts_t dflt = { 0 };
	sy_run_t R;
	mid_pull_result_t res;
	char *cursor = NULL;
	int rc, outer = 0, leased = 0;
	mid_error_t ferr = { 0 };

	memset(rep, 0, sizeof *rep);
	memset(&R, 0, sizeof R);
	memset(&res, 0, sizeof res);
	R.o = opts ? opts : &dflt;
	R.in = in;
	R.st = in->store;
	R.rep = rep;
	R.err = err;
	snprintf(rep->binding, sizeof rep->binding, "%s", name);
	rep->dry_run = R.o->dry_run;
	rep->status = MID_RUN_RUNNING;
	if (!R.st)
		return mid_error_set(err, MID_EINVAL, 0, "sync needs the instance's store");
	R.b = mid_config_binding(in->cfg, name);
	if (!R.b) {
		rep->status = MID_RUN_FAILED;
		return mid_error_set(err, MID_ENOTFOUND, 0, "no binding named \"%s\" in %s", name,
		                     in->cfg->path);
	}
	snprintf(R.actor, sizeof R.actor, "sync:%s", R.b->name);
	snprintf(R.card_key, sizeof R.card_key, "card:%s", R.b->name);
	R.outbound_self = (R.b->direction & MID_DIRECTION_OUTBOUND) != 0;
	for (size_t i = 0; i < in->cfg->nbindings; i++) {
		const mid_config_binding_t *ob = &in->cfg->bindings[i];
		if (ob != R.b && ob->enabled && (ob->direction & MID_DIRECTION_OUTBOUND))
			R.other_outbound = 1;
	}
	rep->started = sy_now(&R);
	randombytes_buf(R.id_rnd, sizeof R.id_rnd);

	if (R.o->dry_run) {
		/* everything below happens in this transaction, rolled back at the end */
		if ((rc = mid_store_begin(R.st, err)))
			goto done;
		outer = 1;
	}
	if ((rc = sy_lease(&R)))
		goto done;
	leased = 1;
	if (!R.o->dry_run &&
	    (rc = mid_store_run_start(R.st, R.b->name, rep->started, 0, &R.run_id, err)))
		goto done;
	rep->run_id = R.run_id;
	if ((rc = mid_conn_open(in, R.b, &R.conn, err)))
		goto done;
	if ((rc = mid_mapper_compile(R.conn->eff.mapping, &R.map, err)))
		goto done;
	if ((rc = mid_sync_authority(R.b->authority, R.auth, err)))
		goto done;

	if (R.b->direction & MID_DIRECTION_INBOUND) {
		const mid_connector_t *d = &R.conn->mod->desc;
		mid_pull_sink_t sink = { &R, sy_sink_record, sy_sink_reject, sy_sink_checkpoint,
		                         sy_sink_progress, sy_sink_commit };
		mid_pull_req_t req = { MID_PULL_FULL, NULL, R.o->dry_run };
		if (!d->pull) {
			rc = mid_error_set(err, MID_ENOTSUP, 0, "binding %s: connector %s cannot pull "
			                   "(set direction to outbound)", R.b->name, d->name);
			goto done;
		}
		if ((rc = mid_store_cursor_get(R.st, R.b->name, &cursor, err)))
			goto done;
		if (!R.o->full && cursor && (d->capabilities & MID_CAP_PULL_SINCE)) {
			req.mode = MID_PULL_SINCE;
			req.cursor = cursor;
		}
		{
			int64_t nlinks = 0, idbytes = 0;
			if ((rc = mid_store_link_count(R.st, R.b->name, &nlinks, &idbytes, err)))
				goto done;
			/* exact: reserved memory that stays unused would still count
			 * once the kernel backs it with huge pages */
			if (nlinks > 0 && sy_reserve(&R.tab, (size_t)nlinks + 64,
			                             (size_t)(idbytes + nlinks) + 4096)) {
				rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
				goto done;
			}
		}
		if ((rc = mid_store_link_each(R.st, R.b->name, sy_load_cb, &R.tab, err)))
			goto done;
		R.total_at_start = (int64_t)R.tab.n;
		if (R.tab.n == 0) {
			int empty = 0;
			if ((rc = mid_store_people_empty(R.st, &empty, err)))
				goto done;
			R.bulk = empty && mid_store_data_version(R.st, &R.data_version, NULL) == MID_OK;
		}
		rc = d->pull(R.conn->inst, &req, &sink, &res, &ferr);
		if (rc) {
			if (err->code == 0) {
				*err = ferr;
				if (err->code == 0)
					mid_error_set(err, rc, 0, "binding %s: the pull failed (%d)",
					              R.b->name, rc);
			}
			if (R.in_txn) {
				mid_store_rollback(R.st, NULL);
				R.in_txn = 0;
			}
			goto done;
		}
		snprintf(rep->source, sizeof rep->source, "%s", res.source);
		if ((rc = sy_commit(&R, 1)))
			goto done;
		if (res.complete && !res.nothing_new && (rc = sy_sweep(&R)))
			goto done;
	}
	if (R.outbound_self && !R.o->dry_run && !R.o->no_push) {
		mid_push_stats_t ps = { 0 };
		if ((rc = mid_outbox_push(in, R.b, R.conn, NULL, 0, &ps, err)))
			goto done;
		rep->counts.pushed += ps.pushed;
		rep->counts.failed += ps.retry + ps.dead;
	}
	if (R.outbound_self)
		mid_store_outbox_count(R.st, R.b->name, MID_OUTBOX_PENDING, &rep->outbox_pending, NULL);
	rc = MID_OK;
done:
	sy_pend_drop(&R);
	if (R.in_txn) {
		mid_store_rollback(R.st, NULL);
		R.in_txn = 0;
	}
	rep->finished = sy_now(&R);
	if (rc == MID_OK) {
		rep->status = MID_RUN_OK;
		if (!rep->message[0])
			snprintf(rep->message, sizeof rep->message, "%s%s",
			         res.nothing_new ? "nothing new to read" : res.source[0] ? "read " : "",
			         res.nothing_new ? "" : res.source);
	} else if (rep->status != MID_RUN_STOPPED) {
		rep->status = MID_RUN_FAILED;
		snprintf(rep->message, sizeof rep->message, "%s", err->text);
	}
	if (outer) {
		mid_store_rollback(R.st, NULL);
	} else {
		if (R.run_id) {
			mid_error_t e2 = { 0 };
			mid_store_run_finish(R.st, R.run_id, rep->finished, rep->status, &rep->counts,
			                     rep->message, in->cfg->runs_kept, &e2);
		}
		if (leased)
			mid_store_lease_release(R.st, R.lease, R.holder, NULL);
	}
	mid_conn_close(R.conn);
	mid_mapper_free(R.map);
	sy_table_free(&R.tab);
	sy_bloom_free(&R.bloom);
	free(R.ib);
	mid_arena_free(&R.arena);
	free(R.pending_cursor);
	free(cursor);
	return rc;
}

int mid_sync_due(mid_instance_t *in, const mid_config_binding_t *b, int64_t now, int *due,
                 int64_t *next_at, mid_error_t *err)
{
	mid_run_t *runs = NULL;
	size_t n = 0;
	int rc;
	*due = 0;
	if (next_at)
		*next_at = 0;
	if (!b->enabled || b->schedule_seconds <= 0)
		return MID_OK;
	if ((rc = mid_store_run_list(in->store, b->name, 1, &runs, &n, err)))
		return rc;
	int64_t next = n ? runs[0].started + b->schedule_seconds * 1000 : now;
	free(runs);
	if (next_at)
		*next_at = next;
	*due = now >= next;
	return MID_OK;
}
