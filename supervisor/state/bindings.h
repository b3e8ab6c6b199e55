/*
 * What a version may reach besides its own code (bindings.c): the KV
 * namespaces it binds (docs/kv.md), the workers its service bindings name,
 * and the dispatch namespaces whose workers it may call as a dispatch
 * worker (docs/security.md, "What a tenant can reach"). All are part of
 * the version: declared at deploy, recorded in deployments.json with it,
 * kept by rollback, and looked up by the version a process runs, never by
 * anything a worker says.
 */
#ifndef SY_STATE_BINDINGS_H
#define SY_STATE_BINDINGS_H

#include <stddef.h>
#include <stdint.h>

#include "names.h"

#define REG_MAX_KV 64         /* KV bindings per version */

struct version;

/* ---- KV bindings: kept beside the versions, keyed by worker and version
 * number, saved with them ("kv": [{name, ns, ro}]) ---- */

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
/* 1 if the bindings of worker "ns/name" version are, in order, the n
 * specs ("NAME=KVNS[:ro]"). */
int registry_kv_same(const char *worker, uint32_t version, char *const *specs,
                     size_t n);
/* Forgets every worker's bindings (registry_free). */
void registry_kv_free(void);
/* The workers whose current version binds KV namespace ns, as "a/b, c/d"
 * in buf; returns how many. O(workers x bindings). */
size_t registry_kv_users(const char *ns, char *buf, size_t size);
/*
 * Whether the KV store can hold namespaces ns[0, n) besides every one it
 * holds or a current version binds (a bound namespace is created by its
 * first write): at most KV_MAX_NS in all. 0, or -1 with *bad the index of
 * the first that cannot exist and why ("the KV store has 256 namespaces
 * ..."), also when the store cannot be opened. Opens the store only when
 * some ns is not bound already.
 */
int registry_kv_room(const char *const *ns, size_t n, size_t *bad, char *why,
                     size_t whylen);

/* ---- service bindings and dispatch namespaces: in struct version ---- */

/* deploy --service NAME=NS/WORKER: the worker a version may call, as
 * http://NAME.worker/ (ws_fetch) or ws_dispatch(NS, WORKER). */
struct service_binding {
	char name[SY_NAME_MAX];   /* sy_service_name_valid; compared without
	                           * case, as a host name */
	char ns[SY_NAME_MAX], worker[SY_NAME_MAX];
};

/* Parses "NAME=NS/WORKER" into b. NULL if valid, or why. */
const char *registry_service_parse(const char *spec, struct service_binding *b);
/* "NAME=NS/WORKER" into buf (3 * SY_NAME_MAX bytes hold any). */
void registry_service_text(const struct service_binding *b, char *buf,
                           size_t size);

/* How a version may call a worker (call_bound). */
enum bind_via {
	BIND_NONE = 0,    /* it may not: the call is denied */
	BIND_DISPATCH,    /* ns is one of its dispatch namespaces: the call
	                   * carries the context the caller set */
	BIND_SERVICE,     /* ns/worker is a service binding's target: the
	                   * call carries no context */
};
/* The rule every call from a worker is checked against: v may call
 * ns/worker if ns is one of its dispatch namespaces, or ns/worker is the
 * target of one of its service bindings. v NULL (a version no longer
 * kept): BIND_NONE. O(bindings). */
enum bind_via registry_call_bound(const struct version *v, const char *ns,
                                  const char *worker);
/* v's service binding called name (without case), or NULL. */
const struct service_binding *registry_service_find(const struct version *v,
                                                    const char *name);

#endif
