/*
 * switchyard-router: the unprivileged HTTP/1.1 front end. It is started by
 * the supervisor with the supervisor channel on fd 3 and already-listening
 * sockets on fds 4.., drops privileges first thing, loads its seccomp
 * filter once set up (sandbox.c), and forwards every request to the
 * supervisor as frames. It exits when the supervisor goes away or on
 * SIGTERM/SIGINT.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "egress.h"
#include "log.h"
#include "router.h"
#include "sandbox.h"

/* Descriptors besides client connections: channel, listeners, signalfd,
 * epoll, and those still being closed. */
#define FD_SLACK 128

struct router router;

void router_stop(int code)
{
	if (code > router.exit_code)
		router.exit_code = code;
	ev_stop(router.loop);
}

static void on_signal(struct ev_loop *loop, int fd, uint32_t events,
                      void *arg)
{
	struct signalfd_siginfo si;
	ssize_t n = read(fd, &si, sizeof(si));

	if (n != (ssize_t)sizeof(si)) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		fatal("signalfd read");
	}
	log_info("%s, exiting", strsignal((int)si.ssi_signo));
	router_stop(0);
}

/* SIGTERM and SIGINT arrive through the loop; SIGPIPE is ignored because
 * every write checks EPIPE. */
static int signals_setup(void)
{
	sigset_t mask;
	int fd;

	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fatal("signal SIGPIPE");
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		fatal("sigprocmask");
	if ((fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		fatal("signalfd");
	return fd;
}

/* Raises the descriptor limit to what the connection limit needs (as far
 * as the hard limit allows: a connection and its body's file each) and
 * returns the loop's table size. */
static int fd_budget(void)
{
	uint64_t need = 2 * router.cfg.max_connections + 64 + FD_SLACK;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		fatal("getrlimit RLIMIT_NOFILE");
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need)
			rl.rlim_cur = need;
		else
			rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("setrlimit RLIMIT_NOFILE %llu",
			         (unsigned long long)rl.rlim_cur);
		if (rl.rlim_cur < need)
			log_warnx("descriptor limit %llu is below the %llu "
			          "connections configured",
			          (unsigned long long)rl.rlim_cur,
			          (unsigned long long)
			          router.cfg.max_connections);
	}
	return (int)need;
}

int main(int argc, char *argv[])
{
	struct router_config *cfg = &router.cfg;
	char err[256] = "";
	int sigfd;
	size_t i;

	log_init("switchyard-router", SY_LOG_INFO);
	if (config_parse(cfg, argc, argv, err, sizeof(err)) < 0) {
		if (err[0] != '\0')
			log_warnx("%s", err);
		config_usage(argv[0]);
		return 2;
	}
	log_setlevel(cfg->log_level);
	sandbox_router_prepare();
	privdrop(cfg->user);
	body_init();
	sigfd = signals_setup();
	if ((router.loop = ev_new(fd_budget())) == NULL)
		fatal("event loop");
	http_init();
	request_init();
	conn_init();
	upstream_init(cfg->upstream_fd);
	egress_init();
	for (i = 0; i < cfg->nlisten; i++)
		conn_listen(cfg->listen_fds[i]);
	if (cfg->admin_fd >= 0)
		admin_init(cfg->admin_fd);
	if (ev_add(router.loop, sigfd, EPOLLIN, on_signal, NULL) < 0)
		fatal("signalfd: epoll_ctl");
	log_info("serving %zu listening sockets, at most %llu connections",
	         cfg->nlisten, (unsigned long long)cfg->max_connections);
	sandbox_router_apply();
	if (ev_run(router.loop) < 0)
		fatal("event loop: epoll_wait");
	conn_cleanup();
	admin_cleanup();
	egress_cleanup();
	upstream_cleanup();
	body_cleanup();
	ev_del(router.loop, sigfd);
	close(sigfd);
	ev_free(router.loop);
	return router.exit_code;
}
