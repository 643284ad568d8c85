/* gateway/modhost.c -- see modhost.h. */
#include "config.h"
#include "gateway/modhost.h"
#include "gateway/log.h"

#include <dirent.h>
#include <errno.h>
#include <ltdl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

struct mid_modhost {
	char **dirs;
	size_t ndirs;
	mid_module_t **mods;
	size_t nmods;
};

/* The part of the descriptor that ABI 1.0 requires a module to have. */
#define MH_MIN_SIZE (offsetof(mid_connector_t, flush) + sizeof(void *))

static int mh_ltdl_refs;

int mid_modhost_new(const char *const *dirs, size_t n, mid_modhost_t **out,
                    mid_error_t *err)
{
	mid_modhost_t *mh = calloc(1, sizeof *mh);
	if (!mh)
		goto nomem;
	mh->dirs = calloc(n ? n : 1, sizeof *mh->dirs);
	if (!mh->dirs)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		if (!(mh->dirs[i] = strdup(dirs[i])))
			goto nomem;
		mh->ndirs++;
	}
	if (mh_ltdl_refs++ == 0 && lt_dlinit() != 0) {
		mh_ltdl_refs--;
		mid_modhost_free(mh);
		return mid_error_set(err, MID_EINTERNAL, 0,
		                     "cannot initialise libltdl: %s", lt_dlerror());
	}
	*out = mh;
	return MID_OK;
nomem:
	if (mh) {
		for (size_t i = 0; i < mh->ndirs; i++)
			free(mh->dirs[i]);
		free(mh->dirs);
		free(mh);
	}
	return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
}

static void mh_module_free(mid_module_t *m)
{
	if (!m)
		return;
	if (m->handle_)
		lt_dlclose(m->handle_);
	free(m->name);
	free(m->file);
	free(m);
}

void mid_modhost_free(mid_modhost_t *mh)
{
	if (!mh)
		return;
	for (size_t i = 0; i < mh->nmods; i++)
		mh_module_free(mh->mods[i]);
	free(mh->mods);
	for (size_t i = 0; i < mh->ndirs; i++)
		free(mh->dirs[i]);
	free(mh->dirs);
	free(mh);
	if (--mh_ltdl_refs == 0)
		lt_dlexit();
}

const char *mid_caps_string(uint32_t caps, char *buf, size_t size)
{
	static const struct { uint32_t bit; const char *name; } names[] = {
		{ MID_CAP_PULL_FULL, "pull-full" },
		{ MID_CAP_PULL_SINCE, "pull-since" },
		{ MID_CAP_PUSH_UPSERT, "push-upsert" },
		{ MID_CAP_PUSH_REMOVE, "push-remove" },
		{ MID_CAP_TEST, "test" },
	};
	size_t len = 0;
	if (size)
		buf[0] = '\0';
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (!(caps & names[i].bit))
			continue;
		int w = snprintf(buf + len, size > len ? size - len : 0, "%s%s",
		                 len ? "," : "", names[i].name);
		if (w > 0)
			len += (size_t)w;
	}
	if (size && len == 0)
		snprintf(buf, size, "none");
	return buf;
}

/* Check a descriptor the module exported and copy it into `d`, treating
 * fields past the module's struct_size as absent. */
static int mh_check(const char *file, const mid_connector_t *src,
                    mid_connector_t *d, mid_error_t *err)
{
	if (src->abi_major != MID_CONNECTOR_ABI_MAJOR)
		return mid_error_set(err, MID_EINVAL, 0,
		    "%s: connector ABI %u.%u is not supported by this gateway (ABI %u.%u); "
		    "install the module built for this gateway version",
		    file, src->abi_major, src->abi_minor,
		    MID_CONNECTOR_ABI_MAJOR, MID_CONNECTOR_ABI_MINOR);
	if (src->abi_minor > MID_CONNECTOR_ABI_MINOR)
		return mid_error_set(err, MID_EINVAL, 0,
		    "%s: connector ABI %u.%u is newer than this gateway's ABI %u.%u; "
		    "upgrade the gateway or install an older module",
		    file, src->abi_major, src->abi_minor,
		    MID_CONNECTOR_ABI_MAJOR, MID_CONNECTOR_ABI_MINOR);
	if (src->struct_size < MH_MIN_SIZE)
		return mid_error_set(err, MID_EINVAL, 0,
		    "%s: descriptor size %u is smaller than ABI %u.0 requires (%zu); "
		    "the module was built against a broken header",
		    file, src->struct_size, MID_CONNECTOR_ABI_MAJOR, (size_t)MH_MIN_SIZE);
	memset(d, 0, sizeof *d);
	memcpy(d, src, src->struct_size < sizeof *d ? src->struct_size : sizeof *d);
	if (!d->name || !*d->name || strlen(d->name) > 63)
		return mid_error_set(err, MID_EINVAL, 0,
		    "%s: descriptor has no valid connector name", file);
	for (const char *p = d->name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return mid_error_set(err, MID_EINVAL, 0,
			    "%s: connector name \"%s\" may only use a-z, 0-9, - and _", file, d->name);
	if (!d->open)
		return mid_error_set(err, MID_EINVAL, 0,
		    "%s: connector \"%s\" has no open function", file, d->name);
	struct { uint32_t caps; const void *fn; const char *what; } agree[] = {
		{ MID_CAP_PULL_FULL | MID_CAP_PULL_SINCE, (const void *)d->pull, "pull" },
		{ MID_CAP_PUSH_UPSERT | MID_CAP_PUSH_REMOVE, (const void *)d->push, "push" },
		{ MID_CAP_TEST, (const void *)d->test, "test" },
	};
	for (size_t i = 0; i < sizeof agree / sizeof agree[0]; i++) {
		int has_cap = (d->capabilities & agree[i].caps) != 0;
		if (has_cap != (agree[i].fn != NULL))
			return mid_error_set(err, MID_EINVAL, 0,
			    "%s: connector \"%s\" %s the %s capability but its %s function is %s",
			    file, d->name, has_cap ? "declares" : "does not declare",
			    agree[i].what, agree[i].what, agree[i].fn ? "set" : "missing");
	}
	if (!d->version)
		d->version = "unknown";
	if (!d->description)
		d->description = "";
	return MID_OK;
}

int mid_modhost_load_file(mid_modhost_t *mh, const char *file,
                          const mid_module_t **out, mid_error_t *err)
{
	int rc;
	mid_module_t *m = NULL;
	lt_dladvise adv = NULL;
	lt_dlhandle h = NULL;

	for (size_t i = 0; i < mh->nmods; i++)
		if (strcmp(mh->mods[i]->file, file) == 0) {
			*out = mh->mods[i];
			return MID_OK;
		}
	if (lt_dladvise_init(&adv) || lt_dladvise_ext(&adv) || lt_dladvise_local(&adv)) {
		rc = mid_error_set(err, MID_EINTERNAL, 0, "libltdl: %s", lt_dlerror());
		goto out;
	}
	h = lt_dlopenadvise(file, adv);
	if (!h) {
		const char *why = lt_dlerror();
		rc = mid_error_set(err, MID_EIO, 0,
		    "%s: cannot load module: %s; check the file is a connector built for "
		    "this system", file, why ? why : "unknown error");
		goto out;
	}
	const mid_connector_t *src = lt_dlsym(h, MID_CONNECTOR_SYMBOL);
	if (!src) {
		rc = mid_error_set(err, MID_EINVAL, 0,
		    "%s: not a connector module: symbol \"%s\" is missing",
		    file, MID_CONNECTOR_SYMBOL);
		goto out;
	}
	m = calloc(1, sizeof *m);
	if (!m || !(m->file = strdup(file))) {
		rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		goto out;
	}
	if ((rc = mh_check(file, src, &m->desc, err)) != MID_OK)
		goto out;
	for (size_t i = 0; i < mh->nmods; i++)
		if (strcmp(mh->mods[i]->name, m->desc.name) == 0) {
			rc = mid_error_set(err, MID_ECONFLICT, 0,
			    "%s: connector \"%s\" is already loaded from %s",
			    file, m->desc.name, mh->mods[i]->file);
			goto out;
		}
	mid_module_t **mods = realloc(mh->mods, (mh->nmods + 1) * sizeof *mods);
	if (!mods || !(m->name = strdup(m->desc.name))) {
		if (mods)
			mh->mods = mods;
		rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		goto out;
	}
	mh->mods = mods;
	m->handle_ = h;
	h = NULL;
	mh->mods[mh->nmods++] = m;
	*out = m;
	m = NULL;
	rc = MID_OK;
out:
	if (adv)
		lt_dladvise_destroy(&adv);
	if (h)
		lt_dlclose(h);
	if (m) {
		m->handle_ = NULL;
		mh_module_free(m);
	}
	return rc;
}

int mid_modhost_load(mid_modhost_t *mh, const char *name,
                     const mid_module_t **out, mid_error_t *err)
{
	for (size_t i = 0; i < mh->nmods; i++)
		if (strcmp(mh->mods[i]->name, name) == 0) {
			*out = mh->mods[i];
			return MID_OK;
		}
	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == '.')
			return mid_error_set(err, MID_EINVAL, 0,
			    "connector name \"%s\" must not contain '/' or '.'", name);
	for (size_t i = 0; i < mh->ndirs; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s.so", mh->dirs[i], name);
		if (access(path, F_OK) != 0)
			continue;
		return mid_modhost_load_file(mh, path, out, err);
	}
	char dirs[1024] = "";
	size_t len = 0;
	for (size_t i = 0; i < mh->ndirs && len < sizeof dirs; i++) {
		int w = snprintf(dirs + len, sizeof dirs - len, "%s%s", i ? ":" : "", mh->dirs[i]);
		if (w > 0)
			len += (size_t)w;
	}
	return mid_error_set(err, MID_ENOTFOUND, 0,
	    "connector \"%s\" not found: no %s.so in the module path (%s); "
	    "run `mobileidctl connectors` to list the installed ones",
	    name, name, mh->ndirs ? dirs : "empty");
}

static int mh_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void mid_modhost_scan(mid_modhost_t *mh, mid_modhost_visit_fn found, void *ctx)
{
	for (size_t i = 0; i < mh->ndirs; i++) {
		DIR *d = opendir(mh->dirs[i]);
		if (!d)
			continue;
		char **names = NULL;
		size_t n = 0, cap = 0;
		struct dirent *de;
		while ((de = readdir(d))) {
			size_t l = strlen(de->d_name);
			if (l < 4 || strcmp(de->d_name + l - 3, ".so") != 0)
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 16;
				char **nn = realloc(names, nc * sizeof *nn);
				if (!nn)
					break;
				names = nn;
				cap = nc;
			}
			if (!(names[n] = strdup(de->d_name)))
				break;
			n++;
		}
		closedir(d);
		if (n)
			qsort(names, n, sizeof *names, mh_cmp);
		for (size_t k = 0; k < n; k++) {
			char path[4096];
			mid_error_t err = { 0 };
			const mid_module_t *mod = NULL;
			snprintf(path, sizeof path, "%s/%s", mh->dirs[i], names[k]);
			int rc = mid_modhost_load_file(mh, path, &mod, &err);
			if (rc == MID_ECONFLICT) {
				free(names[k]);
				continue; /* shadowed by an earlier directory */
			}
			found(ctx, path, rc == MID_OK ? mod : NULL, &err);
			free(names[k]);
		}
		free(names);
	}
}

/* ---- host function table ---------------------------------------------- */

static void ht_log(void *ctx, int level, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void ht_log(void *ctx, int level, const char *fmt, va_list ap)
{
	mid_hosttab_t *t = ctx;
	char line[1024];
	vsnprintf(line, sizeof line, fmt, ap);
	mid_log(level, "connector %s: %s", t->module_name, line);
}

static int ht_secret_get(void *ctx, const char *name, char **value, size_t *len,
                         mid_error_t *err)
{
	mid_hosttab_t *t = ctx;
	if (!t->lookup)
		return mid_error_set(err, MID_ENOTFOUND, 0,
		                     "secret \"%s\": no secret store is open", name);
	return t->lookup(t->lookup_ctx, name, value, len, err);
}

static void ht_secret_free(void *ctx, char *value, size_t len)
{
	(void)ctx;
	if (!value)
		return;
	sodium_memzero(value, len);
	free(value);
}

static int64_t ht_now_ms(void *ctx)
{
	struct timespec ts;
	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t ht_mono_ms(void *ctx)
{
	struct timespec ts;
	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void mid_hosttab_init(mid_hosttab_t *t, const char *module_name,
                      const char *state_dir, mid_secret_lookup_fn lookup,
                      void *lookup_ctx)
{
	memset(t, 0, sizeof *t);
	snprintf(t->module_name, sizeof t->module_name, "%s", module_name);
	t->lookup = lookup;
	t->lookup_ctx = lookup_ctx;
	t->state_dir = state_dir ? strdup(state_dir) : NULL;
	t->http.user_agent = PACKAGE_NAME "/" PACKAGE_VERSION;
	t->http.connect_timeout_ms = 10000;
	t->http.total_timeout_ms = 60000;
	t->http.max_response_bytes = 16u << 20;
	t->host.abi_major = MID_CONNECTOR_ABI_MAJOR;
	t->host.abi_minor = MID_CONNECTOR_ABI_MINOR;
	t->host.struct_size = sizeof t->host;
	t->host.ctx = t;
	t->host.log = ht_log;
	t->host.secret_get = ht_secret_get;
	t->host.secret_free = ht_secret_free;
	t->host.now_ms = ht_now_ms;
	t->host.monotonic_ms = ht_mono_ms;
	t->host.http = &t->http;
	t->host.state_dir = t->state_dir ? t->state_dir : ".";
}

void mid_hosttab_clear(mid_hosttab_t *t)
{
	free(t->state_dir);
	t->state_dir = NULL;
}
