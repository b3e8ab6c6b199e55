/*
 * yardctl kv get|put|delete|list|import|drop: the supervisor's store
 * (state/kvstore.c) reached by the operator, with no bindings in between.
 * yardctl, whose socket carries one frame each way, passes a value larger
 * than a frame as a file descriptor.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "control/ctl.h"
#include "frame.h"
#include "log.h"
#include "state/kvstore.h"
#include "state/registry.h"
#include "util.h"

static char list_cursor[SY_KV_KEY_MAX + 1]; /* kv list's answer, until sent */

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* A kv.c failure as the command's answer. */
static void ctl_kv_fail(struct ctl_reply *rep, const char *what,
                        const char *ns, int rc)
{
	char full[256];

	if (rc == -ENOSPC)
		ctl_fail(rep, CTL_FAIL, "kv %s: %s", what,
		         kvstore_full_text(ns, full, sizeof(full)));
	else if (rc == -EMLINK)
		ctl_fail(rep, CTL_FAIL, "kv %s %s: too many KV namespaces "
		         "(at most %d)", what, ns, KV_MAX_NS);
	else if (rc == -ENOENT)
		ctl_fail(rep, CTL_UNKNOWN_WORKER, "kv %s %s: no such key", what,
		         ns);
	else if (rc == -EINVAL)
		ctl_fail(rep, CTL_BAD_INPUT, "kv %s %s: invalid key or value "
		         "(keys 1-%d bytes without NUL, values at most %u "
		         "bytes)", what, ns, SY_KV_KEY_MAX, SY_KV_VALUE_MAX);
	else
		ctl_fail(rep, CTL_FAIL, "kv %s %s: %s", what, ns,
		         rc == -ENOMEM ? strerror(ENOMEM) : "store failed");
}

/* A write that would create namespace ns must leave room for those the
 * current versions bind (their first write creates them): 0, or -1 with
 * rep failed. */
static int ctl_kv_room(struct kv *kv, const char *what, const char *ns,
                       struct ctl_reply *rep)
{
	char why[512];
	size_t bad;

	if (kv_has_ns(kv, ns) || registry_kv_room(&ns, 1, &bad, why,
	                                          sizeof(why)) == 0)
		return 0;
	ctl_fail(rep, CTL_FAIL, "kv %s %s: %s", what, ns, why);
	return -1;
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
 * SY_KV_VALUE_MAX bytes. 0 with *buf (malloc'd) and *len, or -1 with rep
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
	if (st.st_size > (off_t)SY_KV_VALUE_MAX) {
		ctl_fail(rep, CTL_BAD_INPUT, "kv put %s: value of %lld bytes is "
		         "over the limit of %u bytes", ns,
		         (long long)st.st_size, SY_KV_VALUE_MAX);
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

	if (req->n_kv_pairs == 0 || ctl_kv_room(kv, "import", ns, rep) == -1)
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
		kvstore_written(ns);
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
	if (strcmp(op, "put") == 0 && ctl_kv_room(kv, op, ns, rep) == -1)
		return;
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
	kvstore_written(ns);
	log_debug("control: uid %u: kv %s %s", (unsigned)rep->uid, op, ns);
}

/* drop: the namespace and its keys go, unless a current version binds it
 * (its worker would find it gone); its generation changes, so no cache
 * keeps what it held. */
static void ctl_kv_drop(struct kv *kv, const char *ns, struct ctl_reply *rep)
{
	char users[512];
	size_t n;
	int rc;

	if ((n = registry_kv_users(ns, users, sizeof(users))) > 0) {
		ctl_fail(rep, CTL_BAD_INPUT, "kv drop %s: bound by the current "
		         "version of %s%s (%zu worker%s): first deploy versions "
		         "that do not bind it", ns, users,
		         strlen(users) + 1 >= sizeof(users) ? "..." : "", n,
		         n == 1 ? "" : "s");
		return;
	}
	if ((rc = kv_drop(kv, ns)) == -ENOENT) {
		ctl_fail(rep, CTL_UNKNOWN_WORKER, "kv drop %s: no such KV "
		         "namespace", ns);
		return;
	}
	if (rc != 0) {
		ctl_kv_fail(rep, "drop", ns, rc);
		return;
	}
	kvstore_written(ns);
	snprintf(rep->message, sizeof(rep->message), "kv drop %s: dropped",
	         ns);
	log_info("control: uid %u: kv drop %s", (unsigned)rep->uid, ns);
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
	if ((kv = kvstore_open(err, sizeof(err))) == NULL) {
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
	else if (strcmp(op, "drop") == 0)
		ctl_kv_drop(kv, ns, rep);
	else
		ctl_fail(rep, CTL_USAGE, "kv: unknown operation %s", op);
}
