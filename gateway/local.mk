# gateway/: the daemon, the CLI and the core they share.
noinst_LTLIBRARIES += gateway/libmidcore.la
gateway_libmidcore_la_SOURCES = \
	gateway/types.h gateway/log.c gateway/log.h \
	gateway/modhost.c gateway/modhost.h \
	gateway/instance.c gateway/instance.h \
	gateway/sdnotify.c gateway/sdnotify.h \
	gateway/daemon.c gateway/daemon.h
gateway_libmidcore_la_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS) $(JANSSON_CFLAGS)
gateway_libmidcore_la_LIBADD = gateway/libmidconfig.la gateway/libmidstore.la $(LTDL_LIBS) $(SODIUM_LIBS) $(JANSSON_LIBS)

sbin_PROGRAMS += gateway/mobileidd
gateway_mobileidd_SOURCES = gateway/mobileidd.c
gateway_mobileidd_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
gateway_mobileidd_LDADD = gateway/libmidcore.la

bin_PROGRAMS += gateway/mobileidctl
gateway_mobileidctl_SOURCES = gateway/mobileidctl.c gateway/ctl.c gateway/ctl.h \
	gateway/ctl_admin.c gateway/ctl_config.c gateway/ctl_plugin.c gateway/ctl_sync.c gateway/ctl_issue.c
gateway_mobileidctl_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(SODIUM_CFLAGS)
gateway_mobileidctl_LDADD = gateway/libmidcore.la

check_PROGRAMS += gateway/modhost_test
TESTS += gateway/modhost_test
gateway_modhost_test_SOURCES = gateway/modhost_test.c
gateway_modhost_test_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
gateway_modhost_test_LDADD = gateway/libmidcore.la

# The systemd unit, with the install paths filled in.
systemdunitdir = $(prefix)/lib/systemd/system
systemdunit_DATA = gateway/mobileidd.service
EXTRA_DIST += gateway/mobileidd.service.in
CLEANFILES += gateway/mobileidd.service
gateway/mobileidd.service: $(srcdir)/gateway/mobileidd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) gateway && sed -e 's|@bindir[@]|$(bindir)|g' \
		-e 's|@sbindir[@]|$(sbindir)|g' -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
		-e 's|@docdir[@]|$(docdir)|g' $(srcdir)/gateway/mobileidd.service.in > $@.tmp && mv $@.tmp $@

# Plugin profiles, installed where the gateway looks for them
# ($(pkgdatadir)/plugins/NAME/profile.json).
nobase_dist_pkgdata_DATA = \
	plugins/README.md \
	plugins/csv-generic/profile.json plugins/csv-generic/README.md \
	plugins/paxton-net2/profile.json plugins/paxton-net2/README.md \
	plugins/scim2/profile.json plugins/scim2/README.md \
	plugins/gallagher-command-centre/profile.json plugins/gallagher-command-centre/README.md
