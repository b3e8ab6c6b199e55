/*
 * Counters for the router's admin listener (stats.c): the router asks with
 * STATS_REQUEST, we answer with a Stats message built from every pool.
 * The histogram helpers the pools count with live here too.
 */
#ifndef SY_SERVE_STATS_H
#define SY_SERVE_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "serve/peer.h"

/* CPU time per request has its own, finer buckets: workers commonly use
 * 50-300 us a request, all below the 1 ms first bound of the others. */
#define STATS_CPU_NBOUNDS 22
#define STATS_CPU_NBUCKETS (STATS_CPU_NBOUNDS + 1)

/* Upper bounds of the CPU buckets, microseconds: log-spaced, 50 us-30 s. */
extern const uint64_t stats_cpu_bounds_us[STATS_CPU_NBOUNDS];

/* Counts us in the CPU histogram h (STATS_CPU_NBUCKETS counts). */
void stats_cpu_add(uint64_t *h, uint64_t us);
/* The q-quantile (0 < q < 1) of CPU histogram h, microseconds, linearly
 * interpolated within its bucket as Prometheus' histogram_quantile does;
 * the last bound when it falls above every bound; 0 with no counts. */
uint64_t stats_cpu_quantile_us(const uint64_t *h, double q);

/* A STATS_REQUEST from the router: answers STATS_RESPONSE on its stream. */
void stats_request(struct peer *router, const struct sy_frame *f);

#endif
