/*
 * kv.c: the KV store, an LMDB environment under state_dir/kv with one named
 * database per KV namespace. A library: it never logs, never exits, and
 * knows nothing about workers or bindings (kvops.c does).
 *
 * Each stored value is an 8-byte expiration (absolute unix seconds, 0 =
 * never, host byte order) followed by the value's bytes. Expired entries are
 * invisible to kv_get and kv_list and deleted lazily by kv_get.
 *
 * Calls return 0, or a negative errno: -ENOENT (no such key or namespace),
 * -EINVAL (a name, key or value out of limits), -ENOSPC (the map is full:
 * writes fail, reads go on), -EMLINK (KV_MAX_NS namespaces exist already),
 * -EIO (anything else, with err filled where there is one).
 */
#ifndef SY_KV_H
#define SY_KV_H

#include <stddef.h>
#include <stdint.h>

#define KV_KEY_MAX 511               /* LMDB's compiled-in key limit */
/* Larger than a frame: values over SY_KV_INLINE_MAX travel in KV_VALUE
 * frames (proto/frame.h) and through yardctl as a passed descriptor. */
#define KV_VALUE_MAX (1024u * 1024u)
#define KV_LIST_MAX 1000             /* keys per kv_list */
#define KV_LIST_BYTES (128u * 1024u) /* key bytes per kv_list */
#define KV_MAX_NS 256                /* named databases in one env */
/* [switchyard] kv_max_mb: the LMDB map, the store's largest size. The map
 * is reserved address space, not memory or disk, so the default leaves
 * room (a million 200-byte values take about 0.4 GiB). */
#define KV_MAX_MB_DEFAULT 4096u
#define KV_MAX_MB_MAX (1024u * 1024u) /* 1 TiB */
#define KV_MAPSIZE_DEFAULT ((uint64_t)KV_MAX_MB_DEFAULT << 20)

struct kv;

/* Opens (creating) the environment in directory dir (made 0700 if
 * missing) with the given map size (0: KV_MAPSIZE_DEFAULT). */
int kv_open(const char *dir, uint64_t mapsize, struct kv **out, char *err,
            size_t errlen);
void kv_close(struct kv *kv);
/* The map size in use, bytes: as asked, or larger if the store on disk
 * already was. */
uint64_t kv_mapsize(struct kv *kv);

/* 1 if key (klen bytes) is a valid key: 1..KV_KEY_MAX bytes, no NUL. */
int kv_valid_key(const char *key, size_t klen);

/* *val is malloc'd (the caller frees it; NULL with *len 0 for an empty
 * value); exp may be NULL. now: unix seconds. */
int kv_get(struct kv *kv, const char *ns, const char *key, int64_t now,
           void **val, size_t *len, int64_t *exp);
/* As kv_get without the copy: *val points into the store's map, valid
 * until kv_view_end(kv), which the caller must call after a 0 return and
 * before any other call on kv. */
int kv_view(struct kv *kv, const char *ns, const char *key, int64_t now,
            const void **val, size_t *len, int64_t *exp);
void kv_view_end(struct kv *kv);
/* expiration: absolute unix seconds, 0 = never. */
int kv_put(struct kv *kv, const char *ns, const char *key, const void *val,
           size_t len, int64_t expiration);
int kv_delete(struct kv *kv, const char *ns, const char *key);

struct kv_item {
	const char *key;
	const void *val;
	size_t len;
	int64_t expiration;
};
/* Writes n items in one transaction: all or none. On -EINVAL, *bad (if
 * not NULL) is the index of the first invalid item. */
int kv_put_batch(struct kv *kv, const char *ns, const struct kv_item *items,
                 size_t n, size_t *bad);

struct kv_keys {
	char **keys; /* n NUL-terminated keys, each malloc'd */
	size_t n;
	char *cursor; /* malloc'd; NULL when no key follows */
};
/* Keys starting with prefix, in byte order, after cursor (NULL or "":
 * from the first), at most limit (0 or more than KV_LIST_MAX: KV_LIST_MAX)
 * and about KV_LIST_BYTES of them. An unknown namespace lists nothing. */
int kv_list(struct kv *kv, const char *ns, const char *prefix,
            const char *cursor, unsigned limit, int64_t now,
            struct kv_keys *out);
void kv_keys_free(struct kv_keys *k);

#endif

/* ---- kvops.c: the store the supervisor keeps, for workers and yardctl */

#include "switchyard.pb-c.h"

struct proc;
struct sy_frame;
struct ctl_reply;

/* [switchyard] kv_max_mb, from config.c: the map size the store is
 * opened with (at its first use; a later change needs a restart). */
void kv_set_max_mb(uint32_t mb);
/* A KV_REQUEST frame from a worker process: checked against the bindings
 * of the version it runs and answered with one KV_RESPONSE at once, or,
 * for a put whose value follows in KV_VALUE frames, once it is whole. */
void kv_worker_request(struct proc *p, const struct sy_frame *f);
/* A KV_VALUE frame from a worker process: part of the value of the put it
 * announced; anything else is a protocol violation that kills it. */
void kv_worker_value(struct proc *p, const struct sy_frame *f);
/* p's channel closed (peer.c): drops the value it was sending, if any. */
void kv_channel_closed(struct proc *p);
/* yardctl kv get|put|delete|list|import (args[0]), KVNS in args[1]. */
void ctl_kv(const Switchyard__CtlRequest *req, int fd, struct ctl_reply *rep);
/* Closes the store if it was opened (at exit; optional). */
void kv_shutdown(void);

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
/* KvRequest.op (proto/switchyard.proto) */
enum { KV_OP_GET = 1, KV_OP_PUT = 2, KV_OP_DELETE = 3, KV_OP_LIST = 4 };

/* kvgen.c: the generation of KV namespace ns (changes with every write
 * to it), a committed write to ns, a request of p's through a binding to
 * ns (op is valid), and freeing those counters at shutdown. */
uint64_t kv_gen_of(const char *ns);
void kv_gen_bump(const char *ns);
void kv_count_op(const struct proc *p, const char *ns, uint32_t op);
void kv_counts_free(void);
/* The KV requests served for worker "ns/name", one KvCount per KV
 * namespace, *n of them; the array is malloc'd (free() it), its entries
 * point into counters that change with the next KV request. NULL with *n
 * 0 when there are none, or no memory. */
Switchyard__KvCount **kv_stats(const char *worker, size_t *n);
