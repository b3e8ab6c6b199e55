/*
 * The worker shim (worker-shim/) under ASan and UBSan: the objects in
 * libworkershim-san.a are the shim's code built with the sanitizers, which
 * the static workers the platform runs never are.
 *
 * Each protocol test forks a child that runs ws_serve() with fd 3 = one end
 * of a socketpair, and plays the supervisor from the parent with frames.
 * The child exits with ws_serve's result (0, or 64 + -WS_E*), after which
 * LeakSanitizer checks it and exits 23 if it leaked: "exit status 0" means
 * an orderly shutdown without leaks.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "frame.h"
#include "names.h"
#include "switchyard.pb-c.h"
#include "workershim.h"

#define CHILD_FD 3
#define IO_TIMEOUT_S 10
#define EXIT_TIMEOUT_MS 10000
#define BIG_BODY (300u * 1024u) /* several SY_BODY_CHUNK frames */

/* The parent's side of one child running ws_serve. */
struct peer {
	pid_t pid;
	int fd;
	struct sy_reader rd;
	struct sy_writer wr;
};

/* One RESPONSE with its body, as the parent received it. */
struct got {
	Switchyard__Response *pb;
	uint8_t flags;
	char *body;
	size_t len;
};

/* ---- the child ---- */

static void child_run(int keep, int drop, ws_handler h)
{
	int rc;

	close(drop);
	if (dup2(keep, CHILD_FD) < 0)
		_exit(90);
	if (keep != CHILD_FD)
		close(keep);
	rc = ws_serve(h, NULL);
	/* exit, not _exit: LeakSanitizer checks at exit. */
	exit(rc == 0 ? 0 : 64 - rc);
}

static void peer_start(struct peer *p, ws_handler h)
{
	struct timeval tv = { IO_TIMEOUT_S, 0 };
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
	                 0);
	fflush(NULL); /* or the child would print the parent's buffers again */
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0)
		child_run(sv[1], sv[0], h);
	close(sv[1]);
	p->fd = sv[0];
	assert_int_equal(setsockopt(p->fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	                            sizeof(tv)), 0);
	assert_int_equal(setsockopt(p->fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
	                            sizeof(tv)), 0);
	assert_int_equal(sy_reader_init(&p->rd, 0), 0);
	assert_int_equal(sy_writer_init(&p->wr), 0);
}

/* Waits for the child's exit status (killing it after EXIT_TIMEOUT_MS). */
static int peer_wait(struct peer *p)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	int st, i;
	pid_t r;

	for (i = 0; i < EXIT_TIMEOUT_MS / 10; i++) {
		if ((r = waitpid(p->pid, &st, WNOHANG)) == p->pid)
			break;
		assert_int_equal(r, 0);
		nanosleep(&pause, NULL);
	}
	if (i == EXIT_TIMEOUT_MS / 10) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, &st, 0);
		fail_msg("ws_serve still running %d ms after the test ended",
		         EXIT_TIMEOUT_MS);
	}
	sy_reader_free(&p->rd);
	sy_writer_free(&p->wr);
	close(p->fd);
	if (WIFSIGNALED(st))
		fail_msg("child killed by signal %d", WTERMSIG(st));
	return WEXITSTATUS(st);
}

/* Hangs up (the supervisor stopping the worker) and checks the exit. */
static void peer_finish(struct peer *p, int want_status)
{
	assert_int_equal(shutdown(p->fd, SHUT_WR), 0);
	assert_int_equal(peer_wait(p), want_status);
}

/* ---- frames from the parent ---- */

static void send_msg(struct peer *p, uint8_t type, uint8_t flags,
                     uint32_t stream, const ProtobufCMessage *msg)
{
	assert_int_equal(sy_writer_msg(&p->wr, type, flags, stream, msg), 0);
	assert_int_equal(sy_writer_flush_all(&p->wr, p->fd), 0);
}

static void send_raw(struct peer *p, uint8_t type, uint8_t flags,
                     uint32_t stream, const void *buf, size_t len)
{
	assert_int_equal(sy_writer_raw(&p->wr, type, flags, stream, buf, len),
	                 0);
	assert_int_equal(sy_writer_flush_all(&p->wr, p->fd), 0);
}

static void send_bytes(struct peer *p, const void *buf, size_t len)
{
	assert_int_equal(write(p->fd, buf, len), (ssize_t)len);
}

/* A request with headers as "name", "value" pairs; the body, if any, in
 * two REQ_BODY frames so that the shim has to join them. Its request id
 * is the stream's number in 16 hex digits. */
static void send_request(struct peer *p, uint32_t stream, const char *method,
                         const char *url, const char **hv, size_t nh,
                         const char *body)
{
	Switchyard__Request r = SWITCHYARD__REQUEST__INIT;
	Switchyard__Header h[8], *hp[8];
	size_t i, blen = body ? strlen(body) : 0;
	char rid[SY_REQUEST_ID_LEN + 1];

	assert_true(nh <= 8);
	for (i = 0; i < nh; i++) {
		switchyard__header__init(&h[i]);
		h[i].name = (char *)hv[2 * i];
		h[i].value = (char *)hv[2 * i + 1];
		hp[i] = &h[i];
	}
	r.method = (char *)method;
	r.url = (char *)url;
	r.headers = hp;
	r.n_headers = nh;
	r.content_length = blen;
	snprintf(rid, sizeof(rid), "%016x", stream);
	r.request_id = rid;
	send_msg(p, SY_MSG_REQUEST, blen ? 0 : SY_FLAG_END, stream, &r.base);
	if (blen) {
		send_raw(p, SY_MSG_REQ_BODY, 0, stream, body, blen / 2);
		send_raw(p, SY_MSG_REQ_BODY, SY_FLAG_END, stream,
		         body + blen / 2, blen - blen / 2);
	}
}

static void recv_frame(struct peer *p, struct sy_frame *f)
{
	int rc = sy_frame_recv(p->fd, &p->rd, f);

	if (rc != 1)
		fail_msg("no frame from the shim: rc %d, %s", rc,
		         rc < 0 ? strerror(errno) : "end of file");
	assert_int_equal(f->fd, -1);
}

static void expect_hello(struct peer *p)
{
	Switchyard__Hello *h;
	struct sy_frame f;

	recv_frame(p, &f);
	assert_int_equal(f.type, SY_MSG_HELLO);
	assert_int_equal(f.stream, 0);
	h = switchyard__hello__unpack(NULL, f.len, f.payload);
	assert_non_null(h);
	assert_int_equal(h->api_version, SY_API_VERSION);
	switchyard__hello__free_unpacked(h, NULL);
}

/* Body frames totalling want bytes on stream, the last flagged END. */
static char *recv_body(struct peer *p, uint8_t type, uint32_t stream,
                       size_t want)
{
	char *body = malloc(want + 1);
	struct sy_frame f;
	size_t got = 0;

	assert_non_null(body);
	while (got < want) {
		recv_frame(p, &f);
		assert_int_equal(f.type, type);
		assert_int_equal(f.stream, stream);
		assert_true(f.len <= want - got);
		memcpy(body + got, f.payload, f.len);
		got += f.len;
		assert_int_equal(!!(f.flags & SY_FLAG_END), got == want);
	}
	body[got] = '\0';
	return body;
}

static void recv_response(struct peer *p, uint32_t stream, struct got *g)
{
	struct sy_frame f;

	recv_frame(p, &f);
	assert_int_equal(f.type, SY_MSG_RESPONSE);
	assert_int_equal(f.stream, stream);
	g->flags = f.flags;
	g->pb = switchyard__response__unpack(NULL, f.len, f.payload);
	assert_non_null(g->pb);
	g->len = (size_t)g->pb->body_len;
	assert_int_equal(!!(f.flags & SY_FLAG_END), g->len == 0);
	g->body = recv_body(p, SY_MSG_RES_BODY, stream, g->len);
}

static void got_free(struct got *g)
{
	switchyard__response__free_unpacked(g->pb, NULL);
	free(g->body);
}

/* Value of the response header name (exact case), or NULL. */
static const char *got_header(const struct got *g, const char *name)
{
	size_t i;

	for (i = 0; i < g->pb->n_headers; i++)
		if (strcmp(g->pb->headers[i]->name, name) == 0)
			return g->pb->headers[i]->value;
	return NULL;
}

static void assert_header(const struct got *g, const char *name,
                          const char *want)
{
	const char *v = got_header(g, name);

	if (v == NULL)
		fail_msg("response has no header %s", name);
	assert_string_equal(v, want);
}

/* ---- handlers, run in the child: no cmocka there ---- */

/* Reflects what it was given: status 201, the request's parts as headers
 * (looked up with other cases than sent), the body unchanged. */
static int h_echo(ws_request *req, ws_response *res, void *ctx)
{
	const char *multi = ws_req_header(req, "x-MULTI");
	const char *type = ws_req_header(req, "CONTENT-type");
	const void *body;
	char n[16];
	size_t len;

	ws_res_status(res, 201);
	ws_res_header(res, "X-Method", ws_req_method(req));
	ws_res_header(res, "X-Url", ws_req_url(req));
	ws_res_header(res, "X-Path", ws_req_path(req));
	ws_res_header(res, "X-Query", ws_req_query(req));
	ws_res_header(res, "X-Multi", multi ? multi : "(none)");
	ws_res_header(res, "Content-Type", type ? type : "(none)");
	snprintf(n, sizeof(n), "%d", ws_req_header_count(req));
	ws_res_header(res, "X-Count", n);
	body = ws_req_body(req, &len);
	return ws_res_write(res, body, len) < 0 ? -1 : 0;
}

static int h_fail(ws_request *req, ws_response *res, void *ctx)
{
	ws_res_printf(res, "never sent");
	return -1;
}

/* A body larger than one frame, so that it travels as several. */
static int h_big(ws_request *req, ws_response *res, void *ctx)
{
	char line[64];
	size_t done = 0;
	int n;

	while (done < BIG_BODY) {
		n = snprintf(line, sizeof(line), "%08zu\n", done);
		if (ws_res_write(res, line, (size_t)n) < 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

/* Calls tenants/alice and answers with what came back, plus the call's
 * result code and reason as headers. */
static int h_dispatch(ws_request *req, ws_response *res, void *ctx)
{
	ws_limits lim = { 50, 1000, 2 };
	ws_request *sub = ws_request_new("POST", "/sub?q=1");
	ws_response *out = ws_response_new();
	const char *answer;
	const void *body;
	char rc[16];
	size_t len;

	if (sub == NULL || out == NULL ||
	    ws_req_set_header(sub, "X-Sub", "yes") < 0 ||
	    ws_req_set_body(sub, "ping", 4) < 0) {
		ws_request_free(sub);
		ws_response_free(out);
		return -1;
	}
	snprintf(rc, sizeof(rc), "%d",
	         ws_dispatch("tenants", "alice", sub, &lim, out));
	answer = ws_res_get_header(out, "X-Answer");
	ws_res_status(res, ws_res_get_status(out));
	ws_res_header(res, "X-Rc", rc);
	ws_res_header(res, "X-Reason", ws_dispatch_reason());
	ws_res_header(res, "X-Answer", answer ? answer : "(none)");
	body = ws_res_body(out, &len);
	ws_res_write(res, body, len);
	ws_request_free(sub);
	ws_response_free(out);
	return 0;
}

/* ---- tests ---- */

static void test_hello_then_clean_eof(void **state)
{
	struct peer p;

	peer_start(&p, h_echo);
	expect_hello(&p);
	peer_finish(&p, 0);
}

static void test_request_round_trip(void **state)
{
	const char *hv[] = { "Content-Type", "text/plain", "X-Multi", "one",
	                     "x-multi", "two" };
	struct peer p;
	struct got g;

	peer_start(&p, h_echo);
	expect_hello(&p);
	send_request(&p, 7, "POST", "/a/b?x=1&y", hv, 3, "hello, shim world");
	recv_response(&p, 7, &g);
	assert_int_equal(g.pb->outcome, SWITCHYARD__OUTCOME__OK);
	assert_int_equal(g.pb->status, 201);
	assert_header(&g, "X-Method", "POST");
	assert_header(&g, "X-Url", "/a/b?x=1&y");
	assert_header(&g, "X-Path", "/a/b");
	assert_header(&g, "X-Query", "x=1&y");
	assert_header(&g, "X-Multi", "one");
	assert_header(&g, "Content-Type", "text/plain");
	assert_header(&g, "X-Count", "3");
	assert_string_equal(g.body, "hello, shim world");
	got_free(&g);
	/* The same process serves the next one, with nothing left over. */
	send_request(&p, 8, "GET", "/", NULL, 0, NULL);
	recv_response(&p, 8, &g);
	assert_int_equal(g.pb->status, 201);
	assert_header(&g, "X-Query", "");
	assert_header(&g, "X-Multi", "(none)");
	assert_header(&g, "X-Count", "0");
	assert_int_equal(g.len, 0);
	got_free(&g);
	peer_finish(&p, 0);
}

static void test_large_body_in_chunks(void **state)
{
	struct peer p;
	struct got g;

	peer_start(&p, h_big);
	expect_hello(&p);
	send_request(&p, 1, "GET", "/big", NULL, 0, NULL);
	recv_response(&p, 1, &g);
	assert_int_equal(g.pb->status, 200);
	assert_true(g.len >= BIG_BODY);
	assert_memory_equal(g.body, "00000000\n00000009\n", 18);
	got_free(&g);
	peer_finish(&p, 0);
}

static void test_handler_failure_is_exception(void **state)
{
	struct peer p;
	struct got g;

	peer_start(&p, h_fail);
	expect_hello(&p);
	send_request(&p, 3, "GET", "/", NULL, 0, NULL);
	recv_response(&p, 3, &g);
	assert_int_equal(g.pb->outcome, SWITCHYARD__OUTCOME__EXCEPTION);
	assert_int_equal(g.pb->status, 0);
	assert_true(g.flags & SY_FLAG_END);
	assert_int_equal(g.len, 0);
	got_free(&g);
	peer_finish(&p, 0);
}

/* Fields the shim must refuse before any handler sees them; the channel
 * stays usable. */
static void test_invalid_request_is_refused(void **state)
{
	const char *bad_header[] = { "Bad Name", "x" };
	const char *crlf[] = { "X-Ok", "a\r\nInjected: yes" };
	struct peer p;
	struct got g;
	uint32_t s;

	peer_start(&p, h_echo);
	expect_hello(&p);
	send_request(&p, 1, "GE T", "/", NULL, 0, NULL);
	send_request(&p, 2, "GET", "no-slash", NULL, 0, NULL);
	send_request(&p, 3, "GET", "/", bad_header, 1, NULL);
	send_request(&p, 4, "GET", "/", crlf, 1, NULL);
	for (s = 1; s <= 4; s++) {
		recv_response(&p, s, &g);
		assert_int_equal(g.pb->outcome, SWITCHYARD__OUTCOME__EXCEPTION);
		got_free(&g);
	}
	send_request(&p, 5, "GET", "/fine", NULL, 0, NULL);
	recv_response(&p, 5, &g);
	assert_int_equal(g.pb->status, 201);
	got_free(&g);
	peer_finish(&p, 0);
}

/* A CANCEL while the body is still arriving: answered without running
 * the handler. */
static void test_cancel_during_body(void **state)
{
	Switchyard__Request r = SWITCHYARD__REQUEST__INIT;
	struct peer p;
	struct got g;

	peer_start(&p, h_echo);
	expect_hello(&p);
	r.method = (char *)"POST";
	r.url = (char *)"/slow";
	send_msg(&p, SY_MSG_REQUEST, 0, 9, &r.base);
	send_raw(&p, SY_MSG_REQ_BODY, 0, 9, "part", 4);
	send_raw(&p, SY_MSG_CANCEL, 0, 9, NULL, 0);
	recv_response(&p, 9, &g);
	assert_int_equal(g.pb->outcome, SWITCHYARD__OUTCOME__EXCEPTION);
	got_free(&g);
	peer_finish(&p, 0);
}

/* The child's subrequest: REQUEST with ns/worker/limits and its body. */
static uint32_t expect_subrequest(struct peer *p)
{
	Switchyard__Request *r;
	struct sy_frame f;
	uint32_t stream;
	char *body;

	recv_frame(p, &f);
	assert_int_equal(f.type, SY_MSG_REQUEST);
	assert_int_equal(f.flags & SY_FLAG_END, 0);
	stream = f.stream;
	assert_true(stream != 0);
	r = switchyard__request__unpack(NULL, f.len, f.payload);
	assert_non_null(r);
	assert_string_equal(r->method, "POST");
	assert_string_equal(r->url, "/sub?q=1");
	assert_string_equal(r->ns, "tenants");
	assert_string_equal(r->worker, "alice");
	assert_non_null(r->limits);
	assert_int_equal(r->limits->cpu_ms, 50);
	assert_int_equal(r->limits->wall_ms, 1000);
	assert_int_equal(r->content_length, 4);
	assert_int_equal(r->n_headers, 1);
	assert_string_equal(r->headers[0]->name, "X-Sub");
	assert_string_equal(r->headers[0]->value, "yes");
	switchyard__request__free_unpacked(r, NULL);
	body = recv_body(p, SY_MSG_REQ_BODY, stream, 4);
	assert_string_equal(body, "ping");
	free(body);
	return stream;
}

static void answer_subrequest_ok(struct peer *p, uint32_t stream)
{
	Switchyard__Response r = SWITCHYARD__RESPONSE__INIT;
	Switchyard__Header h = SWITCHYARD__HEADER__INIT, *hp = &h;

	h.name = (char *)"X-Answer";
	h.value = (char *)"pong";
	r.status = 202;
	r.headers = &hp;
	r.n_headers = 1;
	r.body_len = 4;
	r.outcome = SWITCHYARD__OUTCOME__OK;
	r.worker = (char *)"tenants/alice";
	send_msg(p, SY_MSG_RESPONSE, 0, stream, &r.base);
	send_raw(p, SY_MSG_RES_BODY, SY_FLAG_END, stream, "pong", 4);
}

static void answer_subrequest_failed(struct peer *p, uint32_t stream)
{
	Switchyard__Response r = SWITCHYARD__RESPONSE__INIT;

	r.outcome = SWITCHYARD__OUTCOME__EXCEEDED_MEMORY;
	r.worker = (char *)"tenants/alice";
	r.reason = (char *)"memory cap 64 MiB";
	r.violation = (char *)"memory cap 64 MiB";
	send_msg(p, SY_MSG_RESPONSE, SY_FLAG_END, stream, &r.base);
}

static void test_dispatch_round_trip(void **state)
{
	struct peer p;
	struct got g;
	char rc[16];
	uint32_t s1, s2;

	peer_start(&p, h_dispatch);
	expect_hello(&p);
	send_request(&p, 40, "GET", "/", NULL, 0, NULL);
	s1 = expect_subrequest(&p);
	answer_subrequest_ok(&p, s1);
	recv_response(&p, 40, &g);
	assert_int_equal(g.pb->status, 202);
	assert_header(&g, "X-Rc", "0");
	assert_header(&g, "X-Answer", "pong");
	assert_string_equal(g.body, "pong");
	got_free(&g);

	/* A failed call: the error code and the reason for the caller, and
	 * an error page that tells the client no more than the outcome,
	 * the status and the request's id. */
	send_request(&p, 41, "GET", "/", NULL, 0, NULL);
	s2 = expect_subrequest(&p);
	assert_true(s2 != s1);
	answer_subrequest_failed(&p, s2);
	recv_response(&p, 41, &g);
	snprintf(rc, sizeof(rc), "%d", WS_EEXCEEDED_MEMORY);
	assert_header(&g, "X-Rc", rc);
	assert_header(&g, "X-Reason", "memory cap 64 MiB");
	assert_int_equal(g.pb->status, 503);
	assert_string_equal(g.body, "503 Service Unavailable: exceededMemory "
	                    "(error 1102)\nrequest id: 0000000000000029\n");
	got_free(&g);
	peer_finish(&p, 0);
}

/* The supervisor going away mid-call: the call fails, ws_serve ends. */
static void test_dispatch_eof_midcall(void **state)
{
	struct peer p;

	peer_start(&p, h_dispatch);
	expect_hello(&p);
	send_request(&p, 50, "GET", "/", NULL, 0, NULL);
	(void)expect_subrequest(&p);
	peer_finish(&p, 0);
}

static void check_malformed(const void *bytes, size_t len)
{
	struct peer p;

	peer_start(&p, h_echo);
	expect_hello(&p);
	send_bytes(&p, bytes, len);
	peer_finish(&p, 64 - WS_EIO);
}

static void test_malformed_frames_end_serve_with_eio(void **state)
{
	uint8_t h[SY_FRAME_HDR_LEN], bad[SY_FRAME_HDR_LEN + 4];

	/* unknown type */
	sy_hdr_encode(h, SY_MSG_HELLO, 0, 0, 0);
	h[4] = 0xee;
	check_malformed(h, sizeof(h));
	/* over-size length */
	sy_hdr_encode(h, SY_MSG_REQUEST, 0, 1, 0);
	h[0] = 0x7f;
	check_malformed(h, sizeof(h));
	/* reserved bits */
	sy_hdr_encode(h, SY_MSG_CANCEL, 0, 1, 0);
	h[6] = 1;
	check_malformed(h, sizeof(h));
	/* end of file inside a header */
	check_malformed("\0\0\0", 3);
	/* a REQUEST whose payload is no protobuf message */
	sy_hdr_encode(bad, SY_MSG_REQUEST, SY_FLAG_END, 1, 4);
	memcpy(bad + SY_FRAME_HDR_LEN, "\xff\xff\xff\xff", 4);
	check_malformed(bad, sizeof(bad));
	/* a RESPONSE for a stream the worker never opened */
	sy_hdr_encode(h, SY_MSG_RESPONSE, SY_FLAG_END, 5, 0);
	check_malformed(h, sizeof(h));
}

/* ---- in-process API checks (no channel needed) ---- */

static void test_request_accessors(void **state)
{
	ws_request *r = ws_request_new("GET", "/p/q?x=1");
	const char *name, *value, *body;

	assert_non_null(r);
	assert_string_equal(ws_req_method(r), "GET");
	assert_string_equal(ws_req_url(r), "/p/q?x=1");
	assert_string_equal(ws_req_path(r), "/p/q");
	assert_string_equal(ws_req_query(r), "x=1");
	assert_int_equal(ws_req_set_header(r, "X-Tag", "a"), 0);
	assert_int_equal(ws_req_set_header(r, "Host", "h"), 0);
	assert_string_equal(ws_req_header(r, "x-tag"), "a");
	assert_string_equal(ws_req_header(r, "X-TAG"), "a");
	assert_int_equal(ws_req_set_header(r, "x-TAG", "b"), 0);
	assert_int_equal(ws_req_header_count(r), 2);
	assert_string_equal(ws_req_header(r, "X-Tag"), "b");
	assert_int_equal(ws_req_header_at(r, 1, &name, &value), 0);
	assert_string_equal(name, "Host");
	assert_int_equal(ws_req_header_at(r, 2, &name, &value), WS_EINVAL);
	assert_int_equal(ws_req_del_header(r, "X-TAG"), 0);
	assert_null(ws_req_header(r, "x-tag"));
	assert_int_equal(ws_req_del_header(r, "x-tag"), WS_ENOTFOUND);
	assert_int_equal(ws_req_set_header(r, "Bad Name", "v"), WS_EINVAL);
	assert_int_equal(ws_req_set_header(r, "X-Ok", "a\r\nB: c"), WS_EINVAL);
	/* Its own strings may be handed back. */
	assert_int_equal(ws_req_set_url(r, ws_req_path(r)), 0);
	assert_string_equal(ws_req_url(r), "/p/q");
	assert_string_equal(ws_req_query(r), "");
	assert_int_equal(ws_req_set_url(r, "relative"), WS_EINVAL);
	assert_int_equal(ws_req_set_body(r, "abc", 3), 0);
	body = ws_req_body(r, NULL);
	assert_int_equal(ws_req_set_body(r, body + 1, 2), 0);
	assert_memory_equal(ws_req_body(r, NULL), "bc", 2);
	ws_request_free(r);
	assert_null(ws_request_new("G T", "/"));
	assert_null(ws_request_new("GET", "nope"));
	ws_request_free(NULL);
}

static void test_response_accessors(void **state)
{
	ws_response *res = ws_response_new();
	const char *name, *value;
	size_t len;

	assert_non_null(res);
	assert_int_equal(ws_res_get_status(res), 200);
	ws_res_status(res, 404);
	assert_int_equal(ws_res_get_status(res), 404);
	assert_int_equal(ws_res_header(res, "Set-Cookie", "a=1"), 0);
	assert_int_equal(ws_res_header(res, "set-cookie", "b=2"), 0);
	assert_int_equal(ws_res_header_count(res), 2);
	assert_string_equal(ws_res_get_header(res, "SET-COOKIE"), "a=1");
	assert_int_equal(ws_res_set_header(res, "Set-Cookie", "c=3"), 0);
	assert_int_equal(ws_res_header_count(res), 1);
	assert_int_equal(ws_res_header_at(res, 0, &name, &value), 0);
	assert_string_equal(value, "c=3");
	assert_int_equal(ws_res_header_at(res, 1, &name, &value), WS_EINVAL);
	assert_int_equal(ws_res_del_header(res, "SET-cookie"), 0);
	assert_int_equal(ws_res_del_header(res, "Set-Cookie"), WS_ENOTFOUND);
	assert_int_equal(ws_res_header(res, "Bad:Name", "x"), WS_EINVAL);
	assert_int_equal(ws_res_header(res, "X", "line\nbreak"), WS_EINVAL);
	assert_int_equal(ws_res_printf(res, "%d-%s", 42, "x"), 4);
	assert_int_equal(ws_res_write(res, "!", 1), 0);
	assert_memory_equal(ws_res_body(res, &len), "42-x!", 5);
	assert_int_equal(len, 5);
	ws_res_clear_body(res);
	assert_null(ws_res_body(res, &len));
	assert_int_equal(len, 0);
	ws_response_free(res);
	ws_response_free(NULL);
}

static void test_dispatch_outside_handler(void **state)
{
	ws_request *r = ws_request_new("GET", "/");
	ws_response *out = ws_response_new();

	assert_int_equal(ws_dispatch("tenants", "alice", r, NULL, out),
	                 WS_EINVAL);
	assert_int_equal(ws_dispatch("Bad NS", "alice", r, NULL, out),
	                 WS_EINVAL);
	assert_true(ws_dispatch_reason()[0] != '\0');
	ws_request_free(r);
	ws_response_free(out);
}

static void test_env_and_errors(void **state)
{
	int e;

	assert_int_equal(setenv("SY_SHIM_TEST", "yes", 1), 0);
	assert_string_equal(ws_env("SY_SHIM_TEST"), "yes");
	assert_null(ws_env("SY_SHIM_TEST=yes"));
	assert_null(ws_env(""));
	assert_null(ws_env(NULL));
	assert_null(ws_env("SY_SHIM_UNSET"));
	for (e = WS_OK; e >= WS_EINTERNAL - 1; e--)
		assert_non_null(ws_strerror(e));
	assert_string_not_equal(ws_strerror(WS_ENOTFOUND),
	                        ws_strerror(WS_EEXCEPTION));
	/* Refused before it touches fd 3. */
	assert_int_equal(ws_serve(NULL, NULL), WS_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_then_clean_eof),
		cmocka_unit_test(test_request_round_trip),
		cmocka_unit_test(test_large_body_in_chunks),
		cmocka_unit_test(test_handler_failure_is_exception),
		cmocka_unit_test(test_invalid_request_is_refused),
		cmocka_unit_test(test_cancel_during_body),
		cmocka_unit_test(test_dispatch_round_trip),
		cmocka_unit_test(test_dispatch_eof_midcall),
		cmocka_unit_test(test_malformed_frames_end_serve_with_eio),
		cmocka_unit_test(test_request_accessors),
		cmocka_unit_test(test_response_accessors),
		cmocka_unit_test(test_dispatch_outside_handler),
		cmocka_unit_test(test_env_and_errors),
	};

	/* A worker whose channel is closed must not take the test down. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
