# gateway/sync.mk: sync engine (owned by the sync engineer): mapper,
# correlator/planner/applier (sync.c), outbox and pusher, the CLI's sync,
# runs, people and outbox commands, and their tests.
gateway_libmidcore_la_SOURCES += \
	gateway/mapper.c gateway/mapper.h \
	gateway/sync.c gateway/sync.h \
	gateway/outbox.c gateway/outbox.h

check_PROGRAMS += gateway/mapper_test gateway/sync_test gateway/outbox_test
TESTS += gateway/mapper_test gateway/sync_test gateway/outbox_test
gateway_mapper_test_SOURCES = gateway/mapper_test.c
gateway_mapper_test_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(SODIUM_CFLAGS)
gateway_mapper_test_LDADD = gateway/libmidcore.la
gateway_sync_test_SOURCES = gateway/sync_test.c
gateway_sync_test_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(SODIUM_CFLAGS)
gateway_sync_test_LDADD = gateway/libmidcore.la
gateway_outbox_test_SOURCES = gateway/outbox_test.c
gateway_outbox_test_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(SODIUM_CFLAGS)
gateway_outbox_test_LDADD = gateway/libmidcore.la

# Integration tests (shell, TAP) of the sync engine with the CSV connector.
TESTS += tests/integration/sync_csv.sh tests/integration/sync_crash.sh \
	tests/integration/sync_archive.sh
EXTRA_DIST += tests/integration/sync_csv.sh tests/integration/sync_crash.sh \
	tests/integration/sync_archive.sh \
	tests/bench/bench_csv_import.sh
