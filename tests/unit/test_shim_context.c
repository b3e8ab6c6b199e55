/*
 * A request's context in the shim (workershim.h, "context"), under ASan
 * and UBSan: the API's rules in process; then, with a child running
 * ws_serve() on one end of a socketpair (fd 3) and the parent playing the
 * supervisor: the context of a Request reaches ws_req_context, the context
 * a handler sets on its ws_dispatch is asked for in the subrequest, a
 * ws_fetch never carries one, and a Request whose context breaks the
 * rules is refused. The child exits with ws_serve's result after
 * LeakSanitizer's check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "frame.h"
#include "switchyard.pb-c.h"
#include "workershim.h"

struct peer {
	pid_t pid;
	int fd;
	struct sy_reader rd;
	struct sy_writer wr;
};

/* ---- in process ---- */

static void test_context_api(void **state)
{
	ws_request *r = ws_request_new("GET", "/");
	char key[16], big[WS_CONTEXT_VALUE_MAX + 2];
	const char *k, *v;
	int i;

	(void)state;
	assert_non_null(r);
	assert_null(ws_req_context(r, "customer_id"));
	assert_int_equal(ws_req_context_at(r, 0, &k, &v), WS_EINVAL);
	assert_int_equal(ws_req_set_context(r, "customer_id", "cus_1"), 0);
	assert_int_equal(ws_req_set_context(r, "plan", "pro"), 0);
	assert_int_equal(ws_req_set_context(r, "customer_id", "cus_2"), 0);
	assert_string_equal(ws_req_context(r, "customer_id"), "cus_2");
	assert_int_equal(ws_req_context_at(r, 1, &k, &v), 0);
	assert_string_equal(k, "plan");
	assert_int_equal(ws_req_set_context(r, "plan", NULL), 0);
	assert_null(ws_req_context(r, "plan"));
	assert_int_equal(ws_req_set_context(r, "plan", NULL), 0);
	/* the rules of proto/names.h */
	assert_int_equal(ws_req_set_context(r, "Customer", "x"), WS_EINVAL);
	assert_int_equal(ws_req_set_context(r, "", "x"), WS_EINVAL);
	assert_int_equal(ws_req_set_context(r, NULL, "x"), WS_EINVAL);
	assert_int_equal(ws_req_set_context(r, "k", "a\r\nb"), WS_EINVAL);
	memset(big, 'v', WS_CONTEXT_VALUE_MAX + 1);
	big[WS_CONTEXT_VALUE_MAX + 1] = '\0';
	assert_int_equal(ws_req_set_context(r, "k", big), WS_EINVAL);
	big[WS_CONTEXT_VALUE_MAX] = '\0';
	assert_int_equal(ws_req_set_context(r, "k", big), 0);
	/* at most WS_CONTEXT_BYTES in all, WS_CONTEXT_MAX entries */
	for (i = 0; i < 6; i++) {
		snprintf(key, sizeof(key), "b%d", i);
		assert_int_equal(ws_req_set_context(r, key, big), 0);
	}
	assert_int_equal(ws_req_set_context(r, "b6", big), WS_EINVAL);
	assert_int_equal(ws_req_set_context(r, "b5", "small"), 0);
	ws_request_free(r);
	r = ws_request_new("GET", "/");
	for (i = 0; i < WS_CONTEXT_MAX; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(ws_req_set_context(r, key, "v"), 0);
	}
	assert_int_equal(ws_req_set_context(r, "one-more", "v"), WS_EINVAL);
	assert_int_equal(ws_req_set_context(r, "k0", "w"), 0);
	ws_request_free(r);
}

/* ---- the child (no cmocka there) ---- */

/* Answers the customer its context names in X-Customer; /dispatch also
 * calls tenants/alice with context of its own, /fetch fetches
 * http://192.0.2.1/ with the same set; either answers the call's result
 * in X-Rc. */
static int h_context(ws_request *req, ws_response *res, void *ctx)
{
	const char *who = ws_req_context(req, "customer_id");
	ws_request *sub = ws_request_new("GET", strcmp(ws_req_path(req),
	                                 "/fetch") == 0 ? "http://192.0.2.1/"
	                                                : "/sub");
	ws_response *out = ws_response_new();
	char rc[16] = "-";

	(void)ctx;
	if (sub == NULL || out == NULL ||
	    ws_req_set_context(sub, "customer_id", who ? who : "none") < 0 ||
	    ws_req_set_context(sub, "auth", "bearer") < 0)
		return -1;
	if (strcmp(ws_req_path(req), "/dispatch") == 0)
		snprintf(rc, sizeof(rc), "%d",
		         ws_dispatch("tenants", "alice", sub, NULL, out));
	else if (strcmp(ws_req_path(req), "/fetch") == 0)
		snprintf(rc, sizeof(rc), "%d", ws_fetch(sub, out));
	ws_res_header(res, "X-Customer", who ? who : "(none)");
	ws_res_header(res, "X-Rc", rc);
	ws_request_free(sub);
	ws_response_free(out);
	return 0;
}

static void peer_start(struct peer *p)
{
	struct timeval tv = { 10, 0 };
	int sv[2], rc;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
	                 0);
	fflush(NULL);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		close(sv[0]);
		if (dup2(sv[1], 3) < 0)
			_exit(90);
		rc = ws_serve(h_context, NULL);
		exit(rc == 0 ? 0 : 64 - rc); /* exit: LeakSanitizer checks */
	}
	close(sv[1]);
	p->fd = sv[0];
	assert_int_equal(setsockopt(p->fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	                            sizeof(tv)), 0);
	assert_int_equal(sy_reader_init(&p->rd, 0), 0);
	assert_int_equal(sy_writer_init(&p->wr), 0);
}

/* Hangs up and checks the child ended well. */
static void peer_finish(struct peer *p)
{
	int st;

	shutdown(p->fd, SHUT_WR);
	assert_int_equal(waitpid(p->pid, &st, 0), p->pid);
	sy_reader_free(&p->rd);
	sy_writer_free(&p->wr);
	close(p->fd);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* ---- the parent ---- */

static void recv_frame(struct peer *p, struct sy_frame *f)
{
	int rc = sy_frame_recv(p->fd, &p->rd, f);

	if (rc != 1)
		fail_msg("no frame from the shim: rc %d", rc);
}

/* A Request with context ctx[0, 2n) ("key", "value" pairs). */
static void send_request(struct peer *p, uint32_t stream, const char *url,
                         const char *const *ctx, size_t n)
{
	Switchyard__Request r = SWITCHYARD__REQUEST__INIT;
	Switchyard__Header h[4], *hp[4];
	size_t i;

	for (i = 0; i < n; i++) {
		switchyard__header__init(&h[i]);
		h[i].name = (char *)ctx[2 * i];
		h[i].value = (char *)ctx[2 * i + 1];
		hp[i] = &h[i];
	}
	r.method = (char *)"GET";
	r.url = (char *)url;
	r.context = hp;
	r.n_context = n;
	assert_int_equal(sy_writer_msg(&p->wr, SY_MSG_REQUEST, SY_FLAG_END,
	                               stream, &r.base), 0);
	assert_int_equal(sy_writer_flush_all(&p->wr, p->fd), 0);
}

/* The shim's HELLO, then nothing else first. */
static void expect_hello(struct peer *p)
{
	struct sy_frame f;

	recv_frame(p, &f);
	assert_int_equal(f.type, SY_MSG_HELLO);
}

/* The subrequest the handler made: its context, in "k=v;" form. */
static uint32_t expect_subrequest(struct peer *p, char *ctx, size_t size,
                                  int *fetch)
{
	Switchyard__Request *r;
	struct sy_frame f;
	size_t i, len = 0;

	recv_frame(p, &f);
	assert_int_equal(f.type, SY_MSG_REQUEST);
	r = switchyard__request__unpack(NULL, f.len, f.payload);
	assert_non_null(r);
	ctx[0] = '\0';
	for (i = 0; i < r->n_context; i++)
		len += (size_t)snprintf(ctx + len, size - len, "%s=%s;",
		                        r->context[i]->name,
		                        r->context[i]->value);
	*fetch = r->fetch != NULL;
	switchyard__request__free_unpacked(r, NULL);
	return f.stream;
}

static void answer_ok(struct peer *p, uint32_t stream)
{
	Switchyard__Response r = SWITCHYARD__RESPONSE__INIT;

	r.status = 200;
	r.outcome = SWITCHYARD__OUTCOME__OK;
	assert_int_equal(sy_writer_msg(&p->wr, SY_MSG_RESPONSE, SY_FLAG_END,
	                               stream, &r.base), 0);
	assert_int_equal(sy_writer_flush_all(&p->wr, p->fd), 0);
}

/* The handler's answer: its outcome, and its X-Customer header in who. */
static int expect_answer(struct peer *p, uint32_t stream, char *who,
                         size_t size)
{
	Switchyard__Response *r;
	struct sy_frame f;
	size_t i;
	int o;

	recv_frame(p, &f);
	assert_int_equal(f.type, SY_MSG_RESPONSE);
	assert_int_equal(f.stream, stream);
	r = switchyard__response__unpack(NULL, f.len, f.payload);
	assert_non_null(r);
	snprintf(who, size, "-");
	for (i = 0; i < r->n_headers; i++)
		if (strcmp(r->headers[i]->name, "X-Customer") == 0)
			snprintf(who, size, "%s", r->headers[i]->value);
	o = r->outcome;
	switchyard__response__free_unpacked(r, NULL);
	return o;
}

static void test_context_travels(void **state)
{
	static const char *const ctx[] = { "customer_id", "cus_7",
	                                   "plan", "pro" };
	static const char *const bad[] = { "Customer", "x" };
	char got[256], who[64];
	struct peer p;
	uint32_t s;
	int fetch;

	(void)state;
	peer_start(&p);
	expect_hello(&p);
	/* read by the handler, and asked for its ws_dispatch */
	send_request(&p, 1, "/dispatch", ctx, 2);
	s = expect_subrequest(&p, got, sizeof(got), &fetch);
	assert_false(fetch);
	assert_string_equal(got, "customer_id=cus_7;auth=bearer;");
	answer_ok(&p, s);
	assert_int_equal(expect_answer(&p, 1, who, sizeof(who)),
	                 SWITCHYARD__OUTCOME__OK);
	assert_string_equal(who, "cus_7");
	/* a fetch carries none */
	send_request(&p, 2, "/fetch", ctx, 1);
	s = expect_subrequest(&p, got, sizeof(got), &fetch);
	assert_true(fetch);
	assert_string_equal(got, "");
	answer_ok(&p, s);
	assert_int_equal(expect_answer(&p, 2, who, sizeof(who)),
	                 SWITCHYARD__OUTCOME__OK);
	/* none given: none read */
	send_request(&p, 3, "/", NULL, 0);
	assert_int_equal(expect_answer(&p, 3, who, sizeof(who)),
	                 SWITCHYARD__OUTCOME__OK);
	assert_string_equal(who, "(none)");
	/* a context against the rules: the request is refused */
	send_request(&p, 4, "/", bad, 1);
	assert_int_equal(expect_answer(&p, 4, who, sizeof(who)),
	                 SWITCHYARD__OUTCOME__EXCEPTION);
	peer_finish(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_context_api),
		cmocka_unit_test(test_context_travels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
