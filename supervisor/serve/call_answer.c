/*
 * The answer of the process serving a call: its RESPONSE is checked (an
 * HTTP status or an exception, header names and values, END against
 * body_len), completed with what only the supervisor knows (the worker's
 * name, CPU and wall time, subrequests) and relayed to the call's origin;
 * its RES_BODY frames are relayed as they came, counted against body_len.
 */
#include <stdio.h>
#include <string.h>

#include "http_syntax.h"
#include "log.h"
#include "outcome.h"
#include "serve/call.h"
#include "serve/call_state.h"
#include "serve/limits.h"
#include "serve/peer.h"
#include "serve/pool.h"

#define REASON_MAX 1024     /* bytes of a worker's exception reason kept */

/* The answer's END passed: p is free, c waits only for its origin. */
static void call_end(struct call *c, struct proc *p)
{
	if (c->canceled) {
		call_cancel_over(c, p);
		return;
	}
	c->done = 1;
	call_unbind(c);
	/* ws_dispatch waits for its answers: calls still open are orphans */
	call_origin_gone(p);
	pool_finished(p);
	call_settle(c);
}

static const char *check_headers(const Switchyard__Response *r)
{
	const char *name, *value;
	size_t i;

	for (i = 0; i < r->n_headers; i++) {
		name = r->headers[i]->name;
		value = r->headers[i]->value;
		if (*name == '\0')
			return "protocol error: empty header name";
		if (!sy_http_token(name, strlen(name)))
			return "protocol error: invalid header name";
		if (!sy_http_value(value, strlen(value)))
			return "protocol error: control character in "
			       "a header value";
	}
	return NULL;
}

/* A worker answers OK with an HTTP status, or EXCEPTION with nothing. */
static const char *check_response(Switchyard__Response *r, uint8_t flags)
{
	int end = (flags & SY_FLAG_END) != 0;

	if (flags & SY_FLAG_ABORT)
		return "protocol error: RESPONSE flagged ABORT";
	if (r->outcome == SWITCHYARD__OUTCOME__OK) {
		if (r->status < 100 || r->status > 999)
			return "protocol error: HTTP status out of range";
	} else if (r->outcome == SWITCHYARD__OUTCOME__EXCEPTION) {
		if (r->body_len != 0)
			return "protocol error: exception with a body";
		r->status = 0;
	} else {
		return "protocol error: outcome only the platform may give";
	}
	if (end != (r->body_len == 0))
		return "protocol error: RESPONSE END flag disagrees with body_len";
	return check_headers(r);
}

/* Fills in what only the supervisor knows; returns why it cannot be sent,
 * or NULL. saved keeps the worker's strings to restore before freeing. */
static const char *complete_response(Switchyard__Response *r,
                                     const struct call *c, struct proc *p,
                                     char *saved[3], char *reason)
{
	saved[0] = r->worker;
	saved[1] = r->reason;
	saved[2] = r->violation;
	/* only the supervisor says which rule a worker broke */
	r->violation = (char *)"";
	r->worker = p->worker;
	if (r->outcome == SWITCHYARD__OUTCOME__OK) {
		r->reason = (char *)"";
	} else {
		snprintf(reason, REASON_MAX, "%s", saved[1]);
		r->reason = reason;
	}
	r->cpu_us = limits_cpu_share_us(p);
	r->wall_us = ev_clock_us() - c->recv_us;
	r->retry_after_s = 0;
	r->subrequests = c->subrequests;
	if (protobuf_c_message_get_packed_size(&r->base) > SY_FRAME_MAX)
		return "protocol error: response head too large";
	return NULL;
}

/* The response edits of the decision that forwarded c, if any; skipped
 * (and said) when they would not fit in a frame with the response. */
static void forward_edits(const struct call *c, Switchyard__Response *r,
                          struct fwd_undo *u)
{
	if (call_forward_response(c, r, u) == -1) {
		log_warnx("call %s: response edits of %s not applied: out of "
		          "memory", pool_label(c->pool), c->fwd_from);
		return;
	}
	if (u->owned != NULL &&
	    protobuf_c_message_get_packed_size(&r->base) > SY_FRAME_MAX) {
		call_forward_response_undo(r, u);
		log_warnx("call %s: response edits of %s not applied: the "
		          "response head would exceed a frame",
		          pool_label(c->pool), c->fwd_from);
	}
}

void call_response(struct proc *p, const struct sy_frame *f)
{
	struct call *c = call_held(p, f->stream);
	Switchyard__Response *r;
	struct fwd_undo undo;
	const char *why;
	char *saved[3], reason[REASON_MAX];

	if (c == NULL || c->answered) {
		pool_kill(p, "protocol error: RESPONSE on a stream it does not "
		          "serve", BLAME_PROTOCOL);
		return;
	}
	r = switchyard__response__unpack(NULL, f->len, f->payload);
	if (r == NULL) {
		pool_kill(p, "protocol error: malformed RESPONSE",
		          BLAME_PROTOCOL);
		return;
	}
	if ((why = check_response(r, f->flags)) == NULL &&
	    (why = complete_response(r, c, p, saved, reason)) != NULL) {
		r->worker = saved[0];
		r->reason = saved[1];
		r->violation = saved[2];
	}
	if (why != NULL) {
		switchyard__response__free_unpacked(r, NULL);
		pool_kill(p, why, BLAME_PROTOCOL);
		return;
	}
	if (!c->canceled) {
		pool_account(c->pool, 1,
		             r->outcome != SWITCHYARD__OUTCOME__OK);
		call_done(c, r->outcome,
		          r->status ? r->status
		                    : (uint32_t)sy_outcome_status(r->outcome),
		          r->reason, "", r->wall_us, r->cpu_us);
	}
	c->answered = 1;
	c->res_left = r->body_len;
	forward_edits(c, r, &undo);
	if (c->origin != NULL)
		peer_send_msg(c->origin, SY_MSG_RESPONSE, f->flags, c->origin_stream,
		              &r->base);
	call_forward_response_undo(r, &undo);
	r->worker = saved[0];
	r->reason = saved[1];
	r->violation = saved[2];
	switchyard__response__free_unpacked(r, NULL);
	if (f->flags & SY_FLAG_END)
		call_end(c, p);
}

void call_res_body(struct proc *p, const struct sy_frame *f)
{
	struct call *c = call_held(p, f->stream);
	int abort = (f->flags & SY_FLAG_ABORT) != 0;
	int end = (f->flags & SY_FLAG_END) != 0;

	if (c == NULL || !c->answered) {
		pool_kill(p, "protocol error: RES_BODY on a stream it does not "
		          "answer", BLAME_PROTOCOL);
		return;
	}
	if (f->len > c->res_left) {
		pool_kill(p, "protocol error: response body longer than "
		          "body_len", BLAME_PROTOCOL);
		return;
	}
	c->res_left -= f->len;
	if (!abort && end != (c->res_left == 0)) {
		pool_kill(p, "protocol error: RES_BODY END flag disagrees with "
		          "body_len", BLAME_PROTOCOL);
		return;
	}
	if (abort && !c->canceled)
		pool_account(c->pool, 0, 1);
	if (c->origin != NULL) {
		peer_send_raw(c->origin, SY_MSG_RES_BODY,
		              abort ? SY_FLAG_END | SY_FLAG_ABORT : f->flags,
		              c->origin_stream, f->payload, f->len);
		peer_throttle(&p->peer, c->origin);
	}
	if (abort || end)
		call_end(c, p);
}
