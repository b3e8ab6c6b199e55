/*
 * Resource limits of a jailed worker (rlimits.c). The parent fills the
 * values from the plan; the child sets each with soft = hard, so the worker
 * cannot raise them again (it has no CAP_SYS_RESOURCE after the jail).
 * They are a per-process backstop: the real caps are the cgroup's.
 */
#ifndef SY_JAIL_RLIMITS_H
#define SY_JAIL_RLIMITS_H

#include <sys/resource.h>

/* Every field: 0 = not set, the worker keeps the supervisor's limit. */
struct sy_rlimits {
	rlim_t nofile;   /* RLIMIT_NOFILE, descriptors (e.g. 64) */
	rlim_t nproc;    /* RLIMIT_NPROC: counts every process of the real uid
	                  * system-wide and is checked at the uid change, so it
	                  * must exceed the processes already sharing the uid */
	rlim_t fsize;    /* RLIMIT_FSIZE, bytes of one written file */
	rlim_t cpu_s;    /* RLIMIT_CPU, seconds of CPU over the process's life;
	                  * soft = hard, so the kernel sends SIGKILL */
	rlim_t as_bytes; /* RLIMIT_AS, bytes of address space; leave 0 for
	                  * sanitized workers, which reserve terabytes */
};

/*
 * Child, async-signal-safe (raw prlimit64 on itself): sets RLIMIT_CORE,
 * RLIMIT_MEMLOCK, RLIMIT_MSGQUEUE and RLIMIT_RTPRIO to 0 and the non-zero
 * fields of r. 0, or -1 with errno and *failed_resource = the RLIMIT_*
 * that failed.
 */
int rlimits_apply(const struct sy_rlimits *r, int *failed_resource);
/* Name of an RLIMIT_* ("RLIMIT_NOFILE") for the parent's error message. */
const char *rlimits_name(int resource);

#endif
