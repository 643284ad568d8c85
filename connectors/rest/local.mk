# connectors/rest: the REST connector, its unit tests, integration tests
# against a real SCIM server (tests/peers), fuzz target and benchmark.
REST_SCHEMA_JSON = $(top_srcdir)/schemas/connector-rest.schema.json
REST_SCHEMA_H = connectors/rest/rest-schema.h
BUILT_SOURCES += $(REST_SCHEMA_H)
CLEANFILES += $(REST_SCHEMA_H)
EXTRA_DIST += connectors/rest/restjson.h connectors/rest/README.md \
	tests/peers/package.json tests/peers/package-lock.json tests/peers/scim-server.mjs \
	tests/integration/scim_lib.sh tests/bench/bench_scim_pull.sh \
	tests/integration/rest_test_cmd.sh tests/integration/scim_sync.sh \
	tests/integration/scim_faults.sh

$(REST_SCHEMA_H): $(REST_SCHEMA_JSON) $(top_srcdir)/connectors/rest/local.mk
	$(AM_V_GEN)$(MKDIR_P) connectors/rest && { \
	  echo '/* Generated from schemas/connector-rest.schema.json by connectors/rest/local.mk. */'; \
	  echo 'static const char rs_settings_schema[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/	/\\t/g' -e 's/^/"/' -e 's/$$/\\n"/' $(REST_SCHEMA_JSON); \
	  echo ';'; \
	} > $@-t && mv $@-t $@

if CONNECTOR_REST
pkglib_LTLIBRARIES += connectors/rest/rest.la
connectors_rest_rest_la_SOURCES = connectors/rest/rest.c connectors/rest/restjson.c \
	connectors/rest/restpage.c \
	connectors/rest/restjson.h
nodist_connectors_rest_rest_la_SOURCES = $(REST_SCHEMA_H)
connectors_rest_rest_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS) -pthread
connectors_rest_rest_la_LDFLAGS = $(MID_MODULE_FLAGS)
connectors_rest_rest_la_LIBADD = $(JANSSON_LIBS) $(CURL_LIBS) -lpthread

check_PROGRAMS += connectors/rest/restjson_test connectors/rest/rest_test
TESTS += connectors/rest/restjson_test connectors/rest/rest_test \
	tests/integration/rest_test_cmd.sh tests/integration/scim_sync.sh \
	tests/integration/scim_faults.sh
connectors_rest_restjson_test_SOURCES = connectors/rest/restjson_test.c connectors/rest/restjson.c \
	connectors/rest/restpage.c connectors/rest/restpage_diff.c connectors/rest/restpage_diff.h
connectors_rest_restjson_test_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
connectors_rest_restjson_test_LDADD = $(JANSSON_LIBS)
# rest_test includes rest.c to reach its statics (a scripted transport
# replaces libcurl's).
connectors_rest_rest_test_SOURCES = connectors/rest/rest_test.c connectors/rest/restjson.c \
	connectors/rest/restpage.c
nodist_connectors_rest_rest_test_SOURCES = $(REST_SCHEMA_H)
EXTRA_connectors_rest_rest_test_DEPENDENCIES = $(top_srcdir)/connectors/rest/rest.c
connectors_rest_rest_test_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS) -pthread
connectors_rest_rest_test_LDADD = tests/libmockhost.la $(JANSSON_LIBS) $(CURL_LIBS) -lpthread
endif

if FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_rest_response
tests_fuzz_fuzz_rest_response_SOURCES = tests/fuzz/fuzz_rest_response.c connectors/rest/restjson.c
tests_fuzz_fuzz_rest_response_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_rest_response_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_rest_response_LDADD = $(JANSSON_LIBS)
noinst_PROGRAMS += tests/fuzz/fuzz_rest_page
tests_fuzz_fuzz_rest_page_SOURCES = tests/fuzz/fuzz_rest_page.c connectors/rest/restjson.c \
	connectors/rest/restpage.c connectors/rest/restpage_diff.c
tests_fuzz_fuzz_rest_page_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_rest_page_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_rest_page_LDADD = $(JANSSON_LIBS)
endif

connectors/rest/rest_la-rest.lo connectors/rest/rest_test-rest_test.o: $(REST_SCHEMA_H)
