/*
 * What call.c shares with call_answer.c, which relays the serving process's
 * answer, and call_id.c, which reads and logs request ids: the steps of a
 * call's life that they take. Nothing else includes this.
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
/* p's CPU time in nanoseconds (0 if unreadable). */
uint64_t call_cpu_ns(const struct proc *p);

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

#endif
