# tests/: broken modules for the plugin host tests, shell integration tests,
# the summary runner. Unit tests live next to the code they test.
check_LTLIBRARIES = tests/modules/bk_badabi.la tests/modules/bk_newminor.la \
	tests/modules/bk_small.la tests/modules/bk_nosym.la tests/modules/bk_caps.la \
	tests/modules/bk_failopen.la tests/preload/kill_after_rename.la
BK_FLAGS = -avoid-version -no-undefined -shared -rpath /nowhere \
	-export-symbols-regex '^mid_connector$$' $(SAN_LDFLAGS)
tests_modules_bk_badabi_la_SOURCES = tests/modules/broken.c
tests_modules_bk_badabi_la_CPPFLAGS = $(AM_CPPFLAGS) -DBROKEN_BADABI -DBROKEN_NAME='"badabi"'
tests_modules_bk_badabi_la_LDFLAGS = -module $(BK_FLAGS)
tests_modules_bk_newminor_la_SOURCES = tests/modules/broken.c
tests_modules_bk_newminor_la_CPPFLAGS = $(AM_CPPFLAGS) -DBROKEN_NEWMINOR -DBROKEN_NAME='"newminor"'
tests_modules_bk_newminor_la_LDFLAGS = -module $(BK_FLAGS)
tests_modules_bk_small_la_SOURCES = tests/modules/broken.c
tests_modules_bk_small_la_CPPFLAGS = $(AM_CPPFLAGS) -DBROKEN_SMALL -DBROKEN_NAME='"small"'
tests_modules_bk_small_la_LDFLAGS = -module $(BK_FLAGS)
tests_modules_bk_nosym_la_SOURCES = tests/modules/broken.c
tests_modules_bk_nosym_la_CPPFLAGS = $(AM_CPPFLAGS) -DBROKEN_NOSYM -DBROKEN_NAME='"nosym"'
tests_modules_bk_nosym_la_LDFLAGS = -module -avoid-version -no-undefined -shared -rpath /nowhere \
	-export-symbols-regex '^not_the_descriptor$$' $(SAN_LDFLAGS)
tests_modules_bk_caps_la_SOURCES = tests/modules/broken.c
tests_modules_bk_caps_la_CPPFLAGS = $(AM_CPPFLAGS) -DBROKEN_CAPS -DBROKEN_NAME='"caps"'
tests_modules_bk_caps_la_LDFLAGS = -module $(BK_FLAGS)
tests_modules_bk_failopen_la_SOURCES = tests/modules/broken.c
tests_modules_bk_failopen_la_CPPFLAGS = $(AM_CPPFLAGS) -DBROKEN_FAILOPEN -DBROKEN_NAME='"failopen"'
tests_modules_bk_failopen_la_LDFLAGS = -module $(BK_FLAGS)

# An LD_PRELOAD shim that kills the process right after a rename (crash tests).
tests_preload_kill_after_rename_la_SOURCES = tests/preload/kill_after_rename.c
tests_preload_kill_after_rename_la_LDFLAGS = -module -avoid-version -shared -rpath /nowhere \
	$(SAN_LDFLAGS)

# Shell integration tests of the CLI and the daemon.
TESTS += tests/integration/cli_basics.sh tests/integration/daemon.sh tests/integration/daemon_sync.sh
EXTRA_DIST += tests/instance_fixture.h tests/integration/lib.sh tests/integration/cli_basics.sh tests/integration/daemon.sh tests/integration/daemon_sync.sh

# The store-writes bound benchmark (sqlite3 only; not part of make check).
EXTRA_DIST += tests/bench/store_bound/run.sh tests/bench/store_bound/store_bound.py \
	tests/bench/store_bound/README.md
