/*
 * The life of one worker process, shaped as skarnet's s6-supervise: a
 * table, actions[state][event], whose cells are small named functions, and
 * one dispatch function, proc_event(), through which every event goes. The
 * pool and the request path only raise events, through the functions at
 * the end of this file; an action alone changes a process's state, with
 * proc_enter(), which keeps its pool's counters and idle stack in step. A
 * cell for an event that cannot happen in its state is "refuse": the bug
 * is logged, the state stays, and a call the event came with is answered.
 *
 * Processes are made here in STARTING (pool_proc_new) and freed once
 * reaped. The pools and their queues are pool.c's.
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
#include "util.h"

#define STOP_GRACE_MS 2000       /* from closing its channel to SIGKILL */
#define START_TIMEOUT_MS 10000   /* from exec to HELLO */

/* An event and what it carries; each kind uses the fields noted. */
struct proc_input {
	enum proc_event event;
	const char *why;              /* DRAIN, STOP, KILL, LOST */
	enum pool_blame blame;        /* KILL */
	const struct sy_frame *frame; /* HELLO */
	struct call *call;            /* ASSIGN */
	int status;                   /* REAPED: its wait status */
};

typedef void proc_action(struct proc *p, const struct proc_input *in);

/* A cell of the table: the action, and its name for tests and logs. */
struct proc_cell {
	proc_action *fn;
	const char *name;
};

static struct proc *children;    /* every process not reaped yet */
static unsigned nchildren;

static const char *const state_names[PROC_NSTATES] = {
	[PROC_STARTING] = "STARTING", [PROC_READY] = "READY",
	[PROC_BUSY] = "BUSY", [PROC_DRAINING] = "DRAINING",
	[PROC_DEAD] = "DEAD",
};

static const char *const event_names[PROC_NEVENTS] = {
	[PROC_EV_HELLO] = "HELLO", [PROC_EV_ASSIGN] = "ASSIGN",
	[PROC_EV_END] = "END", [PROC_EV_DRAIN] = "DRAIN",
	[PROC_EV_STOP] = "STOP", [PROC_EV_KILL] = "KILL",
	[PROC_EV_LOST] = "LOST", [PROC_EV_REAPED] = "REAPED",
	[PROC_EV_TICK] = "TICK",
};

static void proc_event(struct proc *p, const struct proc_input *in);

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

/* Moves p to state to: only actions call this, each for the transition
 * its cell stands for. */
static void proc_enter(struct proc *p, enum proc_state to)
{
	struct pool *pl = p->pool;

	if (p->warm && to != PROC_READY)
		pool_warm_release(p);
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
}

static void sigkill(struct proc *p)
{
	if (kill(p->pid, SIGKILL) == -1 && errno != ESRCH)
		log_warn("worker %s[%d]: kill", p->worker, (int)p->pid);
}

static void proc_kill_timer(struct ev_loop *loop, void *arg)
{
	struct proc *p = arg;

	(void)loop;
	p->kill_timer = 0;
	log_info("worker %s[%d] still running 2 s after it was stopped; "
	         "killing it", p->worker, (int)p->pid);
	sigkill(p);
}

/* A process of an older version, or of a pool going away, serves no more
 * calls. */
static int proc_outdated(const struct proc *p)
{
	return p->pool == NULL || pool_stopping || p->pool->dying ||
	       p->version != worker_version(p->pool->w)->number;
}

/* ---- the actions, one per cell of the table ---- */

/* An event that cannot happen in this state: a bug of ours, logged. A
 * call it came with is still answered. */
static void refuse(struct proc *p, const struct proc_input *in)
{
	log_warnx("worker %s[%d]: refused %s in state %s", p->worker,
	          (int)p->pid, event_names[in->event], state_names[p->state]);
	if (in->call != NULL)
		call_fail(in->call, SWITCHYARD__OUTCOME__INTERNAL_ERROR,
		          "internal error: no process to serve it", 0);
}

/* An event that means nothing in this state. */
static void nop(struct proc *p, const struct proc_input *in)
{
	(void)p;
	(void)in;
}

/* Ready, unless it speaks another API, or a newer version became current
 * while it started. */
static void starting_hello(struct proc *p, const struct proc_input *in)
{
	Switchyard__Hello *h;
	uint32_t api;
	char why[96];

	h = switchyard__hello__unpack(NULL, in->frame->len, in->frame->payload);
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
	limits_cpu_mark(p);
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
		proc_enter(p, PROC_READY);
	if (p->pool != NULL)
		pool_kick(p->pool);
}

static void hello_twice(struct proc *p, const struct proc_input *in)
{
	(void)in;
	pool_kill(p, "protocol error: HELLO when already started",
	          BLAME_PROTOCOL);
}

static void ready_assign(struct proc *p, const struct proc_input *in)
{
	proc_enter(p, PROC_BUSY);
	call_start(in->call, p);
	if (p->pool != NULL && p->pool->m.max_held == 0)
		p->pool->m.max_held = 1;
}

/* A dispatch process takes calls up to its concurrency while it runs. */
static void busy_assign(struct proc *p, const struct proc_input *in)
{
	if (p->ncalls >= p->conc) {
		refuse(p, in);
		return;
	}
	call_start(in->call, p);
	if (p->pool != NULL && p->ncalls > p->pool->m.max_held)
		p->pool->m.max_held = p->ncalls;
}

/* The other calls a process holds (a dispatch process, pool.h) fail
 * with it: it served the first, they were waiting. */
static void fail_held(struct proc *p, Switchyard__Outcome o, const char *why)
{
	while (p->calls != NULL)
		call_lost(p->calls, o, why);
}

/* Free for the next call, unless a newer version serves now. */
static void busy_end(struct proc *p, const struct proc_input *in)
{
	(void)in;
	if (p->ncalls > 0) {
		/* room for one more */
		if (p->pool != NULL)
			pool_kick(p->pool);
		return;
	}
	if (proc_outdated(p))
		pool_proc_stop(p, "a newer version serves now");
	else
		proc_enter(p, PROC_READY);
	if (p->pool != NULL)
		pool_kick(p->pool);
}

static void draining_end(struct proc *p, const struct proc_input *in)
{
	(void)in;
	if (p->ncalls > 0)
		return;
	pool_proc_stop(p, "a newer version serves now");
	if (p->pool != NULL)
		pool_kick(p->pool);
}

/* It finishes its call first (draining_end). */
static void busy_drain(struct proc *p, const struct proc_input *in)
{
	(void)in;
	proc_enter(p, PROC_DRAINING);
}

/* Graceful: with its channel closed, ws_serve returns and the worker
 * exits; SIGKILL if it has not 2 s later. A call it serves fails. */
static void stop_now(struct proc *p, const struct proc_input *in)
{
	log_debug("worker %s[%d]: stopping: %s", p->worker, (int)p->pid,
	          in->why);
	fail_held(p, SWITCHYARD__OUTCOME__INTERNAL_ERROR, in->why);
	p->stopped = 1;
	peer_close(&p->peer);
	p->kill_timer = ev_timer_add(serve_env.loop, STOP_GRACE_MS,
	                             proc_kill_timer, p);
	if (p->kill_timer == 0)
		kill(p->pid, SIGKILL);
	proc_enter(p, PROC_DEAD);
	call_origin_gone(p);
}

/* A worker to blame is logged as a warning and counts towards its pool's
 * backoff; its call fails as EXCEPTION, else as INTERNAL_ERROR. */
static void kill_now(struct proc *p, const struct proc_input *in)
{
	Switchyard__Outcome o = in->blame ? SWITCHYARD__OUTCOME__EXCEPTION
	                                  : SWITCHYARD__OUTCOME__INTERNAL_ERROR;
	const char *why = in->why;
	struct pool *pl = p->pool;
	struct call *c = p->calls;
	char violation[192] = "", note[CALL_RID_NOTE];

	sigkill(p);
	if (in->blame == BLAME_PROTOCOL) {
		snprintf(violation, sizeof(violation), "protocol: %s",
		         strncmp(why, "protocol error: ", 16) == 0 ? why + 16
		                                                  : why);
		pool_violation(p, violation);
	}
	if (in->blame) {
		log_warnx("worker %s[%d]: %s; killed%s", p->worker,
		          (int)p->pid, why, call_rid_note(c, note));
		snprintf(p->why, sizeof(p->why), "%s", why);
		if (pl != NULL)
			pool_backoff(pl);
	} else {
		log_debug("worker %s[%d]: %s; killed", p->worker, (int)p->pid,
		          why);
		p->stopped = 1;
	}
	peer_close(&p->peer);
	proc_enter(p, PROC_DEAD);
	if (c != NULL)
		call_violated(c, o, why, violation);
	fail_held(p, SWITCHYARD__OUTCOME__INTERNAL_ERROR, why);
	call_origin_gone(p);
	if (pl != NULL)
		pool_kick(pl);
}

/* Dead already, maybe not gone yet; a call it still holds fails now. */
static void kill_again(struct proc *p, const struct proc_input *in)
{
	sigkill(p);
	fail_held(p, in->blame ? SWITCHYARD__OUTCOME__EXCEPTION
	                       : SWITCHYARD__OUTCOME__INTERNAL_ERROR, in->why);
}

/* It is dying or broken. The call it serves stays until the reap tells
 * how it ended. */
static void lose(struct proc *p, const struct proc_input *in)
{
	struct pool *pl = p->pool;

	log_debug("worker %s[%d]: %s", p->worker, (int)p->pid, in->why);
	sigkill(p);
	if (!p->stopped && pl != NULL)
		pool_backoff(pl);
	peer_close(&p->peer);
	proc_enter(p, PROC_DEAD);
	call_origin_gone(p);
	if (pl != NULL)
		pool_kick(pl);
}

/* How a reaped process ended, as its wait status and its jail tell. */
struct reap_info {
	char how[96];           /* "exited with status 3", "killed by ..." */
	char why[256];          /* the same for a call, with a violation */
	struct spawn_exit ex;
};

/* The jail tells a seccomp or memory-cap kill from a crash; its cgroup
 * goes to the next process. */
static void reap_classify(struct proc *p, int status, struct reap_info *r)
{
	sy_wait_status(status, r->how, sizeof(r->how));
	spawn_reaped(p->slot, p->pid, status, &r->ex);
	p->slot = NULL;
	if (r->ex.violation[0] != '\0') {
		pool_violation(p, r->ex.violation);
		snprintf(r->why, sizeof(r->why), "worker %s: %s", r->how,
		         r->ex.violation);
	} else {
		snprintf(r->why, sizeof(r->why), "worker %s", r->how);
	}
}

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

/* A worker that dies before it is ready fails the calls waiting for it
 * when no other process is left to serve them. */
static void startup_failed(struct proc *p, const char *how)
{
	struct pool *pl = p->pool;
	char why[256];

	if (p->ready_once || p->stopped || pl == NULL)
		return;
	pool_start_failed(pl);
	if (pl->nlive > 0)
		return;
	if (p->why[0] != '\0')
		snprintf(why, sizeof(why), "worker failed before it was ready: "
		         "%s", p->why);
	else
		snprintf(why, sizeof(why), "worker %s before it was ready", how);
	pool_fail_queued(pl, SWITCHYARD__OUTCOME__EXCEPTION, why);
}

/* The call it served learns how it ended; then it is freed. */
static void reap_finish(struct proc *p, const struct reap_info *r)
{
	struct pool *pl = p->pool;
	char note[CALL_RID_NOTE];

	if (p->stopped || p->why[0] != '\0')
		log_debug("worker %s[%d] %s", p->worker, (int)p->pid, r->how);
	else
		log_warnx("worker %s[%d] %s%s", p->worker, (int)p->pid,
		          r->how, call_rid_note(p->calls, note));
	if (p->calls != NULL)
		call_violated(p->calls, r->ex.outcome, r->why, r->ex.violation);
	fail_held(p, SWITCHYARD__OUTCOME__INTERNAL_ERROR, r->why);
	startup_failed(p, r->how);
	proc_free(p);
	if (pl != NULL)
		pool_kick(pl);
}

static void reap_dead(struct proc *p, const struct proc_input *in)
{
	struct reap_info r;

	reap_classify(p, in->status, &r);
	reap_finish(p, &r);
}

/* Reaped before its channel told: lost first, with how it ended. */
static void reap_live(struct proc *p, const struct proc_input *in)
{
	struct reap_info r;

	reap_classify(p, in->status, &r);
	pool_channel_lost(p, r.why);
	reap_finish(p, &r);
}

static void check_start(struct proc *p, const struct proc_input *in)
{
	(void)in;
	if (now_ms() - p->started_ms >= START_TIMEOUT_MS)
		pool_kill(p, "not ready (no HELLO) within 10 s", BLAME_WORKER);
}

/* A warm process waits for its request however long it takes. */
static void check_idle(struct proc *p, const struct proc_input *in)
{
	const struct plan *pn = p->pool->w->plan;

	(void)in;
	if (!p->warm && pn->idle_timeout_s > 0 &&
	    now_ms() - p->idle_since_ms >= pn->idle_timeout_s * 1000ull) {
		pool_proc_stop(p, "idle");
		p->pool->idle_stopped = 1;
	}
}

/* ---- the table ---- */

#define CELL(fn) { fn, #fn }

static const struct proc_cell actions[PROC_NSTATES][PROC_NEVENTS] = {
	[PROC_STARTING] = {
		[PROC_EV_HELLO] = CELL(starting_hello),
		[PROC_EV_ASSIGN] = CELL(refuse),
		[PROC_EV_END] = CELL(refuse),
		[PROC_EV_DRAIN] = CELL(stop_now),
		[PROC_EV_STOP] = CELL(stop_now),
		[PROC_EV_KILL] = CELL(kill_now),
		[PROC_EV_LOST] = CELL(lose),
		[PROC_EV_REAPED] = CELL(reap_live),
		[PROC_EV_TICK] = CELL(check_start),
	},
	[PROC_READY] = {
		[PROC_EV_HELLO] = CELL(hello_twice),
		[PROC_EV_ASSIGN] = CELL(ready_assign),
		[PROC_EV_END] = CELL(refuse),
		[PROC_EV_DRAIN] = CELL(stop_now),
		[PROC_EV_STOP] = CELL(stop_now),
		[PROC_EV_KILL] = CELL(kill_now),
		[PROC_EV_LOST] = CELL(lose),
		[PROC_EV_REAPED] = CELL(reap_live),
		[PROC_EV_TICK] = CELL(check_idle),
	},
	[PROC_BUSY] = {
		[PROC_EV_HELLO] = CELL(hello_twice),
		[PROC_EV_ASSIGN] = CELL(busy_assign),
		[PROC_EV_END] = CELL(busy_end),
		[PROC_EV_DRAIN] = CELL(busy_drain),
		[PROC_EV_STOP] = CELL(stop_now),
		[PROC_EV_KILL] = CELL(kill_now),
		[PROC_EV_LOST] = CELL(lose),
		[PROC_EV_REAPED] = CELL(reap_live),
		[PROC_EV_TICK] = CELL(nop),
	},
	[PROC_DRAINING] = {
		[PROC_EV_HELLO] = CELL(hello_twice),
		[PROC_EV_ASSIGN] = CELL(refuse),
		[PROC_EV_END] = CELL(draining_end),
		[PROC_EV_DRAIN] = CELL(nop),
		[PROC_EV_STOP] = CELL(stop_now),
		[PROC_EV_KILL] = CELL(kill_now),
		[PROC_EV_LOST] = CELL(lose),
		[PROC_EV_REAPED] = CELL(reap_live),
		[PROC_EV_TICK] = CELL(nop),
	},
	/* Its channel is closed: no frame (HELLO, END) and no break of it
	 * (LOST) can come any more. */
	[PROC_DEAD] = {
		[PROC_EV_HELLO] = CELL(refuse),
		[PROC_EV_ASSIGN] = CELL(refuse),
		[PROC_EV_END] = CELL(refuse),
		[PROC_EV_DRAIN] = CELL(nop),
		[PROC_EV_STOP] = CELL(nop),
		[PROC_EV_KILL] = CELL(kill_again),
		[PROC_EV_LOST] = CELL(refuse),
		[PROC_EV_REAPED] = CELL(reap_dead),
		[PROC_EV_TICK] = CELL(nop),
	},
};

/* The one way into the table. An action may raise further events on p
 * (HELLO from an outdated process stops it); REAPED frees p. */
static void proc_event(struct proc *p, const struct proc_input *in)
{
	actions[p->state][in->event].fn(p, in);
}

const char *pool_proc_action(enum proc_state s, enum proc_event e)
{
	if ((unsigned)s >= PROC_NSTATES || (unsigned)e >= PROC_NEVENTS)
		return NULL;
	return actions[s][e].fn != NULL ? actions[s][e].name : NULL;
}

const char *pool_proc_state_name(enum proc_state s)
{
	return (unsigned)s < PROC_NSTATES ? state_names[s] : NULL;
}

const char *pool_proc_event_name(enum proc_event e)
{
	return (unsigned)e < PROC_NEVENTS ? event_names[e] : NULL;
}

/* ---- the events, raised by the pool and the request path ---- */

/* Only the platform's dispatch worker, trusted code, decides several
 * requests per wake-up; a tenant's process holds one, so that its CPU
 * time is its request's alone. */
static unsigned proc_concurrency(const struct pool *pl)
{
	const struct sup_config *conf = serve_env.conf;

	if (strcmp(pl->w->ns, conf->dispatch_ns) != 0 ||
	    strcmp(pl->w->name, conf->dispatch_name) != 0)
		return 1;
	return pl->w->plan->concurrency ? pl->w->plan->concurrency : 1;
}

struct proc *pool_proc_new(struct pool *pl, const struct spawn_res *rs,
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
	p->conc = proc_concurrency(pl);
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

void pool_hello(struct proc *p, const struct sy_frame *f)
{
	proc_event(p, &(struct proc_input){ .event = PROC_EV_HELLO,
	                                    .frame = f });
}

void pool_proc_assign(struct proc *p, struct call *c)
{
	proc_event(p, &(struct proc_input){ .event = PROC_EV_ASSIGN,
	                                    .call = c });
}

/* A call completed: whatever failed before is over for its pool. */
void pool_finished(struct proc *p)
{
	if (p->pool != NULL)
		p->pool->fails = 0;
	proc_event(p, &(struct proc_input){ .event = PROC_EV_END });
}

void pool_proc_drain(struct proc *p, const char *why)
{
	proc_event(p, &(struct proc_input){ .event = PROC_EV_DRAIN,
	                                    .why = why });
}

void pool_proc_stop(struct proc *p, const char *why)
{
	proc_event(p, &(struct proc_input){ .event = PROC_EV_STOP,
	                                    .why = why });
}

void pool_kill(struct proc *p, const char *why, enum pool_blame blame)
{
	proc_event(p, &(struct proc_input){ .event = PROC_EV_KILL,
	                                    .why = why, .blame = blame });
}

void pool_channel_lost(struct proc *p, const char *why)
{
	proc_event(p, &(struct proc_input){ .event = PROC_EV_LOST,
	                                    .why = why });
}

void pool_proc_tick(struct proc *p)
{
	proc_event(p, &(struct proc_input){ .event = PROC_EV_TICK });
}

int pool_reaped(pid_t pid, int status)
{
	struct proc *p;

	for (p = children; p != NULL && p->pid != pid; p = p->all_next)
		;
	if (p == NULL)
		return 0;
	proc_event(p, &(struct proc_input){ .event = PROC_EV_REAPED,
	                                    .status = status });
	return 1;
}

unsigned pool_children(void)
{
	return nchildren;
}
