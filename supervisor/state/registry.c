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
#include "state/registry_state.h"
#include "state/secrets.h"
#include "state/store.h"
#include "util.h"

static struct sup_config *reg_conf;
static struct registry_hooks reg_hooks;

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

const struct version *registry_version(const struct worker *w,
                                       uint32_t number)
{
	size_t i;

	for (i = 0; i < w->nversions; i++)
		if (w->versions[i].number == number)
			return &w->versions[i];
	return NULL;
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
	free(v->services);
	v->services = NULL;
	v->nservices = 0;
	sy_strv_free(v->dispatch_ns, v->ndispatch_ns);
	v->dispatch_ns = NULL;
	v->ndispatch_ns = 0;
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
	registry_kv_free();
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

const struct sup_config *registry_conf(void)
{
	return reg_conf;
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
void registry_changed(struct worker *w)
{
	if (reg_hooks.version_changed != NULL)
		reg_hooks.version_changed(w);
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

int registry_commit(const char *ns, const char *name, struct version *v,
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

int registry_rollback(struct worker *w, uint32_t number, char *err,
		      size_t errlen)
{
	const struct plan *p, *old_plan = w->plan;
	char serr[512], label[2 * SY_NAME_MAX];
	const struct kv_binding *kv;
	size_t i, nkv, old = w->current;

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
	snprintf(label, sizeof(label), "%s/%s", w->ns, w->name);
	kv = registry_kv_get(label, number, &nkv);
	if (registry_kv_room_check("rollback", w->ns, w->name, kv, nkv, err,
			  errlen) == -1) {
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
	registry_changed(w);
	return 0;
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
