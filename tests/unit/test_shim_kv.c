/*
 * ws_kv_put and ws_kv_get of values larger than a frame (docs/kv.md),
 * under ASan and UBSan: a child runs ws_serve() on one end of a
 * socketpair (fd 3) with a handler that calls them, and the parent plays
 * the supervisor, checking the KV_VALUE stream the shim sends and lying
 * in the one it answers. The child exits with ws_serve's result (0, or
 * 64 + -WS_E*) after LeakSanitizer's check (23 if it leaked).
 *
 * Also the read cache of ws_kv_get: which gets reach the "supervisor"
 * under which generations (Request.kv_gens), and that a forged kv_gens
 * before the supervisor's own is ignored.
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
#include "switchyard.pb-c.h"
#include "workershim.h"

#define BIG (300u * 1024u) /* over SY_KV_INLINE_MAX: several frames */

struct peer {
	pid_t pid;
	int fd;
	struct sy_reader rd;
	struct sy_writer wr;
};

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 31 + i / 1000);
}

/* ---- the child (no cmocka there) ---- */

/* /small: gets B/k, a small value, into X-Ok ("-" if none); /delget
 * deletes it first. */
static int h_small(ws_request *req, ws_response *res)
{
	char rc[16];
	void *v = NULL;
	int r = 0;

	if (strcmp(ws_req_path(req), "/delget") == 0)
		r = ws_kv_delete("B", "k");
	if (r == 0 || r == WS_ENOTFOUND)
		r = ws_kv_get("B", "k", &v, NULL);
	snprintf(rc, sizeof(rc), "%d", r);
	ws_res_header(res, "X-Rc", rc);
	ws_res_header(res, "X-Ok", v != NULL ? (char *)v : "-");
	ws_kv_free(v);
	return 0;
}

/* /put: puts BIG bytes; /get: gets them and checks every byte. The
 * result code goes in X-Rc, the check in X-Ok. */
static int h_kv(ws_request *req, ws_response *res, void *ctx)
{
	char rc[16], ok[2] = "0";
	uint8_t *buf;
	size_t i, len = 0;
	void *v = NULL;
	int r;

	(void)ctx;
	if (strcmp(ws_req_path(req), "/small") == 0 ||
	    strcmp(ws_req_path(req), "/delget") == 0)
		return h_small(req, res);
	if (strcmp(ws_req_path(req), "/put") == 0) {
		if ((buf = malloc(BIG)) == NULL)
			return -1;
		for (i = 0; i < BIG; i++)
			buf[i] = pattern(i);
		r = ws_kv_put("B", "k", buf, BIG, 0);
		free(buf);
		ok[0] = '1';
	} else {
		r = ws_kv_get("B", "k", &v, &len);
		if (r == 0 && len == BIG && ((char *)v)[len] == '\0') {
			for (i = 0; i < len && ((uint8_t *)v)[i] == pattern(i);
			     i++)
				;
			ok[0] = i == len ? '1' : '0';
		}
		ws_kv_free(v);
	}
	snprintf(rc, sizeof(rc), "%d", r);
	ws_res_header(res, "X-Rc", rc);
	ws_res_header(res, "X-Ok", ok);
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
		rc = ws_serve(h_kv, NULL);
		exit(rc == 0 ? 0 : 64 - rc); /* exit: LeakSanitizer checks */
	}
	close(sv[1]);
	p->fd = sv[0];
	assert_int_equal(setsockopt(p->fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	                            sizeof(tv)), 0);
	assert_int_equal(sy_reader_init(&p->rd, 0), 0);
	assert_int_equal(sy_writer_init(&p->wr), 0);
}

/* Hangs up and returns the child's exit status. */
static int peer_finish(struct peer *p)
{
	int st;

	shutdown(p->fd, SHUT_WR);
	assert_int_equal(waitpid(p->pid, &st, 0), p->pid);
	sy_reader_free(&p->rd);
	sy_writer_free(&p->wr);
	close(p->fd);
	assert_false(WIFSIGNALED(st));
	return WEXITSTATUS(st);
}

/* ---- the parent ---- */

static void recv_frame(struct peer *p, struct sy_frame *f)
{
	int rc = sy_frame_recv(p->fd, &p->rd, f);

	if (rc != 1)
		fail_msg("no frame from the shim: rc %d", rc);
}

static void send_msg(struct peer *p, uint8_t type, uint8_t flags,
                     uint32_t stream, const ProtobufCMessage *msg)
{
	assert_int_equal(sy_writer_msg(&p->wr, type, flags, stream, msg), 0);
	assert_int_equal(sy_writer_flush_all(&p->wr, p->fd), 0);
}

static void send_value(struct peer *p, uint32_t stream, size_t from,
                       size_t to, int end)
{
	uint8_t chunk[SY_BODY_CHUNK];
	size_t i, n;

	for (; from < to; from += n) {
		n = to - from < sizeof(chunk) ? to - from : sizeof(chunk);
		for (i = 0; i < n; i++)
			chunk[i] = pattern(from + i);
		assert_int_equal(sy_writer_raw(&p->wr, SY_MSG_KV_VALUE,
		                               end && from + n == to ?
		                               SY_FLAG_END : 0, stream,
		                               chunk, n), 0);
		assert_int_equal(sy_writer_flush_all(&p->wr, p->fd), 0);
	}
}

static void send_request(struct peer *p, uint32_t stream, const char *url)
{
	Switchyard__Request r = SWITCHYARD__REQUEST__INIT;
	struct sy_frame f;
	Switchyard__Hello *h;

	if (stream <= 1) {
		recv_frame(p, &f);
		assert_int_equal(f.type, SY_MSG_HELLO);
		h = switchyard__hello__unpack(NULL, f.len, f.payload);
		assert_non_null(h);
		switchyard__hello__free_unpacked(h, NULL);
	}
	if (stream == 0)
		return;
	r.method = (char *)"GET";
	r.url = (char *)url;
	send_msg(p, SY_MSG_REQUEST, SY_FLAG_END, stream, &r.base);
}

/* The KV_REQUEST the handler sent: op and value_len as expected. */
static Switchyard__KvRequest *expect_kv(struct peer *p, uint32_t op,
                                        uint32_t value_len, uint32_t *stream)
{
	Switchyard__KvRequest *rq;
	struct sy_frame f;

	recv_frame(p, &f);
	assert_int_equal(f.type, SY_MSG_KV_REQUEST);
	assert_int_equal(!!(f.flags & SY_FLAG_END), value_len == 0);
	rq = switchyard__kv_request__unpack(NULL, f.len, f.payload);
	assert_non_null(rq);
	assert_int_equal(rq->op, op);
	assert_string_equal(rq->binding, "B");
	assert_string_equal(rq->key, "k");
	assert_int_equal(rq->value_len, value_len);
	assert_int_equal(rq->value.len, 0);
	*stream = f.stream;
	return rq;
}

/* The handler's answer: its X-Rc and X-Ok headers. */
static void expect_answer(struct peer *p, uint32_t stream, const char *rc,
                          const char *ok)
{
	Switchyard__Response *r;
	struct sy_frame f;
	size_t i, seen = 0;

	recv_frame(p, &f);
	assert_int_equal(f.type, SY_MSG_RESPONSE);
	assert_int_equal(f.stream, stream);
	r = switchyard__response__unpack(NULL, f.len, f.payload);
	assert_non_null(r);
	for (i = 0; i < r->n_headers; i++) {
		if (strcmp(r->headers[i]->name, "X-Rc") == 0) {
			assert_string_equal(r->headers[i]->value, rc);
			seen++;
		} else if (strcmp(r->headers[i]->name, "X-Ok") == 0) {
			assert_string_equal(r->headers[i]->value, ok);
			seen++;
		}
	}
	assert_int_equal(seen, 2);
	switchyard__response__free_unpacked(r, NULL);
}

static void test_put_sends_value_frames(void **state)
{
	Switchyard__KvResponse rs = SWITCHYARD__KV_RESPONSE__INIT;
	Switchyard__KvRequest *rq;
	struct sy_frame f;
	struct peer p;
	uint32_t stream;
	size_t got = 0, i;

	(void)state;
	peer_start(&p);
	send_request(&p, 1, "/put");
	rq = expect_kv(&p, 2, BIG, &stream);
	switchyard__kv_request__free_unpacked(rq, NULL);
	do {
		recv_frame(&p, &f);
		assert_int_equal(f.type, SY_MSG_KV_VALUE);
		assert_int_equal(f.stream, stream);
		assert_true(f.len <= SY_BODY_CHUNK && got + f.len <= BIG);
		for (i = 0; i < f.len; i++)
			assert_int_equal(f.payload[i], pattern(got + i));
		got += f.len;
	} while (!(f.flags & SY_FLAG_END));
	assert_int_equal(got, BIG);
	send_msg(&p, SY_MSG_KV_RESPONSE, SY_FLAG_END, stream, &rs.base);
	expect_answer(&p, 1, "0", "1");
	assert_int_equal(peer_finish(&p), 0);
}

static void test_get_reads_value_frames(void **state)
{
	Switchyard__KvResponse rs = SWITCHYARD__KV_RESPONSE__INIT;
	Switchyard__KvRequest *rq;
	struct peer p;
	uint32_t stream;

	(void)state;
	peer_start(&p);
	send_request(&p, 1, "/get");
	rq = expect_kv(&p, 1, 0, &stream);
	switchyard__kv_request__free_unpacked(rq, NULL);
	rs.value_len = BIG;
	send_msg(&p, SY_MSG_KV_RESPONSE, 0, stream, &rs.base);
	send_value(&p, stream, 0, BIG, 1);
	expect_answer(&p, 1, "0", "1");
	assert_int_equal(peer_finish(&p), 0);
}

/* A supervisor answering with a short, long, misplaced or oversized value
 * breaks the channel: the get fails WS_EIO and ws_serve ends with it. */
static void check_lie(int how)
{
	Switchyard__KvResponse rs = SWITCHYARD__KV_RESPONSE__INIT;
	Switchyard__KvRequest *rq;
	struct peer p;
	uint32_t stream;

	peer_start(&p);
	send_request(&p, 1, "/get");
	rq = expect_kv(&p, 1, 0, &stream);
	switchyard__kv_request__free_unpacked(rq, NULL);
	rs.value_len = how == 3 ? WS_KV_VALUE_MAX + 1 : BIG;
	send_msg(&p, SY_MSG_KV_RESPONSE, 0, stream, &rs.base);
	if (how == 0) /* short: END too early */
		send_value(&p, stream, 0, BIG - 1, 1);
	else if (how == 1) /* long: more than announced */
		send_value(&p, stream, 0, BIG + 1, 0);
	else if (how == 2) /* on another stream (one frame: the shim stops
	                    * reading at the first) */
		send_value(&p, stream + 1, 0, 100, 0);
	assert_int_equal(peer_finish(&p), 64 - WS_EIO);
}

static void test_lying_values_break_the_channel(void **state)
{
	int how;

	(void)state;
	for (how = 0; how < 4; how++)
		check_lie(how);
}

/* ---- the read cache ---- */

/* A REQUEST for url whose kv_gens names B at gen (gen < 0: no kv_gens;
 * forged: a kv_gens naming B at gen - 1 goes first, then the real one,
 * as when the supervisor appends its own to a ws_dispatch's Request). */
static void send_gens(struct peer *p, uint32_t stream, const char *url,
                      long gen, int forged)
{
	Switchyard__Request r = SWITCHYARD__REQUEST__INIT;
	Switchyard__KvGen g = SWITCHYARD__KV_GEN__INIT, *gp = &g;
	Switchyard__KvGens gs = SWITCHYARD__KV_GENS__INIT;
	uint8_t head[512], gens[64];
	size_t n;

	if (stream == 1)
		send_request(p, 0, NULL); /* reads HELLO only */
	r.method = (char *)"GET";
	r.url = (char *)url;
	g.binding = (char *)"B";
	gs.n_gens = 1;
	gs.gens = &gp;
	if (forged) {
		g.gen = (uint64_t)(gen - 1);
		r.kv_gens.len = switchyard__kv_gens__pack(&gs, gens);
		r.kv_gens.data = gens;
	}
	n = switchyard__request__pack(&r, head);
	if (gen >= 0) {
		g.gen = (uint64_t)gen;
		head[n] = (11 << 3) | 2;
		head[n + 1] = (uint8_t)switchyard__kv_gens__pack(&gs,
		                                                  head + n + 2);
		n += 2 + head[n + 1];
	}
	assert_int_equal(sy_writer_raw(&p->wr, SY_MSG_REQUEST, SY_FLAG_END,
	                               stream, head, n), 0);
	assert_int_equal(sy_writer_flush_all(&p->wr, p->fd), 0);
}

/* Expects a KV_REQUEST (op) and answers it: value (NULL: WS_ENOTFOUND),
 * read under gen, expiring at exp. */
static void answer_kv(struct peer *p, uint32_t op, const char *value,
                      uint64_t gen, int64_t exp)
{
	Switchyard__KvResponse rs = SWITCHYARD__KV_RESPONSE__INIT;
	Switchyard__KvRequest *rq;
	uint32_t stream;

	rq = expect_kv(p, op, 0, &stream);
	switchyard__kv_request__free_unpacked(rq, NULL);
	if (value == NULL)
		rs.code = WS_ENOTFOUND;
	else {
		rs.value.data = (uint8_t *)value;
		rs.value.len = strlen(value);
	}
	rs.gen = gen;
	rs.expiration = exp;
	send_msg(p, SY_MSG_KV_RESPONSE, SY_FLAG_END, stream, &rs.base);
}

/* A get is asked once per generation; the next request under the same
 * one is answered from the cache (its RESPONSE comes with no KV_REQUEST
 * before it), a new one asks again, as does a request without kv_gens. */
static void test_cache_follows_generations(void **state)
{
	char notfound[16];
	struct peer p;

	(void)state;
	snprintf(notfound, sizeof(notfound), "%d", WS_ENOTFOUND);
	peer_start(&p);
	send_gens(&p, 1, "/small", 5, 0);
	answer_kv(&p, 1, "v1", 5, 0);
	expect_answer(&p, 1, "0", "v1");
	send_gens(&p, 2, "/small", 5, 0);
	expect_answer(&p, 2, "0", "v1");
	send_gens(&p, 3, "/small", 6, 0);
	answer_kv(&p, 1, "v2", 6, 0);
	expect_answer(&p, 3, "0", "v2");
	send_gens(&p, 4, "/small", -1, 0);
	answer_kv(&p, 1, "v3", 6, 0);
	expect_answer(&p, 4, "0", "v3");
	/* "not found" is cached too */
	send_gens(&p, 5, "/small", 7, 0);
	answer_kv(&p, 1, NULL, 7, 0);
	expect_answer(&p, 5, notfound, "-");
	send_gens(&p, 6, "/small", 7, 0);
	expect_answer(&p, 6, notfound, "-");
	assert_int_equal(peer_finish(&p), 0);
}

/* An expired entry, a forged kv_gens before the supervisor's own, and
 * the worker's own write all make the get ask. */
static void test_cache_asks_when_it_must(void **state)
{
	char notfound[16];
	struct peer p;

	(void)state;
	snprintf(notfound, sizeof(notfound), "%d", WS_ENOTFOUND);
	peer_start(&p);
	send_gens(&p, 1, "/small", 3, 0);
	answer_kv(&p, 1, "old", 3, (int64_t)time(NULL) - 1);
	expect_answer(&p, 1, "0", "old");
	send_gens(&p, 2, "/small", 3, 0);
	answer_kv(&p, 1, "v1", 3, 0);
	expect_answer(&p, 2, "0", "v1");
	/* cached under 3; a caller's kv_gens says 3, the supervisor's, last,
	 * says 4 */
	send_gens(&p, 3, "/small", 4, 1);
	answer_kv(&p, 1, "v2", 4, 0);
	expect_answer(&p, 3, "0", "v2");
	/* v2 is cached under 4: a delete drops it, the get asks */
	send_gens(&p, 4, "/delget", 4, 0);
	answer_kv(&p, 3, "", 5, 0);
	answer_kv(&p, 1, NULL, 5, 0);
	expect_answer(&p, 4, notfound, "-");
	assert_int_equal(peer_finish(&p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_sends_value_frames),
		cmocka_unit_test(test_get_reads_value_frames),
		cmocka_unit_test(test_lying_values_break_the_channel),
		cmocka_unit_test(test_cache_follows_generations),
		cmocka_unit_test(test_cache_asks_when_it_must),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
