# gateway/: the daemon, the CLI and the core they share.
sbin_PROGRAMS += gateway/mobileidd
gateway_mobileidd_SOURCES = gateway/mobileidd.c
