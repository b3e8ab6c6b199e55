/*
 * The request path (supervisor/serve/) without main.c, the control layer
 * or a router process: an ev loop, the registry wired to the pools, worker
 * processes spawned unjailed (spawn_opts jail 0, cgroups 0: they run as
 * this test does), and the router's channel a socketpair whose other end
 * this test speaks (serve_router_attach). Real example workers built by
 * the Makefile answer: a request reaches the dispatch worker and its
 * answer comes back (without the context the router's Request carried),
 * bodies are relayed byte for byte, an unknown dispatch
 * worker is SCRIPT_NOT_FOUND, a CANCEL frees its call, whatever breaks the
 * router's protocol reaches the router_lost hook, and the frames of one
 * loop turn leave in one write per peer.
 */
#include <errno.h>
#include <fcntl.h>
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ev.h"
#include "frame.h"
#include "jail/spawn.h"
#include "log.h"
#include "serve/pool.h"
#include "serve/routerproc.h"
#include "serve/serve.h"
#include "state/config.h"
#include "state/registry.h"
#include "switchyard.pb-c.h"
#include "testutil.h"

#define WAIT_MS 10000       /* for anything a worker process must do */
#define MAX_FRAMES 256
#define BIG_BODY 200003     /* several REQ_BODY and RES_BODY frames */

static const char ini[] =
	"[switchyard]\n"
	"state_dir = state\n"
	"run_dir = run\n"
	"uid_range = 400000-400099\n"
	"\n"
	"[plan.default]\n"
	"instances = 2\n"
	"queue = 8\n"
	"queue_timeout_ms = 5000\n"
	"idle_timeout_s = 60\n"
	"cpu_ms = 2000\n"
	"wall_ms = 10000\n";

/* A frame that reached the router's end. */
struct got {
	uint8_t type, flags;
	uint32_t stream;
	uint32_t len;
	uint8_t *payload;
};

static struct {
	char dir[64], echo[PATH_MAX], hello[PATH_MAX];
	struct sup_config *conf;
	struct ev_loop *loop;
	struct spawn_opts spawn;
	int sigfd;
	/* the router's end of its channel */
	int fd;
	int watching;
	struct sy_reader rd;
	struct sy_writer wr;
	unsigned reads;       /* reads that returned bytes */
	int eof, bad_frame;
	struct got frames[MAX_FRAMES];
	size_t nframes;
	/* what the hooks heard */
	unsigned router_lost;
	/* run_until */
	int (*until)(void);
	int timed_out;
	uint32_t want_stream;
	char err[1024];
} fx = { .sigfd = -1, .fd = -1 };

/* ---- the router's end ---- */

static void frames_clear(void)
{
	size_t i;

	for (i = 0; i < fx.nframes; i++)
		free(fx.frames[i].payload);
	fx.nframes = 0;
}

static void keep_frame(const struct sy_frame *f)
{
	struct got *g;

	if (fx.nframes == MAX_FRAMES) {
		fx.bad_frame = 1;
		return;
	}
	g = &fx.frames[fx.nframes++];
	g->type = f->type;
	g->flags = f->flags;
	g->stream = f->stream;
	g->len = f->len;
	g->payload = malloc(f->len ? f->len : 1);
	if (g->payload == NULL)
		abort();
	memcpy(g->payload, f->payload, f->len);
}

static void end_unwatch(void)
{
	if (fx.watching)
		ev_del(fx.loop, fx.fd);
	fx.watching = 0;
}

static void end_read(void)
{
	struct sy_frame f;
	ssize_t n;
	int rc;

	for (;;) {
		n = sy_reader_fill(&fx.rd, fx.fd);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			fx.eof = 1;
			end_unwatch();
			return;
		}
		fx.reads++;
		while ((rc = sy_reader_next(&fx.rd, &f)) == 1)
			keep_frame(&f);
		if (rc == -1) {
			fx.bad_frame = 1;
			end_unwatch();
			return;
		}
	}
}

/* Writes what the test queued; watches for room while some is left. */
static void end_write(void)
{
	ssize_t left;

	if (!fx.watching || sy_writer_pending(&fx.wr) == 0)
		return;
	left = sy_writer_flush(&fx.wr, fx.fd);
	if (left == -1) {
		fx.eof = 1;
		end_unwatch();
		return;
	}
	ev_mod(fx.loop, fx.fd, EPOLLIN | (left > 0 ? EPOLLOUT : 0));
}

static void end_io(struct ev_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop;
	(void)fd;
	(void)arg;
	if (events & EPOLLOUT)
		end_write();
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		end_read();
}

/* A new router channel of the given socket type, this test at one end. */
static void attach(int type)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv), 0);
	if (serve_router_attach(sv[0], fx.err, sizeof(fx.err)) == -1)
		fail_msg("%s", fx.err);
	fx.fd = sv[1];
	assert_int_equal(fcntl(fx.fd, F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(sy_reader_init(&fx.rd, 0), 0);
	assert_int_equal(sy_writer_init(&fx.wr), 0);
	assert_int_equal(ev_add(fx.loop, fx.fd, EPOLLIN, end_io, NULL), 0);
	fx.watching = 1;
	fx.reads = 0;
	fx.eof = fx.bad_frame = 0;
	frames_clear();
}

static void detach(void)
{
	if (routerproc_chan() != NULL)
		routerproc_stop();
	end_unwatch();
	if (fx.fd >= 0)
		close(fx.fd);
	fx.fd = -1;
	sy_reader_free(&fx.rd);
	sy_writer_free(&fx.wr);
	frames_clear();
}

/* ---- the loop ---- */

static void before_sleep(struct ev_loop *loop, void *arg)
{
	(void)arg;
	serve_settle();
	end_write();
	if (fx.until != NULL && fx.until())
		ev_stop(loop);
}

static void on_timeout(struct ev_loop *loop, void *arg)
{
	(void)arg;
	fx.timed_out = 1;
	ev_stop(loop);
}

/* Runs the loop until cond() holds (1) or ms pass (0). */
static int run_until(int (*cond)(void), unsigned ms)
{
	uint64_t t = ev_timer_add(fx.loop, ms, on_timeout, NULL);

	assert_true(t != 0);
	fx.until = cond;
	fx.timed_out = 0;
	assert_int_equal(ev_run(fx.loop), 0);
	ev_timer_del(fx.loop, t);
	fx.until = NULL;
	return !fx.timed_out;
}

static int never(void)
{
	return 0;
}

/* Runs the loop for ms, whatever happens: what must not happen has had
 * its chance. */
static void run_for(unsigned ms)
{
	run_until(never, ms);
}

/* As main.c does on SIGCHLD. */
static void on_sigchld(struct ev_loop *loop, int fd, uint32_t events,
                       void *arg)
{
	struct signalfd_siginfo si;
	pid_t pid;
	int status;

	(void)loop;
	(void)events;
	(void)arg;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		serve_reaped(pid, status);
}

/* serve_hooks.router_lost: what main.c does to the router's channel when
 * it stops the platform, without stopping the pools the next tests use. */
static void router_lost(void)
{
	fx.router_lost++;
	routerproc_stop();
}

/* ---- requests and answers ---- */

static void send_request(uint32_t stream, const char *method,
                         const char *url, const char *type, int end)
{
	Switchyard__Request r = SWITCHYARD__REQUEST__INIT;
	Switchyard__Header h[3] = { SWITCHYARD__HEADER__INIT,
		                    SWITCHYARD__HEADER__INIT,
		                    SWITCHYARD__HEADER__INIT };
	Switchyard__Header *hs[2] = { &h[0], &h[1] }, *ctx = &h[2];

	/* a router never sets context; one that did must not be believed */
	h[2].name = (char *)"customer_id";
	h[2].value = (char *)"cus_from_the_router";
	r.context = &ctx;
	r.n_context = 1;
	r.method = (char *)method;
	r.url = (char *)url;
	r.remote_addr = (char *)"192.0.2.7:4321";
	h[0].name = (char *)"X-Test";
	h[0].value = (char *)"yes";
	h[1].name = (char *)"Content-Type";
	h[1].value = (char *)type;
	r.headers = hs;
	r.n_headers = type != NULL ? 2 : 1;
	assert_int_equal(sy_writer_msg(&fx.wr, SY_MSG_REQUEST,
	                               end ? SY_FLAG_END : 0, stream, &r.base),
	                 0);
}

static void send_raw(uint8_t type, uint8_t flags, uint32_t stream,
                     const void *data, size_t len)
{
	assert_int_equal(sy_writer_raw(&fx.wr, type, flags, stream, data, len),
	                 0);
}

/* The answer on a stream, as far as it came. */
struct answer {
	Switchyard__Response *r;
	uint8_t *body;
	size_t len, nbody_frames;
	int done, aborted;
};

static void answer_free(struct answer *a)
{
	if (a->r != NULL)
		switchyard__response__free_unpacked(a->r, NULL);
	free(a->body);
	memset(a, 0, sizeof(*a));
}

static void answer_of(uint32_t stream, struct answer *a)
{
	struct got *g;
	size_t i;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < fx.nframes; i++) {
		g = &fx.frames[i];
		if (g->stream != stream)
			continue;
		if (g->type == SY_MSG_RESPONSE && a->r == NULL) {
			a->r = switchyard__response__unpack(NULL, g->len,
			                                    g->payload);
			assert_non_null(a->r);
		} else if (g->type == SY_MSG_RES_BODY && a->r != NULL) {
			a->body = realloc(a->body, a->len + g->len + 1);
			assert_non_null(a->body);
			memcpy(a->body + a->len, g->payload, g->len);
			a->len += g->len;
			a->nbody_frames++;
			a->aborted |= (g->flags & SY_FLAG_ABORT) != 0;
		} else {
			fail_msg("unexpected %s frame on stream %u",
			         sy_msg_name(g->type), stream);
		}
		if (g->flags & SY_FLAG_END)
			a->done = 1;
	}
	if (a->body != NULL)
		a->body[a->len] = '\0';
}

static size_t frames_on(uint32_t stream)
{
	size_t i, n = 0;

	for (i = 0; i < fx.nframes; i++)
		n += fx.frames[i].stream == stream;
	return n;
}

static int stream_done(void)
{
	size_t i;

	for (i = 0; i < fx.nframes; i++) {
		if (fx.frames[i].stream == fx.want_stream &&
		    (fx.frames[i].flags & SY_FLAG_END))
			return 1;
	}
	return fx.eof || fx.bad_frame;
}

/* Runs the loop until stream's answer has ended, and returns it. */
static void wait_answer(uint32_t stream, struct answer *a)
{
	fx.want_stream = stream;
	if (!run_until(stream_done, WAIT_MS))
		fail_msg("no answer on stream %u within %u ms", stream,
		         WAIT_MS);
	assert_false(fx.bad_frame);
	answer_of(stream, a);
	assert_true(a->done);
	assert_non_null(a->r);
}

static const char *header(const Switchyard__Response *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->n_headers; i++) {
		if (strcasecmp(r->headers[i]->name, name) == 0)
			return r->headers[i]->value;
	}
	return NULL;
}

static struct worker *dispatcher(void)
{
	return registry_find(fx.conf->dispatch_ns, fx.conf->dispatch_name);
}

static void deploy_dispatcher(const char *exe)
{
	static const struct deploy_spec none;

	if (registry_deploy_path(fx.conf->dispatch_ns, fx.conf->dispatch_name,
	                         exe, &none, fx.err, sizeof(fx.err)) == -1)
		fail_msg("%s", fx.err);
}

static void delete_dispatcher(void)
{
	assert_non_null(dispatcher());
	assert_int_equal(registry_delete(dispatcher(), fx.err,
	                                 sizeof(fx.err)), 0);
}

static uint64_t outcomes(Switchyard__Outcome o)
{
	const struct pool_metrics *m;
	uint32_t idle;

	m = dispatcher() != NULL ? pool_metrics(dispatcher(), &idle) : NULL;
	return m != NULL ? m->outcomes[o] : 0;
}

/* ---- set-up ---- */

static int no_children(void)
{
	return serve_children() == 0;
}

static int group_setup(void **state)
{
	static const struct serve_hooks serve_hooks = {
		.router_lost = router_lost,
	};
	static const struct registry_hooks reg_hooks = {
		.version_changed = serve_version_changed,
		.removing = serve_worker_removing,
	};
	char path[128];
	sigset_t set;

	(void)state;
	if (tu_build_path("examples/echo", fx.echo, sizeof(fx.echo)) == -1 ||
	    tu_build_path("examples/hello", fx.hello, sizeof(fx.hello)) == -1 ||
	    access(fx.echo, X_OK) == -1 || access(fx.hello, X_OK) == -1) {
		fprintf(stderr, "test_call: no %s or %s: build the examples "
		        "first (make all)\n", fx.echo, fx.hello);
		return -1;
	}
	/* children are reaped from the loop, as main.c does */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR ||
	    sigprocmask(SIG_BLOCK, &set, NULL) == -1 ||
	    (fx.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		return -1;
	if (tu_mkdtemp(fx.dir, sizeof(fx.dir), "call") == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/switchyard.ini", fx.dir);
	if (tu_write_file(path, ini, strlen(ini), 0644) == -1 ||
	    (fx.conf = config_load(path, fx.err, sizeof(fx.err))) == NULL)
		goto fail;
	if ((fx.loop = ev_new(1024)) == NULL ||
	    ev_add(fx.loop, fx.sigfd, EPOLLIN, on_sigchld, NULL) == -1)
		goto fail;
	ev_set_before_sleep(fx.loop, before_sleep, NULL);
	fx.spawn.jail = 0;
	fx.spawn.cgroups = 0;
	fx.spawn.run_dir = fx.conf->run_dir;
	fx.spawn.seccomp_dir = fx.conf->seccomp_dir;
	if (spawn_init(&fx.spawn, fx.err, sizeof(fx.err)) == -1 ||
	    serve_init(fx.loop, fx.conf, &serve_hooks, fx.err,
	               sizeof(fx.err)) == -1 ||
	    registry_init(fx.conf, &reg_hooks, fx.err, sizeof(fx.err)) == -1)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "test_call: set-up: %s\n", fx.err[0] ? fx.err
	        : strerror(errno));
	return -1;
}

static int group_teardown(void **state)
{
	int rc = 0;

	(void)state;
	serve_shutdown();
	if (!run_until(no_children, 5000)) {
		fprintf(stderr, "test_call: %u children left\n",
		        serve_children());
		rc = -1;
	}
	registry_free();
	spawn_fini();
	serve_fini();
	ev_del(fx.loop, fx.sigfd);
	close(fx.sigfd);
	ev_free(fx.loop);
	config_free(fx.conf);
	if (tu_rm_rf(fx.dir) == -1)
		rc = -1;
	return rc;
}

/* Each test: a fresh stream channel, the router_lost count at 0, and echo
 * deployed as the dispatch worker. */
static int setup(void **state)
{
	(void)state;
	fx.router_lost = 0;
	attach(SOCK_STREAM);
	deploy_dispatcher(fx.echo);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	detach();
	return 0;
}

/* ---- tests ---- */

static void test_request_answered(void **state)
{
	uint64_t ok = outcomes(SWITCHYARD__OUTCOME__OK);
	struct answer a;

	(void)state;
	send_request(1, "GET", "/hello", NULL, 1);
	wait_answer(1, &a);
	assert_int_equal(a.r->outcome, SWITCHYARD__OUTCOME__OK);
	assert_int_equal(a.r->status, 200);
	assert_string_equal(a.r->worker, "platform/dispatcher");
	assert_string_equal(a.r->reason, "");
	assert_true(a.r->wall_us > 0);
	/* echo answered it */
	assert_non_null(header(a.r, "X-Worker"));
	assert_string_equal(header(a.r, "X-Worker"), "echo");
	assert_string_equal(header(a.r, "X-Body-Length"), "0");
	assert_int_equal(a.r->body_len, 0);
	assert_int_equal(a.len, 0);
	answer_free(&a);

	/* the request arrived whole: echo lists its headers */
	send_request(3, "GET", "/headers", "text/x-test", 1);
	wait_answer(3, &a);
	assert_int_equal(a.r->outcome, SWITCHYARD__OUTCOME__OK);
	assert_int_equal(a.r->status, 200);
	assert_int_equal(a.r->body_len, a.len);
	assert_non_null(a.body);
	assert_non_null(strstr((char *)a.body, "X-Test: yes\n"));
	assert_non_null(strstr((char *)a.body, "Content-Type: text/x-test\n"));
	answer_free(&a);

	/* the context the router's Request carried never reached echo */
	send_request(5, "GET", "/context", NULL, 1);
	wait_answer(5, &a);
	assert_int_equal(a.r->outcome, SWITCHYARD__OUTCOME__OK);
	assert_int_equal(a.r->status, 200);
	assert_int_equal(a.len, 0);
	answer_free(&a);
	assert_int_equal(fx.router_lost, 0);
	assert_int_equal(outcomes(SWITCHYARD__OUTCOME__OK), ok + 3);
}

static void test_body_relayed(void **state)
{
	uint8_t *body = malloc(BIG_BODY);
	struct answer a;
	size_t i, off, n;
	char len[32];

	(void)state;
	assert_non_null(body);
	for (i = 0; i < BIG_BODY; i++)
		body[i] = (uint8_t)(i * 131 + i / 977);
	send_request(5, "POST", "/upload", "application/x-test", 0);
	for (off = 0; off < BIG_BODY; off += n) {
		n = BIG_BODY - off < SY_BODY_CHUNK ? BIG_BODY - off
		                                   : SY_BODY_CHUNK;
		send_raw(SY_MSG_REQ_BODY, off + n == BIG_BODY ? SY_FLAG_END : 0,
		         5, body + off, n);
	}
	wait_answer(5, &a);
	assert_int_equal(a.r->outcome, SWITCHYARD__OUTCOME__OK);
	assert_int_equal(a.r->status, 200);
	assert_string_equal(a.r->worker, "platform/dispatcher");
	assert_string_equal(header(a.r, "Content-Type"), "application/x-test");
	snprintf(len, sizeof(len), "%d", BIG_BODY);
	assert_string_equal(header(a.r, "X-Body-Length"), len);
	assert_int_equal(a.r->body_len, BIG_BODY);
	assert_int_equal(a.len, BIG_BODY);
	assert_false(a.aborted);
	assert_true(a.nbody_frames >= 2); /* more than a frame holds */
	assert_memory_equal(a.body, body, BIG_BODY);
	answer_free(&a);

	/* an empty body in a REQ_BODY of its own */
	send_request(7, "POST", "/empty", "text/plain", 0);
	send_raw(SY_MSG_REQ_BODY, SY_FLAG_END, 7, NULL, 0);
	wait_answer(7, &a);
	assert_int_equal(a.r->outcome, SWITCHYARD__OUTCOME__OK);
	assert_string_equal(header(a.r, "X-Body-Length"), "0");
	assert_int_equal(a.len, 0);
	answer_free(&a);
	assert_int_equal(fx.router_lost, 0);
	free(body);
}

static void test_unknown_dispatch_worker(void **state)
{
	struct answer a;

	(void)state;
	delete_dispatcher();
	send_request(9, "GET", "/", NULL, 1);
	wait_answer(9, &a);
	assert_int_equal(a.r->outcome, SWITCHYARD__OUTCOME__SCRIPT_NOT_FOUND);
	assert_string_equal(a.r->worker, "platform/dispatcher");
	assert_string_equal(a.r->reason, "Worker not found");
	assert_int_equal(a.r->status, 0);
	assert_int_equal(a.r->body_len, 0);
	answer_free(&a);
	/* answered before its body came: the body that follows is no
	 * protocol error */
	send_request(11, "POST", "/", "text/plain", 0);
	send_raw(SY_MSG_REQ_BODY, 0, 11, "abc", 3);
	send_raw(SY_MSG_REQ_BODY, SY_FLAG_END, 11, "def", 3);
	wait_answer(11, &a);
	assert_int_equal(a.r->outcome, SWITCHYARD__OUTCOME__SCRIPT_NOT_FOUND);
	answer_free(&a);
	run_for(100);
	assert_int_equal(fx.router_lost, 0);
	assert_int_equal(frames_on(11), 1);

	/* deployed again, it serves again */
	deploy_dispatcher(fx.echo);
	send_request(13, "GET", "/", NULL, 1);
	wait_answer(13, &a);
	assert_int_equal(a.r->outcome, SWITCHYARD__OUTCOME__OK);
	answer_free(&a);
}

static int dispatcher_busy(void)
{
	struct pool_stats st;

	pool_stats(dispatcher(), &st);
	return st.busy == 1;
}

static uint64_t canceled_before;

static int cancel_done(void)
{
	struct pool_stats st;

	pool_stats(dispatcher(), &st);
	return st.busy == 0 && st.queued == 0 &&
	       outcomes(SWITCHYARD__OUTCOME__CANCELED) == canceled_before + 1;
}

static void test_cancel(void **state)
{
	struct answer a;

	(void)state;
	/* a process to serve it */
	send_request(1, "GET", "/", NULL, 1);
	wait_answer(1, &a);
	answer_free(&a);
	canceled_before = outcomes(SWITCHYARD__OUTCOME__CANCELED);

	/* being served: its body has not ended */
	send_request(15, "POST", "/slow", "text/plain", 0);
	send_raw(SY_MSG_REQ_BODY, 0, 15, "partial", 7);
	if (!run_until(dispatcher_busy, WAIT_MS))
		fail_msg("the request never reached a process");
	send_raw(SY_MSG_CANCEL, 0, 15, NULL, 0);
	if (!run_until(cancel_done, WAIT_MS))
		fail_msg("the canceled call still holds its process");
	/* nothing is answered for it, and the rest of its body, late, is
	 * dropped without complaint */
	send_raw(SY_MSG_REQ_BODY, SY_FLAG_END, 15, "late", 4);
	run_for(100);
	assert_int_equal(frames_on(15), 0);
	assert_int_equal(fx.router_lost, 0);

	/* the call is gone: its stream can open a new one */
	send_request(15, "GET", "/again", NULL, 1);
	wait_answer(15, &a);
	assert_int_equal(a.r->outcome, SWITCHYARD__OUTCOME__OK);
	assert_string_equal(header(a.r, "X-Worker"), "echo");
	answer_free(&a);
	assert_int_equal(fx.router_lost, 0);
	assert_int_equal(outcomes(SWITCHYARD__OUTCOME__CANCELED),
	                 canceled_before + 1);
}

static int lost_and_closed(void)
{
	return fx.router_lost > 0 && fx.eof;
}

/* Whatever the router sends that breaks its protocol stops the platform
 * (here: the hook, which closes the channel as main.c's would). */
static void expect_router_lost(const char *what)
{
	if (!run_until(lost_and_closed, WAIT_MS))
		fail_msg("%s: router_lost not called (%u) or the channel not "
		         "closed", what, fx.router_lost);
	assert_int_equal(fx.router_lost, 1);
	assert_null(routerproc_chan());
	detach();
	fx.router_lost = 0;
	attach(SOCK_STREAM);
}

static void test_router_protocol_error(void **state)
{
	uint8_t hdr[SY_FRAME_HDR_LEN];
	uint64_t canceled;

	(void)state;
	/* an unknown frame type */
	sy_hdr_encode(hdr, SY_MSG_REQUEST, 0, 1, 0);
	hdr[4] = 99;
	assert_int_equal(send(fx.fd, hdr, sizeof(hdr), MSG_NOSIGNAL),
	                 (ssize_t)sizeof(hdr));
	expect_router_lost("unknown frame type");
	/* reserved bits set */
	sy_hdr_encode(hdr, SY_MSG_CANCEL, 0, 1, 0);
	hdr[7] = 1;
	assert_int_equal(send(fx.fd, hdr, sizeof(hdr), MSG_NOSIGNAL),
	                 (ssize_t)sizeof(hdr));
	expect_router_lost("reserved bits");
	/* longer than any frame may be */
	sy_hdr_encode(hdr, SY_MSG_REQ_BODY, 0, 1, SY_FRAME_MAX + 1);
	assert_int_equal(send(fx.fd, hdr, sizeof(hdr), MSG_NOSIGNAL),
	                 (ssize_t)sizeof(hdr));
	expect_router_lost("oversized frame");
	/* a well-formed frame the router never sends */
	send_raw(SY_MSG_HELLO, 0, 0, NULL, 0);
	expect_router_lost("HELLO from the router");
	send_raw(SY_MSG_REQUEST, SY_FLAG_ABORT, 1, NULL, 0);
	expect_router_lost("REQUEST flagged ABORT");
	/* a request_id (field 12, a string) that is not one, and a Request
	 * the supervisor cannot even read its id from */
	send_raw(SY_MSG_REQUEST, SY_FLAG_END, 1, "\x62\x03" "ABC", 5);
	expect_router_lost("REQUEST with an invalid request_id");
	send_raw(SY_MSG_REQUEST, SY_FLAG_END, 1, "\x62\x7f" "AB", 4);
	expect_router_lost("REQUEST cut short");

	/* a second REQUEST on a stream still open; the call in flight is
	 * canceled with the channel */
	canceled = outcomes(SWITCHYARD__OUTCOME__CANCELED);
	send_request(17, "POST", "/", "text/plain", 0);
	send_request(17, "POST", "/", "text/plain", 0);
	expect_router_lost("REQUEST on an open stream");
	assert_int_equal(outcomes(SWITCHYARD__OUTCOME__CANCELED), canceled + 1);
	assert_int_equal(frames_on(17), 0);

	/* and after all that the request path serves a new channel */
	{
		struct answer a;

		send_request(1, "GET", "/", NULL, 1);
		wait_answer(1, &a);
		assert_int_equal(a.r->outcome, SWITCHYARD__OUTCOME__OK);
		answer_free(&a);
	}
}

static int five_answers(void)
{
	return fx.nframes >= 5 || fx.eof || fx.bad_frame;
}

/* The answers of one turn leave in one write per peer: on a SEQPACKET
 * channel every write is a record of its own, which one read returns. */
static void test_one_write_per_turn(void **state)
{
	Switchyard__Response *r;
	uint32_t s;
	size_t i;

	(void)state;
	detach();
	attach(SOCK_SEQPACKET);
	/* answered at once, all in the turn that reads the requests */
	delete_dispatcher();
	for (s = 1; s <= 5; s++)
		send_request(s, "GET", "/", NULL, 1);
	if (!run_until(five_answers, WAIT_MS))
		fail_msg("%zu answers of 5", fx.nframes);
	run_for(50);
	assert_false(fx.bad_frame);
	assert_int_equal(fx.nframes, 5);
	assert_int_equal(fx.reads, 1);
	for (i = 0; i < 5; i++) {
		assert_int_equal(fx.frames[i].type, SY_MSG_RESPONSE);
		assert_int_equal(fx.frames[i].stream, i + 1);
		r = switchyard__response__unpack(NULL, fx.frames[i].len,
		                                 fx.frames[i].payload);
		assert_non_null(r);
		assert_int_equal(r->outcome,
		                 SWITCHYARD__OUTCOME__SCRIPT_NOT_FOUND);
		switchyard__response__free_unpacked(r, NULL);
	}
}

/* A new version of the dispatch worker serves the next request. */
static void test_new_version_serves(void **state)
{
	struct answer a;

	(void)state;
	send_request(1, "GET", "/", NULL, 1);
	wait_answer(1, &a);
	assert_string_equal(header(a.r, "X-Worker"), "echo");
	answer_free(&a);
	deploy_dispatcher(fx.hello);
	send_request(3, "GET", "/", NULL, 1);
	wait_answer(3, &a);
	assert_int_equal(a.r->outcome, SWITCHYARD__OUTCOME__OK);
	assert_null(header(a.r, "X-Worker"));
	assert_non_null(a.body);
	assert_string_equal((char *)a.body, "hello world\n");
	answer_free(&a);
	deploy_dispatcher(fx.echo);
	send_request(5, "GET", "/", NULL, 1);
	wait_answer(5, &a);
	assert_string_equal(header(a.r, "X-Worker"), "echo");
	answer_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_request_answered, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_body_relayed, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_unknown_dispatch_worker,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_router_protocol_error,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_write_per_turn, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_new_version_serves, setup,
		                                teardown),
	};

	log_init("test_call", SY_LOG_WARN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
