# connectors/null: the smallest complete connector, used by the tests.
if CONNECTOR_NULL
pkglib_LTLIBRARIES += connectors/null/null.la
connectors_null_null_la_SOURCES = connectors/null/null.c
connectors_null_null_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
connectors_null_null_la_LDFLAGS = $(MID_MODULE_FLAGS)
connectors_null_null_la_LIBADD = $(JANSSON_LIBS)
endif
