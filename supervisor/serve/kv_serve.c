/*
 * Workers' KV requests (KV_REQUEST, KV_VALUE), allowed only through the
 * bindings declared when the version a process runs was deployed, served
 * from the supervisor's store (state/kvstore.c); the KV requests served
 * per worker and namespace, for /metrics; and the generations appended to
 * each request a process takes. Every field from a worker is checked here;
 * kv.c checks them again. yardctl's `kv` is control/ctl_kv.c.
 *
 * A value over SY_KV_INLINE_MAX does not fit one frame with its message:
 * a worker's put announces value_len and sends the bytes in KV_VALUE
 * frames, kept here until whole; a get answers value_len and KV_VALUE
 * frames.
 *
 * Every committed write bumps its namespace's generation
 * (kvstore_written), which is what lets workers cache what they read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "names.h"
#include "serve/kv_serve.h"
#include "serve/peer.h"
#include "serve/pool.h"
#include "state/kvstore.h"
#include "state/registry.h"
#include "util.h"

/* Seconds between two "store full" warnings: a tenant retrying its puts
 * must not flood the log. */
#define FULL_LOG_EVERY_S 10

/*
 * A put whose value is arriving in KV_VALUE frames. A process has at most
 * one (its shim waits for the answer before it sends anything else), so
 * what they hold is bounded by the processes the plans allow, at most
 * SY_KV_VALUE_MAX bytes each.
 */
struct kv_upload {
	struct proc *p;
	uint32_t stream;
	Switchyard__KvRequest *rq; /* owned */
	int code;                  /* the answer if not 0 (the put was
	                            * refused up front: nothing is kept) */
	uint8_t *buf;              /* len bytes; NULL: refused, or out of
	                            * memory (answered SY_KV_ENOMEM) */
	size_t len, got;
	struct kv_upload *next;
};

static struct kv_upload *uploads;
static int64_t full_logged;              /* last "store full" warning */

/* KV requests served, per worker and namespace (KvCount, /metrics);
 * at most COUNT_MAX pairs are counted, the supervisor's memory being
 * bounded: more are left out, with one warning. */
#define COUNT_BUCKETS 256
#define COUNT_MAX 4096
struct kv_count {
	char worker[2 * SY_NAME_MAX];
	char ns[SY_NAME_MAX];
	uint64_t ops[SY_KV_OP_LIST + 1];
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

static void kv_count_op(const struct proc *p, const char *ns, uint32_t op);

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static const struct kv_binding *find_binding(const struct proc *p,
                                             const char *name)
{
	const struct kv_binding *b;
	size_t i, n;

	b = registry_kv_get(p->worker, p->version, &n);
	for (i = 0; i < n; i++)
		if (strcmp(b[i].name, name) == 0)
			return &b[i];
	return NULL;
}

/* A kv.c result as a KvResponse code, logging what only the platform
 * can fix. */
static int wire_code(int rc, const struct proc *p, const char *ns)
{
	char full[256];

	switch (rc) {
	case 0: return 0;
	case -ENOENT: return SY_KV_ENOTFOUND;
	case -EINVAL: return SY_KV_EINVAL;
	case -ENOMEM: return SY_KV_ENOMEM;
	case -ENOSPC:
		if (now_s() - full_logged >= FULL_LOG_EVERY_S) {
			full_logged = now_s();
			log_warnx("kv: %s: %s", p->worker,
			          kvstore_full_text(ns, full, sizeof(full)));
		}
		return SY_KV_EINTERNAL;
	default:
		log_warnx("kv: %s, namespace %s: %s", p->worker, ns,
		          rc == -EMLINK ? "too many KV namespaces"
		                        : "store failed");
		return SY_KV_EINTERNAL;
	}
}

static int op_write(struct kv *kv, const struct proc *p,
                    const struct kv_binding *b,
                    const Switchyard__KvRequest *rq, const void *val,
                    size_t len)
{
	int64_t exp = 0;
	int rc;

	if (b->ro)
		return SY_KV_EDENIED;
	if (!sy_kv_key_valid(rq->key, strlen(rq->key)))
		return SY_KV_EINVAL;
	if (len > SY_KV_VALUE_MAX)
		return SY_KV_EINVAL;
	if (rq->ttl > 0)
		exp = now_s() + rq->ttl;
	rc = rq->op == SY_KV_OP_DELETE ? kv_delete(kv, b->ns, rq->key)
	                            : kv_put(kv, b->ns, rq->key, val, len, exp);
	if (rc == 0)
		kvstore_written(b->ns);
	return wire_code(rc, p, b->ns);
}

/* A get's value is sent from the store's map, uncopied: the caller ends
 * the view (kv_view_end) once the answer is queued. */
static int op_read(struct kv *kv, const struct proc *p,
                   const struct kv_binding *b,
                   const Switchyard__KvRequest *rq,
                   Switchyard__KvResponse *rs, struct kv_keys *keys)
{
	const void *val;
	size_t len;
	int rc;

	if (rq->op == SY_KV_OP_GET) {
		if (!sy_kv_key_valid(rq->key, strlen(rq->key)))
			return SY_KV_EINVAL;
		rc = kv_view(kv, b->ns, rq->key, now_s(), &val, &len,
		             &rs->expiration);
		rs->gen = kvstore_gen(b->ns);
		rs->value.data = (uint8_t *)val;
		rs->value.len = rc == 0 ? len : 0;
		return wire_code(rc, p, b->ns);
	}
	if (strlen(rq->prefix) > SY_KV_KEY_MAX || strlen(rq->cursor) > SY_KV_KEY_MAX)
		return SY_KV_EINVAL;
	rc = kv_list(kv, b->ns, rq->prefix, rq->cursor, rq->limit, now_s(),
	             keys);
	rs->keys = keys->keys;
	rs->n_keys = keys->n;
	rs->cursor = keys->cursor != NULL ? keys->cursor : "";
	return wire_code(rc, p, b->ns);
}

/* rq with its value (val, len: inline or assembled from KV_VALUE). */
static int kv_serve(const struct proc *p, const Switchyard__KvRequest *rq,
                    const void *val, size_t len, Switchyard__KvResponse *rs,
                    struct kv_keys *keys)
{
	const struct kv_binding *b = find_binding(p, rq->binding);
	char err[512];
	struct kv *kv;

	if (b == NULL)
		return SY_KV_EDENIED;
	if (rq->op >= SY_KV_OP_GET && rq->op <= SY_KV_OP_LIST)
		kv_count_op(p, b->ns, rq->op);
	if ((kv = kvstore_open(err, sizeof(err))) == NULL) {
		log_warnx("%s", err);
		return SY_KV_EINTERNAL;
	}
	switch (rq->op) {
	case SY_KV_OP_GET:
	case SY_KV_OP_LIST:
		return op_read(kv, p, b, rq, rs, keys);
	case SY_KV_OP_PUT:
	case SY_KV_OP_DELETE:
		return op_write(kv, p, b, rq, val, len);
	default:
		return SY_KV_EINVAL;
	}
}

static void kv_violation(struct proc *p, const char *what)
{
	char why[192];

	snprintf(why, sizeof(why), "protocol error: %s", what);
	pool_kill(p, why, BLAME_PROTOCOL);
}

/* A value over SY_KV_INLINE_MAX: value_len in the KvResponse, the bytes in
 * KV_VALUE frames after it. A channel whose queue bound (sized from
 * [router] max_body_bytes) could not take them fails the get, not the
 * process. */
static void send_large(struct proc *p, uint32_t stream,
                       Switchyard__KvResponse *rs)
{
	const uint8_t *v = rs->value.data;
	size_t len = rs->value.len, off, n;
	size_t need = len + (len / SY_BODY_CHUNK + 2) * SY_FRAME_HDR_LEN + 64;

	rs->value.data = NULL;
	rs->value.len = 0;
	if (p->peer.out_max > 0 &&
	    sy_writer_pending(&p->peer.wr) + need > p->peer.out_max) {
		log_warnx("kv: %s: a value of %zu bytes does not fit the queue "
		          "of its channel (%zu bytes)", p->worker, len,
		          p->peer.out_max);
		rs->code = SY_KV_EINTERNAL;
		rs->expiration = 0;
		peer_send_msg(&p->peer, SY_MSG_KV_RESPONSE, SY_FLAG_END, stream,
		              &rs->base);
		return;
	}
	rs->value_len = (uint32_t)len;
	peer_send_msg(&p->peer, SY_MSG_KV_RESPONSE, 0, stream, &rs->base);
	for (off = 0; off < len; off += n) {
		n = len - off < SY_BODY_CHUNK ? len - off : SY_BODY_CHUNK;
		peer_send_raw(&p->peer, SY_MSG_KV_VALUE,
		              off + n == len ? SY_FLAG_END : 0, stream, v + off,
		              n);
	}
}

/* Serves rq and sends its answer on stream. */
static void kv_answer(struct proc *p, uint32_t stream,
                      const Switchyard__KvRequest *rq, const void *val,
                      size_t len)
{
	Switchyard__KvResponse rs = SWITCHYARD__KV_RESPONSE__INIT;
	struct kv_keys keys;

	memset(&keys, 0, sizeof(keys));
	rs.code = kv_serve(p, rq, val, len, &rs, &keys);
	if (rs.value.len > SY_KV_INLINE_MAX)
		send_large(p, stream, &rs);
	else
		peer_send_msg(&p->peer, SY_MSG_KV_RESPONSE, SY_FLAG_END,
		              stream, &rs.base);
	kvstore_view_end();
	kv_keys_free(&keys);
}

static void kv_answer_code(struct proc *p, uint32_t stream, int code)
{
	Switchyard__KvResponse rs = SWITCHYARD__KV_RESPONSE__INIT;

	rs.code = code;
	peer_send_msg(&p->peer, SY_MSG_KV_RESPONSE, SY_FLAG_END, stream,
	              &rs.base);
}

static struct kv_upload **upload_find(const struct proc *p)
{
	struct kv_upload **pp;

	for (pp = &uploads; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->p == p)
			return pp;
	return NULL;
}

/* Unlinks *pp and frees it. */
static void upload_free(struct kv_upload **pp)
{
	struct kv_upload *u = *pp;

	*pp = u->next;
	switchyard__kv_request__free_unpacked(u->rq, NULL);
	free(u->buf);
	free(u);
}

void kv_channel_closed(struct proc *p)
{
	struct kv_upload **pp = upload_find(p);

	if (pp != NULL)
		upload_free(pp);
}

/* A put the binding refuses is refused before its value is kept. */
static int upload_precheck(const struct proc *p,
                           const Switchyard__KvRequest *rq)
{
	const struct kv_binding *b = find_binding(p, rq->binding);

	if (b == NULL || b->ro)
		return SY_KV_EDENIED;
	if (!sy_kv_key_valid(rq->key, strlen(rq->key)))
		return SY_KV_EINVAL;
	return 0;
}

/* A put announcing value_len bytes in KV_VALUE frames; takes rq. The
 * length is judged before anything is allocated for it. */
static void upload_start(struct proc *p, uint32_t stream,
                         Switchyard__KvRequest *rq)
{
	struct kv_upload *u;
	char why[160] = "";

	if (upload_find(p) != NULL)
		snprintf(why, sizeof(why), "KV_REQUEST while a KV value is "
		         "still being sent");
	else if (rq->op != SY_KV_OP_PUT || rq->value.len != 0)
		snprintf(why, sizeof(why), "KV_REQUEST without END that is "
		         "not a put of a KV_VALUE stream");
	else if (rq->value_len == 0 || rq->value_len > SY_KV_VALUE_MAX)
		snprintf(why, sizeof(why), "KV value of %u bytes announced "
		         "(1-%u)", rq->value_len, SY_KV_VALUE_MAX);
	if (why[0] != '\0') {
		switchyard__kv_request__free_unpacked(rq, NULL);
		kv_violation(p, why);
		return;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL) {
		switchyard__kv_request__free_unpacked(rq, NULL);
		pool_kill(p, "kv: out of memory for a KV value", BLAME_PLATFORM);
		return;
	}
	u->p = p;
	u->stream = stream;
	u->rq = rq;
	u->len = rq->value_len;
	if ((u->code = upload_precheck(p, rq)) == 0 &&
	    (u->buf = malloc(u->len)) == NULL)
		u->code = SY_KV_ENOMEM;
	u->next = uploads;
	uploads = u;
}

void kv_worker_request(struct proc *p, const struct sy_frame *f)
{
	Switchyard__KvRequest *rq;

	rq = switchyard__kv_request__unpack(NULL, f->len, f->payload);
	if (rq == NULL) {
		kv_violation(p, "malformed KvRequest");
		return;
	}
	if (!(f->flags & SY_FLAG_END)) {
		upload_start(p, f->stream, rq);
		return;
	}
	if (rq->value_len != 0) {
		switchyard__kv_request__free_unpacked(rq, NULL);
		kv_violation(p, "KvRequest with value_len but no KV_VALUE");
		return;
	}
	kv_answer(p, f->stream, rq, rq->value.data, rq->value.len);
	switchyard__kv_request__free_unpacked(rq, NULL);
}

/* What is wrong with f as the next part of u's value, or NULL. */
static const char *value_check(const struct kv_upload *u,
                               const struct sy_frame *f, char *why,
                               size_t size)
{
	if (f->stream != u->stream)
		snprintf(why, size, "KV_VALUE on stream %u, the value being "
		         "sent is on stream %u", f->stream, u->stream);
	else if (f->flags & SY_FLAG_ABORT)
		snprintf(why, size, "KV_VALUE aborted");
	else if (f->len > u->len - u->got)
		snprintf(why, size, "KV value longer than the %zu bytes "
		         "announced", u->len);
	else if ((f->flags & SY_FLAG_END) && u->got + f->len != u->len)
		snprintf(why, size, "KV value of %zu bytes, %zu announced",
		         u->got + f->len, u->len);
	else
		return NULL;
	return why;
}

void kv_worker_value(struct proc *p, const struct sy_frame *f)
{
	struct kv_upload **pp = upload_find(p), *u;
	char why[160];

	if (pp == NULL) {
		kv_violation(p, "KV_VALUE with no KV_REQUEST before it");
		return;
	}
	u = *pp;
	if (value_check(u, f, why, sizeof(why)) != NULL) {
		upload_free(pp);
		kv_violation(p, why);
		return;
	}
	if (u->buf != NULL && f->len > 0)
		memcpy(u->buf + u->got, f->payload, f->len);
	u->got += f->len;
	if (!(f->flags & SY_FLAG_END))
		return;
	if (u->code != 0)
		kv_answer_code(p, u->stream, u->code);
	else
		kv_answer(p, u->stream, u->rq, u->buf, u->len);
	upload_free(pp);
}

void kv_serve_fini(void)
{
	struct kv_count *k;
	size_t i;

	while (uploads != NULL)
		kv_channel_closed(uploads->p);
	for (i = 0; i < COUNT_BUCKETS; i++) {
		while ((k = counts[i]) != NULL) {
			counts[i] = k->next;
			free(k);
		}
	}
	ncounts = 0;
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
	n += sy_pb_varint(p + n, kvstore_gen(b->ns));
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
static void kv_count_op(const struct proc *p, const char *ns, uint32_t op)
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
			one->n_ops = SY_KV_OP_LIST + 1;
			one->ops = k->ops;
			out[(*n)++] = one++;
		}
	}
	return out;
}
