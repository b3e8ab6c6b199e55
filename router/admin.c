/*
 * The admin listener: /ping, /status (php-fpm style, or ?json) and
 * /metrics (Prometheus text). The router answers these itself from the
 * supervisor's counters (STATS_REQUEST / STATS_RESPONSE); nothing here
 * reaches a worker. One request per connection, answered with
 * Connection: close: operators' scrapers, not browsers, talk to it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "kv_wire.h"
#include "log.h"
#include "outcome.h"
#include "router.h"
#include "util.h"

#define ADMIN_MAX_CONNS 64
#define ADMIN_TIMEOUT_MS 10000
#define ADMIN_URL_MAX 256
#define ADMIN_READ_MAX 8192 /* a GET head; more is refused */

enum page { PAGE_NONE, PAGE_STATUS, PAGE_JSON, PAGE_METRICS };

struct aconn {
	int fd;
	llhttp_t parser;
	char url[ADMIN_URL_MAX];
	size_t url_len, nread;
	int url_over, complete, writing;
	enum page page;
	uint32_t stream;         /* waiting for STATS_RESPONSE, or 0 */
	uint64_t timer;
	struct sy_buf out;
	struct aconn *next, **pprev;
};

static struct {
	int lfd;
	llhttp_settings_t settings;
	struct aconn *conns;
	unsigned nconns;
	uint32_t next_stream;
} adm = { .lfd = -1 };

static void admin_close(struct aconn *a)
{
	if (a->timer != 0)
		ev_timer_del(router.loop, a->timer);
	ev_del(router.loop, a->fd);
	close(a->fd);
	*a->pprev = a->next;
	if (a->next != NULL)
		a->next->pprev = a->pprev;
	adm.nconns--;
	sy_buf_free(&a->out);
	free(a);
}

/* ---- output ---- */

static void bprintf(struct sy_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void bprintf(struct sy_buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		buf_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n
		                                        : sizeof(tmp) - 1);
}

static void admin_flush(struct aconn *a)
{
	ssize_t n;

	while (sy_buf_len(&a->out) > 0) {
		n = write(a->fd, a->out.data + a->out.start,
		          sy_buf_len(&a->out));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (ev_mod(router.loop, a->fd, EPOLLOUT) < 0)
				fatal("admin connection %d: epoll_ctl", a->fd);
			return;
		}
		if (n <= 0) {
			log_debug("admin connection %d: write: %s", a->fd,
			          strerror(errno));
			break;
		}
		sy_buf_consume(&a->out, (size_t)n);
	}
	admin_close(a);
}

/* Queues a whole response and starts writing it; a is then closed once
 * written (or at the connection's deadline). */
static void admin_reply(struct aconn *a, int status, const char *ctype,
                        const struct sy_buf *body)
{
	struct sy_buf head = { 0 };
	size_t blen = body != NULL ? sy_buf_len(body) : 0;
	char id[SY_REQUEST_ID_LEN + 1];

	request_id_new(id);
	bprintf(&head, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	        "Content-Length: %zu\r\nCache-Control: no-store\r\n"
	        REQUEST_ID_HEADER ": %s\r\nConnection: close\r\n", status,
	        sy_status_text(status), ctype, blen, id);
	if (status == 405)
		buf_addstr(&head, "Allow: GET\r\n");
	buf_addstr(&head, "\r\n");
	buf_add(&a->out, head.data + head.start, sy_buf_len(&head));
	sy_buf_free(&head);
	if (blen > 0)
		buf_add(&a->out, body->data + body->start, blen);
	a->writing = 1;
	a->stream = 0;
	admin_flush(a);
}

static void admin_text(struct aconn *a, int status, const char *text)
{
	struct sy_buf b = { 0 };

	buf_addstr(&b, text);
	admin_reply(a, status, "text/plain; charset=utf-8", &b);
	sy_buf_free(&b);
}

/* ---- rendering ---- */


static uint64_t at(const uint64_t *v, size_t n, size_t i)
{
	return i < n ? v[i] : 0;
}

static uint64_t load_shed(const Switchyard__WorkerStats *w)
{
	return at(w->outcomes, w->n_outcomes, SWITCHYARD__OUTCOME__LOAD_SHED);
}

static void render_status(struct sy_buf *b, const Switchyard__Stats *s)
{
	size_t i;

	bprintf(b, "workers:              %u\n", s->nworkers);
	if (s->truncated)
		bprintf(b, "truncated:            only %zu workers fit\n",
		        s->n_workers);
	for (i = 0; i < s->n_workers; i++) {
		const Switchyard__WorkerStats *w = s->workers[i];

		bprintf(b, "\npool:                 %s/%s\n", w->ns, w->name);
		bprintf(b, "state:                %s\n", w->state);
		bprintf(b, "accepted since:       %lld\n",
		        (long long)w->accepted_since);
		bprintf(b, "requests:             %llu\n",
		        (unsigned long long)w->requests);
		bprintf(b, "errors:               %llu\n",
		        (unsigned long long)w->errors);
		bprintf(b, "load shed:            %llu\n",
		        (unsigned long long)load_shed(w));
		bprintf(b, "queue depth:          %u\n", w->queued);
		bprintf(b, "max queue reached:    %u\n", w->max_queued);
		bprintf(b, "max children reached: %llu\n",
		        (unsigned long long)w->max_children_reached);
		bprintf(b, "live processes:       %u\n", w->live);
		bprintf(b, "idle processes:       %u\n", w->idle);
		bprintf(b, "busy processes:       %u\n", w->busy);
		bprintf(b, "cancels kept/killed:  %llu/%llu\n",
		        (unsigned long long)w->cancels_kept,
		        (unsigned long long)w->cancels_killed);
		bprintf(b, "max held per process: %u\n", w->max_held);
	}
}

/* JSON and Prometheus label values: quotes, backslashes and control
 * characters escaped (names are validated, but the page must not break
 * whatever arrives). */
static void put_quoted(struct sy_buf *b, const char *s, int json)
{
	buf_addstr(b, "\"");
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			bprintf(b, "\\%c", ch);
		else if (ch == '\n')
			buf_addstr(b, "\\n");
		else if (ch < 0x20 && json)
			bprintf(b, "\\u%04x", ch);
		else if (ch >= 0x20)
			buf_add(b, s, 1);
	}
	buf_addstr(b, "\"");
}

static void json_str(struct sy_buf *b, const char *key, const char *v)
{
	bprintf(b, "\"%s\":", key);
	put_quoted(b, v, 1);
	buf_addstr(b, ",");
}

static void json_num(struct sy_buf *b, const char *key, uint64_t v, int last)
{
	bprintf(b, "\"%s\":%llu%s", key, (unsigned long long)v,
	        last ? "" : ",");
}

static void render_json(struct sy_buf *b, const Switchyard__Stats *s)
{
	size_t i;

	bprintf(b, "{\"workers\":%u,\"truncated\":%s,\"pools\":[",
	        s->nworkers, s->truncated ? "true" : "false");
	for (i = 0; i < s->n_workers; i++) {
		const Switchyard__WorkerStats *w = s->workers[i];

		buf_addstr(b, i > 0 ? ",{" : "{");
		json_str(b, "namespace", w->ns);
		json_str(b, "worker", w->name);
		json_str(b, "state", w->state);
		bprintf(b, "\"accepted_since\":%lld,",
		        (long long)w->accepted_since);
		json_num(b, "requests", w->requests, 0);
		json_num(b, "errors", w->errors, 0);
		json_num(b, "load_shed", load_shed(w), 0);
		json_num(b, "queue_depth", w->queued, 0);
		json_num(b, "max_queue_reached", w->max_queued, 0);
		json_num(b, "max_children_reached", w->max_children_reached,
		         0);
		json_num(b, "cancels_kept", w->cancels_kept, 0);
		json_num(b, "cancels_killed", w->cancels_killed, 0);
		json_num(b, "max_held", w->max_held, 0);
		json_num(b, "live", w->live, 0);
		json_num(b, "idle", w->idle, 0);
		json_num(b, "busy", w->busy, 1);
		buf_addstr(b, "}");
	}
	buf_addstr(b, "]}\n");
}

/* ---- Prometheus text exposition, version 0.0.4 ---- */

static void prom_head(struct sy_buf *b, const char *name, const char *type,
                      const char *help)
{
	bprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_labels(struct sy_buf *b, const Switchyard__WorkerStats *w)
{
	buf_addstr(b, "namespace=");
	put_quoted(b, w->ns, 0);
	buf_addstr(b, ",worker=");
	put_quoted(b, w->name, 0);
}

static void prom_u64(struct sy_buf *b, const char *name,
                     const Switchyard__WorkerStats *w, const char *extra,
                     uint64_t v)
{
	bprintf(b, "%s{", name);
	prom_labels(b, w);
	bprintf(b, "%s} %llu\n", extra, (unsigned long long)v);
}

static void prom_sec(struct sy_buf *b, const char *name,
                     const Switchyard__WorkerStats *w, uint64_t us)
{
	bprintf(b, "%s{", name);
	prom_labels(b, w);
	bprintf(b, "} %llu.%06llu\n", (unsigned long long)(us / 1000000),
	        (unsigned long long)(us % 1000000));
}

/* A histogram's bounds (seconds) and counts (one per bucket, not
 * cumulative, the last above every bound). */
struct hist_data {
	const double *bounds;
	size_t nbounds;
	const uint64_t *h;
	size_t nh;
	uint64_t sum_us;
};

static void prom_hist(struct sy_buf *b, const char *name,
                      const Switchyard__WorkerStats *w,
                      const struct hist_data *d)
{
	char metric[96], le[48];
	uint64_t cum = 0;
	size_t i;

	snprintf(metric, sizeof(metric), "%s_bucket", name);
	for (i = 0; i <= d->nbounds; i++) {
		cum += at(d->h, d->nh, i);
		if (i < d->nbounds)
			snprintf(le, sizeof(le), ",le=\"%g\"", d->bounds[i]);
		else
			snprintf(le, sizeof(le), ",le=\"+Inf\"");
		prom_u64(b, metric, w, le, cum);
	}
	snprintf(metric, sizeof(metric), "%s_sum", name);
	prom_sec(b, metric, w, d->sum_us);
	snprintf(metric, sizeof(metric), "%s_count", name);
	prom_u64(b, metric, w, "", cum);
}

static void prom_outcomes(struct sy_buf *b, const Switchyard__Stats *s)
{
	char extra[64];
	size_t i, o;

	prom_head(b, "switchyard_requests_total", "counter",
	          "Requests answered, by outcome.");
	for (i = 0; i < s->n_workers; i++) {
		const Switchyard__WorkerStats *w = s->workers[i];

		for (o = SWITCHYARD__OUTCOME__OK;
		     o <= SWITCHYARD__OUTCOME__FETCH_FAILED; o++) {
			snprintf(extra, sizeof(extra), ",outcome=\"%s\"",
			         sy_outcome_name((Switchyard__Outcome)o));
			prom_u64(b, "switchyard_requests_total", w, extra,
			         at(w->outcomes, w->n_outcomes, o));
		}
	}
}

/* What became of the processes serving requests whose client left. */
static void prom_cancels(struct sy_buf *b, const Switchyard__Stats *s)
{
	size_t i;

	prom_head(b, "switchyard_cancels_total", "counter",
	          "Requests canceled while a process served them, by what "
	          "became of the process: kept (it ended the request within "
	          "the grace) or killed.");
	for (i = 0; i < s->n_workers; i++) {
		prom_u64(b, "switchyard_cancels_total", s->workers[i],
		         ",result=\"kept\"", s->workers[i]->cancels_kept);
		prom_u64(b, "switchyard_cancels_total", s->workers[i],
		         ",result=\"killed\"", s->workers[i]->cancels_killed);
	}
}

static void prom_violations(struct sy_buf *b, const Switchyard__Stats *s)
{
	char extra[48];
	size_t i, k;
	uint64_t v;

	prom_head(b, "switchyard_violations_total", "counter",
	          "Platform rules broken by a worker's processes, by kind.");
	for (i = 0; i < s->n_workers; i++) {
		const Switchyard__WorkerStats *w = s->workers[i];

		for (k = 0; k < SY_VIOL_COUNT; k++) {
			v = at(w->violations, w->n_violations, k);
			if (k == SY_VIOL_OTHER && v == 0)
				continue;
			snprintf(extra, sizeof(extra), ",kind=\"%s\"",
			         sy_viol_name(k));
			prom_u64(b, "switchyard_violations_total", w, extra, v);
		}
	}
}

enum field { F_CPU, F_SUBREQ, F_SPAWNS, F_QUEUE, F_SHED, F_HELD };

static const struct {
	const char *name, *type, *help;
} simple[] = {
	[F_CPU] = { "switchyard_cpu_seconds_total", "counter",
	            "CPU time its requests used." },
	[F_SUBREQ] = { "switchyard_subrequests_total", "counter",
	               "Subrequests (ws_dispatch, ws_fetch) its requests made." },
	[F_SPAWNS] = { "switchyard_spawns_total", "counter",
	               "Processes started." },
	[F_QUEUE] = { "switchyard_queue_depth", "gauge",
	              "Requests waiting for a process." },
	[F_SHED] = { "switchyard_load_shed_total", "counter",
	             "Requests refused because its queue was full." },
	[F_HELD] = { "switchyard_process_requests_max", "gauge",
	             "Most requests one of its processes held at once." },
};

static void prom_simple(struct sy_buf *b, const Switchyard__Stats *s,
                        enum field f)
{
	size_t i;

	prom_head(b, simple[f].name, simple[f].type, simple[f].help);
	for (i = 0; i < s->n_workers; i++) {
		const Switchyard__WorkerStats *w = s->workers[i];

		if (f == F_CPU)
			prom_sec(b, simple[f].name, w, w->cpu_us);
		else
			prom_u64(b, simple[f].name, w, "",
			         f == F_SUBREQ ? w->subrequests :
			         f == F_SPAWNS ? w->spawns :
			         f == F_QUEUE ? w->queued :
			         f == F_HELD ? w->max_held : load_shed(w));
	}
}

enum hist { H_DUR, H_CPU, H_SPAWN };

static const struct {
	const char *name, *help;
} hists[] = {
	[H_DUR] = { "switchyard_request_duration_seconds",
	            "Time from a request's arrival to its response head." },
	[H_CPU] = { "switchyard_request_cpu_seconds",
	            "CPU time each request used." },
	[H_SPAWN] = { "switchyard_spawn_duration_seconds",
	              "Time from a process's spawn to its HELLO." },
};

static void prom_hists(struct sy_buf *b, const Switchyard__Stats *s,
                       enum hist h)
{
	struct hist_data d;
	size_t i;

	prom_head(b, hists[h].name, "histogram", hists[h].help);
	for (i = 0; i < s->n_workers; i++) {
		const Switchyard__WorkerStats *w = s->workers[i];

		d.bounds = s->bounds;
		d.nbounds = s->n_bounds;
		if (h == H_DUR) {
			d.h = w->duration_buckets;
			d.nh = w->n_duration_buckets;
			d.sum_us = w->duration_sum_us;
		} else if (h == H_CPU) {
			/* finer buckets: requests often use under 1 ms */
			d.bounds = s->cpu_bounds;
			d.nbounds = s->n_cpu_bounds;
			d.h = w->cpu_buckets;
			d.nh = w->n_cpu_buckets;
			d.sum_us = w->cpu_us;
		} else {
			d.h = w->spawn_buckets;
			d.nh = w->n_spawn_buckets;
			d.sum_us = w->spawn_sum_us;
		}
		prom_hist(b, hists[h].name, w, &d);
	}
}

/* Per tail consumer (docs/events.md): what became of the events queued
 * for it. Labelled as the consumer worker. */
static void prom_tail(struct sy_buf *b, const Switchyard__Stats *s, int dropped)
{
	const char *name = dropped ? "switchyard_tail_events_dropped_total"
	                           : "switchyard_tail_events_delivered_total";
	size_t i;

	prom_head(b, name, "counter", dropped
	          ? "Events for a tail consumer lost: its queue was full, it "
	            "is not deployed, or it failed their batch."
	          : "Events delivered to a tail consumer that answered 2xx.");
	for (i = 0; i < s->n_tail_consumers; i++) {
		const Switchyard__TailConsumerStats *t = s->tail_consumers[i];

		bprintf(b, "%s{namespace=", name);
		put_quoted(b, t->ns, 0);
		buf_addstr(b, ",worker=");
		put_quoted(b, t->name, 0);
		bprintf(b, "} %llu\n", (unsigned long long)(dropped
		                                             ? t->dropped
		                                             : t->delivered));
	}
}

static void prom_processes(struct sy_buf *b, const Switchyard__Stats *s)
{
	size_t i;

	prom_head(b, "switchyard_processes", "gauge",
	          "Live processes, by state.");
	for (i = 0; i < s->n_workers; i++) {
		prom_u64(b, "switchyard_processes", s->workers[i],
		         ",state=\"busy\"", s->workers[i]->busy);
		prom_u64(b, "switchyard_processes", s->workers[i],
		         ",state=\"idle\"", s->workers[i]->idle);
	}
}

/* KV requests the supervisor served for each worker, per KV namespace
 * and op: with the shim's read cache, repeated reads of an unchanged
 * namespace do not show here (docs/kv.md). */
static void prom_kv(struct sy_buf *b, const Switchyard__Stats *s)
{
	static const char *const ops[] = {
		[SY_KV_OP_GET] = "get", [SY_KV_OP_PUT] = "put",
		[SY_KV_OP_DELETE] = "delete", [SY_KV_OP_LIST] = "list",
	};
	const Switchyard__KvCount *k;
	size_t i, j, o;

	prom_head(b, "switchyard_kv_requests_total", "counter",
	          "KV requests the supervisor served for a worker, by KV "
	          "namespace and op.");
	for (i = 0; i < s->n_workers; i++) {
		for (j = 0; j < s->workers[i]->n_kv; j++) {
			k = s->workers[i]->kv[j];
			for (o = 1; o < sizeof(ops) / sizeof(ops[0]); o++) {
				bprintf(b, "switchyard_kv_requests_total{");
				prom_labels(b, s->workers[i]);
				buf_addstr(b, ",kv_namespace=");
				put_quoted(b, k->kv_ns, 0);
				bprintf(b, ",op=\"%s\"} %llu\n", ops[o],
				        (unsigned long long)at(k->ops, k->n_ops,
				                               o));
			}
		}
	}
}

/* The supervisor's cache of the dispatch worker's decisions
 * (docs/dispatch.md, "Decision cache"): one for the platform, unlabelled;
 * zeros from a supervisor that sends none. */
static void prom_decision_cache(struct sy_buf *b, const Switchyard__Stats *s)
{
	static const Switchyard__DecisionCacheStats none =
		SWITCHYARD__DECISION_CACHE_STATS__INIT;
	const Switchyard__DecisionCacheStats *d =
		s->decision_cache != NULL ? s->decision_cache : &none;

	prom_head(b, "switchyard_decision_cache_hits_total", "counter",
	          "Requests forwarded by a decision the dispatch worker made "
	          "earlier, without waking it.");
	bprintf(b, "switchyard_decision_cache_hits_total %llu\n",
	        (unsigned long long)d->hits);
	prom_head(b, "switchyard_decision_cache_misses_total", "counter",
	          "Requests given to the dispatch worker: no fresh decision "
	          "was kept for them.");
	bprintf(b, "switchyard_decision_cache_misses_total %llu\n",
	        (unsigned long long)d->misses);
	prom_head(b, "switchyard_decision_cache_entries", "gauge",
	          "Decisions of the dispatch worker kept.");
	bprintf(b, "switchyard_decision_cache_entries %u\n", d->entries);
}

static void render_metrics(struct sy_buf *b, const Switchyard__Stats *s)
{
	if (s->truncated)
		bprintf(b, "# truncated: %zu of %u workers fit in one answer\n",
		        s->n_workers, s->nworkers);
	prom_head(b, "switchyard_stats_truncated", "gauge",
	          "1 when some workers were left out of this page.");
	bprintf(b, "switchyard_stats_truncated %d\n", s->truncated ? 1 : 0);
	prom_outcomes(b, s);
	prom_simple(b, s, F_CPU);
	prom_hists(b, s, H_DUR);
	prom_hists(b, s, H_CPU);
	prom_simple(b, s, F_SUBREQ);
	prom_violations(b, s);
	prom_processes(b, s);
	prom_simple(b, s, F_SPAWNS);
	prom_hists(b, s, H_SPAWN);
	prom_simple(b, s, F_QUEUE);
	prom_simple(b, s, F_SHED);
	prom_cancels(b, s);
	prom_simple(b, s, F_HELD);
	prom_tail(b, s, 0);
	prom_tail(b, s, 1);
	prom_kv(b, s);
	prom_decision_cache(b, s);
}

/* ---- the supervisor's answer ---- */

static struct aconn *by_stream(uint32_t stream)
{
	struct aconn *a;

	for (a = adm.conns; a != NULL; a = a->next) {
		if (a->stream == stream)
			return a;
	}
	return NULL;
}

/* The histograms must match the bounds; names must be strings. */
static int stats_valid(const Switchyard__Stats *s)
{
	size_t i, j, nb = s->n_bounds + 1, ncb = s->n_cpu_bounds + 1;

	if (s->n_bounds > 64 || s->n_cpu_bounds > 64)
		return 0;
	for (i = 0; i < s->n_workers; i++) {
		const Switchyard__WorkerStats *w = s->workers[i];

		if (w->n_duration_buckets != nb || w->n_cpu_buckets != ncb ||
		    w->n_spawn_buckets != nb)
			return 0;
		for (j = 0; j < w->n_kv; j++)
			if (w->kv[j]->kv_ns == NULL)
				return 0;
	}
	for (i = 0; i < s->n_tail_consumers; i++) {
		if (s->tail_consumers[i]->ns == NULL ||
		    s->tail_consumers[i]->name == NULL)
			return 0;
	}
	return 1;
}

static void admin_render(struct aconn *a, const Switchyard__Stats *s)
{
	struct sy_buf b = { 0 };

	if (a->page == PAGE_STATUS)
		render_status(&b, s);
	else if (a->page == PAGE_JSON)
		render_json(&b, s);
	else
		render_metrics(&b, s);
	admin_reply(a, 200, a->page == PAGE_JSON ? "application/json" :
	            a->page == PAGE_METRICS ? "text/plain; version=0.0.4; "
	            "charset=utf-8" : "text/plain; charset=utf-8", &b);
	sy_buf_free(&b);
}

int admin_stats(const struct sy_frame *f, char *err, size_t errlen)
{
	Switchyard__Stats *s;
	struct aconn *a = f->stream != 0 ? by_stream(f->stream) : NULL;

	if (a == NULL) {
		log_debug("stream %u: late STATS_RESPONSE dropped", f->stream);
		return 0;
	}
	s = switchyard__stats__unpack(NULL, f->len, f->payload);
	if (s == NULL) {
		snprintf(err, errlen, "STATS_RESPONSE on stream %u does not "
		         "decode", f->stream);
		return -1;
	}
	if (!stats_valid(s)) {
		log_warnx("admin: supervisor's counters are inconsistent");
		admin_text(a, 502, "inconsistent counters\n");
	} else {
		admin_render(a, s);
	}
	switchyard__stats__free_unpacked(s, NULL);
	return 0;
}

void admin_upstream_lost(void)
{
	struct aconn *a, *next;

	for (a = adm.conns; a != NULL; a = next) {
		next = a->next;
		if (a->stream != 0)
			admin_text(a, 502, "supervisor unavailable\n");
	}
}

/* ---- requests ---- */

static int on_url(llhttp_t *p, const char *at, size_t len)
{
	struct aconn *a = p->data;

	if (len > sizeof(a->url) - 1 - a->url_len) {
		a->url_over = 1;
		return 0;
	}
	memcpy(a->url + a->url_len, at, len);
	a->url_len += len;
	a->url[a->url_len] = '\0';
	return 0;
}

static int on_message_complete(llhttp_t *p)
{
	struct aconn *a = p->data;

	a->complete = 1;
	return HPE_PAUSED;
}

static int query_json(const char *q)
{
	return q != NULL && (strcmp(q, "json") == 0 ||
	                     strncmp(q, "json&", 5) == 0 ||
	                     strncmp(q, "json=", 5) == 0);
}

static void admin_route(struct aconn *a)
{
	char *q = strchr(a->url, '?');

	if (q != NULL)
		*q++ = '\0';
	if (a->url_over) {
		admin_text(a, 414, "URI too long\n");
		return;
	}
	if (llhttp_get_method(&a->parser) != HTTP_GET) {
		admin_text(a, 405, "only GET\n");
		return;
	}
	if (strcmp(a->url, "/ping") == 0) {
		admin_text(a, 200, "pong\n");
		return;
	}
	if (strcmp(a->url, "/status") == 0)
		a->page = query_json(q) ? PAGE_JSON : PAGE_STATUS;
	else if (strcmp(a->url, "/metrics") == 0)
		a->page = PAGE_METRICS;
	if (a->page == PAGE_NONE) {
		admin_text(a, 404, "not found: try /ping, /status, /status?json "
		           "or /metrics\n");
		return;
	}
	if (++adm.next_stream == 0)
		adm.next_stream = 1;
	a->stream = adm.next_stream;
	if (ev_mod(router.loop, a->fd, 0) < 0)
		fatal("admin connection %d: epoll_ctl", a->fd);
	upstream_stats(a->stream);
}

static void admin_read(struct aconn *a)
{
	char tmp[4096];
	llhttp_errno_t e;
	ssize_t n;

	do {
		n = read(a->fd, tmp, sizeof(tmp));
	} while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n <= 0) {
		admin_close(a);
		return;
	}
	if ((a->nread += (size_t)n) > ADMIN_READ_MAX) {
		admin_text(a, 431, "request too large\n");
		return;
	}
	e = llhttp_execute(&a->parser, tmp, (size_t)n);
	if (a->complete)
		admin_route(a);
	else if (e != HPE_OK)
		admin_text(a, 400, "bad request\n");
}

static void admin_on_event(struct ev_loop *loop, int fd, uint32_t events,
                           void *arg)
{
	struct aconn *a = arg;

	if (a->writing) {
		admin_flush(a);
		return;
	}
	if (a->stream != 0) {
		/* the client left while we wait for the counters */
		if (events & (EPOLLHUP | EPOLLERR))
			admin_close(a);
		return;
	}
	admin_read(a);
}

static void admin_expire(struct ev_loop *loop, void *arg)
{
	struct aconn *a = arg;

	a->timer = 0;
	log_debug("admin connection %d: timed out", a->fd);
	admin_close(a);
}

static void admin_start(int fd)
{
	struct aconn *a;

	if (adm.nconns >= ADMIN_MAX_CONNS || (a = calloc(1, sizeof(*a)))
	    == NULL) {
		close(fd);
		return;
	}
	a->fd = fd;
	llhttp_init(&a->parser, HTTP_REQUEST, &adm.settings);
	a->parser.data = a;
	a->timer = ev_timer_add(router.loop, ADMIN_TIMEOUT_MS, admin_expire, a);
	if (a->timer == 0 ||
	    ev_add(router.loop, fd, EPOLLIN, admin_on_event, a) < 0) {
		log_warn("admin connection %d: cannot watch it", fd);
		if (a->timer != 0)
			ev_timer_del(router.loop, a->timer);
		close(fd);
		free(a);
		return;
	}
	a->next = adm.conns;
	if (a->next != NULL)
		a->next->pprev = &a->next;
	a->pprev = &adm.conns;
	adm.conns = a;
	adm.nconns++;
}

static void admin_on_accept(struct ev_loop *loop, int lfd, uint32_t events,
                            void *arg)
{
	int i, fd;

	for (i = 0; i < 16; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			admin_start(fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			log_warn("accept on the admin socket %d", lfd);
		return;
	}
}

void admin_init(int fd)
{
	int acc = 0;
	socklen_t len = sizeof(acc);

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) < 0 || !acc)
		fatalx("admin descriptor %d is not a listening socket", fd);
	if (sy_set_nonblock(fd) < 0 || sy_set_cloexec(fd) < 0)
		fatal("admin socket %d: fcntl", fd);
	llhttp_settings_init(&adm.settings);
	adm.settings.on_url = on_url;
	adm.settings.on_message_complete = on_message_complete;
	if (ev_add(router.loop, fd, EPOLLIN, admin_on_accept, NULL) < 0)
		fatal("admin socket %d: epoll_ctl", fd);
	adm.lfd = fd;
}

void admin_cleanup(void)
{
	while (adm.conns != NULL)
		admin_close(adm.conns);
	if (adm.lfd >= 0) {
		ev_del(router.loop, adm.lfd);
		close(adm.lfd);
	}
	adm.lfd = -1;
}
