/*
 * The router process (routerproc.c): started with fd 3 = its channel to us
 * and fds 4.. = the listening sockets; our end of the channel is a peer.
 * The router is our own program: when it dies or breaks protocol the
 * platform stops (serve_env.hooks.router_lost).
 */
#ifndef SY_SERVE_ROUTERPROC_H
#define SY_SERVE_ROUTERPROC_H

#include <stddef.h>
#include <sys/types.h>

#include "serve/peer.h"

/* Starts the router (serve_env.conf says how) with the listening sockets
 * lfds (not taken over); its channel is a peer with ops. 0, or -1 with
 * err. */
int routerproc_start(const struct peer_ops *ops, const int *lfds, size_t n,
                     char *err, size_t errlen);
/* For tests only (tests/unit/test_call.c): makes fd, a channel already
 * open to something speaking the router's side, the router's channel as
 * routerproc_start does after its fork, without a process to start or
 * reap; routerproc_stop closes it. fd is taken over. 0, or -1 with err
 * (EBUSY: a router or channel is there already). */
int routerproc_attach(const struct peer_ops *ops, int fd, char *err,
                      size_t errlen);
/* The channel to the router, or NULL when it is closed. */
struct peer *routerproc_chan(void);
/* Asks the router to exit (SIGTERM, SIGKILL after 2 s), closes the channel
 * and fails what was in flight on it. */
void routerproc_stop(void);
/* The channel failed or the router misbehaved: logs why and tells the
 * platform to stop. */
void routerproc_lost(const char *why);
/* A child was reaped: 1 if it was the router. */
int routerproc_reaped(pid_t pid, int status);
/* 1 while the router process has not been reaped. */
int routerproc_running(void);

#endif
