/*
 * The KV protocol's limits, operations and answer codes (KvRequest and
 * KvResponse in switchyard.proto, docs/kv.md), for every program that
 * speaks it: the supervisor's store and request path, yardctl's `kv`, the
 * router's /metrics and the worker shim. workershim.h is installed alone,
 * so it repeats the limits and codes tenants see; the shim's build checks
 * them against these (worker-shim/kv.c).
 */
#ifndef SY_KV_WIRE_H
#define SY_KV_WIRE_H

/* Bytes of a key: LMDB's compiled-in key limit. */
#define SY_KV_KEY_MAX 511
/* Bytes of a value: larger than a frame, so values over SY_KV_INLINE_MAX
 * (frame.h) travel in KV_VALUE frames, and through yardctl as a passed
 * descriptor. */
#define SY_KV_VALUE_MAX (1024u * 1024u)

/* KvRequest.op; KvCount.ops is indexed by it. */
enum {
	SY_KV_OP_GET = 1,
	SY_KV_OP_PUT = 2,
	SY_KV_OP_DELETE = 3,
	SY_KV_OP_LIST = 4
};

/* KvResponse.code: 0, or one of these, which are the numbers of the
 * shim's WS_E* codes a tenant gets back. */
enum {
	SY_KV_OK = 0,
	SY_KV_ENOTFOUND = -1,  /* no such key, or it expired */
	SY_KV_EDENIED = -7,    /* no such binding, or a write through a
	                        * read-only one */
	SY_KV_EINVAL = -9,     /* a field out of its limits */
	SY_KV_ENOMEM = -10,    /* the supervisor is out of memory */
	SY_KV_EINTERNAL = -13  /* the store failed (full, broken) */
};

#endif
