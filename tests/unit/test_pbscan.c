/*
 * Finding one field in packed protobuf bytes (proto/pbscan.h), against
 * what protobuf-c itself packs: the request id in a Request among every
 * other kind of field, the last of two occurrences, and malformed bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "names.h"
#include "pbscan.h"
#include "switchyard.pb-c.h"

static uint32_t id_field(void)
{
	const ProtobufCFieldDescriptor *d =
		protobuf_c_message_descriptor_get_field_by_name(
			&switchyard__request__descriptor, "request_id");

	assert_non_null(d);
	return d->id;
}

/* A Request with a field of every wire type around the id; malloc'd. */
static uint8_t *packed_request(const char *id, size_t *len)
{
	Switchyard__Request r = SWITCHYARD__REQUEST__INIT;
	Switchyard__Limits l = SWITCHYARD__LIMITS__INIT;
	Switchyard__Header h = SWITCHYARD__HEADER__INIT, *hp = &h;
	uint8_t *buf;

	r.method = (char *)"POST";
	r.url = (char *)"/a?b";
	h.name = (char *)"X-Request-Id";
	h.value = (char *)"0123456789abcdef-not-this";
	r.headers = &hp;
	r.n_headers = 1;
	r.content_length = 1ull << 40; /* a long varint */
	r.chunked = 1;
	l.cpu_ms = 50;
	r.limits = &l;
	r.request_id = (char *)id;
	*len = switchyard__request__get_packed_size(&r);
	buf = malloc(*len + 64);
	assert_non_null(buf);
	switchyard__request__pack(&r, buf);
	return buf;
}

static void expect_id(const uint8_t *msg, size_t len, const char *want)
{
	const uint8_t *v = NULL;
	size_t n = 0;

	assert_int_equal(sy_pb_find_bytes(msg, len, id_field(), &v, &n), 1);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(v, want, n);
}

static void test_finds_the_id(void **state)
{
	size_t len;
	uint8_t *msg = packed_request("0123456789abcdef", &len);

	expect_id(msg, len, "0123456789abcdef");
	free(msg);
}

static void test_absent(void **state)
{
	const uint8_t *v;
	size_t len, n;
	uint8_t *msg = packed_request("", &len); /* proto3: not packed */

	assert_int_equal(sy_pb_find_bytes(msg, len, id_field(), &v, &n), 0);
	assert_int_equal(sy_pb_find_bytes(msg, 0, id_field(), &v, &n), 0);
	free(msg);
}

/* Appended messages merge, and the last occurrence of a string wins:
 * what the supervisor's appended fields rely on. */
static void test_last_occurrence_wins(void **state)
{
	size_t a, b;
	uint8_t *first = packed_request("aaaaaaaaaaaaaaaa", &a);
	uint8_t *second = packed_request("bbbbbbbbbbbbbbbb", &b);
	uint8_t *both = malloc(a + b);
	Switchyard__Request *r;

	assert_non_null(both);
	memcpy(both, first, a);
	memcpy(both + a, second, b);
	expect_id(both, a + b, "bbbbbbbbbbbbbbbb");
	r = switchyard__request__unpack(NULL, a + b, both);
	assert_non_null(r);
	assert_string_equal(r->request_id, "bbbbbbbbbbbbbbbb");
	switchyard__request__free_unpacked(r, NULL);
	free(both);
	free(first);
	free(second);
}

static void expect_malformed(const uint8_t *msg, size_t len)
{
	const uint8_t *v;
	size_t n;

	assert_int_equal(sy_pb_find_bytes(msg, len, 12, &v, &n), -1);
}

static void test_malformed(void **state)
{
	static const uint8_t cut_varint[] = { 0x28, 0x80 };
	static const uint8_t long_varint[] = {
		0x28, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
		0x80, 0x01 };
	static const uint8_t past_end[] = { 0x12, 0x05, 'a', 'b' };
	static const uint8_t id_as_varint[] = { 12 << 3 | 0, 0x01 };
	static const uint8_t group[] = { 0x0b, 0x0c };
	static const uint8_t field_zero[] = { 0x02, 0x00 };
	static const uint8_t cut_fixed64[] = { 0x09, 1, 2, 3 };

	expect_malformed(cut_varint, sizeof(cut_varint));
	expect_malformed(long_varint, sizeof(long_varint));
	expect_malformed(past_end, sizeof(past_end));
	expect_malformed(id_as_varint, sizeof(id_as_varint));
	expect_malformed(group, sizeof(group));
	expect_malformed(field_zero, sizeof(field_zero));
	expect_malformed(cut_fixed64, sizeof(cut_fixed64));
}

/* Every prefix of a message: never a read past it (ASan watches), and
 * found only once the whole id is inside. */
static void test_every_prefix(void **state)
{
	size_t len, i, n;
	uint8_t *msg = packed_request("0123456789abcdef", &len);
	const uint8_t *v;
	uint8_t *copy;
	int rc;

	for (i = 0; i <= len; i++) {
		copy = malloc(i ? i : 1);
		assert_non_null(copy);
		memcpy(copy, msg, i);
		rc = sy_pb_find_bytes(copy, i, id_field(), &v, &n);
		if (rc == 1)
			assert_true(v + n <= copy + i);
		free(copy);
	}
	free(msg);
}

/* Stepping through a Request meets its length-delimited fields in
 * packed order (the two headers among them), skips the varints and the
 * limits' numbers inside, and agrees with protobuf-c on the headers. */
static void test_steps_through_fields(void **state)
{
	Switchyard__Request r = SWITCHYARD__REQUEST__INIT;
	Switchyard__Header a = SWITCHYARD__HEADER__INIT;
	Switchyard__Header b = SWITCHYARD__HEADER__INIT;
	Switchyard__Header *hv[] = { &a, &b };
	const uint8_t *v, *name;
	uint32_t field, seen[8];
	size_t len, pos = 0, n, nlen, k = 0;
	uint8_t buf[256];
	int rc;

	r.method = (char *)"GET";
	r.url = (char *)"/x";
	a.name = (char *)"Host";
	a.value = (char *)"a.test";
	b.name = (char *)"Authorization";
	b.value = (char *)"";
	r.headers = hv;
	r.n_headers = 2;
	r.content_length = 1ull << 40;
	r.request_id = (char *)"0123456789abcdef";
	len = switchyard__request__get_packed_size(&r);
	assert_true(len <= sizeof(buf));
	switchyard__request__pack(&r, buf);
	while ((rc = sy_pb_next_bytes(buf, len, &pos, &field, &v, &n)) == 1) {
		assert_true(k < 8);
		seen[k++] = field;
		if (field != 3)
			continue;
		assert_int_equal(sy_pb_find_bytes(v, n, 1, &name, &nlen), 1);
		assert_true((nlen == 4 && memcmp(name, "Host", 4) == 0) ||
		            (nlen == 13 &&
		             memcmp(name, "Authorization", 13) == 0));
	}
	assert_int_equal(rc, 0);
	assert_int_equal(pos, len);
	assert_int_equal(k, 5);
	assert_int_equal(seen[0], 1);
	assert_int_equal(seen[1], 2);
	assert_int_equal(seen[2], 3);
	assert_int_equal(seen[3], 3);
	assert_int_equal(seen[4], 12);
}

static void expect_next_malformed(const uint8_t *msg, size_t len)
{
	const uint8_t *v;
	uint32_t field;
	size_t pos = 0, n;
	int rc;

	while ((rc = sy_pb_next_bytes(msg, len, &pos, &field, &v, &n)) == 1)
		;
	assert_int_equal(rc, -1);
}

static void test_next_malformed(void **state)
{
	static const uint8_t cut_varint[] = { 0x28, 0x80 };
	static const uint8_t past_end[] = { 0x12, 0x05, 'a', 'b' };
	static const uint8_t group[] = { 0x0b, 0x0c };
	static const uint8_t field_zero[] = { 0x02, 0x00 };
	/* field 2^29 as a length-delimited key: one past the largest */
	static const uint8_t field_big[] = { 0x82, 0x80, 0x80, 0x80, 0x10,
	                                     0x00 };
	static const uint8_t after_good[] = { 0x12, 0x01, 'a', 0x12, 0x05 };

	expect_next_malformed(cut_varint, sizeof(cut_varint));
	expect_next_malformed(past_end, sizeof(past_end));
	expect_next_malformed(group, sizeof(group));
	expect_next_malformed(field_zero, sizeof(field_zero));
	expect_next_malformed(field_big, sizeof(field_big));
	expect_next_malformed(after_good, sizeof(after_good));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_finds_the_id),
		cmocka_unit_test(test_absent),
		cmocka_unit_test(test_last_occurrence_wins),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_every_prefix),
		cmocka_unit_test(test_steps_through_fields),
		cmocka_unit_test(test_next_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
