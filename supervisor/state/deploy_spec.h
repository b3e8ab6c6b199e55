/*
 * What a deploy may ask for (deploy_spec.c): the environment, KV bindings,
 * tags, tail consumers, service bindings and dispatch namespaces of a
 * struct deploy_spec, checked the same for the
 * control socket and [deploy] sections before anything touches the disk.
 */
#ifndef SY_STATE_DEPLOY_SPEC_H
#define SY_STATE_DEPLOY_SPEC_H

#include <stddef.h>

#include "state/config.h"
#include "state/registry.h"

/*
 * Checks spec's environment, KV bindings (parsed into kv, REG_MAX_KV
 * entries), tags, tail consumers, service bindings (parsed into svc,
 * SY_MAX_SERVICES entries) and dispatch namespaces for worker label
 * ("ns/name"): syntax, counts, duplicates, no worker its own tail
 * consumer. 0, or -1 with err ("deploy acme/shop: tag a b: invalid tag
 * ..."), never quoting an environment value (it may be a secret).
 */
int deploy_spec_check(const char *label, const struct deploy_spec *s,
                      struct kv_binding *kv, struct service_binding *svc,
                      char *err, size_t errlen);
/*
 * Checks one "KEY=VALUE" environment entry: KEY is 1-128 of [A-Za-z0-9_]
 * not starting with a digit, the whole entry fits SY_ENV_ENTRY_MAX, and the
 * value is UTF-8 without control characters. Returns NULL if valid, or a
 * reason ("invalid variable name ...").
 */
const char *deploy_env_problem(const char *kv);
/* One entry of a spec: NULL if valid, else why ("invalid tag ..."). */
const char *deploy_tag_problem(const char *tag);
const char *deploy_kv_problem(const char *binding);
/* self is "ns/name" of the worker deployed. */
const char *deploy_tail_problem(const char *consumer, const char *self);
/* "NAME=NS/WORKER"; a dispatch namespace. */
const char *deploy_service_problem(const char *binding);
const char *deploy_dispatch_ns_problem(const char *ns);
/* Frees what an owned spec (a [deploy] section's) holds. */
void deploy_spec_free(struct deploy_spec *s);

#endif
