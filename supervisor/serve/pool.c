/*
 * The processes of each worker: started on demand up to the plan's
 * instances, one call at a time each, a bounded FIFO queue in front, idle
 * ones stopped, crashing ones restarted with a growing delay, and a fresh
 * warm process for the most recently used workers whose last process was
 * stopped for idleness.
 *
 * This file has the pools and their queues; each process's life is the
 * table in pool_proc.c, which this file drives with events (ASSIGN, DRAIN,
 * STOP, TICK). The operator's commands are in pool_ops.c, the counters in
 * pool_stats.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jail/spawn.h"
#include "log.h"
#include "serve/call.h"
#include "serve/pool.h"
#include "serve/pool_state.h"
#include "serve/serve.h"
#include "state/kv.h"
#include "state/secrets.h"

#define TICK_MS 100              /* queue timeouts, idle stops, backoff */
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 10000
#define FATAL_STARTS 5           /* failed starts in a row: FATAL */
#define INSECURE_NAG_TICKS 600   /* 60 s between "not jailed" warnings */

static struct pool *pools;
static unsigned nwarm;           /* processes with warm set */
static uint64_t tick_timer;
static const struct peer_ops *proc_ops; /* of every process's channel */
int pool_stopping;

static uint64_t now_ms(void)
{
	return ev_now_ms(serve_env.loop);
}

/* ---- failures ---- */

void pool_backoff(struct pool *pl)
{
	uint64_t delay = 0;
	unsigned shift;

	pl->fails++;
	if (pl->fails > 1) {
		shift = pl->fails - 2 < 8 ? pl->fails - 2 : 8;
		delay = (uint64_t)BACKOFF_FIRST_MS << shift;
		if (delay > BACKOFF_MAX_MS)
			delay = BACKOFF_MAX_MS;
		log_info("worker %s: %u failures in a row; next start in %llu ms",
		         pl->label, pl->fails, (unsigned long long)delay);
	}
	pl->backoff_until = now_ms() + delay;
}

void pool_start_failed(struct pool *pl)
{
	if (++pl->startfails < FATAL_STARTS || pl->held)
		return;
	log_warnx("worker %s: FATAL: failed to start %u times in a row; not "
	          "starting it again until `yardctl start` or a deploy",
	          pl->label, pl->startfails);
	pl->held = HELD_FATAL;
}

void pool_fail_queued(struct pool *pl, Switchyard__Outcome o,
                      const char *why)
{
	while (pl->qhead != NULL)
		call_fail(pl->qhead, o, why,
		          o == SWITCHYARD__OUTCOME__LOAD_SHED ? 1 : 0);
}

/* ---- starting ---- */

/* Nothing else will serve the waiting calls if no process is left. */
static void spawn_failed(struct pool *pl, const char *why)
{
	log_warnx("worker %s: cannot start: %s", pl->label, why);
	pool_backoff(pl);
	pool_start_failed(pl);
	if (pl->nlive == 0)
		pool_fail_queued(pl, SWITCHYARD__OUTCOME__INTERNAL_ERROR, why);
}

/* The environment is the worker's secrets, then what its version was
 * deployed with: getenv finds the first of a name, so a secret wins. */
static int spawn_version(struct pool *pl, struct spawn_res *rs, char *err,
                         size_t errlen)
{
	const struct version *v = worker_version(pl->w);
	struct spawn_req rq = { pl->label, v->exe_path, v->number,
		                &pl->w->plan->jail, pl->w->plan->instances,
		                pl->w->uid, NULL, 0, &pl->tmpl, NULL };
	char *const *sec;
	size_t nsec, i;
	char **env;
	int rc;

	sec = secrets_env(pl->label, &nsec);
	if ((env = calloc(nsec + v->nenv + 1, sizeof(*env))) == NULL) {
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		return -1;
	}
	for (i = 0; i < nsec; i++)
		env[rq.nenv++] = sec[i];
	for (i = 0; i < v->nenv; i++)
		env[rq.nenv++] = v->env[i];
	rq.env = env;
	rc = spawn_worker(&rq, rs, err, errlen);
	free(env);
	return rc;
}

int pool_proc_spawn(struct pool *pl)
{
	uint64_t t0 = ev_clock_us();
	struct spawn_res rs;
	struct proc *p;
	size_t out_max;
	char err[512];

	if (spawn_version(pl, &rs, err, sizeof(err)) == -1) {
		spawn_failed(pl, err);
		return -1;
	}
	if ((p = pool_proc_new(pl, &rs, worker_version(pl->w)->number, t0)) ==
	    NULL) {
		if (rs.slot != NULL)
			log_warnx("worker %s[%d]: its cgroup is lost until "
			          "the supervisor stops", pl->label, (int)rs.pid);
		kill(rs.pid, SIGKILL);
		close(rs.sock);
		close(rs.out);
		close(rs.err);
		spawn_failed(pl, "out of memory");
		return -1;
	}
	logpipe_open(&p->out, rs.out, p->worker, p->pid, &pl->ring[0]);
	logpipe_open(&p->err, rs.err, p->worker, p->pid, &pl->ring[1]);
	/* A worker's queue holds at most one request with its body, plus
	 * answers to its subrequests whose producers are throttled, or one
	 * KV value (it waits for one answer at a time). */
	out_max = 2 * SY_FRAME_MAX + serve_env.conf->max_body_bytes +
	          SY_KV_VALUE_MAX + 64 * 1024;
	if (peer_open(&p->peer, serve_env.loop, rs.sock, proc_ops, p,
	              out_max) == -1) {
		log_warn("worker %s[%d]: cannot watch its channel", p->worker,
		         (int)p->pid);
		pool_kill(p, "cannot watch its channel", BLAME_WORKER);
		return -1;
	}
	log_debug("worker %s[%d]: started version %u", p->worker, (int)p->pid,
	          p->version);
	return 0;
}

/* ---- serving ---- */

/* The process to give a call to now: an idle one, else a dispatch
 * process below its concurrency (pool.h), else NULL. */
static struct proc *free_proc(const struct pool *pl)
{
	struct proc *p;

	if (pl->idle != NULL)
		return pl->idle;
	if (pl->w->plan->concurrency <= 1)
		return NULL;
	for (p = pl->procs; p != NULL; p = p->next) {
		if (p->state == PROC_BUSY && p->ncalls < p->conc)
			return p;
	}
	return NULL;
}

void pool_kick(struct pool *pl)
{
	struct proc *p;
	struct call *c;

	if (pl->dying)
		return;
	while (pl->qhead != NULL && (p = free_proc(pl)) != NULL) {
		c = pl->qhead;
		pool_unqueue(c);
		pool_proc_assign(p, c);
	}
	while (!pool_stopping && !pl->held && pl->nqueued > pl->nstarting &&
	       pl->nlive < pl->w->plan->instances &&
	       now_ms() >= pl->backoff_until) {
		if (pool_proc_spawn(pl) == -1)
			break;
	}
}

struct pool *pool_new(struct worker *w)
{
	struct pool *pl = calloc(1, sizeof(*pl));

	if (pl == NULL)
		return NULL;
	pl->w = w;
	pl->m.created_unix = (int64_t)time(NULL);
	snprintf(pl->label, sizeof(pl->label), "%s/%s", w->ns, w->name);
	pl->next = pools;
	if (pools != NULL)
		pools->prev = pl;
	pools = pl;
	w->pool = pl;
	return pl;
}

/* Calls may wait for a busy process to free up (the plan's queue) and
 * for each process not busy yet, which is starting or can be started. */
static int queue_room(const struct pool *pl)
{
	const struct plan *pn = pl->w->plan;
	uint32_t spare = pn->instances > pl->nbusy ? pn->instances - pl->nbusy
	                                           : 0;

	return pl->nqueued < pn->queue + spare;
}

void pool_submit(struct worker *w, struct call *c)
{
	struct pool *pl = w->pool != NULL ? w->pool : pool_new(w);
	struct proc *p;
	char why[96];

	if (pl == NULL) {
		call_fail(c, SWITCHYARD__OUTCOME__INTERNAL_ERROR,
		          "out of memory", 0);
		return;
	}
	c->pool = pl;
	pl->last_call_ms = now_ms();
	if (pool_stopping || pl->dying) {
		call_fail(c, SWITCHYARD__OUTCOME__INTERNAL_ERROR,
		          "the platform is shutting down", 0);
		return;
	}
	if (pl->qhead == NULL && (p = free_proc(pl)) != NULL) {
		pool_proc_assign(p, c);
		return;
	}
	if (pl->held == HELD_STOPPED) {
		call_fail(c, SWITCHYARD__OUTCOME__LOAD_SHED,
		          "worker stopped by the operator (yardctl start)", 1);
		return;
	}
	if (pl->held == HELD_FATAL) {
		call_fail(c, SWITCHYARD__OUTCOME__EXCEPTION,
		          "worker FATAL: it failed to start 5 times in a row "
		          "(yardctl start, or deploy, to try again)", 0);
		return;
	}
	if (!queue_room(pl)) {
		snprintf(why, sizeof(why), "queue full (%u requests waiting)",
		         pl->nqueued);
		call_fail(c, SWITCHYARD__OUTCOME__LOAD_SHED, why, 1);
		return;
	}
	if (call_keep(c) == -1) {
		call_fail(c, SWITCHYARD__OUTCOME__INTERNAL_ERROR,
		          "out of memory", 0);
		return;
	}
	c->queued = 1;
	c->queued_ms = now_ms();
	c->qnext = NULL;
	c->qprev = pl->qtail;
	if (pl->qtail != NULL)
		pl->qtail->qnext = c;
	else
		pl->qhead = c;
	pl->qtail = c;
	pl->nqueued++;
	if (pl->nqueued > pl->m.max_queued)
		pl->m.max_queued = pl->nqueued;
	if (pl->nbusy >= pl->w->plan->instances)
		pl->m.max_children_reached++;
	pool_kick(pl);
}

void pool_unqueue(struct call *c)
{
	struct pool *pl = c->pool;

	if (!c->queued)
		return;
	if (c->qprev != NULL)
		c->qprev->qnext = c->qnext;
	else
		pl->qhead = c->qnext;
	if (c->qnext != NULL)
		c->qnext->qprev = c->qprev;
	else
		pl->qtail = c->qprev;
	c->qnext = c->qprev = NULL;
	c->queued = 0;
	pl->nqueued--;
}

const char *pool_label(const struct pool *pl)
{
	return pl->label;
}

struct worker *pool_worker(const struct pool *pl)
{
	return pl != NULL ? pl->w : NULL;
}

/* ---- warm processes ---- */

/*
 * A first request to a worker with no process waits for a spawn: 2-3 ms
 * after an idle second on the reference VM, of which the jail is under
 * 1 ms and the rest the exec, the worker's own start and its first
 * request's page faults (tests/unit/test_spawn.c, docs/operations.md).
 * So when the last process of a worker is stopped for idleness, a fresh
 * one is started to wait for the next request, for at most
 * warm_processes workers in all: those most recently used. The one of the
 * least recently used worker gives way to a more recent one. A warm
 * process is never stopped for idleness before it has served a request;
 * then it is an ordinary process again.
 */
void pool_warm_release(struct proc *p)
{
	p->warm = 0;
	nwarm--;
}

/* The warm process used least recently of all, or NULL. */
static struct proc *warm_oldest(void)
{
	struct proc *p, *oldest = NULL;
	struct pool *pl;

	for (pl = pools; pl != NULL; pl = pl->next)
		for (p = pl->procs; p != NULL; p = p->next)
			if (p->warm && (oldest == NULL ||
			                pl->last_call_ms <
			                oldest->pool->last_call_ms))
				oldest = p;
	return oldest;
}

static void warm_start(struct pool *pl)
{
	uint32_t max = serve_env.conf->warm_processes;
	struct proc *old;

	if (max == 0 || pool_stopping || pl->dying || pl->held ||
	    pl->nlive > 0 || now_ms() < pl->backoff_until)
		return;
	if (nwarm >= max) {
		old = warm_oldest();
		if (old == NULL || old->pool->last_call_ms >= pl->last_call_ms)
			return;
		pool_proc_stop(old, "idle: its warm place goes to a worker "
		               "used more recently");
	}
	if (pool_proc_spawn(pl) == -1)
		return;
	pl->procs->warm = 1;
	nwarm++;
	log_debug("worker %s[%d]: warm, for its next request (%u of %u)",
	          pl->label, (int)pl->procs->pid, nwarm, max);
}

/* ---- periodic checks ---- */

static void pool_check(struct pool *pl, uint64_t now)
{
	const struct plan *pn = pl->w->plan;
	struct proc *p, *next;
	char why[96];

	while (pl->qhead != NULL &&
	       now - pl->qhead->queued_ms >= pn->queue_timeout_ms) {
		snprintf(why, sizeof(why), "no process free within %u ms",
		         pn->queue_timeout_ms);
		call_fail(pl->qhead, SWITCHYARD__OUTCOME__LOAD_SHED, why, 1);
	}
	for (p = pl->procs; p != NULL; p = next) {
		next = p->next;
		pool_proc_tick(p);
	}
	if (pl->idle_stopped) {
		pl->idle_stopped = 0;
		warm_start(pl);
	}
	if (pl->qhead != NULL)
		pool_kick(pl);
}

static void pool_tick(struct ev_loop *loop, void *arg)
{
	static unsigned ticks;
	struct pool *pl;

	(void)arg;
	if (!spawn_jailed() && ticks++ % INSECURE_NAG_TICKS == 0)
		log_warnx("INSECURE: --insecure-no-jail: workers run as the "
		          "supervisor's user, with no namespaces, cgroup or "
		          "seccomp filter");
	tick_timer = ev_timer_add(loop, TICK_MS, pool_tick, NULL);
	if (tick_timer == 0)
		log_warnx("pool: cannot re-arm the tick timer: out of memory");
	for (pl = pools; pl != NULL; pl = pl->next)
		pool_check(pl, ev_now_ms(loop));
}

int pool_init(const struct peer_ops *ops)
{
	proc_ops = ops;
	tick_timer = ev_timer_add(serve_env.loop, TICK_MS, pool_tick, NULL);
	return tick_timer == 0 ? -1 : 0;
}

void pool_fini(void)
{
	if (tick_timer != 0)
		ev_timer_del(serve_env.loop, tick_timer);
	tick_timer = 0;
}

/* ---- the registry's changes ---- */

void pool_version_changed(struct worker *w)
{
	struct pool *pl = w->pool;
	struct proc *p, *next;

	if (pl == NULL)
		return;
	log_info("worker %s: version %u is current", pl->label,
	         worker_version(w)->number);
	pl->fails = 0;
	pl->backoff_until = 0;
	pl->startfails = 0;
	if (pl->held == HELD_FATAL)
		pl->held = RUN;
	for (p = pl->procs; p != NULL; p = next) {
		next = p->next;
		if (p->version != worker_version(w)->number)
			pool_proc_drain(p, "a newer version serves now");
	}
	pool_kick(pl);
}

void pool_destroy(struct worker *w)
{
	struct pool *pl = w->pool;
	struct proc *p, *next;

	if (pl == NULL)
		return;
	pl->dying = 1;
	pool_fail_queued(pl, SWITCHYARD__OUTCOME__INTERNAL_ERROR,
	                 "worker removed");
	for (p = pl->procs; p != NULL; p = next) {
		next = p->next;
		while (p->calls != NULL)
			call_lost(p->calls, SWITCHYARD__OUTCOME__INTERNAL_ERROR,
			          "worker removed");
		pool_proc_stop(p, "worker removed");
		p->pool = NULL;
		p->out.ring = p->err.ring = NULL;
	}
	logring_free(&pl->ring[0]);
	logring_free(&pl->ring[1]);
	if (pl->prev != NULL)
		pl->prev->next = pl->next;
	else
		pools = pl->next;
	if (pl->next != NULL)
		pl->next->prev = pl->prev;
	w->pool = NULL;
	spawn_tmpl_free(pl->tmpl);
	free(pl);
}

void pool_shutdown(void)
{
	struct pool *pl;
	struct proc *p, *next;

	pool_stopping = 1;
	for (pl = pools; pl != NULL; pl = pl->next) {
		pool_fail_queued(pl, SWITCHYARD__OUTCOME__INTERNAL_ERROR,
		                 "the platform is shutting down");
		for (p = pl->procs; p != NULL; p = next) {
			next = p->next;
			pool_proc_stop(p, "the platform is shutting down");
		}
	}
}
