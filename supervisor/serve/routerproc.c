/*
 * The router process: started once with its channel on fd 3 and the
 * listening sockets on fds 4.., settings as flags. It drops privileges
 * itself. If it dies or breaks protocol the platform stops: it is our own
 * program, so that is a bug to fix, not a tenant to survive.
 *
 * It gets a directory of its own, run_dir/router-body (router_user's,
 * mode 0700), for the request bodies it holds over
 * client_body_buffer_bytes: files without a name, so the directory is
 * always empty and is removed once the router has exited.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jail/spawn.h"
#include "log.h"
#include "serve/call.h"
#include "serve/routerproc.h"
#include "serve/serve.h"
#include "util.h"

#define FD_CHANNEL 3
#define FD_LISTEN 4
#define STOP_GRACE_MS 2000

extern char **environ;

static struct peer *router_chan;
static struct peer chan = { .fd = -1 };
static pid_t router_pid = -1;
static char body_dir[PATH_MAX]; /* "" when there is none to remove */
static uint64_t kill_timer;
static int stopping;      /* routerproc_stop ran: its end is expected */

struct rchild {
	const char *path;
	char **argv;
	pid_t parent;
	int sock, status;
	const int *lfds;
	int *parked;  /* room for n descriptors */
	size_t n;
};

static int rstep_signals(struct rchild *c)
{
	(void)c;
	return spawn_reset_signals();
}

static int rstep_session(struct rchild *c)
{
	if (setsid() == -1 || prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		return -1;
	if (getppid() != c->parent) {
		errno = ESRCH;
		return -1;
	}
	return 0;
}

/* fd 0 = /dev/null, 3 = channel, 4.. = listeners; stdout and stderr stay
 * ours so the router logs where we do. Sources are parked above every
 * target before anything is moved. */
static int rstep_fds(struct rchild *c)
{
	int park = FD_LISTEN + (int)c->n + 1, null, fd;
	size_t i;

	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1 ||
	    (null = fcntl(fd, F_DUPFD_CLOEXEC, park)) == -1 ||
	    (c->status = fcntl(c->status, F_DUPFD_CLOEXEC, park)) == -1 ||
	    (c->sock = fcntl(c->sock, F_DUPFD_CLOEXEC, park)) == -1)
		return -1;
	for (i = 0; i < c->n; i++) {
		c->parked[i] = fcntl(c->lfds[i], F_DUPFD_CLOEXEC, park);
		if (c->parked[i] == -1)
			return -1;
	}
	for (i = 0; i < c->n; i++) {
		if (dup2(c->parked[i], FD_LISTEN + (int)i) == -1)
			return -1;
	}
	if (dup2(null, 0) == -1 || dup2(c->sock, FD_CHANNEL) == -1)
		return -1;
	return 0;
}

static int rstep_exec(struct rchild *c)
{
	int status = c->status;

	/* everything but 0-2, the targets and the status pipe goes */
	if (close_range(FD_LISTEN + (unsigned)c->n, (unsigned)status - 1, 0)
	    == -1 || close_range((unsigned)status + 1, ~0u, 0) == -1)
		return -1;
	execve(c->path, c->argv, environ);
	return -1;
}

static const struct {
	const char *name;
	int (*fn)(struct rchild *);
} router_steps[] = {
	{ "reset signals", rstep_signals },
	{ "session", rstep_session },
	{ "descriptors", rstep_fds },
	{ "execve", rstep_exec },
};
#define NRSTEPS (sizeof(router_steps) / sizeof(router_steps[0]))

static void rchild_run(struct rchild *c)
{
	int32_t m[2];
	size_t i;

	for (i = 0; i < NRSTEPS; i++) {
		if (router_steps[i].fn(c) == -1)
			break;
	}
	m[0] = (int32_t)i;
	m[1] = errno;
	if (write(c->status, m, sizeof(m)) == -1)
		_exit(126);
	_exit(127);
}

static const char *level_name(int level)
{
	static const char *const names[] = { "error", "warn", "info",
		                             "debug" };

	return level >= 0 && level <= 3 ? names[level] : "info";
}

/* argv and the strings its numbers live in, in one allocation. The last
 * of the n descriptors is the admin listener when one is configured. */
static char **make_argv(const struct sup_config *c, size_t n)
{
	size_t nargs = 3 + 2 * n + 22 + 1, i, k = 0, s = 0;
	size_t npub = c->admin_listen != NULL && n > 0 ? n - 1 : n;
	size_t plen = strlen(c->seccomp_dir) + sizeof("/router.policy");
	char **argv, (*num)[24], *policy;

	argv = calloc(1, nargs * sizeof(*argv) + (n + 8) * sizeof(*num) +
	              plen);
	if (argv == NULL)
		return NULL;
	num = (char (*)[24])(argv + nargs);
	policy = (char *)(num + n + 8);
	snprintf(policy, plen, "%s/router.policy", c->seccomp_dir);
#define NUM(v) (snprintf(num[s], sizeof(num[s]), "%llu", \
                         (unsigned long long)(v)), num[s++])
	argv[k++] = c->router_path;
	argv[k++] = (char *)"--upstream-fd";
	argv[k++] = NUM(FD_CHANNEL);
	for (i = 0; i < npub; i++) {
		argv[k++] = (char *)"--listen-fd";
		argv[k++] = NUM(FD_LISTEN + i);
	}
	if (npub < n) {
		argv[k++] = (char *)"--admin-fd";
		argv[k++] = NUM(FD_LISTEN + npub);
	}
	argv[k++] = (char *)"--user";
	argv[k++] = c->router_user;
	argv[k++] = (char *)"--max-header-bytes";
	argv[k++] = NUM(c->max_header_bytes);
	argv[k++] = (char *)"--max-body-bytes";
	argv[k++] = NUM(c->max_body_bytes);
	argv[k++] = (char *)"--client-body-buffer-bytes";
	argv[k++] = NUM(c->client_body_buffer_bytes);
	argv[k++] = (char *)"--body-dir";
	argv[k++] = body_dir;
	argv[k++] = (char *)"--header-timeout-ms";
	argv[k++] = NUM(c->header_timeout_ms);
	argv[k++] = (char *)"--body-timeout-ms";
	argv[k++] = NUM(c->body_timeout_ms);
	argv[k++] = (char *)"--idle-timeout-ms";
	argv[k++] = NUM(c->idle_timeout_ms);
	argv[k++] = (char *)"--max-connections";
	argv[k++] = NUM(c->max_connections);
	argv[k++] = (char *)"--log-level";
	argv[k++] = (char *)level_name(c->log_level);
	argv[k++] = (char *)"--seccomp-policy";
	argv[k++] = policy;
#undef NUM
	return argv;
}

/* run_dir/router-body, router_user's alone. One left by a supervisor
 * that was killed is taken over (it holds nothing: its files had no
 * names). Not root (a test), there is no one to give it to. 0, or -1
 * with err. */
static int body_dir_make(const struct sup_config *c, char *err,
                         size_t errlen)
{
	struct passwd *pw = NULL;
	int fd = -1, rv = -1;

	snprintf(body_dir, sizeof(body_dir), "%s/router-body", c->run_dir);
	errno = 0;
	if (geteuid() == 0 && (pw = getpwnam(c->router_user)) == NULL) {
		snprintf(err, errlen, "router: router_user %s: %s",
		         c->router_user, errno ? strerror(errno) : "no such user");
		body_dir[0] = '\0';
		return -1;
	}
	if ((mkdir(body_dir, 0700) == -1 && errno != EEXIST) ||
	    (fd = open(body_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	                         O_CLOEXEC)) == -1 ||
	    (pw != NULL && fchown(fd, pw->pw_uid, pw->pw_gid) == -1) ||
	    fchmod(fd, 0700) == -1)
		snprintf(err, errlen, "router: body directory %s: %s",
		         body_dir, strerror(errno));
	else
		rv = 0;
	if (fd != -1)
		close(fd);
	return rv;
}

/* The router is gone: so are its files, and the directory goes too. */
static void body_dir_remove(void)
{
	if (body_dir[0] != '\0' && rmdir(body_dir) == -1 && errno != ENOENT)
		log_warn("router: body directory %s: rmdir", body_dir);
	body_dir[0] = '\0';
}

static int wait_exec(pid_t pid, int fd, char *err, size_t errlen)
{
	int32_t m[2];
	ssize_t n;

	do {
		n = read(fd, m, sizeof(m));
	} while (n == -1 && errno == EINTR);
	if (n == 0)
		return 0;
	if (n == (ssize_t)sizeof(m) && m[0] >= 0 && (size_t)m[0] < NRSTEPS)
		snprintf(err, errlen, "router: step %d (%s) failed: %s",
		         m[0] + 1, router_steps[m[0]].name, strerror(m[1]));
	else
		snprintf(err, errlen, "router: start-up report unreadable");
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		;
	return -1;
}

/* Our end of the router's channel, fd, taken over. 0, or -1 with err. */
static int chan_open(const struct peer_ops *ops, int fd, char *err,
                     size_t errlen)
{
	if (peer_open(&chan, serve_env.loop, fd, ops, NULL, 0) == -1) {
		snprintf(err, errlen, "router: cannot watch its channel: %s",
		         strerror(errno));
		return -1;
	}
	router_chan = &chan;
	stopping = 0;
	return 0;
}

int routerproc_attach(const struct peer_ops *ops, int fd, char *err,
                      size_t errlen)
{
	if (router_chan != NULL || router_pid > 0) {
		snprintf(err, errlen, "router: a channel is open already");
		close(fd);
		errno = EBUSY;
		return -1;
	}
	return chan_open(ops, fd, err, errlen);
}

int routerproc_start(const struct peer_ops *ops, const int *lfds, size_t n,
                     char *err, size_t errlen)
{
	const struct sup_config *c = serve_env.conf;
	struct rchild rc = { c->router_path, NULL, getpid(), -1, -1, lfds,
		             NULL, n };
	int sv[2] = { -1, -1 }, st[2] = { -1, -1 }, rv = -1;
	pid_t pid;

	if (body_dir_make(c, err, errlen) == -1)
		goto out;
	rc.argv = make_argv(c, n);
	rc.parked = calloc(n + 1, sizeof(int));
	if (rc.argv == NULL || rc.parked == NULL) {
		snprintf(err, errlen, "router: %s", strerror(ENOMEM));
		goto out;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1 ||
	    pipe2(st, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "router: socketpair/pipe: %s",
		         strerror(errno));
		goto out;
	}
	rc.sock = sv[1];
	rc.status = st[1];
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "router: fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		rchild_run(&rc);
	close(st[1]);
	close(sv[1]);
	st[1] = sv[1] = -1;
	if (wait_exec(pid, st[0], err, errlen) == -1)
		goto out;
	router_pid = pid;
	rv = chan_open(ops, sv[0], err, errlen);
	sv[0] = -1;
	if (rv == -1)
		goto out;
	log_info("router started (pid %d): %s", (int)pid, c->router_path);
	rv = 0;
out:
	free(rc.argv);
	free(rc.parked);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (st[0] >= 0)
		close(st[0]);
	if (st[1] >= 0)
		close(st[1]);
	if (rv == -1 && router_pid <= 0)
		body_dir_remove();
	return rv;
}

static void router_kill(struct ev_loop *loop, void *arg)
{
	(void)loop;
	(void)arg;
	kill_timer = 0;
	if (router_pid > 0) {
		log_info("router still running 2 s after SIGTERM; killing it");
		kill(router_pid, SIGKILL);
	}
}

struct peer *routerproc_chan(void)
{
	return router_chan;
}

void routerproc_stop(void)
{
	stopping = 1;
	if (router_chan != NULL) {
		router_chan = NULL;
		peer_close(&chan);
		call_router_gone();
	}
	if (router_pid > 0 && kill_timer == 0) {
		if (kill(router_pid, SIGTERM) == -1 && errno != ESRCH)
			log_warn("router: kill");
		kill_timer = ev_timer_add(serve_env.loop, STOP_GRACE_MS,
		                          router_kill, NULL);
		if (kill_timer == 0)
			kill(router_pid, SIGKILL);
	}
}

void routerproc_lost(const char *why)
{
	if (!stopping)
		log_warnx("router: %s; stopping the platform", why);
	serve_env.hooks.router_lost();
}

int routerproc_reaped(pid_t pid, int status)
{
	char how[96];

	if (pid != router_pid || pid <= 0)
		return 0;
	router_pid = -1;
	if (kill_timer != 0)
		ev_timer_del(serve_env.loop, kill_timer);
	kill_timer = 0;
	body_dir_remove();
	sy_wait_status(status, how, sizeof(how));
	if (!stopping) {
		log_warnx("router %s unexpectedly; stopping the platform", how);
		serve_env.hooks.router_lost();
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		/* e.g. SIGSYS from its seccomp profile, or a sanitizer report */
		log_warnx("router %s while stopping", how);
	} else {
		log_debug("router %s", how);
	}
	return 1;
}

int routerproc_running(void)
{
	return router_pid > 0;
}
