# reader/: credential formats, Wiegand codec, reference reader library,
# phone helper and the reader simulator. libmidcred.la needs libsodium only.
noinst_LTLIBRARIES += reader/libmidcred.la
reader_libmidcred_la_SOURCES = \
	reader/cerr.c reader/cerr.h \
	reader/wiegand.c reader/wiegand.h \
	reader/credfmt.c reader/credfmt.h \
	reader/reader.c reader/reader.h \
	reader/phone.c reader/phone.h
reader_libmidcred_la_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
reader_libmidcred_la_LIBADD = $(SODIUM_LIBS)

bin_PROGRAMS += reader/mid-reader-sim
reader_mid_reader_sim_SOURCES = reader/mid-reader-sim.c
reader_mid_reader_sim_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
reader_mid_reader_sim_LDADD = reader/libmidcred.la $(SODIUM_LIBS)

# Unit tests (TAP).
check_PROGRAMS += reader/wiegand_test reader/credfmt_test reader/reader_test
TESTS += reader/wiegand_test reader/credfmt_test reader/reader_test
reader_wiegand_test_SOURCES = reader/wiegand_test.c tests/tap.h
reader_wiegand_test_LDADD = reader/libmidcred.la $(SODIUM_LIBS)
reader_credfmt_test_SOURCES = reader/credfmt_test.c reader/testutil.h tests/tap.h
reader_credfmt_test_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
reader_credfmt_test_LDADD = reader/libmidcred.la $(SODIUM_LIBS)
reader_reader_test_SOURCES = reader/reader_test.c reader/testutil.h tests/tap.h
reader_reader_test_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
reader_reader_test_LDADD = reader/libmidcred.la $(SODIUM_LIBS)

# The simulator end to end: a fixture writer (not installed) and a script.
check_PROGRAMS += reader/sim_fixture
reader_sim_fixture_SOURCES = reader/sim_fixture.c
reader_sim_fixture_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
reader_sim_fixture_LDADD = reader/libmidcred.la $(SODIUM_LIBS)
TESTS += reader/sim_test.sh
EXTRA_DIST += reader/sim_test.sh schemas/credential-format.md

# Benchmarks: built with the tree, run by hand or `make reader-bench`,
# never by make check.
noinst_PROGRAMS += tests/bench/bench_verify tests/bench/bench_issue
tests_bench_bench_verify_SOURCES = tests/bench/bench_verify.c
tests_bench_bench_verify_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
tests_bench_bench_verify_LDADD = reader/libmidcred.la $(SODIUM_LIBS)
tests_bench_bench_issue_SOURCES = tests/bench/bench_issue.c
tests_bench_bench_issue_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
tests_bench_bench_issue_LDADD = reader/libmidcred.la $(SODIUM_LIBS)
.PHONY: reader-bench
reader-bench: tests/bench/bench_verify$(EXEEXT) tests/bench/bench_issue$(EXEEXT)
	tests/bench/bench_verify$(EXEEXT)
	tests/bench/bench_issue$(EXEEXT)

# libFuzzer targets (configure --enable-fuzzing CC=clang). The library
# sources are compiled into each target so that libFuzzer sees their coverage.
if FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_credential tests/fuzz/fuzz_bundle tests/fuzz/fuzz_presentation
MID_CRED_FUZZ_SRCS = reader/cerr.c reader/wiegand.c reader/credfmt.c reader/reader.c
MID_CRED_FUZZ_CF = $(AM_CFLAGS) $(SODIUM_CFLAGS) -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer
MID_CRED_FUZZ_LF = $(AM_LDFLAGS) -fsanitize=fuzzer,address,undefined
tests_fuzz_fuzz_credential_SOURCES = tests/fuzz/fuzz_credential.c $(MID_CRED_FUZZ_SRCS)
tests_fuzz_fuzz_credential_CFLAGS = $(MID_CRED_FUZZ_CF)
tests_fuzz_fuzz_credential_LDFLAGS = $(MID_CRED_FUZZ_LF)
tests_fuzz_fuzz_credential_LDADD = $(SODIUM_LIBS)
tests_fuzz_fuzz_bundle_SOURCES = tests/fuzz/fuzz_bundle.c $(MID_CRED_FUZZ_SRCS)
tests_fuzz_fuzz_bundle_CFLAGS = $(MID_CRED_FUZZ_CF)
tests_fuzz_fuzz_bundle_LDFLAGS = $(MID_CRED_FUZZ_LF)
tests_fuzz_fuzz_bundle_LDADD = $(SODIUM_LIBS)
tests_fuzz_fuzz_presentation_SOURCES = tests/fuzz/fuzz_presentation.c $(MID_CRED_FUZZ_SRCS)
tests_fuzz_fuzz_presentation_CFLAGS = $(MID_CRED_FUZZ_CF)
tests_fuzz_fuzz_presentation_LDFLAGS = $(MID_CRED_FUZZ_LF)
tests_fuzz_fuzz_presentation_LDADD = $(SODIUM_LIBS)
endif
