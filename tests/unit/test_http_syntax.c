/*
 * HTTP tokens and header values (proto/http_syntax.h), byte by byte
 * against RFC 9110's own wording: a tchar is any visible ASCII character
 * but a delimiter; a field value has no control character but HTAB.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http_syntax.h"

static void test_token_every_byte(void **state)
{
	int c;

	for (c = 0; c < 256; c++) {
		char s[2] = { (char)c, 'a' };
		int want = c > 0x20 && c < 0x7f &&
		           strchr("\"(),/:;<=>?@[\\]{}", c) == NULL;

		assert_int_equal(sy_http_token(s, 1), want);
		assert_int_equal(sy_http_token(s, 2), want);
	}
}

static void test_token_edges(void **state)
{
	assert_true(sy_http_token("X-Forwarded-For", 15));
	assert_true(sy_http_token("!#$%&'*+-.^_`|~", 15));
	assert_false(sy_http_token("", 0));
	assert_false(sy_http_token("Bad Name", 8));
	assert_false(sy_http_token("a\0b", 3));
	assert_true(sy_http_token("GET /", 3)); /* only the span counts */
}

static void test_value_every_byte(void **state)
{
	int c;

	for (c = 0; c < 256; c++) {
		char s[3] = { 'a', (char)c, 'b' };
		int want = (c >= 0x20 && c != 0x7f) || c == '\t';

		assert_int_equal(sy_http_value(s, 3), want);
	}
}

static void test_value_edges(void **state)
{
	assert_true(sy_http_value("", 0));
	assert_true(sy_http_value(" text/plain; q=0.9\t", 19));
	assert_false(sy_http_value("a\r\nInjected: yes", 17));
	assert_false(sy_http_value("a\nb", 3));
}

static void test_host(void **state)
{
	static const char *const good[] = {
		"", "example.com", "EXAMPLE.com.", "a", "alice.example.com:8080",
		"127.0.0.1", "127.0.0.1:80", "[::1]", "[::1]:443",
		"[v1.fe80::a+en1]", "xn--bcher-kva.example", "a%20b", "a_b~c",
		"host:", "sub-delims!$&'()*+,;=",
	};
	static const char *const bad[] = {
		"user@example.com", "example.com/path", "exa mple.com",
		"example.com:80:80", "example.com:123456", "example.com:8o",
		":80", "[::1", "[]", "[::1]x", "a%2", "a%zz", "a\tb", "a\rb",
		"\"quoted\"", "a<b", "a\\b", "a?b", "a#b", "\xc3\xa9.example",
	};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!sy_http_host(good[i], strlen(good[i])))
			fail_msg("\"%s\" refused", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sy_http_host(bad[i], strlen(bad[i])))
			fail_msg("\"%s\" accepted", bad[i]);
	assert_false(sy_http_host("a\0b", 3));
	assert_true(sy_http_host("example.com/x", 11)); /* only the span */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_every_byte),
		cmocka_unit_test(test_token_edges),
		cmocka_unit_test(test_value_every_byte),
		cmocka_unit_test(test_value_edges),
		cmocka_unit_test(test_host),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
