/*
 * Tail consumers: request events queued per consumer and delivered in
 * batches as `POST /` with a JSON array body. A delivery is a call like
 * any other (the consumer's plan, queue and limits apply), made by the
 * supervisor itself: its origin is a peer that is never opened, so the
 * answer is dropped unread, and its outcome comes back through
 * events_call_done like every call's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "serve/call.h"
#include "serve/pool.h"
#include "serve/serve.h"
#include "serve/tailcons.h"

/* One event waiting for its batch. */
struct tev {
	struct tev *next;
	size_t len;
	char json[];
};

struct tcons {
	char ns[SY_NAME_MAX], name[SY_NAME_MAX];
	char label[2 * SY_NAME_MAX];      /* "ns/name" */
	struct tev *head, *tail;
	uint32_t nqueued;
	size_t qbytes;
	uint32_t inflight;                /* events of the batch out, or 0 */
	uint32_t stream;                  /* its call's stream at the sink */
	uint64_t timer;
	uint64_t delivered, dropped, batches;
};

static struct tcons *cons[TAIL_CONSUMERS_MAX];
static size_t ncons;
static int full_warned;
/* The origin of every delivery: never opened, so whatever the calls
 * answer it is dropped (peer_send_* ignore a closed peer). */
static struct peer sink = { .fd = -1 };
static uint32_t last_stream;

int tailcons_wanted(const struct worker *w)
{
	return w != NULL && w->nversions > 0 &&
	       worker_version(w)->ntail_consumers > 0;
}

int tailcons_exempt(const struct call *c)
{
	while (c != NULL) {
		if (c->origin == &sink)
			return 1;
		c = c->origin_proc != NULL ? c->origin_proc->calls : NULL;
	}
	return 0;
}

static struct tcons *find(const char *label)
{
	size_t i;

	for (i = 0; i < ncons; i++) {
		if (strcmp(cons[i]->label, label) == 0)
			return cons[i];
	}
	return NULL;
}

/* The entry for consumer label ("ns/name", valid: deploy checked it). */
static struct tcons *find_or_add(const char *label)
{
	struct tcons *t = find(label);
	const char *slash = strchr(label, '/');

	if (t != NULL || slash == NULL)
		return t;
	if (ncons >= TAIL_CONSUMERS_MAX) {
		if (!full_warned)
			log_warnx("tail consumer %s: over %d consumers; its "
			          "events are dropped", label,
			          TAIL_CONSUMERS_MAX);
		full_warned = 1;
		return NULL;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		log_warnx("tail consumer %s: out of memory", label);
		return NULL;
	}
	snprintf(t->label, sizeof(t->label), "%s", label);
	snprintf(t->ns, sizeof(t->ns), "%.*s", (int)(slash - label), label);
	snprintf(t->name, sizeof(t->name), "%s", slash + 1);
	cons[ncons++] = t;
	return t;
}

static void flush(struct ev_loop *loop, void *arg);

static void arm(struct tcons *t, uint64_t ms)
{
	if (t->timer != 0 || t->inflight > 0 || t->head == NULL)
		return;
	if ((t->timer = ev_timer_add(serve_env.loop, ms, flush, t)) == 0)
		log_warnx("tail consumer %s: cannot schedule a batch: out of "
		          "memory", t->label);
}

static void enqueue(struct tcons *t, const char *json, size_t len)
{
	struct tev *e;

	if (t->nqueued >= TAIL_QUEUE_EVENTS || len + 2 > TAIL_BATCH_BYTES ||
	    t->qbytes + len > TAIL_QUEUE_BYTES ||
	    (e = malloc(sizeof(*e) + len)) == NULL) {
		t->dropped++;
		return;
	}
	e->next = NULL;
	e->len = len;
	memcpy(e->json, json, len);
	if (t->tail != NULL)
		t->tail->next = e;
	else
		t->head = e;
	t->tail = e;
	t->nqueued++;
	t->qbytes += len;
	arm(t, TAIL_FLUSH_MS);
}

void tailcons_push(const struct worker *w, const char *json, size_t len)
{
	const struct version *v;
	char self[2 * SY_NAME_MAX];
	struct tcons *t;
	size_t i;

	if (!tailcons_wanted(w))
		return;
	v = worker_version(w);
	snprintf(self, sizeof(self), "%s/%s", w->ns, w->name);
	for (i = 0; i < v->ntail_consumers; i++) {
		/* its own events are never fed back to itself */
		if (strcmp(v->tail_consumers[i], self) == 0)
			continue;
		if ((t = find_or_add(v->tail_consumers[i])) != NULL)
			enqueue(t, json, len);
	}
}

/* Takes the next batch off t's queue as a JSON array of at most
 * TAIL_BATCH_EVENTS events and TAIL_BATCH_BYTES bytes. *n gets the events
 * taken; NULL when out of memory (the caller drops them). */
static char *take_batch(struct tcons *t, uint32_t *n, size_t *len)
{
	char *body = malloc(TAIL_BATCH_BYTES);
	size_t used = 1; /* the '[' */
	struct tev *e;

	*n = 0;
	while ((e = t->head) != NULL && *n < TAIL_BATCH_EVENTS &&
	       used + e->len + 1 <= TAIL_BATCH_BYTES) {
		if (body != NULL) {
			body[used - 1] = *n == 0 ? '[' : ',';
			memcpy(body + used, e->json, e->len);
		}
		used += e->len + 1;
		t->head = e->next;
		t->nqueued--;
		t->qbytes -= e->len;
		(*n)++;
		free(e);
	}
	if (t->head == NULL)
		t->tail = NULL;
	if (body != NULL)
		body[used - 1] = ']';
	*len = used;
	return body;
}

/* The head of a batch's POST, packed into a malloc'd buffer; NULL when
 * out of memory. */
static uint8_t *batch_head(size_t body_len, size_t *len)
{
	Switchyard__Request r = SWITCHYARD__REQUEST__INIT;
	Switchyard__Header ct = SWITCHYARD__HEADER__INIT;
	Switchyard__Header cl = SWITCHYARD__HEADER__INIT;
	Switchyard__Header *h[2] = { &ct, &cl };
	char clen[24];
	uint8_t *buf;

	snprintf(clen, sizeof(clen), "%zu", body_len);
	ct.name = "Content-Type";
	ct.value = "application/json";
	cl.name = "Content-Length";
	cl.value = clen;
	r.method = "POST";
	r.url = "/";
	r.n_headers = 2;
	r.headers = h;
	r.content_length = body_len;
	*len = switchyard__request__get_packed_size(&r);
	if ((buf = malloc(*len ? *len : 1)) != NULL)
		switchyard__request__pack(&r, buf);
	return buf;
}

/* Sends t's next batch (unless one is out already). */
static void deliver(struct tcons *t)
{
	struct worker *w;
	uint8_t *head = NULL;
	char *body;
	size_t blen = 0, hlen = 0;
	uint32_t n;

	body = take_batch(t, &n, &blen);
	if (n == 0)
		goto out;
	if ((w = registry_find(t->ns, t->name)) == NULL) {
		log_debug("tail consumer %s: not deployed; %u events dropped",
		          t->label, n);
		t->dropped += n;
		goto out;
	}
	if (body == NULL || (head = batch_head(blen, &hlen)) == NULL) {
		log_warnx("tail consumer %s: out of memory; %u events "
		          "dropped", t->label, n);
		t->dropped += n;
		goto out;
	}
	t->inflight = n;
	if (++last_stream == 0)
		last_stream = 1;
	t->stream = last_stream;
	t->batches++;
	/* may end at once (queue full...): tailcons_call_done sees it */
	if (call_internal(&sink, t->stream, w, head, (uint32_t)hlen,
	                  (const uint8_t *)body, (uint32_t)blen) == -1) {
		log_warnx("tail consumer %s: cannot make a call: out of "
		          "memory; %u events dropped", t->label, n);
		t->dropped += n;
		t->inflight = 0;
	}
out:
	free(head);
	free(body);
}

static void flush(struct ev_loop *loop, void *arg)
{
	struct tcons *t = arg;

	(void)loop;
	t->timer = 0;
	if (t->inflight == 0)
		deliver(t);
	arm(t, TAIL_FLUSH_MS);
}

void tailcons_call_done(const struct call *c, Switchyard__Outcome o,
                        uint32_t status)
{
	struct tcons *t = NULL;
	size_t i;

	if (c->origin != &sink)
		return;
	for (i = 0; i < ncons && t == NULL; i++) {
		if (cons[i]->inflight > 0 &&
		    cons[i]->stream == c->origin_stream)
			t = cons[i];
	}
	if (t == NULL)
		return;
	if (o == SWITCHYARD__OUTCOME__OK && status >= 200 && status < 300)
		t->delivered += t->inflight;
	else
		t->dropped += t->inflight;
	t->inflight = 0;
	/* the rest soon, but from a timer: we are inside c's call path */
	arm(t, 1);
}

Switchyard__TailConsumerStats **tailcons_stats(size_t *n)
{
	Switchyard__TailConsumerStats **ts;
	size_t i;

	*n = 0;
	if (ncons == 0 || (ts = calloc(ncons, sizeof(*ts))) == NULL)
		return NULL;
	for (i = 0; i < ncons; i++) {
		if ((ts[i] = malloc(sizeof(*ts[i]))) == NULL) {
			tailcons_stats_free(ts, i);
			return NULL;
		}
		switchyard__tail_consumer_stats__init(ts[i]);
		ts[i]->ns = cons[i]->ns;
		ts[i]->name = cons[i]->name;
		ts[i]->delivered = cons[i]->delivered;
		ts[i]->dropped = cons[i]->dropped;
		ts[i]->queued = cons[i]->nqueued + cons[i]->inflight;
		ts[i]->batches = cons[i]->batches;
	}
	*n = ncons;
	return ts;
}

void tailcons_stats_free(Switchyard__TailConsumerStats **ts, size_t n)
{
	size_t i;

	for (i = 0; ts != NULL && i < n; i++)
		free(ts[i]);
	free(ts);
}
