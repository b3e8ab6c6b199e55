/*
 * The supervisor's configuration file (config.c): an INI file read with
 * libinih into a struct sup_config, every key range-checked, every mistake
 * reported as "FILE:LINE: what is wrong". Reading it changes nothing else:
 * the caller decides what to apply (main.c at start, ctl_reload.c later).
 */
#ifndef SY_STATE_CONFIG_H
#define SY_STATE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"
#include "jail/spawn.h"

/* A plan's cpu_meter (serve/limits.c, docs/limits.md). */
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
	/* Per request (serve/limits.c); a ws_dispatch caller may lower them: */
	uint32_t cpu_ms;           /* CPU time (default 50) */
	uint32_t wall_ms;          /* wall time from its start (30000) */
	uint32_t subrequests;      /* ws_dispatch/ws_fetch calls (50) */
	uint32_t cpu_meter;        /* SY_CPU_METER_*: how CPU time is read */
	/* Requests one process of the dispatch worker holds at once (1): it
	 * decides them one after another, all it was sent per wake-up; other
	 * workers always hold one, for exact per-request accounting. */
	uint32_t concurrency;
	/* The jail of each process (every one has its own cgroup): memory_mb
	 * (default 128), cpu_pct (100), pids (32), tmp_mb (16), nofile (256),
	 * seccomp ("worker"). */
	struct spawn_limits jail;
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
	char **services;         /* "NAME=NS/WORKER", at most SY_MAX_SERVICES */
	size_t nservices;
	char **dispatch_ns;      /* dispatch namespaces, at most
	                          * SY_MAX_DISPATCH_NS */
	size_t ndispatch_ns;
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
	char *egress_policy;   /* ws_fetch's policy file; NULL: none */
	struct netpolicy *egress; /* that file, parsed (state/netpolicy.h);
	                        * NULL: every fetch is denied */
	uint32_t kv_max_mb;    /* the KV store's map size (state/kv.h) */
	uint32_t warm_processes; /* fresh processes kept ready, over all
	                        * workers, for those most recently used
	                        * whose last process was stopped for
	                        * idleness (serve/pool.c); 0: none;
	                        * default 8 */
	/* [router] */
	uint64_t max_header_bytes, max_body_bytes;
	uint64_t client_body_buffer_bytes; /* of a body kept in memory */
	uint32_t header_timeout_ms, idle_timeout_ms, max_connections;
	uint32_t body_timeout_ms;  /* a whole request body, from its head */
	struct plan *plans;
	size_t nplans;
	struct boot_deploy *boot;
	size_t nboot;
};

/* Reads and validates path, the egress policy it names included. Returns a
 * config, or NULL with a message naming the file, line and key in err. */
struct sup_config *config_load(const char *path, char *err, size_t errlen);
void config_free(struct sup_config *c);
/* The plan called name ("" or NULL: "default"), or NULL. */
const struct plan *config_plan(const struct sup_config *c, const char *name);

#endif
