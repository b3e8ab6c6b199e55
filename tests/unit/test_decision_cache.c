/*
 * The decision cache (supervisor/serve/decision_cache.h) on its own, with
 * Requests and Forwards packed as the router and the shim pack them and a
 * dispatch worker made by hand: what a decision is keyed on (Host, vary
 * values without case in names, an absent header, the URL only when the
 * decision rewrote it), what makes it stale (its version, a KV write, one
 * while it was being decided), forgetting a worker's, and the bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "serve/decision_cache.h"
#include "state/bindings.h"
#include "state/kvstore.h"
#include "state/registry.h"

#define HDR_MAX 8

/* Two dispatch workers, each with versions 1 and 2 (1 current), version
 * 1 of the first binding ROUTES to KV namespace "dc-routes". */
static struct version versions[2][2] = {
	{ { .number = 1 }, { .number = 2 } },
	{ { .number = 1 }, { .number = 2 } },
};
static struct worker disp = { .ns = "platform", .name = "dispatcher",
                              .versions = versions[0], .nversions = 2 };
static struct worker other = { .ns = "platform", .name = "other",
                               .versions = versions[1], .nversions = 2 };

/* A Request as the router packs it: url, then name/value pairs (NULL
 * ends them); malloc'd into *buf. */
static size_t request(uint8_t **buf, const char *url, ...)
{
	Switchyard__Request r = SWITCHYARD__REQUEST__INIT;
	Switchyard__Header h[HDR_MAX], *hv[HDR_MAX];
	const char *name;
	va_list ap;
	size_t n = 0, len;

	va_start(ap, url);
	while ((name = va_arg(ap, const char *)) != NULL) {
		assert_true(n < HDR_MAX);
		switchyard__header__init(&h[n]);
		h[n].name = (char *)name;
		h[n].value = va_arg(ap, char *);
		hv[n] = &h[n];
		n++;
	}
	va_end(ap);
	r.method = (char *)"GET";
	r.url = (char *)url;
	r.headers = hv;
	r.n_headers = n;
	r.remote_addr = (char *)"192.0.2.1:5678";
	r.request_id = (char *)"0123456789abcdef";
	len = switchyard__request__get_packed_size(&r);
	assert_non_null(*buf = malloc(len + 1));
	switchyard__request__pack(&r, *buf);
	return len;
}

/* A decision to tenants/<to>, kept ttl_s seconds, varying on vary[0, n),
 * setting url unless it is NULL. */
struct decision {
	Switchyard__Forward fw;
	Switchyard__ForwardCache fc;
	uint8_t packed[512];
	size_t len;
};

static void decide(struct decision *d, const char *to, const char *url,
                   char **vary, size_t n)
{
	switchyard__forward__init(&d->fw);
	switchyard__forward_cache__init(&d->fc);
	d->fw.ns = (char *)"tenants";
	d->fw.worker = (char *)to;
	d->fw.url = (char *)(url != NULL ? url : "");
	d->fc.ttl_s = 60;
	d->fc.vary = vary;
	d->fc.n_vary = n;
	d->fw.cache = &d->fc;
	d->len = switchyard__forward__get_packed_size(&d->fw);
	assert_true(d->len <= sizeof(d->packed));
	switchyard__forward__pack(&d->fw, d->packed);
}

/* Stores d as w's (its current version, mark now) for req. */
static void store(const struct worker *w, const struct decision *d,
                  const uint8_t *req, size_t len)
{
	dcache_store(w, worker_version(w)->number, dcache_mark(), req, len,
	             &d->fw, d->packed, d->len);
}

/* The worker a lookup of req forwards to, or "" for none (a copy). */
static const char *found(const struct worker *w, const uint8_t *req,
                         size_t len)
{
	static char to[64];
	Switchyard__Forward *fw = dcache_lookup(w, req, len);

	to[0] = '\0';
	if (fw != NULL) {
		snprintf(to, sizeof(to), "%s", fw->worker);
		switchyard__forward__free_unpacked(fw, NULL);
	}
	return to;
}

static uint32_t entries(void)
{
	Switchyard__DecisionCacheStats s =
		SWITCHYARD__DECISION_CACHE_STATS__INIT;

	dcache_stats(&s);
	return s.entries;
}

static int setup(void **state)
{
	struct kv_binding b = { "ROUTES", "dc-routes", 1 };

	(void)state;
	disp.current = other.current = 0;
	return registry_kv_set("platform", "dispatcher", 1, &b, 1);
}

static int teardown(void **state)
{
	(void)state;
	dcache_fini();
	registry_kv_free();
	return 0;
}

static void test_keyed_on_host(void **state)
{
	uint8_t *a, *a2, *b, *none;
	size_t la = request(&a, "/", "Host", "a.test", NULL);
	size_t la2 = request(&a2, "/other?q", "host", "a.test", "X-Any", "1",
	                     NULL);
	size_t lb = request(&b, "/", "Host", "b.test", NULL);
	size_t ln = request(&none, "/", NULL);
	struct decision d;

	(void)state;
	assert_string_equal(found(&disp, a, la), ""); /* nothing kept yet */
	decide(&d, "alice", NULL, NULL, 0);
	store(&disp, &d, a, la);
	assert_int_equal(entries(), 1);
	assert_string_equal(found(&disp, a, la), "alice");
	/* another path, another header, Host's name in another case */
	assert_string_equal(found(&disp, a2, la2), "alice");
	assert_string_equal(found(&disp, b, lb), "");
	assert_string_equal(found(&disp, none, ln), "");
	/* another dispatch worker's requests are its own */
	assert_string_equal(found(&other, a, la), "");
	free(a);
	free(a2);
	free(b);
	free(none);
}

static void test_keyed_on_vary_values(void **state)
{
	char *vary[] = { (char *)"Authorization" };
	uint8_t *r[6];
	size_t l[6], i;
	struct decision d;

	(void)state;
	l[0] = request(&r[0], "/", "Host", "a.test", "Authorization", "A",
	               NULL);
	l[1] = request(&r[1], "/", "Host", "a.test", "AUTHORIZATION", "A",
	               NULL);
	l[2] = request(&r[2], "/", "Host", "a.test", "Authorization", "B",
	               NULL);
	l[3] = request(&r[3], "/", "Host", "a.test", NULL);
	l[4] = request(&r[4], "/", "Host", "a.test", "Authorization", "",
	               NULL);
	/* the same value twice is not the value once */
	l[5] = request(&r[5], "/", "Host", "a.test", "Authorization", "A",
	               "authorization", "A", NULL);
	decide(&d, "alice", NULL, vary, 1);
	store(&disp, &d, r[0], l[0]);
	assert_string_equal(found(&disp, r[0], l[0]), "alice");
	assert_string_equal(found(&disp, r[1], l[1]), "alice");
	for (i = 2; i < 6; i++)
		assert_string_equal(found(&disp, r[i], l[i]), "");
	/* an absent header is a value of its own, not the empty one */
	decide(&d, "bob", NULL, vary, 1);
	store(&disp, &d, r[3], l[3]);
	assert_string_equal(found(&disp, r[3], l[3]), "bob");
	assert_string_equal(found(&disp, r[4], l[4]), "");
	assert_string_equal(found(&disp, r[0], l[0]), "alice");
	for (i = 0; i < 6; i++)
		free(r[i]);
}

/* Values are counted per name: a value that spells the next name cannot
 * make two requests' keys meet (X-A absent and X-B "x-b", "v", against
 * X-A "x-b" and X-B "v"). */
static void test_values_cannot_pass_for_names(void **state)
{
	char *vary[] = { (char *)"X-A", (char *)"X-B" };
	uint8_t *a, *b;
	size_t la = request(&a, "/", "Host", "a.test", "X-B", "x-b", "X-B",
	                    "v", NULL);
	size_t lb = request(&b, "/", "Host", "a.test", "X-A", "x-b", "X-B",
	                    "v", NULL);
	struct decision d;

	(void)state;
	decide(&d, "alice", NULL, vary, 2);
	store(&disp, &d, a, la);
	assert_string_equal(found(&disp, a, la), "alice");
	assert_string_equal(found(&disp, b, lb), "");
	free(a);
	free(b);
}

static void test_url_keyed_only_when_rewritten(void **state)
{
	uint8_t *a, *b;
	size_t la = request(&a, "/alice/x", "Host", "p.test", NULL);
	size_t lb = request(&b, "/bob/x", "Host", "p.test", NULL);
	struct decision d;

	(void)state;
	decide(&d, "alice", "/x", NULL, 0);
	store(&disp, &d, a, la);
	assert_string_equal(found(&disp, a, la), "alice");
	assert_string_equal(found(&disp, b, lb), "");
	decide(&d, "bob", "/x", NULL, 0);
	store(&disp, &d, b, lb);
	assert_string_equal(found(&disp, b, lb), "bob");
	assert_string_equal(found(&disp, a, la), "alice");
	free(a);
	free(b);
}

static void test_stale_after_a_kv_write_or_another_version(void **state)
{
	uint8_t *a;
	size_t la = request(&a, "/", "Host", "a.test", NULL);
	struct decision d;
	uint64_t mark;

	(void)state;
	decide(&d, "alice", NULL, NULL, 0);
	store(&disp, &d, a, la);
	kvstore_written("dc-elsewhere"); /* not bound: no matter */
	assert_string_equal(found(&disp, a, la), "alice");
	kvstore_written("dc-routes");
	assert_string_equal(found(&disp, a, la), "");
	assert_int_equal(entries(), 0); /* the stale one was dropped */

	/* a write while the dispatcher decided: it may have read either */
	mark = dcache_mark();
	kvstore_written("dc-routes");
	dcache_store(&disp, 1, mark, a, la, &d.fw, d.packed, d.len);
	assert_int_equal(entries(), 0);

	/* decided by a version that is no longer current: not kept */
	store(&disp, &d, a, la);
	disp.current = 1;
	assert_string_equal(found(&disp, a, la), "");
	dcache_store(&disp, 1, dcache_mark(), a, la, &d.fw, d.packed, d.len);
	assert_int_equal(entries(), 0);
	/* the new version's own decisions are (it binds nothing) */
	store(&disp, &d, a, la);
	assert_string_equal(found(&disp, a, la), "alice");
	disp.current = 0;
	free(a);
}

static void test_forget_drops_one_workers_decisions(void **state)
{
	uint8_t *a;
	size_t la = request(&a, "/", "Host", "a.test", NULL);
	struct decision d;

	(void)state;
	decide(&d, "alice", NULL, NULL, 0);
	store(&disp, &d, a, la);
	decide(&d, "bob", NULL, NULL, 0);
	store(&other, &d, a, la);
	assert_int_equal(entries(), 2);
	dcache_forget(&disp);
	assert_int_equal(entries(), 1);
	assert_string_equal(found(&disp, a, la), "");
	assert_string_equal(found(&other, a, la), "bob");
	free(a);
}

/* Past DCACHE_ENTRIES_MAX the least recently used go. */
static void test_bounded_entries(void **state)
{
	Switchyard__DecisionCacheStats s =
		SWITCHYARD__DECISION_CACHE_STATS__INIT;
	uint8_t *r[DCACHE_ENTRIES_MAX + 2];
	size_t l[DCACHE_ENTRIES_MAX + 2], i;
	struct decision d;
	char host[32];

	(void)state;
	decide(&d, "alice", NULL, NULL, 0);
	for (i = 0; i < DCACHE_ENTRIES_MAX + 2; i++) {
		snprintf(host, sizeof(host), "h%zu.test", i);
		l[i] = request(&r[i], "/", "Host", host, NULL);
	}
	for (i = 0; i < DCACHE_ENTRIES_MAX; i++)
		store(&disp, &d, r[i], l[i]);
	assert_int_equal(entries(), DCACHE_ENTRIES_MAX);
	/* used: h0 is now the most recent, h1 the oldest */
	assert_string_equal(found(&disp, r[0], l[0]), "alice");
	store(&disp, &d, r[DCACHE_ENTRIES_MAX], l[DCACHE_ENTRIES_MAX]);
	store(&disp, &d, r[DCACHE_ENTRIES_MAX + 1],
	      l[DCACHE_ENTRIES_MAX + 1]);
	assert_int_equal(entries(), DCACHE_ENTRIES_MAX);
	assert_string_equal(found(&disp, r[0], l[0]), "alice");
	assert_string_equal(found(&disp, r[1], l[1]), "");
	assert_string_equal(found(&disp, r[2], l[2]), "");
	assert_string_equal(found(&disp, r[3], l[3]), "alice");
	dcache_stats(&s);
	assert_int_equal(s.hits, 3);
	assert_int_equal(s.misses, 2);
	for (i = 0; i < DCACHE_ENTRIES_MAX + 2; i++)
		free(r[i]);
}

/* Past DCACHE_SPECS_MAX ways of keying, a decision keyed another way is
 * not kept; those kept still serve. */
static void test_bounded_specs(void **state)
{
	char names[DCACHE_SPECS_MAX + 1][16], *vary[DCACHE_SPECS_MAX + 1];
	uint8_t *a;
	size_t la = request(&a, "/", "Host", "a.test", NULL), i;
	struct decision d;

	(void)state;
	for (i = 0; i <= DCACHE_SPECS_MAX; i++) {
		snprintf(names[i], sizeof(names[i]), "X-V%zu", i);
		vary[i] = names[i];
		decide(&d, "alice", NULL, &vary[i], 1);
		store(&disp, &d, a, la);
	}
	assert_int_equal(entries(), DCACHE_SPECS_MAX);
	assert_string_equal(found(&disp, a, la), "alice");
	/* once one way's decisions are gone, another may be kept */
	dcache_forget(&disp);
	decide(&d, "bob", NULL, &vary[DCACHE_SPECS_MAX], 1);
	store(&disp, &d, a, la);
	assert_string_equal(found(&disp, a, la), "bob");
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_keyed_on_host, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_keyed_on_vary_values,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_values_cannot_pass_for_names, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_url_keyed_only_when_rewritten, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_stale_after_a_kv_write_or_another_version, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_forget_drops_one_workers_decisions, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_bounded_entries, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_bounded_specs, setup,
		                                teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
