/*
 * What pool.c shares with pool_ops.c (the operator's commands) and
 * pool_stats.c (the counters): the pool's fields, and the few steps of the
 * process state machine (pool.h) they drive. Nothing else includes this.
 */
#ifndef SY_SERVE_POOL_STATE_H
#define SY_SERVE_POOL_STATE_H

#include <stdint.h>

#include "serve/logring.h"
#include "serve/pool.h"
#include "state/registry.h"
#include "switchyard.pb-c.h"

struct call;
struct spawn_tmpl;

struct pool {
	struct worker *w;
	char label[2 * SY_NAME_MAX];  /* "ns/name" */
	struct proc *procs;           /* not yet reaped, DEAD ones included */
	struct proc *idle;            /* READY, most recently used first */
	unsigned nlive;               /* not DEAD */
	unsigned nstarting;
	unsigned nbusy;               /* BUSY or DRAINING */
	struct call *qhead, *qtail;
	uint32_t nqueued;
	unsigned fails;               /* deaths since a call last completed */
	uint64_t backoff_until;       /* no start before (monotonic ms) */
	uint64_t requests, errors;
	uint64_t violations;          /* platform rules its processes broke */
	struct spawn_tmpl *tmpl;      /* what its spawns share (spawn.c) */
	int dying;                    /* pool_destroy() is running */
	enum { RUN = 0, HELD_STOPPED, HELD_FATAL } held; /* see pool.h */
	unsigned startfails;          /* deaths before HELLO in a row */
	uint64_t cpu_us;              /* of its processes once stopped */
	struct logring ring[2];       /* its stdout and stderr */
	struct pool_metrics m;        /* for the admin listener */
	struct pool *next, *prev;
};

/* Set by pool_shutdown(): no process starts any more. */
extern int pool_stopping;

/* The pool of w, new and empty (and w->pool set); NULL when out of
 * memory. */
struct pool *pool_new(struct worker *w);
/* Serves queued calls with idle processes, and starts processes for the
 * rest as the plan, the backoff and the operator allow. */
void pool_kick(struct pool *pl);
/* Starts one process for pl. 0, or -1 (logged, counted as a failure). */
int pool_proc_spawn(struct pool *pl);
/* Moves p to state to, keeping pl's counters and idle stack in step;
 * -1 (logged) for a transition that does not exist. */
int pool_proc_set(struct proc *p, enum proc_state to);
/* Graceful stop: p's channel is closed, SIGKILL 2 s later; a call it
 * serves fails as INTERNAL_ERROR with why. */
void pool_proc_stop(struct proc *p, const char *why);
/* Fails every call in pl's queue with o and why (LOAD_SHED: retry in 1 s). */
void pool_fail_queued(struct pool *pl, Switchyard__Outcome o,
                      const char *why);
/* CPU microseconds of a process not yet reaped (0 if unreadable). */
uint64_t pool_proc_cpu_us(const struct proc *p);

#endif
