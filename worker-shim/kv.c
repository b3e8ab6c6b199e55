/*
 * ws_kv_*: one KV_REQUEST to the supervisor on a stream of this worker's
 * own (from the subrequest counter), answered at once by one KV_RESPONSE;
 * a value over SY_KV_INLINE_MAX follows either in KV_VALUE frames.
 * The supervisor answers KV requests synchronously, so a CANCEL of the
 * request being handled that arrives meanwhile is noted (as ws_dispatch
 * does) and the answer still awaited: nothing is left in flight.
 * Gets are cached, under the generations the supervisor sends with each
 * request (below).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kv_wire.h"
#include "names.h"
#include "shim.h"

/* workershim.h is installed alone, so it repeats what the wire says
 * (proto/kv_wire.h): the build keeps the two in step. */
#define SAME_AS_WIRE(ws, sy) \
	_Static_assert((ws) == (sy), #ws " differs from proto/kv_wire.h")
SAME_AS_WIRE(WS_KV_KEY_MAX, SY_KV_KEY_MAX);
SAME_AS_WIRE(WS_KV_VALUE_MAX, SY_KV_VALUE_MAX);
SAME_AS_WIRE(WS_ENOTFOUND, SY_KV_ENOTFOUND);
SAME_AS_WIRE(WS_EDENIED, SY_KV_EDENIED);
SAME_AS_WIRE(WS_EINVAL, SY_KV_EINVAL);
SAME_AS_WIRE(WS_ENOMEM, SY_KV_ENOMEM);
SAME_AS_WIRE(WS_EINTERNAL, SY_KV_EINTERNAL);

static int key_ok(const char *key)
{
	return key != NULL && sy_kv_key_valid(key, strlen(key));
}

/* Only what keeps the request well-formed: whether the binding exists,
 * and so whether its name is valid (sy_kv_binding_valid), is the
 * supervisor's answer (WS_EDENIED), not WS_EINVAL. */
static int binding_ok(const char *b)
{
	return b != NULL && b[0] != '\0' && strlen(b) < SY_NAME_MAX;
}

static int chan_broken(void)
{
	shim_chan.state = CHAN_BROKEN;
	return WS_EIO;
}

/* The next frame for a KV call: a CANCEL of the request being handled is
 * noted (the answer is still awaited), a late answer to an abandoned
 * subrequest dropped. 0, or WS_EIO. */
static int kv_next(struct sy_frame *f)
{
	struct shim_chan *c = &shim_chan;

	for (;;) {
		if (chan_recv(f) <= 0)
			return WS_EIO;
		if (f->type == SY_MSG_CANCEL && f->stream == c->stream) {
			c->canceled = 1;
			continue;
		}
		if (chan_stale(f, 0) || f->type == SY_MSG_CANCEL)
			continue;
		return 0;
	}
}

/* A value over SY_KV_INLINE_MAX follows its KV_REQUEST in KV_VALUE
 * frames, each written out at once so that the writer stays small. */
static int send_value(uint32_t stream, const uint8_t *p, size_t len)
{
	struct shim_chan *c = &shim_chan;
	size_t n;

	while (len > 0) {
		n = len < SY_BODY_CHUNK ? len : SY_BODY_CHUNK;
		if (sy_writer_raw(&c->wr, SY_MSG_KV_VALUE,
		                  n == len ? SY_FLAG_END : 0, stream, p, n) < 0 ||
		    sy_writer_flush_all(&c->wr, c->fd) < 0)
			return chan_broken();
		p += n;
		len -= n;
	}
	return 0;
}

/* The len bytes of a get's answer, in KV_VALUE frames on stream: exactly
 * that many, the last frame flagged END, or the channel is broken. *out
 * is malloc'd, NUL-terminated. Without memory the frames are still read
 * (the channel stays in step) and the call fails WS_ENOMEM. */
static int recv_value(uint32_t stream, size_t len, char **out)
{
	struct sy_frame f;
	size_t got = 0;
	char *p;

	if (len == 0 || len > WS_KV_VALUE_MAX)
		return chan_broken();
	p = malloc(len + 1);
	do {
		if (kv_next(&f) < 0 || f.type != SY_MSG_KV_VALUE ||
		    f.stream != stream || (f.flags & SY_FLAG_ABORT) ||
		    f.len > len - got ||
		    ((f.flags & SY_FLAG_END) && got + f.len != len)) {
			free(p);
			return chan_broken();
		}
		if (p != NULL && f.len > 0)
			memcpy(p + got, f.payload, f.len);
		got += f.len;
	} while (!(f.flags & SY_FLAG_END));
	if (p == NULL)
		return WS_ENOMEM;
	p[len] = '\0';
	*out = p;
	return 0;
}

/* Sends rq with its value (val, len) and waits for its answer: 0 with
 * *out, or WS_E*. A get passes big, which receives a value that came in
 * KV_VALUE frames (else it stays NULL and the value is in *out). */
static int kv_call(Switchyard__KvRequest *rq, const void *val, size_t len,
                   Switchyard__KvResponse **out, char **big)
{
	struct shim_chan *c = &shim_chan;
	Switchyard__KvResponse *rs;
	int large = len > SY_KV_INLINE_MAX, rc;
	struct sy_frame f;
	uint32_t stream;

	if (c->state != CHAN_OPEN)
		return WS_EIO;
	stream = c->next_sub++;
	if (c->next_sub == 0)
		c->next_sub = 1;
	if (large) {
		rq->value_len = (uint32_t)len;
	} else {
		rq->value.data = (uint8_t *)val;
		rq->value.len = len;
	}
	if (sy_writer_msg(&c->wr, SY_MSG_KV_REQUEST, large ? 0 : SY_FLAG_END,
	                  stream, &rq->base) < 0)
		return errno == EMSGSIZE ? WS_EINVAL : WS_ENOMEM;
	if (sy_writer_flush_all(&c->wr, c->fd) < 0)
		return chan_broken();
	if (large && (rc = send_value(stream, val, len)) < 0)
		return rc;
	if (kv_next(&f) < 0)
		return WS_EIO;
	if (f.type != SY_MSG_KV_RESPONSE || f.stream != stream ||
	    (rs = switchyard__kv_response__unpack(NULL, f.len,
	                                          f.payload)) == NULL)
		return chan_broken();
	rc = 0;
	if (!(f.flags & SY_FLAG_END)) {
		if (big == NULL || rs->code != 0 || rs->value.len != 0)
			rc = chan_broken();
		else
			rc = recv_value(stream, rs->value_len, big);
	} else if (rs->value_len != 0) {
		rc = chan_broken();
	}
	if (rc < 0) {
		switchyard__kv_response__free_unpacked(rs, NULL);
		return rc;
	}
	*out = rs;
	return 0;
}

/* The answer's code as a WS_E* code the API knows. */
static int answer_code(const Switchyard__KvResponse *rs)
{
	if (rs->code == 0)
		return 0;
	return rs->code < 0 && rs->code >= WS_EFETCH ? rs->code : WS_EINTERNAL;
}

/* Sends rq; *out is the answer when it says success (else freed). */
static int kv_do(Switchyard__KvRequest *rq, const void *val, size_t len,
                 Switchyard__KvResponse **out, char **big)
{
	Switchyard__KvResponse *rs;
	int rc;

	if ((rc = kv_call(rq, val, len, &rs, big)) < 0)
		return rc;
	if ((rc = answer_code(rs)) != 0) {
		switchyard__kv_response__free_unpacked(rs, NULL);
		return rc;
	}
	if (out != NULL)
		*out = rs;
	else
		switchyard__kv_response__free_unpacked(rs, NULL);
	return 0;
}

/*
 * The read cache (docs/kv.md, "Read cache"). Each request the supervisor
 * hands this process carries the generation of each of the version's
 * bindings (Request.kv_gens); a get's answer, found or not, is kept with
 * the generation it was read under (KvResponse.gen) and answered again
 * from here while that is the current request's generation for its
 * binding and it has not expired. A binding the request names no
 * generation for is never answered from here. Entries are evicted least
 * recently used first, within WS_KV_CACHE_MB (4 MiB by default, 0 turns
 * the cache off) of keys and values; values over CACHE_VALUE_MAX are not
 * kept.
 */
#define CACHE_VALUE_MAX (64u * 1024u)
#define CACHE_MB_DEFAULT 4
#define CACHE_MB_MAX 1024
#define CACHE_BUCKETS_MIN 256u

struct kv_ent {
	struct kv_ent *hnext;          /* its bucket's chain */
	struct kv_ent *newer, *older;  /* the LRU list */
	uint32_t hash;
	int found;                     /* 0: a cached "no such key" */
	uint64_t gen;                  /* the namespace's when it was read */
	int64_t exp;                   /* unix seconds; 0 = never */
	size_t size;                   /* what it counts against the bound */
	size_t klen, vlen;
	char data[];                   /* binding NUL key NUL value NUL */
};

static struct {
	int configured;
	size_t max;                    /* bytes; 0: off */
	size_t bytes, n, nbuckets;
	struct kv_ent **buckets;
	struct kv_ent *newest, *oldest;
	Switchyard__KvGens *gens;      /* the current request's, or NULL */
	int hits_off;                  /* it wrote: answer from the store */
} cache;

static size_t cache_max(void)
{
	const char *s;
	long mb = CACHE_MB_DEFAULT;
	char *end;

	if (!cache.configured) {
		cache.configured = 1;
		if ((s = getenv("WS_KV_CACHE_MB")) != NULL && *s != '\0') {
			errno = 0;
			mb = strtol(s, &end, 10);
			if (errno != 0 || *end != '\0' || mb < 0)
				mb = CACHE_MB_DEFAULT;
			if (mb > CACHE_MB_MAX)
				mb = CACHE_MB_MAX;
		}
		cache.max = (size_t)mb << 20;
	}
	return cache.max;
}

void kv_cache_begin(const ProtobufCBinaryData *gens)
{
	kv_cache_end();
	if (gens->len > 0 && cache_max() > 0)
		cache.gens = switchyard__kv_gens__unpack(NULL, gens->len,
		                                          gens->data);
}

void kv_cache_end(void)
{
	if (cache.gens != NULL)
		switchyard__kv_gens__free_unpacked(cache.gens, NULL);
	cache.gens = NULL;
	cache.hits_off = 0;
}

/* The current request's generation for binding: 1 with *gen, or 0. */
static int cur_gen(const char *binding, uint64_t *gen)
{
	size_t i;

	if (cache.gens == NULL)
		return 0;
	for (i = 0; i < cache.gens->n_gens; i++) {
		if (strcmp(cache.gens->gens[i]->binding, binding) == 0) {
			*gen = cache.gens->gens[i]->gen;
			return 1;
		}
	}
	return 0;
}

static uint32_t ent_hash(const char *binding, const char *key)
{
	uint32_t h = 2166136261u;
	const char *s;

	for (s = binding; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	h = (h ^ 0xffu) * 16777619u;
	for (s = key; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static struct kv_ent **ent_slot(const char *binding, const char *key,
                                uint32_t h)
{
	struct kv_ent **pp;

	if (cache.buckets == NULL)
		return NULL;
	for (pp = &cache.buckets[h & (cache.nbuckets - 1)]; *pp != NULL;
	     pp = &(*pp)->hnext) {
		const struct kv_ent *e = *pp;
		size_t bl = strlen(e->data);

		if (e->hash == h && strcmp(e->data, binding) == 0 &&
		    strcmp(e->data + bl + 1, key) == 0)
			return pp;
	}
	return NULL;
}

static void lru_unlink(struct kv_ent *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		cache.newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		cache.oldest = e->newer;
}

static void lru_push(struct kv_ent *e)
{
	e->newer = NULL;
	e->older = cache.newest;
	if (cache.newest != NULL)
		cache.newest->newer = e;
	else
		cache.oldest = e;
	cache.newest = e;
}

/* Unlinks the entry *pp points to and frees it. */
static void ent_drop(struct kv_ent **pp)
{
	struct kv_ent *e = *pp;

	*pp = e->hnext;
	lru_unlink(e);
	cache.bytes -= e->size;
	cache.n--;
	free(e);
}

static void cache_drop(const char *binding, const char *key)
{
	struct kv_ent **pp = ent_slot(binding, key, ent_hash(binding, key));

	if (pp != NULL)
		ent_drop(pp);
}

static void cache_evict_oldest(void)
{
	struct kv_ent *e = cache.oldest;

	cache_drop(e->data, e->data + strlen(e->data) + 1);
}

/* Doubles the buckets when there are more entries than buckets; the
 * cache works on (with longer chains) if that memory is missing. */
static void cache_grow(void)
{
	size_t nb = cache.nbuckets ? cache.nbuckets * 2 : CACHE_BUCKETS_MIN, i;
	struct kv_ent **nbk, *e;

	if (cache.buckets != NULL && cache.n < cache.nbuckets)
		return;
	if ((nbk = calloc(nb, sizeof(*nbk))) == NULL)
		return;
	for (i = 0; i < cache.nbuckets; i++) {
		while ((e = cache.buckets[i]) != NULL) {
			cache.buckets[i] = e->hnext;
			e->hnext = nbk[e->hash & (nb - 1)];
			nbk[e->hash & (nb - 1)] = e;
		}
	}
	free(cache.buckets);
	cache.buckets = nbk;
	cache.nbuckets = nb;
}

/* Keeps a get's answer (val NULL: not found) read under gen. */
static void cache_fill(const char *binding, const char *key, uint64_t gen,
                       int64_t exp, const void *val, size_t vlen)
{
	size_t bl = strlen(binding), kl = strlen(key);
	size_t size = sizeof(struct kv_ent) + bl + kl + vlen + 3;
	uint32_t h = ent_hash(binding, key);
	struct kv_ent *e;

	cache_drop(binding, key);
	if (vlen > CACHE_VALUE_MAX || size > cache_max())
		return;
	while (cache.bytes + size > cache.max && cache.oldest != NULL)
		cache_evict_oldest();
	cache_grow();
	if (cache.buckets == NULL || (e = malloc(size)) == NULL)
		return;
	e->hash = h;
	e->found = val != NULL;
	e->gen = gen;
	e->exp = exp;
	e->size = size;
	e->klen = kl;
	e->vlen = vlen;
	memcpy(e->data, binding, bl + 1);
	memcpy(e->data + bl + 1, key, kl + 1);
	if (vlen > 0)
		memcpy(e->data + bl + kl + 2, val, vlen);
	e->data[bl + kl + 2 + vlen] = '\0';
	e->hnext = cache.buckets[h & (cache.nbuckets - 1)];
	cache.buckets[h & (cache.nbuckets - 1)] = e;
	lru_push(e);
	cache.bytes += size;
	cache.n++;
}

static int expired(int64_t exp)
{
	struct timespec ts;

	return exp != 0 && (clock_gettime(CLOCK_REALTIME, &ts) != 0 ||
	                    exp <= (int64_t)ts.tv_sec);
}

/* A get answered from the cache: 1 with *rc (0 and a malloc'd copy in
 * *val and *len, WS_ENOTFOUND or WS_ENOMEM), or 0 when it must ask. */
static int cache_get(const char *binding, const char *key, uint64_t gen,
                     void **val, size_t *len, int *rc)
{
	struct kv_ent **pp = ent_slot(binding, key, ent_hash(binding, key));
	struct kv_ent *e;
	char *p;

	if (pp == NULL || (*pp)->gen != gen || cache.hits_off)
		return 0;
	e = *pp;
	if (expired(e->exp)) {
		ent_drop(pp);
		return 0;
	}
	lru_unlink(e);
	lru_push(e);
	*rc = 0;
	if (!e->found)
		*rc = WS_ENOTFOUND;
	else if ((p = malloc(e->vlen + 1)) == NULL)
		*rc = WS_ENOMEM;
	else {
		memcpy(p, e->data + strlen(e->data) + e->klen + 2,
		       e->vlen + 1);
		*val = p;
		*len = e->vlen;
	}
	return 1;
}

void kv_cache_free(void)
{
	kv_cache_end();
	while (cache.oldest != NULL)
		cache_evict_oldest();
	free(cache.buckets);
	cache.buckets = NULL;
	cache.nbuckets = 0;
}

/* Asks the supervisor for key: 0 with *val (malloc'd) and *len, or
 * WS_E*. With a generation for binding (cached), the answer, found or
 * not, is cached under the one it was read with. */
static int get_remote(const char *binding, const char *key, int cached,
                      void **val, size_t *len)
{
	Switchyard__KvRequest rq = SWITCHYARD__KV_REQUEST__INIT;
	Switchyard__KvResponse *rs;
	char *p = NULL;
	size_t n = 0;
	int rc;

	rq.op = SY_KV_OP_GET;
	rq.binding = (char *)binding;
	rq.key = (char *)key;
	if ((rc = kv_call(&rq, NULL, 0, &rs, &p)) < 0)
		return rc;
	if ((rc = answer_code(rs)) == 0) {
		n = p != NULL ? rs->value_len : rs->value.len;
		if (p == NULL && (p = malloc(n + 1)) != NULL) {
			if (n > 0)
				memcpy(p, rs->value.data, n);
			p[n] = '\0';
		}
		rc = p != NULL ? 0 : WS_ENOMEM;
	}
	if (cached && (rc == 0 || rc == WS_ENOTFOUND))
		cache_fill(binding, key, rs->gen, rs->expiration, p, n);
	switchyard__kv_response__free_unpacked(rs, NULL);
	*val = p;
	*len = n;
	return rc;
}

int ws_kv_get(const char *binding, const char *key, void **val, size_t *len)
{
	size_t n = 0;
	uint64_t gen;
	int cached, rc;

	if (val == NULL)
		return WS_EINVAL;
	*val = NULL;
	if (len != NULL)
		*len = 0;
	if (!binding_ok(binding) || !key_ok(key))
		return WS_EINVAL;
	cached = cur_gen(binding, &gen);
	if (!cached || !cache_get(binding, key, gen, val, &n, &rc))
		rc = get_remote(binding, key, cached, val, &n);
	if (rc == 0 && len != NULL)
		*len = n;
	return rc;
}

/* This process writes key: its cached entry goes, and until the request
 * ends gets ask the store, which another binding to the same namespace
 * may have cached too. */
static void cache_wrote(const char *binding, const char *key)
{
	cache_drop(binding, key);
	cache.hits_off = 1;
}

int ws_kv_put(const char *binding, const char *key, const void *val,
              size_t len, uint32_t ttl_s)
{
	Switchyard__KvRequest rq = SWITCHYARD__KV_REQUEST__INIT;

	if (!binding_ok(binding) || !key_ok(key) || len > WS_KV_VALUE_MAX ||
	    (len > 0 && val == NULL))
		return WS_EINVAL;
	rq.op = SY_KV_OP_PUT;
	rq.binding = (char *)binding;
	rq.key = (char *)key;
	rq.ttl = ttl_s;
	cache_wrote(binding, key);
	return kv_do(&rq, val, len, NULL, NULL);
}

int ws_kv_delete(const char *binding, const char *key)
{
	Switchyard__KvRequest rq = SWITCHYARD__KV_REQUEST__INIT;

	if (!binding_ok(binding) || !key_ok(key))
		return WS_EINVAL;
	rq.op = SY_KV_OP_DELETE;
	rq.binding = (char *)binding;
	rq.key = (char *)key;
	cache_wrote(binding, key);
	return kv_do(&rq, NULL, 0, NULL, NULL);
}

void ws_kv_free(void *val)
{
	free(val);
}

void ws_kv_keys_free(ws_kv_keys *k)
{
	size_t i;

	if (k == NULL)
		return;
	for (i = 0; i < k->n; i++)
		free(k->keys[i]);
	free(k->keys);
	free(k->cursor);
	memset(k, 0, sizeof(*k));
}

/* Copies the answer's keys and cursor into out. */
static int keys_take(const Switchyard__KvResponse *rs, ws_kv_keys *out)
{
	size_t i;

	if (rs->n_keys > 0 &&
	    (out->keys = calloc(rs->n_keys, sizeof(*out->keys))) == NULL)
		return WS_ENOMEM;
	for (i = 0; i < rs->n_keys; i++) {
		if ((out->keys[i] = strdup(rs->keys[i])) == NULL)
			return WS_ENOMEM;
		out->n++;
	}
	if (rs->cursor[0] != '\0' && (out->cursor = strdup(rs->cursor)) == NULL)
		return WS_ENOMEM;
	return 0;
}

int ws_kv_list(const char *binding, const char *prefix, const char *cursor,
               ws_kv_keys *out)
{
	Switchyard__KvRequest rq = SWITCHYARD__KV_REQUEST__INIT;
	Switchyard__KvResponse *rs;
	int rc;

	if (out == NULL)
		return WS_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!binding_ok(binding) ||
	    (prefix != NULL && strlen(prefix) > WS_KV_KEY_MAX) ||
	    (cursor != NULL && strlen(cursor) > WS_KV_KEY_MAX))
		return WS_EINVAL;
	rq.op = SY_KV_OP_LIST;
	rq.binding = (char *)binding;
	rq.prefix = (char *)(prefix ? prefix : "");
	rq.cursor = (char *)(cursor ? cursor : "");
	if ((rc = kv_do(&rq, NULL, 0, &rs, NULL)) < 0)
		return rc;
	rc = keys_take(rs, out);
	switchyard__kv_response__free_unpacked(rs, NULL);
	if (rc < 0)
		ws_kv_keys_free(out);
	return rc;
}
