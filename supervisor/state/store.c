/*
 * Durable state under state_dir:
 *   exe/<sha256>        deployed executables, content-addressed, 0555
 *   deployments.json    every worker's versions, 0600 (env may hold secrets)
 * Both are replaced only by rename(2) of a fully written, fsynced file, so a
 * crash leaves either the old or the new state, never a torn one.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <dirent.h>
#include <unistd.h>

#include <jansson.h>
#include <sha2.h>

#include "log.h"
#include "state/deploy_spec.h"
#include "state/registry.h"
#include "state/store.h"
#include "util.h"

#define STORE_FORMAT 1
#define STORE_FILE "deployments.json"
#define STORE_EXE_MAX (1024LL * 1024 * 1024) /* bytes of one executable */
#define STORE_CHUNK (64 * 1024)

/* Creates dir (0711: workers may exec files inside, nobody may list it). */
static int store_mkdir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dir, 0711) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir,
			 strerror(errno));
		return -1;
	}
	if (stat(dir, &st) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", dir);
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

static int store_path(char *buf, size_t size, const char *dir, const char *leaf,
		      char *err, size_t errlen)
{
	int n = snprintf(buf, size, "%s/%s", dir, leaf);

	if (n < 0 || (size_t)n >= size) {
		snprintf(err, errlen, "%s/%s: path too long", dir, leaf);
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* The rename of a file into dir is durable only once dir is synced. */
static int store_sync_dir(const char *dir, char *err, size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd == -1 || fsync(fd) == -1) {
		snprintf(err, errlen, "cannot sync directory %s: %s", dir,
			 strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void hex_digest(const uint8_t d[SHA256_DIGEST_LENGTH], char out[65])
{
	static const char hex[] = "0123456789abcdef";
	int i;

	for (i = 0; i < SHA256_DIGEST_LENGTH; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[64] = '\0';
}

/* Reads fd from offset 0 to its end, hashing it and, when out >= 0, copying
 * it to out. The copy is what gets hashed, so the name always matches the
 * stored bytes even if the source changes meanwhile. */
static int store_copy(int fd, int out, const char *outpath, char sha[65],
		      char *err, size_t errlen)
{
	uint8_t buf[STORE_CHUNK], digest[SHA256_DIGEST_LENGTH];
	SHA2_CTX ctx;
	off_t off = 0;
	ssize_t n;

	SHA256Init(&ctx);
	for (;;) {
		n = pread(fd, buf, sizeof(buf), off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "cannot read the executable: %s",
				 strerror(errno));
			return -1;
		}
		if (n == 0)
			break;
		off += n;
		if (off > STORE_EXE_MAX) {
			snprintf(err, errlen,
				 "the executable is larger than %lld bytes",
				 STORE_EXE_MAX);
			errno = EFBIG;
			return -1;
		}
		SHA256Update(&ctx, buf, (size_t)n);
		if (out >= 0 && write_all(out, buf, (size_t)n) == -1) {
			snprintf(err, errlen, "cannot write %s: %s", outpath,
				 strerror(errno));
			return -1;
		}
	}
	SHA256Final(digest, &ctx);
	hex_digest(digest, sha);
	return 0;
}

int store_hash_fd(int fd, char sha256[65], char *err, size_t errlen)
{
	return store_copy(fd, -1, NULL, sha256, err, errlen);
}

/* Finishes the temporary copy tmp (open at out) as dir/<sha>. */
static int store_publish(int out, const char *tmp, const char *dir,
			 const char *final, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(final, &st) == 0 && S_ISREG(st.st_mode)) {
		/* same content already stored: keep the existing file */
		close(out);
		unlink(tmp);
		return 0;
	}
	if (fchmod(out, 0555) == -1 || fsync(out) == -1) {
		snprintf(err, errlen, "cannot finish %s: %s", tmp,
			 strerror(errno));
		close(out);
		unlink(tmp);
		return -1;
	}
	if (close(out) == -1 || rename(tmp, final) == -1) {
		snprintf(err, errlen, "cannot store %s: %s", final,
			 strerror(errno));
		unlink(tmp);
		return -1;
	}
	return store_sync_dir(dir, err, errlen);
}

int store_put_exe(const char *state_dir, int exe_fd, char sha256[65],
		  char **path, char *err, size_t errlen)
{
	char dir[PATH_MAX], tmp[PATH_MAX], final[PATH_MAX];
	int out, e;

	*path = NULL;
	if (store_mkdir(state_dir, err, errlen) == -1 ||
	    store_path(dir, sizeof(dir), state_dir, "exe", err, errlen) == -1 ||
	    store_mkdir(dir, err, errlen) == -1 ||
	    store_path(tmp, sizeof(tmp), dir, ".tmp.XXXXXX", err, errlen) == -1)
		return -1;
	if ((out = mkostemp(tmp, O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "cannot create a file in %s: %s", dir,
			 strerror(errno));
		return -1;
	}
	if (store_copy(exe_fd, out, tmp, sha256, err, errlen) == -1 ||
	    store_path(final, sizeof(final), dir, sha256, err, errlen) == -1) {
		e = errno;
		close(out);
		unlink(tmp);
		errno = e;
		return -1;
	}
	if (store_publish(out, tmp, dir, final, err, errlen) == -1)
		return -1;
	if ((*path = strdup(final)) == NULL) {
		snprintf(err, errlen, "%s: %s", final, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- deployments.json ---- */

static int valid_sha(const char *s);

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
	if (registry_kv_get(label, v->number, &nkv) != NULL &&
	    json_add(o, "kv", kv_json(w, v)) == -1) {
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

static char *store_serialize(void)
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

static int store_write(const char *tmp, const char *text, char *err,
		       size_t errlen)
{
	int fd;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd == -1) {
		snprintf(err, errlen, "cannot create %s: %s", tmp,
			 strerror(errno));
		return -1;
	}
	/* a stale temp file may have other permissions */
	if (fchmod(fd, 0600) == -1 || write_all(fd, text, strlen(text)) == -1 ||
	    write_all(fd, "\n", 1) == -1 || fsync(fd) == -1) {
		snprintf(err, errlen, "cannot write %s: %s", tmp,
			 strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) == -1) {
		snprintf(err, errlen, "cannot write %s: %s", tmp,
			 strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int store_write_file(const char *state_dir, const char *leaf,
		     const char *text, char *err, size_t errlen)
{
	char path[PATH_MAX], tmp[PATH_MAX], tleaf[NAME_MAX];

	snprintf(tleaf, sizeof(tleaf), "%s.tmp", leaf);
	if (store_mkdir(state_dir, err, errlen) == -1 ||
	    store_path(path, sizeof(path), state_dir, leaf, err, errlen) ==
		-1 ||
	    store_path(tmp, sizeof(tmp), state_dir, tleaf, err, errlen) == -1)
		return -1;
	if (store_write(tmp, text, err, errlen) == -1)
		return -1;
	if (rename(tmp, path) == -1) {
		snprintf(err, errlen, "cannot replace %s: %s", path,
			 strerror(errno));
		unlink(tmp);
		return -1;
	}
	return store_sync_dir(state_dir, err, errlen);
}

static int save_deferred, save_pending;

int store_defer(int on, const char *state_dir, char *err, size_t errlen)
{
	save_deferred = on;
	if (on || !save_pending)
		return 0;
	save_pending = 0;
	return store_save(state_dir, err, errlen);
}

int store_save(const char *state_dir, char *err, size_t errlen)
{
	char *text;
	int rc;

	if (save_deferred) {
		save_pending = 1;
		return 0;
	}
	if ((text = store_serialize()) == NULL) {
		snprintf(err, errlen, "cannot encode %s/%s: out of memory",
			 state_dir, STORE_FILE);
		errno = ENOMEM;
		return -1;
	}
	rc = store_write_file(state_dir, STORE_FILE, text, err, errlen);
	explicit_bzero(text, strlen(text));
	free(text);
	return rc;
}

static int exe_used(const char *sha)
{
	struct worker *w;
	size_t i;

	for (w = registry_first(); w != NULL; w = registry_next(w)) {
		for (i = 0; i < w->nversions; i++) {
			if (strcmp(w->versions[i].sha256, sha) == 0)
				return 1;
		}
	}
	return 0;
}

void store_gc_exes(const char *state_dir)
{
	char dir[PATH_MAX], path[PATH_MAX], err[2 * PATH_MAX + 32];
	struct dirent *de;
	DIR *d;

	if (store_path(dir, sizeof(dir), state_dir, "exe", err,
		       sizeof(err)) == -1 || (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!valid_sha(de->d_name) || exe_used(de->d_name))
			continue;
		if (store_path(path, sizeof(path), dir, de->d_name, err,
			       sizeof(err)) == 0 &&
		    unlink(path) == -1 && errno != ENOENT)
			log_warn("cannot remove unused executable %s", path);
	}
	closedir(d);
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

static int valid_sha(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return s[64] == '\0';
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

/* "tags" or "tail_consumers": absent in files from before them. */
static int load_strv(struct load_ctx *lc, const struct worker *w,
		     const struct version *v, const char *key, json_t *a,
		     size_t max, char ***out, size_t *nout)
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
		why = s == NULL ? "not a string"
		      : strcmp(key, "tags") == 0 ? deploy_tag_problem(s)
						 : deploy_tail_problem(s, self);
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

static int load_version(struct load_ctx *lc, struct worker *w, json_t *vj,
			uint32_t prev)
{
	struct version *v = &w->versions[w->nversions];
	const char *sha, *plan;
	json_int_t num, at;
	json_error_t je;
	json_t *env, *kv = NULL, *tags = NULL, *tails = NULL;

	if (json_unpack_ex(vj, &je, JSON_STRICT,
			   "{s:I, s:s, s:s, s:I, s:o, s?o, s?o, s?o}",
			   "version", &num, "sha256", &sha, "plan", &plan,
			   "deployed_at", &at, "env", &env, "kv", &kv, "tags",
			   &tags, "tail_consumers", &tails) == -1)
		return load_fail(lc, "%s/%s version %zu: %s", w->ns, w->name,
				 w->nversions + 1, je.text);
	if (num <= (json_int_t)prev || num > INT_MAX)
		return load_fail(lc,
				 "%s/%s: version %lld out of order (after %u)",
				 w->ns, w->name, (long long)num, prev);
	memset(v, 0, sizeof(*v));
	v->number = (uint32_t)num;
	w->nversions++;
	if (!valid_sha(sha) || !valid_plan(plan) || at < 0)
		return load_fail(lc, "%s/%s version %u: invalid %s", w->ns,
				 w->name, v->number,
				 !valid_sha(sha) ? "sha256"
				 : at < 0	 ? "deployed_at"
						 : "plan name");
	memcpy(v->sha256, sha, sizeof(v->sha256));
	snprintf(v->plan, sizeof(v->plan), "%s", plan);
	v->deployed_at = (int64_t)at;
	if (load_env(lc, w, v, env) == -1 || load_kv(lc, w, v, kv) == -1 ||
	    load_strv(lc, w, v, "tags", tags, SY_MAX_TAGS, &v->tags,
		      &v->ntags) == -1 ||
	    load_strv(lc, w, v, "tail_consumers", tails, REG_MAX_TAIL,
		      &v->tail_consumers, &v->ntail_consumers) == -1)
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

	if (store_path(path, sizeof(path), state_dir, STORE_FILE, err,
		       errlen) == -1)
		return -1;
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
