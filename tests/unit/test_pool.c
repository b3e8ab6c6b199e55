/*
 * The pool of worker processes (supervisor/serve/pool*.c), linked with the
 * request path and the layers below it only: real processes of the echo
 * example run unjailed (spawn_opts.jail = 0, as --insecure-no-jail), a
 * registry in a temporary state_dir, and the real event loop. A socketpair
 * stands for the router: the test writes REQUEST and REQ_BODY frames on
 * its end and reads the answers there, while the supervisor's end is a
 * peer whose frames go to call.c as the router's do.
 *
 * echo reads a request's whole body before it answers, so a REQUEST sent
 * without its body keeps its process BUSY until the test sends the body:
 * that is how the tests hold a process in the middle of a call.
 *
 * Each test deploys a worker of its own and makes it the dispatch worker,
 * so none sees another's processes. The plans: one instance and a queue
 * of one (default), the same with a 1 s idle timeout (idle). Nothing here
 * needs root: unjailed workers run as the test does.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "frame.h"
#include "jail/spawn.h"
#include "log.h"
#include "serve/call.h"
#include "serve/peer.h"
#include "serve/pool.h"
#include "serve/pool_state.h"
#include "serve/serve.h"
#include "state/config.h"
#include "state/registry.h"
#include "switchyard.pb-c.h"
#include "util.h"

#define WAIT_MS 5000        /* longest wait for anything the loop does */
#define NSTREAMS 64         /* streams the whole run may open */

/* What came back on one stream of the fake router. */
struct answer {
	int got;                  /* a RESPONSE came */
	int ended;                /* and its answer's END (or ABORT) */
	int odd;                  /* a frame that should not have come */
	Switchyard__Outcome outcome;
	uint32_t status, retry_after_s;
	char reason[256];
	char body[256];
	size_t body_len;
};

static char tmp[64];
static char echo_exe[PATH_MAX];
static struct sup_config *conf;
static struct ev_loop *loop;
static int sigfd = -1;
static struct peer origin;          /* the supervisor's end of the router */
static int router_fd = -1;          /* the test's end */
static struct sy_reader rd;
static struct sy_writer wr;
static struct answer answers[NSTREAMS];
static uint32_t last_stream;
static int router_odd;           /* odd frames or breaks it saw */

/* What run_until waits for: cond(w, n) true. */
typedef int cond_fn(struct worker *w, uint32_t n);
static cond_fn *until;
static struct worker *until_w;
static uint32_t until_n;
static int timed_out;

/* ---- the fake router ---- */

/* The supervisor's end: frames as serve.c's router_frame hands them. */
static void origin_frame(struct peer *p, const struct sy_frame *f)
{
	switch (f->type) {
	case SY_MSG_REQUEST:
		call_request(p, f);
		break;
	case SY_MSG_REQ_BODY:
		call_req_body(p, f);
		break;
	case SY_MSG_CANCEL:
		call_cancel(p, f);
		break;
	default:
		router_odd++;
		break;
	}
}

static void origin_broken(struct peer *p, int err, const char *why)
{
	(void)err;
	fprintf(stderr, "test_pool: the fake router's channel broke: %s\n",
	        why);
	router_odd++;
	peer_close(p);
}

static const struct peer_ops origin_ops = {
	.frame = origin_frame,
	.broken = origin_broken,
};

static void router_lost(void)
{
	router_odd++;
}

static void record_response(struct answer *a, const struct sy_frame *f)
{
	Switchyard__Response *r;

	r = switchyard__response__unpack(NULL, f->len, f->payload);
	if (r == NULL || a->got) {
		a->odd++;
	} else {
		a->got = 1;
		a->outcome = r->outcome;
		a->status = r->status;
		a->retry_after_s = r->retry_after_s;
		snprintf(a->reason, sizeof(a->reason), "%s", r->reason);
		a->ended = (f->flags & SY_FLAG_END) != 0;
	}
	if (r != NULL)
		switchyard__response__free_unpacked(r, NULL);
}

static void record_body(struct answer *a, const struct sy_frame *f)
{
	if (!a->got || a->ended ||
	    a->body_len + f->len >= sizeof(a->body)) {
		a->odd++;
		return;
	}
	memcpy(a->body + a->body_len, f->payload, f->len);
	a->body_len += f->len;
	a->ended = (f->flags & (SY_FLAG_END | SY_FLAG_ABORT)) != 0;
}

static void record(const struct sy_frame *f)
{
	struct answer *a;

	if (f->stream == 0 || f->stream >= NSTREAMS) {
		router_odd++;
		return;
	}
	a = &answers[f->stream];
	if (f->type == SY_MSG_RESPONSE)
		record_response(a, f);
	else if (f->type == SY_MSG_RES_BODY)
		record_body(a, f);
	else
		a->odd++;
}

/* The test's end: answers are recorded by stream, never asserted here
 * (an assertion would jump out of the loop). */
static void router_readable(struct ev_loop *l, int fd, uint32_t events,
                            void *arg)
{
	struct sy_frame f;
	ssize_t n;

	(void)events;
	(void)arg;
	while ((n = sy_reader_fill(&rd, fd)) > 0) {
		while (sy_reader_next(&rd, &f) == 1)
			record(&f);
	}
	if (n == 0) {
		router_odd++;
		ev_del(l, fd);
	}
}

/* A REQUEST whose body is still to come: echo waits for it, BUSY. */
static uint32_t hold(void)
{
	Switchyard__Request r = SWITCHYARD__REQUEST__INIT;
	uint32_t s = ++last_stream;

	assert_true(s < NSTREAMS);
	r.method = (char *)"POST";
	r.url = (char *)"/";
	assert_int_equal(sy_writer_msg(&wr, SY_MSG_REQUEST, 0, s, &r.base), 0);
	assert_int_equal(sy_writer_flush_all(&wr, router_fd), 0);
	return s;
}

/* The body of stream s, and its END. */
static void finish(uint32_t s, const char *body)
{
	assert_int_equal(sy_writer_raw(&wr, SY_MSG_REQ_BODY, SY_FLAG_END, s,
	                               body, strlen(body)), 0);
	assert_int_equal(sy_writer_flush_all(&wr, router_fd), 0);
}

static uint32_t ask(const char *body)
{
	uint32_t s = hold();

	finish(s, body);
	return s;
}

/* ---- running the loop ---- */

static void reap(struct ev_loop *l, int fd, uint32_t events, void *arg)
{
	struct signalfd_siginfo si;
	int status;
	pid_t pid;

	(void)l;
	(void)events;
	(void)arg;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		serve_reaped(pid, status);
}

/* As main.c's: what the turn queued is written; then the test's check. */
static void before_sleep(struct ev_loop *l, void *arg)
{
	(void)arg;
	serve_settle();
	if (until != NULL && until(until_w, until_n))
		ev_stop(l);
}

static void deadline(struct ev_loop *l, void *arg)
{
	(void)arg;
	timed_out = 1;
	ev_stop(l);
}

/* Runs the loop until cond(w, n) holds (1) or ms pass (0). */
static int run_until(cond_fn *cond, struct worker *w, uint32_t n,
                     unsigned ms)
{
	uint64_t t;

	until = cond;
	until_w = w;
	until_n = n;
	timed_out = 0;
	t = ev_timer_add(loop, ms, deadline, NULL);
	assert_int_not_equal(t, 0);
	assert_int_equal(ev_run(loop), 0);
	ev_timer_del(loop, t);
	until = NULL;
	return cond(w, n);
}

static int answered(struct worker *w, uint32_t s)
{
	(void)w;
	return answers[s].ended;
}

static struct pool_stats stats_of(struct worker *w)
{
	struct pool_stats st;

	pool_stats(w, &st);
	return st;
}

static int busy_is(struct worker *w, uint32_t n)
{
	return stats_of(w).busy == n;
}

static int queued_is(struct worker *w, uint32_t n)
{
	return stats_of(w).queued == n;
}

static int live_is(struct worker *w, uint32_t n)
{
	return stats_of(w).live == n;
}

/* Every process of w has been reaped. */
static int none_left(struct worker *w, uint32_t n)
{
	(void)n;
	return pool_op_none_left(w);
}

static int no_children(struct worker *w, uint32_t n)
{
	(void)w;
	(void)n;
	return serve_children() == 0;
}

static uint64_t spawns_of(struct worker *w)
{
	const struct pool_metrics *m;
	uint32_t idle;

	m = pool_metrics(w, &idle);
	return m != NULL ? m->spawns : 0;
}

/* ---- what the tests share ---- */

/* Deploys echo as tenants/name under plan (NULL: default) with env (may be
 * NULL), and makes it the worker requests go to. */
static struct worker *deploy(const char *name, const char *plan,
                             const char *env)
{
	struct deploy_spec spec;
	char *envs[1] = { (char *)env };
	char err[512];
	struct worker *w;

	memset(&spec, 0, sizeof(spec));
	if (plan != NULL)
		snprintf(spec.plan, sizeof(spec.plan), "%s", plan);
	if (env != NULL) {
		spec.env = envs;
		spec.nenv = 1;
	}
	if (registry_deploy_path("tenants", name, echo_exe, &spec, err,
	                         sizeof(err)) == -1)
		fail_msg("deploy %s: %s", name, err);
	snprintf(conf->dispatch_ns, sizeof(conf->dispatch_ns), "tenants");
	snprintf(conf->dispatch_name, sizeof(conf->dispatch_name), "%s", name);
	w = registry_find("tenants", name);
	assert_non_null(w);
	return w;
}

static void expect_ok(struct worker *w, uint32_t s, const char *body)
{
	const struct answer *a = &answers[s];

	assert_true(run_until(answered, w, s, WAIT_MS));
	assert_int_equal(a->odd, 0);
	assert_int_equal(a->outcome, SWITCHYARD__OUTCOME__OK);
	assert_int_equal(a->status, 200);
	assert_int_equal(a->body_len, strlen(body));
	assert_memory_equal(a->body, body, a->body_len);
}

/* ---- the tests ---- */

/* Every state x event has an action, "refuse" where the event cannot
 * happen; and the cells that make up the usual life are the ones meant. */
static void test_table_is_total(void **state)
{
	unsigned s, e, refused = 0;
	const char *name;

	(void)state;
	for (s = 0; s < PROC_NSTATES; s++) {
		assert_non_null(pool_proc_state_name(s));
		for (e = 0; e < PROC_NEVENTS; e++) {
			assert_non_null(pool_proc_event_name(e));
			name = pool_proc_action(s, e);
			if (name == NULL)
				fail_msg("no action for %s in %s",
				         pool_proc_event_name(e),
				         pool_proc_state_name(s));
			refused += strcmp(name, "refuse") == 0;
		}
	}
	assert_null(pool_proc_action(PROC_NSTATES, 0));
	assert_null(pool_proc_action(0, PROC_NEVENTS));
	/* some cells cannot happen, most can */
	assert_true(refused > 0 && refused < PROC_NSTATES * PROC_NEVENTS / 2);
	assert_string_equal(pool_proc_action(PROC_STARTING, PROC_EV_HELLO),
	                    "starting_hello");
	assert_string_equal(pool_proc_action(PROC_READY, PROC_EV_ASSIGN),
	                    "ready_assign");
	assert_string_equal(pool_proc_action(PROC_BUSY, PROC_EV_END),
	                    "busy_end");
	assert_string_equal(pool_proc_action(PROC_BUSY, PROC_EV_DRAIN),
	                    "busy_drain");
	assert_string_equal(pool_proc_action(PROC_DRAINING, PROC_EV_END),
	                    "draining_end");
	assert_string_equal(pool_proc_action(PROC_DEAD, PROC_EV_REAPED),
	                    "reap_dead");
	/* a process is given calls when READY, or when BUSY below its
	 * concurrency (a dispatch process), never otherwise */
	assert_string_equal(pool_proc_action(PROC_BUSY, PROC_EV_ASSIGN),
	                    "busy_assign");
	for (s = 0; s < PROC_NSTATES; s++) {
		if (s != PROC_READY && s != PROC_BUSY)
			assert_string_equal(pool_proc_action(s, PROC_EV_ASSIGN),
			                    "refuse");
	}
}

/* Nothing runs before the first request; one process then serves both
 * requests, one after the other. */
static void test_starts_on_demand_and_is_reused(void **state)
{
	struct worker *w = deploy("reuse", NULL, NULL);
	struct pool_stats st;
	pid_t pid;

	(void)state;
	assert_int_equal(stats_of(w).live, 0);
	assert_int_equal(spawns_of(w), 0);
	expect_ok(w, ask("one"), "one");
	st = stats_of(w);
	assert_int_equal(st.live, 1);
	assert_int_equal(st.npids, 1);
	assert_int_equal(spawns_of(w), 1);
	pid = st.pids[0];
	expect_ok(w, ask("two"), "two");
	st = stats_of(w);
	assert_int_equal(spawns_of(w), 1);
	assert_int_equal(st.npids, 1);
	assert_int_equal(st.pids[0], pid);
	assert_int_equal(st.requests, 2);
	assert_int_equal(st.errors, 0);
}

/* With its one process busy, a call waits in the queue of one; the next
 * is shed at once, and the waiting one is served after the busy one. */
static void test_full_queue_sheds_load(void **state)
{
	struct worker *w = deploy("shed", NULL, NULL);
	const struct answer *a;
	uint32_t first, second, third;

	(void)state;
	first = hold();
	assert_true(run_until(busy_is, w, 1, WAIT_MS));
	second = ask("second");
	assert_true(run_until(queued_is, w, 1, WAIT_MS));
	third = ask("third");
	assert_true(run_until(answered, w, third, WAIT_MS));
	a = &answers[third];
	assert_int_equal(a->outcome, SWITCHYARD__OUTCOME__LOAD_SHED);
	assert_non_null(strstr(a->reason, "queue full"));
	assert_int_equal(a->retry_after_s, 1);
	assert_false(answers[first].got);
	assert_false(answers[second].got);
	finish(first, "first");
	expect_ok(w, first, "first");
	expect_ok(w, second, "second");
	assert_int_equal(spawns_of(w), 1);
	assert_int_equal(stats_of(w).queued, 0);
}

/* A process killed in the middle of a call fails that call with how it
 * ended; the next request gets a new process. */
static void test_killed_process_fails_its_call(void **state)
{
	struct worker *w = deploy("kill", NULL, NULL);
	const struct answer *a;
	struct pool_stats st;
	uint32_t s;
	pid_t pid;

	(void)state;
	s = hold();
	assert_true(run_until(busy_is, w, 1, WAIT_MS));
	st = stats_of(w);
	assert_int_equal(st.npids, 1);
	pid = st.pids[0];
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_true(run_until(answered, w, s, WAIT_MS));
	a = &answers[s];
	assert_int_equal(a->outcome, SWITCHYARD__OUTCOME__EXCEPTION);
	assert_non_null(strstr(a->reason, "SIGKILL"));
	assert_true(run_until(none_left, w, 0, WAIT_MS));
	assert_int_equal(stats_of(w).errors, 1);
	expect_ok(w, ask("after"), "after");
	st = stats_of(w);
	assert_int_equal(spawns_of(w), 2);
	assert_int_equal(st.npids, 1);
	assert_int_not_equal(st.pids[0], pid);
}

/* A new version drains the busy process of the old one: it finishes its
 * call, then stops; the next call starts a process of the new version. */
static void test_new_version_drains_busy_process(void **state)
{
	struct worker *w = deploy("drain", NULL, NULL);
	struct proc *p;
	uint32_t s;

	(void)state;
	s = hold();
	assert_true(run_until(busy_is, w, 1, WAIT_MS));
	p = w->pool->procs;
	assert_non_null(p);
	assert_null(p->next);
	assert_int_equal(p->version, 1);
	assert_int_equal(p->state, PROC_BUSY);
	deploy("drain", NULL, "GENERATION=2");
	assert_int_equal(worker_version(w)->number, 2);
	assert_int_equal(p->state, PROC_DRAINING);
	assert_false(answers[s].got);
	finish(s, "old");
	expect_ok(w, s, "old");
	/* p is freed once reaped */
	assert_true(run_until(none_left, w, 0, WAIT_MS));
	assert_int_equal(stats_of(w).errors, 0);
	expect_ok(w, ask("new"), "new");
	p = w->pool->procs;
	assert_non_null(p);
	assert_int_equal(p->version, 2);
	assert_int_equal(spawns_of(w), 2);
}

/* A process idle for the plan's idle_timeout_s (1 s) is stopped, not
 * sooner; that is no failure of the worker's. */
/* Without warm processes: the idle process goes, and none replaces it. */
static void test_idle_process_is_stopped(void **state)
{
	struct worker *w = deploy("idle", "idle", NULL);
	uint32_t warm = conf->warm_processes;
	uint64_t t0;

	(void)state;
	conf->warm_processes = 0;
	expect_ok(w, ask("x"), "x");
	t0 = ev_clock_us();
	assert_int_equal(stats_of(w).live, 1);
	assert_false(run_until(live_is, w, 0, 700));
	assert_true(run_until(live_is, w, 0, WAIT_MS));
	assert_true(ev_clock_us() - t0 >= 900000);
	assert_true(run_until(none_left, w, 0, WAIT_MS));
	assert_int_equal(stats_of(w).errors, 0);
	assert_string_not_equal(stats_of(w).state, "BACKOFF");
	assert_int_equal(w->pool->fails, 0);
	conf->warm_processes = warm;
}

static int spawns_are(struct worker *w, uint32_t n)
{
	return spawns_of(w) == n;
}

/* With them: a fresh process replaces the idle one at once, outlives its
 * idle timeout while it waits, and serves the next request; only then is
 * it an ordinary process, stopped when idle and replaced in turn. */
static void test_idle_process_is_replaced_warm(void **state)
{
	struct worker *w = deploy("warm", "idle", NULL);
	uint32_t warm = conf->warm_processes;
	uint64_t spawned;

	(void)state;
	conf->warm_processes = 1;
	expect_ok(w, ask("x"), "x");
	spawned = spawns_of(w);
	assert_true(run_until(spawns_are, w, (uint32_t)spawned + 1, WAIT_MS));
	assert_true(run_until(live_is, w, 1, WAIT_MS));
	assert_true(w->pool->procs->warm);
	/* past its plan's 1 s without a request: still there */
	assert_false(run_until(live_is, w, 0, 1500));
	expect_ok(w, ask("y"), "y");
	assert_int_equal(spawns_of(w), spawned + 1);
	assert_false(w->pool->procs->warm);
	assert_true(run_until(spawns_are, w, (uint32_t)spawned + 2, WAIT_MS));
	assert_true(run_until(live_is, w, 1, WAIT_MS));
	assert_true(w->pool->procs->warm);
	conf->warm_processes = warm;
}

/* ---- the platform around them ---- */

static const char ini[] =
	"[switchyard]\n"
	"state_dir = %s/state\n"
	"run_dir = %s/run\n"
	"log_level = warn\n"
	"[plan.default]\n"
	"instances = 1\n"
	"queue = 1\n"
	"queue_timeout_ms = 5000\n"
	"idle_timeout_s = 60\n"
	"[plan.idle]\n"
	"instances = 1\n"
	"queue = 1\n"
	"idle_timeout_s = 1\n";

/* The examples are built next to the tests: $(B)/examples, $(B)/tests. */
static int find_echo(void)
{
	char exe[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n < 0)
		return -1;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return -1;
	*slash = '\0';
	n = snprintf(echo_exe, sizeof(echo_exe), "%s/../examples/echo", exe);
	if (n >= (ssize_t)sizeof(echo_exe))
		return -1;
	if (access(echo_exe, X_OK) == -1) {
		fprintf(stderr, "test_pool: %s: %s (make all builds it)\n",
		        echo_exe, strerror(errno));
		return -1;
	}
	return 0;
}

static int write_config(void)
{
	char path[128], dir[128], err[512];
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/state", tmp);
	if (mkdir(dir, 0755) == -1)
		return -1;
	snprintf(dir, sizeof(dir), "%s/run", tmp);
	if (mkdir(dir, 0755) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/switchyard.ini", tmp);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f, ini, tmp, tmp);
	if (fclose(f) != 0)
		return -1;
	if ((conf = config_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "test_pool: %s\n", err);
		return -1;
	}
	return 0;
}

/* Children are reaped from the loop, as main.c does. */
static int watch_children(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		return -1;
	sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sigfd == -1)
		return -1;
	return ev_add(loop, sigfd, EPOLLIN, reap, NULL);
}

static int open_router(void)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	if (peer_open(&origin, loop, sv[0], &origin_ops, NULL, 0) == -1) {
		close(sv[1]);
		return -1;
	}
	router_fd = sv[1];
	if (sy_set_nonblock(router_fd) == -1 ||
	    sy_reader_init(&rd, 0) == -1 || sy_writer_init(&wr) == -1)
		return -1;
	return ev_add(loop, router_fd, EPOLLIN, router_readable, NULL);
}

static int setup(void **state)
{
	static const struct serve_hooks hooks = { .router_lost = router_lost };
	static const struct registry_hooks reg_hooks = {
		.version_changed = serve_version_changed,
		.removing = serve_worker_removing,
	};
	struct spawn_opts o = { .jail = 0, .cgroups = 0 };
	char err[512];

	(void)state;
	log_init("test_pool", SY_LOG_WARN);
	snprintf(tmp, sizeof(tmp), "/tmp/sy-pool-XXXXXX");
	if (find_echo() == -1 || mkdtemp(tmp) == NULL || write_config() == -1)
		return -1;
	o.run_dir = conf->run_dir;
	o.seccomp_dir = conf->seccomp_dir;
	if (spawn_init(&o, err, sizeof(err)) == -1 ||
	    (loop = ev_new(1024)) == NULL || watch_children() == -1 ||
	    serve_init(loop, conf, &hooks, err, sizeof(err)) == -1 ||
	    registry_init(conf, &reg_hooks, err, sizeof(err)) == -1 ||
	    open_router() == -1) {
		fprintf(stderr, "test_pool: setup: %s\n", err);
		return -1;
	}
	ev_set_before_sleep(loop, before_sleep, NULL);
	return 0;
}

/* As the supervisor stops: every process told to exit and reaped, then
 * everything freed (LeakSanitizer checks). */
static int teardown(void **state)
{
	char cmd[128];
	int rc = 0;

	(void)state;
	serve_shutdown();
	if (!run_until(no_children, NULL, 0, WAIT_MS)) {
		fprintf(stderr, "test_pool: %u children left\n",
		        serve_children());
		rc = -1;
	}
	if (router_odd != 0) {
		fprintf(stderr, "test_pool: the fake router saw %d odd "
		        "frames or breaks\n", router_odd);
		rc = -1;
	}
	registry_free();
	peer_close(&origin);
	serve_fini();
	spawn_fini();
	ev_del(loop, router_fd);
	close(router_fd);
	ev_del(loop, sigfd);
	close(sigfd);
	sy_reader_free(&rd);
	sy_writer_free(&wr);
	ev_free(loop);
	config_free(conf);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		rc = -1;
	return rc;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_is_total),
		cmocka_unit_test(test_starts_on_demand_and_is_reused),
		cmocka_unit_test(test_full_queue_sheds_load),
		cmocka_unit_test(test_killed_process_fails_its_call),
		cmocka_unit_test(test_new_version_drains_busy_process),
		cmocka_unit_test(test_idle_process_is_stopped),
		cmocka_unit_test(test_idle_process_is_replaced_warm),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
