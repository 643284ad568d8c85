/* gateway/sdnotify.h -- the systemd notification protocol (sd_notify(3))
 * without linking libsystemd: one datagram to $NOTIFY_SOCKET. */
#pragma once
/* Send `state` ("READY=1", "RELOADING=1", "STOPPING=1", "STATUS=...").
 * Returns 1 when sent, 0 when not running under systemd, -1 on error. */
int mid_sd_notify(const char *state);
