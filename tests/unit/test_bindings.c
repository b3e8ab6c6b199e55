/*
 * A version's bindings (supervisor/state/bindings.h) through the registry,
 * on a real state directory in /tmp: service bindings and dispatch
 * namespaces checked at deploy (naming the worker), kept per version
 * (unchanged deploys skipped, rollback and redeploy keep them), the rule
 * a call is checked against, and the KV store's room for the namespaces
 * a deploy binds.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "state/config.h"
#include "state/deploy_spec.h"
#include "state/kvstore.h"
#include "state/registry.h"
#include "testutil.h"

static const char ini[] =
	"[switchyard]\n"
	"state_dir = state\n"
	"run_dir = run\n"
	"uid_range = 210000-210099\n";

static struct {
	char dir[64], state[128];
	struct sup_config *conf;
	char err[1024];
} fx;

static int setup(void **state)
{
	char path[128];

	(void)state;
	if (tu_mkdtemp(fx.dir, sizeof(fx.dir), "bindings") == -1)
		return -1;
	snprintf(fx.state, sizeof(fx.state), "%s/state", fx.dir);
	snprintf(path, sizeof(path), "%s/bin", fx.dir);
	if (mkdir(path, 0755) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/switchyard.ini", fx.dir);
	if (tu_write_file(path, ini, strlen(ini), 0644) == -1 ||
	    (fx.conf = config_load(path, fx.err, sizeof(fx.err))) == NULL ||
	    kvstore_configure(fx.state, 16) == -1 ||
	    registry_init(fx.conf, NULL, fx.err, sizeof(fx.err)) == -1) {
		fprintf(stderr, "setup: %s\n", fx.err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	registry_free();
	kvstore_close();
	config_free(fx.conf);
	fx.conf = NULL;
	return tu_rm_rf(fx.dir);
}

/* Deploys dir/bin/<tag> (an ELF header and tag) as ns/name under spec:
 * the version number, or -1 with fx.err. */
static int deploy(const char *ns, const char *name, const char *tag,
                  const struct deploy_spec *spec)
{
	char path[192], data[128];
	int n;

	snprintf(path, sizeof(path), "%s/bin/%s", fx.dir, tag);
	n = snprintf(data, sizeof(data), "\177ELF\2\1\1 fake worker %s\n", tag);
	assert_int_equal(tu_write_file(path, data, (size_t)n, 0755), 0);
	return registry_deploy_path(ns, name, path, spec, fx.err,
	                            sizeof(fx.err));
}

static void deployed(int rc, int want)
{
	if (rc != want)
		fail_msg("deploy: %d, want %d: %s", rc, want, fx.err);
}

/* The deploy is refused (EINVAL) with a message starting "deploy acme/shop:
 * " and containing why. */
static void refused(int rc, const char *why)
{
	assert_int_equal(rc, -1);
	assert_int_equal(errno, EINVAL);
	if (strncmp(fx.err, "deploy acme/shop: ", 18) != 0 ||
	    strstr(fx.err, why) == NULL)
		fail_msg("expected \"deploy acme/shop: ...%s\", got \"%s\"",
		         why, fx.err);
}

static void test_service_parse(void **state)
{
	struct service_binding b;
	char text[3 * SY_NAME_MAX];

	(void)state;
	assert_null(registry_service_parse("AUTH=platform/auth", &b));
	assert_string_equal(b.name, "AUTH");
	assert_string_equal(b.ns, "platform");
	assert_string_equal(b.worker, "auth");
	registry_service_text(&b, text, sizeof(text));
	assert_string_equal(text, "AUTH=platform/auth");
	assert_null(registry_service_parse("logs-api_2=a/b", &b));
	assert_non_null(strstr(registry_service_parse("AUTH", &b),
	                       "binding name must be"));
	assert_non_null(strstr(registry_service_parse("=a/b", &b),
	                       "binding name must be"));
	assert_non_null(strstr(registry_service_parse("A.B=a/b", &b),
	                       "binding name must be"));
	assert_non_null(strstr(registry_service_parse("AUTH=auth", &b),
	                       "expected NAME=NS/WORKER"));
	assert_non_null(strstr(registry_service_parse("AUTH=Plat/auth", &b),
	                       "expected NAME=NS/WORKER"));
	assert_non_null(strstr(registry_service_parse("AUTH=a/b/c", &b),
	                       "expected NAME=NS/WORKER"));
}

/* Checked at deploy, before anything is stored, naming the worker and the
 * binding. */
static void test_deploy_refuses_bad_bindings(void **state)
{
	char *svc[SY_MAX_SERVICES + 1], *dns[SY_MAX_DISPATCH_NS + 1];
	char names[SY_MAX_SERVICES + 1][32];
	struct deploy_spec s = { .services = svc, .nservices = 1 };
	size_t i;

	(void)state;
	svc[0] = "AUTH=auth";
	refused(deploy("acme", "shop", "x", &s),
	        "service AUTH=auth: expected NAME=NS/WORKER");
	svc[0] = "AUTH=platform/auth";
	svc[1] = "auth=platform/other";
	s.nservices = 2;
	refused(deploy("acme", "shop", "x", &s), "service auth=platform/other:"
	        " a service binding of that name is given already");
	for (i = 0; i <= SY_MAX_SERVICES; i++) {
		snprintf(names[i], sizeof(names[i]), "S%zu=t/w%zu", i, i);
		svc[i] = names[i];
	}
	s.nservices = SY_MAX_SERVICES + 1;
	refused(deploy("acme", "shop", "x", &s), "more than 32 service "
	        "bindings");
	memset(&s, 0, sizeof(s));
	s.dispatch_ns = dns;
	s.ndispatch_ns = 1;
	dns[0] = "Tenants";
	refused(deploy("acme", "shop", "x", &s),
	        "dispatch namespace Tenants: invalid namespace name");
	dns[0] = dns[1] = "tenants";
	s.ndispatch_ns = 2;
	refused(deploy("acme", "shop", "x", &s),
	        "dispatch namespace tenants given twice");
	for (i = 0; i <= SY_MAX_DISPATCH_NS; i++) {
		snprintf(names[i], sizeof(names[i]), "ns%zu", i);
		dns[i] = names[i];
	}
	s.ndispatch_ns = SY_MAX_DISPATCH_NS + 1;
	refused(deploy("acme", "shop", "x", &s), "more than 8 dispatch "
	        "namespaces");
	assert_null(registry_first());
}

/* Bindings belong to the version: an unchanged deploy is skipped, a
 * changed one is a new version, rollback and redeploy keep them. */
static void test_kept_per_version(void **state)
{
	char *svc1[] = { "AUTH=platform/auth" };
	char *svc2[] = { "AUTH=platform/auth2", "LOGS=platform/logs" };
	char *dns[] = { "tenants" };
	struct deploy_spec s = { .services = svc1, .nservices = 1 };
	const struct version *v;
	struct worker *w;

	(void)state;
	deployed(deploy("acme", "shop", "one", &s), 1);
	deployed(deploy("acme", "shop", "one", &s), 1);
	s.services = svc2;
	s.nservices = 2;
	deployed(deploy("acme", "shop", "one", &s), 2);
	s.dispatch_ns = dns;
	s.ndispatch_ns = 1;
	deployed(deploy("acme", "shop", "one", &s), 3);
	deployed(deploy("acme", "shop", "one", &s), 3);
	w = registry_find("acme", "shop");
	v = worker_version(w);
	assert_int_equal(v->nservices, 2);
	assert_string_equal(v->services[1].name, "LOGS");
	assert_int_equal(v->ndispatch_ns, 1);
	assert_string_equal(v->dispatch_ns[0], "tenants");
	/* a process of version 1 still finds version 1's */
	v = registry_version(w, 1);
	assert_non_null(v);
	assert_int_equal(v->nservices, 1);
	assert_string_equal(v->services[0].worker, "auth");
	assert_int_equal(v->ndispatch_ns, 0);
	assert_null(registry_version(w, 9));
	assert_int_equal(registry_rollback(w, 1, fx.err, sizeof(fx.err)), 0);
	assert_int_equal(worker_version(w)->nservices, 1);
	deployed(registry_redeploy(w, fx.err, sizeof(fx.err)), 4);
	v = worker_version(w);
	assert_int_equal(v->nservices, 1);
	assert_string_equal(v->services[0].name, "AUTH");
	assert_string_equal(v->services[0].ns, "platform");
	assert_int_equal(v->ndispatch_ns, 0);
	/* the redeploy of version 3's spec keeps its dispatch namespace */
	assert_int_equal(registry_rollback(w, 3, fx.err, sizeof(fx.err)), 0);
	deployed(registry_redeploy(w, fx.err, sizeof(fx.err)), 5);
	assert_int_equal(worker_version(w)->ndispatch_ns, 1);
	assert_int_equal(worker_version(w)->nservices, 2);
}

/* The rule: a dispatch namespace's every worker (with context), a service
 * binding's target (without), nothing else. */
static void test_call_rule(void **state)
{
	char *svc[] = { "Auth=platform/auth" }, *dns[] = { "tenants" };
	struct deploy_spec d = { .dispatch_ns = dns, .ndispatch_ns = 1 };
	struct deploy_spec t = { .services = svc, .nservices = 1 };
	const struct version *dv, *tv;

	(void)state;
	deployed(deploy("platform", "dispatcher", "d", &d), 1);
	deployed(deploy("tenants", "shop", "t", &t), 1);
	dv = worker_version(registry_find("platform", "dispatcher"));
	tv = worker_version(registry_find("tenants", "shop"));
	assert_int_equal(registry_call_bound(dv, "tenants", "shop"),
	                 BIND_DISPATCH);
	assert_int_equal(registry_call_bound(dv, "tenants", "not-deployed"),
	                 BIND_DISPATCH);
	assert_int_equal(registry_call_bound(dv, "platform", "auth"),
	                 BIND_NONE);
	assert_int_equal(registry_call_bound(tv, "platform", "auth"),
	                 BIND_SERVICE);
	assert_int_equal(registry_call_bound(tv, "tenants", "shop"),
	                 BIND_NONE);
	assert_int_equal(registry_call_bound(tv, "platform", "dispatcher"),
	                 BIND_NONE);
	assert_int_equal(registry_call_bound(tv, "tenants", "echo"),
	                 BIND_NONE);
	assert_int_equal(registry_call_bound(NULL, "tenants", "shop"),
	                 BIND_NONE);
	/* http://NAME.worker/: the name without case */
	assert_non_null(registry_service_find(tv, "auth"));
	assert_non_null(registry_service_find(tv, "AUTH"));
	assert_string_equal(registry_service_find(tv, "auth")->worker, "auth");
	assert_null(registry_service_find(tv, "shop"));
	assert_null(registry_service_find(dv, "auth"));
}

/* Deploys ns/name binding count new namespaces "PREFIX0".. */
static int bind_many(const char *ns, const char *name, const char *prefix,
                     size_t count)
{
	char specs[REG_MAX_KV][64], *kv[REG_MAX_KV];
	struct deploy_spec s = { .kv = kv, .nkv = count };
	size_t i;

	for (i = 0; i < count; i++) {
		snprintf(specs[i], sizeof(specs[i]), "B%zu=%s%zu", i, prefix,
		         i);
		kv[i] = specs[i];
	}
	return deploy(ns, name, name, &s);
}

/* A namespace that cannot exist is refused at deploy: the store holds at
 * most KV_MAX_NS, written or bound by a current version. */
static void test_kv_room(void **state)
{
	char *one[] = { "C=one-more" }, *old[] = { "C=a0" };
	char *stored[] = { "C=stored" }, users[256];
	struct deploy_spec s = { .kv = one, .nkv = 1 };
	struct kv *kv;

	(void)state;
	deployed(bind_many("t", "a", "a", 64), 1);
	deployed(bind_many("t", "b", "b", 64), 1);
	deployed(bind_many("t", "c", "c", 64), 1);
	deployed(bind_many("t", "d", "d", 63), 1);
	kv = kvstore_open(fx.err, sizeof(fx.err));
	assert_non_null(kv);
	assert_int_equal(kv_put(kv, "stored", "k", "v", 1, 0), 0);
	assert_int_equal(kv_put(kv, "a0", "k", "v", 1, 0), 0);
	/* 255 bound + "stored" */
	refused(deploy("acme", "shop", "x", &s), "kv C=one-more: KV namespace "
	        "one-more cannot be created: the store has 256 namespaces");
	/* one that is bound or stored already takes no room */
	s.kv = old;
	deployed(deploy("acme", "shop", "x", &s), 1);
	s.kv = stored;
	deployed(deploy("acme", "shop", "x", &s), 2);
	/* who binds it, by their current versions */
	assert_int_equal(registry_kv_users("a0", users, sizeof(users)), 1);
	assert_string_equal(users, "t/a");
	assert_int_equal(registry_kv_users("stored", users, sizeof(users)), 1);
	assert_string_equal(users, "acme/shop");
	assert_int_equal(registry_kv_users("nobody", users, sizeof(users)), 0);
	/* t/d's current version binds none any more: room for one */
	deployed(deploy("t", "d", "d2", &(struct deploy_spec){ 0 }), 2);
	s.kv = one;
	deployed(deploy("acme", "shop", "x", &s), 3);
	assert_int_equal(registry_kv_users("d0", users, sizeof(users)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_service_parse),
		cmocka_unit_test_setup_teardown(test_deploy_refuses_bad_bindings,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_kept_per_version, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_call_rule, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_kv_room, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
