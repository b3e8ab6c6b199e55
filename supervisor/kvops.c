/*
 * The supervisor's KV store (kv.c), opened on first use under
 * state_dir/kv, and the two ways to reach it: a worker's KV_REQUEST,
 * allowed only through the bindings declared when its version was
 * deployed, and yardctl's `kv` command. Every field from a worker is
 * checked here; kv.c checks them again.
 *
 * A value over SY_KV_INLINE_MAX does not fit one frame with its message:
 * a worker's put announces value_len and sends the bytes in KV_VALUE
 * frames, kept here until whole; a get answers value_len and KV_VALUE
 * frames. yardctl, whose socket carries one frame each way, passes such a
 * value as a file descriptor instead.
 *
 * Every committed write bumps its namespace's generation (kvgen.c), which
 * is what lets workers cache what they read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "kv.h"
#include "log.h"
#include "main.h"
#include "peer.h"
#include "pool.h"
#include "store.h"
#include "supervisor.h"
#include "util.h"
#include "workershim.h"

/* Seconds between two "store full" warnings: a tenant retrying its puts
 * must not flood the log. */
#define FULL_LOG_EVERY_S 10

/*
 * A put whose value is arriving in KV_VALUE frames. A process has at most
 * one (its shim waits for the answer before it sends anything else), so
 * what they hold is bounded by the processes the plans allow, at most
 * KV_VALUE_MAX bytes each.
 */
struct kv_upload {
	struct proc *p;
	uint32_t stream;
	Switchyard__KvRequest *rq; /* owned */
	int code;                  /* the answer if not 0 (the put was
	                            * refused up front: nothing is kept) */
	uint8_t *buf;              /* len bytes; NULL: refused, or out of
	                            * memory (answered WS_ENOMEM) */
	size_t len, got;
	struct kv_upload *next;
};

static struct kv *kv_db;
static uint64_t kv_mapsize_cfg = KV_MAPSIZE_DEFAULT;
static struct kv_upload *uploads;
static char list_cursor[KV_KEY_MAX + 1]; /* kv list's answer, until sent */
static int64_t full_logged;              /* last "store full" warning */

void kv_set_max_mb(uint32_t mb)
{
	kv_mapsize_cfg = (uint64_t)mb << 20;
}

static struct kv *kv_store(char *err, size_t errlen)
{
	char dir[4096];

	if (kv_db != NULL)
		return kv_db;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/kv", sup_conf->state_dir) >=
	    sizeof(dir)) {
		snprintf(err, errlen, "kv: state_dir path too long");
		return NULL;
	}
	if (kv_open(dir, kv_mapsize_cfg, &kv_db, err, errlen) != 0)
		return NULL;
	log_info("kv: store open in %s (map size %llu MiB, [switchyard] "
	         "kv_max_mb)", dir, (unsigned long long)(kv_mapsize(kv_db) >> 20));
	return kv_db;
}

void kv_shutdown(void)
{
	while (uploads != NULL)
		kv_channel_closed(uploads->p);
	kv_counts_free();
	kv_close(kv_db);
	kv_db = NULL;
}

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* What a full store says: the namespace, and the setting to raise. */
static const char *full_text(const char *ns, char *buf, size_t size)
{
	snprintf(buf, size, "namespace %s: KV store full (its map of %llu MiB "
	         "is used up: raise [switchyard] kv_max_mb and restart)", ns,
	         (unsigned long long)(kv_db ? kv_mapsize(kv_db) >> 20 : 0));
	return buf;
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

/* A kv.c result as a WS_E* code, logging what only the platform can fix. */
static int ws_code(int rc, const struct proc *p, const char *ns)
{
	char full[256];

	switch (rc) {
	case 0: return 0;
	case -ENOENT: return WS_ENOTFOUND;
	case -EINVAL: return WS_EINVAL;
	case -ENOMEM: return WS_ENOMEM;
	case -ENOSPC:
		if (now_s() - full_logged >= FULL_LOG_EVERY_S) {
			full_logged = now_s();
			log_warnx("kv: %s: %s", p->worker,
			          full_text(ns, full, sizeof(full)));
		}
		return WS_EINTERNAL;
	default:
		log_warnx("kv: %s, namespace %s: %s", p->worker, ns,
		          rc == -EMLINK ? "too many KV namespaces"
		                        : "store failed");
		return WS_EINTERNAL;
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
		return WS_EDENIED;
	if (!kv_valid_key(rq->key, strlen(rq->key)))
		return WS_EINVAL;
	if (len > KV_VALUE_MAX)
		return WS_EINVAL;
	if (rq->ttl > 0)
		exp = now_s() + rq->ttl;
	rc = rq->op == KV_OP_DELETE ? kv_delete(kv, b->ns, rq->key)
	                            : kv_put(kv, b->ns, rq->key, val, len, exp);
	if (rc == 0)
		kv_gen_bump(b->ns);
	return ws_code(rc, p, b->ns);
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

	if (rq->op == KV_OP_GET) {
		if (!kv_valid_key(rq->key, strlen(rq->key)))
			return WS_EINVAL;
		rc = kv_view(kv, b->ns, rq->key, now_s(), &val, &len,
		             &rs->expiration);
		rs->gen = kv_gen_of(b->ns);
		rs->value.data = (uint8_t *)val;
		rs->value.len = rc == 0 ? len : 0;
		return ws_code(rc, p, b->ns);
	}
	if (strlen(rq->prefix) > KV_KEY_MAX || strlen(rq->cursor) > KV_KEY_MAX)
		return WS_EINVAL;
	rc = kv_list(kv, b->ns, rq->prefix, rq->cursor, rq->limit, now_s(),
	             keys);
	rs->keys = keys->keys;
	rs->n_keys = keys->n;
	rs->cursor = keys->cursor != NULL ? keys->cursor : "";
	return ws_code(rc, p, b->ns);
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
		return WS_EDENIED;
	if (rq->op >= KV_OP_GET && rq->op <= KV_OP_LIST)
		kv_count_op(p, b->ns, rq->op);
	if ((kv = kv_store(err, sizeof(err))) == NULL) {
		log_warnx("%s", err);
		return WS_EINTERNAL;
	}
	switch (rq->op) {
	case KV_OP_GET:
	case KV_OP_LIST:
		return op_read(kv, p, b, rq, rs, keys);
	case KV_OP_PUT:
	case KV_OP_DELETE:
		return op_write(kv, p, b, rq, val, len);
	default:
		return WS_EINVAL;
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
		rs->code = WS_EINTERNAL;
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
	if (kv_db != NULL)
		kv_view_end(kv_db);
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
		return WS_EDENIED;
	if (!kv_valid_key(rq->key, strlen(rq->key)))
		return WS_EINVAL;
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
	else if (rq->op != KV_OP_PUT || rq->value.len != 0)
		snprintf(why, sizeof(why), "KV_REQUEST without END that is "
		         "not a put of a KV_VALUE stream");
	else if (rq->value_len == 0 || rq->value_len > KV_VALUE_MAX)
		snprintf(why, sizeof(why), "KV value of %u bytes announced "
		         "(1-%u)", rq->value_len, KV_VALUE_MAX);
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
		u->code = WS_ENOMEM;
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

/* ---- yardctl kv ---- */

/* A kv.c failure as the command's answer. */
static void ctl_kv_fail(struct ctl_reply *rep, const char *what,
                        const char *ns, int rc)
{
	char full[256];

	if (rc == -ENOSPC)
		ctl_fail(rep, CTL_FAIL, "kv %s: %s", what,
		         full_text(ns, full, sizeof(full)));
	else if (rc == -EMLINK)
		ctl_fail(rep, CTL_FAIL, "kv %s %s: too many KV namespaces "
		         "(at most %d)", what, ns, KV_MAX_NS);
	else if (rc == -ENOENT)
		ctl_fail(rep, CTL_UNKNOWN_WORKER, "kv %s %s: no such key", what,
		         ns);
	else if (rc == -EINVAL)
		ctl_fail(rep, CTL_BAD_INPUT, "kv %s %s: invalid key or value "
		         "(keys 1-%d bytes without NUL, values at most %u "
		         "bytes)", what, ns, KV_KEY_MAX, KV_VALUE_MAX);
	else
		ctl_fail(rep, CTL_FAIL, "kv %s %s: %s", what, ns,
		         rc == -ENOMEM ? strerror(ENOMEM) : "store failed");
}

/* A value too large for the CtlResponse frame goes into the descriptor
 * yardctl passed with the request (a memfd it reads back), never into a
 * pipe or socket, whose reader could block the supervisor. */
static void ctl_value_to_fd(int fd, const char *ns, const void *val,
                            size_t len, struct ctl_reply *rep)
{
	struct stat st;
	size_t off = 0;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		ctl_fail(rep, CTL_FAIL, "kv get %s: the value (%zu bytes) is "
		         "larger than one frame and no file was passed for it",
		         ns, len);
		return;
	}
	while (off < len) {
		n = pwrite(fd, (const char *)val + off, len - off, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			ctl_fail(rep, CTL_FAIL, "kv get %s: writing the value to "
			         "the passed file: %s", ns,
			         n == -1 ? strerror(errno) : "short write");
			return;
		}
		off += (size_t)n;
	}
	rep->res.kv_value_len = (uint32_t)len;
}

/* Reads a put's value from the descriptor yardctl passed: a regular file
 * (never a pipe: reading it could block the supervisor) of at most
 * KV_VALUE_MAX bytes. 0 with *buf (malloc'd) and *len, or -1 with rep
 * failed. */
static int ctl_value_from_fd(int fd, const char *ns, struct ctl_reply *rep,
                             uint8_t **buf, size_t *len)
{
	struct stat st;
	size_t cap, n = 0;
	ssize_t r = 0;

	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		ctl_fail(rep, CTL_BAD_INPUT, "kv put %s: the value must be "
		         "passed as a regular file", ns);
		return -1;
	}
	if (st.st_size > (off_t)KV_VALUE_MAX) {
		ctl_fail(rep, CTL_BAD_INPUT, "kv put %s: value of %lld bytes is "
		         "over the limit of %u bytes", ns,
		         (long long)st.st_size, KV_VALUE_MAX);
		return -1;
	}
	cap = (size_t)st.st_size + 1; /* one more: a file that grew shows */
	if ((*buf = malloc(cap)) == NULL) {
		ctl_kv_fail(rep, "put", ns, -ENOMEM);
		return -1;
	}
	while (n < cap) {
		r = pread(fd, *buf + n, cap - n, (off_t)n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	if (r == -1 || n == cap) {
		ctl_fail(rep, r == -1 ? CTL_FAIL : CTL_BAD_INPUT, "kv put %s: "
		         "reading the value: %s", ns, r == -1 ? strerror(errno)
		         : "the file grew while it was read");
		free(*buf);
		*buf = NULL;
		return -1;
	}
	*len = n;
	return 0;
}

static void ctl_kv_get(struct kv *kv, const Switchyard__CtlRequest *req,
                       int fd, const char *ns, struct ctl_reply *rep)
{
	size_t len;
	void *val;
	int rc;

	rc = kv_get(kv, ns, req->kv_key, now_s(), &val, &len,
	            &rep->res.kv_expiration);
	if (rc != 0) {
		ctl_kv_fail(rep, "get", ns, rc);
		return;
	}
	if (len > SY_KV_INLINE_MAX) {
		ctl_value_to_fd(fd, ns, val, len, rep);
		free(val);
		return;
	}
	rep->output = val;
	rep->res.output.data = val;
	rep->res.output.len = len;
}

static void ctl_kv_list(struct kv *kv, const Switchyard__CtlRequest *req,
                        const char *ns, struct ctl_reply *rep)
{
	struct kv_keys keys;
	size_t i;
	int rc;

	rc = kv_list(kv, ns, req->kv_key, req->kv_cursor, req->kv_limit,
	             now_s(), &keys);
	if (rc != 0) {
		ctl_kv_fail(rep, "list", ns, rc);
		return;
	}
	for (i = 0; i < keys.n; i++)
		if (ctl_line(rep, "%s", keys.keys[i]) == -1)
			break;
	snprintf(list_cursor, sizeof(list_cursor), "%s",
	         keys.cursor ? keys.cursor : "");
	rep->res.kv_cursor = list_cursor;
	kv_keys_free(&keys);
}

static void ctl_kv_import(struct kv *kv, const Switchyard__CtlRequest *req,
                          const char *ns, struct ctl_reply *rep)
{
	struct kv_item *items;
	size_t i, bad = 0;
	int rc;

	if (req->n_kv_pairs == 0)
		return;
	if ((items = calloc(req->n_kv_pairs, sizeof(*items))) == NULL) {
		ctl_kv_fail(rep, "import", ns, -ENOMEM);
		return;
	}
	for (i = 0; i < req->n_kv_pairs; i++) {
		items[i].key = req->kv_pairs[i]->key;
		items[i].val = req->kv_pairs[i]->value.data;
		items[i].len = req->kv_pairs[i]->value.len;
		items[i].expiration = req->kv_pairs[i]->expiration;
	}
	rc = kv_put_batch(kv, ns, items, req->n_kv_pairs, &bad);
	free(items);
	if (rc == 0)
		kv_gen_bump(ns);
	if (rc == -EINVAL)
		ctl_fail(rep, CTL_BAD_INPUT, "kv import %s: key %zu of the "
		         "batch is invalid", ns, bad + 1);
	else if (rc != 0)
		ctl_kv_fail(rep, "import", ns, rc);
	else
		snprintf(rep->message, sizeof(rep->message),
		         "imported %zu keys", req->n_kv_pairs);
}

/* put takes its value inline, or from the file passed as fd. */
static void ctl_kv_write(struct kv *kv, const char *op,
                         const Switchyard__CtlRequest *req, int fd,
                         const char *ns, struct ctl_reply *rep)
{
	int64_t exp = req->kv_ttl ? now_s() + req->kv_ttl : 0;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if (req->kv_expiration != 0)
		exp = req->kv_expiration;
	if (strcmp(op, "put") == 0 && fd >= 0) {
		if (req->kv_value.len > 0) {
			ctl_fail(rep, CTL_USAGE, "kv put %s: both a value and a "
			         "file given", ns);
			return;
		}
		if (ctl_value_from_fd(fd, ns, rep, &buf, &len) == -1)
			return;
		rc = kv_put(kv, ns, req->kv_key, buf, len, exp);
		free(buf);
	} else if (strcmp(op, "put") == 0) {
		rc = kv_put(kv, ns, req->kv_key, req->kv_value.data,
		            req->kv_value.len, exp);
	} else {
		rc = kv_delete(kv, ns, req->kv_key);
	}
	if (rc != 0) {
		ctl_kv_fail(rep, op, ns, rc);
		return;
	}
	kv_gen_bump(ns);
	log_debug("control: uid %u: kv %s %s", (unsigned)rep->uid, op, ns);
}

void ctl_kv(const Switchyard__CtlRequest *req, int fd, struct ctl_reply *rep)
{
	char err[512], op[16], ns[SY_NAME_MAX];
	struct kv *kv;

	if (req->n_args != 2) {
		ctl_fail(rep, CTL_USAGE, "kv: expected OP KVNS");
		return;
	}
	ctl_safe(req->args[0], op, sizeof(op));
	if (!sy_valid_name(req->args[1])) {
		ctl_fail(rep, CTL_BAD_INPUT, "kv %s: invalid KV namespace name "
		         "(1-63 of [a-z0-9_-])", op);
		return;
	}
	snprintf(ns, sizeof(ns), "%s", req->args[1]);
	if ((kv = kv_store(err, sizeof(err))) == NULL) {
		ctl_fail(rep, CTL_FAIL, "%s", err);
		return;
	}
	if (strcmp(op, "get") == 0)
		ctl_kv_get(kv, req, fd, ns, rep);
	else if (strcmp(op, "list") == 0)
		ctl_kv_list(kv, req, ns, rep);
	else if (strcmp(op, "import") == 0)
		ctl_kv_import(kv, req, ns, rep);
	else if (strcmp(op, "put") == 0 || strcmp(op, "delete") == 0)
		ctl_kv_write(kv, op, req, fd, ns, rep);
	else
		ctl_fail(rep, CTL_USAGE, "kv: unknown operation %s", op);
}
