/*
 * Request events: what a tail consumer of Cloudflare's would see of each
 * request a worker served. The request's head is noted when a process takes
 * the call (the supervisor relays the Request bytes unread, so this unpacks
 * them once more); the event is built when the outcome is known, with the
 * worker's stderr lines that arrived meanwhile, and kept in a ring and a
 * stream of JSON lines, and queued for the worker's tail consumers
 * (tailcons.c). A request the platform answers before any process takes
 * it (events_refused) gets an event too, built from its head at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "serve/call.h"
#include "serve/events.h"
#include "serve/logring.h"
#include "outcome.h"
#include "serve/pool.h"
#include "state/registry.h"
#include "serve/tailcons.h"

#define PENDING_HASH 256
#define LOG_LINES 32             /* stderr lines attached to one event */
#define LOG_BYTES (4u * 1024u)
#define URL_TRUNCATED 2048       /* url kept of an event over EVENT_BYTES */

/* What events_call_start noted of a call being served. */
struct pending {
	struct pending *next;
	const struct call *c;
	struct proc *p;
	json_t *req;             /* event.request */
	uint32_t version;
	struct logring *ring;    /* the worker's stderr ring, or NULL */
	uint64_t log_off;        /* its end when the call started */
	json_t *violations;      /* recorded while it ran (a denied fetch) */
};

#define PENDING_VIOLATIONS 16 /* kept per call; a loop of denied fetches
                               * must not grow an event without bound */

struct event {
	char *json;              /* one line, no newline */
	size_t len;
	char worker[2 * SY_NAME_MAX];
	char rid[SY_REQUEST_ID_LEN + 1];
	Switchyard__Outcome outcome;
};

static struct pending *pending[PENDING_HASH];
static struct event ring[EVENTS_MAX];
static size_t ring_next, ring_count;
static struct logring stream;
static int listeners, ring_on;

void events_listen(int delta)
{
	listeners += delta;
}

void events_ring(int on)
{
	size_t i;

	ring_on = on;
	for (i = 0; !on && i < EVENTS_MAX; i++) {
		free(ring[i].json);
		ring[i].json = NULL;
	}
	if (!on)
		ring_next = ring_count = 0;
}

int events_ring_on(void)
{
	return ring_on;
}

static size_t pslot(const struct call *c)
{
	uint64_t h = (uint64_t)(uintptr_t)c * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 32) & (PENDING_HASH - 1);
}

static struct pending *pending_take(const struct call *c)
{
	struct pending **pp, *e;

	for (pp = &pending[pslot(c)]; (e = *pp) != NULL; pp = &e->next) {
		if (e->c == c) {
			*pp = e->next;
			return e;
		}
	}
	return NULL;
}

static void pending_free(struct pending *e)
{
	if (e == NULL)
		return;
	json_decref(e->req);
	json_decref(e->violations);
	free(e);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A JSON string of the first n bytes of s: as is when valid UTF-8, else
 * with every byte outside printable ASCII made '?'. */
static json_t *jstr(const char *s, size_t n)
{
	json_t *j;
	char *t;
	size_t i;

	if ((j = json_stringn(s, n)) != NULL || (t = malloc(n + 1)) == NULL)
		return j;
	for (i = 0; i < n; i++)
		t[i] = (unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e
		           ? '?' : s[i];
	j = json_stringn(t, n);
	free(t);
	return j;
}

static json_t *jcstr(const char *s)
{
	return jstr(s, strlen(s));
}

static char lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

static int secret_header(const char *name)
{
	size_t n = strlen(name);

	return strcasecmp(name, "authorization") == 0 ||
	       strcasecmp(name, "proxy-authorization") == 0 ||
	       strcasecmp(name, "cookie") == 0 ||
	       strcasecmp(name, "set-cookie") == 0 ||
	       (n >= 6 && strcasecmp(name + n - 6, "-token") == 0) ||
	       (n >= 4 && strcasecmp(name + n - 4, "-key") == 0);
}

/* Headers by lower-case name, repeated ones joined with ", ". */
static json_t *headers_json(const Switchyard__Request *r)
{
	json_t *h = json_object(), *old;
	char name[256], *v;
	size_t i, k;

	for (i = 0; h != NULL && i < r->n_headers; i++) {
		for (k = 0; r->headers[i]->name[k] && k + 1 < sizeof(name); k++)
			name[k] = lower(r->headers[i]->name[k]);
		name[k] = '\0';
		v = secret_header(name) ? "REDACTED" : r->headers[i]->value;
		old = json_object_get(h, name);
		if (old != NULL && !secret_header(name)) {
			char *both = NULL;

			if (asprintf(&both, "%s, %s", json_string_value(old),
			             v) != -1)
				json_object_set_new(h, name, jcstr(both));
			free(both);
		} else {
			json_object_set_new(h, name, jcstr(v));
		}
	}
	return h;
}

/* event.request of r. */
static json_t *request_msg_json(const Switchyard__Request *r)
{
	json_t *j = json_object();

	json_object_set_new(j, "method", jcstr(r->method));
	json_object_set_new(j, "url", jcstr(r->url));
	json_object_set_new(j, "headers", headers_json(r));
	return j;
}

/* event.request of the Request bytes, or NULL. */
static json_t *request_json(const uint8_t *buf, size_t len)
{
	Switchyard__Request *r;
	json_t *j;

	if (buf == NULL ||
	    (r = switchyard__request__unpack(NULL, len, buf)) == NULL)
		return NULL;
	j = request_msg_json(r);
	switchyard__request__free_unpacked(r, NULL);
	return j;
}

/* c's event feeds tail consumers (tailcons.c). */
static int tail_wanted(const struct call *c, const struct pool *pl)
{
	return tailcons_wanted(pool_worker(pl)) && !tailcons_exempt(c);
}

void events_call_start(const struct call *c, struct proc *p)
{
	struct pending *e;
	size_t s;

	pending_free(pending_take(c));
	if (!ring_on && listeners <= 0 && !tail_wanted(c, p->pool))
		return;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return;
	e->c = c;
	e->p = p;
	e->req = request_json(c->req, c->req_len);
	e->version = p->version;
	if ((e->ring = p->err.ring) != NULL)
		e->log_off = e->ring->total;
	s = pslot(c);
	e->next = pending[s];
	pending[s] = e;
}

void events_call_violation(const struct call *c, const char *violation)
{
	struct pending *e;

	for (e = pending[pslot(c)]; e != NULL && e->c != c; e = e->next)
		;
	if (e == NULL)
		return;
	if (e->violations == NULL && (e->violations = json_array()) == NULL)
		return;
	if (json_array_size(e->violations) < PENDING_VIOLATIONS)
		json_array_append_new(e->violations, jcstr(violation));
}

void events_call_forget(const struct call *c)
{
	pending_free(pending_take(c));
}

/* One "level: text" line of ws_log as a Cloudflare log entry. */
static json_t *log_json(const char *line, size_t n, int64_t ts)
{
	static const char *levels[] = { "debug", "info", "log", "warn",
	                                "error" };
	const char *level = "log";
	size_t i, l;

	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		l = strlen(levels[i]);
		if (n >= l + 2 && strncmp(line, levels[i], l) == 0 &&
		    line[l] == ':' && line[l + 1] == ' ') {
			level = levels[i];
			line += l + 2;
			n -= l + 2;
			break;
		}
	}
	return json_pack("{s:s, s:[o], s:I}", "level", level, "message",
	                 jstr(line, n), "timestamp", (json_int_t)ts);
}

/* The stderr lines of e's worker since the call started. */
static json_t *logs_json(struct pending *e, int64_t ts)
{
	json_t *a = json_array();
	char buf[LOG_BYTES];
	size_t n, start = 0, lines = 0;
	uint64_t off;
	char *nl;

	if (e == NULL || a == NULL)
		return a;
	/* the ring is gone once its pool is */
	if (e->ring == NULL || e->p == NULL || e->p->err.ring != e->ring)
		return a;
	logpipe_poll(&e->p->err); /* lines written before it answered */
	off = e->log_off;
	n = logring_read(e->ring, &off, buf, sizeof(buf));
	while (lines < LOG_LINES &&
	       (nl = memchr(buf + start, '\n', n - start)) != NULL) {
		json_array_append_new(a, log_json(buf + start,
		                                  (size_t)(nl - buf) - start,
		                                  ts));
		start = (size_t)(nl - buf) + 1;
		lines++;
	}
	return a;
}

/* The event's bones: everything but the request, logs and exceptions. */
static json_t *event_json(const struct call *c, const char *worker,
                          uint32_t version, Switchyard__Outcome o, int64_t ts,
                          uint64_t cpu_us, uint64_t wall_us,
                          uint32_t subrequests)
{
	const char *slash = strchr(worker, '/');
	size_t nslen = slash != NULL ? (size_t)(slash - worker) : 0;

	return json_pack("{s:s, s:o, s:o, s:i, s:[], s:s, s:I, s:I, s:I, s:{}, "
	                 "s:[], s:[], s:i, s:[]}",
	                 "requestId", c->rid,
	                 "scriptName", jcstr(worker),
	                 "dispatchNamespace", jstr(worker, nslen),
	                 "scriptVersion", (int)version,
	                 "scriptTags",
	                 "outcome", sy_outcome_name(o),
	                 "eventTimestamp", (json_int_t)ts,
	                 "cpuTime", (json_int_t)(cpu_us / 1000),
	                 "wallTime", (json_int_t)(wall_us / 1000),
	                 "event",
	                 "logs",
	                 "exceptions",
	                 "subrequests", (int)subrequests,
	                 "violations");
}

/* A forwarded request's two events say so (docs/events.md): the dispatch
 * worker's where it went, the target's who sent it, and whether by a
 * decision made for an earlier request (then the dispatch worker, which
 * did not run, has no event). */
static void forward_json(json_t *ev, const struct call *c)
{
	json_t *from;

	if (c->fwd_to[0] != '\0') {
		json_object_set_new(ev, "forward", json_pack("{s:o}", "to",
		                    jcstr(c->fwd_to)));
	} else if (c->forwarded) {
		from = json_pack("{s:o}", "from", jcstr(c->fwd_from));
		if (from != NULL && c->fwd_cached)
			json_object_set_new(from, "cached", json_true());
		json_object_set_new(ev, "forward", from);
	}
}

/* The tags of w's version number (0: its current one), as scriptTags. */
static void set_tags(json_t *ev, const struct worker *w, uint32_t number)
{
	const struct version *v = NULL;
	json_t *a = json_object_get(ev, "scriptTags");
	size_t i;

	if (w == NULL || w->nversions == 0)
		return;
	for (i = 0; i < w->nversions && number != 0; i++) {
		if (w->versions[i].number == number)
			v = &w->versions[i];
	}
	if (v == NULL)
		v = &w->versions[w->current];
	for (i = 0; i < v->ntags; i++)
		json_array_append_new(a, jcstr(v->tags[i]));
}

/* Over EVENT_BYTES: the logs and headers go, and most of a long URL. */
static char *dump_capped(json_t *ev, size_t *len)
{
	json_t *req = json_object_get(json_object_get(ev, "event"), "request");
	const char *url;
	char *s;

	if ((s = json_dumps(ev, JSON_COMPACT)) == NULL)
		return NULL;
	if ((*len = strlen(s)) <= EVENT_BYTES)
		return s;
	free(s);
	json_object_set_new(ev, "logs", json_array());
	json_object_set_new(ev, "truncated", json_true());
	if (req != NULL) {
		json_object_set_new(req, "headers", json_object());
		url = json_string_value(json_object_get(req, "url"));
		if (url != NULL && strlen(url) > URL_TRUNCATED)
			json_object_set_new(req, "url",
			                    jstr(url, URL_TRUNCATED));
	}
	if ((s = json_dumps(ev, JSON_COMPACT)) != NULL &&
	    (*len = strlen(s)) > EVENT_BYTES) {
		free(s);
		s = NULL;
	}
	return s;
}

static void keep(const char *worker, const char *rid, Switchyard__Outcome o,
                 char *json, size_t len)
{
	struct event *e = &ring[ring_next];

	if (listeners > 0) {
		json[len] = '\n'; /* json_dumps left room: its NUL */
		logring_append(&stream, json, len + 1);
		json[len] = '\0';
	}
	if (!ring_on) {
		free(json);
		return;
	}
	free(e->json);
	e->json = json;
	e->len = len;
	e->outcome = o;
	snprintf(e->worker, sizeof(e->worker), "%s", worker);
	snprintf(e->rid, sizeof(e->rid), "%s", rid);
	ring_next = (ring_next + 1) % EVENTS_MAX;
	if (ring_count < EVENTS_MAX)
		ring_count++;
}

/* What an event says beyond its bones and request. */
struct ending {
	const char *worker;      /* "ns/name" */
	const char *rid;         /* the request's id, or "" */
	Switchyard__Outcome o;
	uint32_t status;
	const char *reason, *violation;
	const struct worker *tail; /* feeds its tail consumers, or NULL */
};

/* Completes ev (taken) and hands it to the ring, followers and tail
 * consumers. */
static void finish(json_t *ev, json_t *req, const struct ending *d,
                   int64_t ts)
{
	json_t *event = json_object_get(ev, "event");
	size_t len;
	char *s;

	json_object_set_new(event, "request", req != NULL ? req
	                                                  : json_object());
	if (d->status != 0)
		json_object_set_new(event, "response",
		                    json_pack("{s:i}", "status",
		                              (int)d->status));
	if (d->o != SWITCHYARD__OUTCOME__OK && d->reason != NULL &&
	    *d->reason != '\0')
		json_array_append_new(json_object_get(ev, "exceptions"),
		                      json_pack("{s:s, s:o, s:I}", "name",
		                                "Error", "message",
		                                jcstr(d->reason), "timestamp",
		                                (json_int_t)ts));
	if (d->violation != NULL && *d->violation != '\0')
		json_array_append_new(json_object_get(ev, "violations"),
		                      jcstr(d->violation));
	if ((s = dump_capped(ev, &len)) != NULL) {
		if (d->tail != NULL)
			tailcons_push(d->tail, s, len);
		if (ring_on || listeners > 0)
			keep(d->worker, d->rid, d->o, s, len);
		else
			free(s);
	}
	json_decref(ev);
}

void events_call_done(const struct call *c, Switchyard__Outcome o,
                      uint32_t status, const char *reason,
                      const char *violation, uint64_t wall_us,
                      uint64_t cpu_us, uint32_t subrequests)
{
	struct pending *e = pending_take(c);
	struct ending d = { NULL, c->rid, o, status, reason, violation, NULL };
	int64_t ts = now_ms();
	json_t *ev, *req;

	tailcons_call_done(c, o, status);
	if (c->pool != NULL && tail_wanted(c, c->pool))
		d.tail = pool_worker(c->pool);
	if ((e == NULL && !ring_on && listeners <= 0 && d.tail == NULL) ||
	    c->pool == NULL) {
		pending_free(e);
		return;
	}
	d.worker = pool_label(c->pool);
	if ((ev = event_json(c, d.worker, e ? e->version : 0, o, ts, cpu_us,
	                     wall_us, subrequests)) == NULL) {
		pending_free(e);
		return;
	}
	set_tags(ev, pool_worker(c->pool), e ? e->version : 0);
	forward_json(ev, c);
	req = e != NULL ? json_incref(e->req) : request_json(c->req, c->req_len);
	json_object_set_new(ev, "logs", logs_json(e, ts));
	if (e != NULL && e->violations != NULL)
		json_array_extend(json_object_get(ev, "violations"),
		                  e->violations);
	pending_free(e);
	finish(ev, req, &d, ts);
}

/* The worker named "ns/name", if deployed. */
static const struct worker *by_label(const char *label)
{
	char ns[SY_NAME_MAX];
	const char *slash = strchr(label, '/');

	if (slash == NULL || (size_t)(slash - label) >= sizeof(ns))
		return NULL;
	memcpy(ns, label, (size_t)(slash - label));
	ns[slash - label] = '\0';
	return registry_find(ns, slash + 1);
}

void events_refused(const struct call *c, const Switchyard__Request *r,
                    Switchyard__Outcome o, const char *worker,
                    const char *reason, const char *violation)
{
	struct ending d = { worker, c->rid, o, (uint32_t)sy_outcome_status(o),
	                    reason, violation, NULL };
	const struct worker *w;
	int64_t ts = now_ms();
	json_t *ev;

	if (worker == NULL || *worker == '\0')
		return;
	if (tailcons_wanted(w = by_label(worker)) && !tailcons_exempt(c))
		d.tail = w;
	if (!ring_on && listeners <= 0 && d.tail == NULL)
		return;
	if ((ev = event_json(c, worker, 0, o, ts, 0, ev_clock_us() - c->recv_us,
	                     0)) == NULL)
		return;
	set_tags(ev, w, 0);
	finish(ev, r != NULL ? request_msg_json(r)
	                     : request_json(c->req, c->req_len), &d, ts);
}

struct logring *events_stream(void)
{
	return &stream;
}

static int matches(const struct event *e, const struct events_filter *f)
{
	return e->json != NULL &&
	       (f->worker == NULL || strcmp(e->worker, f->worker) == 0) &&
	       (f->outcome == NULL ||
	        strcmp(sy_outcome_name(e->outcome), f->outcome) == 0) &&
	       (f->rid == NULL || strcmp(e->rid, f->rid) == 0);
}

char *events_dump(const struct events_filter *f, size_t max, size_t *len)
{
	size_t i, first, used = 0, idx;
	char *buf;

	/* the newest that fit, found backwards, then copied in order */
	for (first = 0; first < ring_count; first++) {
		idx = (ring_next + EVENTS_MAX - 1 - first) % EVENTS_MAX;
		if (!matches(&ring[idx], f))
			continue;
		if (used + ring[idx].len + 1 > max)
			break;
		used += ring[idx].len + 1;
	}
	if ((buf = malloc(used ? used : 1)) == NULL)
		return NULL;
	*len = 0;
	for (i = first; i-- > 0;) {
		idx = (ring_next + EVENTS_MAX - 1 - i) % EVENTS_MAX;
		if (!matches(&ring[idx], f) ||
		    *len + ring[idx].len + 1 > used)
			continue;
		memcpy(buf + *len, ring[idx].json, ring[idx].len);
		*len += ring[idx].len;
		buf[(*len)++] = '\n';
	}
	return buf;
}
