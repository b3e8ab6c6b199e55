/*
 * deployments.json (store.h): every worker's versions as JSON, and back.
 * Each version records its plan, environment, tags, tail consumers and
 * bindings (KV, service, dispatch namespaces); keys added after the first
 * format are optional, so older files load as "none".
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "state/deploy_spec.h"
#include "state/registry.h"
#include "state/store.h"
#include "util.h"

#define STORE_FORMAT 1

static int json_add(json_t *obj, const char *key, json_t *val)
{
	return val == NULL ? -1 : json_object_set_new(obj, key, val);
}

/* {"name", "ns", "ro"} per binding; NULL when the version has none. */
static json_t *kv_json(const struct worker *w, const struct version *v)
{
	char label[2 * SY_NAME_MAX];
	const struct kv_binding *b;
	json_t *a, *o;
	size_t i, n;

	snprintf(label, sizeof(label), "%s/%s", w->ns, w->name);
	if ((b = registry_kv_get(label, v->number, &n)) == NULL)
		return NULL;
	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		o = json_pack("{s:s, s:s, s:b}", "name", b[i].name, "ns",
			      b[i].ns, "ro", b[i].ro);
		if (json_array_append_new(a, o) == -1) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* An array of strings; NULL when there are none (the key is left out). */
static json_t *strv_json(char *const *v, size_t n)
{
	json_t *a;
	size_t i;

	if (n == 0 || (a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (json_array_append_new(a, json_string(v[i])) == -1) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* ["NAME=NS/WORKER", ...]: as a deploy names them. */
static json_t *services_json(const struct version *v)
{
	char text[3 * SY_NAME_MAX];
	json_t *a;
	size_t i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < v->nservices; i++) {
		registry_service_text(&v->services[i], text, sizeof(text));
		if (json_array_append_new(a, json_string(text)) == -1) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *version_json(const struct worker *w, const struct version *v)
{
	char label[2 * SY_NAME_MAX];
	size_t nkv;

	json_t *o = json_object(), *env = json_array();
	size_t i;

	if (o == NULL || env == NULL)
		goto fail;
	for (i = 0; i < v->nenv; i++) {
		if (json_array_append_new(env, json_string(v->env[i])) == -1)
			goto fail;
	}
	if (json_add(o, "version", json_integer(v->number)) == -1 ||
	    json_add(o, "sha256", json_string(v->sha256)) == -1 ||
	    json_add(o, "plan", json_string(v->plan)) == -1 ||
	    json_add(o, "deployed_at", json_integer(v->deployed_at)) == -1)
		goto fail;
	if (json_object_set_new(o, "env", env) == -1) {
		json_decref(o);
		return NULL;
	}
	if ((v->ntags > 0 &&
	     json_add(o, "tags", strv_json(v->tags, v->ntags)) == -1) ||
	    (v->ntail_consumers > 0 &&
	     json_add(o, "tail_consumers",
		      strv_json(v->tail_consumers, v->ntail_consumers)) == -1)) {
		json_decref(o);
		return NULL;
	}
	snprintf(label, sizeof(label), "%s/%s", w->ns, w->name);
	if ((registry_kv_get(label, v->number, &nkv) != NULL &&
	     json_add(o, "kv", kv_json(w, v)) == -1) ||
	    (v->nservices > 0 &&
	     json_add(o, "services", services_json(v)) == -1) ||
	    (v->ndispatch_ns > 0 &&
	     json_add(o, "dispatch_namespaces",
		      strv_json(v->dispatch_ns, v->ndispatch_ns)) == -1)) {
		json_decref(o);
		return NULL;
	}
	return o;
fail:
	json_decref(env);
	json_decref(o);
	return NULL;
}

static json_t *worker_json(const struct worker *w)
{
	json_t *o = json_object(), *vers = json_array();
	size_t i;

	if (o == NULL || vers == NULL)
		goto fail;
	for (i = 0; i < w->nversions; i++) {
		if (json_array_append_new(vers, version_json(w, &w->versions[i])))
			goto fail;
	}
	if (json_add(o, "ns", json_string(w->ns)) == -1 ||
	    json_add(o, "name", json_string(w->name)) == -1 ||
	    json_add(o, "uid", json_integer(w->uid)) == -1 ||
	    json_add(o, "current", json_integer(worker_version(w)->number)))
		goto fail;
	if (json_object_set_new(o, "versions", vers) == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
fail:
	json_decref(vers);
	json_decref(o);
	return NULL;
}

/* "retired_uids": uids of deleted workers, never given again. */
static int retired_json(json_t *root)
{
	const uid_t *u;
	json_t *a;
	size_t i, n;

	if ((u = registry_retired(&n)) == NULL || n == 0)
		return 0;
	if ((a = json_array()) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (json_array_append_new(a, json_integer(u[i])) == -1) {
			json_decref(a);
			return -1;
		}
	}
	return json_object_set_new(root, "retired_uids", a);
}

char *store_json(void)
{
	json_t *root = json_object(), *workers = json_array();
	struct worker *w;
	char *text;

	if (root == NULL || workers == NULL ||
	    json_add(root, "format", json_integer(STORE_FORMAT)) == -1) {
		json_decref(workers);
		json_decref(root);
		return NULL;
	}
	for (w = registry_first(); w != NULL; w = registry_next(w)) {
		if (json_array_append_new(workers, worker_json(w)) == -1) {
			json_decref(workers);
			json_decref(root);
			return NULL;
		}
	}
	if (json_object_set_new(root, "workers", workers) == -1 ||
	    retired_json(root) == -1) {
		json_decref(root);
		return NULL;
	}
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	return text;
}

/* ---- loading ---- */

/* What store_load is reading, for error messages. */
struct load_ctx {
	const char *state_dir;
	const char *file;
	char *err;
	size_t errlen;
};

static int load_fail(struct load_ctx *lc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int load_fail(struct load_ctx *lc, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(lc->err, lc->errlen, "state %s: %s", lc->file, msg);
	errno = EINVAL;
	return -1;
}

/* Plan names come from the INI file; only their shape is checked here. */
static int valid_plan(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= SY_NAME_MAX - 1 || (unsigned char)s[i] <= ' ' ||
		    s[i] == 0x7f)
			return 0;
	}
	return i > 0;
}

static int load_env(struct load_ctx *lc, const struct worker *w,
		    struct version *v, json_t *env)
{
	const char *s, *why;
	size_t i;

	if (!json_is_array(env) || json_array_size(env) > REG_MAX_ENV)
		return load_fail(lc,
				 "%s/%s version %u: env must be an array of at "
				 "most %d strings",
				 w->ns, w->name, v->number, REG_MAX_ENV);
	if (json_array_size(env) == 0)
		return 0;
	v->env = calloc(json_array_size(env), sizeof(*v->env));
	if (v->env == NULL)
		return load_fail(lc, "%s", strerror(ENOMEM));
	for (i = 0; i < json_array_size(env); i++) {
		s = json_string_value(json_array_get(env, i));
		if (s == NULL || (why = deploy_env_problem(s)) != NULL)
			return load_fail(lc,
					 "%s/%s version %u: env entry %zu: %s",
					 w->ns, w->name, v->number, i + 1,
					 s == NULL ? "not a string" : why);
		if ((v->env[v->nenv] = strdup(s)) == NULL)
			return load_fail(lc, "%s", strerror(ENOMEM));
		v->nenv++;
	}
	return 0;
}

/* An executable a recorded version needs must exist: a missing one means the
 * state was damaged, and silently dropping the worker would lose a deploy. */
static int load_exe(struct load_ctx *lc, const struct worker *w,
		    struct version *v)
{
	char path[PATH_MAX];
	struct stat st;
	int n;

	n = snprintf(path, sizeof(path), "%s/exe/%s", lc->state_dir, v->sha256);
	if (n < 0 || (size_t)n >= sizeof(path))
		return load_fail(lc, "%s/exe/%s: path too long", lc->state_dir,
				 v->sha256);
	if (lstat(path, &st) == -1)
		return load_fail(lc,
				 "%s/%s version %u: executable %s: %s (restore "
				 "it, or the state directory)",
				 w->ns, w->name, v->number, path,
				 strerror(errno));
	if (!S_ISREG(st.st_mode))
		return load_fail(
		    lc, "%s/%s version %u: executable %s is not a regular file",
		    w->ns, w->name, v->number, path);
	if ((v->exe_path = strdup(path)) == NULL)
		return load_fail(lc, "%s", strerror(ENOMEM));
	return 0;
}

/* "kv": [{"name", "ns", "ro"}]; absent in files from before KV. */
static int load_kv(struct load_ctx *lc, const struct worker *w,
		   const struct version *v, json_t *kv)
{
	struct kv_binding b[REG_MAX_KV];
	char spec[2 * SY_NAME_MAX + 8];
	const char *name, *ns, *why;
	json_error_t je;
	size_t i, n;
	int ro;

	if (kv == NULL)
		return 0;
	if (!json_is_array(kv) || (n = json_array_size(kv)) > REG_MAX_KV)
		return load_fail(lc, "%s/%s version %u: kv must be an array "
				 "of at most %d bindings", w->ns, w->name,
				 v->number, REG_MAX_KV);
	for (i = 0; i < n; i++) {
		if (json_unpack_ex(json_array_get(kv, i), &je, JSON_STRICT,
				   "{s:s, s:s, s:b}", "name", &name, "ns", &ns,
				   "ro", &ro) == -1)
			return load_fail(lc, "%s/%s version %u: kv %zu: %s",
					 w->ns, w->name, v->number, i, je.text);
		snprintf(spec, sizeof(spec), "%.63s=%.63s%s", name, ns,
			 ro ? ":ro" : "");
		if ((why = registry_kv_parse(spec, &b[i])) != NULL)
			return load_fail(lc, "%s/%s version %u: kv %zu: %s",
					 w->ns, w->name, v->number, i, why);
	}
	if (registry_kv_set(w->ns, w->name, v->number, b, n) == -1)
		return load_fail(lc, "%s", strerror(ENOMEM));
	return 0;
}

static const char *tag_problem(const char *tag, const char *self)
{
	(void)self;
	return deploy_tag_problem(tag);
}

static const char *dispatch_ns_problem(const char *ns, const char *self)
{
	(void)self;
	return deploy_dispatch_ns_problem(ns);
}

/* "tags", "tail_consumers", "dispatch_namespaces": absent in files from
 * before them; each entry checked by problem (self: "ns/name"). */
static int load_strv(struct load_ctx *lc, const struct worker *w,
		     const struct version *v, const char *key, json_t *a,
		     size_t max,
		     const char *(*problem)(const char *, const char *),
		     char ***out, size_t *nout)
{
	char self[2 * SY_NAME_MAX];
	const char *s, *why;
	size_t i, n;

	if (a == NULL)
		return 0;
	if (!json_is_array(a) || (n = json_array_size(a)) > max)
		return load_fail(lc, "%s/%s version %u: %s must be an array "
				 "of at most %zu strings", w->ns, w->name,
				 v->number, key, max);
	if (n == 0)
		return 0;
	if ((*out = calloc(n, sizeof(**out))) == NULL)
		return load_fail(lc, "%s", strerror(ENOMEM));
	snprintf(self, sizeof(self), "%s/%s", w->ns, w->name);
	for (i = 0; i < n; i++) {
		s = json_string_value(json_array_get(a, i));
		why = s == NULL ? "not a string" : problem(s, self);
		if (why != NULL)
			return load_fail(lc, "%s/%s version %u: %s %zu: %s",
					 w->ns, w->name, v->number, key, i + 1,
					 why);
		if (((*out)[*nout] = strdup(s)) == NULL)
			return load_fail(lc, "%s", strerror(ENOMEM));
		(*nout)++;
	}
	return 0;
}

/* "services": ["NAME=NS/WORKER"]; absent in files from before them. */
static int load_services(struct load_ctx *lc, const struct worker *w,
			 struct version *v, json_t *a)
{
	const char *s, *why;
	size_t i, n;

	if (a == NULL)
		return 0;
	if (!json_is_array(a) || (n = json_array_size(a)) > SY_MAX_SERVICES)
		return load_fail(lc, "%s/%s version %u: services must be an "
				 "array of at most %d strings", w->ns, w->name,
				 v->number, SY_MAX_SERVICES);
	if (n == 0)
		return 0;
	if ((v->services = calloc(n, sizeof(*v->services))) == NULL)
		return load_fail(lc, "%s", strerror(ENOMEM));
	for (i = 0; i < n; i++) {
		s = json_string_value(json_array_get(a, i));
		why = s == NULL ? "not a string"
		      : registry_service_parse(s, &v->services[i]);
		if (why != NULL)
			return load_fail(lc, "%s/%s version %u: services %zu: "
					 "%s", w->ns, w->name, v->number, i + 1,
					 why);
		v->nservices++;
	}
	return 0;
}

/* Every list a version records, each optional. */
static int load_lists(struct load_ctx *lc, struct worker *w,
		      struct version *v, json_t *const *l)
{
	if (load_kv(lc, w, v, l[0]) == -1 ||
	    load_strv(lc, w, v, "tags", l[1], SY_MAX_TAGS, tag_problem,
		      &v->tags, &v->ntags) == -1 ||
	    load_strv(lc, w, v, "tail_consumers", l[2], REG_MAX_TAIL,
		      deploy_tail_problem, &v->tail_consumers,
		      &v->ntail_consumers) == -1 ||
	    load_services(lc, w, v, l[3]) == -1)
		return -1;
	return load_strv(lc, w, v, "dispatch_namespaces", l[4],
			 SY_MAX_DISPATCH_NS, dispatch_ns_problem,
			 &v->dispatch_ns, &v->ndispatch_ns);
}

static int load_version(struct load_ctx *lc, struct worker *w, json_t *vj,
			uint32_t prev)
{
	struct version *v = &w->versions[w->nversions];
	const char *sha, *plan;
	json_int_t num, at;
	json_error_t je;
	/* kv, tags, tail_consumers, services, dispatch_namespaces */
	json_t *env, *l[5] = { NULL };

	if (json_unpack_ex(vj, &je, JSON_STRICT,
			   "{s:I, s:s, s:s, s:I, s:o, s?o, s?o, s?o, s?o, s?o}",
			   "version", &num, "sha256", &sha, "plan", &plan,
			   "deployed_at", &at, "env", &env, "kv", &l[0], "tags",
			   &l[1], "tail_consumers", &l[2], "services", &l[3],
			   "dispatch_namespaces", &l[4]) == -1)
		return load_fail(lc, "%s/%s version %zu: %s", w->ns, w->name,
				 w->nversions + 1, je.text);
	if (num <= (json_int_t)prev || num > INT_MAX)
		return load_fail(lc,
				 "%s/%s: version %lld out of order (after %u)",
				 w->ns, w->name, (long long)num, prev);
	memset(v, 0, sizeof(*v));
	v->number = (uint32_t)num;
	w->nversions++;
	if (!store_valid_sha(sha) || !valid_plan(plan) || at < 0)
		return load_fail(lc, "%s/%s version %u: invalid %s", w->ns,
				 w->name, v->number,
				 !store_valid_sha(sha) ? "sha256"
				 : at < 0	 ? "deployed_at"
						 : "plan name");
	memcpy(v->sha256, sha, sizeof(v->sha256));
	snprintf(v->plan, sizeof(v->plan), "%s", plan);
	v->deployed_at = (int64_t)at;
	if (load_env(lc, w, v, env) == -1 || load_lists(lc, w, v, l) == -1)
		return -1;
	return load_exe(lc, w, v);
}

static int load_versions(struct load_ctx *lc, struct worker *w, json_t *vers,
			 json_int_t current)
{
	uint32_t prev = 0;
	size_t i, n = json_array_size(vers);

	if (!json_is_array(vers) || n == 0)
		return load_fail(lc,
				 "%s/%s: versions must be a non-empty array",
				 w->ns, w->name);
	if ((w->versions = calloc(n, sizeof(*w->versions))) == NULL)
		return load_fail(lc, "%s", strerror(ENOMEM));
	for (i = 0; i < n; i++) {
		if (load_version(lc, w, json_array_get(vers, i), prev) == -1)
			return -1;
		prev = w->versions[i].number;
		if (w->versions[i].number == current)
			w->current = i;
	}
	if (w->versions[w->current].number != current)
		return load_fail(
		    lc, "%s/%s: current version %lld is not among its versions",
		    w->ns, w->name, (long long)current);
	return 0;
}

static int load_worker(struct load_ctx *lc, json_t *wj, size_t idx)
{
	const char *ns, *name;
	json_int_t current, uid = 0;
	struct worker *w;
	json_error_t je;
	json_t *vers;

	/* "uid" is missing from files written before workers had their own:
	 * registry_init gives them one. */
	if (json_unpack_ex(wj, &je, JSON_STRICT, "{s:s, s:s, s?I, s:I, s:o}",
			   "ns", &ns, "name", &name, "uid", &uid, "current",
			   &current, "versions", &vers) == -1)
		return load_fail(lc, "workers[%zu]: %s", idx, je.text);
	if (!sy_valid_name(ns) || !sy_valid_name(name))
		return load_fail(lc,
				 "workers[%zu]: invalid name \"%.63s/%.63s\"",
				 idx, ns, name);
	if (uid < 0 || uid >= (json_int_t)UINT32_MAX)
		return load_fail(lc, "%s/%s: invalid uid %lld", ns, name,
				 (long long)uid);
	if ((w = registry_insert(ns, name)) == NULL)
		return load_fail(lc, "%s/%s: %s", ns, name,
				 errno == EEXIST   ? "listed twice"
				 : errno == ENOSPC ? "too many workers"
						   : strerror(errno));
	w->uid = (uid_t)uid;
	return load_versions(lc, w, vers, current);
}

static json_t *load_file(struct load_ctx *lc, int *missing)
{
	json_error_t je;
	json_t *root;
	int fd;

	*missing = 0;
	if ((fd = open(lc->file, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT) {
			*missing = 1;
			return NULL;
		}
		snprintf(lc->err, lc->errlen, "cannot open %s: %s", lc->file,
			 strerror(errno));
		return NULL;
	}
	root = json_loadfd(fd, JSON_REJECT_DUPLICATES, &je);
	close(fd);
	if (root == NULL)
		load_fail(lc, "line %d: %s", je.line, je.text);
	return root;
}

static int load_retired(struct load_ctx *lc, json_t *a)
{
	json_int_t u;
	size_t i;

	if (a == NULL)
		return 0;
	if (!json_is_array(a))
		return load_fail(lc, "retired_uids must be an array");
	for (i = 0; i < json_array_size(a); i++) {
		u = json_integer_value(json_array_get(a, i));
		if (!json_is_integer(json_array_get(a, i)) || u <= 0 ||
		    u >= (json_int_t)UINT32_MAX)
			return load_fail(lc, "retired_uids[%zu]: invalid uid",
					 i);
		if (registry_retire_uid((uid_t)u) == -1)
			return load_fail(lc, "%s", strerror(ENOMEM));
	}
	return 0;
}

int store_load(const char *state_dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct load_ctx lc = {state_dir, path, err, errlen};
	struct worker *w;
	json_t *root, *workers, *retired = NULL;
	json_error_t je;
	int format, missing, rc = 0;
	size_t i;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", state_dir,
			     STORE_FILE) >= sizeof(path)) {
		snprintf(err, errlen, "%s/%s: path too long", state_dir,
			 STORE_FILE);
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((root = load_file(&lc, &missing)) == NULL)
		return missing ? 0 : -1;
	if (json_unpack_ex(root, &je, JSON_STRICT, "{s:i, s:o, s?o}",
			   "format", &format, "workers", &workers,
			   "retired_uids", &retired) == -1)
		rc = load_fail(&lc, "%s", je.text);
	else if (load_retired(&lc, retired) == -1)
		rc = -1;
	else if (format != STORE_FORMAT)
		rc = load_fail(&lc,
			       "format %d is not supported (this supervisor "
			       "reads format %d)",
			       format, STORE_FORMAT);
	else if (!json_is_array(workers))
		rc = load_fail(&lc, "workers must be an array");
	for (i = 0; rc == 0 && i < json_array_size(workers); i++)
		rc = load_worker(&lc, json_array_get(workers, i), i);
	json_decref(root);
	/* all or nothing: a half-loaded registry would serve a partial state */
	while (rc == -1 && (w = registry_first()) != NULL)
		registry_remove(w);
	return rc;
}
