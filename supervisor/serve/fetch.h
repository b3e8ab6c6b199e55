/*
 * ws_fetch calls (fetch.c), performed by the router: a fetch the egress
 * policy allows goes to the router on a stream of the supervisor's own
 * (REQUEST + REQ_BODY*); the router answers on it with RESPONSE +
 * RES_BODY*, relayed to the worker on its subrequest stream.
 */
#ifndef SY_SERVE_FETCH_H
#define SY_SERVE_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "switchyard.pb-c.h"

struct peer;
struct proc;

/* A ws_fetch REQUEST r from op on its stream (flags: the frame's END):
 * spends a token, checks the policy, forwards or refuses it. r stays the
 * caller's. */
void fetch_request(struct proc *op, uint32_t stream, uint8_t flags,
                   Switchyard__Request *r);
/* Frames from the worker for a fetch's stream: 1 if they were (and were
 * handled), 0 if the stream is not a fetch. */
int fetch_req_body(struct peer *from, const struct sy_frame *f);
int fetch_cancel(struct peer *from, const struct sy_frame *f);
/* p is gone, or done with the request its fetches were for. */
void fetch_origin_gone(struct proc *p);
/* The router is gone: every fetch in flight fails. */
void fetch_router_gone(void);
/* Frames from the router answering a fetch. */
void fetch_response(struct peer *router, const struct sy_frame *f);
void fetch_res_body(struct peer *router, const struct sy_frame *f);

#endif
