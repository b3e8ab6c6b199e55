/*
 * Counters for the router's admin listener (stats.c): the router asks with
 * STATS_REQUEST, we answer with a Stats message built from every pool.
 */
#ifndef SY_STATS_H
#define SY_STATS_H

#include "frame.h"
#include "peer.h"

/* A STATS_REQUEST from the router: answers STATS_RESPONSE on its stream. */
void stats_request(struct peer *router, const struct sy_frame *f);

#endif
