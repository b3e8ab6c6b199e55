/*
 * The naming rules of the wire (proto/names.h), at their edges: every
 * program decides with these, so a change here is a change of protocol.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "names.h"

static void fill(char *buf, char c, size_t n)
{
	memset(buf, c, n);
	buf[n] = '\0';
}

static void test_valid_name(void **state)
{
	char s[SY_NAME_MAX + 1];

	assert_true(sy_valid_name("a"));
	assert_true(sy_valid_name("0abc-d_e"));
	assert_false(sy_valid_name(NULL));
	assert_false(sy_valid_name(""));
	assert_false(sy_valid_name("-a"));
	assert_false(sy_valid_name("_a"));
	assert_false(sy_valid_name("Abc"));
	assert_false(sy_valid_name("a.b"));
	assert_false(sy_valid_name("a/b"));
	fill(s, 'a', SY_NAME_MAX - 1);
	assert_true(sy_valid_name(s));
	fill(s, 'a', SY_NAME_MAX);
	assert_false(sy_valid_name(s));
}

static void test_env_key(void **state)
{
	char s[SY_ENV_KEY_MAX + 2];

	assert_true(sy_env_key_valid("PATH", 4));
	assert_true(sy_env_key_valid("_x9", 3));
	assert_true(sy_env_key_valid("A=B", 1)); /* only the span counts */
	assert_false(sy_env_key_valid("", 0));
	assert_false(sy_env_key_valid("9A", 2));
	assert_false(sy_env_key_valid("A-B", 3));
	assert_false(sy_env_key_valid("A\0B", 3));
	fill(s, 'K', SY_ENV_KEY_MAX);
	assert_true(sy_env_key_valid(s, SY_ENV_KEY_MAX));
	fill(s, 'K', SY_ENV_KEY_MAX + 1);
	assert_false(sy_env_key_valid(s, SY_ENV_KEY_MAX + 1));
}

static void test_tag(void **state)
{
	char s[SY_TAG_MAX + 2];

	assert_true(sy_tag_valid("v1.2:blue-green_x"));
	assert_false(sy_tag_valid(""));
	assert_false(sy_tag_valid("a b"));
	assert_false(sy_tag_valid("a/b"));
	fill(s, 't', SY_TAG_MAX);
	assert_true(sy_tag_valid(s));
	fill(s, 't', SY_TAG_MAX + 1);
	assert_false(sy_tag_valid(s));
}

static void test_kv_binding(void **state)
{
	char s[SY_NAME_MAX + 1];

	assert_true(sy_kv_binding_valid("Cache_2", 7));
	assert_true(sy_kv_binding_valid("A=ns", 1));
	assert_false(sy_kv_binding_valid("", 0));
	assert_false(sy_kv_binding_valid("a-b", 3));
	fill(s, 'b', SY_NAME_MAX - 1);
	assert_true(sy_kv_binding_valid(s, SY_NAME_MAX - 1));
	fill(s, 'b', SY_NAME_MAX);
	assert_false(sy_kv_binding_valid(s, SY_NAME_MAX));
}

static void test_kv_key(void **state)
{
	static char s[SY_KV_KEY_MAX + 2];

	assert_true(sy_kv_key_valid("k", 1));
	assert_true(sy_kv_key_valid("bytes \xff/:", strlen("bytes \xff/:")));
	assert_false(sy_kv_key_valid(NULL, 0));
	assert_false(sy_kv_key_valid("", 0));
	assert_false(sy_kv_key_valid("a\0b", 3));
	fill(s, 'k', SY_KV_KEY_MAX);
	assert_true(sy_kv_key_valid(s, SY_KV_KEY_MAX));
	fill(s, 'k', SY_KV_KEY_MAX + 1);
	assert_false(sy_kv_key_valid(s, SY_KV_KEY_MAX + 1));
}

static void test_request_id(void **state)
{
	assert_true(sy_request_id_valid("0123456789abcdef", 16));
	assert_true(sy_request_id_valid("ffffffffffffffff", 16));
	assert_false(sy_request_id_valid(NULL, 0));
	assert_false(sy_request_id_valid("", 0));
	assert_false(sy_request_id_valid("0123456789abcde", 15));
	assert_false(sy_request_id_valid("0123456789abcdef0", 17));
	assert_false(sy_request_id_valid("0123456789ABCDEF", 16));
	assert_false(sy_request_id_valid("0123456789abcdeg", 16));
	assert_false(sy_request_id_valid("0123456789abcde\0", 16));
}

static void test_service_name(void **state)
{
	char s[SY_NAME_MAX + 1];

	assert_true(sy_service_name_valid("AUTH", 4));
	assert_true(sy_service_name_valid("auth-api_2", 10));
	assert_true(sy_service_name_valid("A=b/c", 1)); /* only the span */
	assert_false(sy_service_name_valid("", 0));
	assert_false(sy_service_name_valid("-a", 2));
	assert_false(sy_service_name_valid("_a", 2));
	assert_false(sy_service_name_valid("a.b", 3));
	fill(s, 'S', SY_NAME_MAX - 1);
	assert_true(sy_service_name_valid(s, SY_NAME_MAX - 1));
	fill(s, 'S', SY_NAME_MAX);
	assert_false(sy_service_name_valid(s, SY_NAME_MAX));
}

static void test_context_entry(void **state)
{
	static char s[SY_CONTEXT_VALUE_MAX + 2];

	assert_true(sy_context_key_valid("customer_id"));
	assert_true(sy_context_key_valid("auth.method-2"));
	assert_false(sy_context_key_valid(NULL));
	assert_false(sy_context_key_valid(""));
	assert_false(sy_context_key_valid("Customer"));
	assert_false(sy_context_key_valid(".x"));
	assert_false(sy_context_key_valid("a b"));
	fill(s, 'k', SY_CONTEXT_KEY_MAX - 1);
	assert_true(sy_context_key_valid(s));
	fill(s, 'k', SY_CONTEXT_KEY_MAX);
	assert_false(sy_context_key_valid(s));
	assert_true(sy_context_value_valid(""));
	assert_true(sy_context_value_valid("cus_42 \xc3\xa9"));
	assert_false(sy_context_value_valid(NULL));
	assert_false(sy_context_value_valid("a\r\nX-Evil: 1"));
	assert_false(sy_context_value_valid("tab\there"));
	assert_false(sy_context_value_valid("del\x7f"));
	fill(s, 'v', SY_CONTEXT_VALUE_MAX);
	assert_true(sy_context_value_valid(s));
	fill(s, 'v', SY_CONTEXT_VALUE_MAX + 1);
	assert_false(sy_context_value_valid(s));
}

static void test_context_list(void **state)
{
	static char v[SY_CONTEXT_VALUE_MAX + 1], keys[SY_CONTEXT_MAX + 1][8];
	Switchyard__Header h[SY_CONTEXT_MAX + 1], *hp[SY_CONTEXT_MAX + 1];
	size_t i;

	for (i = 0; i <= SY_CONTEXT_MAX; i++) {
		switchyard__header__init(&h[i]);
		snprintf(keys[i], sizeof(keys[i]), "k%zu", i);
		h[i].name = keys[i];
		h[i].value = "x";
		hp[i] = &h[i];
	}
	assert_null(sy_context_problem(hp, 0));
	assert_null(sy_context_problem(hp, SY_CONTEXT_MAX));
	assert_non_null(sy_context_problem(hp, SY_CONTEXT_MAX + 1));
	h[1].name = "k0";
	assert_string_equal(sy_context_problem(hp, 2),
	                    "a context key given twice");
	h[1].name = "K1";
	assert_non_null(sy_context_problem(hp, 2));
	h[1].name = keys[1];
	fill(v, 'v', SY_CONTEXT_VALUE_MAX);
	for (i = 0; i < SY_CONTEXT_MAX; i++)
		h[i].value = v;
	/* each value fits; together they are over the total */
	assert_string_equal(sy_context_problem(hp, SY_CONTEXT_MAX),
	                    "context over 8192 bytes");
	assert_null(sy_context_problem(hp, 7));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_name),
		cmocka_unit_test(test_env_key),
		cmocka_unit_test(test_tag),
		cmocka_unit_test(test_kv_binding),
		cmocka_unit_test(test_kv_key),
		cmocka_unit_test(test_request_id),
		cmocka_unit_test(test_service_name),
		cmocka_unit_test(test_context_entry),
		cmocka_unit_test(test_context_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
