/*
 * The operator's commands on a worker's processes (yardctl start, stop,
 * signal, tail; reload's plan changes): they hold or release the pool and
 * drive its processes with the same events as requests do (DRAIN, STOP:
 * pool_proc.c's table).
 */
#include <signal.h>
#include <stdio.h>

#include "jail/spawn.h"
#include "log.h"
#include "serve/logring.h"
#include "serve/pool.h"
#include "serve/pool_state.h"

int pool_op_held(const struct worker *w)
{
	return w->pool != NULL && w->pool->held != RUN;
}

int pool_op_start(struct worker *w, char *err, size_t errlen)
{
	struct pool *pl = w->pool != NULL ? w->pool : pool_new(w);

	if (pl == NULL || pool_stopping) {
		snprintf(err, errlen, "%s", pool_stopping ? "the platform is "
		         "shutting down" : "out of memory");
		return -1;
	}
	if (pl->held != RUN)
		log_info("worker %s: started by the operator", pl->label);
	pl->held = RUN;
	pl->fails = pl->startfails = 0;
	pl->backoff_until = 0;
	while (pl->nlive < w->plan->instances) {
		if (pool_proc_spawn(pl) == -1) {
			snprintf(err, errlen, "cannot start a process (see the "
			         "supervisor's log)");
			return -1;
		}
	}
	pool_kick(pl);
	return 0;
}

int pool_op_stop(struct worker *w, char *err, size_t errlen)
{
	struct pool *pl = w->pool != NULL ? w->pool : pool_new(w);
	struct proc *p, *next;

	if (pl == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (pl->held != HELD_STOPPED)
		log_info("worker %s: stopped by the operator", pl->label);
	pl->held = HELD_STOPPED;
	pool_fail_queued(pl, SWITCHYARD__OUTCOME__LOAD_SHED,
	                 "worker stopped by the operator");
	for (p = pl->procs; p != NULL; p = next) {
		next = p->next;
		pool_proc_drain(p, "stopped by the operator");
	}
	return 0;
}

int pool_op_none_left(const struct worker *w)
{
	return w->pool == NULL || w->pool->procs == NULL;
}

unsigned pool_op_signal(struct worker *w, int sig)
{
	struct proc *p, *next;
	unsigned n = 0;

	if (w->pool == NULL)
		return 0;
	for (p = w->pool->procs; p != NULL; p = next) {
		next = p->next;
		if (p->state == PROC_DEAD)
			continue;
		/* As pid 1 of its namespace a worker ignores TERM unless it
		 * handles it: TERM is the platform's own graceful stop. */
		if (sig == SIGTERM) {
			pool_proc_drain(p, "SIGTERM from the operator");
			n++;
		} else if (kill(p->pid, sig) == -1)
			log_warn("worker %s[%d]: kill %d", p->worker,
			         (int)p->pid, sig);
		else
			n++;
	}
	return n;
}

struct logring *pool_logring(struct worker *w, int stream)
{
	struct pool *pl = w->pool != NULL ? w->pool : pool_new(w);

	if (pl == NULL || stream < 1 || stream > 2)
		return NULL;
	return &pl->ring[stream - 1];
}

void pool_plan_changed(struct worker *w)
{
	struct pool *pl = w->pool;

	if (pl == NULL)
		return;
	/* rebuilt at the next spawn from the new plan */
	spawn_tmpl_free(pl->tmpl);
	pl->tmpl = NULL;
	while (pl->nlive > w->plan->instances && pl->idle != NULL)
		pool_proc_stop(pl->idle, "fewer instances in its plan");
	pool_kick(pl);
}
