# gateway/api.mk: the HTTP API (owned by the API engineer): the server in
# libmidcore, the phone simulator, the API tests, the fuzz target of the
# body parser and the fetch benchmark.
gateway_libmidcore_la_SOURCES += \
	gateway/api.c gateway/api.h gateway/api_int.h \
	gateway/api_body.c gateway/api_sign.c \
	gateway/api_phone.c gateway/api_reader.c gateway/api_admin.c \
	gateway/api_verify.c gateway/api_verify.h \
	gateway/replay.c gateway/replay.h
gateway_libmidcore_la_CFLAGS += $(MHD_CFLAGS) -pthread
gateway_libmidcore_la_LIBADD += $(MHD_LIBS) -lpthread

# The phone simulator: device keys in a state file, enroll, fetch, answer.
bin_PROGRAMS += tools/mid-phone-sim
tools_mid_phone_sim_SOURCES = tools/mid-phone-sim.c gateway/api_sign.c
tools_mid_phone_sim_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS)
tools_mid_phone_sim_LDADD = reader/libmidcred.la $(CURL_LIBS) $(JANSSON_LIBS) $(SODIUM_LIBS)

# Unit tests of the server (routes vs schemas/openapi.yaml, limits, auth,
# transport rules) and the shell tests against a running daemon.
check_PROGRAMS += gateway/api_test
TESTS += gateway/api_test
gateway_api_test_SOURCES = gateway/api_test.c tests/tap.h
gateway_api_test_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS) \
	$(MHD_CFLAGS) -DMID_OPENAPI_FILE='"$(abs_top_srcdir)/schemas/openapi.yaml"'
gateway_api_test_LDADD = gateway/libmidcore.la $(CURL_LIBS)

# The in-memory replay cache (includes gateway/replay.c).
check_PROGRAMS += gateway/replay_test
TESTS += gateway/replay_test
gateway_replay_test_SOURCES = gateway/replay_test.c tests/tap.h
gateway_replay_test_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS) -pthread
gateway_replay_test_LDADD = $(SODIUM_LIBS) -lpthread

TESTS += tests/integration/api_http.sh tests/integration/e2e_standalone.sh
EXTRA_DIST += tests/integration/api_http.sh tests/integration/e2e_standalone.sh \
	tests/bench/bench_fetch.sh tests/bench/fetch.lua \
	docs/api.md schemas/openapi.yaml

# Benchmark (not part of make check): make api-bench
.PHONY: api-bench
api-bench: all
	top_builddir=$(abs_top_builddir) top_srcdir=$(abs_top_srcdir) \
		$(SHELL) $(top_srcdir)/tests/bench/bench_fetch.sh

# libFuzzer target for the JSON body parser (configure --enable-fuzzing CC=clang).
if FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_http_body
tests_fuzz_fuzz_http_body_SOURCES = tests/fuzz/fuzz_http_body.c gateway/api_body.c
tests_fuzz_fuzz_http_body_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) \
	-fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer
tests_fuzz_fuzz_http_body_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer,address,undefined
tests_fuzz_fuzz_http_body_LDADD = $(JANSSON_LIBS)
endif
