/*
 * The worker's jail: what the parent prepares (struct jail_spec) and the
 * ordered list of every step the child runs between clone and exec
 * (jail.c), the descriptors and the exec included, so the whole start of
 * a worker reads top to bottom in one table. Privileged steps come first
 * (cgroup, descriptors, namespaces, root, hostname, limits), then
 * capabilities and identity are dropped for good, and the seccomp filter
 * comes last, right before the exec, so none of the set-up syscalls needs
 * to be in the worker's allow-list.
 *
 * Everything in the spec is prepared by the parent (it may allocate, log,
 * fail cleanly); the child only reads it. Pointers must stay valid until
 * the child has exec'd: with fork the child has its own copy, with a
 * CLONE_VM|CLONE_VFORK spawn the parent is suspended meanwhile.
 */
#ifndef SY_JAIL_JAIL_H
#define SY_JAIL_JAIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/filter.h>

#include "jail/cgroup.h"
#include "jail/rlimits.h"
#include "jail/rootfs.h"
#include "seccomp_filter.h"

/* Steps in the order jail_enter runs them; the number names a failure. */
enum jail_step {
	JAIL_STEP_CGROUP = 1,  /* cgroup_enter_self: limits apply from here */
	JAIL_STEP_SIGNALS,     /* default dispositions, empty signal mask */
	JAIL_STEP_SETSID,      /* no controlling tty: no TIOCSTI injection */
	JAIL_STEP_FDS,         /* 0-5 as struct jail_fds says; the rest
	                        * close-on-exec */
	JAIL_STEP_NAMESPACES,  /* namespaces clone() did not create, and
	                        * those joined (setns) */
	JAIL_STEP_ROOTFS,      /* private mounts, tmpfs root, pivot_root;
	                        * or a copy of the root's template */
	JAIL_STEP_HOSTNAME,    /* in the new UTS namespace */
	JAIL_STEP_RLIMITS,     /* soft = hard, while we may still lower them */
	JAIL_STEP_CAPS_DROP,   /* bounding, ambient, inheritable, securebits */
	JAIL_STEP_IDS,         /* setgroups, setresgid, setresuid */
	JAIL_STEP_CAPS_CLEAR,  /* effective, permitted (NO_SETUID_FIXUP) */
	JAIL_STEP_CAPS_VERIFY, /* capget: every set empty */
	JAIL_STEP_PDEATHSIG,   /* after the uid change, which clears it */
	JAIL_STEP_NO_NEW_PRIVS,
	JAIL_STEP_SECCOMP,     /* last: the filter also binds the exec */
	JAIL_STEP_EXEC,        /* jail_exec(), named for its failure */
};

/* Slots of jail_spec.clock_ns: [0] when jail_enter starts, [N] when step
 * N ended, [JAIL_STEP_EXEC] is never written (the exec either replaces
 * the process or fails). */
#define JAIL_NCLOCK (JAIL_STEP_EXEC + 1)

/* A namespace the child enters with setns() instead of getting its own. */
struct jail_join {
	int fd;     /* /proc/PID/ns/..., open in the parent; above
	             * JAIL_FD_EXEC when the spec has fds, which the
	             * descriptors step before overwrites */
	int nstype; /* CLONE_NEWNET, CLONE_NEWIPC, ... */
};
#define JAIL_JOIN_MAX 2

/* Where the descriptors step puts the child's descriptors. */
#define JAIL_FD_CHANNEL 3 /* the socket to the supervisor */
#define JAIL_FD_STATUS 4  /* close-on-exec: gone once exec succeeds */
#define JAIL_FD_EXEC 5    /* the executable, close-on-exec */

/* The child's descriptors in the parent's numbering; the descriptors step
 * moves them and updates status and exec to where they went, so the child
 * can still report a later failure. */
struct jail_fds {
	int sock;   /* to fd 3 */
	int out;    /* stdout pipe, to fd 1 */
	int err;    /* stderr pipe, to fd 2 */
	int status; /* report pipe, to fd 4 (stdin becomes /dev/null) */
	int exec;   /* the spec's exec_fd, to fd 5 */
};

struct jail_spec {
	uid_t uid;                 /* the worker's; never 0 */
	gid_t gid;
	int unshare_flags;         /* CLONE_NEW{NS,UTS,IPC,NET} to unshare in
	                            * the child; 0 when clone() made them. A
	                            * pid namespace must come from clone() */
	struct jail_join join[JAIL_JOIN_MAX]; /* then entered, in order */
	unsigned int njoin;
	const char *hostname;      /* NULL: keep (needs CLONE_NEWUTS) */
	const struct cg_handle *cgroup;   /* NULL: no cgroup */
	const struct sy_rootfs *rootfs;   /* NULL: keep the host's root
	                                   * (needs CLONE_NEWNS otherwise,
	                                   * unless it has a template, whose
	                                   * descriptor is above JAIL_FD_EXEC
	                                   * when the spec has fds) */
	const struct sy_rlimits *rlimits; /* NULL: no limit is set, not
	                                   * even the always-zero ones */
	int last_cap;              /* caps_last_cap(), read by the parent */
	pid_t ppid;                /* what getppid() must return once the
	                            * parent-death signal is set: the
	                            * supervisor's pid, or 0 in a new pid ns */
	const struct sy_seccomp *seccomp; /* NULL: no filter (tests only) */
	struct sock_filter *seccomp_scratch; /* seccomp_len() instructions,
	                            * for a program with a $SELF_PID
	                            * placeholder; else NULL */
	size_t seccomp_scratch_len;
	int exec_fd;               /* the executable, opened by the parent
	                            * (O_RDONLY|O_CLOEXEC or O_PATH) */
	struct jail_fds *fds;      /* NULL: descriptors are the caller's
	                            * business; else exec_fd is ignored */
	uint64_t *clock_ns;        /* NULL, or JAIL_NCLOCK slots that
	                            * jail_enter fills with CLOCK_MONOTONIC
	                            * ns (where a spawn's time goes; seen by
	                            * the parent only when the child shares
	                            * its memory, as spawn.c's does) */
	int no_jail;               /* --insecure-no-jail: only signals,
	                            * session, descriptors, parent-death signal
	                            * and exec; the caller leaves the facility
	                            * pointers NULL and unshare_flags 0 */
};

/*
 * Child side, async-signal-safe: runs every step in order. Returns 0 ready
 * for jail_exec(), or -1 with errno and *failed_step set to the enum
 * jail_step that failed (the process is then half-jailed: it must report
 * and _exit). With spec->fds NULL, descriptors are the caller's business:
 * the cgroup.procs descriptors in spec->cgroup and exec_fd must still be
 * open, so close the rest with close_range(..., CLOSE_RANGE_CLOEXEC) or
 * around them.
 */
int jail_enter(const struct jail_spec *s, int *failed_step);
/* Child: execveat(exec_fd, "", argv, envp, AT_EMPTY_PATH) (fds->exec when
 * the spec has fds). Returns only on failure: -1 with errno. */
int jail_exec(const struct jail_spec *s, char *const argv[],
              char *const envp[]);
/* "rootfs" for JAIL_STEP_ROOTFS, for the parent's messages. */
const char *jail_step_name(int step);

#endif
