/*
 * Starting a worker process. The child runs the steps of child_steps[] in
 * order; the first that fails writes {step, errno} to a close-on-exec pipe
 * and exits, and the parent turns it into "step N (name) failed: error".
 * When exec succeeds the pipe closes with nothing written.
 *
 * The child is a clone(CLONE_VM | CLONE_VFORK): it borrows the supervisor's
 * memory until it execs, so starting a worker costs the same however large
 * the supervisor has grown (fork copies page tables). The price is that its
 * steps must not allocate, and must make raw system calls where glibc would
 * coordinate threads (set*id: use syscall(SYS_setresuid, ...)). The
 * supervisor is suspended meanwhile, so nothing it owns changes under the
 * child.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"

/* Where the child's descriptors end up. */
#define FD_CHANNEL 3
#define FD_STATUS 4   /* close-on-exec: gone once exec succeeds */
#define FD_PARKING 10 /* above every target, while shuffling */
#define CHILD_STACK (256 * 1024)

struct child {
	const struct spawn_req *req;
	pid_t parent;
	int sock, out, err, status; /* the child's ends */
	char **envp;
};

struct step {
	const char *name;
	int (*fn)(struct child *);
};

struct status_msg {
	int32_t step;
	int32_t err;
};

int spawn_reset_signals(void)
{
	struct sigaction sa;
	sigset_t none;
	int sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		/* glibc reserves a few real-time signals: EINVAL there */
		if (sigaction(sig, &sa, NULL) == -1 && errno != EINVAL)
			return -1;
	}
	sigemptyset(&none);
	return sigprocmask(SIG_SETMASK, &none, NULL);
}

static int step_signals(struct child *c)
{
	(void)c;
	return spawn_reset_signals();
}

/* Its own session: a terminal's ^C reaches the supervisor only. */
static int step_setsid(struct child *c)
{
	(void)c;
	return setsid() == -1 ? -1 : 0;
}

/* Dies with the supervisor, even if the supervisor is SIGKILLed. */
static int step_pdeathsig(struct child *c)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		return -1;
	if (getppid() != c->parent) {
		errno = ESRCH; /* the supervisor died before the prctl */
		return -1;
	}
	return 0;
}

/* fd 0 = /dev/null, 1/2 = log pipes, 3 = channel, 4 = status; nothing
 * else survives exec. Sources are parked above the targets first so that
 * no dup2 overwrites a descriptor still to be moved. */
static int step_fds(struct child *c)
{
	int raw, null, sock, out, err, st;

	if ((raw = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		return -1;
	null = fcntl(raw, F_DUPFD_CLOEXEC, FD_PARKING);
	sock = fcntl(c->sock, F_DUPFD_CLOEXEC, FD_PARKING);
	out = fcntl(c->out, F_DUPFD_CLOEXEC, FD_PARKING);
	err = fcntl(c->err, F_DUPFD_CLOEXEC, FD_PARKING);
	st = fcntl(c->status, F_DUPFD_CLOEXEC, FD_PARKING);
	if (null == -1 || sock == -1 || out == -1 || err == -1 || st == -1)
		return -1;
	if (dup3(st, FD_STATUS, O_CLOEXEC) == -1)
		return -1;
	c->status = FD_STATUS;
	if (dup2(null, 0) == -1 || dup2(out, 1) == -1 || dup2(err, 2) == -1 ||
	    dup2(sock, FD_CHANNEL) == -1)
		return -1;
	return close_range(FD_STATUS + 1, ~0u, 0);
}

static int step_exec(struct child *c)
{
	char *argv[] = { (char *)c->req->exe, NULL };

	execve(c->req->exe, argv, c->envp);
	return -1;
}

/*
 * The child's set-up, in order. The jail goes between "descriptors" and
 * "execve", in this order: namespaces, cgroup, rlimits, uid/gid,
 * capabilities, then seccomp last, just before execve.
 */
static const struct step child_steps[] = {
	{ "reset signals", step_signals },
	{ "setsid", step_setsid },
	{ "parent-death signal", step_pdeathsig },
	{ "descriptors", step_fds },
	{ "execve", step_exec },
};
#define NSTEPS (sizeof(child_steps) / sizeof(child_steps[0]))

static int child_run(void *arg)
{
	struct child *c = arg;
	struct status_msg m;
	size_t i;
	ssize_t n;

	for (i = 0; i < NSTEPS; i++) {
		if (child_steps[i].fn(c) == -1)
			break;
	}
	m.step = (int32_t)i;
	m.err = errno;
	do {
		n = write(c->status, &m, sizeof(m));
	} while (n == -1 && errno == EINTR);
	_exit(127);
	return 127;
}

/* One stack serves every child: CLONE_VFORK returns only once the child
 * has exec'd or exited. */
static pid_t child_start(struct child *c)
{
	static char *stack;

	if (stack == NULL && (stack = malloc(CHILD_STACK)) == NULL)
		return -1;
	return clone(child_run, stack + CHILD_STACK,
	             CLONE_VM | CLONE_VFORK | SIGCHLD, c);
}

/* The environment is only what the deploy gave plus the worker's name;
 * built before fork so the child does not allocate. */
static char **make_env(const struct spawn_req *req, char *self, size_t size)
{
	char **envp = calloc(req->nenv + 2, sizeof(*envp));
	size_t i;

	if (envp == NULL)
		return NULL;
	for (i = 0; i < req->nenv; i++)
		envp[i] = req->env[i];
	snprintf(self, size, "SWITCHYARD_WORKER=%s", req->worker);
	envp[i] = self;
	return envp;
}

static void close_all(int *fds, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* Reads the child's report: 0 once it has exec'd, -1 with err if a step
 * failed (and then reaps it). */
static int wait_exec(pid_t pid, int fd, char *err, size_t errlen)
{
	struct status_msg m;
	ssize_t n;

	do {
		n = read(fd, &m, sizeof(m));
	} while (n == -1 && errno == EINTR);
	if (n == 0)
		return 0;
	if (n == (ssize_t)sizeof(m) && m.step >= 0 && (size_t)m.step < NSTEPS)
		snprintf(err, errlen, "step %d (%s) failed: %s", m.step + 1,
		         child_steps[m.step].name, strerror(m.err));
	else
		snprintf(err, errlen, "start-up report unreadable%s%s",
		         n == -1 ? ": " : "", n == -1 ? strerror(errno) : "");
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		;
	return -1;
}

static int open_channels(int sv[2], int out[2], int errp[2], int st[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	if (pipe2(out, O_CLOEXEC) == -1 || pipe2(errp, O_CLOEXEC) == -1 ||
	    pipe2(st, O_CLOEXEC) == -1)
		return -1;
	return 0;
}

int spawn_worker(const struct spawn_req *req, struct spawn_res *res,
                 char *err, size_t errlen)
{
	int fds[8] = { -1, -1, -1, -1, -1, -1, -1, -1 };
	char self[160], **envp;
	struct child c;
	pid_t pid;

	if ((envp = make_env(req, self, sizeof(self))) == NULL) {
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		return -1;
	}
	if (open_channels(&fds[0], &fds[2], &fds[4], &fds[6]) == -1) {
		snprintf(err, errlen, "socketpair/pipe: %s", strerror(errno));
		goto fail;
	}
	memset(&c, 0, sizeof(c));
	c.req = req;
	c.parent = getpid();
	c.sock = fds[1];
	c.out = fds[3];
	c.err = fds[5];
	c.status = fds[7];
	c.envp = envp;
	if ((pid = child_start(&c)) == -1) {
		snprintf(err, errlen, "clone: %s", strerror(errno));
		goto fail;
	}
	free(envp);
	envp = NULL;
	close(fds[1]);
	close(fds[3]);
	close(fds[5]);
	close(fds[7]);
	fds[1] = fds[3] = fds[5] = fds[7] = -1;
	if (wait_exec(pid, fds[6], err, errlen) == -1)
		goto fail;
	close(fds[6]);
	res->pid = pid;
	res->sock = fds[0];
	res->out = fds[2];
	res->err = fds[4];
	return 0;
fail:
	free(envp);
	close_all(fds, 8);
	return -1;
}
