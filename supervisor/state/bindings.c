/*
 * A version's bindings (bindings.h): its KV bindings, kept in a list beside
 * the versions; its service bindings and dispatch namespaces, kept in the
 * version itself; the rule that decides whom a version may call; and
 * whether the KV store has room for the namespaces a deploy binds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "state/bindings.h"
#include "state/kvstore.h"
#include "state/registry.h"
#include "util.h"

/* KV bindings per version: a list, as few versions have any. */
struct reg_kv {
	char worker[2 * SY_NAME_MAX];
	uint32_t version;
	struct kv_binding *b;
	size_t n;
	struct reg_kv *next;
};
static struct reg_kv *reg_kvs;

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

int registry_kv_same(const char *worker, uint32_t version, char *const *specs,
                     size_t n)
{
	const struct kv_binding *have;
	struct kv_binding b;
	size_t i, nhave;

	have = registry_kv_get(worker, version, &nhave);
	if (nhave != n)
		return 0;
	for (i = 0; i < n; i++) {
		if (registry_kv_parse(specs[i], &b) != NULL ||
		    strcmp(b.name, have[i].name) != 0 ||
		    strcmp(b.ns, have[i].ns) != 0 || b.ro != have[i].ro)
			return 0;
	}
	return 1;
}

void registry_kv_free(void)
{
	struct reg_kv *k;

	while ((k = reg_kvs) != NULL) {
		reg_kvs = k->next;
		free(k->b);
		free(k);
	}
}

/* The KV bindings of w's current version. */
static const struct kv_binding *current_kv(const struct worker *w, size_t *n)
{
	char label[2 * SY_NAME_MAX];

	snprintf(label, sizeof(label), "%s/%s", w->ns, w->name);
	return registry_kv_get(label, worker_version(w)->number, n);
}

size_t registry_kv_users(const char *ns, char *buf, size_t size)
{
	const struct kv_binding *b;
	struct worker *w;
	size_t i, n, users = 0, len = 0;

	buf[0] = '\0';
	for (w = registry_first(); w != NULL; w = registry_next(w)) {
		b = current_kv(w, &n);
		for (i = 0; i < n && strcmp(b[i].ns, ns) != 0; i++)
			;
		if (i == n)
			continue;
		if (len < size)
			len += (size_t)snprintf(buf + len, size - len, "%s%s/%s",
			                        users ? ", " : "", w->ns, w->name);
		users++;
	}
	return users;
}

/* A set of namespace names (borrowed strings), small enough to scan. */
struct ns_set {
	const char **v;
	size_t n, cap;
};

static int set_has(const struct ns_set *s, const char *ns)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i], ns) == 0)
			return 1;
	return 0;
}

/* Adds ns unless it is there. 0, or -1 (ENOMEM). */
static int set_add(struct ns_set *s, const char *ns)
{
	const char **grown;

	if (set_has(s, ns))
		return 0;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		if ((grown = realloc(s->v, s->cap * sizeof(*grown))) == NULL)
			return -1;
		s->v = grown;
	}
	s->v[s->n++] = ns;
	return 0;
}

/* Every namespace a current version binds. */
static int set_bound(struct ns_set *s)
{
	const struct kv_binding *b;
	struct worker *w;
	size_t i, n;

	for (w = registry_first(); w != NULL; w = registry_next(w)) {
		b = current_kv(w, &n);
		for (i = 0; i < n; i++)
			if (set_add(s, b[i].ns) == -1)
				return -1;
	}
	return 0;
}

/* Adds the store's namespaces (their names kept in have). A store that
 * cannot be opened (not created yet) holds none: its failure, if it is
 * one, shows at its first use. */
static int set_stored(struct ns_set *s, struct kv_keys *have, char *why,
                      size_t whylen)
{
	struct kv *kv;
	size_t i;
	int rc;

	if ((kv = kvstore_open(why, whylen)) == NULL)
		return 0;
	if ((rc = kv_namespaces(kv, have)) != 0) {
		snprintf(why, whylen, "cannot list the KV store's namespaces: "
		         "%s", strerror(-rc));
		return -1;
	}
	for (i = 0; i < have->n; i++)
		if (set_add(s, have->keys[i]) == -1)
			return -1;
	return 0;
}

int registry_kv_room(const char *const *ns, size_t n, size_t *bad, char *why,
                     size_t whylen)
{
	struct kv_keys have = { 0 };
	struct ns_set s = { 0 };
	size_t i, before;
	int rc = -1;

	*bad = 0;
	snprintf(why, whylen, "%s", strerror(ENOMEM));
	if (set_bound(&s) == -1)
		goto out;
	for (i = 0; i < n && set_has(&s, ns[i]); i++)
		;
	if (i == n) {
		rc = 0; /* each is counted already */
		goto out;
	}
	if (set_stored(&s, &have, why, whylen) == -1)
		goto out;
	before = s.n;
	for (i = 0; i < n; i++) {
		if (set_add(&s, ns[i]) == -1)
			goto out;
		if (s.n > KV_MAX_NS) {
			*bad = i;
			snprintf(why, whylen, "KV namespace %s cannot be created: "
			         "the store has %zu namespaces, written or bound "
			         "by a worker (at most %d; yardctl kv drop one)",
			         ns[i], before, KV_MAX_NS);
			goto out;
		}
	}
	rc = 0;
out:
	free(s.v);
	kv_keys_free(&have);
	return rc;
}

/* ---- service bindings and dispatch namespaces ---- */

const char *registry_service_parse(const char *spec, struct service_binding *b)
{
	const char *eq = strchr(spec, '=');
	char e[256];

	memset(b, 0, sizeof(*b));
	if (eq == NULL || !sy_service_name_valid(spec, (size_t)(eq - spec)))
		return "binding name must be 1-63 of [A-Za-z0-9_-], starting "
		       "with a letter or digit, before '='";
	if (sy_split_worker(eq + 1, b->ns, b->worker, e, sizeof(e)) == -1)
		return "expected NAME=NS/WORKER of valid names";
	memcpy(b->name, spec, (size_t)(eq - spec));
	return NULL;
}

void registry_service_text(const struct service_binding *b, char *buf,
                           size_t size)
{
	snprintf(buf, size, "%s=%s/%s", b->name, b->ns, b->worker);
}

const struct service_binding *registry_service_find(const struct version *v,
                                                    const char *name)
{
	size_t i;

	/* host names have no case; the supervisor runs in the C locale */
	for (i = 0; v != NULL && i < v->nservices; i++)
		if (strcasecmp(v->services[i].name, name) == 0)
			return &v->services[i];
	return NULL;
}

enum bind_via registry_call_bound(const struct version *v, const char *ns,
                                  const char *worker)
{
	size_t i;

	if (v == NULL)
		return BIND_NONE;
	for (i = 0; i < v->ndispatch_ns; i++)
		if (strcmp(v->dispatch_ns[i], ns) == 0)
			return BIND_DISPATCH;
	for (i = 0; i < v->nservices; i++)
		if (strcmp(v->services[i].ns, ns) == 0 &&
		    strcmp(v->services[i].worker, worker) == 0)
			return BIND_SERVICE;
	return BIND_NONE;
}
