/*
 * The supervisor's one KV store (kvstore.c): kv.c's LMDB environment
 * under state_dir/kv, opened at its first use, and a generation per KV
 * namespace that changes with every committed write to it, which is what
 * lets workers cache what they read (docs/kv.md).
 */
#ifndef SY_STATE_KVSTORE_H
#define SY_STATE_KVSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "state/kv.h"

/* Where the store lives and how large its map is ([switchyard]
 * kv_max_mb; a later change needs a restart). 0, or -1 (ENOMEM). */
int kvstore_configure(const char *state_dir, uint32_t max_mb);
/* The store, opened (and logged) at the first call; NULL with err. */
struct kv *kvstore_open(char *err, size_t errlen);
/* Ends a kv_view() of the store, if it is open. */
void kvstore_view_end(void);
/* Closes the store if it was opened (at exit). */
void kvstore_close(void);
/* What a full store says: the namespace, and the setting to raise. */
const char *kvstore_full_text(const char *ns, char *buf, size_t size);

/* The generation of namespace ns: changes with every write to it. */
uint64_t kvstore_gen(const char *ns);
/* A write to ns was committed: every cached read of it is stale. */
void kvstore_written(const char *ns);
/* The generation the last write got, whichever namespace it was to: a
 * namespace whose generation is at most the value read at some moment
 * has not been written since (generations only grow while the
 * supervisor runs). */
uint64_t kvstore_clock(void);

#endif
