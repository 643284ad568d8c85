# gateway/issue.mk: issuance (owned by the issuance engineer): people,
# allocation, credentials, issuer keys, invitations with SMTP delivery,
# reader and admin tokens, reader bundles, and their mobileidctl commands.
gateway_libmidcore_la_SOURCES += \
	gateway/issuer.c gateway/issuer.h \
	gateway/keys.c gateway/keys.h \
	gateway/invite.c gateway/invite.h \
	gateway/smtp.c gateway/smtp.h \
	gateway/people.c gateway/people.h
gateway_libmidcore_la_CFLAGS += $(CURL_CFLAGS)
gateway_libmidcore_la_LIBADD += reader/libmidcred.la $(CURL_LIBS)

# Unit tests (TAP); they include the .c they test where statics matter.
check_PROGRAMS += gateway/issuer_test gateway/invite_test gateway/people_test
TESTS += gateway/issuer_test gateway/invite_test gateway/people_test
gateway_issuer_test_SOURCES = gateway/issuer_test.c tests/tap.h
gateway_issuer_test_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS) $(JANSSON_CFLAGS)
gateway_issuer_test_LDADD = gateway/libmidcore.la
gateway_invite_test_SOURCES = gateway/invite_test.c tests/tap.h
gateway_invite_test_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS) $(JANSSON_CFLAGS)
gateway_invite_test_LDADD = gateway/libmidcore.la
gateway_people_test_SOURCES = gateway/people_test.c tests/tap.h
gateway_people_test_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS) $(JANSSON_CFLAGS)
gateway_people_test_LDADD = gateway/libmidcore.la

# Integration: a real SMTP server (python3-aiosmtpd) catches the invitation.
TESTS += tests/integration/issue_smtp.sh
EXTRA_DIST += tests/integration/issue_smtp.sh docs/issuance.md

# Benchmark (not part of make check): make issue-bench
noinst_PROGRAMS += tests/bench/bench_issue_batch
tests_bench_bench_issue_batch_SOURCES = tests/bench/bench_issue_batch.c
tests_bench_bench_issue_batch_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS) $(JANSSON_CFLAGS)
tests_bench_bench_issue_batch_LDADD = gateway/libmidcore.la
.PHONY: issue-bench
issue-bench: tests/bench/bench_issue_batch$(EXEEXT)
	tests/bench/bench_issue_batch$(EXEEXT)
