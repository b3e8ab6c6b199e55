/*
 * Worker processes and their pools: the pools and their queues in pool.c,
 * the life of each process in pool_proc.c, the operator's commands in
 * pool_ops.c, the counters in pool_stats.c.
 *
 * Each process is an explicit state machine, as s6-supervise's: the table
 * actions[state][event] in pool_proc.c names the small function each
 * event runs in each state, and every event, so every change of state,
 * goes through its one dispatch function. In short:
 *
 *   STARTING --HELLO--> READY --ASSIGN--> BUSY --END--> READY ...
 *   BUSY --ASSIGN (below its concurrency)--> BUSY --END (calls left)--> BUSY
 *   BUSY --DRAIN--> DRAINING --END--> DEAD
 *   STARTING, READY --DRAIN--> DEAD
 *   STARTING --TICK, no HELLO within 10 s--> DEAD
 *   READY --TICK, idle longer than its plan's idle_timeout_s--> DEAD
 *   any --STOP/KILL/LOST--> DEAD --REAPED--> freed
 *
 * A process in DEAD has no channel any more and waits to be reaped; the
 * call it served (if any) is failed with its exit status when it is.
 */
#ifndef SY_SERVE_POOL_H
#define SY_SERVE_POOL_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "outcome.h"
#include "serve/logring.h"
#include "serve/peer.h"
#include "serve/stats.h"
#include "state/registry.h"
#include "switchyard.pb-c.h"

enum proc_state { PROC_STARTING, PROC_READY, PROC_BUSY, PROC_DRAINING,
	          PROC_DEAD };
#define PROC_NSTATES (PROC_DEAD + 1)

/* What happens to a process: the columns of pool_proc.c's table. */
enum proc_event {
	PROC_EV_HELLO,    /* it said HELLO (pool_hello) */
	PROC_EV_ASSIGN,   /* its pool gives it a call */
	PROC_EV_END,      /* the answer to its call ended (pool_finished) */
	PROC_EV_DRAIN,    /* stop once it serves nothing: a new version,
	                   * yardctl stop, SIGTERM from the operator */
	PROC_EV_STOP,     /* stop now: its channel is closed, SIGKILL 2 s
	                   * later (shutdown, idle, worker removed) */
	PROC_EV_KILL,     /* SIGKILL now (pool_kill) */
	PROC_EV_LOST,     /* its channel broke (pool_channel_lost) */
	PROC_EV_REAPED,   /* it was reaped (pool_reaped) */
	PROC_EV_TICK,     /* its pool's periodic check: start and idle
	                   * timeouts */
};
#define PROC_NEVENTS (PROC_EV_TICK + 1)

struct call;
struct spawn_slot;

/* Why pool_kill ends a process. */
enum pool_blame {
	BLAME_PLATFORM = 0, /* cancel, out of memory: a call it serves fails
	                     * as INTERNAL_ERROR */
	BLAME_WORKER = 1,   /* it misbehaved: logged as a warning, counts
	                     * towards its pool's backoff, a call it serves
	                     * fails as EXCEPTION with why as the reason */
	BLAME_PROTOCOL = 2, /* as BLAME_WORKER, for a broken frame or
	                     * message: also a `protocol` violation */
};

struct proc {
	struct peer peer;          /* fd 3 of the worker */
	struct pool *pool;         /* NULL once the pool is destroyed */
	pid_t pid;
	enum proc_state state;
	uint32_t version;          /* number of the version it runs */
	uid_t uid;                 /* it runs as (its worker's, if jailed) */
	struct spawn_slot *slot;   /* its cgroup, until reaped; or NULL */
	char worker[2 * SY_NAME_MAX]; /* "ns/name" */
	int cpufd;                 /* its task-clock perf counter, or -1
	                            * (limits_meter_open, limits.h) */
	clockid_t cpuclock;        /* without one: its CPU-time clock, if */
	int has_cpuclock;          /* has_cpuclock */
	/* The calls it holds, oldest first. The shim takes requests in the
	 * order they came, so the oldest is the one it runs; the others wait
	 * in its channel. At most conc: its plan's concurrency for the
	 * dispatch worker, 1 for any other. */
	struct call *calls, *calls_tail;
	unsigned ncalls, conc;
	uint64_t cpu_mark_ns;      /* its CPU clock where the CPU time not yet
	                            * given to a call began */
	uint64_t cpu_seen_ns, cpu_seen_turn; /* its clock as last read, in
	                            * which turn of the loop (limits.c) */
	struct call *subcalls;     /* calls it made (ws_dispatch) */
	unsigned nsubcalls;
	struct logpipe out, err;
	uint64_t started_ms, idle_since_ms;
	uint64_t spawn_us;         /* ev_clock_us() before the spawn */
	uint64_t kill_timer;       /* SIGKILL deadline of a stop, or 0 */
	int stopped;               /* we ended it: its death is expected */
	int ready_once;            /* it sent HELLO */
	int warm;                  /* started to wait for its worker's next
	                            * request (pool.c, warm processes): no
	                            * idle stop until it has served one */
	uint64_t cpu_us;           /* CPU time read when it was stopped */
	char why[160];             /* why we killed it, for its reap */
	struct proc *next, *prev;  /* its pool's processes */
	struct proc *idle_next;    /* its pool's READY processes (a stack) */
	struct proc *all_next, *all_prev; /* every child not yet reaped */
};

/* Starts the periodic tick (queue timeouts, idle stops, backoff); worker
 * processes' channels are opened with ops. 0, or -1 with errno. */
int pool_init(const struct peer_ops *ops);
/* Frees what pool_init() made; every pool must be destroyed first. */
void pool_fini(void);

/* Serves c with a process of w now, or queues it, or answers it LOAD_SHED
 * (or INTERNAL_ERROR if no process can be started). May free c. */
void pool_submit(struct worker *w, struct call *c);
/* Removes a queued call from its queue. */
void pool_unqueue(struct call *c);
/* The call p served has ended (its END passed): p may take the next. */
void pool_finished(struct proc *p);
/* HELLO arrived from p. */
void pool_hello(struct proc *p, const struct sy_frame *f);
/* Kills p now (SIGKILL), for the reason blame says (see enum pool_blame).
 */
void pool_kill(struct proc *p, const char *why, enum pool_blame blame);
/* p's channel hit end of file or an error: it is dying or broken. */
void pool_channel_lost(struct proc *p, const char *why);
/* "ns/name" of the pool's worker. */
const char *pool_label(const struct pool *pl);
/* The pool's worker (pl may be NULL: then NULL). */
struct worker *pool_worker(const struct pool *pl);
/* A child was reaped: 1 if it was a worker process, else 0. */
int pool_reaped(pid_t pid, int status);
/* The name of the action pool_proc.c's table runs for event e in state
 * s ("refuse" where e cannot happen), or NULL for a cell left empty;
 * and the names of states and events. For tests and logs. */
const char *pool_proc_action(enum proc_state s, enum proc_event e);
const char *pool_proc_state_name(enum proc_state s);
const char *pool_proc_event_name(enum proc_event e);
/* Graceful stop of everything: queued calls fail, processes are told to
 * exit (SIGKILL after 2 s); no new process starts afterwards. */
void pool_shutdown(void);
/* Worker processes not yet reaped. */
unsigned pool_children(void);

/* What yardctl status and the admin listener show of a pool. */
struct pool_stats {
	const char *state;  /* STOPPED, STARTING, RUNNING, BACKOFF */
	uint32_t live, busy, queued;
	uint64_t requests, errors;
	uint64_t started_ms; /* monotonic ms the oldest live process started, 0 */
	uint64_t violations; /* platform rules broken (seccomp, memory, protocol) */
	pid_t pids[64];
	uint32_t npids;
};

/* A new version became current: idle processes of older versions stop now,
 * busy ones after their request. */
void pool_version_changed(struct worker *w);
void pool_stats(const struct worker *w, struct pool_stats *st);
/* Stops every process of w and fails its queued requests. */
void pool_destroy(struct worker *w);

/* ---- operator commands (yardctl start, stop, signal, tail; reload):
 * pool_ops.c ---- */

/* STOPPED (by the operator) or FATAL (failed to start FATAL_STARTS times
 * in a row): serves nothing until started. */
int pool_op_held(const struct worker *w);
/* Clears STOPPED and FATAL and starts the plan's instances now. 0, or -1
 * with err (the worker's name not included). */
int pool_op_start(struct worker *w, char *err, size_t errlen);
/* STOPPING then STOPPED: queued requests are shed, idle processes stop,
 * busy ones after their request; new requests are shed until started. */
int pool_op_stop(struct worker *w, char *err, size_t errlen);
/* 1 when none of w's processes is left (all reaped). */
int pool_op_none_left(const struct worker *w);
/* Sends sig to each live process of w; returns how many got it. TERM is
 * a graceful stop (busy processes finish their request first): a worker,
 * pid 1 of its pid namespace, would ignore it unless it handles it. */
unsigned pool_op_signal(struct worker *w, int sig);
/* The worker's ring for stream 1 (stdout) or 2 (stderr); NULL when out
 * of memory. */
struct logring *pool_logring(struct worker *w, int stream);
/* w->plan was replaced or changed: processes started from now on get the
 * new jail; idle processes above the new instances stop. */
void pool_plan_changed(struct worker *w);

/* ---- counters for yardctl status and the admin listener (stats.c):
 * pool_stats.c ----
 * Per worker, not per process: they live as long as its pool. Histograms
 * count per bucket (not cumulative); the last bucket is above every bound. */

#define POOL_NBOUNDS 13
#define POOL_NBUCKETS (POOL_NBOUNDS + 1)
#define POOL_NOUTCOMES 16

/* WorkerStats.violations is indexed by these: new kinds go last. */

struct pool_metrics {
	uint64_t outcomes[POOL_NOUTCOMES]; /* by Switchyard__Outcome */
	uint64_t cpu_us, dur_sum_us, subrequests;
	uint64_t dur[POOL_NBUCKETS];
	uint64_t cpu[STATS_CPU_NBUCKETS]; /* finer: stats_cpu_bounds_us */
	uint64_t violations[SY_VIOL_COUNT]; /* by proto/outcome.h's kind */
	uint64_t spawns, spawn_sum_us, spawn[POOL_NBUCKETS];
	uint64_t max_children_reached; /* calls queued with all busy */
	uint64_t cancels_kept, cancels_killed; /* pool_cancel_counted */
	uint32_t max_held;         /* most calls one process held at once */
	uint32_t max_queued;
	int64_t created_unix;
};

/* Upper bounds of the histogram buckets, microseconds (stats.c). */
extern const uint64_t pool_bounds_us[POOL_NBOUNDS];
/* Counts us in histogram h of pool_bounds_us and adds it to *sum. */
void stats_hist_add(uint64_t *h, uint64_t *sum, uint64_t us);

/* p broke a platform rule (what: "protocol: ...", "subrequests: limit of
 * 50 reached", "binding: ..."): counted in its pool's violations, by the
 * kind what's first word names, and logged. */
void pool_violation(struct proc *p, const char *what);
/* A canceled call of p ended: p answered it within the grace (kept), or
 * is killed for running past it. */
void pool_cancel_counted(struct proc *p, int kept);
/* Adds to pl's request and error counts (pl may be NULL). */
void pool_account(struct pool *pl, unsigned requests, unsigned errors);
/* CPU microseconds used by w's processes since the supervisor started. */
uint64_t pool_cpu_us(const struct worker *w);
/* A call of pl (may be NULL) was answered with o (CANCELED: dropped
 * unanswered). */
void pool_call_done(struct pool *pl, Switchyard__Outcome o, uint64_t wall_us,
                    uint64_t cpu_us, uint32_t subrequests);
/* w's counters, or NULL if it has no pool yet; *idle gets its READY
 * processes. */
const struct pool_metrics *pool_metrics(const struct worker *w,
                                        uint32_t *idle);

#endif
