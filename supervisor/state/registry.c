/*
 * The dispatch namespaces: every deployed worker and its versions, in
 * memory. Workers are kept in an array sorted by (ns, name), which gives
 * binary-search lookup and the stable iteration order status listings need;
 * deploys are rare, so inserting in the middle is cheap enough.
 *
 * Every change is recorded durably (store.c) before the request path hears
 * of it (registry_hooks); a change that cannot be recorded is rolled back.
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

#include "log.h"
#include "state/deploy_spec.h"
#include "state/registry.h"
#include "state/secrets.h"
#include "state/store.h"
#include "util.h"

static struct sup_config *reg_conf;
static struct registry_hooks reg_hooks;

/* KV bindings per version (store.h): a list, as few versions have any. */
struct reg_kv {
	char worker[2 * SY_NAME_MAX];
	uint32_t version;
	struct kv_binding *b;
	size_t n;
	struct reg_kv *next;
};
static struct reg_kv *reg_kvs;
static struct worker **reg_sorted;
static size_t reg_n, reg_cap;
/* uids of deleted workers: never given again, so that nothing a deleted
 * worker left (files in a shared tmp, cgroup state) reaches another. */
static uid_t *reg_retired;
static size_t reg_nretired;

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
	sy_strv_free(v->tags, v->ntags);
	v->tags = NULL;
	v->ntags = 0;
	sy_strv_free(v->tail_consumers, v->ntail_consumers);
	v->tail_consumers = NULL;
	v->ntail_consumers = 0;
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
		if (reg_sorted[i]->pool != NULL && reg_hooks.removing != NULL)
			reg_hooks.removing(reg_sorted[i]);
		worker_free(reg_sorted[i]);
	}
	free(reg_sorted);
	reg_sorted = NULL;
	reg_n = reg_cap = 0;
	free(reg_retired);
	reg_retired = NULL;
	reg_nretired = 0;
	secrets_free();
	reg_conf = NULL;
	memset(&reg_hooks, 0, sizeof(reg_hooks));
	while (reg_kvs != NULL) {
		struct reg_kv *k = reg_kvs;

		reg_kvs = k->next;
		free(k->b);
		free(k);
	}
}

const char *registry_kv_parse(const char *spec, struct kv_binding *b)
{
	const char *eq = strchr(spec, '='), *ns;
	size_t nslen;

	memset(b, 0, sizeof(*b));
	if (eq == NULL || !sy_kv_binding_valid(spec, (size_t)(eq - spec)))
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

	if ((used = calloc(reg_n + reg_nretired + 1, sizeof(*used))) == NULL)
		return -1;
	for (i = 0; i < reg_nretired; i++) {
		if (reg_retired[i] >= reg_conf->uid_min &&
		    reg_retired[i] <= reg_conf->uid_max)
			used[n++] = reg_retired[i];
	}
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

int registry_init(struct sup_config *c, const struct registry_hooks *hooks,
                  char *err, size_t errlen)
{
	char serr[512];
	int changed;

	reg_conf = c;
	if (hooks != NULL)
		reg_hooks = *hooks;
	if (store_load(c->state_dir, err, errlen) == -1 ||
	    secrets_load(c->state_dir, err, errlen) == -1 ||
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

/* Recorded: only now may processes of the new version start. */
static void version_changed(struct worker *w)
{
	if (reg_hooks.version_changed != NULL)
		reg_hooks.version_changed(w);
}

/* Checks what a deploy names before anything touches the disk. */
static int deploy_check(const char *ns, const char *name,
			const struct deploy_spec *s, struct kv_binding *kv,
			const struct plan **planp, char *err, size_t errlen)
{
	char label[2 * SY_NAME_MAX];

	if (!sy_valid_name(ns) || !sy_valid_name(name)) {
		snprintf(err, errlen,
			 "deploy %.63s/%.63s: invalid %s name (use 1-63 of a-z "
			 "0-9 - _, starting with a letter or digit)",
			 ns, name, sy_valid_name(ns) ? "worker" : "namespace");
		return -1;
	}
	snprintf(label, sizeof(label), "%s/%s", ns, name);
	*planp = config_plan(reg_conf, s->plan);
	if (*planp == NULL) {
		snprintf(err, errlen,
			 "deploy %s/%s: unknown plan \"%.63s\" (not in %s)", ns,
			 name, s->plan, reg_conf->path);
		return -1;
	}
	return deploy_spec_check(label, s, kv, err, errlen);
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

static int strv_copy(char ***dst, size_t *ndst, char *const *src, size_t n)
{
	if (n == 0)
		return 0;
	if ((*dst = calloc(n, sizeof(**dst))) == NULL)
		return -1;
	for (*ndst = 0; *ndst < n; (*ndst)++) {
		if (((*dst)[*ndst] = strdup(src[*ndst])) == NULL)
			return -1;
	}
	return 0;
}

/* The version's own copies of what the spec says. */
static int version_fill(struct version *v, const struct deploy_spec *s,
			const struct plan *p)
{
	v->deployed_at = (int64_t)time(NULL);
	snprintf(v->plan, sizeof(v->plan), "%s", p->name);
	if (strv_copy(&v->env, &v->nenv, s->env, s->nenv) == -1 ||
	    strv_copy(&v->tags, &v->ntags, s->tags, s->ntags) == -1 ||
	    strv_copy(&v->tail_consumers, &v->ntail_consumers,
		      s->tail_consumers, s->ntail_consumers) == -1)
		return -1;
	return 0;
}

int registry_retire_uid(uid_t uid)
{
	uid_t *grown;

	grown = realloc(reg_retired, (reg_nretired + 1) * sizeof(*grown));
	if (grown == NULL)
		return -1;
	reg_retired = grown;
	reg_retired[reg_nretired++] = uid;
	return 0;
}

const uid_t *registry_retired(size_t *n)
{
	*n = reg_nretired;
	return reg_retired;
}

/* Drops the oldest versions but the current one beyond REG_MAX_VERSIONS,
 * then saves and removes their executables if nothing else uses them. A
 * failure only keeps old versions around: it is logged, not returned. */
static void versions_prune(struct worker *w)
{
	char serr[512];
	size_t i, pruned = 0;

	while (w->nversions > REG_MAX_VERSIONS) {
		i = w->current == 0 ? 1 : 0;
		registry_kv_set(w->ns, w->name, w->versions[i].number, NULL, 0);
		version_clear(&w->versions[i]);
		memmove(&w->versions[i], &w->versions[i + 1],
			(w->nversions - i - 1) * sizeof(*w->versions));
		w->nversions--;
		if (w->current > i)
			w->current--;
		pruned++;
	}
	if (pruned == 0)
		return;
	if (store_save(reg_conf->state_dir, serr, sizeof(serr)) == -1)
		log_warnx("%s/%s: pruned versions not recorded: %s", w->ns,
			  w->name, serr);
	else
		store_gc_exes(reg_conf->state_dir);
}

/* Appends v (taken over) to ns/name as its current version and records it;
 * on failure nothing visible has changed. */
static int deploy_commit(const char *ns, const char *name, struct version *v,
			 const struct plan *p, const struct kv_binding *kv,
			 size_t nkv, char *err, size_t errlen)
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
	if (registry_kv_set(ns, name, v->number, kv, nkv) == 0 &&
	    store_save(reg_conf->state_dir, serr, sizeof(serr)) == 0) {
		versions_prune(w);
		return (int)v->number;
	}
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
		    const struct deploy_spec *spec, char *err, size_t errlen)
{
	struct kv_binding kv[REG_MAX_KV];
	const struct plan *p;
	struct version v;
	struct worker *w;
	char serr[512];
	int e, n;

	if (deploy_check(ns, name, spec, kv, &p, err, errlen) == -1 ||
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
	if (version_fill(&v, spec, p) == -1) {
		snprintf(err, errlen, "deploy %s/%s: %s", ns, name,
			 strerror(ENOMEM));
		version_clear(&v);
		errno = ENOMEM;
		return -1;
	}
	n = deploy_commit(ns, name, &v, p, kv, spec->nkv, err, errlen);
	if (n == -1) {
		e = errno;
		version_clear(&v);
		errno = e;
		return -1;
	}
	w = registry_find(ns, name);
	version_changed(w);
	return n;
}

static int kv_equal(const struct worker *w, const struct version *v,
		    const struct deploy_spec *s)
{
	char label[2 * SY_NAME_MAX];
	const struct kv_binding *have;
	struct kv_binding b;
	size_t i, n;

	snprintf(label, sizeof(label), "%s/%s", w->ns, w->name);
	have = registry_kv_get(label, v->number, &n);
	if (n != s->nkv)
		return 0;
	for (i = 0; i < n; i++) {
		if (registry_kv_parse(s->kv[i], &b) != NULL ||
		    strcmp(b.name, have[i].name) != 0 ||
		    strcmp(b.ns, have[i].ns) != 0 || b.ro != have[i].ro)
			return 0;
	}
	return 1;
}

/* Is the file open at fd, under spec, what ns/name already runs? */
static int deploy_unchanged(const char *ns, const char *name, int fd,
			    const struct deploy_spec *s)
{
	const struct worker *w = registry_find(ns, name);
	const struct plan *p = config_plan(reg_conf, s->plan);
	const struct version *v;
	char sha[65], herr[256];

	if (w == NULL || p == NULL)
		return 0;
	v = worker_version(w);
	if (strcmp(v->plan, p->name) != 0 ||
	    !sy_strv_equal(v->env, v->nenv, s->env, s->nenv) ||
	    !sy_strv_equal(v->tags, v->ntags, s->tags, s->ntags) ||
	    !sy_strv_equal(v->tail_consumers, v->ntail_consumers,
			s->tail_consumers, s->ntail_consumers) ||
	    !kv_equal(w, v, s))
		return 0;
	/* a file we cannot hash is left for registry_deploy to report */
	if (store_hash_fd(fd, sha, herr, sizeof(herr)) == -1)
		return 0;
	return strcmp(sha, v->sha256) == 0;
}

int registry_deploy_path(const char *ns, const char *name, const char *path,
			 const struct deploy_spec *spec, char *err,
			 size_t errlen)
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
	if (deploy_unchanged(ns, name, fd, spec))
		n = (int)worker_version(registry_find(ns, name))->number;
	else
		n = registry_deploy(ns, name, fd, spec, err, errlen);
	e = errno;
	close(fd);
	errno = e;
	return n;
}

int registry_rollback(struct worker *w, uint32_t number, char *err,
		      size_t errlen)
{
	const struct plan *p, *old_plan = w->plan;
	size_t i, old = w->current;
	char serr[512];

	for (i = 0; i < w->nversions && w->versions[i].number != number; i++)
		;
	if (i == w->nversions) {
		snprintf(err, errlen, "rollback %s/%s: no version %u (see "
			 "yardctl versions)", w->ns, w->name, number);
		errno = ENOENT;
		return -1;
	}
	if ((p = config_plan(reg_conf, w->versions[i].plan)) == NULL) {
		snprintf(err, errlen, "rollback %s/%s: version %u uses plan "
			 "\"%s\", which %s does not define", w->ns, w->name,
			 number, w->versions[i].plan, reg_conf->path);
		errno = EINVAL;
		return -1;
	}
	w->current = i;
	w->plan = p;
	if (store_save(reg_conf->state_dir, serr, sizeof(serr)) == -1) {
		snprintf(err, errlen, "rollback %s/%s: not recorded: %s",
			 w->ns, w->name, serr);
		w->current = old;
		w->plan = old_plan;
		errno = EIO;
		return -1;
	}
	version_changed(w);
	return 0;
}

int registry_redeploy(struct worker *w, char *err, size_t errlen)
{
	const struct version *cur = worker_version(w);
	struct deploy_spec spec;
	char label[2 * SY_NAME_MAX], kvs[REG_MAX_KV][2 * SY_NAME_MAX + 8];
	char *kvp[REG_MAX_KV];
	const struct kv_binding *b;
	size_t i, n;
	int fd, rc;

	memset(&spec, 0, sizeof(spec));
	snprintf(spec.plan, sizeof(spec.plan), "%s", cur->plan);
	spec.env = cur->env;
	spec.nenv = cur->nenv;
	spec.tags = cur->tags;
	spec.ntags = cur->ntags;
	spec.tail_consumers = cur->tail_consumers;
	spec.ntail_consumers = cur->ntail_consumers;
	snprintf(label, sizeof(label), "%s/%s", w->ns, w->name);
	b = registry_kv_get(label, cur->number, &n);
	for (i = 0; i < n; i++) {
		snprintf(kvs[i], sizeof(kvs[i]), "%s=%s%s", b[i].name, b[i].ns,
			 b[i].ro ? ":ro" : "");
		kvp[i] = kvs[i];
	}
	spec.kv = kvp;
	spec.nkv = n;
	if ((fd = open(cur->exe_path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: cannot open %s: %s", label,
			 cur->exe_path, strerror(errno));
		return -1;
	}
	/* cur's strings stay valid: deploying only appends a version */
	rc = registry_deploy(w->ns, w->name, fd, &spec, err, errlen);
	close(fd);
	return rc;
}

/* Removes state_dir's executables no version names any more. */
int registry_delete(struct worker *w, char *err, size_t errlen)
{
	char label[2 * SY_NAME_MAX];
	size_t i;

	snprintf(label, sizeof(label), "%s/%s", w->ns, w->name);
	if (registry_retire_uid(w->uid) == -1) {
		snprintf(err, errlen, "delete %s: %s", label, strerror(errno));
		return -1;
	}
	for (i = 0; i < w->nversions; i++)
		registry_kv_set(w->ns, w->name, w->versions[i].number, NULL, 0);
	secrets_forget(label);
	if (reg_hooks.removing != NULL)
		reg_hooks.removing(w);
	registry_remove(w);
	if (store_save(reg_conf->state_dir, err, errlen) == -1 ||
	    secrets_save(reg_conf->state_dir, err, errlen) == -1)
		return -1;
	store_gc_exes(reg_conf->state_dir);
	return 0;
}
