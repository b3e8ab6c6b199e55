/*
 * Control groups for workers (cgroup.c): one cgroup per worker process (or
 * pool slot), limits written by the supervisor before the worker runs, the
 * child joining it itself, and accounting read back (OOM kills, CPU time).
 *
 * One API over both hierarchies:
 *   v2  one unified tree: <mount>/<parent>/<root>/<name>, controllers cpu,
 *       memory and pids enabled in the subtree_control of <parent> and
 *       <root>. <parent> defaults to the supervisor's own cgroup (the
 *       delegation model: run it with systemd's Delegate=yes); if that
 *       cgroup holds processes, the supervisor moves itself into the leaf
 *       <parent>/<root>.supervisor first ("no internal processes").
 *   v1  one tree per controller: <mount>/{cpu,cpuacct,memory,pids}/<parent>/
 *       <root>/<name>; <parent> defaults to the hierarchy's root.
 *       cpu,cpuacct mounted together count once.
 *
 * Parent-side functions allocate and fill a caller-owned error buffer with
 * the file and the errno ("cgroup: write /sys/fs/cgroup/pids/x/pids.max
 * \"64\": Invalid argument"). cgroup_enter_self() is the only child-side
 * call.
 */
#ifndef SY_JAIL_CGROUP_H
#define SY_JAIL_CGROUP_H

#include <stddef.h>
#include <stdint.h>

#define CG_MAX_DIRS 4 /* v1: cpu, cpuacct, memory, pids */

/* Controllers a directory stands for. */
#define CG_CPU 0x1u
#define CG_CPUACCT 0x2u
#define CG_MEMORY 0x4u
#define CG_PIDS 0x8u

struct cg_limits {
	uint64_t memory_bytes;  /* memory cap, no swap; 0 = none */
	uint32_t cpu_quota_pct; /* CPU share: 100 = one CPU; 0 = none */
	uint32_t pids_max;      /* processes and threads; 0 = none */
};

/* One worker's cgroup. Zero-initialise; cgroup_create fills it. */
struct cg_handle {
	int version;            /* 1 or 2; 0 = empty */
	unsigned int ndirs;     /* v2: 1; v1: one per hierarchy */
	struct cg_dir {
		char *path;     /* absolute directory (owned) */
		unsigned int ctl; /* CG_* bits this directory stands for */
		int procs_fd;   /* where a process joins: v1 tasks (see
		                 * cgroup_enter_self), v2 cgroup.procs;
		                 * O_WRONLY|O_CLOEXEC, or -1 */
	} dir[CG_MAX_DIRS];
};

struct sy_cgroups;

/*
 * Finds a usable hierarchy under /sys/fs/cgroup (v2 if cgroup.controllers
 * exists there, else v1 with memory, pids and cpu) and creates the root
 * directory root_name ("switchyard") in it. Returns NULL with err when
 * neither is usable, so the supervisor can refuse to start (or run with
 * --no-cgroups).
 */
struct sy_cgroups *cgroup_init(const char *root_name, char *err,
                               size_t errlen);
/*
 * Same with everything injectable (tests): mount is the cgroup mount point,
 * version 0 (detect), 1 or 2; parent is the cgroup under which root_name is
 * made ("/" for the hierarchy root; NULL for the default described above).
 */
struct sy_cgroups *cgroup_init_at(const char *mount, int version,
                                  const char *parent, const char *root_name,
                                  char *err, size_t errlen);
int cgroup_version(const struct sy_cgroups *cg);
/* Removes the root directories this process created (empty ones only) and
 * frees cg. Safe on NULL. */
void cgroup_fini(struct sy_cgroups *cg);
/*
 * Removes what a supervisor killed before its cgroup_fini left: the
 * siblings of cg's roots named prefix followed by the pid of a process
 * that no longer exists ("switchyard-1234"), with the cgroups in them
 * that no process uses. Returns how many roots went.
 */
int cgroup_sweep_stale(const struct sy_cgroups *cg, const char *prefix);

/*
 * Creates (or reuses: an existing directory is taken over and its limits
 * rewritten, so pool slots can keep theirs) the cgroup name under the root,
 * writes lim, and opens each procs_fd for the child. name is one path
 * component of [A-Za-z0-9._-] ("tenants.alice.3"). 0 and *out filled, or -1
 * with err and *out empty (everything created is undone).
 */
int cgroup_create(struct sy_cgroups *cg, const char *name,
                  const struct cg_limits *lim, struct cg_handle *out,
                  char *err, size_t errlen);

/* Rewrites the limits of an existing cgroup (a reused one, whose worker
 * now runs under another plan). 0, or -1 with err. */
int cgroup_set_limits(const struct cg_handle *h, const struct cg_limits *lim,
                      char *err, size_t errlen);

/*
 * Child side, async-signal-safe: moves the calling process into the cgroup
 * by writing "0" to each procs_fd the parent opened (only write(2)). On v1
 * that is the tasks file, which moves the calling thread only: the caller
 * must be a process of one thread, as a freshly cloned child is. Do it first, before the jail's other steps, so the
 * worker never runs outside its limits; the descriptors are close-on-exec.
 * 0, or -1 with errno.
 */
int cgroup_enter_self(const struct cg_handle *h);

/* OOM kills inside the cgroup so far (v2 memory.events oom_kill, v1
 * memory.oom_control oom_kill). 0, or -1 with err. */
int cgroup_oom_killed(const struct cg_handle *h, uint64_t *count, char *err,
                      size_t errlen);
/* CPU time used by every process ever in the cgroup, microseconds (v2
 * cpu.stat usage_usec, v1 cpuacct.usage). 0, or -1 with err. */
int cgroup_cpu_usage_us(const struct cg_handle *h, uint64_t *usec, char *err,
                        size_t errlen);
/*
 * Sends SIGKILL to every process in the cgroup, including ones forked
 * meanwhile. v2: cgroup.kill (members are gone shortly after). v1: reads
 * cgroup.procs and kills each pid, again and again until it is empty,
 * for at most about 200 ms. 0, or -1 with err (EBUSY: still populated).
 */
int cgroup_kill(const struct cg_handle *h, char *err, size_t errlen);
/*
 * Closes the handle's descriptors and removes its directories. A directory
 * that is still busy (members not yet exited) stays in the handle, so the
 * call can be repeated later; removed ones are dropped. 0 when everything is
 * gone (the handle is then empty), or -1 with err.
 */
int cgroup_destroy(struct cg_handle *h, char *err, size_t errlen);

#endif
