/*
 * The registry (supervisor/state/registry.h) on a real state directory in
 * /tmp, linked without the request path: deploys numbered per worker, the
 * hooks the request path hears through, every reason a deploy is refused
 * (named after the worker, errno EINVAL, nothing stored), unchanged
 * redeploys skipped, rollbacks, uids given once and never again, old
 * versions pruned, and the rules of a deploy's spec (deploy_spec.h), whose
 * messages never quote an environment value.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "state/config.h"
#include "state/deploy_spec.h"
#include "state/kvstore.h"
#include "state/registry.h"
#include "testutil.h"

#define UID_MIN 200000
#define UID_MAX 200009

static const char ini[] =
	"[switchyard]\n"
	"state_dir = state\n"
	"run_dir = run\n"
	"uid_range = 200000-200009\n"
	"\n"
	"[plan.default]\n"
	"instances = 1\n"
	"\n"
	"[plan.pro]\n"
	"instances = 2\n";

static struct {
	char dir[64], state[128], exe_dir[160], ini[128];
	struct sup_config *conf;
	char err[1024];
} fx;

/* What the hooks heard. */
static struct {
	unsigned changed, removing;
	struct worker *changed_w;      /* the last version_changed's */
	uint32_t changed_version;      /* its current version then */
	char removed[8][2 * SY_NAME_MAX];
} hk;

static void on_changed(struct worker *w)
{
	hk.changed++;
	hk.changed_w = w;
	hk.changed_version = worker_version(w)->number;
}

static void on_removing(struct worker *w)
{
	if (hk.removing < 8)
		snprintf(hk.removed[hk.removing], sizeof(hk.removed[0]),
		         "%s/%s", w->ns, w->name);
	hk.removing++;
	w->pool = NULL; /* the hook's contract */
}

static const struct registry_hooks hooks = {
	.version_changed = on_changed,
	.removing = on_removing,
};

static int setup(void **state)
{
	char path[128];

	(void)state;
	memset(&hk, 0, sizeof(hk));
	if (tu_mkdtemp(fx.dir, sizeof(fx.dir), "registry") == -1)
		return -1;
	snprintf(fx.state, sizeof(fx.state), "%s/state", fx.dir);
	snprintf(fx.exe_dir, sizeof(fx.exe_dir), "%s/exe", fx.state);
	snprintf(fx.ini, sizeof(fx.ini), "%s/switchyard.ini", fx.dir);
	if (tu_write_file(fx.ini, ini, strlen(ini), 0644) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/bin", fx.dir);
	if (mkdir(path, 0755) == -1)
		return -1;
	if ((fx.conf = config_load(fx.ini, fx.err, sizeof(fx.err))) == NULL) {
		fprintf(stderr, "%s\n", fx.err);
		return -1;
	}
	/* a deploy binding a new KV namespace asks the store for room */
	if (kvstore_configure(fx.state, 16) == -1)
		return -1;
	if (registry_init(fx.conf, &hooks, fx.err, sizeof(fx.err)) == -1) {
		fprintf(stderr, "%s\n", fx.err);
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

/* Writes dir/bin/<tag>: an ELF header and tag, so each tag hashes apart. */
static const char *fake_exe(const char *tag)
{
	static char path[2][192];
	static int turn;
	char data[128];
	int n;

	turn = !turn;
	snprintf(path[turn], sizeof(path[turn]), "%s/bin/%s", fx.dir, tag);
	n = snprintf(data, sizeof(data), "\177ELF\2\1\1 fake worker %s\n", tag);
	assert_int_equal(tu_write_file(path[turn], data, (size_t)n, 0755), 0);
	return path[turn];
}

static int deploy(const char *ns, const char *name, const char *tag,
                  const struct deploy_spec *spec)
{
	static const struct deploy_spec none;

	return registry_deploy_path(ns, name, fake_exe(tag),
	                            spec != NULL ? spec : &none, fx.err,
	                            sizeof(fx.err));
}

static void assert_deployed(int rc)
{
	if (rc == -1)
		fail_msg("deploy failed: %s", fx.err);
}

/* ---- deploys and the version_changed hook ---- */

static void test_versions_numbered(void **state)
{
	char *env[] = { "A=1" };
	struct deploy_spec spec = { .env = env, .nenv = 1 };
	const struct version *v;
	struct stat st;
	struct worker *w;
	char *data;
	size_t len;

	(void)state;
	assert_int_equal(deploy("acme", "shop", "one", &spec), 1);
	w = registry_find("acme", "shop");
	assert_non_null(w);
	assert_int_equal(hk.changed, 1);
	assert_ptr_equal(hk.changed_w, w);
	assert_int_equal(hk.changed_version, 1);
	assert_int_equal(deploy("acme", "shop", "two", &spec), 2);
	assert_int_equal(hk.changed, 2);
	assert_int_equal(hk.changed_version, 2);
	assert_int_equal(deploy("acme", "shop", "three", NULL), 3);
	assert_int_equal(hk.changed, 3);
	assert_ptr_equal(hk.changed_w, w);
	assert_int_equal(hk.changed_version, 3);
	assert_int_equal(w->nversions, 3);
	v = worker_version(w);
	assert_int_equal(v->number, 3);
	assert_string_equal(v->plan, "default");
	assert_ptr_equal(w->plan, config_plan(fx.conf, "default"));
	assert_int_equal(v->nenv, 0);
	assert_int_equal(w->versions[0].nenv, 1);
	assert_string_equal(w->versions[0].env[0], "A=1");
	/* another worker has its own numbers */
	assert_int_equal(deploy("acme", "blog", "one", NULL), 1);
	assert_int_equal(hk.changed, 4);
	assert_ptr_equal(hk.changed_w, registry_find("acme", "blog"));
	/* the copy is content-addressed, read-only, and the same bytes */
	assert_int_equal(strncmp(v->exe_path, fx.exe_dir, strlen(fx.exe_dir)),
	                 0);
	assert_string_equal(v->exe_path + strlen(fx.exe_dir) + 1, v->sha256);
	assert_int_equal(stat(v->exe_path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0555);
	data = tu_read_file(v->exe_path, &len);
	assert_non_null(data);
	assert_int_equal(memcmp(data, "\177ELF\2\1\1 fake worker three\n",
	                        len), 0);
	free(data);
	/* the same content under another worker is stored once */
	assert_string_equal(registry_find("acme", "blog")->versions[0].sha256,
	                    w->versions[0].sha256);
	assert_int_equal(tu_count_entries(fx.exe_dir, ""), 3);
	/* iteration is sorted by namespace, then name */
	assert_ptr_equal(registry_first(), registry_find("acme", "blog"));
	assert_ptr_equal(registry_next(registry_first()), w);
	assert_null(registry_next(w));
}

/* Every refused deploy: -1, errno EINVAL, a message naming the worker,
 * and nothing created, stored or announced. */
static void refused(int rc, const char *label, const char *why)
{
	char prefix[160];

	assert_int_equal(rc, -1);
	assert_int_equal(errno, EINVAL);
	snprintf(prefix, sizeof(prefix), "deploy %s: ", label);
	if (strncmp(fx.err, prefix, strlen(prefix)) != 0 ||
	    strstr(fx.err, why) == NULL)
		fail_msg("expected \"%s...%s\", got \"%s\"", prefix, why,
		         fx.err);
	assert_int_equal(hk.changed, 0);
	assert_null(registry_first());
	assert_true(tu_count_entries(fx.exe_dir, "") <= 0);
}

static void test_deploy_errors(void **state)
{
	struct deploy_spec gold = { .plan = "gold" }, none = { .plan = "" };
	char path[192];
	int fd;

	(void)state;
	refused(deploy("Acme", "shop", "x", NULL), "Acme/shop",
	        "invalid namespace name");
	refused(deploy("acme", "shop!", "x", NULL), "acme/shop!",
	        "invalid worker name");
	refused(deploy("acme", "", "x", NULL), "acme/",
	        "invalid worker name");
	refused(deploy("acme", "shop", "x", &gold), "acme/shop",
	        "unknown plan \"gold\"");
	assert_non_null(strstr(fx.err, fx.ini)); /* which file to fix */

	snprintf(path, sizeof(path), "%s/bin/plain", fx.dir);
	assert_int_equal(tu_write_file(path, "\177ELF\2", 5, 0644), 0);
	refused(registry_deploy_path("acme", "shop", path, &none, fx.err,
	                             sizeof(fx.err)),
	        "acme/shop", "not executable (mode 0644)");
	assert_int_equal(tu_write_file(path, "", 0, 0755), 0);
	refused(registry_deploy_path("acme", "shop", path, &none, fx.err,
	                             sizeof(fx.err)),
	        "acme/shop", "the executable is empty");
	assert_int_equal(tu_write_file(path, "echo hi\n", 8, 0755), 0);
	refused(registry_deploy_path("acme", "shop", path, &none, fx.err,
	                             sizeof(fx.err)),
	        "acme/shop", "not an executable (no ELF header)");
	assert_int_equal(tu_write_file(path, "\177EL", 3, 0755), 0);
	refused(registry_deploy_path("acme", "shop", path, &none, fx.err,
	                             sizeof(fx.err)),
	        "acme/shop", "not an executable (no ELF header)");
	snprintf(path, sizeof(path), "%s/bin/missing", fx.dir);
	refused(registry_deploy_path("acme", "shop", path, &none, fx.err,
	                             sizeof(fx.err)),
	        "acme/shop", "executable not found");
	/* through a descriptor: a directory is no executable either */
	fd = open(fx.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	refused(registry_deploy("acme", "shop", fd, &none, fx.err,
	                        sizeof(fx.err)),
	        "acme/shop", "not a regular file");
	close(fd);
	/* a script with #! is accepted */
	snprintf(path, sizeof(path), "%s/bin/script", fx.dir);
	assert_int_equal(tu_write_file(path, "#!/bin/sh\n", 10, 0755), 0);
	assert_int_equal(registry_deploy_path("acme", "shop", path, &none,
	                                      fx.err, sizeof(fx.err)), 1);
	assert_int_equal(hk.changed, 1);
}

/* A spec a deploy refuses is refused before anything is stored. */
static void test_deploy_bad_spec(void **state)
{
	char *env[] = { "TOKEN=hunter2", "TOKEN=hunter3" };
	char *tails[] = { "acme/shop" };
	struct deploy_spec dup = { .env = env, .nenv = 2 };
	struct deploy_spec self = { .tail_consumers = tails,
		                    .ntail_consumers = 1 };

	(void)state;
	refused(deploy("acme", "shop", "x", &dup), "acme/shop",
	        "env TOKEN given twice");
	assert_null(strstr(fx.err, "hunter"));
	refused(deploy("acme", "shop", "x", &self), "acme/shop",
	        "cannot be its own tail consumer");
}

static void test_deploy_path_skips_unchanged(void **state)
{
	char *env1[] = { "A=1" }, *env2[] = { "A=2" }, *kv[] = { "C=cache" };
	char *tags[] = { "blue" };
	struct deploy_spec s = { .env = env1, .nenv = 1, .tags = tags,
		                 .ntags = 1 };
	const char *exe;
	int fd;

	(void)state;
	assert_int_equal(deploy("acme", "shop", "one", &s), 1);
	assert_int_equal(deploy("acme", "shop", "one", &s), 1);
	assert_int_equal(hk.changed, 1);
	/* "" and "default" are the same plan */
	snprintf(s.plan, sizeof(s.plan), "default");
	assert_int_equal(deploy("acme", "shop", "one", &s), 1);
	assert_int_equal(hk.changed, 1);
	/* any change of the content or of the spec is a new version */
	s.env = env2;
	assert_int_equal(deploy("acme", "shop", "one", &s), 2);
	assert_int_equal(deploy("acme", "shop", "two", &s), 3);
	s.kv = kv;
	s.nkv = 1;
	assert_int_equal(deploy("acme", "shop", "two", &s), 4);
	s.ntags = 0;
	assert_int_equal(deploy("acme", "shop", "two", &s), 5);
	snprintf(s.plan, sizeof(s.plan), "pro");
	assert_int_equal(deploy("acme", "shop", "two", &s), 6);
	assert_ptr_equal(registry_find("acme", "shop")->plan,
	                 config_plan(fx.conf, "pro"));
	assert_int_equal(deploy("acme", "shop", "two", &s), 6);
	assert_int_equal(hk.changed, 6);
	/* registry_deploy itself never skips */
	exe = fake_exe("two");
	fd = open(exe, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(registry_deploy("acme", "shop", fd, &s, fx.err,
	                                 sizeof(fx.err)), 7);
	close(fd);
	assert_int_equal(hk.changed, 7);
}

static void test_rollback(void **state)
{
	struct worker *w;

	(void)state;
	assert_deployed(deploy("acme", "shop", "one", NULL));
	assert_deployed(deploy("acme", "shop", "two", NULL));
	assert_deployed(deploy("acme", "shop", "three", NULL));
	w = registry_find("acme", "shop");
	assert_int_equal(registry_rollback(w, 1, fx.err, sizeof(fx.err)), 0);
	assert_int_equal(worker_version(w)->number, 1);
	assert_int_equal(w->current, 0);
	assert_int_equal(hk.changed, 4);
	assert_ptr_equal(hk.changed_w, w);
	assert_int_equal(hk.changed_version, 1);
	/* a version that is not there */
	errno = 0;
	assert_int_equal(registry_rollback(w, 9, fx.err, sizeof(fx.err)), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(fx.err, "rollback acme/shop: no version 9"));
	assert_int_equal(worker_version(w)->number, 1);
	assert_int_equal(hk.changed, 4);
	assert_int_equal(registry_rollback(w, 0, fx.err, sizeof(fx.err)), -1);
	assert_int_equal(errno, ENOENT);
	/* numbers keep growing after a rollback */
	assert_int_equal(deploy("acme", "shop", "four", NULL), 4);
	assert_int_equal(w->nversions, 4);
	assert_int_equal(registry_rollback(w, 2, fx.err, sizeof(fx.err)), 0);
	assert_int_equal(hk.changed_version, 2);
	/* redeploy: the current version again, as a new one */
	assert_int_equal(registry_redeploy(w, fx.err, sizeof(fx.err)), 5);
	assert_int_equal(hk.changed, 7);
	assert_int_equal(hk.changed_version, 5);
	assert_string_equal(worker_version(w)->sha256, w->versions[1].sha256);
}

/* ---- uids and removal ---- */

static void test_uids(void **state)
{
	struct worker *x, *y, *z, *n;
	const uid_t *retired;
	size_t nretired;
	uid_t yuid;

	(void)state;
	assert_deployed(deploy("a", "x", "x", NULL));
	assert_deployed(deploy("b", "y", "y", NULL));
	assert_deployed(deploy("a", "z", "z", NULL));
	x = registry_find("a", "x");
	y = registry_find("b", "y");
	z = registry_find("a", "z");
	assert_int_equal(x->uid, UID_MIN);
	assert_int_equal(y->uid, UID_MIN + 1);
	assert_int_equal(z->uid, UID_MIN + 2);
	/* a worker keeps its uid across versions */
	assert_deployed(deploy("a", "x", "x2", NULL));
	assert_int_equal(x->uid, UID_MIN);
	/* deleted: the removing hook, then its uid is never given again */
	yuid = y->uid;
	assert_int_equal(registry_delete(y, fx.err, sizeof(fx.err)), 0);
	assert_int_equal(hk.removing, 1);
	assert_string_equal(hk.removed[0], "b/y");
	assert_null(registry_find("b", "y"));
	retired = registry_retired(&nretired);
	assert_int_equal(nretired, 1);
	assert_int_equal(retired[0], yuid);
	assert_deployed(deploy("b", "y", "y", NULL));
	n = registry_find("b", "y");
	assert_int_equal(n->uid, UID_MIN + 3);
	assert_deployed(deploy("c", "w", "w", NULL));
	assert_int_equal(registry_find("c", "w")->uid, UID_MIN + 4);
	/* the range used up: refused, naming the worker */
	fx.conf->uid_max = UID_MIN + 5;
	assert_deployed(deploy("c", "v", "v", NULL));
	assert_int_equal(registry_find("c", "v")->uid, UID_MIN + 5);
	assert_int_equal(deploy("c", "u", "u", NULL), -1);
	assert_int_equal(errno, ENOSPC);
	assert_non_null(strstr(fx.err, "deploy c/u: no uid left in uid_range"));
	assert_null(registry_find("c", "u"));
	fx.conf->uid_max = UID_MAX;
}

/* registry_free tells the request path about every worker it still holds
 * processes of. */
static void test_removing_at_free(void **state)
{
	static char fake_pool;

	(void)state;
	assert_deployed(deploy("acme", "shop", "one", NULL));
	assert_deployed(deploy("acme", "blog", "two", NULL));
	registry_find("acme", "shop")->pool = (struct pool *)&fake_pool;
	assert_int_equal(hk.removing, 0);
	registry_free();
	assert_int_equal(hk.removing, 1);
	assert_string_equal(hk.removed[0], "acme/shop");
	assert_null(registry_first());
}

static void test_versions_pruned(void **state)
{
	char *kv[] = { "C=cache" }, tag[16];
	struct deploy_spec s = { .kv = kv, .nkv = 1 };
	const struct kv_binding *b;
	struct worker *w;
	size_t i, n;
	int v;

	(void)state;
	for (i = 1; i <= REG_MAX_VERSIONS + 5; i++) {
		snprintf(tag, sizeof(tag), "v%zu", i);
		v = deploy("acme", "shop", tag, &s);
		assert_deployed(v);
		assert_int_equal(v, (int)i);
	}
	w = registry_find("acme", "shop");
	assert_int_equal(w->nversions, REG_MAX_VERSIONS);
	for (i = 0; i < w->nversions; i++)
		assert_int_equal(w->versions[i].number, 6 + i);
	assert_int_equal(worker_version(w)->number, REG_MAX_VERSIONS + 5);
	/* the pruned versions' executables and bindings are gone */
	assert_int_equal(tu_count_entries(fx.exe_dir, ""), REG_MAX_VERSIONS);
	assert_null(registry_kv_get("acme/shop", 5, &n));
	assert_int_equal(n, 0);
	b = registry_kv_get("acme/shop", 6, &n);
	assert_non_null(b);
	assert_int_equal(n, 1);
	assert_string_equal(b[0].ns, "cache");
	assert_int_equal(registry_rollback(w, 5, fx.err, sizeof(fx.err)), -1);
	assert_int_equal(errno, ENOENT);
}

/* ---- KV bindings ---- */

static void kv_bad(const char *spec, const char *why)
{
	struct kv_binding b;
	const char *got = registry_kv_parse(spec, &b);

	if (got == NULL || strstr(got, why) == NULL)
		fail_msg("%s: expected \"%s\", got \"%s\"", spec, why,
		         got != NULL ? got : "(valid)");
}

static void test_kv_parse(void **state)
{
	const char *name_rule = "binding name must be 1-63 of [A-Za-z0-9_]";
	struct kv_binding b, set[2];
	const struct kv_binding *got;
	char spec[160], upper[65] = "", lower[65] = "";
	size_t n;

	(void)state;
	assert_null(registry_kv_parse("CACHE=cache-ns", &b));
	assert_string_equal(b.name, "CACHE");
	assert_string_equal(b.ns, "cache-ns");
	assert_int_equal(b.ro, 0);
	assert_null(registry_kv_parse("routes_1=routes:ro", &b));
	assert_string_equal(b.name, "routes_1");
	assert_string_equal(b.ns, "routes");
	assert_int_equal(b.ro, 1);
	kv_bad("CACHE", name_rule);
	kv_bad("=cache", name_rule);
	kv_bad("BAD-NAME=cache", name_rule);
	kv_bad("B.N=cache", name_rule);
	kv_bad("C=", "invalid KV namespace name");
	kv_bad("C=:ro", "invalid KV namespace name");
	kv_bad("C=Cache", "invalid KV namespace name");
	kv_bad("C=a/b", "invalid KV namespace name");
	kv_bad("C=ns:ro:ro", "invalid KV namespace name");
	kv_bad("C=ns:rw", "invalid KV namespace name");
	/* 63 bytes is the longest name and namespace */
	memset(upper, 'N', sizeof(upper) - 1);
	memset(lower, 'n', sizeof(lower) - 1);
	snprintf(spec, sizeof(spec), "%.63s=%.63s", upper, lower);
	assert_null(registry_kv_parse(spec, &b));
	assert_int_equal(strlen(b.name), 63);
	assert_int_equal(strlen(b.ns), 63);
	snprintf(spec, sizeof(spec), "%.64s=ns", upper);
	kv_bad(spec, name_rule);
	snprintf(spec, sizeof(spec), "N=%.64s:ro", lower);
	kv_bad(spec, "invalid KV namespace name");
	/* kept per worker and version; n 0 forgets them */
	assert_null(registry_kv_parse("A=one", &set[0]));
	assert_null(registry_kv_parse("B=two:ro", &set[1]));
	assert_int_equal(registry_kv_set("acme", "shop", 1, set, 2), 0);
	got = registry_kv_get("acme/shop", 1, &n);
	assert_non_null(got);
	assert_int_equal(n, 2);
	assert_string_equal(got[1].ns, "two");
	assert_int_equal(got[1].ro, 1);
	assert_null(registry_kv_get("acme/shop", 2, &n));
	assert_int_equal(n, 0);
	assert_null(registry_kv_get("acme/blog", 1, &n));
	assert_int_equal(registry_kv_set("acme", "shop", 1, set, 1), 0);
	registry_kv_get("acme/shop", 1, &n);
	assert_int_equal(n, 1);
	assert_int_equal(registry_kv_set("acme", "shop", 1, NULL, 0), 0);
	assert_null(registry_kv_get("acme/shop", 1, &n));
	assert_int_equal(n, 0);
}

/* ---- what a deploy may ask for ---- */

#define SECRET "hunter2"

/* s is refused with a message for acme/shop containing why and never the
 * secret. */
static void spec_bad(const struct deploy_spec *s, const char *why)
{
	struct service_binding svc[SY_MAX_SERVICES];
	struct kv_binding kv[REG_MAX_KV];
	char err[512] = "";

	assert_int_equal(deploy_spec_check("acme/shop", s, kv, svc, err,
	                                   sizeof(err)), -1);
	if (strncmp(err, "deploy acme/shop: ", 18) != 0 ||
	    strstr(err, why) == NULL)
		fail_msg("expected \"deploy acme/shop: ...%s\", got \"%s\"",
		         why, err);
	if (strstr(err, SECRET) != NULL)
		fail_msg("the message quotes an environment value: %s", err);
}

static void spec_ok(const struct deploy_spec *s)
{
	struct service_binding svc[SY_MAX_SERVICES];
	struct kv_binding kv[REG_MAX_KV];
	char err[512] = "";

	if (deploy_spec_check("acme/shop", s, kv, svc, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
}

static void env_bad(char **env, size_t n, const char *why)
{
	struct deploy_spec s = { .env = env, .nenv = n };

	spec_bad(&s, why);
}

static void test_spec_env(void **state)
{
	char *valid[] = { "A1_B=ok", "_X=", "K=h\xc3\xa9llo w=rld",
		          "PASS=" SECRET };
	char *big, key[160], *many[REG_MAX_ENV + 1];
	struct deploy_spec s = { .env = valid, .nenv = 4 };
	char e1[] = "1PASS=" SECRET, e2[] = "PASS WORD=" SECRET;
	char e3[] = "TOKEN=" SECRET "\x01", e4[] = "TOKEN=" SECRET "\xff";
	char e5[] = "TOKEN=" SECRET "\xed\xa0\x80"; /* a surrogate */
	char e6[] = "TOKEN=" SECRET "\x7f", e7[] = SECRET;
	char e8[] = "=" SECRET, ok[] = "OK=1", dup[] = "PASS=" SECRET "x";
	char *env[2];
	size_t i;

	(void)state;
	spec_ok(&s);
	env[0] = e1;
	env_bad(env, 1, "env entry 1: invalid variable name");
	env[0] = ok;
	env[1] = e2;
	env_bad(env, 2, "env entry 2: invalid variable name");
	env[0] = e3;
	env_bad(env, 1, "env TOKEN: value contains a control character");
	env[0] = e6;
	env_bad(env, 1, "env TOKEN: value contains a control character");
	env[0] = e4;
	env_bad(env, 1, "env TOKEN: value is not valid UTF-8");
	env[0] = e5;
	env_bad(env, 1, "env TOKEN: value is not valid UTF-8");
	env[0] = e7;
	/* a value given without its name is no name to show either */
	env_bad(env, 1, "env entry 1: expected KEY=VALUE");
	env[0] = e8;
	env_bad(env, 1, "env entry 1: invalid variable name");
	env[0] = valid[3];
	env[1] = dup;
	env_bad(env, 2, "env PASS given twice");
	/* names: up to 128 bytes; entries: below SY_ENV_ENTRY_MAX */
	memset(key, 'K', 128);
	snprintf(key + 128, sizeof(key) - 128, "=v");
	env[0] = key;
	s.env = env;
	s.nenv = 1;
	spec_ok(&s);
	memset(key, 'K', 129);
	snprintf(key + 129, sizeof(key) - 129, "=v");
	env_bad(env, 1, "env entry 1: invalid variable name");
	big = malloc(SY_ENV_ENTRY_MAX + 16);
	assert_non_null(big);
	memcpy(big, "BIG=" SECRET, 11);
	memset(big + 11, 'x', SY_ENV_ENTRY_MAX - 12);
	big[SY_ENV_ENTRY_MAX - 1] = '\0';
	env[0] = big;
	spec_ok(&s);
	big[SY_ENV_ENTRY_MAX - 1] = 'x';
	big[SY_ENV_ENTRY_MAX] = '\0';
	env_bad(env, 1, "env BIG: entry too long");
	free(big);
	for (i = 0; i < REG_MAX_ENV + 1; i++)
		many[i] = ok;
	env_bad(many, REG_MAX_ENV + 1,
	        "too many environment variables (257, at most 256)");
}

static void test_spec_tags_tails_kv(void **state)
{
	char *tags[SY_MAX_TAGS + 1], *tails[REG_MAX_TAIL + 1];
	char *kv[REG_MAX_KV + 1], names[REG_MAX_TAIL + 1][32];
	char kvs[REG_MAX_KV + 1][32], long_tag[80];
	struct service_binding svc[SY_MAX_SERVICES];
	struct kv_binding parsed[REG_MAX_KV];
	struct deploy_spec s;
	char err[256];
	size_t i;

	(void)state;
	/* tags */
	memset(&s, 0, sizeof(s));
	tags[0] = "v1.2:beta-x_Y";
	memset(long_tag, 't', SY_TAG_MAX);
	long_tag[SY_TAG_MAX] = '\0';
	tags[1] = long_tag;
	s.tags = tags;
	s.ntags = 2;
	spec_ok(&s);
	long_tag[SY_TAG_MAX] = 't';
	long_tag[SY_TAG_MAX + 1] = '\0';
	spec_bad(&s, "invalid tag (use 1-64 of A-Z a-z 0-9 _ . : -)");
	tags[1] = "a b";
	spec_bad(&s, "tag a b: invalid tag");
	tags[1] = "";
	spec_bad(&s, "tag : empty tag");
	tags[1] = "v1.2:beta-x_Y";
	spec_bad(&s, "tag v1.2:beta-x_Y given twice");
	for (i = 0; i <= SY_MAX_TAGS; i++) {
		snprintf(names[i], sizeof(names[i]), "t%zu", i);
		tags[i] = names[i];
	}
	s.ntags = SY_MAX_TAGS;
	spec_ok(&s);
	s.ntags = SY_MAX_TAGS + 1;
	spec_bad(&s, "more than 8 tags");

	/* tail consumers */
	memset(&s, 0, sizeof(s));
	s.tail_consumers = tails;
	s.ntail_consumers = 1;
	tails[0] = "acme/logs";
	spec_ok(&s);
	tails[0] = "acme/shop";
	spec_bad(&s, "tail consumer acme/shop: a worker cannot be its own "
	         "tail consumer");
	tails[0] = "logs";
	spec_bad(&s, "tail consumer logs: invalid tail consumer");
	tails[0] = "Acme/logs";
	spec_bad(&s, "tail consumer Acme/logs: invalid tail consumer");
	tails[0] = "acme/logs";
	tails[1] = "acme/logs";
	s.ntail_consumers = 2;
	spec_bad(&s, "tail consumer acme/logs given twice");
	for (i = 0; i <= REG_MAX_TAIL; i++) {
		snprintf(names[i], sizeof(names[i]), "logs/n%zu", i);
		tails[i] = names[i];
	}
	s.ntail_consumers = REG_MAX_TAIL;
	spec_ok(&s);
	s.ntail_consumers = REG_MAX_TAIL + 1;
	spec_bad(&s, "more than 8 tail consumers");

	/* KV bindings, parsed into the caller's array */
	memset(&s, 0, sizeof(s));
	kv[0] = "A=one";
	kv[1] = "B=two:ro";
	s.kv = kv;
	s.nkv = 2;
	assert_int_equal(deploy_spec_check("acme/shop", &s, parsed, svc, err,
	                                   sizeof(err)), 0);
	assert_string_equal(parsed[1].name, "B");
	assert_string_equal(parsed[1].ns, "two");
	assert_int_equal(parsed[1].ro, 1);
	kv[1] = "A=other";
	spec_bad(&s, "KV binding A given twice");
	kv[1] = "bad-name=x";
	spec_bad(&s, "kv 2: binding name must be");
	for (i = 0; i <= REG_MAX_KV; i++) {
		snprintf(kvs[i], sizeof(kvs[i]), "B%zu=ns", i);
		kv[i] = kvs[i];
	}
	s.nkv = REG_MAX_KV;
	spec_ok(&s);
	s.nkv = REG_MAX_KV + 1;
	spec_bad(&s, "more than 64 KV bindings");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_versions_numbered, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_deploy_errors, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_deploy_bad_spec, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(
		    test_deploy_path_skips_unchanged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removing_at_free, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_versions_pruned, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_kv_parse, setup, teardown),
		cmocka_unit_test(test_spec_env),
		cmocka_unit_test(test_spec_tags_tails_kv),
	};

	log_init("test_registry", SY_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
