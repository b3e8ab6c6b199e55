/*
 * KV generations and counters (kvops.c serves the requests). Workers cache
 * what they read (worker-shim/kv.c): every request handed to a process
 * carries the generation of each of its bindings' namespaces
 * (Request.kv_gens, appended by kv_gens_append), and a cached answer is
 * used only under the generation it was read with. kvops.c bumps a
 * namespace's generation after every committed write to it, from a worker
 * or yardctl, so a write is seen by every request handed out after it
 * returned. The counters are the KV requests served per worker and
 * namespace, for /metrics (kv_stats).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "log.h"
#include "pool.h"
#include "store.h"
#include "supervisor.h"
#include "util.h"

/*
 * Generations. A namespace's is the value gen_clock had after its last
 * write, so no two writes leave the same number. The table holds every
 * namespace written since the start: at most KV_MAX_NS, since only
 * successful writes are recorded, and LMDB refuses more namespaces. Should
 * it fill anyway, the namespaces left out share gen_untracked, which
 * changes with a write to any of them: caches are dropped too often,
 * never too rarely.
 */
#define GEN_SLOTS (2 * KV_MAX_NS)  /* a power of two */
#define GEN_FILL (3 * KV_MAX_NS / 2)
struct gen_slot {
	char ns[SY_NAME_MAX]; /* "" = free */
	uint64_t gen;
};
static struct gen_slot gens[GEN_SLOTS];
static size_t ngens;
static uint64_t gen_clock, gen_untracked;

/* KV requests served, per worker and namespace (KvCount, /metrics);
 * at most COUNT_MAX pairs are counted, the supervisor's memory being
 * bounded: more are left out, with one warning. */
#define COUNT_BUCKETS 256
#define COUNT_MAX 4096
struct kv_count {
	char worker[2 * SY_NAME_MAX];
	char ns[SY_NAME_MAX];
	uint64_t ops[KV_OP_LIST + 1];
	struct kv_count *next;
};
static struct kv_count *counts[COUNT_BUCKETS];
static size_t ncounts;

_Static_assert(REG_MAX_KV <= KV_GENS_MAX_BINDINGS,
               "KV_GENS_WIRE_MAX must cover every binding of a version");

static uint32_t fnv1a(const char *s, uint32_t h)
{
	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/* ns's slot in gens: the one holding it, or the free one where it would
 * go (linear probing; never full, see GEN_FILL). */
void kv_counts_free(void)
{
	struct kv_count *k;
	size_t i;

	for (i = 0; i < COUNT_BUCKETS; i++) {
		while ((k = counts[i]) != NULL) {
			counts[i] = k->next;
			free(k);
		}
	}
	ncounts = 0;
}

static struct gen_slot *gen_slot(const char *ns)
{
	uint32_t i = fnv1a(ns, 2166136261u) & (GEN_SLOTS - 1);

	while (gens[i].ns[0] != '\0' && strcmp(gens[i].ns, ns) != 0)
		i = (i + 1) & (GEN_SLOTS - 1);
	return &gens[i];
}

uint64_t kv_gen_of(const char *ns)
{
	const struct gen_slot *g = gen_slot(ns);

	return g->ns[0] != '\0' ? g->gen : gen_untracked;
}

/* A write to ns was committed: every cached read of it is stale. */
void kv_gen_bump(const char *ns)
{
	struct gen_slot *g = gen_slot(ns);

	if (g->ns[0] == '\0' && ngens < GEN_FILL) {
		snprintf(g->ns, sizeof(g->ns), "%s", ns);
		ngens++;
	}
	if (g->ns[0] != '\0')
		g->gen = ++gen_clock;
	else
		gen_untracked = ++gen_clock;
}

/* One KvGens.gens entry (a KvGen) at p: at most 2 + 2 + 63 + 11 bytes,
 * so both lengths take one byte. */
static size_t gen_entry(uint8_t *p, const struct kv_binding *b)
{
	size_t nl = strlen(b->name), n = 2;

	p[n++] = (1 << 3) | 2;
	p[n++] = (uint8_t)nl;
	memcpy(p + n, b->name, nl);
	n += nl;
	p[n++] = 2 << 3;
	n += sy_pb_varint(p + n, kv_gen_of(b->ns));
	p[0] = (1 << 3) | 2;
	p[1] = (uint8_t)(n - 2);
	return n;
}

/* Request.kv_gens is field 11, bytes: its length comes first, so the
 * entries are written after the longest length prefix and moved back if
 * it was shorter. Written even when empty, to override any kv_gens the
 * Request already had (the last occurrence wins). */
size_t kv_gens_append(const struct proc *p, uint8_t *buf)
{
	const struct kv_binding *b;
	size_t i, n, len = 0, hdr;

	b = registry_kv_get(p->worker, p->version, &n);
	for (i = 0; i < n; i++)
		len += gen_entry(buf + 3 + len, &b[i]);
	buf[0] = (11 << 3) | 2;
	hdr = 1 + sy_pb_varint(buf + 1, len);
	if (hdr < 3)
		memmove(buf + hdr, buf + 3, len);
	return hdr + len;
}

/* Counts a request of p's through a binding to ns; op is valid. */
void kv_count_op(const struct proc *p, const char *ns, uint32_t op)
{
	static int warned;
	uint32_t h = fnv1a(ns, fnv1a(p->worker, 2166136261u)) % COUNT_BUCKETS;
	struct kv_count *k;

	for (k = counts[h]; k != NULL; k = k->next)
		if (strcmp(k->ns, ns) == 0 && strcmp(k->worker, p->worker) == 0)
			break;
	if (k == NULL && ncounts < COUNT_MAX &&
	    (k = calloc(1, sizeof(*k))) != NULL) {
		snprintf(k->worker, sizeof(k->worker), "%s", p->worker);
		snprintf(k->ns, sizeof(k->ns), "%s", ns);
		k->next = counts[h];
		counts[h] = k;
		ncounts++;
	}
	if (k != NULL)
		k->ops[op]++;
	else if (!warned++)
		log_warnx("kv: %s: KV requests not counted: %zu (worker, "
		          "namespace) pairs counted already, or out of memory",
		          p->worker, ncounts);
}

Switchyard__KvCount **kv_stats(const char *worker, size_t *n)
{
	Switchyard__KvCount **out, *one;
	struct kv_count *k;
	size_t i, found = 0;

	*n = 0;
	for (i = 0; i < COUNT_BUCKETS; i++)
		for (k = counts[i]; k != NULL; k = k->next)
			found += strcmp(k->worker, worker) == 0;
	if (found == 0 ||
	    (out = malloc(found * (sizeof(*out) + sizeof(*one)))) == NULL)
		return NULL;
	one = (Switchyard__KvCount *)(out + found);
	for (i = 0; i < COUNT_BUCKETS; i++) {
		for (k = counts[i]; k != NULL; k = k->next) {
			if (strcmp(k->worker, worker) != 0)
				continue;
			switchyard__kv_count__init(one);
			one->kv_ns = k->ns;
			one->n_ops = KV_OP_LIST + 1;
			one->ops = k->ops;
			out[(*n)++] = one++;
		}
	}
	return out;
}

