/*
 * What registry.c (the table of workers and its durable changes) shares
 * with registry_deploy.c (what a deploy checks and builds). Nothing else
 * includes this.
 */
#ifndef SY_STATE_REGISTRY_STATE_H
#define SY_STATE_REGISTRY_STATE_H

#include <stddef.h>

#include "state/config.h"
#include "state/registry.h"

/* The configuration registry_init was given. */
const struct sup_config *registry_conf(void);
/* Appends v (taken over) to ns/name as its current version under plan p,
 * with KV bindings kv[0, nkv), and records it; on failure (-1 with err)
 * nothing visible has changed. The new version number. */
int registry_commit(const char *ns, const char *name, struct version *v,
                    const struct plan *p, const struct kv_binding *kv,
                    size_t nkv, char *err, size_t errlen);
/* w's current version changed and is recorded: the hook runs. */
void registry_changed(struct worker *w);
/* The KV namespaces kv[0, n) must be ones the store can hold (bindings.h,
 * registry_kv_room): 0, or -1 with err ("WHAT ns/name: kv B=NS: ..."). */
int registry_kv_room_check(const char *what, const char *ns,
                           const char *name, const struct kv_binding *kv,
                           size_t n, char *err, size_t errlen);

#endif
