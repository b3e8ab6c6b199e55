/*
 * Requests: the one a handler is given (filled from the supervisor's
 * Request message) and the ones a worker builds for ws_dispatch; and
 * their context, which only the supervisor writes into a Request.
 */
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "shim.h"

/* workershim.h states the limits on its own, to stay self-contained. */
#define SAME_AS_WIRE(ws, sy) \
	_Static_assert((ws) == (sy), #ws " differs from proto/names.h")
SAME_AS_WIRE(WS_CONTEXT_MAX, SY_CONTEXT_MAX);
SAME_AS_WIRE(WS_CONTEXT_VALUE_MAX, SY_CONTEXT_VALUE_MAX);
SAME_AS_WIRE(WS_CONTEXT_BYTES, SY_CONTEXT_BYTES);

/* Origin form ("/a?b"), plus "*" for OPTIONS when from the platform, or
 * an absolute http(s) URL in a request the worker builds for ws_fetch: no
 * controls or spaces, which would split the request line downstream. */
static int valid_url(const char *url, int allow_star)
{
	const unsigned char *p;

	if (url == NULL)
		return 0;
	if (allow_star && strcmp(url, "*") == 0)
		return 1;
	if (url[0] != '/' && (allow_star || (strncmp(url, "http://", 7) != 0 &&
	                                     strncmp(url, "https://", 8) != 0)))
		return 0;
	for (p = (const unsigned char *)url; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return 0;
	return 1;
}

/* Appends "url\0path\0query\0" after the method, which stays in place. url
 * must not point into req->line. */
static int line_put_url(struct ws_request *req, const char *url)
{
	size_t ul = strlen(url);
	const char *q = strchr(url, '?');
	size_t pl = q ? (size_t)(q - url) : ul;

	req->line.end = req->url;
	if (sy_buf_reserve(&req->line, 2 * ul + 3) < 0)
		return WS_ENOMEM;
	sy_buf_add(&req->line, url, ul + 1);
	req->path = req->line.end;
	sy_buf_add(&req->line, url, pl);
	sy_buf_add(&req->line, "", 1);
	req->query = req->line.end;
	if (q)
		sy_buf_add(&req->line, q + 1, ul - pl - 1);
	sy_buf_add(&req->line, "", 1);
	return 0;
}

static int line_set(struct ws_request *req, const char *method,
                    const char *url)
{
	req->line.end = 0;
	if (sy_buf_add(&req->line, method, strlen(method) + 1) < 0)
		return WS_ENOMEM;
	req->url = req->line.end;
	return line_put_url(req, url);
}

void req_init(struct ws_request *req)
{
	memset(req, 0, sizeof(*req));
}

void req_reset(struct ws_request *req)
{
	sy_buf_reset(&req->line, SHIM_KEEP_MAX);
	req->url = req->path = req->query = 0;
	hdrs_reset(&req->hdrs);
	hdrs_reset(&req->ctx);
	hdrs_reset(&req->touched);
	sy_buf_reset(&req->body, SHIM_KEEP_MAX);
	req->remote[0] = '\0';
	req->url_set = req->body_set = req->body_held = 0;
}

void req_release(struct ws_request *req)
{
	sy_buf_free(&req->line);
	hdrs_free(&req->hdrs);
	hdrs_free(&req->ctx);
	hdrs_free(&req->touched);
	sy_buf_free(&req->body);
}

/* "1.2.3.4:5" or "[::1]:5", as the router writes it. */
static int valid_remote(const char *s)
{
	size_t n = strlen(s);

	return n < sizeof(((struct ws_request *)0)->remote) &&
	       strspn(s, "0123456789abcdefABCDEF.:[]") == n;
}

int req_from_pb(struct ws_request *req, const Switchyard__Request *pb)
{
	size_t i;
	int rc;

	if (!ws_is_token(pb->method) || !valid_url(pb->url, 1) ||
	    !valid_remote(pb->remote_addr))
		return WS_EINVAL;
	memcpy(req->remote, pb->remote_addr, strlen(pb->remote_addr) + 1);
	if ((rc = line_set(req, pb->method, pb->url)) < 0)
		return rc;
	for (i = 0; i < pb->n_headers; i++) {
		const Switchyard__Header *h = pb->headers[i];

		if ((rc = hdrs_add_checked(&req->hdrs, h->name, h->value)) < 0)
			return rc;
	}
	if (sy_context_problem(pb->context, pb->n_context) != NULL)
		return WS_EINVAL;
	for (i = 0; i < pb->n_context; i++)
		if (hdrs_add(&req->ctx, pb->context[i]->name,
		             pb->context[i]->value) < 0)
			return WS_ENOMEM;
	return 0;
}

const char *ws_req_method(const ws_request *req)
{
	return req->line.data ? req->line.data : "";
}

const char *ws_req_url(const ws_request *req)
{
	return req->line.data ? req->line.data + req->url : "";
}

const char *ws_req_path(const ws_request *req)
{
	return req->line.data ? req->line.data + req->path : "";
}

const char *ws_req_query(const ws_request *req)
{
	return req->line.data ? req->line.data + req->query : "";
}

const char *ws_req_remote_addr(const ws_request *req)
{
	return req->remote;
}

const char *ws_req_header(const ws_request *req, const char *name)
{
	int i;

	if (name == NULL || (i = hdrs_find(&req->hdrs, name)) < 0)
		return NULL;
	return hdrs_value(&req->hdrs, i);
}

int ws_req_header_count(const ws_request *req)
{
	return req->hdrs.n;
}

int ws_req_header_at(const ws_request *req, int i, const char **name,
                     const char **value)
{
	return hdrs_at(&req->hdrs, i, name, value);
}

const char *ws_req_context(const ws_request *req, const char *key)
{
	int i;

	if (key == NULL || (i = hdrs_find(&req->ctx, key)) < 0)
		return NULL;
	return hdrs_value(&req->ctx, i);
}

int ws_req_context_at(const ws_request *req, int i, const char **key,
                      const char **value)
{
	return hdrs_at(&req->ctx, i, key, value);
}

/* Bytes of keys and values in h, but for key's entry. */
static size_t ctx_bytes_but(const struct ws_hdrs *h, const char *key)
{
	size_t n = 0;
	int i;

	for (i = 0; i < h->n; i++)
		if (strcmp(hdrs_name(h, i), key) != 0)
			n += strlen(hdrs_name(h, i)) + strlen(hdrs_value(h, i));
	return n;
}

int ws_req_set_context(ws_request *req, const char *key, const char *value)
{
	struct ws_hdrs *h = &req->ctx;

	if (!sy_context_key_valid(key))
		return WS_EINVAL;
	if (value == NULL) {
		hdrs_del(h, key);
		return 0;
	}
	if (!sy_context_value_valid(value) ||
	    (hdrs_find(h, key) < 0 && h->n >= SY_CONTEXT_MAX) ||
	    ctx_bytes_but(h, key) + strlen(key) + strlen(value) >
	    SY_CONTEXT_BYTES)
		return WS_EINVAL;
	return hdrs_set(h, key, value);
}

int req_pull_body(struct ws_request *req)
{
	struct shim_chan *c = &shim_chan;
	int refused = 0, canceled = 0, eof = 0, rc;

	if (!req->body_held)
		return 0;
	req->body_held = 0;
	if (!req->shim_owned || !c->in_handler)
		return WS_EINVAL;
	if ((rc = chan_send_body_pull(c->stream)) < 0 ||
	    (rc = serve_read_body(c->stream, req, &refused, &canceled,
	                          &eof)) < 0)
		return rc;
	if (eof)
		return WS_EIO;
	if (canceled) {
		c->canceled = 1;
		return WS_ECANCELED;
	}
	return refused ? WS_ENOMEM : 0;
}

/* The body is read from the platform at its first use: a dispatch worker
 * that forwards the request without looking at it never has it. */
const void *ws_req_body(const ws_request *req, size_t *len)
{
	/* the handler's own request, which the shim owns */
	if (req->body_held)
		req_pull_body((struct ws_request *)req);
	if (len)
		*len = sy_buf_len(&req->body);
	return sy_buf_len(&req->body) ? req->body.data : NULL;
}

/* Remembers that the handler changed header name, for a forward. */
static int touch(struct ws_request *req, const char *name)
{
	if (!req->shim_owned || hdrs_find(&req->touched, name) >= 0)
		return 0;
	return hdrs_add(&req->touched, name, "");
}

int ws_req_set_header(ws_request *req, const char *name, const char *value)
{
	int rc = hdrs_set_checked(&req->hdrs, name, value);

	return rc < 0 ? rc : touch(req, name);
}

int ws_req_del_header(ws_request *req, const char *name)
{
	int rc;

	if (name == NULL)
		return WS_EINVAL;
	if ((rc = hdrs_del(&req->hdrs, name)) < 0)
		return rc;
	return touch(req, name) < 0 ? WS_ENOMEM : 0;
}

int ws_req_set_url(ws_request *req, const char *url)
{
	char *copy = NULL;
	int rc;

	if (!valid_url(url, 0))
		return WS_EINVAL;
	/* ws_req_set_url(req, ws_req_path(req)) must work. */
	if (sy_buf_holds(&req->line, url)) {
		if ((copy = strdup(url)) == NULL)
			return WS_ENOMEM;
		url = copy;
	}
	rc = line_put_url(req, url);
	free(copy);
	if (rc == 0)
		req->url_set = 1;
	return rc;
}

int ws_req_set_body(ws_request *req, const void *buf, size_t len)
{
	size_t off;

	if (buf == NULL && len > 0)
		return WS_EINVAL;
	if (len > SHIM_BODY_MAX)
		return WS_ENOMEM;
	req->body_set = 1;
	req->body_held = 0; /* replaced: what the platform holds is moot */
	if (sy_buf_holds(&req->body, buf)) {
		off = (size_t)((const char *)buf - req->body.data);
		if (len > sy_buf_len(&req->body) - off)
			return WS_EINVAL;
		memmove(req->body.data, buf, len);
		req->body.end = len;
		return 0;
	}
	req->body.end = 0;
	return sy_buf_add(&req->body, buf, len) < 0 ? WS_ENOMEM : 0;
}

ws_request *ws_request_new(const char *method, const char *url)
{
	ws_request *req;

	if (!ws_is_token(method) || !valid_url(url, 0))
		return NULL;
	if ((req = malloc(sizeof(*req))) == NULL)
		return NULL;
	req_init(req);
	if (line_set(req, method, url) < 0) {
		ws_request_free(req);
		return NULL;
	}
	return req;
}

void ws_request_free(ws_request *req)
{
	if (req == NULL || req->shim_owned)
		return;
	req_release(req);
	free(req);
}
