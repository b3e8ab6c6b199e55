/*
 * Readiness notification for a service manager (systemd's sd_notify
 * protocol, without libsystemd): one datagram of "KEY=VALUE" lines to the
 * AF_UNIX socket named by $NOTIFY_SOCKET ("@name" = abstract namespace).
 * Without $NOTIFY_SOCKET every call is a no-op that succeeds.
 */
#ifndef SY_NOTIFY_H
#define SY_NOTIFY_H

#include <stddef.h>

/*
 * Reads $NOTIFY_SOCKET, removes it from the environment (children such as
 * the router must not speak for the supervisor) and opens the socket once,
 * so that later calls need no new socket after the seccomp filter is
 * loaded. 0 when not set; -1 with err filled when it is unusable (the
 * later calls are then no-ops).
 */
int notify_init(char *err, size_t errlen);
/* READY=1, STATUS=status (newlines become spaces), MAINPID=getpid(). */
int notify_ready(const char *status, char *err, size_t errlen);
/* STOPPING=1: the service manager shows "deactivating" while we stop. */
int notify_stopping(char *err, size_t errlen);
/* RELOADING=1 with MONOTONIC_USEC: the configuration is being re-read;
 * notify_ready() says when it is done. */
int notify_reloading(char *err, size_t errlen);
/* Closes the socket; safe to call more than once. */
void notify_fini(void);

#endif
