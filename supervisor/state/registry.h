/*
 * The dispatch namespaces (registry.c): every deployed worker and its
 * versions, in memory, recorded durably by store.c before any change is
 * visible. The registry knows nothing of processes: the request path hears
 * of its changes through the hooks it was given.
 */
#ifndef SY_STATE_REGISTRY_H
#define SY_STATE_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "names.h"
#include "state/bindings.h"
#include "state/config.h"

#define REG_MAX_WORKERS 65536 /* refuse deploys beyond this many workers */
#define REG_MAX_ENV 256	      /* "K=V" entries per version */
#define REG_MAX_TAIL 8        /* tail consumers per version */
#define REG_MAX_VERSIONS 20   /* kept per worker; older ones are pruned */

struct version {
	uint32_t number;          /* 1, 2, ... per worker */
	char sha256[65];          /* hex content hash of the executable */
	char *exe_path;           /* content-addressed copy in state_dir */
	int64_t deployed_at;      /* unix seconds */
	char plan[SY_NAME_MAX];
	char **env;               /* "K=V" strings given at deploy */
	size_t nenv;
	char **tags;              /* deploy --tag, at most SY_MAX_TAGS */
	size_t ntags;
	char **tail_consumers;    /* "ns/name" workers fed its events */
	size_t ntail_consumers;
	/* Whom it may call (bindings.h): its service bindings, at most
	 * SY_MAX_SERVICES, and the dispatch namespaces whose workers it may
	 * call with context, at most SY_MAX_DISPATCH_NS. */
	struct service_binding *services;
	size_t nservices;
	char **dispatch_ns;
	size_t ndispatch_ns;
};

struct pool;                      /* serve/pool.c's: opaque here */

struct worker {
	char ns[SY_NAME_MAX], name[SY_NAME_MAX];
	struct version *versions;     /* oldest first */
	size_t nversions;
	size_t current;               /* index of the version serving requests */
	const struct plan *plan;      /* of the current version */
	uid_t uid;                    /* its processes' uid and gid, from
	                               * uid_range; recorded, never shared */
	struct pool *pool;            /* its processes, NULL until first use;
	                               * the request path's, never touched
	                               * here */
	struct worker *next;          /* registry's list */
};

/*
 * What the request path must hear of the registry's changes; main.c wires
 * them to the pools. Either may be NULL.
 */
struct registry_hooks {
	/* w's current version changed (deploy, rollback, redeploy): its
	 * processes of older versions must go. Called once the change is
	 * recorded. */
	void (*version_changed)(struct worker *w);
	/* w is about to be forgotten (delete, registry_free): whatever
	 * w->pool holds must go, and w->pool be NULL on return. */
	void (*removing)(struct worker *w);
};

/* Loads the state recorded under c's state_dir (store.c) and keeps c and
 * hooks (both borrowed until registry_free). 0, or -1 with err. */
int registry_init(struct sup_config *c, const struct registry_hooks *hooks,
                  char *err, size_t errlen);
void registry_free(void);
struct worker *registry_find(const char *ns, const char *name);
/* Iteration in a stable order (by ns, then name). */
struct worker *registry_first(void);
struct worker *registry_next(struct worker *w);
static inline const struct version *worker_version(const struct worker *w)
{
	return &w->versions[w->current];
}
/* w's version number (any kept one, not only the current: a process runs
 * the version it was started with), or NULL when it is no longer kept. */
const struct version *registry_version(const struct worker *w,
                                       uint32_t number);
/*
 * Deploys the executable open at exe_fd (not taken over) as the next version
 * of ns/name under spec (borrowed): copies it into state_dir content-addressed
 * (0555, root), records the version durably, then calls the version_changed
 * hook. Returns the new version number, or -1 with err naming the worker and
 * what was wrong ("deploy acme/shop: not an executable") and errno EINVAL
 * when the request itself was wrong (bad name, unknown plan, not an
 * executable, bad environment), a system errno otherwise.
 */
int registry_deploy(const char *ns, const char *name, int exe_fd,
                    const struct deploy_spec *spec, char *err, size_t errlen);
/* Same for a path; skips (returns the current version) when the content and
 * the whole spec are already the current version's. */
int registry_deploy_path(const char *ns, const char *name, const char *path,
                         const struct deploy_spec *spec, char *err,
                         size_t errlen);
/* Makes version number of w current again, recorded, its processes
 * replaced as by a deploy. 0, or -1 with err (errno ENOENT: no such
 * version). */
int registry_rollback(struct worker *w, uint32_t number, char *err,
                      size_t errlen);
/* Deploys w's current version again as a new version (a secret changed:
 * its processes must be replaced). The new number, or -1 with err. */
int registry_redeploy(struct worker *w, char *err, size_t errlen);
/* Forgets w (its pool through the removing hook, versions, KV bindings
 * and secrets), keeps its uid retired, records that and removes
 * executables no version uses any more. w is freed even on failure (-1
 * with err: not recorded). */
int registry_delete(struct worker *w, char *err, size_t errlen);

/* ---- for store.c, which rebuilds the registry at start ---- */

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
/* The retired uids. */
const uid_t *registry_retired(size_t *n);
/* Frees what a version owns (path, env); safe on a zeroed version. */
void version_clear(struct version *v);

#endif
