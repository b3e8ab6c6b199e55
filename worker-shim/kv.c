/*
 * ws_kv_*: one KV_REQUEST to the supervisor on a stream of this worker's
 * own (from the subrequest counter), answered at once by one KV_RESPONSE.
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

/* Sends rq and waits for its answer: 0 with *out, or WS_E*. */
static int kv_call(Switchyard__KvRequest *rq, Switchyard__KvResponse **out)
{
	struct shim_chan *c = &shim_chan;
	struct sy_frame f;
	uint32_t stream;

	if (c->state != CHAN_OPEN)
		return WS_EIO;
	stream = c->next_sub++;
	if (c->next_sub == 0)
		c->next_sub = 1;
	if (sy_writer_msg(&c->wr, SY_MSG_KV_REQUEST, SY_FLAG_END, stream,
	                  &rq->base) < 0)
		return errno == EMSGSIZE ? WS_EINVAL : WS_ENOMEM;
	if (sy_writer_flush_all(&c->wr, c->fd) < 0) {
		c->state = CHAN_BROKEN;
		return WS_EIO;
	}
	for (;;) {
		if (chan_recv(&f) <= 0)
			return WS_EIO;
		if (f.type == SY_MSG_CANCEL && f.stream == c->stream) {
			c->canceled = 1;
			continue;
		}
		if (chan_stale(&f, 0) || f.type == SY_MSG_CANCEL)
			continue;
		break;
	}
	if (f.type != SY_MSG_KV_RESPONSE || f.stream != stream ||
	    (*out = switchyard__kv_response__unpack(NULL, f.len,
	                                            f.payload)) == NULL) {
		c->state = CHAN_BROKEN;
		return WS_EIO;
	}
	return 0;
}

/* Sends rq; *out is the answer when it says success (else freed). */
static int kv_do(Switchyard__KvRequest *rq, Switchyard__KvResponse **out)
{
	Switchyard__KvResponse *rs;
	int rc;

	if ((rc = kv_call(rq, &rs)) < 0)
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
	char *p;
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
	if ((rc = kv_do(&rq, &rs)) < 0)
		return rc;
	if ((p = malloc(rs->value.len + 1)) == NULL) {
		switchyard__kv_response__free_unpacked(rs, NULL);
		return WS_ENOMEM;
	}
	if (rs->value.len > 0)
		memcpy(p, rs->value.data, rs->value.len);
	p[rs->value.len] = '\0';
	if (len != NULL)
		*len = rs->value.len;
	*val = p;
	switchyard__kv_response__free_unpacked(rs, NULL);
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
	rq.value.data = (uint8_t *)val;
	rq.value.len = len;
	rq.ttl = ttl_s;
	return kv_do(&rq, NULL);
}

int ws_kv_delete(const char *binding, const char *key)
{
	Switchyard__KvRequest rq = SWITCHYARD__KV_REQUEST__INIT;

	if (!binding_ok(binding) || !key_ok(key))
		return WS_EINVAL;
	rq.op = KV_OP_DELETE;
	rq.binding = (char *)binding;
	rq.key = (char *)key;
	return kv_do(&rq, NULL);
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
	if ((rc = kv_do(&rq, &rs)) < 0)
		return rc;
	rc = keys_take(rs, out);
	switchyard__kv_response__free_unpacked(rs, NULL);
	if (rc < 0)
		ws_kv_keys_free(out);
	return rc;
}
