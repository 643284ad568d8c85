# plugins/gallagher-command-centre: the Command Centre profile, its README,
# and its integration test against tests/peers/gallagher-sim.mjs (a
# simulator of the Command Centre REST API, node built-ins only).
EXTRA_DIST += plugins/gallagher-command-centre/profile.json plugins/gallagher-command-centre/README.md \
	tests/peers/gallagher-sim.mjs tests/integration/gallagher.sh
TESTS += tests/integration/gallagher.sh
