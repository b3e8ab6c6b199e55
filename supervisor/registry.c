/*
 * The dispatch namespaces: every deployed worker and its versions, in
 * memory. Workers are kept in an array sorted by (ns, name), which gives
 * binary-search lookup and the stable iteration order status listings need;
 * deploys are rare, so inserting in the middle is cheap enough.
 *
 * Every change is recorded durably (store.c) before it is made visible to
 * the pools; a change that cannot be recorded is rolled back.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "supervisor.h"
#include "util.h"

static struct sup_config *reg_conf;

/* KV bindings per version (store.h): a list, as few versions have any. */
struct reg_kv {
	char worker[2 * SY_NAME_MAX];
	uint32_t version;
	struct kv_binding *b;
	size_t n;
	struct reg_kv *next;
};
static struct reg_kv *reg_kvs;
/* The bindings registry_deploy_kv hands to deploy_commit. */
static const struct kv_binding *pend_kv;
static size_t pend_nkv;
static struct worker **reg_sorted;
static size_t reg_n, reg_cap;

static int worker_cmp(const char *ns, const char *name, const struct worker *w)
{
	int c = strcmp(ns, w->ns);

	return c != 0 ? c : strcmp(name, w->name);
}

/* Index of ns/name if present (*found = 1), else where it would go. */
static size_t reg_search(const char *ns, const char *name, int *found)
{
	size_t lo = 0, hi = reg_n, mid;
	int c;

	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = worker_cmp(ns, name, reg_sorted[mid]);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Keeps each worker's next pointer equal to its successor in the array. */
static void reg_relink(size_t i)
{
	if (i > 0)
		reg_sorted[i - 1]->next = i < reg_n ? reg_sorted[i] : NULL;
	if (i < reg_n)
		reg_sorted[i]->next = i + 1 < reg_n ? reg_sorted[i + 1] : NULL;
}

struct worker *registry_find(const char *ns, const char *name)
{
	int found;
	size_t i;

	if (ns == NULL || name == NULL)
		return NULL;
	i = reg_search(ns, name, &found);
	return found ? reg_sorted[i] : NULL;
}

struct worker *registry_first(void)
{
	return reg_n > 0 ? reg_sorted[0] : NULL;
}

struct worker *registry_next(struct worker *w)
{
	return w != NULL ? w->next : NULL;
}

struct worker *registry_insert(const char *ns, const char *name)
{
	struct worker *w, **grown;
	size_t i, cap;
	int found;

	i = reg_search(ns, name, &found);
	if (found) {
		errno = EEXIST;
		return NULL;
	}
	if (reg_n >= REG_MAX_WORKERS) {
		errno = ENOSPC;
		return NULL;
	}
	if (reg_n == reg_cap) {
		cap = reg_cap ? reg_cap * 2 : 16;
		grown = realloc(reg_sorted, cap * sizeof(*grown));
		if (grown == NULL)
			return NULL;
		reg_sorted = grown;
		reg_cap = cap;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	snprintf(w->ns, sizeof(w->ns), "%s", ns);
	snprintf(w->name, sizeof(w->name), "%s", name);
	memmove(&reg_sorted[i + 1], &reg_sorted[i],
		(reg_n - i) * sizeof(*reg_sorted));
	reg_sorted[i] = w;
	reg_n++;
	reg_relink(i);
	return w;
}

void version_clear(struct version *v)
{
	size_t i;

	free(v->exe_path);
	v->exe_path = NULL;
	for (i = 0; i < v->nenv; i++) {
		/* env values may be secrets: do not leave them in freed memory
		 */
		explicit_bzero(v->env[i], strlen(v->env[i]));
		free(v->env[i]);
	}
	free(v->env);
	v->env = NULL;
	v->nenv = 0;
}

static void worker_free(struct worker *w)
{
	size_t i;

	for (i = 0; i < w->nversions; i++)
		version_clear(&w->versions[i]);
	free(w->versions);
	free(w);
}

void registry_remove(struct worker *w)
{
	int found;
	size_t i;

	i = reg_search(w->ns, w->name, &found);
	if (!found || reg_sorted[i] != w)
		return;
	memmove(&reg_sorted[i], &reg_sorted[i + 1],
		(reg_n - i - 1) * sizeof(*reg_sorted));
	reg_n--;
	if (i > 0)
		reg_relink(i - 1);
	worker_free(w);
}

void registry_free(void)
{
	size_t i;

	for (i = 0; i < reg_n; i++) {
		if (reg_sorted[i]->pool != NULL)
			pool_destroy(reg_sorted[i]);
		worker_free(reg_sorted[i]);
	}
	free(reg_sorted);
	reg_sorted = NULL;
	reg_n = reg_cap = 0;
	reg_conf = NULL;
	while (reg_kvs != NULL) {
		struct reg_kv *k = reg_kvs;

		reg_kvs = k->next;
		free(k->b);
		free(k);
	}
}

static int kv_name_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len >= SY_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

const char *registry_kv_parse(const char *spec, struct kv_binding *b)
{
	const char *eq = strchr(spec, '='), *ns;
	size_t nslen;

	memset(b, 0, sizeof(*b));
	if (eq == NULL || !kv_name_valid(spec, (size_t)(eq - spec)))
		return "binding name must be 1-63 of [A-Za-z0-9_] before '='";
	ns = eq + 1;
	nslen = strlen(ns);
	if (nslen > 3 && strcmp(ns + nslen - 3, ":ro") == 0) {
		b->ro = 1;
		nslen -= 3;
	}
	if (nslen == 0 || nslen >= SY_NAME_MAX)
		return "invalid KV namespace name";
	memcpy(b->name, spec, (size_t)(eq - spec));
	memcpy(b->ns, ns, nslen);
	if (!sy_valid_name(b->ns))
		return "invalid KV namespace name (1-63 of [a-z0-9_-])";
	return NULL;
}

static struct reg_kv **kv_slot(const char *worker, uint32_t version)
{
	struct reg_kv **pp;

	for (pp = &reg_kvs; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->version == version &&
		    strcmp((*pp)->worker, worker) == 0)
			break;
	return pp;
}

int registry_kv_set(const char *ns, const char *name, uint32_t version,
		    const struct kv_binding *b, size_t n)
{
	char worker[2 * SY_NAME_MAX];
	struct reg_kv **pp, *k;

	snprintf(worker, sizeof(worker), "%s/%s", ns, name);
	pp = kv_slot(worker, version);
	if ((k = *pp) != NULL) {
		*pp = k->next;
		free(k->b);
		free(k);
	}
	if (n == 0)
		return 0;
	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    (k->b = calloc(n, sizeof(*b))) == NULL) {
		free(k);
		errno = ENOMEM;
		return -1;
	}
	memcpy(k->worker, worker, sizeof(worker));
	k->version = version;
	memcpy(k->b, b, n * sizeof(*b));
	k->n = n;
	k->next = reg_kvs;
	reg_kvs = k;
	return 0;
}

const struct kv_binding *registry_kv_get(const char *worker, uint32_t version,
					 size_t *n)
{
	struct reg_kv *k = *kv_slot(worker, version);

	*n = k != NULL ? k->n : 0;
	return k != NULL ? k->b : NULL;
}

static int uid_cmp(const void *a, const void *b)
{
	uid_t x = *(const uid_t *)a, y = *(const uid_t *)b;

	return x < y ? -1 : x > y;
}

/* The lowest uid of the configured range no worker has: each worker's
 * files and processes are its own only if no other worker shares its
 * uid. 0, or -1 with errno (ENOSPC: range exhausted, ENOMEM). */
static int uid_alloc(uid_t *out)
{
	uid_t *used, next = reg_conf->uid_min;
	size_t i, n = 0;

	if ((used = calloc(reg_n + 1, sizeof(*used))) == NULL)
		return -1;
	for (i = 0; i < reg_n; i++) {
		if (reg_sorted[i]->uid >= reg_conf->uid_min &&
		    reg_sorted[i]->uid <= reg_conf->uid_max)
			used[n++] = reg_sorted[i]->uid;
	}
	qsort(used, n, sizeof(*used), uid_cmp);
	for (i = 0; i < n && used[i] <= next; i++) {
		if (used[i] == next)
			next++;
	}
	free(used);
	if (next < reg_conf->uid_min || next > reg_conf->uid_max) {
		errno = ENOSPC;
		return -1;
	}
	*out = next;
	return 0;
}

/* Recorded uids must be unique; a worker recorded before uids existed
 * (uid 0) gets one now. *changed says whether any was given. */
static int registry_check_uids(int *changed, char *err, size_t errlen)
{
	struct worker *w, *o;
	uid_t uid;

	*changed = 0;
	for (w = registry_first(); w != NULL; w = registry_next(w)) {
		for (o = registry_next(w); w->uid != 0 && o != NULL;
		     o = registry_next(o)) {
			if (o->uid != w->uid)
				continue;
			snprintf(err, errlen, "state %s/deployments.json: uid "
			         "%u is recorded for both %s/%s and %s/%s",
			         reg_conf->state_dir, (unsigned)w->uid, w->ns,
			         w->name, o->ns, o->name);
			return -1;
		}
	}
	for (w = registry_first(); w != NULL; w = registry_next(w)) {
		if (w->uid != 0)
			continue;
		if (uid_alloc(&uid) == -1) {
			snprintf(err, errlen, "%s/%s: no uid left in uid_range "
			         "%u-%u", w->ns, w->name,
			         (unsigned)reg_conf->uid_min,
			         (unsigned)reg_conf->uid_max);
			return -1;
		}
		w->uid = uid;
		*changed = 1;
	}
	return 0;
}

/* The plan each worker's current version names must still be configured:
 * silently serving a worker under another plan would alter a deployment. */
static int registry_bind_plans(char *err, size_t errlen)
{
	const struct version *v;
	struct worker *w;

	for (w = registry_first(); w != NULL; w = registry_next(w)) {
		v = worker_version(w);
		w->plan = config_plan(reg_conf, v->plan);
		if (w->plan == NULL) {
			snprintf(err, errlen,
				 "%s/%s version %u uses plan \"%s\", which %s "
				 "does not define (add [plan.%s] back)",
				 w->ns, w->name, v->number, v->plan,
				 reg_conf->path, v->plan);
			return -1;
		}
	}
	return 0;
}

int registry_init(struct sup_config *c, char *err, size_t errlen)
{
	char serr[512];
	int changed;

	reg_conf = c;
	if (store_load(c->state_dir, err, errlen) == -1 ||
	    registry_bind_plans(err, errlen) == -1 ||
	    registry_check_uids(&changed, err, errlen) == -1)
		goto fail;
	if (changed && store_save(c->state_dir, serr, sizeof(serr)) == -1) {
		snprintf(err, errlen, "recording the workers' new uids: %s",
		         serr);
		goto fail;
	}
	return 0;
fail:
	registry_free();
	return -1;
}

/* Strict UTF-8 (no overlongs, surrogates or values past U+10FFFF), since
 * the environment is stored as JSON text. */
static int utf8_valid(const unsigned char *s)
{
	unsigned int cp;
	int n, i;

	while (*s != '\0') {
		if (*s < 0x80) {
			s++;
			continue;
		}
		if (*s >= 0xc2 && *s <= 0xdf) {
			n = 1;
			cp = *s & 0x1f;
		} else if ((*s & 0xf0) == 0xe0) {
			n = 2;
			cp = *s & 0x0f;
		} else if (*s >= 0xf0 && *s <= 0xf4) {
			n = 3;
			cp = *s & 0x07;
		} else
			return 0;
		for (i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if ((n == 2 &&
		     (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		s += n + 1;
	}
	return 1;
}

static int env_key_valid(const char *kv, size_t kl)
{
	size_t i;

	for (i = 0; i < kl; i++) {
		if (!((kv[i] >= 'A' && kv[i] <= 'Z') ||
		      (kv[i] >= 'a' && kv[i] <= 'z') || kv[i] == '_' ||
		      (i > 0 && kv[i] >= '0' && kv[i] <= '9')))
			return 0;
	}
	return kl > 0 && kl <= 128;
}

const char *registry_env_problem(const char *kv)
{
	const char *eq = strchr(kv, '=');
	const char *p;

	if (eq == NULL)
		return "expected KEY=VALUE";
	if (!env_key_valid(kv, (size_t)(eq - kv)))
		return "invalid variable name (use 1-128 of A-Z a-z 0-9 _, not "
		       "starting with a digit)";
	if (strlen(kv) >= REG_MAX_ENV_LEN)
		return "entry too long";
	for (p = eq + 1; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return "value contains a control character";
	}
	if (!utf8_valid((const unsigned char *)eq + 1))
		return "value is not valid UTF-8";
	return NULL;
}

static size_t env_keylen(const char *kv)
{
	const char *eq = strchr(kv, '=');

	return eq != NULL ? (size_t)(eq - kv) : strlen(kv);
}

/* Names only the variable in errors, and only a well-formed one: its value
 * may be a secret. */
static int env_check(const char *ns, const char *name, char *const *env,
		     size_t nenv, char *err, size_t errlen)
{
	const char *why;
	size_t i, j, kl;

	if (nenv > REG_MAX_ENV) {
		snprintf(err, errlen,
			 "deploy %s/%s: too many environment variables (%zu, "
			 "at most %d)",
			 ns, name, nenv, REG_MAX_ENV);
		return -1;
	}
	for (i = 0; i < nenv; i++) {
		kl = env_keylen(env[i]);
		if ((why = registry_env_problem(env[i])) != NULL) {
			if (env_key_valid(env[i], kl))
				snprintf(err, errlen,
					 "deploy %s/%s: env %.*s: %s", ns, name,
					 (int)kl, env[i], why);
			else
				snprintf(err, errlen,
					 "deploy %s/%s: env entry %zu: %s", ns,
					 name, i + 1, why);
			return -1;
		}
		for (j = 0; j < i; j++) {
			if (env_keylen(env[j]) == kl &&
			    strncmp(env[i], env[j], kl) == 0) {
				snprintf(err, errlen,
					 "deploy %s/%s: env %.*s given twice",
					 ns, name, (int)kl, env[i]);
				return -1;
			}
		}
	}
	return 0;
}

/* Checks what a deploy names before anything touches the disk. */
static int deploy_check(const char *ns, const char *name, const char *plan,
			char *const *env, size_t nenv,
			const struct plan **planp, char *err, size_t errlen)
{
	if (!sy_valid_name(ns) || !sy_valid_name(name)) {
		snprintf(err, errlen,
			 "deploy %.63s/%.63s: invalid %s name (use 1-63 of a-z "
			 "0-9 - _, starting with a letter or digit)",
			 ns, name, sy_valid_name(ns) ? "worker" : "namespace");
		return -1;
	}
	*planp = config_plan(reg_conf, plan);
	if (*planp == NULL) {
		snprintf(err, errlen,
			 "deploy %s/%s: unknown plan \"%.63s\" (not in %s)", ns,
			 name, plan, reg_conf->path);
		return -1;
	}
	return env_check(ns, name, env, nenv, err, errlen);
}

/* The executable must look runnable now, not fail later in every spawn. */
static int exe_check(const char *ns, const char *name, int fd, char *err,
		     size_t errlen)
{
	unsigned char magic[4];
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen,
			 "deploy %s/%s: cannot stat the executable: %s", ns,
			 name, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "deploy %s/%s: not a regular file", ns,
			 name);
		return -1;
	}
	if ((st.st_mode & 0111) == 0) {
		snprintf(err, errlen,
			 "deploy %s/%s: not executable (mode %04o)", ns, name,
			 (unsigned)(st.st_mode & 07777));
		return -1;
	}
	if (st.st_size == 0) {
		snprintf(err, errlen, "deploy %s/%s: the executable is empty",
			 ns, name);
		return -1;
	}
	n = pread(fd, magic, sizeof(magic), 0);
	if (n == -1) {
		snprintf(err, errlen,
			 "deploy %s/%s: cannot read the executable: %s", ns,
			 name, strerror(errno));
		return -1;
	}
	if ((n == 4 && memcmp(magic, "\177ELF", 4) == 0) ||
	    (n >= 2 && magic[0] == '#' && magic[1] == '!'))
		return 0;
	snprintf(err, errlen, "deploy %s/%s: not an executable (no ELF header)",
		 ns, name);
	return -1;
}

static int env_copy(struct version *v, char *const *env, size_t nenv)
{
	if (nenv == 0)
		return 0;
	if ((v->env = calloc(nenv, sizeof(*v->env))) == NULL)
		return -1;
	for (v->nenv = 0; v->nenv < nenv; v->nenv++) {
		if ((v->env[v->nenv] = strdup(env[v->nenv])) == NULL)
			return -1;
	}
	return 0;
}

/* Appends v (taken over) to ns/name as its current version and records it;
 * on failure nothing visible has changed. */
static int deploy_commit(const char *ns, const char *name, struct version *v,
			 const struct plan *p, char *err, size_t errlen)
{
	struct worker *w = registry_find(ns, name);
	const struct plan *old_plan = NULL;
	struct version *grown;
	size_t old_current = 0;
	int created = 0, e;
	char serr[512];
	uid_t uid;

	if (w == NULL) {
		if (uid_alloc(&uid) == -1) {
			snprintf(err, errlen, "deploy %s/%s: %s", ns, name,
				 errno == ENOSPC ? "no uid left in uid_range"
						 : strerror(errno));
			return -1;
		}
		if ((w = registry_insert(ns, name)) == NULL) {
			snprintf(err, errlen, "deploy %s/%s: %s", ns, name,
				 errno == ENOSPC ? "too many workers deployed"
						 : strerror(errno));
			return -1;
		}
		w->uid = uid;
		created = 1;
	} else {
		old_current = w->current;
		old_plan = w->plan;
		if (w->versions[w->nversions - 1].number >= INT_MAX) {
			snprintf(err, errlen,
				 "deploy %s/%s: version numbers exhausted", ns,
				 name);
			errno = EOVERFLOW;
			return -1;
		}
	}
	grown = realloc(w->versions, (w->nversions + 1) * sizeof(*grown));
	if (grown == NULL) {
		e = errno;
		snprintf(err, errlen, "deploy %s/%s: %s", ns, name,
			 strerror(e));
		if (created)
			registry_remove(w);
		errno = e;
		return -1;
	}
	w->versions = grown;
	v->number = created ? 1 : w->versions[w->nversions - 1].number + 1;
	w->versions[w->nversions] = *v;
	w->current = w->nversions++;
	w->plan = p;
	if (registry_kv_set(ns, name, v->number, pend_kv, pend_nkv) == 0 &&
	    store_save(reg_conf->state_dir, serr, sizeof(serr)) == 0)
		return (int)v->number;
	if (errno == ENOMEM)
		snprintf(serr, sizeof(serr), "%s", strerror(ENOMEM));
	registry_kv_set(ns, name, v->number, NULL, 0);

	e = errno;
	snprintf(err, errlen, "deploy %s/%s: version not recorded: %s", ns,
		 name, serr);
	w->nversions--;
	w->current = old_current;
	w->plan = old_plan;
	if (created)
		registry_remove(w);
	errno = e == EINVAL ? EIO : e;
	return -1;
}

int registry_deploy(const char *ns, const char *name, int exe_fd,
		    const char *plan, char *const *env, size_t nenv, char *err,
		    size_t errlen)
{
	const struct plan *p;
	struct version v;
	struct worker *w;
	char serr[512];
	int e, n;

	if (deploy_check(ns, name, plan, env, nenv, &p, err, errlen) == -1 ||
	    exe_check(ns, name, exe_fd, err, errlen) == -1) {
		errno = EINVAL;
		return -1;
	}
	memset(&v, 0, sizeof(v));
	if (store_put_exe(reg_conf->state_dir, exe_fd, v.sha256, &v.exe_path,
			  serr, sizeof(serr)) == -1) {
		e = errno;
		snprintf(err, errlen, "deploy %s/%s: %s", ns, name, serr);
		errno = e == EINVAL ? EIO : e;
		return -1;
	}
	v.deployed_at = (int64_t)time(NULL);
	snprintf(v.plan, sizeof(v.plan), "%s", p->name);
	if (env_copy(&v, env, nenv) == -1) {
		snprintf(err, errlen, "deploy %s/%s: %s", ns, name,
			 strerror(ENOMEM));
		version_clear(&v);
		errno = ENOMEM;
		return -1;
	}
	if ((n = deploy_commit(ns, name, &v, p, err, errlen)) == -1) {
		e = errno;
		version_clear(&v);
		errno = e;
		return -1;
	}
	/* recorded: only now may processes of the new version start */
	w = registry_find(ns, name);
	if (w->pool != NULL)
		pool_version_changed(w);
	return n;
}

int registry_deploy_kv(const char *ns, const char *name, int exe_fd,
		       const char *plan, char *const *env, size_t nenv,
		       const struct kv_binding *kv, size_t nkv, char *err,
		       size_t errlen)
{
	int n;

	if (nkv > REG_MAX_KV) {
		snprintf(err, errlen, "deploy %s/%s: more than %d KV bindings",
			 ns, name, REG_MAX_KV);
		errno = EINVAL;
		return -1;
	}
	pend_kv = kv;
	pend_nkv = nkv;
	n = registry_deploy(ns, name, exe_fd, plan, env, nenv, err, errlen);
	pend_kv = NULL;
	pend_nkv = 0;
	return n;
}

static int env_equal(const struct version *v, char *const *env, size_t nenv)
{
	size_t i;

	if (v->nenv != nenv)
		return 0;
	for (i = 0; i < nenv; i++) {
		if (strcmp(v->env[i], env[i]) != 0)
			return 0;
	}
	return 1;
}

/* Is the file open at fd, under plan and env, what ns/name already runs? */
static int deploy_unchanged(const char *ns, const char *name, int fd,
			    const char *plan, char *const *env, size_t nenv)
{
	const struct worker *w = registry_find(ns, name);
	const struct plan *p = config_plan(reg_conf, plan);
	const struct version *v;
	char sha[65], herr[256];

	if (w == NULL || p == NULL)
		return 0;
	v = worker_version(w);
	if (strcmp(v->plan, p->name) != 0 || !env_equal(v, env, nenv))
		return 0;
	/* a file we cannot hash is left for registry_deploy to report */
	if (store_hash_fd(fd, sha, herr, sizeof(herr)) == -1)
		return 0;
	return strcmp(sha, v->sha256) == 0;
}

int registry_deploy_path(const char *ns, const char *name, const char *path,
			 const char *plan, char *const *env, size_t nenv,
			 char *err, size_t errlen)
{
	int fd, n, e;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		e = errno;
		if (e == ENOENT)
			snprintf(err, errlen,
				 "deploy %s/%s: executable not found: %s", ns,
				 name, path);
		else
			snprintf(err, errlen,
				 "deploy %s/%s: cannot open %s: %s", ns, name,
				 path, strerror(e));
		errno = (e == ENOENT || e == EACCES || e == ENOTDIR ||
			 e == ELOOP || e == EISDIR)
			    ? EINVAL
			    : e;
		return -1;
	}
	if (deploy_unchanged(ns, name, fd, plan, env, nenv))
		n = (int)worker_version(registry_find(ns, name))->number;
	else
		n = registry_deploy(ns, name, fd, plan, env, nenv, err, errlen);
	e = errno;
	close(fd);
	errno = e;
	return n;
}
