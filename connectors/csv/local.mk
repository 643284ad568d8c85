# connectors/csv: the CSV batch connector, its reader, tests and fuzz target.
# The descriptor's settings_schema is generated from the schema file so the
# two never differ.
CSV_SCHEMA_JSON = $(top_srcdir)/schemas/connector-csv.schema.json
CSV_SCHEMA_H = connectors/csv/csv-schema.h
BUILT_SOURCES += $(CSV_SCHEMA_H)
CLEANFILES += $(CSV_SCHEMA_H)
EXTRA_DIST += connectors/csv/csvread.h tests/mock_host.h

$(CSV_SCHEMA_H): $(CSV_SCHEMA_JSON) $(top_srcdir)/connectors/csv/local.mk
	$(AM_V_GEN)$(MKDIR_P) connectors/csv && { \
	  echo '/* Generated from schemas/connector-csv.schema.json by connectors/csv/local.mk. */'; \
	  echo 'static const char cv_settings_schema[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/	/\\t/g' -e 's/^/"/' -e 's/$$/\\n"/' $(CSV_SCHEMA_JSON); \
	  echo ';'; \
	} > $@-t && mv $@-t $@

# The mock host and recording sink, for every connector's unit tests.
noinst_LTLIBRARIES += tests/libmockhost.la
tests_libmockhost_la_SOURCES = tests/mock_host.c tests/mock_host.h

if CONNECTOR_CSV
pkglib_LTLIBRARIES += connectors/csv/csv.la
connectors_csv_csv_la_SOURCES = connectors/csv/csv.c connectors/csv/csvread.c \
	connectors/csv/csvread.h
nodist_connectors_csv_csv_la_SOURCES = $(CSV_SCHEMA_H)
connectors_csv_csv_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
connectors_csv_csv_la_LDFLAGS = $(MID_MODULE_FLAGS)
connectors_csv_csv_la_LIBADD = $(JANSSON_LIBS)

check_PROGRAMS += connectors/csv/csvread_test connectors/csv/csv_test
TESTS += connectors/csv/csvread_test connectors/csv/csv_test
connectors_csv_csvread_test_SOURCES = connectors/csv/csvread_test.c connectors/csv/csvread.c
connectors_csv_csvread_test_CFLAGS = $(AM_CFLAGS)
# csv_test includes csv.c to reach its statics.
connectors_csv_csv_test_SOURCES = connectors/csv/csv_test.c connectors/csv/csvread.c
nodist_connectors_csv_csv_test_SOURCES = $(CSV_SCHEMA_H)
EXTRA_connectors_csv_csv_test_DEPENDENCIES = $(top_srcdir)/connectors/csv/csv.c
connectors_csv_csv_test_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
connectors_csv_csv_test_LDADD = tests/libmockhost.la $(JANSSON_LIBS)
endif

if FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_csv
tests_fuzz_fuzz_csv_SOURCES = tests/fuzz/fuzz_csv.c connectors/csv/csvread.c
tests_fuzz_fuzz_csv_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_csv_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
endif

# The generated schema header before the objects that include it (also when
# a target is built alone, without BUILT_SOURCES).
connectors/csv/csv_la-csv.lo connectors/csv/csv_test-csv_test.o: $(CSV_SCHEMA_H)
