/*
 * The decision cache (decision_cache.c): FORWARDs the dispatch worker
 * allowed the supervisor to reuse (Forward.cache), kept so that a later
 * router request with the same key is handed on without waking it
 * (docs/dispatch.md, "Decision cache").
 *
 * A decision is keyed on the dispatch worker, the request's Host, the
 * values of every header its `vary` names (names without case; an absent
 * header is a value of its own) and, when the decision rewrote the URL,
 * the request's URL. It is used only while it has not expired, the
 * dispatch worker's current version is the one that decided, and every KV
 * namespace that version binds has the generation it had when the
 * dispatch worker was given the request (state/kvstore.h): a KV write or
 * a deploy is obeyed by the very next request.
 */
#ifndef SY_SERVE_DECISION_CACHE_H
#define SY_SERVE_DECISION_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "state/registry.h"
#include "switchyard.pb-c.h"

/* The supervisor's own bounds (not wire limits): decisions kept, and the
 * bytes they hold (keys, packed Forwards, bookkeeping). The oldest used
 * go first. A key holds at most a router Request's Host, URL and header
 * values, each bounded by a frame. */
#define DCACHE_ENTRIES_MAX 4096
#define DCACHE_BYTES_MAX (32u << 20)
/* Distinct ways of keying (vary lists, URL or not) kept at once: a
 * dispatcher has a handful; a decision of one more is not kept. */
#define DCACHE_SPECS_MAX 16

/* What a decision's freshness is measured from: read when the dispatch
 * worker is given a router request (call.c keeps it in the call). */
uint64_t dcache_mark(void);

/*
 * Keeps dispatch worker w's decision fw (checked by sy_forward_problem;
 * fw->cache set), packed as it came in fwd[0, fwd_len), about the router
 * Request req[0, req_len) that version `version` of w was given when
 * dcache_mark() was `mark`. Not kept when that version is no longer w's
 * current one, when a KV namespace it binds was written since `mark`, or
 * when memory or DCACHE_SPECS_MAX says no: the next such request asks the
 * dispatch worker again. Nothing is borrowed.
 */
void dcache_store(const struct worker *w, uint32_t version, uint64_t mark,
                  const uint8_t *req, size_t req_len,
                  const Switchyard__Forward *fw, const uint8_t *fwd,
                  size_t fwd_len);
/*
 * The decision kept for the router Request req[0, req_len) to dispatch
 * worker w, unpacked (the caller frees it), or NULL when there is none
 * that is fresh (a stale one found is dropped). Counts a hit or a miss.
 * Costs nothing but the count while no decision is kept; otherwise, for
 * each way of keying in use (a handful), one walk of req's fields per
 * name keyed on (Host and the vary names) and one hash probe.
 */
Switchyard__Forward *dcache_lookup(const struct worker *w,
                                   const uint8_t *req, size_t req_len);
/* Drops every decision of w's: its current version changed, or it is
 * being deleted. O(decisions kept). */
void dcache_forget(const struct worker *w);

/* The counts for /metrics. */
void dcache_stats(Switchyard__DecisionCacheStats *s);
/* Frees every decision (at exit). */
void dcache_fini(void);

#endif
