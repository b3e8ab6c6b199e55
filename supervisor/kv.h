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
 * -EINVAL (a name, key or value out of limits), -ENOSPC (the map is full),
 * -EIO (anything else, with err filled where there is one).
 */
#ifndef SY_KV_H
#define SY_KV_H

#include <stddef.h>
#include <stdint.h>

#define KV_KEY_MAX 511               /* LMDB's compiled-in key limit */
#define KV_VALUE_MAX (200u * 1024u)  /* fits one frame with its key */
#define KV_LIST_MAX 1000             /* keys per kv_list */
#define KV_LIST_BYTES (128u * 1024u) /* key bytes per kv_list */
#define KV_MAX_NS 256                /* named databases in one env */
#define KV_MAPSIZE_DEFAULT (1024ull * 1024 * 1024)

struct kv;

/* Opens (creating) the environment in directory dir (made 0700 if
 * missing) with the given map size (0: KV_MAPSIZE_DEFAULT). */
int kv_open(const char *dir, uint64_t mapsize, struct kv **out, char *err,
            size_t errlen);
void kv_close(struct kv *kv);

/* 1 if key (klen bytes) is a valid key: 1..KV_KEY_MAX bytes, no NUL. */
int kv_valid_key(const char *key, size_t klen);

/* *val is malloc'd (the caller frees it; NULL with *len 0 for an empty
 * value); exp may be NULL. now: unix seconds. */
int kv_get(struct kv *kv, const char *ns, const char *key, int64_t now,
           void **val, size_t *len, int64_t *exp);
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

/* A KV_REQUEST frame from a worker process: checked against the bindings
 * of the version it runs and answered with one KV_RESPONSE at once. */
void kv_worker_request(struct proc *p, const struct sy_frame *f);
/* yardctl kv get|put|delete|list|import (args[0]), KVNS in args[1]. */
void ctl_kv(const Switchyard__CtlRequest *req, int fd, struct ctl_reply *rep);
/* Closes the store if it was opened (at exit; optional). */
void kv_shutdown(void);
