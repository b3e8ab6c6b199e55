/*
 * Starting one worker process in its jail (spawn.c), and learning how it
 * ended. The supervisor prepares everything that may allocate or fail
 * cleanly (the root, the limits, the compiled seccomp profile, the
 * process's cgroup, the executable's descriptor); the child then runs
 * jail.c's ordered list of steps. A step that fails reports "step N (name)
 * failed: error" back over a close-on-exec pipe before the child exits, so
 * the parent knows exactly what went wrong instead of guessing from an exit
 * status.
 */
#ifndef SY_JAIL_SPAWN_H
#define SY_JAIL_SPAWN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "jail/jail.h"
#include "util.h"
#include "switchyard.pb-c.h"

/* The jail a plan gives each process of a worker (state/config.h embeds
 * it in struct plan). */
struct spawn_limits {
	uint32_t memory_mb;        /* memory cap, MiB (default 128) */
	uint32_t cpu_pct;          /* CPU share, 100 = one CPU (default 100) */
	uint32_t pids;             /* processes and threads (default 32) */
	uint32_t tmp_mb;           /* size of its /tmp, MiB; 0 = none (16) */
	uint32_t nofile;           /* open descriptors (default 256) */
	char seccomp[SY_NAME_MAX]; /* profile: seccomp_dir/NAME.policy, and
	                            * NAME-dynamic.policy for dynamically
	                            * linked executables (default "worker") */
};

struct spawn_opts {
	int jail;      /* 0: --insecure-no-jail (workers run as we do) */
	int cgroups;   /* 0: --no-cgroups (no memory, CPU or pids caps) */
	const char *run_dir;     /* the roots are mounted on run_dir/jail-root */
	const char *seccomp_dir; /* where NAME.policy files are */
	const char *const *profiles; /* the profiles every plan names, */
	size_t nprofiles;            /* compiled at start */
};

/*
 * Sets up what every spawn shares: the cgroup root "switchyard-<pid>", the
 * directory the roots are mounted on (run_dir/jail-root), the seccomp
 * profiles o names (compiled now, so a missing or broken one stops the
 * start, naming the file), and /dev/kmsg, where the kernel reports which
 * syscall a seccomp kill was for. o's strings are kept. 0, or -1 with err.
 */
int spawn_init(const struct spawn_opts *o, char *err, size_t errlen);
/* Removes the cgroups and the root directory; every worker must have been
 * reaped. Safe to call when spawn_init failed or never ran. */
void spawn_fini(void);
/* 1 when workers are jailed (not --insecure-no-jail). */
int spawn_jailed(void);

/* What every spawn of one version under one set of limits shares (its
 * root, limits and profile): built at the first spawn, kept by the
 * worker's pool. */
struct spawn_tmpl;
void spawn_tmpl_free(struct spawn_tmpl *t);

/* One process's cgroup, reused by the next process of the same worker once
 * this one has been reaped. */
struct spawn_slot;

/* Where one spawn's time went, CLOCK_MONOTONIC ns (a measurement:
 * tests/unit/test_spawn.c prints it). */
struct spawn_clock {
	uint64_t begin;              /* spawn_worker was called */
	uint64_t clone;              /* all prepared: clone() is called */
	uint64_t step[JAIL_NCLOCK];  /* the child's: [0] its first
	                              * instruction, [N] jail step N done */
	uint64_t resumed;            /* clone() returned: the child's exec
	                              * has released our memory */
	uint64_t end;                /* its report read: spawn_worker
	                              * returns */
};

struct spawn_req {
	const char *worker;           /* "ns/name", for SWITCHYARD_WORKER */
	const char *exe_path;         /* the version's executable */
	uint32_t version;             /* its number */
	const struct spawn_limits *limits; /* the plan's; a template is
	                               * rebuilt when the pointer changes */
	uint32_t instances;           /* processes the worker may have */
	uid_t uid;                    /* the worker's uid and gid */
	char *const *env;             /* "K=V", its whole environment but */
	size_t nenv;                  /* SWITCHYARD_WORKER; the first of a
	                               * name wins */
	struct spawn_tmpl **tmpl;     /* the pool's cache (NULL at first) */
	struct spawn_clock *clock;    /* NULL, or filled in (measurements) */
};

struct spawn_res {
	pid_t pid;
	int sock;             /* our end of the worker's fd 3 (cloexec) */
	int out, err;         /* read ends of its stdout and stderr (cloexec) */
	struct spawn_slot *slot; /* for spawn_reaped; NULL without cgroups */
};

/*
 * Starts the worker and returns once its exec is past the point of no
 * return (it then either runs or dies of a signal). Returns 0 and fills res,
 * or -1 with the reason in err ("step 6 (rootfs) failed: Operation not
 * permitted", "seccomp profile ...: No such file or directory"), not naming
 * the worker; the failed child has been reaped.
 */
int spawn_worker(const struct spawn_req *req, struct spawn_res *res,
                 char *err, size_t errlen);

/* How a reaped worker process ended, as far as its jail can tell. */
struct spawn_exit {
	Switchyard__Outcome outcome; /* EXCEEDED_MEMORY if its memory cap
	                              * killed it, else EXCEPTION */
	char violation[128];         /* "syscall ptrace(101)", "seccomp
	                              * (syscall unknown)", "memory cap 128
	                              * MiB", or "" */
};
/* The process of slot (may be NULL) was reaped with status: classifies its
 * end and hands the slot to the next process. */
void spawn_reaped(struct spawn_slot *slot, pid_t pid, int status,
                  struct spawn_exit *ex);

/* Resets signal dispositions and the mask a child inherits; used by the
 * router's start too. 0 or -1. */
int spawn_reset_signals(void);

#endif
