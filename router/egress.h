/*
 * The router's egress client (egress.c): performs the fetches the
 * supervisor allowed (ws_fetch), with libcurl's multi interface driven by
 * the router's own event loop. Nothing here decides what may be reached:
 * each fetch names the one address it may connect to, and the client
 * connects nowhere else, resolves no names and follows no redirects.
 */
#ifndef SY_EGRESS_H
#define SY_EGRESS_H

#include <stddef.h>

#include "frame.h"

/* Sets libcurl up (before the seccomp filter: it reads its configuration
 * now). Fatal on error. */
void egress_init(void);
/* Aborts every fetch and frees libcurl's state. */
void egress_cleanup(void);

/* Frames from the supervisor on a stream it opened: a fetch's REQUEST, its
 * body, or its cancellation. -1 with err on a protocol error. */
int egress_request(const struct sy_frame *f, char *err, size_t errlen);
int egress_req_body(const struct sy_frame *f, char *err, size_t errlen);
void egress_cancel(const struct sy_frame *f);

#endif
