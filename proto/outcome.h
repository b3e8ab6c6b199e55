/*
 * Outcomes: their Cloudflare names, the HTTP status the platform answers with,
 * and the error page text. Shared by the router (top-level requests) and the
 * worker shim (ws_dispatch results), so a person sees the same words wherever
 * a request failed.
 */
#ifndef SY_OUTCOME_H
#define SY_OUTCOME_H

#include <stddef.h>

#include "switchyard.pb-c.h"

/* "ok", "exception", "exceededCpu", ... as in Cloudflare's tail events;
 * "internalError" for values out of range. Never NULL. */
const char *sy_outcome_name(Switchyard__Outcome o);
/* HTTP status for a platform outcome: exception 500, resource limits 503,
 * scriptNotFound 404, canceled 499, loadShed 503, internalError 502/500. */
int sy_outcome_status(Switchyard__Outcome o);
/* Cloudflare-style error number (1101 exception, 1102 resource limits), or 0. */
int sy_outcome_errno(Switchyard__Outcome o);
/* Standard reason phrase for an HTTP status ("Not Found"); "Unknown" if none. */
const char *sy_status_text(int status);
/*
 * Writes the plain-text error body for an outcome into buf (NUL-terminated,
 * truncated to size): the HTTP status, the outcome, its error number if it
 * has one, and the request's id, e.g.
 *   "500 Internal Server Error: exception (error 1101)\n"
 *   "request id: 3fa9c0d12e4b7a81\n"
 * and nothing else: the page reaches a client, who must not learn which
 * worker failed or how (a signal, a memory cap, CPU used). Those details
 * are in the request's event and the supervisor's log under the same id.
 * request_id may be NULL or "" (no id line). Returns the length written
 * (excluding the NUL).
 */
size_t sy_outcome_page(char *buf, size_t size, Switchyard__Outcome o,
                       const char *request_id);

/*
 * Kinds of platform rules a worker can break, in the order of
 * WorkerStats.violations: the supervisor counts by them, the router's
 * /metrics labels them. A violation's text starts with its kind's name
 * ("syscall ptrace(101)", "memory cap 128 MiB", "protocol: ...",
 * "subrequests: ...", "egress: ...", "binding: ...").
 */
enum sy_viol {
	SY_VIOL_SYSCALL, SY_VIOL_MEMORY, SY_VIOL_PROTOCOL, SY_VIOL_SUBREQUESTS,
	SY_VIOL_EGRESS, SY_VIOL_OTHER, SY_VIOL_BINDING, SY_VIOL_COUNT
};
/* "syscall", ... for a kind; "other" out of range. Never NULL. */
const char *sy_viol_name(unsigned kind);
/* The kind a violation's text names (its first word); SY_VIOL_OTHER
 * when none. */
enum sy_viol sy_viol_kind(const char *what);

#endif
