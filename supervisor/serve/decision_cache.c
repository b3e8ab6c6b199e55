/*
 * The decision cache: a dispatch worker's FORWARDs that carry `cache`,
 * kept so that the next router request with the same key is handed on by
 * call_forward.c without waking the dispatch worker (docs/dispatch.md,
 * "Decision cache").
 *
 * Which headers key a decision is the decision's own (Forward.cache.vary,
 * and the URL when it rewrote it), so a request's key cannot be built
 * before a decision is found. The ways of keying in use, a handful per
 * dispatcher, are kept apart as specs: a lookup builds the request's key
 * under each and looks each up in one hash table. A key is the dispatch
 * worker's name, the Host, then what the spec names, each a length and
 * bytes, values in the order they came; a spec's vary names are part of
 * its keys, so keys of two specs never meet.
 *
 * Freshness is checked at lookup against what can change a decision: the
 * clock (ttl_s), the dispatch worker's current version, and the
 * generation of every KV namespace that version binds (state/kvstore.c).
 * A deploy or rollback of the dispatch worker also drops its decisions at
 * once (dcache_forget, from serve.c's registry hook), so the entries
 * counted are ones that can still serve.
 *
 * The request bytes are the router's own frame, read with pbscan without
 * unpacking them: the lookup runs on every router request while anything
 * is kept.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ev.h"
#include "log.h"
#include "pbscan.h"
#include "serve/decision_cache.h"
#include "state/kvstore.h"

/* Field numbers in switchyard.proto. */
#define REQUEST_URL 2
#define REQUEST_HEADERS 3
#define HEADER_NAME 1
#define HEADER_VALUE 2

#define BUCKETS (2 * DCACHE_ENTRIES_MAX) /* a power of two */
#define KEY_MIN 1024                     /* first size of the key buffer */

_Static_assert((BUCKETS & (BUCKETS - 1)) == 0,
               "buckets are picked by the hash's low bits");

/* A way of keying: the vary names (lower case) and whether the URL is
 * part of the key. Shared by the decisions keyed that way. */
struct spec {
	struct spec *next;
	size_t refs;                  /* decisions keyed this way */
	int url;
	size_t nvary;
	char *vary[SY_FORWARD_VARY_MAX];
};

struct entry {
	struct entry *hnext;          /* hash chain */
	struct entry *newer, *older;  /* use order */
	struct spec *spec;            /* one of its refs */
	uint64_t hash;
	uint64_t expires_us;          /* ev_clock_us */
	size_t bytes;                 /* counted against DCACHE_BYTES_MAX */
	uint32_t version;             /* of the dispatch worker that decided */
	uint32_t ngens;
	uint32_t key_len, fwd_len;
	/* the generation of each KV binding of that version, in order; then
	 * the key, then the packed Forward */
	uint64_t gens[];
};

/* The key being built; failed: out of memory or a malformed Request. */
struct key {
	uint8_t *p;
	size_t len, cap;
	int failed;
};

static struct entry *buckets[BUCKETS];
static struct entry *newest, *oldest;
static struct spec *specs;
static size_t nentries, nspecs, nbytes;
static uint64_t hits, misses, seed;
static struct key kb;

/* ---- keys ---- */

static void put_raw(struct key *k, const void *data, size_t n)
{
	size_t cap = k->cap ? k->cap : KEY_MIN;
	uint8_t *grown;

	if (k->failed)
		return;
	while (cap - k->len < n)
		cap *= 2;
	if (cap != k->cap) {
		if ((grown = realloc(k->p, cap)) == NULL) {
			k->failed = 1;
			return;
		}
		k->p = grown;
		k->cap = cap;
	}
	memcpy(k->p + k->len, data, n);
	k->len += n;
}

static void set_u32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

static void put_u32(struct key *k, uint32_t v)
{
	uint8_t b[4];

	set_u32(b, v);
	put_raw(k, b, sizeof(b));
}

/* Lengths are at most a frame's: they fit. */
static void put_bytes(struct key *k, const void *data, size_t n)
{
	put_u32(k, (uint32_t)n);
	put_raw(k, data, n);
}

/* 1 if the n bytes at s are the header name want (lower case), in any
 * case: ASCII only, as HTTP names are. */
static int same_name(const uint8_t *s, size_t n, const char *want)
{
	size_t i;
	uint8_t c;

	for (i = 0; i < n; i++) {
		c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c - 'A' + 'a');
		if (want[i] == '\0' || c != (uint8_t)want[i])
			return 0;
	}
	return want[n] == '\0';
}

/* Field `field` of Header h[0, n) ("" when absent). 0, or -1. */
static int header_part(const uint8_t *h, size_t n, uint32_t field,
                       const uint8_t **v, size_t *vlen)
{
	int rc = sy_pb_find_bytes(h, n, field, v, vlen);

	if (rc == 0) {
		*v = (const uint8_t *)"";
		*vlen = 0;
	}
	return rc < 0 ? -1 : 0;
}

/* The values of every header of req named name (lower case), in the
 * order they came, after their count: 0 tells an absent header from an
 * empty one. */
static void put_values(struct key *k, const uint8_t *req, size_t len,
                       const char *name)
{
	size_t pos = 0, at = k->len, n, nlen, vlen;
	const uint8_t *h, *nm, *v;
	uint32_t field, count = 0;
	int rc;

	put_u32(k, 0);
	while ((rc = sy_pb_next_bytes(req, len, &pos, &field, &h, &n)) == 1) {
		if (field != REQUEST_HEADERS)
			continue;
		if (header_part(h, n, HEADER_NAME, &nm, &nlen) == -1 ||
		    header_part(h, n, HEADER_VALUE, &v, &vlen) == -1) {
			rc = -1;
			break;
		}
		if (same_name(nm, nlen, name)) {
			put_bytes(k, v, vlen);
			count++;
		}
	}
	if (rc == -1)
		k->failed = 1;
	if (!k->failed)
		set_u32(k->p + at, count);
}

/* req's key under spec s for the dispatch worker labelled label, in k.
 * 0, or -1 (out of memory, or req is malformed). */
static int key_build(struct key *k, const char *label, const struct spec *s,
                     const uint8_t *req, size_t len)
{
	const uint8_t *url = (const uint8_t *)"";
	size_t i, ulen = 0;

	k->len = 0;
	k->failed = 0;
	put_bytes(k, label, strlen(label));
	put_values(k, req, len, "host");
	put_u32(k, (uint32_t)s->url);
	if (s->url && sy_pb_find_bytes(req, len, REQUEST_URL, &url, &ulen) < 0)
		k->failed = 1;
	if (s->url)
		put_bytes(k, url, ulen);
	for (i = 0; i < s->nvary; i++) {
		put_bytes(k, s->vary[i], strlen(s->vary[i]));
		put_values(k, req, len, s->vary[i]);
	}
	return k->failed ? -1 : 0;
}

/* FNV-1a, seeded once so that a client choosing Hosts cannot aim at one
 * chain (the supervisor may not call getrandom: the clock and where the
 * loader put us), then mixed so that the low bits pick buckets well. */
static uint64_t key_hash(const struct key *k)
{
	uint64_t h;
	size_t i;

	if (seed == 0)
		seed = (ev_clock_us() * 0x9e3779b97f4a7c15ull) ^
		       (uint64_t)(uintptr_t)&seed ^ 1;
	h = 0xcbf29ce484222325ull ^ seed;
	for (i = 0; i < k->len; i++)
		h = (h ^ k->p[i]) * 0x100000001b3ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 33);
}

/* ---- specs ---- */

static void spec_free(struct spec *s)
{
	size_t i;

	for (i = 0; i < s->nvary; i++)
		free(s->vary[i]);
	free(s);
}

/* The last decision keyed by s went: so does s. */
static void spec_unref(struct spec *s)
{
	struct spec **pp;

	if (--s->refs > 0)
		return;
	for (pp = &specs; *pp != s; pp = &(*pp)->next)
		;
	*pp = s->next;
	nspecs--;
	spec_free(s);
}

static int spec_is(const struct spec *s, const Switchyard__Forward *fw)
{
	const Switchyard__ForwardCache *fc = fw->cache;
	size_t i;

	if (s->url != (fw->url[0] != '\0') || s->nvary != fc->n_vary)
		return 0;
	for (i = 0; i < fc->n_vary; i++) {
		if (!same_name((const uint8_t *)fc->vary[i],
		               strlen(fc->vary[i]), s->vary[i]))
			return 0;
	}
	return 1;
}

static struct spec *spec_new(const Switchyard__Forward *fw)
{
	const Switchyard__ForwardCache *fc = fw->cache;
	struct spec *s;
	char *p;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->url = fw->url[0] != '\0';
	for (; s->nvary < fc->n_vary; s->nvary++) {
		if ((s->vary[s->nvary] = strdup(fc->vary[s->nvary])) == NULL) {
			spec_free(s);
			return NULL;
		}
		for (p = s->vary[s->nvary]; *p != '\0'; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
	}
	return s;
}

/* fw's spec, with a reference taken; NULL when out of memory or when
 * DCACHE_SPECS_MAX are in use (said once). */
static struct spec *spec_get(const Switchyard__Forward *fw, const char *label)
{
	static int warned;
	struct spec *s;

	for (s = specs; s != NULL && !spec_is(s, fw); s = s->next)
		;
	if (s == NULL && nspecs >= DCACHE_SPECS_MAX) {
		if (!warned++)
			log_warnx("decision cache: %s keys its decisions in more "
			          "than %d ways (vary lists, URL or not): "
			          "decisions keyed another way are not kept",
			          label, DCACHE_SPECS_MAX);
		return NULL;
	}
	if (s == NULL) {
		if ((s = spec_new(fw)) == NULL)
			return NULL;
		s->next = specs;
		specs = s;
		nspecs++;
	}
	s->refs++;
	return s;
}

/* ---- entries ---- */

static uint8_t *entry_key(struct entry *e)
{
	return (uint8_t *)(e->gens + e->ngens);
}

static uint8_t *entry_fwd(struct entry *e)
{
	return entry_key(e) + e->key_len;
}

static struct entry *find(const struct key *k, uint64_t hash)
{
	struct entry *e;

	for (e = buckets[hash & (BUCKETS - 1)]; e != NULL; e = e->hnext) {
		if (e->hash == hash && e->key_len == k->len &&
		    memcmp(entry_key(e), k->p, k->len) == 0)
			return e;
	}
	return NULL;
}

static void unlink_use(struct entry *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		oldest = e->newer;
	e->newer = e->older = NULL;
}

static void link_newest(struct entry *e)
{
	e->older = newest;
	e->newer = NULL;
	if (newest != NULL)
		newest->newer = e;
	newest = e;
	if (oldest == NULL)
		oldest = e;
}

static void drop(struct entry *e)
{
	struct entry **pp = &buckets[e->hash & (BUCKETS - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	unlink_use(e);
	spec_unref(e->spec);
	nentries--;
	nbytes -= e->bytes;
	free(e);
}

static void worker_label(const struct worker *w, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", w->ns, w->name);
}

/* e may still serve dispatch worker w (label): not expired, decided by
 * w's current version, and no KV namespace it binds written since. */
static int fresh(const struct entry *e, const struct worker *w,
                 const char *label)
{
	const struct kv_binding *b;
	size_t i, n;

	if (ev_clock_us() >= e->expires_us ||
	    worker_version(w)->number != e->version)
		return 0;
	b = registry_kv_get(label, e->version, &n);
	if (n != e->ngens)
		return 0;
	for (i = 0; i < n; i++) {
		if (kvstore_gen(b[i].ns) != e->gens[i])
			return 0;
	}
	return 1;
}

Switchyard__Forward *dcache_lookup(const struct worker *w,
                                   const uint8_t *req, size_t req_len)
{
	char label[2 * SY_NAME_MAX];
	Switchyard__Forward *fw;
	struct spec *s, *next;
	struct entry *e;
	uint64_t hash;

	if (nentries == 0) {
		misses++;
		return NULL;
	}
	worker_label(w, label, sizeof(label));
	for (s = specs; s != NULL; s = next) {
		next = s->next; /* dropping a stale entry may free s */
		if (key_build(&kb, label, s, req, req_len) == -1)
			break;
		hash = key_hash(&kb);
		if ((e = find(&kb, hash)) == NULL)
			continue;
		if (!fresh(e, w, label)) {
			drop(e);
			continue;
		}
		unlink_use(e);
		link_newest(e);
		fw = switchyard__forward__unpack(NULL, e->fwd_len, entry_fwd(e));
		if (fw == NULL)
			break;
		hits++;
		return fw;
	}
	misses++;
	return NULL;
}

/* A new entry for the key in kb, taking the reference to s, with the
 * generations of bindings b[0, n) and the packed decision; NULL when out
 * of memory (s released). */
static struct entry *entry_new(struct spec *s, const struct kv_binding *b,
                               size_t n, const uint8_t *fwd, size_t fwd_len)
{
	size_t size = sizeof(struct entry) + n * sizeof(uint64_t) + kb.len +
	              fwd_len, i;
	struct entry *e;

	if ((e = malloc(size)) == NULL) {
		spec_unref(s);
		return NULL;
	}
	memset(e, 0, sizeof(*e));
	e->spec = s;
	e->bytes = size;
	e->ngens = (uint32_t)n;
	e->key_len = (uint32_t)kb.len;
	e->fwd_len = (uint32_t)fwd_len;
	for (i = 0; i < n; i++)
		e->gens[i] = kvstore_gen(b[i].ns);
	memcpy(entry_key(e), kb.p, kb.len);
	memcpy(entry_fwd(e), fwd, fwd_len);
	e->hash = key_hash(&kb);
	return e;
}

/* Makes room for one more entry of `bytes`, the oldest used going. */
static void make_room(size_t bytes)
{
	while (oldest != NULL && (nentries >= DCACHE_ENTRIES_MAX ||
	                          nbytes + bytes > DCACHE_BYTES_MAX))
		drop(oldest);
}

void dcache_store(const struct worker *w, uint32_t version, uint64_t mark,
                  const uint8_t *req, size_t req_len,
                  const Switchyard__Forward *fw, const uint8_t *fwd,
                  size_t fwd_len)
{
	char label[2 * SY_NAME_MAX];
	const struct kv_binding *b;
	struct entry *e, *old;
	struct spec *s;
	size_t i, n;

	if (fw->cache == NULL || worker_version(w)->number != version)
		return;
	worker_label(w, label, sizeof(label));
	b = registry_kv_get(label, version, &n);
	/* written while it decided: it may have read either value */
	for (i = 0; i < n; i++) {
		if (kvstore_gen(b[i].ns) > mark)
			return;
	}
	if ((s = spec_get(fw, label)) == NULL)
		return;
	if (key_build(&kb, label, s, req, req_len) == -1) {
		spec_unref(s);
		return;
	}
	if ((e = entry_new(s, b, n, fwd, fwd_len)) == NULL)
		return;
	e->version = version;
	e->expires_us = ev_clock_us() + (uint64_t)fw->cache->ttl_s * 1000000;
	if ((old = find(&kb, e->hash)) != NULL)
		drop(old);
	make_room(e->bytes);
	e->hnext = buckets[e->hash & (BUCKETS - 1)];
	buckets[e->hash & (BUCKETS - 1)] = e;
	link_newest(e);
	nentries++;
	nbytes += e->bytes;
}

uint64_t dcache_mark(void)
{
	return kvstore_clock();
}

/* 1 if e's key begins with the dispatch worker label. */
static int decided_by(struct entry *e, const char *label)
{
	size_t n = strlen(label);
	uint8_t len[4];

	set_u32(len, (uint32_t)n);
	return e->key_len >= 4 + n && memcmp(entry_key(e), len, 4) == 0 &&
	       memcmp(entry_key(e) + 4, label, n) == 0;
}

void dcache_forget(const struct worker *w)
{
	char label[2 * SY_NAME_MAX];
	struct entry *e, *next;

	if (nentries == 0)
		return;
	worker_label(w, label, sizeof(label));
	for (e = newest; e != NULL; e = next) {
		next = e->older;
		if (decided_by(e, label))
			drop(e);
	}
}

void dcache_stats(Switchyard__DecisionCacheStats *s)
{
	s->hits = hits;
	s->misses = misses;
	s->entries = (uint32_t)nentries;
}

void dcache_fini(void)
{
	while (oldest != NULL)
		drop(oldest);
	free(kb.p);
	memset(&kb, 0, sizeof(kb));
	hits = misses = 0;
}
