/*
 * Taking a field out of a packed message without unpacking it
 * (proto/pbwire.h): what the supervisor does to every Request from the
 * router, so that no `context` it carries reaches the dispatch worker.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pbwire.h"
#include "switchyard.pb-c.h"

/* A Request with two headers and two context entries, packed into buf. */
static size_t packed_request(uint8_t *buf)
{
	Switchyard__Request r = SWITCHYARD__REQUEST__INIT;
	Switchyard__Header h[4], *hp[2], *cp[2];
	size_t i;

	for (i = 0; i < 4; i++)
		switchyard__header__init(&h[i]);
	h[0].name = "Host";
	h[0].value = "a.test";
	h[1].name = "X-Customer-Id";
	h[1].value = "cus_client";
	h[2].name = "customer_id";
	h[2].value = "cus_forged";
	h[3].name = "plan";
	h[3].value = "enterprise";
	hp[0] = &h[0];
	hp[1] = &h[1];
	cp[0] = &h[2];
	cp[1] = &h[3];
	r.method = "GET";
	r.url = "/x?y=1";
	r.headers = hp;
	r.n_headers = 2;
	r.context = cp;
	r.n_context = 2;
	r.remote_addr = "192.0.2.1:5";
	return switchyard__request__pack(&r, buf);
}

static void test_strips_context(void **state)
{
	uint8_t in[512], out[512];
	Switchyard__Request *r;
	size_t len = packed_request(in);
	long n = sy_pb_strip_field(in, len, 13, out);

	assert_true(n > 0 && (size_t)n < len);
	r = switchyard__request__unpack(NULL, (size_t)n, out);
	assert_non_null(r);
	assert_int_equal(r->n_context, 0);
	assert_int_equal(r->n_headers, 2);
	assert_string_equal(r->headers[1]->value, "cus_client");
	assert_string_equal(r->url, "/x?y=1");
	assert_string_equal(r->remote_addr, "192.0.2.1:5");
	switchyard__request__free_unpacked(r, NULL);
	/* nothing to strip: the same bytes */
	assert_int_equal(sy_pb_strip_field(out, (size_t)n, 13, in), n);
	assert_memory_equal(in, out, (size_t)n);
}

/* A tag written with more varint bytes than it needs is still field 13,
 * as protobuf-c reads it. */
static void test_long_tag(void **state)
{
	static const uint8_t in[] = {
		0x0a, 0x03, 'G', 'E', 'T',           /* method */
		0xea, 0x80, 0x00, 0x05, 0x0a, 0x01,  /* context, 3-byte tag */
		'k', 0x12, 0x00,
		0x12, 0x01, '/',                     /* url */
	};
	uint8_t out[sizeof(in)];
	long n = sy_pb_strip_field(in, sizeof(in), 13, out);
	Switchyard__Request *r;

	r = switchyard__request__unpack(NULL, sizeof(in), in);
	assert_non_null(r);
	assert_int_equal(r->n_context, 1); /* protobuf-c reads it so */
	switchyard__request__free_unpacked(r, NULL);
	assert_int_equal(n, 8);
	assert_memory_equal(out, "\x0a\x03GET\x12\x01/", 8);
}

static void test_malformed(void **state)
{
	static const uint8_t truncated[] = { 0x0a, 0x05, 'G', 'E' };
	static const uint8_t group[] = { 0x6b, 0x6c };       /* field 13 */
	static const uint8_t zero[] = { 0x02, 0x00 };        /* field 0 */
	static const uint8_t fixed[] = { 0x69, 1, 2, 3 };    /* 64-bit, 3 */
	static const uint8_t longvar[] = { 0x08, 0xff, 0xff, 0xff, 0xff,
		                           0xff, 0xff, 0xff, 0xff, 0xff,
		                           0xff, 0x01 };
	uint8_t out[16];

	assert_int_equal(sy_pb_strip_field(truncated, sizeof(truncated), 13,
	                                   out), -1);
	assert_int_equal(sy_pb_strip_field(group, sizeof(group), 13, out), -1);
	assert_int_equal(sy_pb_strip_field(zero, sizeof(zero), 13, out), -1);
	assert_int_equal(sy_pb_strip_field(fixed, sizeof(fixed), 13, out), -1);
	assert_int_equal(sy_pb_strip_field(longvar, sizeof(longvar), 13, out),
	                 -1);
	assert_int_equal(sy_pb_strip_field(out, 0, 13, out + 8), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strips_context),
		cmocka_unit_test(test_long_tag),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
