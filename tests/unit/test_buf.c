/*
 * Growable byte buffers (lib/buf.h): appending, consuming, when the live
 * bytes move and when they must not, and the limits.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"

static void test_zeroed_is_empty(void **state)
{
	struct sy_buf b = { 0 };

	assert_int_equal(sy_buf_len(&b), 0);
	assert_int_equal(sy_buf_add(&b, NULL, 0), 0);
	assert_null(b.data);
	assert_false(sy_buf_holds(&b, ""));
	sy_buf_free(&b);
	sy_buf_free(&b);
}

static void test_add_and_consume(void **state)
{
	struct sy_buf b = { 0 };

	assert_int_equal(sy_buf_addstr(&b, "hello "), 0);
	assert_int_equal(sy_buf_adduint(&b, 0), 0);
	assert_int_equal(sy_buf_adduint(&b, UINT64_MAX), 0);
	assert_int_equal(sy_buf_len(&b), 27);
	assert_memory_equal(b.data, "hello 018446744073709551615", 27);
	sy_buf_consume(&b, 6);
	assert_int_equal(b.start, 6);
	assert_int_equal(sy_buf_len(&b), 21);
	sy_buf_consume(&b, 21);
	/* drained: the next bytes go to the front again */
	assert_int_equal(b.start, 0);
	assert_int_equal(b.end, 0);
	sy_buf_free(&b);
}

static void test_reserve_moves_live_bytes_to_front(void **state)
{
	struct sy_buf b;
	char *before;

	assert_int_equal(sy_buf_init(&b, 16), 0);
	assert_int_equal(sy_buf_add(&b, "0123456789abcdef", 16), 0);
	sy_buf_consume(&b, 10);
	before = b.data;
	/* room after compaction: no reallocation */
	assert_int_equal(sy_buf_reserve(&b, 8), 0);
	assert_ptr_equal(b.data, before);
	assert_int_equal(b.start, 0);
	assert_memory_equal(b.data, "abcdef", 6);
	assert_int_equal(b.cap, 16);
	/* no room: doubled */
	assert_int_equal(sy_buf_reserve(&b, 11), 0);
	assert_int_equal(b.cap, 32);
	assert_memory_equal(b.data, "abcdef", 6);
	sy_buf_free(&b);
}

static void test_grow_keeps_offsets(void **state)
{
	struct sy_buf b;

	assert_int_equal(sy_buf_init(&b, 16), 0);
	assert_int_equal(sy_buf_add(&b, "0123456789abcdef", 16), 0);
	sy_buf_consume(&b, 10);
	assert_int_equal(sy_buf_grow(&b, 4), 0);
	assert_int_equal(b.start, 10);
	assert_int_equal(b.cap, 32);
	assert_memory_equal(b.data + b.start, "abcdef", 6);
	sy_buf_free(&b);
}

static void test_first_allocation_and_overflow(void **state)
{
	struct sy_buf b = { 0 };

	assert_int_equal(sy_buf_reserve(&b, 1), 0);
	assert_int_equal(b.cap, 256);
	assert_int_equal(sy_buf_reserve(&b, 1000), 0);
	assert_int_equal(b.cap, 1024);
	b.end = 10;
	errno = 0;
	assert_int_equal(sy_buf_reserve(&b, SIZE_MAX - 5), -1);
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(b.cap, 1024);
	sy_buf_free(&b);
}

static void test_holds(void **state)
{
	struct sy_buf b = { 0 };
	char other[4];

	assert_int_equal(sy_buf_addstr(&b, "abcd"), 0);
	sy_buf_consume(&b, 1);
	assert_false(sy_buf_holds(&b, b.data));
	assert_true(sy_buf_holds(&b, b.data + 1));
	assert_true(sy_buf_holds(&b, b.data + 3));
	assert_false(sy_buf_holds(&b, b.data + 4));
	assert_false(sy_buf_holds(&b, other));
	sy_buf_free(&b);
}

static void test_reset_keeps_small_allocations(void **state)
{
	struct sy_buf b = { 0 };

	assert_int_equal(sy_buf_reserve(&b, 100), 0);
	b.end = 50;
	sy_buf_reset(&b, 256);
	assert_non_null(b.data);
	assert_int_equal(b.cap, 256);
	assert_int_equal(sy_buf_len(&b), 0);
	sy_buf_reset(&b, 255);
	assert_null(b.data);
	assert_int_equal(b.cap, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zeroed_is_empty),
		cmocka_unit_test(test_add_and_consume),
		cmocka_unit_test(test_reserve_moves_live_bytes_to_front),
		cmocka_unit_test(test_grow_keeps_offsets),
		cmocka_unit_test(test_first_allocation_and_overflow),
		cmocka_unit_test(test_holds),
		cmocka_unit_test(test_reset_keeps_small_allocations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
