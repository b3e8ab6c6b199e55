/*
 * A worker's namespaces (see namespaces.h): the shared network and IPC
 * namespaces, made once by a helper child, and what each worker gets.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "jail/namespaces.h"
#include "log.h"

#define HELPER_STACK (64 * 1024)

/* The calls that reach a network namespace: the only ways to a socket of
 * one's own (io_uring's IORING_OP_SOCKET included). The one socket a
 * worker holds, fd 3, was made in the supervisor's namespace. */
static const char *const net_calls[] = { "socket", "socketpair",
	                                 "io_uring_setup", NULL };
/* And an IPC namespace: SysV message queues, semaphores and shared memory
 * (ids, keys and the *ctl listings by index), POSIX message queues. */
static const char *const ipc_calls[] = {
	"msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop",
	"semtimedop", "semctl", "shmget", "shmat", "shmdt", "shmctl",
	"mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive",
	"mq_notify", "mq_getsetattr", NULL,
};

/* Joined (a setns, ~5 us) instead of made: a network namespace costs
 * 0.4-0.8 ms to make here, and as much again in the kernel's work queue
 * once its last process is gone. */
static const struct {
	int nstype;
	const char *name;          /* for messages */
	const char *path;          /* the helper's own */
	const char *const *calls;
} shareable[] = {
	{ CLONE_NEWNET, "a network", "/proc/self/ns/net", net_calls },
	{ CLONE_NEWIPC, "an IPC", "/proc/self/ns/ipc", ipc_calls },
};
#define NSHARED (sizeof(shareable) / sizeof(shareable[0]))

static int shared[NSHARED] = { -1, -1 }; /* open; -1: none */
_Static_assert(NSHARED == 2, "shared[] starts as one -1 per namespace");
_Static_assert(NSHARED <= JAIL_JOIN_MAX, "ns_plan fills jail_spec.join");

struct helper {
	int fd[NSHARED];
	int err;
};

/* In its new namespaces, sharing our memory and descriptor table: opens
 * them into our table, and is gone. */
static int helper_run(void *arg)
{
	struct helper *h = arg;
	size_t i;

	for (i = 0; i < NSHARED; i++) {
		h->fd[i] = open(shareable[i].path, O_RDONLY | O_CLOEXEC);
		if (h->fd[i] == -1) {
			h->err = errno;
			break;
		}
	}
	_exit(0);
	return 0;
}

/* fd, or a copy above the child's numbers (jail.h: the descriptors step
 * takes 0 to JAIL_FD_EXEC); with no descriptor to spare, fd itself, which
 * the jail then refuses. */
static int fd_above(int fd)
{
	int up;

	if (fd > JAIL_FD_EXEC ||
	    (up = fcntl(fd, F_DUPFD_CLOEXEC, JAIL_FD_EXEC + 1)) == -1)
		return fd;
	close(fd);
	return up;
}

/*
 * The helper is a clone(CLONE_VM | CLONE_VFORK | CLONE_FILES) into new
 * namespaces, which are born empty: a network namespace with only its
 * loopback, down (only CAP_NET_ADMIN there could bring it up, and no
 * worker has a capability), an IPC namespace without objects. It sends no
 * exit signal, so the supervisor's reaping never sees it.
 */
int ns_shared_init(char *err, size_t errlen)
{
	int flags = CLONE_VM | CLONE_VFORK | CLONE_FILES;
	struct helper h;
	char *stack;
	size_t i;
	pid_t pid;

	memset(&h, 0, sizeof(h));
	for (i = 0; i < NSHARED; i++) {
		h.fd[i] = -1;
		flags |= shareable[i].nstype;
	}
	if ((stack = malloc(HELPER_STACK)) == NULL) {
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		return -1;
	}
	pid = clone(helper_run, stack + HELPER_STACK, flags, &h);
	if (pid == -1) {
		snprintf(err, errlen, "namespaces shared by workers: clone: %s",
		         strerror(errno));
		free(stack);
		return -1;
	}
	while (waitpid(pid, NULL, __WCLONE) == -1 && errno == EINTR)
		;
	free(stack);
	for (i = 0; i < NSHARED; i++)
		shared[i] = h.fd[i] == -1 ? -1 : fd_above(h.fd[i]);
	if (h.err == 0)
		return 0;
	for (i = 0; h.fd[i] != -1; i++)
		;
	snprintf(err, errlen, "namespaces shared by workers: open %s: %s",
	         shareable[i].path, strerror(h.err));
	return -1;
}

void ns_shared_fini(void)
{
	size_t i;

	for (i = 0; i < NSHARED; i++) {
		if (shared[i] != -1)
			close(shared[i]);
		shared[i] = -1;
	}
}

int ns_reachable(const struct sy_seccomp *filter, const char *path)
{
	const char *const *c;
	int flags = 0;
	size_t i;

	for (i = 0; i < NSHARED; i++) {
		for (c = shareable[i].calls; *c != NULL; c++)
			if (seccomp_may_allow(filter, *c))
				break;
		if (*c == NULL)
			continue;
		flags |= shareable[i].nstype;
		log_info("seccomp profile %s allows %s: its workers get %s "
		         "namespace of their own", path, *c,
		         shareable[i].name);
	}
	return flags;
}

int ns_plan(struct jail_spec *spec, int private_ns)
{
	int flags = NS_OWN;
	size_t i;

	for (i = 0; i < NSHARED; i++) {
		if ((private_ns & shareable[i].nstype) || shared[i] == -1) {
			flags |= shareable[i].nstype;
			continue;
		}
		spec->join[spec->njoin].fd = shared[i];
		spec->join[spec->njoin++].nstype = shareable[i].nstype;
	}
	return flags;
}
