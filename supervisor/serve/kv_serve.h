/*
 * Workers' KV requests (kv_serve.c): KV_REQUEST and KV_VALUE frames from a
 * worker process, answered from the supervisor's store through the bindings
 * of the version it runs; the counts of what was served; and the KV
 * generations each request carries to the shim's read cache (docs/kv.md).
 */
#ifndef SY_SERVE_KV_SERVE_H
#define SY_SERVE_KV_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "kv_wire.h"
#include "switchyard.pb-c.h"

struct proc;

/* A KV_REQUEST frame from a worker process: checked against the bindings
 * of the version it runs and answered with one KV_RESPONSE at once, or,
 * for a put whose value follows in KV_VALUE frames, once it is whole. */
void kv_worker_request(struct proc *p, const struct sy_frame *f);
/* A KV_VALUE frame from a worker process: part of the value of the put it
 * announced; anything else is a protocol violation that kills it. */
void kv_worker_value(struct proc *p, const struct sy_frame *f);
/* p's channel closed: drops the value it was sending, if any. */
void kv_channel_closed(struct proc *p);
/* Drops every upload and counter (at exit). */
void kv_serve_fini(void);

/* Bytes kv_gens_append() may write: a field header and one KvGen of at
 * most 78 bytes per binding. */
#define KV_GENS_MAX_BINDINGS 64
#define KV_GENS_WIRE_MAX (3 + KV_GENS_MAX_BINDINGS * 78)
/* Appends to a packed Request its kv_gens field: the generation of each
 * KV binding of the version p runs, for the shim's read cache (docs/kv.md).
 * Always written (empty without bindings), replacing any kv_gens the
 * Request had. Returns the bytes written to buf (KV_GENS_WIRE_MAX at
 * most). */
size_t kv_gens_append(const struct proc *p, uint8_t *buf);

/* The KV requests served for worker "ns/name", one KvCount per KV
 * namespace, *n of them; the array is malloc'd (free() it), its entries
 * point into counters that change with the next KV request. NULL with *n
 * 0 when there are none, or no memory. */
Switchyard__KvCount **kv_stats(const char *worker, size_t *n);

#endif
