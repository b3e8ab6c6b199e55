/*
 * The request path (serve/): the framed channels to the router and to
 * worker processes (peer.c), the router process (routerproc.c), calls and
 * their answers (call*.c, fetch.c, limits.c), the pools of processes
 * (pool*.c), request events and tail consumers (events.c, tailcons.c),
 * workers' KV requests (kv_serve.c) and the counters (stats.c).
 *
 * main.c starts it with serve_init() and hears from it only through the
 * hooks it gives; the state layer below it (registry, config, KV store)
 * is called, never calls back but through registry_hooks.
 */
#ifndef SY_SERVE_SERVE_H
#define SY_SERVE_SERVE_H

#include <stddef.h>
#include <sys/types.h>

#include "ev.h"
#include "state/config.h"

struct worker;

/* What the request path needs of the process it runs in. */
struct serve_hooks {
	/* The router broke protocol or died: the platform must stop. why
	 * is logged already. */
	void (*router_lost)(void);
};

/* The request path's environment, set once by serve_init(). conf is the
 * supervisor's: a reload replaces its plans in place. */
struct serve_env {
	struct ev_loop *loop;
	const struct sup_config *conf;
	struct serve_hooks hooks;
};
extern struct serve_env serve_env;

/* Starts the request path's timers. 0, or -1 with err. */
int serve_init(struct ev_loop *loop, const struct sup_config *conf,
               const struct serve_hooks *hooks, char *err, size_t errlen);
/* Starts the router with the listening sockets lfds (not taken over).
 * 0, or -1 with err. */
int serve_router_start(const int *lfds, size_t n, char *err, size_t errlen);
/* For tests only (tests/unit/test_call.c): the request path without a
 * router process; fd (taken over) is the router's channel, the test
 * holding the other end. serve_shutdown, or routerproc_stop, closes it.
 * 0, or -1 with err. */
int serve_router_attach(int fd, char *err, size_t errlen);
/* Every event's end (the loop's before-sleep hook): writes the frames
 * queued for each peer in one write each and recycles freed calls. */
void serve_settle(void);
/* Stops the router and every worker process; queued calls fail. */
void serve_shutdown(void);
/* A child was reaped: 1 if it was the router or a worker process. */
int serve_reaped(pid_t pid, int status);
/* Children (the router, worker processes) not reaped yet. */
unsigned serve_children(void);
/* Frees what the request path holds; every child must be reaped. */
void serve_fini(void);

/* The registry's hooks (state/registry.h), for main.c to give it. */
void serve_version_changed(struct worker *w);
void serve_worker_removing(struct worker *w);

#endif
