/*
 * Per-request limits (limits.c): CPU time, wall time and subrequests. The
 * plan of the worker serving a call sets them, a ws_dispatch caller may
 * lower them, and the supervisor enforces them: a timer per running call watches the
 * serving process's CPU time and the wall clock, and the subrequest
 * tokens are spent in call_request().
 */
#ifndef SY_SERVE_LIMITS_H
#define SY_SERVE_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include "serve/call.h"

/* Bytes limits_append() may add to a Request. */
#define LIMITS_WIRE_MAX 20

/* c's effective limits: pn's, each lowered by asked's when that is not 0
 * (asked may be NULL). */
void limits_set(struct call *c, const struct plan *pn,
                const Switchyard__Limits *asked);
/* Appends c's limits to a packed Request as its `limits` field, every
 * value written even when 0 (the Request must not have the field yet).
 * Returns the bytes written to buf (LIMITS_WIRE_MAX at most). */
size_t limits_append(const struct call *c, uint8_t *buf);
/* Bytes limits_base_append() adds to a Request. */
#define LIMITS_BASE_WIRE_MAX 11
/* Appends Request.cpu_base_ns: p's CPU clock where its next request's
 * CPU time starts (its mark), or 0 when p is metered by a perf counter,
 * whose readings are not the process's clock. Returns the bytes
 * written. */
size_t limits_base_append(const struct proc *p, uint8_t *buf);
/* Opens the meter of p's CPU time, p->pid just spawned under plan pn: a
 * task-clock perf counter (p->cpufd) when pn's cpu_meter asks for one (or,
 * for auto, its cpu_ms is small) and the host allows it (a refusal is
 * logged once), else its CPU clock (p->cpuclock), which lags up to a
 * scheduler tick. */
void limits_meter_open(struct proc *p, const struct plan *pn);
/* Closes what limits_meter_open() opened; before p is freed. */
void limits_meter_close(struct proc *p);
/* CPU nanoseconds p has used since its meter was opened (its counter) or
 * since it started (its clock), or -1 if neither can be read. Only
 * differences between two readings of the same p mean anything. */
int64_t limits_cpu_ns(const struct proc *p);
/* p said HELLO: from now on its CPU time is its calls'. A process's clock
 * is read when it is ready and when each call completes, not when a call
 * starts: an idle process uses none, and whatever it does between calls
 * is the next call's. */
void limits_cpu_mark(struct proc *p);
/* A call p holds is complete: its share of the CPU time p used since its
 * last completion, in microseconds. A process holding one call gets it
 * all; a dispatch process that decided several per wake-up has them
 * complete together, so what it used is split evenly between the calls
 * it holds, and whatever a share missed goes to the next ones. */
uint64_t limits_cpu_share_us(struct proc *p);
/* c just started on c->proc: arms its check. */
void limits_start(struct call *c);
/* How long a process may go on with a canceled request (ms). */
#define LIMITS_CANCEL_GRACE_MS 1000
/* c was canceled while c->proc holds it: its limit check stops, and the
 * process is killed unless it ends c within LIMITS_CANCEL_GRACE_MS. */
void limits_cancel_grace(struct call *c);
/* c's process is done with it, or gone: disarms its check. */
void limits_stop(struct call *c);
/* Spends one of parent's subrequest tokens: 0, or -1 when none is left
 * (the violation is recorded against the process, why names it). */
int limits_subrequest(struct call *parent, struct proc *op, char *why,
                      size_t whylen);

#endif
