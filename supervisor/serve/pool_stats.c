/*
 * The counters of each worker's pool: requests, errors and outcomes,
 * durations, CPU time, violations of platform rules, and the state
 * yardctl status and the admin listener (stats.c) show.
 */
#include <string.h>

#include "log.h"
#include "outcome.h"
#include "serve/call.h"
#include "serve/pool.h"
#include "serve/pool_state.h"
#include "serve/serve.h"
#include "serve/stats.h"

/* Every broken platform rule is counted and logged with whom it was,
 * and the request it served (docs/events.md, "Request ids"). */
void pool_violation(struct proc *p, const char *what)
{
	struct worker *w = p->pool != NULL ? p->pool->w : NULL;
	char note[CALL_RID_NOTE];

	if (p->pool != NULL) {
		p->pool->violations++;
		p->pool->m.violations[sy_viol_kind(what)]++;
	}
	log_warnx("violation: tenant %s worker %s version %u pid %d uid %u: "
	          "%s%s", w != NULL ? w->ns : p->worker,
	          w != NULL ? w->name : "?", p->version, (int)p->pid,
	          (unsigned)p->uid, what, call_rid_note(p->calls, note));
}

void pool_call_done(struct pool *pl, Switchyard__Outcome o, uint64_t wall_us,
                    uint64_t cpu_us, uint32_t subrequests)
{
	if (pl == NULL)
		return;
	pl->m.outcomes[(unsigned)o < POOL_NOUTCOMES ? (unsigned)o : 0]++;
	stats_hist_add(pl->m.dur, &pl->m.dur_sum_us, wall_us);
	stats_cpu_add(pl->m.cpu, cpu_us);
	pl->m.cpu_us += cpu_us;
	pl->m.subrequests += subrequests;
}

void pool_cancel_counted(struct proc *p, int kept)
{
	if (p->pool == NULL)
		return;
	if (kept)
		p->pool->m.cancels_kept++;
	else
		p->pool->m.cancels_killed++;
}

const struct pool_metrics *pool_metrics(const struct worker *w,
                                        uint32_t *idle)
{
	const struct proc *p;

	*idle = 0;
	if (w->pool == NULL)
		return NULL;
	for (p = w->pool->idle; p != NULL; p = p->idle_next)
		(*idle)++;
	return &w->pool->m;
}

void pool_account(struct pool *pl, unsigned requests, unsigned errors)
{
	if (pl == NULL)
		return;
	pl->requests += requests;
	pl->errors += errors;
}

void pool_stats(const struct worker *w, struct pool_stats *st)
{
	const struct pool *pl = w->pool;
	const struct proc *p;

	memset(st, 0, sizeof(*st));
	st->state = "IDLE";
	if (pl == NULL)
		return;
	st->live = pl->nlive;
	st->busy = pl->nbusy;
	st->queued = pl->nqueued;
	st->requests = pl->requests;
	st->errors = pl->errors;
	st->violations = pl->violations;
	for (p = pl->procs; p != NULL; p = p->next) {
		if (p->state == PROC_DEAD)
			continue;
		if (st->npids < sizeof(st->pids) / sizeof(st->pids[0]))
			st->pids[st->npids++] = p->pid;
		if (st->started_ms == 0 || p->started_ms < st->started_ms)
			st->started_ms = p->started_ms;
	}
	if (pl->held == HELD_STOPPED)
		st->state = pl->procs != NULL ? "STOPPING" : "STOPPED";
	else if (pl->held == HELD_FATAL)
		st->state = "FATAL";
	else if (pl->nlive > pl->nstarting)
		st->state = "RUNNING";
	else if (pl->nstarting > 0)
		st->state = "STARTING";
	else if (pl->fails > 0 && pl->backoff_until > ev_now_ms(serve_env.loop))
		st->state = "BACKOFF";
}

uint64_t pool_cpu_us(const struct worker *w)
{
	const struct proc *p;
	uint64_t us;

	if (w->pool == NULL)
		return 0;
	us = w->pool->cpu_us;
	for (p = w->pool->procs; p != NULL; p = p->next) {
		if (p->state != PROC_DEAD)
			us += pool_proc_cpu_us(p);
	}
	return us;
}
