/*
 * What the pool's files share: the pool's fields, and the events the pool
 * and the operator's commands raise on a process (pool_proc.c's table).
 * pool.c has the pools and their queues, pool_proc.c each process's life,
 * pool_ops.c the operator's commands, pool_stats.c the counters. Nothing
 * else includes this but tests/unit/test_pool.c.
 */
#ifndef SY_SERVE_POOL_STATE_H
#define SY_SERVE_POOL_STATE_H

#include <stdint.h>

#include "serve/logring.h"
#include "serve/pool.h"
#include "state/registry.h"
#include "switchyard.pb-c.h"

struct call;
struct spawn_res;
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
	uint64_t last_call_ms;        /* a call last came (monotonic ms):
	                               * who keeps a warm process */
	int idle_stopped;             /* a process stopped for idleness in
	                               * this tick */
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
/* Starts one process for pl, at the head of pl->procs. 0, or -1 (logged,
 * counted as a failure). */
int pool_proc_spawn(struct pool *pl);
/* p is a warm process no more: it got a call, or it is dead. */
void pool_warm_release(struct proc *p);
/* A process of pl failed: the next start waits longer, from the second
 * failure in a row. */
void pool_backoff(struct pool *pl);
/* A process of pl failed to start: FATAL after FATAL_STARTS in a row. */
void pool_start_failed(struct pool *pl);
/* Fails every call in pl's queue with o and why (LOAD_SHED: retry in 1 s). */
void pool_fail_queued(struct pool *pl, Switchyard__Outcome o,
                      const char *why);

/* ---- the life of a process (pool_proc.c): each function raises one
 * event, whose action the table chooses by p's state ---- */

/* A new process of pl, in STARTING, from a spawn that began at spawn_us;
 * NULL when out of memory (rs is then still the caller's). */
struct proc *pool_proc_new(struct pool *pl, const struct spawn_res *rs,
                           uint32_t version, uint64_t spawn_us);
/* ASSIGN: p, READY, serves c. */
void pool_proc_assign(struct proc *p, struct call *c);
/* DRAIN: p stops once it serves nothing (now if it serves nothing). */
void pool_proc_drain(struct proc *p, const char *why);
/* STOP, graceful: p's channel is closed, SIGKILL 2 s later; a call it
 * serves fails as INTERNAL_ERROR with why. */
void pool_proc_stop(struct proc *p, const char *why);
/* TICK: p's start and idle timeouts are checked. */
void pool_proc_tick(struct proc *p);
/* CPU microseconds of a process not yet reaped (0 if unreadable). */
uint64_t pool_proc_cpu_us(const struct proc *p);

#endif
