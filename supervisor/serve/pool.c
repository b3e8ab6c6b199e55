/*
 * The processes of each worker: started on demand up to the plan's
 * instances, one call at a time each, a bounded FIFO queue in front, idle
 * ones stopped, crashing ones restarted with a growing delay.
 *
 * Every state change of a process goes through pool_proc_set(), which
 * refuses transitions that do not exist and keeps the pool's counters and
 * idle stack in step with the states. The operator's commands are in
 * pool_ops.c, the counters in pool_stats.c.
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
#include "serve/limits.h"
#include "serve/pool.h"
#include "serve/pool_state.h"
#include "serve/serve.h"
#include "state/kv.h"
#include "state/secrets.h"
#include "util.h"

#define TICK_MS 100              /* queue timeouts, idle stops, backoff */
#define STOP_GRACE_MS 2000       /* from closing its channel to SIGKILL */
#define START_TIMEOUT_MS 10000   /* from exec to HELLO */
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 10000
#define FATAL_STARTS 5           /* failed starts in a row: FATAL */
#define INSECURE_NAG_TICKS 600   /* 60 s between "not jailed" warnings */

static struct pool *pools;
static struct proc *children;
static unsigned nchildren;
static uint64_t tick_timer;
static const struct peer_ops *proc_ops; /* of every process's channel */
int pool_stopping;

static const char *const state_names[] = {
	[PROC_STARTING] = "STARTING", [PROC_READY] = "READY",
	[PROC_BUSY] = "BUSY", [PROC_DRAINING] = "DRAINING",
	[PROC_DEAD] = "DEAD",
};

#define S(x) (1u << (x))
/* The transitions there are; anything else is a bug, refused. */
static const unsigned transitions[] = {
	[PROC_STARTING] = S(PROC_READY) | S(PROC_DEAD),
	[PROC_READY] = S(PROC_BUSY) | S(PROC_DEAD),
	[PROC_BUSY] = S(PROC_READY) | S(PROC_DRAINING) | S(PROC_DEAD),
	[PROC_DRAINING] = S(PROC_DEAD),
	[PROC_DEAD] = 0,
};

static void start_fail_count(struct pool *pl);

static uint64_t now_ms(void)
{
	return ev_now_ms(serve_env.loop);
}

static void idle_remove(struct pool *pl, struct proc *p)
{
	struct proc **pp;

	for (pp = &pl->idle; *pp != NULL; pp = &(*pp)->idle_next) {
		if (*pp == p) {
			*pp = p->idle_next;
			break;
		}
	}
	p->idle_next = NULL;
}

/* CPU time of a process not yet reaped (0 if its clock is unreadable). */
uint64_t pool_proc_cpu_us(const struct proc *p)
{
	int64_t ns = limits_cpu_ns(p);

	return ns < 0 ? 0 : (uint64_t)ns / 1000u;
}

int pool_proc_set(struct proc *p, enum proc_state to)
{
	struct pool *pl = p->pool;

	if (!(transitions[p->state] & S(to))) {
		log_warnx("worker %s[%d]: refused transition %s -> %s",
		          p->worker, (int)p->pid, state_names[p->state],
		          state_names[to]);
		return -1;
	}
	if (pl != NULL) {
		if (p->state == PROC_STARTING)
			pl->nstarting--;
		else if (p->state == PROC_READY)
			idle_remove(pl, p);
		else if (p->state == PROC_BUSY || p->state == PROC_DRAINING)
			pl->nbusy--;
		if (to == PROC_READY) {
			p->idle_next = pl->idle;
			pl->idle = p;
		} else if (to == PROC_BUSY || to == PROC_DRAINING) {
			pl->nbusy++;
		} else if (to == PROC_DEAD) {
			pl->nlive--;
			pl->cpu_us += pool_proc_cpu_us(p);
		}
	}
	if (to == PROC_READY)
		p->idle_since_ms = now_ms();
	log_debug("worker %s[%d]: %s -> %s", p->worker, (int)p->pid,
	          state_names[p->state], state_names[to]);
	p->state = to;
	return 0;
}

/* ---- stopping, killing, losing ---- */

static void pool_failed(struct pool *pl)
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

static void proc_kill_timer(struct ev_loop *loop, void *arg)
{
	struct proc *p = arg;

	(void)loop;
	p->kill_timer = 0;
	log_info("worker %s[%d] still running 2 s after it was stopped; "
	         "killing it", p->worker, (int)p->pid);
	if (kill(p->pid, SIGKILL) == -1 && errno != ESRCH)
		log_warn("worker %s[%d]: kill", p->worker, (int)p->pid);
}

/* Graceful: with its channel closed, ws_serve returns and the worker
 * exits; SIGKILL if it has not 2 s later. */
void pool_proc_stop(struct proc *p, const char *why)
{
	if (p->state == PROC_DEAD)
		return;
	log_debug("worker %s[%d]: stopping: %s", p->worker, (int)p->pid, why);
	if (p->call != NULL)
		call_lost(p->call, SWITCHYARD__OUTCOME__INTERNAL_ERROR, why);
	p->stopped = 1;
	peer_close(&p->peer);
	p->kill_timer = ev_timer_add(serve_env.loop, STOP_GRACE_MS, proc_kill_timer,
	                             p);
	if (p->kill_timer == 0)
		kill(p->pid, SIGKILL);
	pool_proc_set(p, PROC_DEAD);
	call_origin_gone(p);
}

void pool_kill(struct proc *p, const char *why, enum pool_blame blame)
{
	Switchyard__Outcome o = blame ? SWITCHYARD__OUTCOME__EXCEPTION
	                              : SWITCHYARD__OUTCOME__INTERNAL_ERROR;
	struct pool *pl = p->pool;
	struct call *c = p->call;
	char violation[192] = "";

	if (kill(p->pid, SIGKILL) == -1 && errno != ESRCH)
		log_warn("worker %s[%d]: kill", p->worker, (int)p->pid);
	if (blame == BLAME_PROTOCOL && p->state != PROC_DEAD) {
		snprintf(violation, sizeof(violation), "protocol: %s",
		         strncmp(why, "protocol error: ", 16) == 0 ? why + 16
		                                                  : why);
		pool_violation(p, violation);
	}
	if (p->state == PROC_DEAD) {
		if (c != NULL)
			call_lost(c, o, why);
		return;
	}
	if (blame) {
		log_warnx("worker %s[%d]: %s; killed", p->worker, (int)p->pid,
		          why);
		snprintf(p->why, sizeof(p->why), "%s", why);
		if (pl != NULL)
			pool_failed(pl);
	} else {
		log_debug("worker %s[%d]: %s; killed", p->worker, (int)p->pid,
		          why);
		p->stopped = 1;
	}
	peer_close(&p->peer);
	pool_proc_set(p, PROC_DEAD);
	if (c != NULL)
		call_violated(c, o, why, violation);
	call_origin_gone(p);
	if (pl != NULL)
		pool_kick(pl);
}

/* The call it serves stays until the reap tells how it ended. */
void pool_channel_lost(struct proc *p, const char *why)
{
	struct pool *pl = p->pool;

	if (p->state == PROC_DEAD)
		return;
	log_debug("worker %s[%d]: %s", p->worker, (int)p->pid, why);
	if (kill(p->pid, SIGKILL) == -1 && errno != ESRCH)
		log_warn("worker %s[%d]: kill", p->worker, (int)p->pid);
	if (!p->stopped && pl != NULL)
		pool_failed(pl);
	peer_close(&p->peer);
	pool_proc_set(p, PROC_DEAD);
	call_origin_gone(p);
	if (pl != NULL)
		pool_kick(pl);
}

/* ---- starting ---- */

void pool_fail_queued(struct pool *pl, Switchyard__Outcome o,
                      const char *why)
{
	while (pl->qhead != NULL)
		call_fail(pl->qhead, o, why,
		          o == SWITCHYARD__OUTCOME__LOAD_SHED ? 1 : 0);
}

/* Nothing else will serve the waiting calls if no process is left. */
static void spawn_failed(struct pool *pl, const char *why)
{
	log_warnx("worker %s: cannot start: %s", pl->label, why);
	pool_failed(pl);
	start_fail_count(pl);
	if (pl->nlive == 0)
		pool_fail_queued(pl, SWITCHYARD__OUTCOME__INTERNAL_ERROR, why);
}

static struct proc *proc_new(struct pool *pl, const struct spawn_res *rs,
                             uint32_t version, uint64_t spawn_us)
{
	struct proc *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->pid = rs->pid;
	p->pool = pl;
	p->version = version;
	p->uid = spawn_jailed() ? pl->w->uid : geteuid();
	p->slot = rs->slot;
	p->spawn_us = spawn_us;
	p->state = PROC_STARTING;
	pl->m.spawns++;
	p->started_ms = now_ms();
	p->peer.fd = p->out.fd = p->err.fd = -1;
	snprintf(p->worker, sizeof(p->worker), "%s", pl->label);
	limits_meter_open(p, pl->w->plan);
	p->next = pl->procs;
	if (p->next != NULL)
		p->next->prev = p;
	pl->procs = p;
	p->all_next = children;
	if (p->all_next != NULL)
		p->all_next->all_prev = p;
	children = p;
	nchildren++;
	pl->nlive++;
	pl->nstarting++;
	return p;
}

/* The environment is the worker's secrets, then what its version was
 * deployed with: getenv finds the first of a name, so a secret wins. */
static int spawn_version(struct pool *pl, struct spawn_res *rs, char *err,
                         size_t errlen)
{
	const struct version *v = worker_version(pl->w);
	struct spawn_req rq = { pl->label, v->exe_path, v->number,
		                &pl->w->plan->jail, pl->w->plan->instances,
		                pl->w->uid, NULL, 0, &pl->tmpl };
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
	if ((p = proc_new(pl, &rs, worker_version(pl->w)->number, t0)) ==
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
	          KV_VALUE_MAX + 64 * 1024;
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

static void assign(struct pool *pl, struct call *c)
{
	struct proc *p = pl->idle;

	pool_proc_set(p, PROC_BUSY);
	call_start(c, p);
}

void pool_kick(struct pool *pl)
{
	struct call *c;

	if (pl->dying)
		return;
	while (pl->qhead != NULL && pl->idle != NULL) {
		c = pl->qhead;
		pool_unqueue(c);
		assign(pl, c);
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
	char why[96];

	if (pl == NULL) {
		call_fail(c, SWITCHYARD__OUTCOME__INTERNAL_ERROR,
		          "out of memory", 0);
		return;
	}
	c->pool = pl;
	if (pool_stopping || pl->dying) {
		call_fail(c, SWITCHYARD__OUTCOME__INTERNAL_ERROR,
		          "the platform is shutting down", 0);
		return;
	}
	if (pl->idle != NULL && pl->qhead == NULL) {
		assign(pl, c);
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

static int proc_outdated(const struct proc *p)
{
	return p->pool == NULL || pool_stopping || p->pool->dying ||
	       p->version != worker_version(p->pool->w)->number;
}

void pool_finished(struct proc *p)
{
	struct pool *pl = p->pool;

	if (pl != NULL)
		pl->fails = 0;
	if (p->state == PROC_DEAD)
		return;
	if (p->state == PROC_DRAINING || proc_outdated(p))
		pool_proc_stop(p, "a newer version serves now");
	else
		pool_proc_set(p, PROC_READY);
	if (pl != NULL)
		pool_kick(pl);
}

void pool_hello(struct proc *p, const struct sy_frame *f)
{
	Switchyard__Hello *h;
	uint32_t api;
	char why[96];

	if (p->state != PROC_STARTING) {
		pool_kill(p, "protocol error: HELLO when already started",
		          BLAME_PROTOCOL);
		return;
	}
	h = switchyard__hello__unpack(NULL, f->len, f->payload);
	if (h == NULL) {
		pool_kill(p, "protocol error: malformed HELLO", BLAME_PROTOCOL);
		return;
	}
	api = h->api_version;
	switchyard__hello__free_unpacked(h, NULL);
	if (api != SY_API_VERSION) {
		snprintf(why, sizeof(why), "speaks worker API version %u, not "
		         "%u", api, SY_API_VERSION);
		pool_kill(p, why, BLAME_WORKER);
		return;
	}
	p->ready_once = 1;
	if (p->pool != NULL) {
		p->pool->startfails = 0;
		stats_hist_add(p->pool->m.spawn, &p->pool->m.spawn_sum_us,
		               ev_clock_us() - p->spawn_us);
	}
	log_debug("worker %s[%d]: ready %llu us after its spawn began%s",
	          p->worker, (int)p->pid,
	          (unsigned long long)(ev_clock_us() - p->spawn_us),
	          spawn_jailed() ? "" : " (NOT JAILED)");
	if (proc_outdated(p))
		pool_proc_stop(p, "a newer version serves now");
	else
		pool_proc_set(p, PROC_READY);
	if (p->pool != NULL)
		pool_kick(p->pool);
}

const char *pool_label(const struct pool *pl)
{
	return pl->label;
}

struct worker *pool_worker(const struct pool *pl)
{
	return pl != NULL ? pl->w : NULL;
}

/* ---- reaping ---- */

static void proc_free(struct proc *p)
{
	struct pool *pl = p->pool;

	logpipe_drain(&p->out);
	logpipe_drain(&p->err);
	peer_close(&p->peer);
	if (p->kill_timer != 0)
		ev_timer_del(serve_env.loop, p->kill_timer);
	if (pl != NULL) {
		if (p->prev != NULL)
			p->prev->next = p->next;
		else
			pl->procs = p->next;
		if (p->next != NULL)
			p->next->prev = p->prev;
	}
	if (p->all_prev != NULL)
		p->all_prev->all_next = p->all_next;
	else
		children = p->all_next;
	if (p->all_next != NULL)
		p->all_next->all_prev = p->all_prev;
	nchildren--;
	limits_meter_close(p);
	free(p);
}

static void start_fail_count(struct pool *pl)
{
	if (++pl->startfails < FATAL_STARTS || pl->held)
		return;
	log_warnx("worker %s: FATAL: failed to start %u times in a row; not "
	          "starting it again until `yardctl start` or a deploy",
	          pl->label, pl->startfails);
	pl->held = HELD_FATAL;
}

/* A worker that dies before it is ready fails the calls waiting for it
 * when no other process is left to serve them. */
static void startup_failed(struct proc *p, const char *how)
{
	struct pool *pl = p->pool;
	char why[256];

	if (p->ready_once || p->stopped || pl == NULL)
		return;
	start_fail_count(pl);
	if (pl->nlive > 0)
		return;
	if (p->why[0] != '\0')
		snprintf(why, sizeof(why), "worker failed before it was ready: "
		         "%s", p->why);
	else
		snprintf(why, sizeof(why), "worker %s before it was ready", how);
	pool_fail_queued(pl, SWITCHYARD__OUTCOME__EXCEPTION, why);
}

int pool_reaped(pid_t pid, int status)
{
	struct spawn_exit ex;
	struct proc *p;
	struct pool *pl;
	char how[96], why[256];

	for (p = children; p != NULL && p->pid != pid; p = p->all_next)
		;
	if (p == NULL)
		return 0;
	pl = p->pool;
	sy_wait_status(status, how, sizeof(how));
	/* the jail tells a seccomp or memory-cap kill from a crash */
	spawn_reaped(p->slot, pid, status, &ex);
	p->slot = NULL;
	if (ex.violation[0] != '\0') {
		pool_violation(p, ex.violation);
		snprintf(why, sizeof(why), "worker %s: %s", how, ex.violation);
	} else {
		snprintf(why, sizeof(why), "worker %s", how);
	}
	if (p->state != PROC_DEAD)
		pool_channel_lost(p, why);
	if (p->stopped || p->why[0] != '\0')
		log_debug("worker %s[%d] %s", p->worker, (int)pid, how);
	else
		log_warnx("worker %s[%d] %s", p->worker, (int)pid, how);
	if (p->call != NULL)
		call_violated(p->call, ex.outcome, why, ex.violation);
	startup_failed(p, how);
	proc_free(p);
	if (pl != NULL)
		pool_kick(pl);
	return 1;
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
		if (p->state == PROC_READY && pn->idle_timeout_s > 0 &&
		    now - p->idle_since_ms >= pn->idle_timeout_s * 1000ull)
			pool_proc_stop(p, "idle");
		else if (p->state == PROC_STARTING &&
		         now - p->started_ms >= START_TIMEOUT_MS)
			pool_kill(p, "not ready (no HELLO) within 10 s",
			          BLAME_WORKER);
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
		if (p->version == worker_version(w)->number)
			continue;
		if (p->state == PROC_STARTING || p->state == PROC_READY)
			pool_proc_stop(p, "a newer version serves now");
		else if (p->state == PROC_BUSY)
			pool_proc_set(p, PROC_DRAINING);
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
		if (p->call != NULL)
			call_lost(p->call, SWITCHYARD__OUTCOME__INTERNAL_ERROR,
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

unsigned pool_children(void)
{
	return nchildren;
}
