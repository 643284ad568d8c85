# gateway/store.mk -- the store (SQLite behind gateway/db.h) and the
# secret store, as a convenience library the daemon and the CLI link.
noinst_LTLIBRARIES += gateway/libmidstore.la
gateway_libmidstore_la_SOURCES = \
	gateway/db.h gateway/db_sqlite.c \
	gateway/store.h gateway/store_int.h gateway/store_sql.h \
	gateway/store.c gateway/store_sql.c gateway/store_people.c gateway/store_sync.c \
	gateway/migrations.c \
	gateway/secrets.h gateway/secrets.c
gateway_libmidstore_la_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) $(SODIUM_CFLAGS) $(JANSSON_CFLAGS)
gateway_libmidstore_la_LIBADD = $(SQLITE_LIBS) $(SODIUM_LIBS) $(JANSSON_LIBS)

check_PROGRAMS += gateway/store_test gateway/secrets_test
TESTS += gateway/store_test gateway/secrets_test
gateway_store_test_SOURCES = gateway/store_test.c
gateway_store_test_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) $(SODIUM_CFLAGS)
gateway_store_test_LDADD = gateway/libmidstore.la
gateway_secrets_test_SOURCES = gateway/secrets_test.c
gateway_secrets_test_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
gateway_secrets_test_LDADD = gateway/libmidstore.la
