/*
 * The durable state (supervisor/state/store.h) under a real state_dir in
 * /tmp, through the registry that records every change in it: everything
 * deployed comes back after a restart, executables are stored once by
 * content, a damaged deployments.json stops the start naming the file,
 * deferred saves write once, unused executables are collected, and files
 * are only ever replaced whole (no temporary file left, a save that fails
 * changes nothing).
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
#include "state/kvstore.h"
#include "state/registry.h"
#include "state/store.h"
#include "testutil.h"

static const char ini[] =
	"[switchyard]\n"
	"state_dir = state\n"
	"run_dir = run\n"
	"uid_range = 300000-300099\n"
	"\n"
	"[plan.pro]\n"
	"instances = 2\n";

static struct {
	char dir[64], state[128], exe_dir[160], file[160], tmp[176];
	struct sup_config *conf;
	char err[1024];
} fx;

static unsigned changed; /* version_changed calls */

static void on_changed(struct worker *w)
{
	(void)w;
	changed++;
}

static const struct registry_hooks hooks = {
	.version_changed = on_changed,
};

static int init(void)
{
	int rc = registry_init(fx.conf, &hooks, fx.err, sizeof(fx.err));

	if (rc == -1)
		fprintf(stderr, "registry_init: %s\n", fx.err);
	return rc;
}

static int setup(void **state)
{
	char path[128];

	(void)state;
	changed = 0;
	if (tu_mkdtemp(fx.dir, sizeof(fx.dir), "store") == -1)
		return -1;
	snprintf(fx.state, sizeof(fx.state), "%s/state", fx.dir);
	snprintf(fx.exe_dir, sizeof(fx.exe_dir), "%s/exe", fx.state);
	snprintf(fx.file, sizeof(fx.file), "%s/deployments.json", fx.state);
	snprintf(fx.tmp, sizeof(fx.tmp), "%s.tmp", fx.file);
	snprintf(path, sizeof(path), "%s/bin", fx.dir);
	if (mkdir(path, 0755) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/switchyard.ini", fx.dir);
	if (tu_write_file(path, ini, strlen(ini), 0644) == -1)
		return -1;
	if ((fx.conf = config_load(path, fx.err, sizeof(fx.err))) == NULL) {
		fprintf(stderr, "%s\n", fx.err);
		return -1;
	}
	/* a deploy binding a new KV namespace asks the store for room */
	if (kvstore_configure(fx.state, 16) == -1)
		return -1;
	return init();
}

static int teardown(void **state)
{
	char err[256];

	(void)state;
	/* a test that failed while saves were deferred must not leave them
	 * deferred for the next */
	store_defer(0, fx.state, err, sizeof(err));
	registry_free();
	kvstore_close();
	config_free(fx.conf);
	fx.conf = NULL;
	return tu_rm_rf(fx.dir);
}

/* Writes dir/bin/<tag>: an ELF header and tag, so each tag hashes apart. */
static const char *fake_exe(const char *tag)
{
	static char path[192];
	char data[128];
	int n;

	snprintf(path, sizeof(path), "%s/bin/%s", fx.dir, tag);
	n = snprintf(data, sizeof(data), "\177ELF\2\1\1 fake worker %s\n", tag);
	assert_int_equal(tu_write_file(path, data, (size_t)n, 0755), 0);
	return path;
}

static int deploy(const char *ns, const char *name, const char *tag,
                  const struct deploy_spec *spec)
{
	static const struct deploy_spec none;
	int v;

	v = registry_deploy_path(ns, name, fake_exe(tag),
	                         spec != NULL ? spec : &none, fx.err,
	                         sizeof(fx.err));
	return v;
}

static void deployed(int v, int want)
{
	if (v == -1)
		fail_msg("deploy failed: %s", fx.err);
	assert_int_equal(v, want);
}

/* ---- a text picture of the whole registry, to compare ---- */

struct pic {
	char *s;
	size_t len, cap;
};

static void pic_add(struct pic *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void pic_add(struct pic *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(p->s + p->len, p->cap - p->len, fmt, ap);
		va_end(ap);
		assert_true(n >= 0);
		if ((size_t)n < p->cap - p->len)
			break;
		p->cap = p->cap * 2 + (size_t)n;
		p->s = realloc(p->s, p->cap);
		assert_non_null(p->s);
	}
	p->len += (size_t)n;
}

static void pic_strv(struct pic *p, const char *what, char **v, size_t n)
{
	size_t i;

	pic_add(p, " %s[", what);
	for (i = 0; i < n; i++)
		pic_add(p, "%s%s", i ? "," : "", v[i]);
	pic_add(p, "]");
}

/* Every field of every worker and version, its KV bindings, and the
 * retired uids. Caller frees. */
static char *picture(void)
{
	struct pic p = { malloc(256), 0, 256 };
	const struct kv_binding *b;
	const struct version *v;
	char label[2 * SY_NAME_MAX];
	struct worker *w;
	const uid_t *u;
	size_t i, j, n;

	assert_non_null(p.s);
	p.s[0] = '\0';
	for (w = registry_first(); w != NULL; w = registry_next(w)) {
		snprintf(label, sizeof(label), "%s/%s", w->ns, w->name);
		pic_add(&p, "%s uid %u current %u plan %s\n", label,
		        (unsigned)w->uid, worker_version(w)->number,
		        w->plan->name);
		for (i = 0; i < w->nversions; i++) {
			v = &w->versions[i];
			pic_add(&p, "  v%u %s %s %lld %s", v->number,
			        v->sha256, v->exe_path,
			        (long long)v->deployed_at, v->plan);
			pic_strv(&p, "env", v->env, v->nenv);
			pic_strv(&p, "tags", v->tags, v->ntags);
			pic_strv(&p, "tails", v->tail_consumers,
			         v->ntail_consumers);
			pic_strv(&p, "dispatch", v->dispatch_ns,
			         v->ndispatch_ns);
			pic_add(&p, " services[");
			for (j = 0; j < v->nservices; j++)
				pic_add(&p, "%s=%s/%s ", v->services[j].name,
				        v->services[j].ns,
				        v->services[j].worker);
			pic_add(&p, "]");
			b = registry_kv_get(label, v->number, &n);
			pic_add(&p, " kv[");
			for (j = 0; b != NULL && j < n; j++)
				pic_add(&p, "%s=%s%s ", b[j].name, b[j].ns,
				        b[j].ro ? ":ro" : "");
			pic_add(&p, "]\n");
		}
	}
	u = registry_retired(&n);
	pic_add(&p, "retired");
	for (i = 0; i < n; i++)
		pic_add(&p, " %u", (unsigned)u[i]);
	return p.s;
}

/* ---- tests ---- */

static void test_round_trip(void **state)
{
	char *env1[] = { "A=1", "GREETING=h\xc3\xa9llo \"world\"" };
	char *env2[] = { "B=2" }, *tags1[] = { "blue" };
	char *tags2[] = { "green", "v2.0" }, *tails[] = { "acme/logs" };
	char *kv1[] = { "CACHE=cache" }, *kv2[] = { "CACHE=cache:ro",
		                                    "SESS=sessions" };
	char *svc[] = { "AUTH=platform/auth", "logs-api=acme/logs" };
	char *dns[] = { "tenants", "staging" };
	struct deploy_spec s1 = { .env = env1, .nenv = 2, .tags = tags1,
		                  .ntags = 1, .kv = kv1, .nkv = 1,
		                  .services = svc, .nservices = 1 };
	struct deploy_spec s2 = { .plan = "pro", .env = env2, .nenv = 1,
		                  .tags = tags2, .ntags = 2,
		                  .tail_consumers = tails,
		                  .ntail_consumers = 1, .kv = kv2, .nkv = 2,
		                  .services = svc, .nservices = 2,
		                  .dispatch_ns = dns, .ndispatch_ns = 2 };
	char *before, *after, *file_before, *file_after;
	struct worker *w;
	struct stat st;
	uid_t gone;

	(void)state;
	deployed(deploy("acme", "shop", "one", &s1), 1);
	deployed(deploy("acme", "shop", "two", &s2), 2);
	deployed(deploy("acme", "shop", "three", NULL), 3);
	w = registry_find("acme", "shop");
	assert_int_equal(registry_rollback(w, 2, fx.err, sizeof(fx.err)), 0);
	deployed(deploy("acme", "logs", "one", NULL), 1);
	deployed(deploy("zeta", "gone", "four", NULL), 1);
	gone = registry_find("zeta", "gone")->uid;
	assert_int_equal(registry_delete(registry_find("zeta", "gone"), fx.err,
	                                 sizeof(fx.err)), 0);
	before = picture();
	/* the picture holds what was deployed (it is no empty comparison) */
	assert_non_null(strstr(before, "acme/shop uid 300000 current 2 plan "
	                               "pro"));
	assert_non_null(strstr(before, " env[B=2] tags[green,v2.0] "
	                               "tails[acme/logs] "
	                               "dispatch[tenants,staging] "
	                               "services[AUTH=platform/auth "
	                               "logs-api=acme/logs ] "
	                               "kv[CACHE=cache:ro SESS=sessions ]"));
	assert_non_null(strstr(before, " dispatch[] services[AUTH=platform/"
	                               "auth ] kv[CACHE=cache ]"));
	assert_non_null(strstr(before, "retired 300002"));
	/* 0600: the environment may hold secrets */
	assert_int_equal(stat(fx.file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	file_before = tu_read_file(fx.file, NULL);
	assert_non_null(file_before);

	registry_free();
	assert_null(registry_first());
	assert_int_equal(init(), 0);
	after = picture();
	assert_string_equal(after, before);
	w = registry_find("acme", "shop");
	assert_ptr_equal(w->plan, config_plan(fx.conf, "pro"));
	assert_ptr_equal(registry_find("acme", "logs")->plan,
	                 config_plan(fx.conf, "default"));
	/* loading does not rewrite the file */
	file_after = tu_read_file(fx.file, NULL);
	assert_non_null(file_after);
	assert_string_equal(file_after, file_before);
	/* the deleted worker's uid stays retired after the restart */
	deployed(deploy("zeta", "new", "five", NULL), 1);
	assert_true(registry_find("zeta", "new")->uid != gone);
	assert_int_equal(registry_find("zeta", "new")->uid, 300003);
	/* and numbering goes on where it was */
	deployed(deploy("acme", "shop", "five", NULL), 4);
	free(before);
	free(after);
	free(file_before);
	free(file_after);
}

static void test_put_exe_content_addressed(void **state)
{
	/* SHA-256 test vectors (FIPS 180-2): "abc", and a million 'a'
	 * (more than one of the store's 64 KiB chunks) */
	static const char abc_sha[] = "ba7816bf8f01cfea414140de5dae2223b00361"
	                              "a396177a9cb410ff61f20015ad";
	static const char million_sha[] = "cdc76e5c9914fb9281a1c7e284d73e67f"
	                                  "1809a48a497200e046d39ccc7112cd0";
	char sha[65], sha2[65], hsha[65], src[192], want[256];
	char *path = NULL, *path2 = NULL, *data, *big;
	struct stat st, st2;
	size_t len;
	int fd;

	(void)state;
	snprintf(src, sizeof(src), "%s/bin/abc", fx.dir);
	assert_int_equal(tu_write_file(src, "abc", 3, 0644), 0);
	fd = open(src, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	/* the whole file is stored whatever the descriptor's offset, which
	 * is left alone */
	assert_int_equal(lseek(fd, 2, SEEK_SET), 2);
	assert_int_equal(store_put_exe(fx.state, fd, sha, &path, fx.err,
	                               sizeof(fx.err)), 0);
	assert_string_equal(sha, abc_sha);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 2);
	snprintf(want, sizeof(want), "%s/%s", fx.exe_dir, abc_sha);
	assert_string_equal(path, want);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0555);
	data = tu_read_file(path, &len);
	assert_non_null(data);
	assert_int_equal(len, 3);
	assert_memory_equal(data, "abc", 3);
	free(data);
	assert_int_equal(store_hash_fd(fd, hsha, fx.err, sizeof(fx.err)), 0);
	assert_string_equal(hsha, abc_sha);
	/* the same content again: the same file, kept as it was */
	assert_int_equal(store_put_exe(fx.state, fd, sha2, &path2, fx.err,
	                               sizeof(fx.err)), 0);
	assert_string_equal(sha2, sha);
	assert_string_equal(path2, path);
	assert_int_equal(lstat(path2, &st2), 0);
	assert_int_equal(st2.st_ino, st.st_ino);
	close(fd);
	free(path2);
	path2 = NULL;

	big = malloc(1000000);
	assert_non_null(big);
	memset(big, 'a', 1000000);
	snprintf(src, sizeof(src), "%s/bin/million", fx.dir);
	assert_int_equal(tu_write_file(src, big, 1000000, 0755), 0);
	fd = open(src, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(store_put_exe(fx.state, fd, sha2, &path2, fx.err,
	                               sizeof(fx.err)), 0);
	close(fd);
	assert_string_equal(sha2, million_sha);
	assert_string_not_equal(path2, path);
	data = tu_read_file(path2, &len);
	assert_non_null(data);
	assert_int_equal(len, 1000000);
	assert_memory_equal(data, big, len);
	free(data);
	free(big);
	assert_int_equal(tu_count_entries(fx.exe_dir, ""), 2);
	assert_int_equal(tu_count_entries(fx.exe_dir, "tmp"), 0);
	free(path);
	free(path2);
}

/* registry_init refuses text as deployments.json, naming the file, and
 * store_load loads all or nothing: no worker stays. (Duplicate uids are
 * registry_init's own check, after the load.) */
static void load_refused(const char *text, size_t len, const char *why)
{
	int store_too = strstr(why, "recorded for both") == NULL;

	assert_int_equal(tu_write_file(fx.file, text, len, 0600), 0);
	assert_int_equal(registry_init(fx.conf, &hooks, fx.err,
	                               sizeof(fx.err)), -1);
	if (strstr(fx.err, fx.file) == NULL || strstr(fx.err, why) == NULL)
		fail_msg("expected \"%s\" and \"%s\", got \"%s\"", fx.file,
		         why, fx.err);
	assert_null(registry_first());
	if (store_too) {
		assert_int_equal(store_load(fx.state, fx.err, sizeof(fx.err)),
		                 -1);
		assert_null(registry_first());
		registry_free();
	}
}

/* Replaces the first from in good by to, as a new string. */
static char *edited(const char *good, const char *from, const char *to)
{
	const char *at = strstr(good, from);
	size_t n = strlen(good) - strlen(from) + strlen(to) + 1;
	char *s = malloc(n);

	assert_non_null(at);
	assert_non_null(s);
	snprintf(s, n, "%.*s%s%s", (int)(at - good), good, to,
	         at + strlen(from));
	return s;
}

static void test_corrupt_file(void **state)
{
	char *good, *bad, exe[256];
	size_t len;

	(void)state;
	deployed(deploy("acme", "shop", "one", NULL), 1);
	deployed(deploy("acme", "shop", "two", NULL), 2);
	deployed(deploy("acme", "blog", "three", NULL), 1);
	snprintf(exe, sizeof(exe), "%s",
	         registry_find("acme", "blog")->versions[0].exe_path);
	registry_free();
	good = tu_read_file(fx.file, &len);
	assert_non_null(good);

	load_refused("{not json", 9, "line 1");
	load_refused(good, len / 2, "state ");
	load_refused("", 0, "state ");
	bad = edited(good, "\"format\": 1", "\"format\": 2");
	load_refused(bad, strlen(bad), "format 2 is not supported");
	free(bad);
	bad = edited(good, "\"name\": \"blog\"", "\"name\": \"shop\"");
	load_refused(bad, strlen(bad), "acme/shop: listed twice");
	free(bad);
	bad = edited(good, "\"current\": 2", "\"current\": 7");
	load_refused(bad, strlen(bad), "current version 7 is not among");
	free(bad);
	bad = edited(good, "\"uid\": 300001", "\"uid\": 300000");
	load_refused(bad, strlen(bad), "uid 300000 is recorded for both");
	free(bad);
	bad = edited(good, "\"workers\"", "\"wrkers\"");
	load_refused(bad, strlen(bad), "state ");
	free(bad);
	/* bindings are checked as a deploy checks them */
	bad = edited(good, "\"plan\": \"default\"", "\"plan\": \"default\", "
	             "\"services\": [\"AUTH=nowhere\"]");
	load_refused(bad, strlen(bad), "acme/blog version 1: services 1: "
	             "expected NAME=NS/WORKER");
	free(bad);
	bad = edited(good, "\"plan\": \"default\"", "\"plan\": \"default\", "
	             "\"dispatch_namespaces\": [\"Tenants\"]");
	load_refused(bad, strlen(bad), "acme/blog version 1: "
	             "dispatch_namespaces 1: invalid namespace name");
	free(bad);
	/* a recorded executable that is gone is damage, not a worker to
	 * drop silently */
	assert_int_equal(rename(exe, fx.tmp), 0);
	load_refused(good, len, "acme/blog version 1: executable");
	assert_int_equal(rename(fx.tmp, exe), 0);

	/* the good file loads again: nothing of the failures stayed */
	assert_int_equal(tu_write_file(fx.file, good, len, 0600), 0);
	assert_int_equal(init(), 0);
	assert_int_equal(registry_find("acme", "shop")->nversions, 2);
	assert_non_null(registry_find("acme", "blog"));
	free(good);
}

static void test_defer_writes_once(void **state)
{
	char *first, *now;
	struct stat st1, st2;

	(void)state;
	deployed(deploy("acme", "shop", "one", NULL), 1);
	first = tu_read_file(fx.file, NULL);
	assert_non_null(first);
	assert_int_equal(stat(fx.file, &st1), 0);

	assert_int_equal(store_defer(1, NULL, NULL, 0), 0);
	deployed(deploy("acme", "shop", "two", NULL), 2);
	deployed(deploy("acme", "shop", "three", NULL), 3);
	deployed(deploy("acme", "blog", "one", NULL), 1);
	assert_int_equal(changed, 4); /* the deploys are live meanwhile */
	now = tu_read_file(fx.file, NULL);
	assert_non_null(now);
	assert_string_equal(now, first);
	assert_int_equal(stat(fx.file, &st2), 0);
	assert_int_equal(st2.st_ino, st1.st_ino);
	free(now);

	assert_int_equal(store_defer(0, fx.state, fx.err, sizeof(fx.err)), 0);
	now = tu_read_file(fx.file, NULL);
	assert_non_null(now);
	assert_string_not_equal(now, first);
	assert_non_null(strstr(now, "\"current\": 3"));
	assert_non_null(strstr(now, "\"name\": \"blog\""));
	assert_int_equal(stat(fx.file, &st1), 0);
	assert_true(st1.st_ino != st2.st_ino);
	free(first);

	/* nothing changed while deferred: nothing is written */
	assert_int_equal(store_defer(1, NULL, NULL, 0), 0);
	assert_int_equal(store_defer(0, fx.state, fx.err, sizeof(fx.err)), 0);
	assert_int_equal(stat(fx.file, &st2), 0);
	assert_int_equal(st2.st_ino, st1.st_ino);
	assert_int_equal(st2.st_mtim.tv_nsec, st1.st_mtim.tv_nsec);
	assert_int_equal(st2.st_mtim.tv_sec, st1.st_mtim.tv_sec);

	/* what was written is the whole state */
	registry_free();
	assert_int_equal(init(), 0);
	assert_int_equal(registry_find("acme", "shop")->nversions, 3);
	assert_non_null(registry_find("acme", "blog"));
	free(now);
}

static int exe_exists(const char *sha)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", fx.exe_dir, sha);
	return lstat(path, &st) == 0;
}

static void test_gc_exes(void **state)
{
	char a[65], b[65], orphan[65], shared[65], path[256], *p = NULL;
	struct worker *w;
	int fd;

	(void)state;
	deployed(deploy("acme", "shop", "one", NULL), 1);
	deployed(deploy("acme", "shop", "two", NULL), 2);
	w = registry_find("acme", "shop");
	memcpy(a, w->versions[0].sha256, 65);
	memcpy(b, w->versions[1].sha256, 65);
	deployed(deploy("acme", "x", "same", NULL), 1);
	deployed(deploy("acme", "y", "same", NULL), 1);
	memcpy(shared, registry_find("acme", "x")->versions[0].sha256, 65);
	/* stored, then never deployed (a deploy that failed to record) */
	fd = open(fake_exe("orphan"), O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(store_put_exe(fx.state, fd, orphan, &p, fx.err,
	                               sizeof(fx.err)), 0);
	close(fd);
	free(p);
	/* files the store did not name are not its to remove */
	snprintf(path, sizeof(path), "%s/README", fx.exe_dir);
	assert_int_equal(tu_write_file(path, "x", 1, 0644), 0);
	assert_int_equal(tu_count_entries(fx.exe_dir, ""), 5);

	store_gc_exes(fx.state);
	assert_false(exe_exists(orphan));
	assert_true(exe_exists(a));
	assert_true(exe_exists(b));
	assert_true(exe_exists(shared));
	assert_int_equal(tu_count_entries(fx.exe_dir, "README"), 1);

	/* a delete collects what only it used */
	assert_int_equal(registry_delete(w, fx.err, sizeof(fx.err)), 0);
	assert_false(exe_exists(a));
	assert_false(exe_exists(b));
	assert_int_equal(registry_delete(registry_find("acme", "x"), fx.err,
	                                 sizeof(fx.err)), 0);
	assert_true(exe_exists(shared));
	assert_int_equal(registry_delete(registry_find("acme", "y"), fx.err,
	                                 sizeof(fx.err)), 0);
	assert_false(exe_exists(shared));
	assert_int_equal(tu_count_entries(fx.exe_dir, ""), 1);
}

/* No temporary file is left behind, a stale one from a crash is replaced,
 * and a save that cannot happen changes nothing, on disk or in memory. */
static void test_atomic(void **state)
{
	char *text, *now;
	struct worker *w;
	struct stat st;

	(void)state;
	/* what a crash in the middle of a save leaves */
	assert_int_equal(mkdir(fx.state, 0711), 0);
	assert_int_equal(tu_write_file(fx.tmp, "half a fi", 9, 0644), 0);
	deployed(deploy("acme", "shop", "one", NULL), 1);
	deployed(deploy("acme", "shop", "two", NULL), 2);
	w = registry_find("acme", "shop");
	assert_int_equal(registry_rollback(w, 1, fx.err, sizeof(fx.err)), 0);
	deployed(deploy("acme", "gone", "three", NULL), 1);
	assert_int_equal(registry_delete(registry_find("acme", "gone"), fx.err,
	                                 sizeof(fx.err)), 0);
	assert_int_equal(store_write_file(fx.state, "other.json", "{}", fx.err,
	                                  sizeof(fx.err)), 0);
	assert_int_equal(tu_count_entries(fx.state, "tmp"), 0);
	assert_int_equal(tu_count_entries(fx.exe_dir, "tmp"), 0);
	assert_int_equal(stat(fx.file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	/* the temporary file cannot be made: nothing changes */
	text = tu_read_file(fx.file, NULL);
	assert_non_null(text);
	assert_int_equal(mkdir(fx.tmp, 0700), 0);
	changed = 0;
	assert_int_equal(deploy("acme", "shop", "four", NULL), -1);
	assert_non_null(strstr(fx.err, "deploy acme/shop: version not "
	                               "recorded: "));
	assert_non_null(strstr(fx.err, fx.tmp));
	assert_int_equal(w->nversions, 2);
	assert_int_equal(worker_version(w)->number, 1);
	assert_int_equal(deploy("acme", "new", "four", NULL), -1);
	assert_null(registry_find("acme", "new"));
	assert_int_equal(registry_rollback(w, 2, fx.err, sizeof(fx.err)), -1);
	assert_non_null(strstr(fx.err, "rollback acme/shop: not recorded"));
	assert_int_equal(worker_version(w)->number, 1);
	assert_int_equal(changed, 0);
	now = tu_read_file(fx.file, NULL);
	assert_non_null(now);
	assert_string_equal(now, text);
	free(now);
	free(text);

	/* once it can, the next deploy numbers on from what was recorded */
	assert_int_equal(rmdir(fx.tmp), 0);
	deployed(deploy("acme", "shop", "four", NULL), 3);
	registry_free();
	assert_int_equal(init(), 0);
	assert_int_equal(worker_version(registry_find("acme", "shop"))->number,
	                 3);
	assert_null(registry_find("acme", "new"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_put_exe_content_addressed,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_file, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_defer_writes_once, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_gc_exes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic, setup, teardown),
	};

	log_init("test_store", SY_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
