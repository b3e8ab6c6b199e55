/*
 * Framing (proto/frame.h): headers, the reader's reassembly and limits, the
 * writer's queue over a real socket, descriptor passing, and protobuf
 * payloads that must be refused rather than trusted.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "frame.h"
#include "switchyard.pb-c.h"

/* One frame as the tests expect to see it come out of a reader. */
struct xframe {
	uint8_t type, flags;
	uint32_t stream;
	size_t len;
	uint8_t *payload; /* malloc'd copy */
};

struct xlist {
	struct xframe f[512];
	size_t n;
};

static void xlist_clear(struct xlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->f[i].payload);
	l->n = 0;
}

static void xlist_add(struct xlist *l, uint8_t type, uint8_t flags,
                      uint32_t stream, const void *p, size_t len)
{
	struct xframe *x;

	assert_true(l->n < sizeof(l->f) / sizeof(l->f[0]));
	x = &l->f[l->n++];
	x->type = type;
	x->flags = flags;
	x->stream = stream;
	x->len = len;
	x->payload = malloc(len ? len : 1);
	assert_non_null(x->payload);
	if (len)
		memcpy(x->payload, p, len);
}

/* Moves every whole frame out of r into l; fails the test on an error or
 * on a descriptor nobody sent. */
static void drain(struct sy_reader *r, struct xlist *l)
{
	struct sy_frame f;
	int rc;

	while ((rc = sy_reader_next(r, &f)) == 1) {
		assert_int_equal(f.fd, -1);
		xlist_add(l, f.type, f.flags, f.stream, f.payload, f.len);
	}
	assert_int_equal(rc, 0);
}

static void assert_same_frames(const struct xlist *a, const struct xlist *b)
{
	size_t i;

	assert_int_equal(a->n, b->n);
	for (i = 0; i < a->n; i++) {
		assert_int_equal(a->f[i].type, b->f[i].type);
		assert_int_equal(a->f[i].flags, b->f[i].flags);
		assert_int_equal(a->f[i].stream, b->f[i].stream);
		assert_int_equal(a->f[i].len, b->f[i].len);
		assert_memory_equal(a->f[i].payload, b->f[i].payload,
		                    a->f[i].len);
	}
}

static void fill_pattern(uint8_t *p, size_t len, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 31u + seed * 7u + (i >> 8));
}

/* A small Request with every kind of field the router fills in. */
static size_t pack_sample_request(uint8_t **out)
{
	Switchyard__Request req = SWITCHYARD__REQUEST__INIT;
	Switchyard__Header h1 = SWITCHYARD__HEADER__INIT;
	Switchyard__Header h2 = SWITCHYARD__HEADER__INIT;
	Switchyard__Header *hs[2] = { &h1, &h2 };
	size_t len;

	h1.name = "Host";
	h1.value = "alice.example.com";
	h2.name = "X-Test";
	h2.value = "1";
	req.method = "POST";
	req.url = "/a/b?x=1";
	req.headers = hs;
	req.n_headers = 2;
	req.remote_addr = "127.0.0.1:4321";
	req.content_length = 1000;
	len = switchyard__request__get_packed_size(&req);
	*out = malloc(len);
	assert_non_null(*out);
	assert_int_equal(switchyard__request__pack(&req, *out), len);
	return len;
}

/* Encodes the frames of l back to back into a new buffer. */
static uint8_t *encode_all(const struct xlist *l, size_t *total)
{
	size_t i, off = 0, n = 0;
	uint8_t *buf;

	for (i = 0; i < l->n; i++)
		n += SY_FRAME_HDR_LEN + l->f[i].len;
	buf = malloc(n);
	assert_non_null(buf);
	for (i = 0; i < l->n; i++) {
		sy_hdr_encode(buf + off, l->f[i].type, l->f[i].flags,
		              l->f[i].stream, (uint32_t)l->f[i].len);
		off += SY_FRAME_HDR_LEN;
		memcpy(buf + off, l->f[i].payload, l->f[i].len);
		off += l->f[i].len;
	}
	*total = n;
	return buf;
}

/* The frames of one small request/response exchange. */
static void sample_exchange(struct xlist *l)
{
	uint8_t body[1000], *req;
	size_t len = pack_sample_request(&req);

	fill_pattern(body, sizeof(body), 1);
	xlist_add(l, SY_MSG_REQUEST, 0, 7, req, len);
	xlist_add(l, SY_MSG_REQ_BODY, 0, 7, body, 999);
	xlist_add(l, SY_MSG_REQ_BODY, SY_FLAG_END, 7, body + 999, 1);
	xlist_add(l, SY_MSG_CANCEL, 0, 8, NULL, 0);
	xlist_add(l, SY_MSG_RES_BODY, SY_FLAG_END | SY_FLAG_ABORT, 0xfffffffe,
	          body, 3);
	xlist_add(l, SY_MSG_HELLO, 0, 0, NULL, 0);
	free(req);
}

/* ---- headers ---- */

static void test_hdr_wire_format(void **state)
{
	static const uint8_t want[SY_FRAME_HDR_LEN] = {
		0x00, 0x00, 0x04, 0xd2, SY_MSG_REQUEST, SY_FLAG_END, 0, 0,
		0xde, 0xad, 0xbe, 0xef
	};
	uint8_t h[SY_FRAME_HDR_LEN];
	struct sy_frame f;

	sy_hdr_encode(h, SY_MSG_REQUEST, SY_FLAG_END, 0xdeadbeefu, 1234);
	assert_memory_equal(h, want, sizeof(want));
	memset(&f, 0xa5, sizeof(f));
	assert_int_equal(sy_hdr_decode(h, &f), 0);
	assert_int_equal(f.type, SY_MSG_REQUEST);
	assert_int_equal(f.flags, SY_FLAG_END);
	assert_int_equal(f.stream, 0xdeadbeefu);
	assert_int_equal(f.len, 1234);
}

static void expect_bad_header(const uint8_t h[SY_FRAME_HDR_LEN])
{
	struct sy_frame f;

	errno = 0;
	assert_int_equal(sy_hdr_decode(h, &f), -1);
	assert_int_equal(errno, EPROTO);
}

static void test_hdr_rejects_malformed(void **state)
{
	static const uint8_t bad_types[] = { 0, 9, 15, 18, 100, 255 };
	uint8_t h[SY_FRAME_HDR_LEN];
	size_t i;

	for (i = 0; i < sizeof(bad_types); i++) {
		sy_hdr_encode(h, bad_types[i], 0, 1, 0);
		expect_bad_header(h);
	}
	sy_hdr_encode(h, SY_MSG_REQUEST, 0x04, 1, 0);
	expect_bad_header(h);
	sy_hdr_encode(h, SY_MSG_REQUEST, 0x80 | SY_FLAG_END, 1, 0);
	expect_bad_header(h);
	sy_hdr_encode(h, SY_MSG_REQUEST, 0, 1, 0);
	h[6] = 1;
	expect_bad_header(h);
	sy_hdr_encode(h, SY_MSG_REQUEST, 0, 1, 0);
	h[7] = 0x80;
	expect_bad_header(h);
}

static void test_hdr_accepts_every_known_type(void **state)
{
	static const uint8_t types[] = {
		SY_MSG_HELLO, SY_MSG_REQUEST, SY_MSG_REQ_BODY, SY_MSG_RESPONSE,
		SY_MSG_RES_BODY, SY_MSG_CANCEL, SY_MSG_FORWARD, SY_MSG_BODY_PULL,
		SY_MSG_CTL_REQUEST,
		SY_MSG_CTL_RESPONSE, SY_MSG_KV_REQUEST, SY_MSG_KV_RESPONSE,
		SY_MSG_KV_VALUE
	};
	uint8_t h[SY_FRAME_HDR_LEN];
	struct sy_frame f;
	size_t i;

	for (i = 0; i < sizeof(types); i++) {
		sy_hdr_encode(h, types[i], SY_FLAG_MASK, 3, SY_FRAME_MAX);
		assert_int_equal(sy_hdr_decode(h, &f), 0);
		assert_int_equal(f.type, types[i]);
		assert_int_equal(f.len, SY_FRAME_MAX);
		assert_true(sy_msg_known(types[i]));
	}
	assert_false(sy_msg_known(0));
	assert_false(sy_msg_known(9));
	assert_string_equal(sy_msg_name(SY_MSG_REQUEST), "REQUEST");
	assert_string_equal(sy_msg_name(SY_MSG_CTL_RESPONSE), "CTL_RESPONSE");
	assert_string_equal(sy_msg_name(SY_MSG_KV_VALUE), "KV_VALUE");
	assert_false(sy_msg_known(SY_MSG_KV_VALUE + 1));
	/* a large value's chunks are frames like any other */
	assert_true(SY_KV_INLINE_MAX + 1024 <= SY_FRAME_MAX);
	assert_non_null(sy_msg_name(200));
}

/* ---- reader ---- */

static void test_reader_split_at_every_byte(void **state)
{
	struct xlist want = { .n = 0 }, got = { .n = 0 };
	struct sy_reader r;
	size_t total, k;
	uint8_t *wire;

	sample_exchange(&want);
	wire = encode_all(&want, &total);
	for (k = 0; k <= total; k++) {
		assert_int_equal(sy_reader_init(&r, 0), 0);
		assert_int_equal(sy_reader_feed(&r, wire, k), 0);
		drain(&r, &got);
		assert_int_equal(sy_reader_feed(&r, wire + k, total - k), 0);
		drain(&r, &got);
		assert_same_frames(&want, &got);
		assert_int_equal(r.end - r.start, 0);
		xlist_clear(&got);
		sy_reader_free(&r);
	}
	free(wire);
	xlist_clear(&want);
}

static void test_reader_one_byte_at_a_time(void **state)
{
	struct xlist want = { .n = 0 }, got = { .n = 0 };
	struct sy_reader r;
	size_t total, k;
	uint8_t *wire;

	sample_exchange(&want);
	wire = encode_all(&want, &total);
	assert_int_equal(sy_reader_init(&r, 0), 0);
	for (k = 0; k < total; k++) {
		assert_int_equal(sy_reader_feed(&r, wire + k, 1), 0);
		drain(&r, &got);
	}
	assert_same_frames(&want, &got);
	sy_reader_free(&r);
	free(wire);
	xlist_clear(&want);
	xlist_clear(&got);
}

static void test_reader_many_frames_in_one_feed(void **state)
{
	struct xlist want = { .n = 0 }, got = { .n = 0 };
	struct sy_reader r;
	uint8_t payload[97], *wire;
	size_t total, i;

	for (i = 0; i < 300; i++) {
		fill_pattern(payload, sizeof(payload), (unsigned)i);
		xlist_add(&want, SY_MSG_RES_BODY, i % 2 ? SY_FLAG_END : 0,
		          (uint32_t)i + 1, payload, i % sizeof(payload));
	}
	wire = encode_all(&want, &total);
	assert_int_equal(sy_reader_init(&r, 0), 0);
	assert_int_equal(sy_reader_feed(&r, wire, total), 0);
	drain(&r, &got);
	assert_same_frames(&want, &got);
	sy_reader_free(&r);
	free(wire);
	xlist_clear(&want);
	xlist_clear(&got);
}

static void expect_reader_refuses(uint8_t type, uint8_t flags, uint32_t len,
                                  int err)
{
	uint8_t h[SY_FRAME_HDR_LEN];
	struct sy_reader r;
	struct sy_frame f;

	sy_hdr_encode(h, type, flags, 1, len);
	assert_int_equal(sy_reader_init(&r, 0), 0);
	/* Only the header: the verdict must not wait for the payload. */
	assert_int_equal(sy_reader_feed(&r, h, sizeof(h)), 0);
	errno = 0;
	assert_int_equal(sy_reader_next(&r, &f), -1);
	assert_int_equal(errno, err);
	sy_reader_free(&r);
}

static void test_reader_refuses_oversize_before_payload(void **state)
{
	expect_reader_refuses(SY_MSG_REQ_BODY, 0, SY_FRAME_MAX + 1, EMSGSIZE);
	expect_reader_refuses(SY_MSG_REQUEST, 0, 0x7fffffffu, EMSGSIZE);
	expect_reader_refuses(SY_MSG_REQUEST, 0, 0xffffffffu, EMSGSIZE);
}

static void test_reader_refuses_bad_headers(void **state)
{
	expect_reader_refuses(0, 0, 10, EPROTO);
	expect_reader_refuses(9, 0, 10, EPROTO);
	expect_reader_refuses(SY_MSG_REQUEST, 0x10, 10, EPROTO);
}

static void test_reader_refuses_reserved_bits(void **state)
{
	uint8_t h[SY_FRAME_HDR_LEN];
	struct sy_reader r;
	struct sy_frame f;

	sy_hdr_encode(h, SY_MSG_REQUEST, 0, 1, 4);
	h[7] = 1;
	assert_int_equal(sy_reader_init(&r, 0), 0);
	assert_int_equal(sy_reader_feed(&r, h, sizeof(h)), 0);
	errno = 0;
	assert_int_equal(sy_reader_next(&r, &f), -1);
	assert_int_equal(errno, EPROTO);
	sy_reader_free(&r);
}

/* A frame of exactly SY_FRAME_MAX bytes is legal and arrives whole. */
static void test_reader_accepts_max_frame(void **state)
{
	uint8_t h[SY_FRAME_HDR_LEN], *payload;
	struct sy_reader r;
	struct sy_frame f;
	size_t off;

	payload = malloc(SY_FRAME_MAX);
	assert_non_null(payload);
	fill_pattern(payload, SY_FRAME_MAX, 9);
	sy_hdr_encode(h, SY_MSG_REQ_BODY, SY_FLAG_END, 5, SY_FRAME_MAX);
	assert_int_equal(sy_reader_init(&r, 0), 0);
	assert_int_equal(sy_reader_feed(&r, h, sizeof(h)), 0);
	for (off = 0; off < SY_FRAME_MAX; off += SY_BODY_CHUNK) {
		assert_int_equal(sy_reader_next(&r, &f), 0);
		assert_int_equal(sy_reader_feed(&r, payload + off,
		                                 SY_BODY_CHUNK), 0);
	}
	assert_int_equal(sy_reader_next(&r, &f), 1);
	assert_int_equal(f.len, SY_FRAME_MAX);
	assert_int_equal(f.stream, 5);
	assert_memory_equal(f.payload, payload, SY_FRAME_MAX);
	assert_int_equal(sy_reader_next(&r, &f), 0);
	sy_reader_free(&r);
	free(payload);
}

static void test_reader_free_is_idempotent(void **state)
{
	struct sy_reader r;
	struct sy_writer w;

	memset(&r, 0, sizeof(r));
	r.pending_fd = -1;
	sy_reader_free(&r);
	assert_int_equal(sy_reader_init(&r, 1), 0);
	sy_reader_free(&r);
	sy_reader_free(&r);
	assert_int_equal(sy_writer_init(&w), 0);
	sy_writer_free(&w);
	sy_writer_free(&w);
}

/* ---- protobuf payloads ---- */

static void test_request_round_trip(void **state)
{
	Switchyard__Request *req;
	uint8_t *buf;
	size_t len = pack_sample_request(&buf);

	req = switchyard__request__unpack(NULL, len, buf);
	assert_non_null(req);
	assert_string_equal(req->method, "POST");
	assert_string_equal(req->url, "/a/b?x=1");
	assert_int_equal(req->n_headers, 2);
	assert_string_equal(req->headers[0]->name, "Host");
	assert_string_equal(req->headers[0]->value, "alice.example.com");
	assert_int_equal(req->content_length, 1000);
	switchyard__request__free_unpacked(req, NULL);
	free(buf);
}

static void test_corrupt_protobuf_refused(void **state)
{
	/* url (field 2) claims 100 bytes, 3 follow */
	static const uint8_t short_string[] = { 0x12, 0x64, '/', 'a', 'b' };
	/* field 1 with wire type 7, which does not exist */
	static const uint8_t bad_wire_type[] = { 0x0f, 0x01 };
	/* a varint that never ends */
	static const uint8_t endless_varint[] = {
		0x28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff
	};
	/* headers (field 3) holding a nested message that overruns itself */
	static const uint8_t bad_nested[] = { 0x1a, 0x04, 0x0a, 0x10, 'H', 'o' };
	uint8_t *good;
	size_t len = pack_sample_request(&good);

	assert_null(switchyard__request__unpack(NULL, sizeof(short_string),
	                                        short_string));
	assert_null(switchyard__request__unpack(NULL, sizeof(bad_wire_type),
	                                        bad_wire_type));
	assert_null(switchyard__request__unpack(NULL, sizeof(endless_varint),
	                                        endless_varint));
	assert_null(switchyard__request__unpack(NULL, sizeof(bad_nested),
	                                        bad_nested));
	/* A valid message cut short inside its last field. */
	assert_null(switchyard__request__unpack(NULL, len - 1, good));
	assert_null(switchyard__response__unpack(NULL, sizeof(short_string),
	                                         short_string));
	assert_null(switchyard__ctl_request__unpack(NULL, sizeof(short_string),
	                                            short_string));
	free(good);
}

/* ---- writer ---- */

static void test_writer_refuses_oversize(void **state)
{
	Switchyard__Request req = SWITCHYARD__REQUEST__INIT;
	struct sy_writer w;
	char *url;
	uint8_t *big;

	big = calloc(1, SY_FRAME_MAX + 1);
	url = malloc(SY_FRAME_MAX + 2);
	assert_non_null(big);
	assert_non_null(url);
	memset(url, 'a', SY_FRAME_MAX + 1);
	url[0] = '/';
	url[SY_FRAME_MAX + 1] = '\0';
	req.method = "GET";
	req.url = url;
	assert_int_equal(sy_writer_init(&w), 0);
	assert_int_equal(sy_writer_raw(&w, SY_MSG_REQ_BODY, 0, 1, big,
	                               SY_FRAME_MAX), 0);
	assert_int_equal(sy_writer_pending(&w), SY_FRAME_HDR_LEN + SY_FRAME_MAX);
	errno = 0;
	assert_int_equal(sy_writer_raw(&w, SY_MSG_REQ_BODY, 0, 1, big,
	                               SY_FRAME_MAX + 1), -1);
	assert_int_equal(errno, EMSGSIZE);
	errno = 0;
	assert_int_equal(sy_writer_msg(&w, SY_MSG_REQUEST, 0, 2,
	                               &req.base), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_null(sy_writer_reserve(&w, SY_MSG_RES_BODY, 0, 3,
	                              SY_FRAME_MAX + 1));
	/* Refused frames leave nothing half-queued behind. */
	assert_int_equal(sy_writer_pending(&w), SY_FRAME_HDR_LEN + SY_FRAME_MAX);
	sy_writer_free(&w);
	free(url);
	free(big);
}

static void test_writer_msg_and_reserve(void **state)
{
	Switchyard__Hello hello = SWITCHYARD__HELLO__INIT;
	Switchyard__Hello *got;
	struct sy_writer w;
	struct sy_reader r;
	struct sy_frame f;
	uint8_t *p;

	hello.api_version = SY_API_VERSION;
	assert_int_equal(sy_writer_init(&w), 0);
	assert_int_equal(sy_writer_msg(&w, SY_MSG_HELLO, 0, 0, &hello.base), 0);
	p = sy_writer_reserve(&w, SY_MSG_RES_BODY, SY_FLAG_END, 4, 3);
	assert_non_null(p);
	memcpy(p, "abc", 3);
	assert_int_equal(sy_reader_init(&r, 0), 0);
	assert_int_equal(sy_reader_feed(&r, w.q.data + w.q.start,
	                                sy_writer_pending(&w)), 0);
	assert_int_equal(sy_reader_next(&r, &f), 1);
	assert_int_equal(f.type, SY_MSG_HELLO);
	got = switchyard__hello__unpack(NULL, f.len, f.payload);
	assert_non_null(got);
	assert_int_equal(got->api_version, SY_API_VERSION);
	switchyard__hello__free_unpacked(got, NULL);
	assert_int_equal(sy_reader_next(&r, &f), 1);
	assert_int_equal(f.type, SY_MSG_RES_BODY);
	assert_int_equal(f.flags, SY_FLAG_END);
	assert_int_equal(f.len, 3);
	assert_memory_equal(f.payload, "abc", 3);
	assert_int_equal(sy_reader_next(&r, &f), 0);
	sy_reader_free(&r);
	sy_writer_free(&w);
}

/* A socket pair with a writer on end 0 and a reader on end 1, released by
 * the teardown even when an assertion ends the test early. */
struct chan {
	int sv[2];
	int pipe_r;
	struct sy_writer w;
	struct sy_reader r;
};

static int chan_setup(void **state, int pass_fds)
{
	struct chan *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return -1;
	c->pipe_r = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, c->sv) == -1 ||
	    sy_writer_init(&c->w) == -1 || sy_reader_init(&c->r, pass_fds) == -1)
		return -1;
	*state = c;
	return 0;
}

static int chan_setup_fds(void **state)
{
	return chan_setup(state, 1);
}

static int chan_setup_nofds(void **state)
{
	return chan_setup(state, 0);
}

static int chan_teardown(void **state)
{
	struct chan *c = *state;

	sy_writer_free(&c->w);
	sy_reader_free(&c->r);
	close(c->sv[0]);
	close(c->sv[1]);
	if (c->pipe_r >= 0)
		close(c->pipe_r);
	free(c);
	return 0;
}

static void nonblocking_pair(int sv[2], int sndbuf)
{
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf,
	                            sizeof(sndbuf)), 0);
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
}

/* Reads everything available on fd into r and drains whole frames. */
static void read_available(struct sy_reader *r, int fd, struct xlist *got)
{
	ssize_t n;

	for (;;) {
		n = sy_reader_fill(r, fd);
		if (n < 0) {
			assert_int_equal(errno, EAGAIN);
			return;
		}
		assert_true(n > 0);
		drain(r, got);
	}
}

/* 4 MiB of body frames through a socket that takes a few KiB at a time:
 * the writer must resume exactly where each short write stopped. */
static void test_writer_partial_writes(void **state)
{
	static struct xlist want, got;
	struct chan *c = *state;
	uint8_t chunk[SY_BODY_CHUNK];
	ssize_t left;
	int i, partial = 0, rounds = 0;

	nonblocking_pair(c->sv, 4096);
	for (i = 0; i < 64; i++) {
		size_t len = SY_BODY_CHUNK - (size_t)i * 7;
		uint8_t flags = i == 63 ? SY_FLAG_END : 0;

		fill_pattern(chunk, len, (unsigned)i);
		xlist_add(&want, SY_MSG_RES_BODY, flags, 42, chunk, len);
		assert_int_equal(sy_writer_raw(&c->w, SY_MSG_RES_BODY, flags, 42,
		                               chunk, len), 0);
	}
	do {
		left = sy_writer_flush(&c->w, c->sv[0]);
		assert_true(left >= 0);
		if (left > 0)
			partial++;
		read_available(&c->r, c->sv[1], &got);
		assert_true(++rounds < 100000);
	} while (left > 0);
	read_available(&c->r, c->sv[1], &got);
	assert_true(partial > 0);
	assert_int_equal(sy_writer_pending(&c->w), 0);
	assert_same_frames(&want, &got);
	xlist_clear(&want);
	xlist_clear(&got);
}

/* ---- descriptor passing ---- */

/* 1 if every write end of the pipe whose read end is rfd is closed. */
static int pipe_writers_gone(int rfd)
{
	char c;
	ssize_t n;

	assert_int_equal(fcntl(rfd, F_SETFL, O_NONBLOCK), 0);
	n = read(rfd, &c, 1);
	if (n < 0)
		assert_int_equal(errno, EAGAIN);
	return n == 0;
}

/* Lowest free descriptor number: where the next received one will land. */
static int lowest_free_fd(void)
{
	int fd = dup(0);

	assert_true(fd >= 0);
	close(fd);
	return fd;
}

/* Sends a pipe's write end on a CTL_REQUEST; keeps the read end in c. */
static void send_pipe_end(struct chan *c)
{
	int p[2];

	assert_int_equal(pipe(p), 0);
	c->pipe_r = p[0];
	assert_int_equal(sy_writer_attach_fd(&c->w, p[1]), 0);
	assert_int_equal(sy_writer_raw(&c->w, SY_MSG_CTL_REQUEST, 0, 1, "x", 1),
	                 0);
	assert_int_equal(sy_writer_flush_all(&c->w, c->sv[0]), 0);
	/* The writer closed its copy once the descriptor was sent. */
	errno = 0;
	assert_int_equal(fcntl(p[1], F_GETFD), -1);
	assert_int_equal(errno, EBADF);
}

static void test_fd_passing_accepted(void **state)
{
	struct chan *c = *state;
	struct sy_frame f;
	char ch = 0;

	send_pipe_end(c);
	assert_int_equal(sy_frame_recv(c->sv[1], &c->r, &f), 1);
	assert_int_equal(f.type, SY_MSG_CTL_REQUEST);
	assert_true(f.fd >= 0);
	assert_int_equal(write(f.fd, "z", 1), 1);
	assert_int_equal(read(c->pipe_r, &ch, 1), 1);
	assert_int_equal(ch, 'z');
	assert_false(pipe_writers_gone(c->pipe_r));
	close(f.fd);
	assert_true(pipe_writers_gone(c->pipe_r));
}

static void test_fd_passing_refused(void **state)
{
	struct chan *c = *state;
	struct sy_frame f;
	int landed;

	send_pipe_end(c);
	landed = lowest_free_fd();
	assert_int_equal(sy_frame_recv(c->sv[1], &c->r, &f), 1);
	assert_int_equal(f.type, SY_MSG_CTL_REQUEST);
	assert_int_equal(f.fd, -1);
	errno = 0;
	assert_int_equal(fcntl(landed, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	assert_true(pipe_writers_gone(c->pipe_r));
}

/* Expects the next frame on c to be stream id, with a descriptor or not. */
static void expect_frame(struct chan *c, uint32_t id, int with_fd)
{
	struct sy_frame f;

	assert_int_equal(sy_frame_recv(c->sv[1], &c->r, &f), 1);
	assert_int_equal(f.stream, id);
	if (f.fd >= 0)
		close(f.fd);
	if ((f.fd >= 0) != with_fd)
		fail_msg("frame on stream %u arrived %s a descriptor", id,
		         with_fd ? "without" : "with");
}

/* The descriptor belongs to the frame it was attached to, not to frames
 * queued before or after it, even when all arrive in one read. */
static void test_fd_travels_with_its_frame(void **state)
{
	struct chan *c = *state;
	int p[2];

	assert_int_equal(pipe(p), 0);
	c->pipe_r = p[0];
	assert_int_equal(sy_writer_raw(&c->w, SY_MSG_CTL_REQUEST, 0, 1, "a", 1),
	                 0);
	assert_int_equal(sy_writer_attach_fd(&c->w, p[1]), 0);
	assert_int_equal(sy_writer_raw(&c->w, SY_MSG_CTL_REQUEST, 0, 2, "b", 1),
	                 0);
	assert_int_equal(sy_writer_raw(&c->w, SY_MSG_CTL_REQUEST, 0, 3, "c", 1),
	                 0);
	assert_int_equal(sy_writer_flush_all(&c->w, c->sv[0]), 0);
	expect_frame(c, 1, 0);
	expect_frame(c, 2, 1);
	expect_frame(c, 3, 0);
	assert_true(pipe_writers_gone(c->pipe_r));
}

static void test_fd_attach_busy_and_freed(void **state)
{
	struct sy_writer w;
	int p[2], q[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(pipe(q), 0);
	assert_int_equal(sy_writer_init(&w), 0);
	assert_int_equal(sy_writer_attach_fd(&w, p[1]), 0);
	errno = 0;
	assert_int_equal(sy_writer_attach_fd(&w, q[1]), -1);
	assert_int_equal(errno, EBUSY);
	assert_false(pipe_writers_gone(q[0]));
	close(q[1]);
	/* A descriptor never sent is closed with the writer. */
	sy_writer_free(&w);
	assert_true(pipe_writers_gone(p[0]));
	close(p[0]);
	close(q[0]);
}

/* ---- blocking receive ---- */

static void test_frame_recv_end_of_file(void **state)
{
	uint8_t h[SY_FRAME_HDR_LEN];
	struct sy_reader r;
	struct sy_frame f;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	sy_hdr_encode(h, SY_MSG_RES_BODY, 0, 1, 10);
	assert_int_equal(write(sv[0], h, sizeof(h)), (ssize_t)sizeof(h));
	assert_int_equal(write(sv[0], "12345", 5), 5);
	close(sv[0]);
	assert_int_equal(sy_reader_init(&r, 0), 0);
	errno = 0;
	assert_int_equal(sy_frame_recv(sv[1], &r, &f), -1);
	assert_int_equal(errno, EPROTO);
	sy_reader_free(&r);
	close(sv[1]);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	sy_hdr_encode(h, SY_MSG_CANCEL, 0, 9, 0);
	assert_int_equal(write(sv[0], h, sizeof(h)), (ssize_t)sizeof(h));
	close(sv[0]);
	assert_int_equal(sy_reader_init(&r, 0), 0);
	assert_int_equal(sy_frame_recv(sv[1], &r, &f), 1);
	assert_int_equal(f.type, SY_MSG_CANCEL);
	assert_int_equal(f.stream, 9);
	assert_int_equal(sy_frame_recv(sv[1], &r, &f), 0);
	sy_reader_free(&r);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdr_wire_format),
		cmocka_unit_test(test_hdr_rejects_malformed),
		cmocka_unit_test(test_hdr_accepts_every_known_type),
		cmocka_unit_test(test_reader_split_at_every_byte),
		cmocka_unit_test(test_reader_one_byte_at_a_time),
		cmocka_unit_test(test_reader_many_frames_in_one_feed),
		cmocka_unit_test(test_reader_refuses_oversize_before_payload),
		cmocka_unit_test(test_reader_refuses_bad_headers),
		cmocka_unit_test(test_reader_refuses_reserved_bits),
		cmocka_unit_test(test_reader_accepts_max_frame),
		cmocka_unit_test(test_reader_free_is_idempotent),
		cmocka_unit_test(test_request_round_trip),
		cmocka_unit_test(test_corrupt_protobuf_refused),
		cmocka_unit_test(test_writer_refuses_oversize),
		cmocka_unit_test(test_writer_msg_and_reserve),
		cmocka_unit_test_setup_teardown(test_writer_partial_writes,
		                                chan_setup_nofds, chan_teardown),
		cmocka_unit_test_setup_teardown(test_fd_passing_accepted,
		                                chan_setup_fds, chan_teardown),
		cmocka_unit_test_setup_teardown(test_fd_passing_refused,
		                                chan_setup_nofds, chan_teardown),
		cmocka_unit_test_setup_teardown(test_fd_travels_with_its_frame,
		                                chan_setup_fds, chan_teardown),
		cmocka_unit_test(test_fd_attach_busy_and_freed),
		cmocka_unit_test(test_frame_recv_end_of_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
