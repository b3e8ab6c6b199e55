/*
 * Tail consumers (tailcons.c): a worker whose version names tail consumers
 * ([deploy] tail_consumer = NS/NAME, yardctl deploy --tail-consumer) has
 * each of its request events (events.c) queued for each of them, and the
 * queue is delivered in batches, a JSON array per `POST /`, through the
 * ordinary call path to the consumer's own processes (docs/events.md).
 *
 * Nothing here can slow or fail the producer: queues are bounded (what
 * does not fit is dropped and counted), a consumer has at most one batch
 * in flight, and batches are sent from a timer, never from inside the
 * call whose event is queued.
 */
#ifndef SY_SERVE_TAILCONS_H
#define SY_SERVE_TAILCONS_H

#include <stddef.h>
#include <stdint.h>

#include "state/registry.h"
#include "switchyard.pb-c.h"

#define TAIL_CONSUMERS_MAX 256     /* consumers tracked; more: dropped */
#define TAIL_QUEUE_EVENTS 1000     /* events waiting per consumer */
#define TAIL_QUEUE_BYTES (1024u * 1024u)
#define TAIL_BATCH_EVENTS 100      /* one POST at most */
#define TAIL_BATCH_BYTES (128u * 1024u)
#define TAIL_FLUSH_MS 100          /* from the first event to its POST */

struct call;

/* 1 when events of w's requests go to some tail consumer (w may be NULL). */
int tailcons_wanted(const struct worker *w);
/* Queues the event json (len bytes, borrowed) of one of w's requests for
 * each of w's tail consumers but w itself. */
void tailcons_push(const struct worker *w, const char *json, size_t len);
/* 1 when c delivers a batch, or was made (ws_dispatch) while one was
 * being delivered: its event must feed no tail consumer, or consumers
 * naming each other would feed each other forever. */
int tailcons_exempt(const struct call *c);
/* c's outcome is known (events_call_done): if c delivers a batch, its
 * events are counted delivered (OK, status 2xx) or dropped. */
void tailcons_call_done(const struct call *c, Switchyard__Outcome o,
                        uint32_t status);

/* The counters for the admin listener: *n entries in an array the caller
 * frees with tailcons_stats_free(); NULL (and *n = 0) when there are none
 * or memory is short. */
Switchyard__TailConsumerStats **tailcons_stats(size_t *n);
void tailcons_stats_free(Switchyard__TailConsumerStats **ts, size_t n);

#endif
