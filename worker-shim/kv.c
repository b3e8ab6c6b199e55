/*
 * ws_kv_*: one KV_REQUEST to the supervisor on a stream of this worker's
 * own (from the subrequest counter), answered at once by one KV_RESPONSE;
 * a value over SY_KV_INLINE_MAX follows either in KV_VALUE frames.
 * The supervisor answers KV requests synchronously, so a CANCEL of the
 * request being handled that arrives meanwhile is noted (as ws_dispatch
 * does) and the answer still awaited: nothing is left in flight.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

enum { KV_OP_GET = 1, KV_OP_PUT = 2, KV_OP_DELETE = 3, KV_OP_LIST = 4 };

static int key_ok(const char *key)
{
	size_t n;

	return key != NULL && (n = strlen(key)) > 0 && n <= WS_KV_KEY_MAX;
}

static int binding_ok(const char *b)
{
	return b != NULL && b[0] != '\0' && strlen(b) < 64;
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

/* Sends rq; *out is the answer when it says success (else freed). */
static int kv_do(Switchyard__KvRequest *rq, const void *val, size_t len,
                 Switchyard__KvResponse **out, char **big)
{
	Switchyard__KvResponse *rs;
	int rc;

	if ((rc = kv_call(rq, val, len, &rs, big)) < 0)
		return rc;
	if (rs->code != 0) {
		rc = rs->code < 0 && rs->code >= WS_EFETCH ? rs->code
		                                            : WS_EINTERNAL;
		switchyard__kv_response__free_unpacked(rs, NULL);
		return rc;
	}
	if (out != NULL)
		*out = rs;
	else
		switchyard__kv_response__free_unpacked(rs, NULL);
	return 0;
}

int ws_kv_get(const char *binding, const char *key, void **val, size_t *len)
{
	Switchyard__KvRequest rq = SWITCHYARD__KV_REQUEST__INIT;
	Switchyard__KvResponse *rs;
	char *p = NULL;
	size_t n;
	int rc;

	if (val == NULL)
		return WS_EINVAL;
	*val = NULL;
	if (len != NULL)
		*len = 0;
	if (!binding_ok(binding) || !key_ok(key))
		return WS_EINVAL;
	rq.op = KV_OP_GET;
	rq.binding = (char *)binding;
	rq.key = (char *)key;
	if ((rc = kv_do(&rq, NULL, 0, &rs, &p)) < 0)
		return rc;
	n = p != NULL ? rs->value_len : rs->value.len;
	if (p == NULL && (p = malloc(n + 1)) != NULL) {
		if (n > 0)
			memcpy(p, rs->value.data, n);
		p[n] = '\0';
	}
	switchyard__kv_response__free_unpacked(rs, NULL);
	if (p == NULL)
		return WS_ENOMEM;
	if (len != NULL)
		*len = n;
	*val = p;
	return 0;
}

int ws_kv_put(const char *binding, const char *key, const void *val,
              size_t len, uint32_t ttl_s)
{
	Switchyard__KvRequest rq = SWITCHYARD__KV_REQUEST__INIT;

	if (!binding_ok(binding) || !key_ok(key) || len > WS_KV_VALUE_MAX ||
	    (len > 0 && val == NULL))
		return WS_EINVAL;
	rq.op = KV_OP_PUT;
	rq.binding = (char *)binding;
	rq.key = (char *)key;
	rq.ttl = ttl_s;
	return kv_do(&rq, val, len, NULL, NULL);
}

int ws_kv_delete(const char *binding, const char *key)
{
	Switchyard__KvRequest rq = SWITCHYARD__KV_REQUEST__INIT;

	if (!binding_ok(binding) || !key_ok(key))
		return WS_EINVAL;
	rq.op = KV_OP_DELETE;
	rq.binding = (char *)binding;
	rq.key = (char *)key;
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
	rq.op = KV_OP_LIST;
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
