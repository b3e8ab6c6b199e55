/*
 * kv.c: the KV store, an LMDB environment under state_dir/kv with one named
 * database per KV namespace. A library: it never logs, never exits, and
 * knows nothing about workers or bindings (serve/kv_serve.c does).
 *
 * Each stored value is an 8-byte expiration (absolute unix seconds, 0 =
 * never, host byte order) followed by the value's bytes. Expired entries are
 * invisible to kv_get and kv_list and deleted lazily by kv_get.
 *
 * Calls return 0, or a negative errno: -ENOENT (no such key or namespace),
 * -EINVAL (a name, key (sy_kv_key_valid, proto/names.h) or value out of
 * limits), -ENOSPC (the map is full: writes fail, reads go on), -EMLINK
 * (KV_MAX_NS namespaces exist already), -EIO (anything else, with err
 * filled where there is one).
 */
#ifndef SY_STATE_KV_H
#define SY_STATE_KV_H

#include <stddef.h>
#include <stdint.h>

#include "kv_wire.h"

/* Keys and values: what the wire carries (SY_KV_KEY_MAX, SY_KV_VALUE_MAX
 * in proto/kv_wire.h). */
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

/* The namespaces the store holds (written once and not dropped), in byte
 * order, into out (released with kv_keys_free; no cursor). */
int kv_namespaces(struct kv *kv, struct kv_keys *out);
/* 1 if namespace ns exists in the store, else 0. */
int kv_has_ns(struct kv *kv, const char *ns);
/* Deletes namespace ns, its keys and its name, in one transaction: it no
 * longer counts against KV_MAX_NS. -ENOENT when it does not exist. */
int kv_drop(struct kv *kv, const char *ns);

#endif
