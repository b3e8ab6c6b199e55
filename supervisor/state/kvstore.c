/*
 * The supervisor's KV store (kv.c): opened on first use under
 * state_dir/kv with the configured map size, and the generation of each
 * of its namespaces.
 *
 * Workers cache what they read (worker-shim/kv.c): every request handed to
 * a process carries the generation of each of its bindings' namespaces
 * (serve/kv_serve.c appends them), and a cached answer is used only under
 * the generation it was read with. Whoever commits a write to a namespace
 * (a worker's KV request, yardctl kv) calls kvstore_written() before it
 * answers, so a write is seen by every request handed out after it
 * returned.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "state/kvstore.h"
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

static struct kv *kv_db;
static char *kv_dir;
static uint64_t kv_mapsize_cfg = KV_MAPSIZE_DEFAULT;

int kvstore_configure(const char *state_dir, uint32_t max_mb)
{
	char *dir;

	if (asprintf(&dir, "%s/kv", state_dir) < 0)
		return -1;
	free(kv_dir);
	kv_dir = dir;
	kv_mapsize_cfg = (uint64_t)max_mb << 20;
	return 0;
}

struct kv *kvstore_open(char *err, size_t errlen)
{
	if (kv_db != NULL)
		return kv_db;
	if (kv_dir == NULL) {
		snprintf(err, errlen, "kv: the store is not configured");
		return NULL;
	}
	if (kv_open(kv_dir, kv_mapsize_cfg, &kv_db, err, errlen) != 0)
		return NULL;
	log_info("kv: store open in %s (map size %llu MiB, [switchyard] "
	         "kv_max_mb)", kv_dir,
	         (unsigned long long)(kv_mapsize(kv_db) >> 20));
	return kv_db;
}

void kvstore_view_end(void)
{
	if (kv_db != NULL)
		kv_view_end(kv_db);
}

void kvstore_close(void)
{
	kv_close(kv_db);
	kv_db = NULL;
	free(kv_dir);
	kv_dir = NULL;
	memset(gens, 0, sizeof(gens));
	ngens = 0;
}

const char *kvstore_full_text(const char *ns, char *buf, size_t size)
{
	snprintf(buf, size, "namespace %s: KV store full (its map of %llu MiB "
	         "is used up: raise [switchyard] kv_max_mb and restart)", ns,
	         (unsigned long long)(kv_db ? kv_mapsize(kv_db) >> 20 : 0));
	return buf;
}

static uint32_t ns_hash(const char *s, uint32_t h)
{
	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/* ns's slot in gens: the one holding it, or the free one where it would
 * go (linear probing; never full, see GEN_FILL). */
static struct gen_slot *gen_slot(const char *ns)
{
	uint32_t i = ns_hash(ns, 2166136261u) & (GEN_SLOTS - 1);

	while (gens[i].ns[0] != '\0' && strcmp(gens[i].ns, ns) != 0)
		i = (i + 1) & (GEN_SLOTS - 1);
	return &gens[i];
}

uint64_t kvstore_gen(const char *ns)
{
	const struct gen_slot *g = gen_slot(ns);

	return g->ns[0] != '\0' ? g->gen : gen_untracked;
}

void kvstore_written(const char *ns)
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

uint64_t kvstore_clock(void)
{
	return gen_clock;
}
