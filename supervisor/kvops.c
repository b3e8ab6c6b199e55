/*
 * The supervisor's KV store (kv.c), opened on first use under
 * state_dir/kv, and the two ways to reach it: a worker's KV_REQUEST,
 * allowed only through the bindings declared when its version was
 * deployed, and yardctl's `kv` command. Every field from a worker is
 * checked here; kv.c checks them again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

enum { KV_OP_GET = 1, KV_OP_PUT = 2, KV_OP_DELETE = 3, KV_OP_LIST = 4 };

static struct kv *kv_db;
static char list_cursor[KV_KEY_MAX + 1]; /* kv list's answer, until sent */

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
	if (kv_open(dir, KV_MAPSIZE_DEFAULT, &kv_db, err, errlen) != 0)
		return NULL;
	log_info("kv: store open in %s", dir);
	return kv_db;
}

void kv_shutdown(void)
{
	kv_close(kv_db);
	kv_db = NULL;
}

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

/* A kv.c result as a WS_E* code, logging what only the platform can fix. */
static int ws_code(int rc, const struct proc *p, const char *ns)
{
	switch (rc) {
	case 0: return 0;
	case -ENOENT: return WS_ENOTFOUND;
	case -EINVAL: return WS_EINVAL;
	case -ENOMEM: return WS_ENOMEM;
	default:
		log_warnx("kv: %s, namespace %s: %s", p->worker, ns,
		          rc == -ENOSPC ? "store full (map size)"
		                        : "store failed");
		return WS_EINTERNAL;
	}
}

static int op_write(struct kv *kv, const struct proc *p,
                    const struct kv_binding *b,
                    const Switchyard__KvRequest *rq)
{
	int64_t exp = 0;

	if (b->ro)
		return WS_EDENIED;
	if (!kv_valid_key(rq->key, strlen(rq->key)))
		return WS_EINVAL;
	if (rq->op == KV_OP_DELETE)
		return ws_code(kv_delete(kv, b->ns, rq->key), p, b->ns);
	if (rq->value.len > KV_VALUE_MAX)
		return WS_EINVAL;
	if (rq->ttl > 0)
		exp = now_s() + rq->ttl;
	return ws_code(kv_put(kv, b->ns, rq->key, rq->value.data,
	                      rq->value.len, exp), p, b->ns);
}

static int op_read(struct kv *kv, const struct proc *p,
                   const struct kv_binding *b,
                   const Switchyard__KvRequest *rq,
                   Switchyard__KvResponse *rs, void **val,
                   struct kv_keys *keys)
{
	size_t len;
	int rc;

	if (rq->op == KV_OP_GET) {
		if (!kv_valid_key(rq->key, strlen(rq->key)))
			return WS_EINVAL;
		rc = kv_get(kv, b->ns, rq->key, now_s(), val, &len,
		            &rs->expiration);
		rs->value.data = *val;
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

static int kv_serve(const struct proc *p, const Switchyard__KvRequest *rq,
                    Switchyard__KvResponse *rs, void **val,
                    struct kv_keys *keys)
{
	const struct kv_binding *b = find_binding(p, rq->binding);
	char err[512];
	struct kv *kv;

	if (b == NULL)
		return WS_EDENIED;
	if ((kv = kv_store(err, sizeof(err))) == NULL) {
		log_warnx("%s", err);
		return WS_EINTERNAL;
	}
	switch (rq->op) {
	case KV_OP_GET:
	case KV_OP_LIST:
		return op_read(kv, p, b, rq, rs, val, keys);
	case KV_OP_PUT:
	case KV_OP_DELETE:
		return op_write(kv, p, b, rq);
	default:
		return WS_EINVAL;
	}
}

void kv_worker_request(struct proc *p, const struct sy_frame *f)
{
	Switchyard__KvResponse rs = SWITCHYARD__KV_RESPONSE__INIT;
	Switchyard__KvRequest *rq;
	struct kv_keys keys;
	void *val = NULL;

	rq = switchyard__kv_request__unpack(NULL, f->len, f->payload);
	if (rq == NULL) {
		pool_kill(p, "protocol: malformed KvRequest", BLAME_PROTOCOL);
		return;
	}
	memset(&keys, 0, sizeof(keys));
	rs.code = kv_serve(p, rq, &rs, &val, &keys);
	peer_send_msg(&p->peer, SY_MSG_KV_RESPONSE, SY_FLAG_END, f->stream,
	              &rs.base);
	free(val);
	kv_keys_free(&keys);
	switchyard__kv_request__free_unpacked(rq, NULL);
}

/* ---- yardctl kv ---- */

/* A kv.c failure as the command's answer. */
static void ctl_kv_fail(struct ctl_reply *rep, const char *what,
                        const char *ns, int rc)
{
	if (rc == -ENOENT)
		ctl_fail(rep, CTL_UNKNOWN_WORKER, "kv %s %s: no such key", what,
		         ns);
	else if (rc == -EINVAL)
		ctl_fail(rep, CTL_BAD_INPUT, "kv %s %s: invalid key or value "
		         "(keys 1-%d bytes without NUL, values at most %u "
		         "bytes)", what, ns, KV_KEY_MAX, KV_VALUE_MAX);
	else
		ctl_fail(rep, CTL_FAIL, "kv %s %s: %s", what, ns,
		         rc == -ENOSPC ? "store full (map size)"
		                       : rc == -ENOMEM ? strerror(ENOMEM)
		                                       : "store failed");
}

static void ctl_kv_get(struct kv *kv, const Switchyard__CtlRequest *req,
                       const char *ns, struct ctl_reply *rep)
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
	if (rc == -EINVAL)
		ctl_fail(rep, CTL_BAD_INPUT, "kv import %s: key %zu of the "
		         "batch is invalid", ns, bad + 1);
	else if (rc != 0)
		ctl_kv_fail(rep, "import", ns, rc);
	else
		snprintf(rep->message, sizeof(rep->message),
		         "imported %zu keys", req->n_kv_pairs);
}

static void ctl_kv_write(struct kv *kv, const char *op,
                         const Switchyard__CtlRequest *req, const char *ns,
                         struct ctl_reply *rep)
{
	int64_t exp = req->kv_ttl ? now_s() + req->kv_ttl : 0;
	int rc;

	if (strcmp(op, "put") == 0)
		rc = kv_put(kv, ns, req->kv_key, req->kv_value.data,
		            req->kv_value.len, exp);
	else
		rc = kv_delete(kv, ns, req->kv_key);
	if (rc != 0)
		ctl_kv_fail(rep, op, ns, rc);
	else
		log_debug("control: uid %u: kv %s %s", (unsigned)rep->uid, op,
		          ns);
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
		ctl_kv_get(kv, req, ns, rep);
	else if (strcmp(op, "list") == 0)
		ctl_kv_list(kv, req, ns, rep);
	else if (strcmp(op, "import") == 0)
		ctl_kv_import(kv, req, ns, rep);
	else if (strcmp(op, "put") == 0 || strcmp(op, "delete") == 0)
		ctl_kv_write(kv, op, req, ns, rep);
	else
		ctl_fail(rep, CTL_USAGE, "kv: unknown operation %s", op);
}
