/*
 * Private interface between registry.c and store.c (and control.c): how the
 * store rebuilds the registry at start, and the limits both enforce on what
 * is deployed. Everything else goes through supervisor.h.
 */
#ifndef SY_STORE_H
#define SY_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "supervisor.h"

#define REG_MAX_WORKERS 65536 /* refuse deploys beyond this many workers */
#define REG_MAX_ENV 256	      /* "K=V" entries per version */
#define REG_MAX_ENV_LEN 8192  /* bytes of one "K=V" entry */
#define REG_MAX_TAIL 8        /* tail consumers per version */
#define REG_MAX_VERSIONS 20   /* kept per worker; older ones are pruned */
#define REG_TAG_MAX 64        /* bytes of one tag */

/*
 * Creates an empty worker ns/name (no versions yet) and inserts it in the
 * registry's sorted order. The caller must give it a version before anything
 * else sees it. Returns it, or NULL with errno (EEXIST, ENOSPC at
 * REG_MAX_WORKERS, ENOMEM).
 */
struct worker *registry_insert(const char *ns, const char *name);
/* Unlinks w from the registry and frees it with its versions; its pool must
 * already be gone. */
void registry_remove(struct worker *w);
/* Records uid as used for ever (its worker was deleted). 0 or -1 (ENOMEM). */
int registry_retire_uid(uid_t uid);
/* The retired uids, for store.c. */
const uid_t *registry_retired(size_t *n);
/* Removes state_dir/exe/ files no version of any worker names; failures
 * are logged (a file left over costs only disk). */
void store_gc_exes(const char *state_dir);
/* Writes text to state_dir/leaf atomically (temporary file 0600, fsync,
 * rename, fsync of the directory). 0 or -1 with err. */
int store_write_file(const char *state_dir, const char *leaf,
                     const char *text, char *err, size_t errlen);
/* Frees what a version owns (path, env); safe on a zeroed version. */
void version_clear(struct version *v);

/*
 * Checks one "KEY=VALUE" environment entry: KEY is 1-128 of [A-Za-z0-9_]
 * not starting with a digit, the whole entry fits REG_MAX_ENV_LEN, and the
 * value is UTF-8 without control characters. Returns NULL if valid, or a
 * reason ("invalid variable name ...").
 */
const char *registry_env_problem(const char *kv);

/* SHA-256 of everything in the regular file open at fd (read with pread from
 * offset 0, so the file offset is untouched), as 64 lowercase hex digits.
 * 0 or -1 with err. */
int store_hash_fd(int fd, char sha256[65], char *err, size_t errlen);

/*
 * KV bindings of a version (docs/kv.md): what a worker may name in
 * ws_kv_*. Kept beside the versions, keyed by worker and version number,
 * and saved with them in deployments.json ("kv": [{name, ns, ro}]).
 */
#define REG_MAX_KV 64 /* bindings per version */

struct kv_binding {
	char name[SY_NAME_MAX]; /* what the worker names: [A-Za-z0-9_], 1-63 */
	char ns[SY_NAME_MAX];   /* the KV namespace (sy_valid_name) */
	int ro;                 /* writes are denied */
};

/* Parses "NAME=KVNS" or "NAME=KVNS:ro" into b. NULL if valid, or why. */
const char *registry_kv_parse(const char *spec, struct kv_binding *b);
/* Records (replacing) the bindings of ns/name's version. 0 or -1 (ENOMEM).
 * n 0 forgets them. */
int registry_kv_set(const char *ns, const char *name, uint32_t version,
                    const struct kv_binding *b, size_t n);
/* The bindings of worker "ns/name" version, or NULL with *n 0. */
const struct kv_binding *registry_kv_get(const char *worker, uint32_t version,
                                         size_t *n);

/*
 * registry_deploy() and registry_deploy_path() set errno to EINVAL when the
 * request itself was wrong (bad name, unknown plan, not an executable, bad
 * environment) and leave a system errno otherwise, so that the control
 * socket can tell "bad input" from "the platform failed".
 */

#endif
