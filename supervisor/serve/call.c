/*
 * The request path: calls from the router and from ws_dispatch, relayed to
 * the process serving them and answered back.
 *
 * Request and body frames are relayed as they came, with only the stream id
 * rewritten; only the small Response is unpacked and re-packed
 * (call_answer.c),
 * because the supervisor fills in the outcome, the worker's name and its
 * CPU and wall time. A Request from the router gets the call's limits
 * appended as its `limits` field (limits.c), and loses any `context`; a
 * subrequest's Request is checked and rebuilt by subrequest.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "outcome.h"
#include "pbwire.h"
#include "serve/call.h"
#include "serve/call_state.h"
#include "serve/decision_cache.h"
#include "serve/events.h"
#include "serve/kv_serve.h"
#include "serve/limits.h"
#include "serve/routerproc.h"
#include "serve/serve.h"
#include "state/registry.h"
#include "util.h"

#define HASH_MIN 256
#define FREE_MAX 4096       /* call structs kept for reuse */

/* A REQ_BODY frame kept while its call waits for a process. */
struct body {
	struct body *next;
	uint32_t len;
	uint8_t flags;
	uint8_t data[];
};

static struct call **htab;
static size_t hsize, hcount;
static struct call *free_calls, *dead_calls;
static size_t nfree;
static uint32_t last_id;

/* ---- lookup by (origin, origin stream) ---- */

static size_t hslot(const struct peer *origin, uint32_t stream, size_t size)
{
	uint64_t h = (uint64_t)(uintptr_t)origin * 0x9e3779b97f4a7c15ull;

	h ^= (uint64_t)stream * 0xff51afd7ed558ccdull;
	return (size_t)(h ^ (h >> 32)) & (size - 1);
}

/* Doubles the table; on ENOMEM chains just get longer. */
static void hgrow(void)
{
	size_t nsize = hsize ? hsize * 2 : HASH_MIN, i, s;
	struct call **n, *c;

	if ((n = calloc(nsize, sizeof(*n))) == NULL)
		return;
	for (i = 0; i < hsize; i++) {
		while ((c = htab[i]) != NULL) {
			htab[i] = c->hnext;
			s = hslot(c->origin, c->origin_stream, nsize);
			c->hnext = n[s];
			n[s] = c;
		}
	}
	free(htab);
	htab = n;
	hsize = nsize;
}

static struct call *call_find(const struct peer *origin, uint32_t stream)
{
	struct call *c;

	if (hsize == 0)
		return NULL;
	for (c = htab[hslot(origin, stream, hsize)]; c != NULL; c = c->hnext) {
		if (c->origin == origin && c->origin_stream == stream)
			return c;
	}
	return NULL;
}

static void hremove(struct call *c)
{
	struct call **pp = &htab[hslot(c->origin, c->origin_stream, hsize)];

	for (; *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == c) {
			*pp = c->hnext;
			hcount--;
			break;
		}
	}
	c->hnext = NULL;
}

/* ---- life cycle ---- */

static struct call *call_new(struct peer *origin, uint32_t stream)
{
	struct call *c;
	size_t s;

	if (hcount >= hsize)
		hgrow();
	if (hsize == 0)
		return NULL;
	if ((c = free_calls) != NULL) {
		free_calls = c->hnext;
		nfree--;
	} else if ((c = malloc(sizeof(*c))) == NULL) {
		return NULL;
	}
	memset(c, 0, sizeof(*c));
	c->origin = origin;
	c->origin_stream = stream;
	c->origin_proc = origin->owner;
	s = hslot(origin, stream, hsize);
	c->hnext = htab[s];
	htab[s] = c;
	hcount++;
	if (c->origin_proc != NULL) {
		c->snext = c->origin_proc->subcalls;
		if (c->snext != NULL)
			c->snext->sprev = c;
		c->origin_proc->subcalls = c;
		c->origin_proc->nsubcalls++;
	}
	return c;
}

static void drop_kept(struct call *c)
{
	struct body *b;

	while ((b = c->body_head) != NULL) {
		c->body_head = b->next;
		free(b);
	}
	c->body_tail = NULL;
	free(c->req_owned);
	c->req_owned = NULL;
	c->req = NULL;
}

/* The forward decision's response edits, once c is done with them. */
static void drop_forward(struct call *c)
{
	if (c->fwd != NULL)
		switchyard__forward__free_unpacked(c->fwd, NULL);
	c->fwd = NULL;
}

/* The origin will neither send nor receive anything more for c. */
static void detach_origin(struct call *c)
{
	struct proc *op = c->origin_proc;

	if (c->origin == NULL)
		return;
	hremove(c);
	if (op != NULL) {
		if (c->sprev != NULL)
			c->sprev->snext = c->snext;
		else
			op->subcalls = c->snext;
		if (c->snext != NULL)
			c->snext->sprev = c->sprev;
		op->nsubcalls--;
		c->snext = c->sprev = NULL;
	}
	c->origin = NULL;
	c->origin_proc = NULL;
	c->req_end = c->done = 1;
}

/* Frees c once nothing refers to it any more. */
void call_settle(struct call *c)
{
	if (c->freed || !c->done || !c->req_end || c->proc != NULL || c->queued)
		return;
	events_call_forget(c);
	detach_origin(c);
	drop_kept(c);
	drop_forward(c);
	c->freed = 1;
	c->hnext = dead_calls;
	dead_calls = c;
}

void call_collect(void)
{
	struct call *c;

	while ((c = dead_calls) != NULL) {
		dead_calls = c->hnext;
		if (nfree < FREE_MAX) {
			c->hnext = free_calls;
			free_calls = c;
			nfree++;
		} else {
			free(c);
		}
	}
}

/* c leaves the list of calls its process holds. */
static void proc_drop_call(struct proc *p, struct call *c)
{
	struct call **pp, *prev = NULL;

	for (pp = &p->calls; *pp != NULL; prev = *pp, pp = &(*pp)->pnext) {
		if (*pp != c)
			continue;
		*pp = c->pnext;
		if (p->calls_tail == c)
			p->calls_tail = prev;
		p->ncalls--;
		break;
	}
	c->pnext = NULL;
}

void call_unbind(struct call *c)
{
	limits_stop(c);
	if (c->proc != NULL)
		proc_drop_call(c->proc, c);
	c->proc = NULL;
}

struct call *call_held(const struct proc *p, uint32_t stream)
{
	struct call *c;

	for (c = p->calls; c != NULL && c->id != stream; c = c->pnext)
		;
	return c;
}

/* A protocol error by whoever sent a frame: the router is our own, so its
 * mistakes stop the platform; a worker's kill only that worker. */
void call_blame(struct peer *from, const char *why)
{
	struct proc *op = from->owner;

	if (op == NULL)
		routerproc_lost(why);
	else
		pool_kill(op, why, BLAME_PROTOCOL);
}

/* ---- answers ---- */

/* c's outcome is known: counted, and recorded as a request event. */
void call_done(struct call *c, Switchyard__Outcome o, uint32_t status,
               const char *reason, const char *violation, uint64_t wall_us,
               uint64_t cpu_us)
{
	pool_call_done(c->pool, o, wall_us, cpu_us, c->subrequests);
	call_log_failed(c, c->pool != NULL ? pool_label(c->pool) : "", o,
	                status, reason, violation);
	events_call_done(c, o, status, reason, violation, wall_us, cpu_us,
	                 c->subrequests);
}

static void send_error(struct peer *to, uint32_t stream, Switchyard__Outcome o,
                       const char *worker, const char *reason,
                       const char *violation, uint32_t retry_after_s,
                       uint64_t wall_us)
{
	Switchyard__Response r = SWITCHYARD__RESPONSE__INIT;

	r.outcome = o;
	r.worker = (char *)worker;
	r.reason = (char *)reason;
	r.violation = (char *)violation;
	r.retry_after_s = retry_after_s;
	r.wall_us = wall_us;
	peer_send_msg(to, SY_MSG_RESPONSE, SY_FLAG_END, stream, &r.base);
}

/* Tells the origin that c failed: an error RESPONSE, or, if the worker's
 * answer had begun, an aborted body. */
static void answer_error(struct call *c, Switchyard__Outcome o,
                         const char *reason, const char *violation,
                         uint32_t retry_after_s)
{
	const char *worker = c->pool != NULL ? pool_label(c->pool) : "";

	if (c->done)
		return;
	log_debug("call %s: %s: %s", worker, sy_outcome_name(o), reason);
	if (!c->answered) {
		Switchyard__Response r = SWITCHYARD__RESPONSE__INIT;

		pool_account(c->pool, 1, 1);
		r.outcome = o;
		r.worker = (char *)worker;
		r.reason = (char *)reason;
		r.violation = (char *)violation;
		r.retry_after_s = retry_after_s;
		r.wall_us = ev_clock_us() - c->recv_us;
		r.cpu_us = c->cpu_us;
		r.subrequests = c->subrequests;
		call_done(c, o, (uint32_t)sy_outcome_status(o), reason,
		          violation, r.wall_us, r.cpu_us);
		peer_send_msg(c->origin, SY_MSG_RESPONSE, SY_FLAG_END,
		              c->origin_stream, &r.base);
	} else {
		pool_account(c->pool, 0, 1);
		peer_send_raw(c->origin, SY_MSG_RES_BODY,
		              SY_FLAG_END | SY_FLAG_ABORT, c->origin_stream, NULL, 0);
	}
	c->answered = c->done = 1;
}

void call_fail(struct call *c, Switchyard__Outcome o, const char *reason,
               uint32_t retry_after_s)
{
	struct proc *p = c->proc;

	if (c->queued)
		pool_unqueue(c);
	answer_error(c, o, reason, "", retry_after_s);
	c->req = NULL;
	if (p != NULL) {
		call_unbind(c);
		pool_kill(p, reason, BLAME_PLATFORM);
	}
	call_settle(c);
}

void call_lost(struct call *c, Switchyard__Outcome o, const char *reason)
{
	call_violated(c, o, reason, "");
}

void call_violated(struct call *c, Switchyard__Outcome o, const char *reason,
                   const char *violation)
{
	call_unbind(c);
	answer_error(c, o, reason, violation, 0);
	call_settle(c);
}

/* The origin canceled c, or is gone: nothing more goes either way. A
 * process serving c is told, and keeps running unless it overstays the
 * grace (limits_cancel_grace): a worker is not killed for a client that
 * hung up. */
static void call_drop(struct call *c)
{
	struct proc *p = c->proc;

	if (!c->done)
		pool_account(c->pool, !c->answered, 1);
	if (!c->answered)
		call_done(c, SWITCHYARD__OUTCOME__CANCELED, 0,
		          "request canceled", "", ev_clock_us() - c->recv_us,
		          c->cpu_us);
	detach_origin(c);
	if (c->queued)
		pool_unqueue(c);
	if (p != NULL && !c->canceled) {
		c->canceled = 1;
		peer_send_raw(&p->peer, SY_MSG_CANCEL, 0, c->id, NULL, 0);
		limits_cancel_grace(c);
	}
	call_settle(c);
}

void call_cancel_over(struct call *c, struct proc *p)
{
	pool_cancel_counted(p, 1);
	call_unbind(c);
	/* ws_dispatch waits for its answers: calls still open are orphans */
	call_origin_gone(p);
	pool_finished(p);
	call_settle(c);
}

void call_origin_gone(struct proc *p)
{
	while (p->subcalls != NULL)
		call_drop(p->subcalls);
	fetch_origin_gone(p);
}

void call_router_gone(void)
{
	struct call *c;
	size_t i;

	fetch_router_gone();
	for (i = 0; i < hsize; i++) {
		c = htab[i];
		while (c != NULL) {
			if (c->origin_proc == NULL && c->origin != NULL) {
				call_drop(c);
				c = htab[i]; /* the chain changed */
			} else {
				c = c->hnext;
			}
		}
	}
}

/* ---- starting ---- */

int call_keep(struct call *c)
{
	if (c->req == NULL || c->req_owned != NULL)
		return 0;
	if ((c->req_owned = malloc(c->req_len ? c->req_len : 1)) == NULL)
		return -1;
	memcpy(c->req_owned, c->req, c->req_len);
	c->req = c->req_owned;
	return 0;
}

/* Copies c's REQUEST into buf: as it is when the supervisor packed it
 * (call_pack_request), else without any `context` (the router's, a tail
 * delivery's: only the supervisor gives a worker context). Its length,
 * or -1 when it is no message. */
static long copy_request(const struct call *c, uint8_t *buf)
{
	if (c->req_packed) {
		memcpy(buf, c->req, c->req_len);
		return (long)c->req_len;
	}
	return sy_pb_strip_field(c->req, c->req_len,
	                         SY_REQUEST_CONTEXT_FIELD, buf);
}

/* Sends c's REQUEST to p, with the limits appended if it lacks them, and
 * always the generations of p's KV bindings (kv_gens_append). */
static void send_request(struct call *c, struct proc *p)
{
	static uint8_t *scratch;
	static size_t cap;
	size_t need = (size_t)c->req_len + LIMITS_WIRE_MAX + KV_GENS_WIRE_MAX +
	              2 + LIMITS_BASE_WIRE_MAX;
	uint8_t *grown;
	long n;

	if (need > cap) {
		if ((grown = realloc(scratch, need)) == NULL) {
			call_fail(c, SWITCHYARD__OUTCOME__INTERNAL_ERROR,
			          "out of memory", 0);
			return;
		}
		scratch = grown;
		cap = need;
	}
	if ((n = copy_request(c, scratch)) < 0) {
		call_fail(c, SWITCHYARD__OUTCOME__INTERNAL_ERROR,
		          "malformed request", 0);
		return;
	}
	if (c->add_limits)
		n += (long)limits_append(c, scratch + n);
	n += (long)kv_gens_append(p, scratch + n);
	n += (long)limits_base_append(p, scratch + n);
	/* Request.body_held (14, varint): the body stays here until pulled */
	if (c->hold && !(c->req_flags & SY_FLAG_END)) {
		scratch[n++] = 14 << 3;
		scratch[n++] = 1;
	}
	if (n > (long)SY_FRAME_MAX) {
		call_fail(c, SWITCHYARD__OUTCOME__INTERNAL_ERROR,
		          "request head too large", 0);
		return;
	}
	peer_send_raw(&p->peer, SY_MSG_REQUEST, c->req_flags, c->id, scratch,
	              (size_t)n);
}

/* Sends p the body frames kept for c, keeping them too when `keep`. */
static void send_kept(struct call *c, struct proc *p, int keep)
{
	struct body *b;

	for (b = c->body_head; b != NULL; b = b->next)
		peer_send_raw(&p->peer, SY_MSG_REQ_BODY, b->flags, c->id,
		              b->data, b->len);
	if (!keep)
		drop_kept(c);
}

/* c joins the end of p's calls (its CPU time is counted from p's mark:
 * limits_cpu_mark). */
static void proc_add_call(struct proc *p, struct call *c)
{
	c->proc = p;
	c->pnext = NULL;
	if (p->calls_tail != NULL)
		p->calls_tail->pnext = c;
	else
		p->calls = c;
	p->calls_tail = c;
	p->ncalls++;
}

void call_start(struct call *c, struct proc *p)
{
	proc_add_call(p, c);
	if (++last_id == 0)
		last_id = 1;
	c->id = last_id;
	/* held: the head stays for a FORWARD, the body until pulled */
	if (c->hold && call_keep(c) == -1) {
		call_fail(c, SWITCHYARD__OUTCOME__INTERNAL_ERROR,
		          "out of memory", 0);
		return;
	}
	/* what the KV generations sent with it (send_request) are */
	if (c->hold)
		c->kv_mark = dcache_mark();
	events_call_start(c, p);
	limits_start(c);
	send_request(c, p);
	if (c->proc != p || c->hold)
		return;
	send_kept(c, p, 0);
}

void call_body_pull(struct proc *p, const struct sy_frame *f)
{
	struct call *c = call_held(p, f->stream);

	if (c == NULL || !c->hold || c->pulled ||
	    (c->req_flags & SY_FLAG_END)) {
		pool_kill(p, "protocol error: BODY_PULL for no held body",
		          BLAME_PROTOCOL);
		return;
	}
	c->pulled = 1;
	send_kept(c, p, 1);
}

/* ---- frames from an origin ---- */

void call_deny(struct call *c, Switchyard__Outcome o, const char *worker,
               const char *reason, const char *violation)
{
	call_log_failed(c, worker, o, (uint32_t)sy_outcome_status(o), reason,
	                violation);
	send_error(c->origin, c->origin_stream, o, worker, reason, violation,
	           0, ev_clock_us() - c->recv_us);
	c->answered = c->done = 1;
	call_settle(c);
}

void call_refuse(struct call *c, const Switchyard__Request *r,
                 Switchyard__Outcome o, const char *worker,
                 const char *reason, const char *violation)
{
	events_refused(c, r, o, worker, reason, violation);
	call_deny(c, o, worker, reason, violation);
}

void call_not_found(struct call *c, const Switchyard__Request *r,
                    const char *ns, const char *name)
{
	char worker[2 * SY_NAME_MAX];

	snprintf(worker, sizeof(worker), "%s/%s", ns, name);
	call_refuse(c, r, SWITCHYARD__OUTCOME__SCRIPT_NOT_FOUND, worker,
	            "Worker not found", "");
}

struct call *call_open(struct peer *from, const struct sy_frame *f)
{
	struct call *c;

	if ((c = call_new(from, f->stream)) == NULL) {
		send_error(from, f->stream, SWITCHYARD__OUTCOME__INTERNAL_ERROR,
		           "", "out of memory", "", 0, 0);
		return NULL;
	}
	c->recv_us = ev_clock_us();
	c->req_end = (f->flags & SY_FLAG_END) != 0;
	c->req_flags = f->flags & SY_FLAG_END;
	return c;
}

void call_request(struct peer *from, const struct sy_frame *f)
{
	char rid[SY_REQUEST_ID_LEN + 1] = "";
	const struct sup_config *conf;
	const char *why = NULL;
	struct worker *w;
	struct call *c;

	if (f->flags & SY_FLAG_ABORT)
		why = "protocol error: REQUEST flagged ABORT";
	else if (call_find(from, f->stream) != NULL)
		why = "protocol error: REQUEST on a stream already open";
	else if (from->owner == NULL && call_router_request_id(f, rid) == -1)
		why = "protocol error: malformed REQUEST or request_id";
	if (why != NULL) {
		call_blame(from, why);
		return;
	}
	if (from->owner != NULL) {
		subrequest_request(from->owner, f);
		return;
	}
	if ((c = call_open(from, f)) == NULL)
		return;
	c->req = f->payload;
	c->req_len = f->len;
	memcpy(c->rid, rid, sizeof(c->rid));
	conf = serve_env.conf;
	if ((w = registry_find(conf->dispatch_ns, conf->dispatch_name)) ==
	    NULL) {
		call_not_found(c, NULL, conf->dispatch_ns,
		               conf->dispatch_name);
		return;
	}
	/* the router's requests are far smaller than a frame: its
	 * max_header_bytes is at most half of one */
	limits_set(c, w->plan, NULL);
	c->add_limits = 1;
	c->hold = 1;
	if (c->req_len + LIMITS_WIRE_MAX > SY_FRAME_MAX) {
		call_refuse(c, NULL, SWITCHYARD__OUTCOME__INTERNAL_ERROR, "",
		            "request head too large", "");
		return;
	}
	if (call_forward_cached(c, w))
		return;
	pool_submit(w, c);
}

int call_internal(struct peer *origin, uint32_t stream, struct worker *w,
                  const uint8_t *req, uint32_t req_len, const uint8_t *body,
                  uint32_t body_len)
{
	struct sy_frame f = { .type = SY_MSG_REQUEST, .stream = stream,
	                      .len = req_len, .payload = req, .fd = -1 };
	struct call *c;

	if ((c = call_open(origin, &f)) == NULL)
		return -1;
	limits_set(c, w->plan, NULL);
	c->add_limits = 1;
	c->req = req;
	c->req_len = req_len;
	pool_submit(w, c);
	f.type = SY_MSG_REQ_BODY;
	f.flags = SY_FLAG_END;
	f.len = body_len;
	f.payload = body;
	call_req_body(origin, &f);
	return 0;
}

static int keep_body(struct call *c, const struct sy_frame *f)
{
	struct body *b = malloc(sizeof(*b) + f->len);

	if (b == NULL)
		return -1;
	b->next = NULL;
	b->len = f->len;
	b->flags = f->flags & SY_FLAG_END;
	memcpy(b->data, f->payload, f->len);
	if (c->body_tail != NULL)
		c->body_tail->next = b;
	else
		c->body_head = b;
	c->body_tail = b;
	return 0;
}

void call_req_body(struct peer *from, const struct sy_frame *f)
{
	struct call *c = call_find(from, f->stream);
	char why[96];

	if (c == NULL && fetch_req_body(from, f))
		return;
	if (c == NULL) {
		/* canceled or failed before its body ended: nothing to do */
		log_debug("REQ_BODY for unknown stream %u ignored", f->stream);
		return;
	}
	if (c->req_end) {
		call_blame(from, "protocol error: REQ_BODY after the request's END");
		return;
	}
	if (f->flags & SY_FLAG_ABORT) {
		call_drop(c);
		return;
	}
	c->req_end = (f->flags & SY_FLAG_END) != 0;
	if (c->done) {
		call_settle(c);
		return;
	}
	c->body_bytes += f->len;
	if (c->body_bytes > serve_env.conf->max_body_bytes) {
		snprintf(why, sizeof(why), "request body over %llu bytes",
		         (unsigned long long)serve_env.conf->max_body_bytes);
		call_fail(c, SWITCHYARD__OUTCOME__INTERNAL_ERROR, why, 0);
		return;
	}
	if (c->proc != NULL && (!c->hold || c->pulled))
		peer_send_raw(&c->proc->peer, SY_MSG_REQ_BODY,
		              f->flags & SY_FLAG_END, c->id, f->payload, f->len);
	if ((c->proc == NULL || c->hold) && keep_body(c, f) == -1)
		call_fail(c, SWITCHYARD__OUTCOME__INTERNAL_ERROR,
		          "out of memory", 0);
}

void call_cancel(struct peer *from, const struct sy_frame *f)
{
	struct call *c = call_find(from, f->stream);

	if (c != NULL)
		call_drop(c);
	else
		fetch_cancel(from, f);
}

void call_fini(void)
{
	struct call *c;
	size_t i;

	for (i = 0; i < hsize; i++) {
		while ((c = htab[i]) != NULL) {
			htab[i] = c->hnext;
			drop_kept(c);
			drop_forward(c);
			free(c);
		}
	}
	free(htab);
	htab = NULL;
	hsize = hcount = 0;
	call_collect();
	while ((c = free_calls) != NULL) {
		free_calls = c->hnext;
		free(c);
	}
	nfree = 0;
}
