/*
 * Request events (events.c): one JSON object per request per worker, shaped
 * like Cloudflare's tail TraceItem, kept in a ring of the last EVENTS_MAX
 * and appended as a line to a stream that `yardctl events -f` follows.
 * docs/events.md describes the fields.
 */
#ifndef SY_SERVE_EVENTS_H
#define SY_SERVE_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "switchyard.pb-c.h"

#define EVENTS_MAX 1024          /* events kept */
#define EVENT_BYTES (16u * 1024u) /* one event's JSON at most */

struct call;
struct proc;
struct logring;

/* p takes c (its REQUEST still at c->req): notes the request's head. */
void events_call_start(const struct call *c, struct proc *p);
/* c's outcome is known (its RESPONSE head went, or it failed): records its
 * event. status is the HTTP status the origin got (0: none). */
void events_call_done(const struct call *c, Switchyard__Outcome o,
                      uint32_t status, const char *reason,
                      const char *violation, uint64_t wall_us,
                      uint64_t cpu_us, uint32_t subrequests);
/* c was answered by the platform before any worker saw it (no such
 * worker, a subrequest refused): records its event as worker's ("ns/name":
 * the worker asked for, or the caller whose subrequest was refused), with
 * r's method, URL and headers (r NULL: c->req's). */
void events_refused(const struct call *c, const Switchyard__Request *r,
                    Switchyard__Outcome o, const char *worker,
                    const char *reason, const char *violation);
/* A violation that does not end c (a denied fetch) happened while it ran:
 * its event will list it. */
void events_call_violation(const struct call *c, const char *violation);
/* c is being freed: forgets what events_call_start noted, if anything. */
void events_call_forget(const struct call *c);

/* Events cost about a quarter of the request rate (docs/events.md): they
 * are built only while the ring is on (yardctl events --ring on) or an
 * `events -f` follows the stream. */
void events_listen(int delta);
void events_ring(int on);
int events_ring_on(void);

/* The stream of every event, one JSON line each, for `events -f`. */
struct logring *events_stream(void);
/* Which events events_dump copies; NULL fields match any. */
struct events_filter {
	const char *worker;      /* "ns/name" */
	const char *outcome;     /* "exception", ... */
	const char *rid;         /* a request id */
};
/* Copies the newest events (oldest first) that f matches, one JSON line
 * each, into a malloc'd buffer of at most max bytes. *len its length;
 * NULL when out of memory. */
char *events_dump(const struct events_filter *f, size_t max, size_t *len);


#endif
