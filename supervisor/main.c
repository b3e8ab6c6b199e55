/*
 * switchyard-supervisor: the parent of every Switchyard process. Runs in
 * the foreground; SIGINT or SIGTERM stop the platform and leave no process
 * or socket behind.
 *
 * This file wires the layers (docs/DESIGN.md): jail/ (how a process is
 * jailed), state/ (configuration, registry, store, KV), serve/ (the request
 * path) and control/ (the control socket), each started here and told
 * through hooks what only this file may decide: when the platform stops.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include "control/control.h"
#include "jail/caps.h"
#include "jail/spawn.h"
#include "log.h"
#include "notify.h"
#include "seccomp_load.h"
#include "serve/serve.h"
#include "state/config.h"
#include "state/kvstore.h"
#include "state/registry.h"
#include "state/store.h"
#include "util.h"

#define DEFAULT_CONFIG "/etc/switchyard/switchyard.ini"
#define MAX_FDS 65536

/* The supervisor: what this file owns, as OpenBSD's httpd_env. The layers
 * below get what they need of it when they start. */
static struct supervisor {
	struct sup_config *conf;
	struct ev_loop *loop;
	struct spawn_opts spawn;
	int stop_code;           /* >= 0 once stopping */
	int sigfd;
} sup = { .spawn = { .jail = 1, .cgroups = 1 }, .stop_code = -1,
            .sigfd = -1 };

static int stopping(void)
{
	return sup.stop_code >= 0;
}

/* The end of every loop turn: the request path writes what the turn
 * queued; the loop ends once stopping and every child has been reaped. */
static void before_sleep(struct ev_loop *loop, void *arg)
{
	(void)arg;
	serve_settle();
	if (stopping() && serve_children() == 0)
		ev_stop(loop);
}

static void shutdown_with(int code)
{
	char err[256];

	if (stopping())
		return;
	sup.stop_code = code;
	log_info("stopping");
	if (notify_stopping(err, sizeof(err)) == -1)
		log_warnx("%s", err);
	serve_shutdown();
	control_close();
}

/* serve_hooks.router_lost: the router is our own program, so its death
 * or a protocol error of its is a bug to fix, not a tenant to survive. */
static void router_lost(void)
{
	shutdown_with(1);
}

/* control_hooks.shutdown: `yardctl shutdown`. */
static void ctl_shutdown(void)
{
	shutdown_with(0);
}

static void reap_children(void)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (!serve_reaped(pid, status))
			log_debug("reaped process %d, not ours", (int)pid);
	}
	if (pid == -1 && errno != ECHILD)
		log_warn("waitpid");
}

static void on_signal(struct ev_loop *loop, int fd, uint32_t events,
                      void *arg)
{
	struct signalfd_siginfo si;
	ssize_t n;

	(void)loop;
	(void)events;
	(void)arg;
	while ((n = read(fd, &si, sizeof(si))) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGINT:
		case SIGTERM:
			if (!stopping())
				log_info("received SIG%s",
				         sigabbrev_np((int)si.ssi_signo));
			shutdown_with(0);
			break;
		case SIGHUP:
			/* as `yardctl reload` */
			if (!stopping())
				control_reload();
			break;
		case SIGCHLD:
			reap_children();
			break;
		}
	}
	if (n == -1 && errno != EAGAIN && errno != EINTR)
		log_warn("signalfd read");
}

/* Signals become events of the loop; children unblock them again. */
static int signals_block(void)
{
	sigset_t set;

	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return -1;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		return -1;
	sup.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return sup.sigfd == -1 ? -1 : 0;
}

/* mkdir -p with mode 0755 for what is missing. */
static int make_dir(const char *path)
{
	char buf[4096], *p;

	if (strlen(path) >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0755) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

static int listen_open(const char *addr, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, on = 1;

	if (sy_parse_hostport(addr, &ss, &len, err, errlen) == -1)
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	            0);
	if (fd == -1) {
		snprintf(err, errlen, "listen %s: socket: %s", addr,
		         strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    (ss.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1)) {
		snprintf(err, errlen, "listen %s: setsockopt: %s", addr,
		         strerror(errno));
		close(fd);
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, SOMAXCONN) == -1) {
		snprintf(err, errlen, "listen %s: %s", addr, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* The router gets the listening sockets, the admin one last; we keep none
 * of them. */
static void start_router(void)
{
	const struct sup_config *conf = sup.conf;
	char err[512];
	int *fds;
	size_t i, n = conf->nlisten;

	if ((fds = calloc(n + 1, sizeof(*fds))) == NULL)
		fatalx("listen: %s", strerror(ENOMEM));
	for (i = 0; i < n; i++) {
		fds[i] = listen_open(conf->listen[i], err, sizeof(err));
		if (fds[i] == -1)
			fatalx("%s", err);
		log_info("listening on %s", conf->listen[i]);
	}
	if (conf->admin_listen != NULL) {
		fds[n] = listen_open(conf->admin_listen, err, sizeof(err));
		if (fds[n] == -1)
			fatalx("admin_listen: %s", err);
		log_info("admin listener on %s", conf->admin_listen);
		n++;
	}
	if (serve_router_start(fds, n, err, sizeof(err)) == -1)
		fatalx("%s", err);
	for (i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
}

static void boot_deploys(void)
{
	const struct boot_deploy *b;
	char err[512];
	size_t i;
	int v;

	store_defer(1, NULL, NULL, 0);
	for (i = 0; i < sup.conf->nboot; i++) {
		b = &sup.conf->boot[i];
		v = registry_deploy_path(b->ns, b->name, b->exe, &b->spec, err,
		                         sizeof(err));
		if (v == -1)
			fatalx("%s: %s", sup.conf->path, err);
		log_info("%s/%s: version %d from %s", b->ns, b->name, v, b->exe);
	}
	if (store_defer(0, sup.conf->state_dir, err, sizeof(err)) == -1)
		fatalx("%s", err);
}

/* A dispatch worker deployed before bindings existed (or without one)
 * can call no tenant: every request it forwards is denied. Said once, at
 * start, naming the fix. */
static void check_dispatch_bindings(void)
{
	const struct worker *w = registry_find(sup.conf->dispatch_ns,
	                                       sup.conf->dispatch_name);

	if (w != NULL && worker_version(w)->ndispatch_ns == 0)
		log_warnx("dispatch worker %s/%s version %u binds no dispatch "
		          "namespace: it can call no worker (deploy it with "
		          "--dispatch-namespace NS, or dispatch_namespace = NS "
		          "in its [deploy] section)", w->ns, w->name,
		          worker_version(w)->number);
}

/* Room for many workers' descriptors; children inherit the raised limit. */
static int loop_size(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < MAX_FDS ? rl.rlim_max : MAX_FDS;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur < MAX_FDS ? (int)rl.rlim_cur : MAX_FDS;
}

/* Without the privileges the jail needs, only an explicit, loud opt-out
 * starts: a worker must never run unjailed by accident. */
static void check_privileges(const struct spawn_opts *o)
{
	char missing[256];

	if (!o->jail) {
		log_warnx("INSECURE: --insecure-no-jail: workers run as this "
		          "process's user (uid %u) with no namespaces, cgroup "
		          "or seccomp filter; never use this in production",
		          (unsigned)geteuid());
		return;
	}
	if (caps_jail_missing(missing, sizeof(missing)) == -1)
		fatalx("cannot jail workers: this process lacks %s (run the "
		       "supervisor as root, or start it with "
		       "--insecure-no-jail to run workers unjailed)", missing);
	if (!o->cgroups)
		log_warnx("WARNING: --no-cgroups: workers run without memory, "
		          "CPU or process caps; only their rlimits bound them");
}

/*
 * Start-up is over (the listening sockets are open and the router has
 * them): from here on the supervisor gives up what it never needs.
 * supervisor.policy is a deny-list: the supervisor keeps every call it
 * needs to build jails (clone with namespaces, mount, pivot_root, set*id,
 * capset, seccomp, exec) and loses the kernel interfaces it never uses
 * (bpf, ptrace, modules, kexec, io_uring, keys, perf, sockets other than
 * AF_UNIX, ...). Workers inherit the filter under their own: the stricter
 * action wins, so nothing the supervisor gives up is open to a worker.
 */
static void sandbox(void)
{
	char policy[4096], loaded[4096], err[1024];

	snprintf(policy, sizeof(policy), "%s/supervisor.policy",
	         sup.conf->seccomp_dir);
	if (seccomp_profile_load(policy, err, sizeof(err)) == -1)
		fatalx("sandbox: %s", err);
	seccomp_profile_path(policy, loaded, sizeof(loaded));
	log_info("seccomp profile %s loaded", loaded);
}

/* The seccomp profile every plan names, for spawn_init to compile now:
 * a missing or broken one stops the start. */
static const char **plan_profiles(const struct sup_config *conf)
{
	const char **names = calloc(conf->nplans + 1, sizeof(*names));
	size_t i;

	if (names == NULL)
		fatalx("plans: %s", strerror(ENOMEM));
	for (i = 0; i < conf->nplans; i++)
		names[i] = conf->plans[i].jail.seccomp;
	return names;
}

static void start_jail(void)
{
	const char **profiles = plan_profiles(sup.conf);
	struct spawn_opts *o = &sup.spawn;
	char err[512];

	o->run_dir = sup.conf->run_dir;
	o->seccomp_dir = sup.conf->seccomp_dir;
	o->profiles = profiles;
	o->nprofiles = sup.conf->nplans;
	if (spawn_init(o, err, sizeof(err)) == -1)
		fatalx("%s%s", err, o->cgroups && strncmp(err, "cgroup", 6) == 0
		       ? " (start with --no-cgroups to run workers without "
		         "memory, CPU and process caps)" : "");
	free(profiles);
	o->profiles = NULL;
	o->nprofiles = 0;
}

static void start_state(void)
{
	static const struct registry_hooks hooks = {
		.version_changed = serve_version_changed,
		.removing = serve_worker_removing,
	};
	char err[512];

	if (kvstore_configure(sup.conf->state_dir, sup.conf->kv_max_mb) == -1)
		fatal("kv");
	if (registry_init(sup.conf, &hooks, err, sizeof(err)) == -1)
		fatalx("%s", err);
}

static void start(void)
{
	static const struct serve_hooks serve_hooks = {
		.router_lost = router_lost,
	};
	static const struct control_hooks ctl_hooks = {
		.shutdown = ctl_shutdown,
	};
	char err[512];

	if (make_dir(sup.conf->state_dir) == -1)
		fatal("state_dir %s", sup.conf->state_dir);
	if (make_dir(sup.conf->run_dir) == -1)
		fatal("run_dir %s", sup.conf->run_dir);
	start_jail();
	if ((sup.loop = ev_new(loop_size())) == NULL)
		fatal("event loop");
	ev_set_before_sleep(sup.loop, before_sleep, NULL);
	if (serve_init(sup.loop, sup.conf, &serve_hooks, err,
	               sizeof(err)) == -1)
		fatalx("%s", err);
	start_state();
	boot_deploys();
	check_dispatch_bindings();
	start_router();
	if (control_listen(sup.loop, sup.conf, &ctl_hooks, err,
	                   sizeof(err)) == -1)
		fatalx("%s", err);
	if (ev_add(sup.loop, sup.sigfd, EPOLLIN, on_signal, NULL) == -1)
		fatal("signalfd");
}

/* The listening sockets queue connections already; the router accepts
 * them as soon as it runs. */
static void ready_notify(void)
{
	char status[512], err[512];

	snprintf(status, sizeof(status), "serving %zu address%s, workers %s",
	         sup.conf->nlisten, sup.conf->nlisten == 1 ? "" : "es",
	         sup.spawn.jail ? "jailed" : "NOT JAILED");
	if (notify_ready(status, err, sizeof(err)) == -1)
		log_warnx("%s", err);
}

static void stop(void)
{
	registry_free();
	spawn_fini();
	serve_fini();
	kvstore_close();
	close(sup.sigfd);
	sup.sigfd = -1;
	notify_fini();
	ev_free(sup.loop);
	sup.loop = NULL;
	config_free(sup.conf);
	sup.conf = NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: switchyard-supervisor [-d] [-c config] "
	        "[--no-cgroups] [--insecure-no-jail]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "no-cgroups", no_argument, NULL, 'G' },
		{ "insecure-no-jail", no_argument, NULL, 'J' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = DEFAULT_CONFIG;
	int ch, debug = 0;
	char err[1024];

	while ((ch = getopt_long(argc, argv, "c:d", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 'G':
			sup.spawn.cgroups = 0;
			break;
		case 'J':
			sup.spawn.jail = 0;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("switchyard-supervisor", SY_LOG_INFO);
	/* before the router is started: it must not inherit NOTIFY_SOCKET */
	if (notify_init(err, sizeof(err)) == -1)
		log_warnx("%s", err);
	if ((sup.conf = config_load(path, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	if (debug)
		sup.conf->log_level = SY_LOG_DEBUG;
	log_setlevel(sup.conf->log_level);
	check_privileges(&sup.spawn);
	/* a fatal start-up error must not leave cgroups behind either */
	if (atexit(spawn_fini) != 0)
		fatalx("atexit: cannot register the cgroups' cleanup");
	if (signals_block() == -1)
		fatal("signals");
	start();
	sandbox();
	log_info("ready (config %s, control socket %s, workers %s)",
	         sup.conf->path, sup.conf->control_socket,
	         sup.spawn.jail ? "jailed" : "NOT JAILED (INSECURE)");
	ready_notify();
	if (ev_run(sup.loop) == -1)
		fatal("event loop");
	stop();
	log_info("stopped");
	return sup.stop_code < 0 ? 0 : sup.stop_code;
}
