/*
 * What call.c shares with call_answer.c, which relays the serving process's
 * answer, call_id.c, which reads and logs request ids, and subrequest.c,
 * which checks a worker's calls: the steps of a call's life they take.
 * Nothing else includes this.
 */
#ifndef SY_SERVE_CALL_STATE_H
#define SY_SERVE_CALL_STATE_H

#include <stdint.h>

#include "frame.h"
#include "serve/call.h"
#include "serve/pool.h"
#include "switchyard.pb-c.h"

/* Frees c once nothing refers to it any more (recycled at the end of the
 * event, by call_collect). */
void call_settle(struct call *c);
/* c and its process part: its limit checks stop, neither refers to the
 * other any more. */
void call_unbind(struct call *c);
/* c's outcome is known: counted, and recorded as a request event. */
void call_done(struct call *c, Switchyard__Outcome o, uint32_t status,
               const char *reason, const char *violation, uint64_t wall_us,
               uint64_t cpu_us);

/* call_id.c: a call that did not end OK (o) is logged under its request
 * id with worker ("ns/name"), the status, the reason and the violation:
 * the details its error page no longer tells the client. */
void call_log_failed(const struct call *c, const char *worker,
                     Switchyard__Outcome o, uint32_t status,
                     const char *reason, const char *violation);
/* The request id of the router's Request f, read without unpacking it:
 * 0 with id filled ("" if it has none), or -1 if f is malformed or its id
 * is not one (sy_request_id_valid). */
int call_router_request_id(const struct sy_frame *f,
                           char id[SY_REQUEST_ID_LEN + 1]);

/* c, canceled (call.h), is over for p, which answered or dropped it in
 * time: counted as kept, p free for its next call. May free c. */
void call_cancel_over(struct call *c, struct proc *p);

/* call_forward.c: a forwarded call's response edits, applied to r, a
 * target's Response about to go to the router (none unless OK); undone
 * with call_forward_response_undo before r is freed. 0, or -1 (ENOMEM:
 * nothing applied). */
struct fwd_undo {
	Switchyard__Header **headers, **owned;
	size_t n_headers;
};
int call_forward_response(const struct call *c, Switchyard__Response *r,
                          struct fwd_undo *u);
void call_forward_response_undo(Switchyard__Response *r, struct fwd_undo *u);

/* For subrequest.c. */
/* A new call for the REQUEST f from `from`, or NULL once answered
 * (out of memory). */
struct call *call_open(struct peer *from, const struct sy_frame *f);
/* A protocol error by whoever sent a frame: the router's stops the
 * platform, a worker's kills it. */
void call_blame(struct peer *from, const char *why);
/* Answers c, which no worker will see, with a platform outcome, naming
 * worker ("ns/name"), and settles it; call_refuse also records its event
 * (showing r, or c->req when r is NULL), call_deny leaves that to the
 * event of the caller's own request. */
void call_refuse(struct call *c, const Switchyard__Request *r,
                 Switchyard__Outcome o, const char *worker,
                 const char *reason, const char *violation);
void call_deny(struct call *c, Switchyard__Outcome o, const char *worker,
               const char *reason, const char *violation);
/* call_refuse with SCRIPT_NOT_FOUND for ns/name. */
void call_not_found(struct call *c, const Switchyard__Request *r,
                    const char *ns, const char *name);

#endif
