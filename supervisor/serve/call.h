/*
 * Calls (call.c): one request being served. A call comes from an origin
 * (the router, or a worker process making a subrequest with ws_dispatch),
 * names its stream there, and is served by one process of its target
 * worker, on a stream id of the supervisor's own (the call id).
 *
 * A call lives until its origin has both sent its whole request (END or
 * CANCEL) and received its whole answer, and no queue or process holds it.
 * Freed calls are recycled only from call_collect(), at the end of an event,
 * so a pointer to a call stays valid for the whole event that freed it.
 */
#ifndef SY_SERVE_CALL_H
#define SY_SERVE_CALL_H

#include <stddef.h>
#include <stdint.h>

#include "names.h"
#include "serve/fetch.h"
#include "serve/peer.h"
#include "serve/pool.h"
#include "switchyard.pb-c.h"

struct body;

/* A request's limits (limits.c); see struct plan. */
struct limits {
	uint32_t cpu_ms, wall_ms, subrequests;
};

struct call {
	uint32_t id;               /* stream id on the serving process */
	uint32_t origin_stream;    /* stream id at the origin */
	struct peer *origin;       /* NULL once the origin is gone */
	struct proc *origin_proc;  /* the calling worker process, or NULL */
	struct pool *pool;         /* target worker's pool */
	struct proc *proc;         /* serving process, or NULL */
	uint64_t recv_us;          /* when the REQUEST arrived */
	uint64_t queued_ms;        /* when it entered its queue */
	uint64_t body_bytes;       /* request body seen so far */
	uint64_t res_left;         /* response body bytes still expected */
	uint32_t subrequests;      /* subrequest tokens it spent */
	struct limits lim;         /* effective: the plan's, lowered by the
	                            * ws_dispatch caller's */
	/* The request's id (Request.request_id): the router's, passed on to
	 * every subrequest it makes; "" for the supervisor's own calls. */
	char rid[SY_REQUEST_ID_LEN + 1];
	uint64_t start_us;         /* when a process took it */
	uint64_t limit_timer;      /* CPU and wall-time check, or 0 */
	uint64_t cpu_us;           /* CPU measured when a limit stopped it */
	/* The REQUEST while no process serves it: borrowed from the origin's
	 * reader during the event it arrived in, copied if it has to wait. */
	const uint8_t *req;
	uint8_t *req_owned;
	uint32_t req_len;
	uint8_t req_flags;
	struct body *body_head, *body_tail; /* REQ_BODY frames kept */
	unsigned req_end : 1;      /* the origin sent its END (or left) */
	unsigned answered : 1;     /* a RESPONSE went to the origin */
	unsigned done : 1;         /* the answer's END went (or origin left) */
	unsigned queued : 1;
	unsigned freed : 1;
	unsigned add_limits : 1;   /* req lacks the limits: append them */
	unsigned req_packed : 1;   /* req is call_pack_request's: its context
	                            * is the supervisor's (otherwise any is
	                            * stripped before a worker sees it) */
	/* Forwarding (call_forward.c): a request from the router is held at
	 * the dispatch worker, its head and body kept here (the body sent
	 * only if the process pulls it), so that a FORWARD can hand both to
	 * the target without passing them through the dispatch worker. */
	unsigned hold : 1;         /* at the dispatch worker, body held */
	unsigned pulled : 1;       /* the dispatch worker asked for the body */
	unsigned forwarded : 1;    /* a FORWARD handed it on to its target */
	/* The origin left while a process held it: the process was sent a
	 * CANCEL and has a grace to answer or drop it (limits_cancel_grace);
	 * that answer goes nowhere and counts nothing. */
	unsigned canceled : 1;
	unsigned fwd_cached : 1;   /* ... one the dispatch worker made for an
	                            * earlier request (decision_cache.c) */
	Switchyard__Forward *fwd;  /* that decision, for the response edits
	                            * (owned; NULL without any) */
	char fwd_from[2 * SY_NAME_MAX]; /* forwarded: who decided, for
	                                 * its events; else "" */
	char fwd_to[2 * SY_NAME_MAX];   /* the decision being recorded as
	                                 * the dispatch worker's event */
	uint64_t kv_mark;          /* held: dcache_mark() when the dispatch
	                            * worker got it, what a decision it
	                            * lets the supervisor keep is fresh from */
	struct call *hnext;        /* (origin, origin_stream) hash chain */
	struct call *qnext, *qprev; /* its pool's queue */
	struct call *snext, *sprev; /* origin_proc's subcalls */
	struct call *pnext;        /* the next call its process holds */
};

/* Gives c to p, READY or holding fewer calls than its concurrency:
 * sends the request and its kept body. */
void call_start(struct call *c, struct proc *p);
/* The call p holds on stream, or NULL. */
struct call *call_held(const struct proc *p, uint32_t stream);
/* Keeps the request (borrowed so far) because c waits in a queue.
 * 0, or -1 (ENOMEM). */
int call_keep(struct call *c);
/*
 * Ends c with a platform outcome: answers the origin (an error RESPONSE, or
 * an aborted body if the answer had begun), takes c out of its queue, and
 * kills the process serving it. May free c.
 */
void call_fail(struct call *c, Switchyard__Outcome o, const char *reason,
               uint32_t retry_after_s);
/* The process serving c died, was killed or is being stopped: fails c
 * with outcome o (EXCEPTION when the worker is to blame) and reason,
 * without touching the process. May free c. */
void call_lost(struct call *c, Switchyard__Outcome o, const char *reason);
/* Same, also telling the origin which platform rule the worker broke
 * (Response.violation: "syscall ptrace(101)", "memory cap 128 MiB",
 * "protocol: malformed RESPONSE"). */
void call_violated(struct call *c, Switchyard__Outcome o, const char *reason,
                   const char *violation);
/* p is gone: every call it made is canceled. */
void call_origin_gone(struct proc *p);
/* The router is gone: every call it made is canceled. */
void call_router_gone(void);

/* Frames from an origin (router or worker process). */
void call_request(struct peer *from, const struct sy_frame *f);

/* subrequest.c: the REQUEST f from op, a ws_dispatch or ws_fetch it makes
 * while serving a call: checked against its version's bindings
 * (state/bindings.h), answered DENIED or relayed. */
void subrequest_request(struct proc *op, const struct sy_frame *f);
/*
 * Builds the Request c's callee gets from r (borrowed, left as it was):
 * r with c's limits and the context ctx[0, nctx) in place of what r
 * carries (ctx may be r's own, or none). Only the supervisor decides a
 * worker's context, here: call it with r->context only for a caller its
 * bindings let give context (BIND_DISPATCH). c then owns the packed bytes
 * (c->req). 0, or -1 (ENOMEM).
 */
int call_pack_request(struct call *c, Switchyard__Request *r,
                      Switchyard__Header **ctx, size_t nctx);
void call_req_body(struct peer *from, const struct sy_frame *f);
void call_cancel(struct peer *from, const struct sy_frame *f);
/* Frames from the process serving a call (call_answer.c). */
void call_response(struct proc *p, const struct sy_frame *f);
void call_res_body(struct proc *p, const struct sy_frame *f);
/* call_forward.c: a FORWARD from p, the dispatch worker serving a held
 * call: checked, its part of the request ended, and the request handed
 * to the target with the edits asked for. */
void call_forward(struct proc *p, const struct sy_frame *f);
/* call_forward.c: c, a router request for dispatch worker dw, handed on
 * by a decision dw made for an earlier one and let the supervisor keep
 * (decision_cache.h), without waking dw. 1 when one applied (c is the
 * target's now, or answered), 0 when none did (c is as it was). */
int call_forward_cached(struct call *c, struct worker *dw);
/* A BODY_PULL from p: sends it the held body of the call it serves. */
void call_body_pull(struct proc *p, const struct sy_frame *f);

/* tailcons.c: a call made by the supervisor itself, from origin (a peer
 * never opened: the answer is dropped) on stream, to worker w: the REQUEST
 * req (borrowed) and one REQ_BODY of body (borrowed, END). Its outcome
 * reaches events_call_done as any call's. 0, or -1 when out of memory. */
int call_internal(struct peer *origin, uint32_t stream, struct worker *w,
                  const uint8_t *req, uint32_t req_len, const uint8_t *body,
                  uint32_t body_len);

/* call_id.c: " (request ID)" for c's request, to end a log line about
 * it, in buf (CALL_RID_NOTE bytes); "" when c is NULL or has no id. */
#define CALL_RID_NOTE (SY_REQUEST_ID_LEN + 16)
const char *call_rid_note(const struct call *c, char buf[CALL_RID_NOTE]);

/* Recycles the calls freed during this event. */
void call_collect(void);
/* Frees every cached call at exit. */
void call_fini(void);

#endif
