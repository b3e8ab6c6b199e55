/*
 * The jail's orchestrator (see jail.h): one table of steps, run in order in
 * the child between clone and exec. Each step is a small function over the
 * spec; everything here is async-signal-safe and allocates nothing, since
 * the child may share the supervisor's memory (spawn.c's CLONE_VM).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <linux/close_range.h>

#include "jail/caps.h"
#include "jail/ids.h"
#include "jail/jail.h"
#include "seccomp_filter.h"

static int step_cgroup(const struct jail_spec *s)
{
	return s->cgroup ? cgroup_enter_self(s->cgroup) : 0;
}

/* Handlers first, then the mask: in a CLONE_VM child a signal delivered to
 * an inherited handler would run the parent's code on shared memory. */
static int step_signals(const struct jail_spec *s)
{
	struct sigaction sa;
	sigset_t none;
	int sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		/* glibc refuses its internal signals (EINVAL): fine. */
		if (sigaction(sig, &sa, NULL) < 0 && errno != EINVAL)
			return -1;
	}
	sigemptyset(&none);
	return sigprocmask(SIG_SETMASK, &none, NULL);
}

static int step_setsid(const struct jail_spec *s)
{
	return setsid() < 0 ? -1 : 0;
}

/* Sources are parked above every target first, so that no dup2 overwrites
 * a descriptor still to be moved; the status and exec descriptors go
 * first, so a later failure can still be reported. Everything above the
 * executable is only marked close-on-exec: closing the parent's many
 * descriptors one by one would cost more and gain nothing. */
static int step_fds(const struct jail_spec *s)
{
	enum { PARK = 10 };
	struct jail_fds *f = s->fds;
	int null, sock, out, err, st, ex;

	if (f == NULL)
		return 0;
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0 ||
	    (null = fcntl(null, F_DUPFD_CLOEXEC, PARK)) < 0 ||
	    (sock = fcntl(f->sock, F_DUPFD_CLOEXEC, PARK)) < 0 ||
	    (out = fcntl(f->out, F_DUPFD_CLOEXEC, PARK)) < 0 ||
	    (err = fcntl(f->err, F_DUPFD_CLOEXEC, PARK)) < 0 ||
	    (st = fcntl(f->status, F_DUPFD_CLOEXEC, PARK)) < 0 ||
	    (ex = fcntl(f->exec, F_DUPFD_CLOEXEC, PARK)) < 0)
		return -1;
	if (dup3(st, JAIL_FD_STATUS, O_CLOEXEC) < 0)
		return -1;
	f->status = JAIL_FD_STATUS;
	if (dup3(ex, JAIL_FD_EXEC, O_CLOEXEC) < 0)
		return -1;
	f->exec = JAIL_FD_EXEC;
	if (dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0 ||
	    dup2(sock, JAIL_FD_CHANNEL) < 0)
		return -1;
	return close_range(JAIL_FD_EXEC + 1, ~0u, CLOSE_RANGE_CLOEXEC);
}

static int step_namespaces(const struct jail_spec *s)
{
	unsigned int i;

	if (s->unshare_flags && unshare(s->unshare_flags) < 0)
		return -1;
	for (i = 0; i < s->njoin; i++) {
		if (s->fds != NULL && s->join[i].fd <= JAIL_FD_EXEC) {
			errno = EBADF; /* one of ours now */
			return -1;
		}
		if (setns(s->join[i].fd, s->join[i].nstype) < 0)
			return -1;
	}
	return 0;
}

static int step_rootfs(const struct jail_spec *s)
{
	const char *what;

	if (s->rootfs == NULL)
		return 0;
	if (s->fds != NULL && s->rootfs->template_ns >= 0 &&
	    s->rootfs->template_ns <= JAIL_FD_EXEC) {
		errno = EBADF; /* one of ours now */
		return -1;
	}
	return rootfs_enter(s->rootfs, &what);
}

static int step_hostname(const struct jail_spec *s)
{
	return s->hostname ? sethostname(s->hostname, strlen(s->hostname)) : 0;
}

static int step_rlimits(const struct jail_spec *s)
{
	int resource;

	return s->rlimits ? rlimits_apply(s->rlimits, &resource) : 0;
}

static int step_caps_drop(const struct jail_spec *s)
{
	return s->no_jail ? 0 : caps_drop_all(s->last_cap);
}

static int step_ids(const struct jail_spec *s)
{
	return s->no_jail ? 0 : ids_switch(s->uid, s->gid);
}

static int step_caps_clear(const struct jail_spec *s)
{
	return s->no_jail ? 0 : caps_clear();
}

static int step_caps_verify(const struct jail_spec *s)
{
	return s->no_jail ? 0 : caps_verify_none();
}

/* The signal fires when the forking thread exits; if the supervisor
 * already died before it was set, getppid() no longer names it. */
static int step_pdeathsig(const struct jail_spec *s)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return -1;
	if (getppid() != s->ppid) {
		errno = ESRCH;
		return -1;
	}
	return 0;
}

static int step_no_new_privs(const struct jail_spec *s)
{
	return s->no_jail ? 0 : prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

static int step_seccomp(const struct jail_spec *s)
{
	if (s->seccomp == NULL)
		return 0;
	return seccomp_apply_self(s->seccomp, s->seccomp_scratch,
	                          s->seccomp_scratch_len);
}

static const struct {
	int step;
	const char *name;
	int (*run)(const struct jail_spec *);
} steps[] = {
	{ JAIL_STEP_CGROUP, "cgroup", step_cgroup },
	{ JAIL_STEP_SIGNALS, "signals", step_signals },
	{ JAIL_STEP_SETSID, "setsid", step_setsid },
	{ JAIL_STEP_FDS, "descriptors", step_fds },
	{ JAIL_STEP_NAMESPACES, "namespaces", step_namespaces },
	{ JAIL_STEP_ROOTFS, "rootfs", step_rootfs },
	{ JAIL_STEP_HOSTNAME, "hostname", step_hostname },
	{ JAIL_STEP_RLIMITS, "rlimits", step_rlimits },
	{ JAIL_STEP_CAPS_DROP, "caps drop", step_caps_drop },
	{ JAIL_STEP_IDS, "uid/gid", step_ids },
	{ JAIL_STEP_CAPS_CLEAR, "caps clear", step_caps_clear },
	{ JAIL_STEP_CAPS_VERIFY, "caps verify", step_caps_verify },
	{ JAIL_STEP_PDEATHSIG, "pdeathsig", step_pdeathsig },
	{ JAIL_STEP_NO_NEW_PRIVS, "no_new_privs", step_no_new_privs },
	{ JAIL_STEP_SECCOMP, "seccomp", step_seccomp },
	/* then jail_exec: JAIL_STEP_EXEC */
};

/* The vDSO's clock: no system call, so it costs nothing worth measuring
 * and works under any filter. */
static void stamp(const struct jail_spec *s, int slot)
{
	struct timespec ts;

	if (s->clock_ns == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	s->clock_ns[slot] = (uint64_t)ts.tv_sec * 1000000000u +
	                    (uint64_t)ts.tv_nsec;
}

int jail_enter(const struct jail_spec *s, int *failed_step)
{
	size_t i;

	stamp(s, 0);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if (steps[i].run(s) < 0) {
			*failed_step = steps[i].step;
			return -1;
		}
		stamp(s, steps[i].step);
	}
	*failed_step = 0;
	return 0;
}

int jail_exec(const struct jail_spec *s, char *const argv[],
              char *const envp[])
{
	int fd = s->fds != NULL ? s->fds->exec : s->exec_fd;

	syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
	return -1;
}

const char *jail_step_name(int step)
{
	size_t i;

	if (step == JAIL_STEP_EXEC)
		return "execveat";
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (steps[i].step == step)
			return steps[i].name;
	return "unknown step";
}
