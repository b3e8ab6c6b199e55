/*
 * Checking what a deploy asks for (deployops.c), for registry.c.
 */
#ifndef SY_DEPLOYOPS_H
#define SY_DEPLOYOPS_H

#include <stddef.h>

#include "store.h"
#include "supervisor.h"

/*
 * Checks spec's environment, KV bindings (parsed into kv, REG_MAX_KV
 * entries), tags and tail consumers for worker label ("ns/name"): syntax,
 * counts, duplicates, no worker its own tail consumer. 0, or -1 with err
 * ("deploy acme/shop: tag a b: invalid tag ..."), never quoting an
 * environment value (it may be a secret).
 */
int deploy_spec_check(const char *label, const struct deploy_spec *s,
                      struct kv_binding *kv, char *err, size_t errlen);

#endif
