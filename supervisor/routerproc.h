/*
 * The router process (routerproc.c): started with fd 3 = its channel to us
 * and fds 4.. = the listening sockets; our end of the channel is a peer.
 */
#ifndef SY_ROUTERPROC_H
#define SY_ROUTERPROC_H

#include <stddef.h>
#include <sys/types.h>

#include "peer.h"
#include "supervisor.h"

/* The channel to the router, or NULL when it is closed. */
extern struct peer *router_chan;

/* Starts the router with the listening sockets lfds (not taken over).
 * 0, or -1 with err. */
int routerproc_start(const struct sup_config *c, const int *lfds, size_t n,
                     char *err, size_t errlen);
/* Asks the router to exit (SIGTERM, SIGKILL after 2 s) and closes the
 * channel. */
void routerproc_stop(void);
/* The channel failed or the router misbehaved: logs why and shuts the
 * platform down. */
void routerproc_lost(const char *why);
/* A child was reaped: 1 if it was the router. */
int routerproc_reaped(pid_t pid, int status);
/* 1 while the router process has not been reaped. */
int routerproc_running(void);

#endif
