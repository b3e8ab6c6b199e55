/*
 * supervisor/kv.c against a real LMDB environment in a temporary directory:
 * put/get/delete, list with prefix and cursor, expiry, limits, persistence
 * across a reopen and batch writes, namespaces listed and dropped.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "state/kv.h"

#define NOW 1700000000

static char dir[64];

static struct kv *open_kv(void)
{
	struct kv *kv = NULL;
	char err[512];

	assert_int_equal(kv_open(dir, 64u << 20, &kv, err, sizeof(err)), 0);
	return kv;
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/sy-kv-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	*state = open_kv();
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	kv_close(*state);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void check_value(struct kv *kv, const char *ns, const char *key,
                         const char *want)
{
	size_t len;
	void *v;

	assert_int_equal(kv_get(kv, ns, key, NOW, &v, &len, NULL), 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(v, want, len);
	free(v);
}

static void test_put_get_delete(void **state)
{
	struct kv *kv = *state;
	size_t len;
	void *v;

	assert_int_equal(kv_get(kv, "a", "k", NOW, &v, &len, NULL), -ENOENT);
	assert_int_equal(kv_put(kv, "a", "k", "one", 3, 0), 0);
	check_value(kv, "a", "k", "one");
	assert_int_equal(kv_put(kv, "a", "k", "two!", 4, 0), 0);
	check_value(kv, "a", "k", "two!");
	/* namespaces are separate */
	assert_int_equal(kv_get(kv, "b", "k", NOW, &v, &len, NULL), -ENOENT);
	assert_int_equal(kv_put(kv, "b", "k", "", 0, 0), 0);
	assert_int_equal(kv_get(kv, "b", "k", NOW, &v, &len, NULL), 0);
	assert_null(v);
	assert_int_equal(len, 0);
	assert_int_equal(kv_delete(kv, "a", "k"), 0);
	assert_int_equal(kv_delete(kv, "a", "k"), -ENOENT);
	assert_int_equal(kv_delete(kv, "nons", "k"), -ENOENT);
	assert_int_equal(kv_get(kv, "a", "k", NOW, &v, &len, NULL), -ENOENT);
}

static void test_limits(void **state)
{
	struct kv *kv = *state;
	char key[SY_KV_KEY_MAX + 2];
	char *big = calloc(1, SY_KV_VALUE_MAX + 1);
	size_t len;
	void *v;

	assert_non_null(big);
	memset(key, 'k', sizeof(key));
	key[SY_KV_KEY_MAX] = '\0';
	assert_int_equal(kv_put(kv, "a", key, "x", 1, 0), 0);
	check_value(kv, "a", key, "x");
	key[SY_KV_KEY_MAX] = 'k';
	key[SY_KV_KEY_MAX + 1] = '\0';
	assert_int_equal(kv_put(kv, "a", key, "x", 1, 0), -EINVAL);
	assert_int_equal(kv_get(kv, "a", key, NOW, &v, &len, NULL), -EINVAL);
	assert_int_equal(kv_put(kv, "a", "", "x", 1, 0), -EINVAL);
	assert_int_equal(kv_put(kv, "a", "big", big, SY_KV_VALUE_MAX, 0), 0);
	assert_int_equal(kv_get(kv, "a", "big", NOW, &v, &len, NULL), 0);
	assert_int_equal(len, SY_KV_VALUE_MAX);
	free(v);
	assert_int_equal(kv_put(kv, "a", "big", big, SY_KV_VALUE_MAX + 1, 0),
	                 -EINVAL);
	assert_int_equal(kv_put(kv, "Bad NS", "k", "x", 1, 0), -EINVAL);
	assert_int_equal(kv_put(kv, "../x", "k", "x", 1, 0), -EINVAL);
	free(big);
}

static void test_expiry(void **state)
{
	struct kv *kv = *state;
	struct kv_keys keys;
	int64_t exp;
	size_t len;
	void *v;

	assert_int_equal(kv_put(kv, "e", "soon", "s", 1, NOW + 10), 0);
	assert_int_equal(kv_put(kv, "e", "never", "n", 1, 0), 0);
	assert_int_equal(kv_get(kv, "e", "soon", NOW, &v, &len, &exp), 0);
	assert_int_equal(exp, NOW + 10);
	free(v);
	assert_int_equal(kv_list(kv, "e", "", NULL, 0, NOW + 10, &keys), 0);
	assert_int_equal(keys.n, 1);
	assert_string_equal(keys.keys[0], "never");
	kv_keys_free(&keys);
	/* expired: invisible, then deleted by the read */
	assert_int_equal(kv_get(kv, "e", "soon", NOW + 10, &v, &len, NULL),
	                 -ENOENT);
	assert_int_equal(kv_delete(kv, "e", "soon"), -ENOENT);
}

static void test_list(void **state)
{
	struct kv *kv = *state;
	struct kv_keys keys;
	char key[32];
	size_t total = 0;
	char *cursor = NULL;
	int i;

	for (i = 0; i < 2500; i++) {
		snprintf(key, sizeof(key), "user:%05d", i);
		assert_int_equal(kv_put(kv, "l", key, "v", 1, 0), 0);
	}
	assert_int_equal(kv_put(kv, "l", "other", "v", 1, 0), 0);
	assert_int_equal(kv_put(kv, "l", "usez", "v", 1, 0), 0);
	do {
		assert_int_equal(kv_list(kv, "l", "user:", cursor, 0, NOW,
		                         &keys), 0);
		free(cursor);
		cursor = keys.cursor ? strdup(keys.cursor) : NULL;
		for (i = 0; i < (int)keys.n; i++) {
			snprintf(key, sizeof(key), "user:%05zu", total++);
			assert_string_equal(keys.keys[i], key);
		}
		kv_keys_free(&keys);
	} while (cursor != NULL);
	assert_int_equal(total, 2500);
	assert_int_equal(kv_list(kv, "l", "", NULL, 3, NOW, &keys), 0);
	assert_int_equal(keys.n, 3);
	assert_string_equal(keys.keys[0], "other");
	assert_string_equal(keys.cursor, "user:00001");
	kv_keys_free(&keys);
	assert_int_equal(kv_list(kv, "l", "zzz", NULL, 0, NOW, &keys), 0);
	assert_int_equal(keys.n, 0);
	assert_null(keys.cursor);
	kv_keys_free(&keys);
	assert_int_equal(kv_list(kv, "nothere", "", NULL, 0, NOW, &keys), 0);
	assert_int_equal(keys.n, 0);
	kv_keys_free(&keys);
}

static void test_batch_and_reopen(void **state)
{
	struct kv_item *items = calloc(20000, sizeof(*items));
	char (*keys)[16] = calloc(20000, 16);
	size_t bad = 0;
	int i;

	assert_non_null(items);
	assert_non_null(keys);
	for (i = 0; i < 20000; i++) {
		snprintf(keys[i], 16, "k%d", i);
		items[i].key = keys[i];
		items[i].val = keys[i];
		items[i].len = strlen(keys[i]);
	}
	assert_int_equal(kv_put_batch(*state, "bulk", items, 20000, NULL), 0);
	/* one bad item: nothing of the batch is written */
	items[7].key = "";
	items[3].key = "new-one";
	assert_int_equal(kv_put_batch(*state, "bulk", items, 20000, &bad),
	                 -EINVAL);
	assert_int_equal(bad, 7);
	kv_close(*state);
	*state = open_kv();
	check_value(*state, "bulk", "k0", "k0");
	check_value(*state, "bulk", "k19999", "k19999");
	{
		size_t len;
		void *v;

		assert_int_equal(kv_get(*state, "bulk", "new-one", NOW, &v,
		                        &len, NULL), -ENOENT);
	}
	free(items);
	free(keys);
}

/* A map of 1 MiB fills: puts fail -ENOSPC, reads go on; reopened with a
 * larger map, the same store takes more. */
static void test_map_full(void **state)
{
	static char chunk[100 * 1024];
	struct kv *kv = *state, *small = NULL;
	char err[512], key[16];
	size_t len;
	void *v;
	int i, rc = 0;

	assert_true(kv_mapsize(kv) == 64u << 20);
	kv_close(kv);
	*state = NULL;
	assert_int_equal(kv_open(dir, 1u << 20, &small, err, sizeof(err)), 0);
	/* a map smaller than the data already there grows to hold it */
	assert_true(kv_mapsize(small) >= 1u << 20);
	memset(chunk, 'c', sizeof(chunk));
	assert_int_equal(kv_put(small, "a", "first", "kept", 4, 0), 0);
	for (i = 0; i < 20 && rc == 0; i++) {
		snprintf(key, sizeof(key), "fill%d", i);
		rc = kv_put(small, "a", key, chunk, sizeof(chunk), 0);
	}
	assert_int_equal(rc, -ENOSPC);
	assert_true(i > 3 && i < 12);
	check_value(small, "a", "first", "kept");
	assert_int_equal(kv_get(small, "a", "fill0", NOW, &v, &len, NULL), 0);
	assert_int_equal(len, sizeof(chunk));
	free(v);
	kv_close(small);
	*state = open_kv(); /* 64 MiB */
	assert_int_equal(kv_put(*state, "a", key, chunk, sizeof(chunk), 0), 0);
}

static void test_largest_value(void **state)
{
	uint8_t *big = malloc(SY_KV_VALUE_MAX);
	size_t i, len;
	void *v;

	assert_non_null(big);
	for (i = 0; i < SY_KV_VALUE_MAX; i++)
		big[i] = (uint8_t)(i * 7 + i / 251);
	assert_int_equal(SY_KV_VALUE_MAX, 1024 * 1024);
	assert_int_equal(kv_put(*state, "a", "big", big, SY_KV_VALUE_MAX, 0), 0);
	assert_int_equal(kv_get(*state, "a", "big", NOW, &v, &len, NULL), 0);
	assert_int_equal(len, SY_KV_VALUE_MAX);
	assert_memory_equal(v, big, len);
	free(v);
	/* the same, uncopied, until the view ends */
	{
		const void *view;
		int64_t exp = -1;

		assert_int_equal(kv_view(*state, "a", "big", NOW, &view, &len,
		                         &exp), 0);
		assert_int_equal(len, SY_KV_VALUE_MAX);
		assert_int_equal(exp, 0);
		assert_memory_equal(view, big, len);
		kv_view_end(*state);
		assert_int_equal(kv_view(*state, "a", "none", NOW, &view,
		                         &len, NULL), -ENOENT);
		kv_view_end(*state); /* harmless after a failed view */
	}
	assert_int_equal(kv_put(*state, "a", "big", "s", 1, 0), 0);
	check_value(*state, "a", "big", "s");
	free(big);
}

/* Namespaces exist once written; a dropped one is gone with its keys,
 * and frees its place among the KV_MAX_NS. */
static void test_namespaces_and_drop(void **state)
{
	struct kv_keys ns;
	char name[16];
	size_t len;
	void *v;
	int i;

	assert_int_equal(kv_namespaces(*state, &ns), 0);
	assert_int_equal(ns.n, 0);
	kv_keys_free(&ns);
	assert_int_equal(kv_put(*state, "b-ns", "k", "1", 1, 0), 0);
	assert_int_equal(kv_put(*state, "a-ns", "k", "2", 1, 0), 0);
	assert_int_equal(kv_namespaces(*state, &ns), 0);
	assert_int_equal(ns.n, 2);
	assert_string_equal(ns.keys[0], "a-ns");
	assert_string_equal(ns.keys[1], "b-ns");
	kv_keys_free(&ns);
	assert_int_equal(kv_drop(*state, "a-ns"), 0);
	assert_int_equal(kv_drop(*state, "a-ns"), -ENOENT);
	assert_int_equal(kv_drop(*state, "never"), -ENOENT);
	assert_int_equal(kv_get(*state, "a-ns", "k", NOW, &v, &len, NULL),
	                 -ENOENT);
	check_value(*state, "b-ns", "k", "1");
	/* written again, it starts empty */
	assert_int_equal(kv_put(*state, "a-ns", "other", "3", 1, 0), 0);
	assert_int_equal(kv_get(*state, "a-ns", "k", NOW, &v, &len, NULL),
	                 -ENOENT);
	/* the cap: one more is refused until one is dropped */
	for (i = 2; i < KV_MAX_NS; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		assert_int_equal(kv_put(*state, name, "k", "v", 1, 0), 0);
	}
	assert_int_equal(kv_put(*state, "one-more", "k", "v", 1, 0),
	                 -EMLINK);
	assert_int_equal(kv_drop(*state, "n2"), 0);
	assert_int_equal(kv_put(*state, "one-more", "k", "v", 1, 0), 0);
	kv_close(*state);
	*state = open_kv();
	assert_int_equal(kv_namespaces(*state, &ns), 0);
	assert_int_equal(ns.n, KV_MAX_NS);
	kv_keys_free(&ns);
	check_value(*state, "one-more", "k", "v");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_get_delete, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_and_reopen, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_map_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_namespaces_and_drop, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_largest_value, setup,
		                                teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
