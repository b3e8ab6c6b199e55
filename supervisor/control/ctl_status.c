/*
 * yardctl status, and the WorkerStatus entries other commands answer with
 * too (deploy, list, start, stop...): each worker's version and plan, its
 * processes' state and counters, and its non-OK outcomes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/ctl.h"
#include "jail/spawn.h"
#include "outcome.h"
#include "serve/pool.h"
#include "serve/stats.h"
#include "state/secrets.h"
#include "switchyard.pb-c.h"

#define CTL_MAX_PIDS 64 /* as struct pool_stats holds */

_Static_assert(sizeof(((struct pool_stats *)0)->pids) / sizeof(pid_t) ==
		   CTL_MAX_PIDS,
	       "CTL_MAX_PIDS must match struct pool_stats");

/* Fills ws for w; with stats, asks the pool (no pool: nothing ran yet). */
static void ctl_worker_status(struct worker *w, Switchyard__WorkerStatus *ws,
			      uint32_t *pids)
{
	const struct version *v = worker_version(w);
	char label[2 * SY_NAME_MAX];
	struct pool_stats st;
	uint64_t now = ev_now_ms(control_env.loop);
	uint32_t i;

	switchyard__worker_status__init(ws);
	memset(&st, 0, sizeof(st));
	st.state = "IDLE";
	if (w->pool != NULL)
		pool_stats(w, &st);
	ws->cpu_us = pool_cpu_us(w);
	ws->ns = w->ns;
	ws->name = w->name;
	ws->version = v->number;
	ws->state = (char *)(st.state != NULL ? st.state : "STOPPED");
	ws->live = st.live;
	ws->busy = st.busy;
	ws->queued = st.queued;
	ws->requests = st.requests;
	ws->errors = st.errors;
	ws->violations = st.violations;
	ws->jailed = spawn_jailed();
	/* unjailed, its processes run as we do */
	ws->uid = ws->jailed ? (uint32_t)w->uid : (uint32_t)geteuid();
	if (st.started_ms != 0 && now >= st.started_ms)
		ws->uptime_s = (now - st.started_ms) / 1000;
	ws->plan = (char *)v->plan;
	ws->sha256 = (char *)v->sha256;
	ws->tags = v->tags;
	ws->n_tags = v->ntags;
	ws->tail_consumers = v->tail_consumers;
	ws->n_tail_consumers = v->ntail_consumers;
	snprintf(label, sizeof(label), "%s/%s", w->ns, w->name);
	ws->secret_names = (char **)secrets_names(label, &ws->n_secret_names);
	if (st.npids > CTL_MAX_PIDS)
		st.npids = CTL_MAX_PIDS;
	for (i = 0; i < st.npids; i++)
		pids[i] = (uint32_t)st.pids[i];
	ws->n_pids = st.npids;
	ws->pids = pids;
}

/* The non-OK outcomes w's requests ended with, for "errors by outcome";
 * oc and ocp have room for POOL_NOUTCOMES entries. */
static void ctl_worker_outcomes(const struct worker *w,
                                Switchyard__WorkerStatus *ws,
                                Switchyard__OutcomeCount *oc,
                                Switchyard__OutcomeCount **ocp)
{
	const struct pool_metrics *m;
	uint32_t idle;
	size_t o, n = 0;

	if ((m = pool_metrics(w, &idle)) == NULL)
		return;
	ws->cpu_p50_us = stats_cpu_quantile_us(m->cpu, 0.50);
	ws->cpu_p99_us = stats_cpu_quantile_us(m->cpu, 0.99);
	for (o = 0; o < POOL_NOUTCOMES; o++) {
		if (o == SWITCHYARD__OUTCOME__OK || m->outcomes[o] == 0)
			continue;
		switchyard__outcome_count__init(&oc[n]);
		oc[n].outcome = (char *)sy_outcome_name((Switchyard__Outcome)o);
		oc[n].count = m->outcomes[o];
		ocp[n] = &oc[n];
		n++;
	}
	ws->n_outcomes = n;
	ws->outcomes = ocp;
}

/* Allocates room for n WorkerStatus entries in rep. */
int ctl_reserve(struct ctl_reply *rep, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	rep->ws = calloc(n, sizeof(*rep->ws));
	rep->wsp = calloc(n, sizeof(*rep->wsp));
	rep->pids = calloc(n * CTL_MAX_PIDS, sizeof(*rep->pids));
	rep->oc = calloc(n * POOL_NOUTCOMES, sizeof(*rep->oc));
	rep->ocp = calloc(n * POOL_NOUTCOMES, sizeof(*rep->ocp));
	if (rep->ws == NULL || rep->wsp == NULL || rep->pids == NULL ||
	    rep->oc == NULL || rep->ocp == NULL)
		return -1;
	for (i = 0; i < n; i++)
		rep->wsp[i] = &rep->ws[i];
	rep->res.workers = rep->wsp;
	return 0;
}

void ctl_add_worker(struct ctl_reply *rep, struct worker *w)
{
	const struct version *v = worker_version(w);
	size_t i = rep->res.n_workers++;

	ctl_worker_status(w, &rep->ws[i], &rep->pids[i * CTL_MAX_PIDS]);
	rep->ws[i].services = ctl_service_texts(rep, v);
	rep->ws[i].n_services = rep->ws[i].services ? v->nservices : 0;
	rep->ws[i].dispatch_namespaces = v->dispatch_ns;
	rep->ws[i].n_dispatch_namespaces = v->ndispatch_ns;
	ctl_worker_outcomes(w, &rep->ws[i], &rep->oc[i * POOL_NOUTCOMES],
	                    &rep->ocp[i * POOL_NOUTCOMES]);
}

/* supervisorctl's contract: status fails when a worker it shows is not
 * running. Idle workers (no process until a request comes) are fine. */
static void ctl_status_check(struct ctl_reply *rep)
{
	const char *st;
	size_t i, bad = 0;

	for (i = 0; i < rep->res.n_workers; i++) {
		st = rep->res.workers[i]->state;
		if (strcmp(st, "STOPPED") == 0 || strcmp(st, "STOPPING") == 0 ||
		    strcmp(st, "FATAL") == 0)
			bad++;
	}
	if (bad > 0)
		ctl_fail(rep, CTL_NOT_RUNNING,
			 "status: %zu of %zu workers not running (STOPPED, "
			 "STOPPING or FATAL)", bad, rep->res.n_workers);
}

/* status [all, NS/NAME, or a namespace] */
void ctl_status(const Switchyard__CtlRequest *req, int fd,
		struct ctl_reply *rep)
{
	struct ctl_sel sel;
	struct worker *w;
	size_t n;

	if (req->n_args > 1) {
		ctl_fail(rep, CTL_USAGE,
			 "status: expected at most one NS/NAME, NS/* or all");
		return;
	}
	if (ctl_parse_sel("status", req->n_args ? req->args[0] : NULL, &sel,
			  rep) == -1)
		return;
	if ((n = ctl_sel_count("status", &sel, rep)) == 0) {
		if (rep->res.code == CTL_OK)
			snprintf(rep->message, sizeof(rep->message),
				 "no workers deployed");
		return;
	}
	if (ctl_reserve(rep, n) == -1) {
		ctl_fail(rep, CTL_FAIL, "status: out of memory");
		return;
	}
	for (w = registry_first(); w != NULL; w = registry_next(w)) {
		if (ctl_sel_match(&sel, w))
			ctl_add_worker(rep, w);
	}
	ctl_status_check(rep);
}
