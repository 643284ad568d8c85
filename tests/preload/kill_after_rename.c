/* tests/preload/kill_after_rename.c -- an LD_PRELOAD shim for crash tests:
 * after a successful rename (renameat2, renameat, rename, or link for the
 * copy-free fallback) whose target path matches the shell pattern in the
 * environment variable MID_TEST_KILL_AFTER_RENAME_TO (fnmatch(3)), the
 * process kills itself with SIGKILL. It puts a crash at an exact point of a run, e.g.
 * the instant the CSV connector has moved a file into its archive. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static void maybe_die(int rc, const char *target)
{
	const char *m = getenv("MID_TEST_KILL_AFTER_RENAME_TO");
	if (rc == 0 && m && *m && target && fnmatch(m, target, 0) == 0)
		raise(SIGKILL);
}

static void *real_fn(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);
	if (!f)
		abort();
	return f;
}

typedef int (*renameat2_fn)(int, const char *, int, const char *, unsigned int);
typedef int (*renameat_fn)(int, const char *, int, const char *);
typedef int (*path2_fn)(const char *, const char *);

int renameat2(int ofd, const char *o, int nfd, const char *n, unsigned int flags);
int renameat2(int ofd, const char *o, int nfd, const char *n, unsigned int flags)
{
	renameat2_fn real = (renameat2_fn)real_fn("renameat2");
	int rc = real(ofd, o, nfd, n, flags);
	maybe_die(rc, n);
	return rc;
}

int renameat(int ofd, const char *o, int nfd, const char *n)
{
	renameat_fn real = (renameat_fn)real_fn("renameat");
	int rc = real(ofd, o, nfd, n);
	maybe_die(rc, n);
	return rc;
}

int rename(const char *o, const char *n)
{
	path2_fn real = (path2_fn)real_fn("rename");
	int rc = real(o, n);
	maybe_die(rc, n);
	return rc;
}

int link(const char *o, const char *n)
{
	path2_fn real = (path2_fn)real_fn("link");
	int rc = real(o, n);
	maybe_die(rc, n);
	return rc;
}
