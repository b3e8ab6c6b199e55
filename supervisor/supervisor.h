/*
 * Contracts between the supervisor's modules. Each block names the file that
 * implements it. The supervisor is single-threaded around one ev_loop.
 */
#ifndef SY_SUPERVISOR_H
#define SY_SUPERVISOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ev.h"

#define SY_NAME_MAX 64 /* ns and worker names, NUL included */

/* ---- config.c: the INI file (libinih) ---- */

/* A plan's cpu_meter (limits.c, docs/limits.md). */
#define SY_CPU_METER_AUTO 0  /* perf when cpu_ms < SY_CPU_METER_AUTO_MS */
#define SY_CPU_METER_CLOCK 1 /* the process CPU clock: lags a tick, free */
#define SY_CPU_METER_PERF 2  /* a task-clock counter: exact, costs switches */
#define SY_CPU_METER_AUTO_MS 40 /* a 4 ms tick is within 10 % from here */

struct plan {
	char name[SY_NAME_MAX];
	uint32_t instances;        /* processes per worker, >= 1 */
	uint32_t queue;            /* waiting requests per worker */
	uint32_t queue_timeout_ms; /* longest wait for a process */
	uint32_t idle_timeout_s;   /* stop a process idle this long */
	/* Per request (limits.c); a ws_dispatch caller may lower them: */
	uint32_t cpu_ms;           /* CPU time (default 50) */
	uint32_t wall_ms;          /* wall time from its start (30000) */
	uint32_t subrequests;      /* ws_dispatch/ws_fetch calls (50) */
	uint32_t cpu_meter;        /* SY_CPU_METER_*: how CPU time is read */
	/* The jail of each process (every one has its own cgroup): */
	uint32_t memory_mb;        /* memory cap, MiB (default 128) */
	uint32_t cpu_pct;          /* CPU share, 100 = one CPU (default 100) */
	uint32_t pids;             /* processes and threads (default 32) */
	uint32_t tmp_mb;           /* size of its /tmp, MiB; 0 = none (16) */
	uint32_t nofile;           /* open descriptors (default 256) */
	char seccomp[SY_NAME_MAX]; /* profile: seccomp_dir/NAME.policy, and
	                            * NAME-dynamic.policy for dynamically
	                            * linked executables (default "worker") */
};

/*
 * What a deploy sets besides the executable, the same whether it comes from
 * yardctl deploy (control socket) or a [deploy] section. Every string is as
 * given; registry_deploy validates them all before touching the disk.
 */
struct deploy_spec {
	char plan[SY_NAME_MAX];  /* "" = "default" */
	char **env;              /* "K=V" */
	size_t nenv;
	char **kv;               /* "BINDING=KVNS" or "BINDING=KVNS:ro" */
	size_t nkv;
	char **tags;             /* [A-Za-z0-9_.:-]{1,64}, at most SY_MAX_TAGS */
	size_t ntags;
	char **tail_consumers;   /* "ns/name", never the worker itself */
	size_t ntail_consumers;
};

/* A [deploy NS/NAME] section: deployed at start when the file's content
 * or spec differs from the worker's current version. */
struct boot_deploy {
	char ns[SY_NAME_MAX], name[SY_NAME_MAX];
	char *exe;   /* absolute path */
	struct deploy_spec spec; /* owned: freed with the config */
};

struct sup_config {
	char *path;            /* the file read, absolute */
	char **listen;         /* "ip:port" strings */
	size_t nlisten;
	char *admin_listen;    /* admin HTTP "ip:port"; NULL: none */
	char *state_dir, *run_dir, *control_socket;
	char dispatch_ns[SY_NAME_MAX], dispatch_name[SY_NAME_MAX];
	char *router_user;
	char *router_path;     /* switchyard-router executable; default: next
	                        * to the supervisor's own executable */
	int log_level;         /* SY_LOG_* */
	uid_t uid_min, uid_max; /* workers' uids (and gids), one per worker;
	                        * default 100000-165535, never 0 */
	char *seccomp_dir;     /* profiles; default: policies/seccomp next to
	                        * the build dir, else /etc/switchyard/seccomp */
	/* [router] */
	uint64_t max_header_bytes, max_body_bytes;
	uint32_t header_timeout_ms, idle_timeout_ms, max_connections;
	struct plan *plans;
	size_t nplans;
	struct boot_deploy *boot;
	size_t nboot;
};

/* Reads and validates path. Returns a config, or NULL with a message naming
 * the file, line and key in err. */
struct sup_config *config_load(const char *path, char *err, size_t errlen);
void config_free(struct sup_config *c);
/* The plan called name ("" or NULL: "default"), or NULL. */
const struct plan *config_plan(const struct sup_config *c, const char *name);

/* ---- registry.c: dispatch namespaces, workers, versions (in memory) ---- */

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
};

#define SY_MAX_TAGS 8             /* per worker, as Cloudflare */

struct pool;                      /* pool.c */

struct worker {
	char ns[SY_NAME_MAX], name[SY_NAME_MAX];
	struct version *versions;     /* oldest first */
	size_t nversions;
	size_t current;               /* index of the version serving requests */
	const struct plan *plan;      /* of the current version */
	uid_t uid;                    /* its processes' uid and gid, from
	                               * uid_range; recorded, never shared */
	struct pool *pool;            /* NULL until first use */
	struct worker *next;          /* registry's list */
};

/* Loads the state recorded under state_dir (store.c). 0, or -1 with err. */
int registry_init(struct sup_config *c, char *err, size_t errlen);
void registry_free(void);
struct worker *registry_find(const char *ns, const char *name);
/* Iteration in a stable order (by ns, then name). */
struct worker *registry_first(void);
struct worker *registry_next(struct worker *w);
static inline const struct version *worker_version(const struct worker *w)
{
	return &w->versions[w->current];
}
/*
 * Deploys the executable open at exe_fd (not taken over) as the next version
 * of ns/name under spec (borrowed): copies it into state_dir content-addressed
 * (0555, root), records the version durably, then tells the pool
 * (pool_version_changed). Returns the new version number, or -1 with err
 * naming the worker and what was wrong ("deploy acme/shop: not an
 * executable") and errno EINVAL when the request itself was wrong.
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
/* Forgets w (its pool, versions, KV bindings and secrets), keeps its uid
 * retired, records that and removes executables no version uses any more.
 * w is freed even on failure (-1 with err: not recorded). */
int registry_delete(struct worker *w, char *err, size_t errlen);
/* Checks one entry of a spec: NULL if valid, else why ("tag ...: ..."). */
const char *deploy_tag_problem(const char *tag);
const char *deploy_kv_problem(const char *binding);
/* self is "ns/name" of the worker deployed. */
const char *deploy_tail_problem(const char *consumer, const char *self);
/* Frees what an owned spec (a [deploy] section's) holds. */
void deploy_spec_free(struct deploy_spec *s);

/* ---- store.c: durable state under state_dir ---- */

/* Copies exe_fd into state_dir/exe/<sha256> (atomic rename, 0555), filling
 * sha256 and the path (malloc'd). 0 or -1 with err. */
int store_put_exe(const char *state_dir, int exe_fd, char sha256[65],
                  char **path, char *err, size_t errlen);
/* Writes every worker's versions to state_dir/deployments.json atomically
 * (write, fsync, rename, fsync dir). 0 or -1 with err. */
int store_save(const char *state_dir, char *err, size_t errlen);
/* Between store_defer(1) and store_defer(0), store_save only notes that the
 * state changed and store_defer(0) writes it once: the [deploy] sections
 * at start-up, so that booting N workers writes the file once, not N times
 * (O(N^2) bytes and N fsyncs). They are in the configuration file, so a
 * crash before the write loses nothing. store_defer(0) returns as
 * store_save. */
int store_defer(int on, const char *state_dir, char *err, size_t errlen);
/* Loads deployments.json into the registry; a missing file is an empty
 * registry. 0 or -1 with err. */
int store_load(const char *state_dir, char *err, size_t errlen);

/* ---- pool.c: the processes of one worker and its queue ---- */

struct pool_stats {
	const char *state;  /* STOPPED, STARTING, RUNNING, BACKOFF */
	uint32_t live, busy, queued;
	uint64_t requests, errors;
	uint64_t started_ms; /* monotonic ms the oldest live process started, 0 */
	uint64_t violations; /* platform rules broken (seccomp, memory, protocol) */
	pid_t pids[64];
	uint32_t npids;
};

/* A new version became current: idle processes of older versions stop now,
 * busy ones after their request. */
void pool_version_changed(struct worker *w);
void pool_stats(const struct worker *w, struct pool_stats *st);
/* Stops every process of w and fails its queued requests. */
void pool_destroy(struct worker *w);

/* ---- control.c: the control socket for yardctl ---- */

/* Listens on path (mode 0660), replacing a stale socket. 0 or -1 with err. */
int control_listen(struct ev_loop *loop, const char *path, char *err,
                   size_t errlen);
/* Closes every control connection and unlinks the socket. */
void control_close(void);

/* ---- main.c ---- */

extern struct sup_config *sup_conf;
extern struct ev_loop *sup_loop;

#endif
