/*
 * The Stats message: what each worker's pool counted, for the router to
 * render as a status page or Prometheus metrics. The supervisor never sees
 * the HTTP request; it only answers with numbers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "serve/decision_cache.h"
#include "serve/kv_serve.h"
#include "serve/pool.h"
#include "serve/stats.h"
#include "serve/tailcons.h"

/* Room kept for the Stats envelope (bounds, flags, counts). */
#define STATS_SLACK 1024u

const uint64_t pool_bounds_us[POOL_NBOUNDS] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000,
};

/* Roughly x1.5-x2.5 apart: a quantile interpolated in a bucket is off by
 * at most about a third of it. */
const uint64_t stats_cpu_bounds_us[STATS_CPU_NBOUNDS] = {
	50, 75, 100, 150, 200, 300, 500, 750, 1000, 2000, 5000, 10000,
	25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000,
	10000000, 30000000,
};

static size_t bucket(const uint64_t *bounds, size_t n, uint64_t us)
{
	size_t i = 0;

	while (i < n && us > bounds[i])
		i++;
	return i;
}

void stats_hist_add(uint64_t *h, uint64_t *sum, uint64_t us)
{
	h[bucket(pool_bounds_us, POOL_NBOUNDS, us)]++;
	*sum += us;
}

void stats_cpu_add(uint64_t *h, uint64_t us)
{
	h[bucket(stats_cpu_bounds_us, STATS_CPU_NBOUNDS, us)]++;
}

uint64_t stats_cpu_quantile_us(const uint64_t *h, double q)
{
	uint64_t total = 0, below = 0, lo, hi;
	double rank;
	size_t i;

	for (i = 0; i < STATS_CPU_NBUCKETS; i++)
		total += h[i];
	if (total == 0)
		return 0;
	rank = q * (double)total;
	for (i = 0; i < STATS_CPU_NBOUNDS; i++) {
		if (h[i] > 0 && (double)(below + h[i]) >= rank) {
			lo = i > 0 ? stats_cpu_bounds_us[i - 1] : 0;
			hi = stats_cpu_bounds_us[i];
			return lo + (uint64_t)((double)(hi - lo) *
			                       (rank - (double)below) /
			                       (double)h[i]);
		}
		below += h[i];
	}
	return stats_cpu_bounds_us[STATS_CPU_NBOUNDS - 1];
}

/* The counters are read-only here; protobuf-c wants non-const arrays. */
#define ARR(msg, field, src, n) do { \
		(msg)->n_##field = (n); \
		(msg)->field = (uint64_t *)(uintptr_t)(src); \
	} while (0)

static void fill_worker(Switchyard__WorkerStats *ws, const struct worker *w)
{
	static const struct pool_metrics none; /* a worker not used yet */
	const struct pool_metrics *m;
	struct pool_stats st;
	char label[2 * SY_NAME_MAX];
	uint32_t idle;

	pool_stats(w, &st);
	ws->ns = (char *)w->ns;
	ws->name = (char *)w->name;
	ws->state = (char *)st.state;
	ws->live = st.live;
	ws->busy = st.busy;
	ws->queued = st.queued;
	ws->requests = st.requests;
	ws->errors = st.errors;
	ws->process_cpu_us = pool_cpu_us(w);
	if ((m = pool_metrics(w, &idle)) == NULL)
		m = &none;
	ws->idle = idle;
	ws->max_queued = m->max_queued;
	ws->max_children_reached = m->max_children_reached;
	ws->accepted_since = m->created_unix;
	ARR(ws, outcomes, m->outcomes, POOL_NOUTCOMES);
	ws->cpu_us = m->cpu_us;
	ARR(ws, duration_buckets, m->dur, POOL_NBUCKETS);
	ws->duration_sum_us = m->dur_sum_us;
	ARR(ws, cpu_buckets, m->cpu, STATS_CPU_NBUCKETS);
	ws->subrequests = m->subrequests;
	ARR(ws, violations, m->violations, SY_VIOL_COUNT);
	ws->spawns = m->spawns;
	ARR(ws, spawn_buckets, m->spawn, POOL_NBUCKETS);
	ws->spawn_sum_us = m->spawn_sum_us;
	ws->cancels_kept = m->cancels_kept;
	ws->cancels_killed = m->cancels_killed;
	ws->max_held = m->max_held;
	snprintf(label, sizeof(label), "%s/%s", w->ns, w->name);
	ws->kv = kv_stats(label, &ws->n_kv);
}

static size_t count_workers(void)
{
	struct worker *w;
	size_t n = 0;

	for (w = registry_first(); w != NULL; w = registry_next(w))
		n++;
	return n;
}

/* Workers in registry order while they fit in one frame; the rest are
 * left out and the answer says so. */
static void build(Switchyard__Stats *s, Switchyard__WorkerStats *ws,
                  Switchyard__WorkerStats **wp, size_t n)
{
	size_t used = STATS_SLACK + switchyard__stats__get_packed_size(s), sz;
	struct worker *w;

	s->nworkers = (uint32_t)n;
	for (w = registry_first(); w != NULL && s->n_workers < n;
	     w = registry_next(w)) {
		Switchyard__WorkerStats *one = &ws[s->n_workers];

		switchyard__worker_stats__init(one);
		fill_worker(one, w);
		sz = switchyard__worker_stats__get_packed_size(one) + 8;
		if (used + sz > SY_FRAME_MAX) {
			free(one->kv);
			s->truncated = 1;
			break;
		}
		used += sz;
		wp[s->n_workers++] = one;
	}
	s->workers = wp;
}

void stats_request(struct peer *router, const struct sy_frame *f)
{
	Switchyard__Stats s = SWITCHYARD__STATS__INIT;
	Switchyard__DecisionCacheStats dc =
		SWITCHYARD__DECISION_CACHE_STATS__INIT;
	Switchyard__WorkerStats *ws;
	Switchyard__WorkerStats **wp;
	double bounds[POOL_NBOUNDS], cpu_bounds[STATS_CPU_NBOUNDS];
	size_t n = count_workers(), i;

	for (i = 0; i < POOL_NBOUNDS; i++)
		bounds[i] = (double)pool_bounds_us[i] / 1e6;
	for (i = 0; i < STATS_CPU_NBOUNDS; i++)
		cpu_bounds[i] = (double)stats_cpu_bounds_us[i] / 1e6;
	s.n_bounds = POOL_NBOUNDS;
	s.bounds = bounds;
	s.n_cpu_bounds = STATS_CPU_NBOUNDS;
	s.cpu_bounds = cpu_bounds;
	/* at most TAIL_CONSUMERS_MAX small entries: well within a frame */
	s.tail_consumers = tailcons_stats(&s.n_tail_consumers);
	dcache_stats(&dc);
	s.decision_cache = &dc;
	ws = calloc(n + 1, sizeof(*ws));
	wp = calloc(n + 1, sizeof(*wp));
	if (ws == NULL || wp == NULL) {
		log_warnx("stats: out of memory for %zu workers", n);
		s.truncated = 1;
		s.nworkers = (uint32_t)n;
	} else {
		build(&s, ws, wp, n);
	}
	if (s.truncated)
		log_warnx("stats: %zu of %zu workers fit in the answer",
		          s.n_workers, n);
	peer_send_msg(router, SY_MSG_STATS_RESPONSE, SY_FLAG_END, f->stream,
	              &s.base);
	for (i = 0; i < s.n_workers; i++)
		free(ws[i].kv);
	free(ws);
	free(wp);
	tailcons_stats_free(s.tail_consumers, s.n_tail_consumers);
}
