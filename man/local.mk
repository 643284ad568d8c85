# man/: reference manual pages, installed with `make install` and shipped in
# the tarball. tests/integration/manpages.sh renders each one with groff -ww
# and checks that mobileidctl.1 names every command of `mobileidctl --help`.
dist_man_MANS += man/mobileidd.8 man/mobileidctl.1 man/mobileidd.json.5 \
	man/mid-reader-sim.1 man/mid-phone-sim.1

TESTS += tests/integration/manpages.sh
EXTRA_DIST += tests/integration/manpages.sh
