# gateway/: the daemon, the CLI and the core they share.
noinst_LTLIBRARIES += gateway/libmidcore.la
gateway_libmidcore_la_SOURCES = \
	gateway/log.c gateway/log.h \
	gateway/modhost.c gateway/modhost.h
gateway_libmidcore_la_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS) $(JANSSON_CFLAGS)
gateway_libmidcore_la_LIBADD = $(LTDL_LIBS) $(SODIUM_LIBS) $(JANSSON_LIBS)

sbin_PROGRAMS += gateway/mobileidd
gateway_mobileidd_SOURCES = gateway/mobileidd.c
gateway_mobileidd_LDADD = gateway/libmidcore.la

check_PROGRAMS += gateway/modhost_test
TESTS += gateway/modhost_test
gateway_modhost_test_SOURCES = gateway/modhost_test.c
gateway_modhost_test_LDADD = gateway/libmidcore.la
