/*
 * Hostile worker, bindings family: a tenant that tries to reach workers
 * its deployment does not bind (docs/security.md, "What a tenant can
 * reach") and to hand a callee context it may not give. Each path makes
 * one attempt and answers, as text, what came of it: "rc=N status=S
 * reason=R" and then the callee's body. path= takes the rest of the
 * query, so it comes last and may carry a query of its own.
 *
 *   GET /dispatch?ns=NS&to=NAME&path=P[&ctx=C]
 *        ws_dispatch(NS, NAME) of GET P; with ctx, the subrequest's
 *        context customer_id = C (ws_req_set_context)
 *   GET /relay?ns=NS&to=NAME&path=P
 *        ws_dispatch of this very request (its context included), as P
 *   GET /fetch?name=N&path=P
 *        ws_fetch of http://N.worker/P
 *   GET /raw?ns=NS&to=NAME&path=P
 *        a ws_dispatch written by hand on fd 3 (proto/frame.h,
 *        switchyard.proto), its Request carrying context customer_id =
 *        cus_raw and plan = enterprise, as the shim never would
 *   GET /rawbad?ns=NS&to=NAME
 *        the same with 33 context entries, more than the protocol allows
 *   GET /context
 *        this request's own context, one "key: value" line each
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <workershim.h>

#define TYPE_REQUEST 2
#define TYPE_RESPONSE 4
#define TYPE_RES_BODY 5
#define FLAG_END 0x01
#define STREAM 0x7ffe0002u

static unsigned char buf[70000];

/* The value of name in the query, into out ("" when absent). path=
 * takes the rest of the query (a URL with a query of its own), so it
 * comes last. */
static const char *param(const ws_request *req, const char *name, char *out,
                         size_t size)
{
	const char *p = ws_req_query(req);
	size_t n = strlen(name), len;
	int rest;

	out[0] = '\0';
	while (*p) {
		rest = strncmp(p, "path=", 5) == 0;
		len = rest ? strlen(p) : strcspn(p, "&");
		if (strncmp(p, name, n) == 0 && p[n] == '=') {
			len -= n + 1;
			if (len >= size)
				len = size - 1;
			memcpy(out, p + n + 1, len);
			out[len] = '\0';
			break;
		}
		if (rest)
			break;
		p += len + (p[len] == '&');
	}
	return out;
}

/* What a call came to, and the callee's answer. */
static int report(ws_response *res, int rc, ws_response *out)
{
	const void *body;
	size_t len;

	ws_res_printf(res, "rc=%d status=%d reason=%s\n", rc,
	              ws_res_get_status(out), ws_dispatch_reason());
	body = ws_res_body(out, &len);
	ws_res_write(res, body, len);
	return 0;
}

static int dispatch(ws_request *req, ws_response *res, int relay)
{
	char ns[64], to[64], path[256], ctx[256];
	ws_request *sub = relay ? req : ws_request_new("GET", "/");
	ws_response *out = ws_response_new();
	int rc;

	param(req, "ns", ns, sizeof(ns));
	param(req, "to", to, sizeof(to));
	param(req, "path", path, sizeof(path));
	param(req, "ctx", ctx, sizeof(ctx));
	if (sub == NULL || out == NULL || ws_req_set_url(sub, path) < 0)
		return -1;
	if (ctx[0] != '\0' && ws_req_set_context(sub, "customer_id", ctx) < 0)
		return -1;
	rc = ws_dispatch(ns, to, sub, NULL, out);
	report(res, rc, out);
	if (!relay)
		ws_request_free(sub);
	ws_response_free(out);
	return 0;
}

static int fetch(ws_request *req, ws_response *res)
{
	char name[128], path[256], url[512];
	ws_response *out = ws_response_new();
	ws_request *sub;
	int rc;

	param(req, "name", name, sizeof(name));
	param(req, "path", path, sizeof(path));
	snprintf(url, sizeof(url), "http://%s.worker%s", name, path);
	if ((sub = ws_request_new("GET", url)) == NULL || out == NULL)
		return -1;
	rc = ws_fetch(sub, out);
	report(res, rc, out);
	ws_request_free(sub);
	ws_response_free(out);
	return 0;
}

/* ---- frames by hand ---- */

static size_t put_varint(unsigned char *p, unsigned long long v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

static size_t put_bytes(unsigned char *p, int field, const char *s,
                        size_t len)
{
	size_t n = 0;

	p[n++] = (unsigned char)(field << 3 | 2);
	n += put_varint(p + n, len);
	memcpy(p + n, s, len);
	return n + len;
}

/* A Header message {name, value} as Request field 13, context. */
static size_t put_context(unsigned char *p, const char *k, const char *v)
{
	unsigned char h[256];
	size_t n = 0;

	n += put_bytes(h + n, 1, k, strlen(k));
	n += put_bytes(h + n, 2, v, strlen(v));
	return put_bytes(p, 13, (const char *)h, n);
}

static int send_frame(int type, size_t len)
{
	unsigned char *h = buf;

	h[0] = (unsigned char)(len >> 24);
	h[1] = (unsigned char)(len >> 16);
	h[2] = (unsigned char)(len >> 8);
	h[3] = (unsigned char)len;
	h[4] = (unsigned char)type;
	h[5] = FLAG_END;
	h[6] = h[7] = 0;
	h[8] = (unsigned char)(STREAM >> 24);
	h[9] = (unsigned char)(STREAM >> 16);
	h[10] = (unsigned char)(STREAM >> 8);
	h[11] = (unsigned char)STREAM;
	return write(3, buf, 12 + len) == (ssize_t)(12 + len) ? 0 : -1;
}

static int read_full(unsigned char *p, size_t len)
{
	ssize_t n;

	for (; len > 0; p += n, len -= (size_t)n)
		if ((n = read(3, p, len)) <= 0)
			return -1;
	return 0;
}

/* The next frame on our stream: its type and flags, payload in buf. */
static int recv_frame(int *type, int *flags, size_t *len)
{
	unsigned char h[12];

	do {
		if (read_full(h, 12) < 0)
			return -1;
		*len = (size_t)h[0] << 24 | (size_t)h[1] << 16 |
		       (size_t)h[2] << 8 | h[3];
		if (*len > sizeof(buf) || read_full(buf, *len) < 0)
			return -1;
	} while (((unsigned)h[8] << 24 | (unsigned)h[9] << 16 |
	          (unsigned)h[10] << 8 | h[11]) != STREAM);
	*type = h[4];
	*flags = h[5];
	return 0;
}

/* The hand-written ws_dispatch: its answer's body into res. bad: 33
 * context entries. */
static int raw(ws_request *req, ws_response *res, int bad)
{
	char ns[64], to[64], path[256], key[16];
	unsigned char *m = buf + 12;
	size_t n = 0, len;
	int type, flags, i;

	param(req, "ns", ns, sizeof(ns));
	param(req, "to", to, sizeof(to));
	if (*param(req, "path", path, sizeof(path)) == '\0')
		snprintf(path, sizeof(path), "/");
	n += put_bytes(m + n, 1, "GET", 3);
	n += put_bytes(m + n, 2, path, strlen(path));
	n += put_bytes(m + n, 7, ns, strlen(ns));
	n += put_bytes(m + n, 8, to, strlen(to));
	n += put_context(m + n, "customer_id", "cus_raw");
	n += put_context(m + n, "plan", "enterprise");
	for (i = 2; bad && i < 33; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		n += put_context(m + n, key, "v");
	}
	if (send_frame(TYPE_REQUEST, n) < 0 ||
	    recv_frame(&type, &flags, &len) < 0 || type != TYPE_RESPONSE)
		return -1;
	ws_res_printf(res, "raw answered\n");
	while (!(flags & FLAG_END)) {
		if (recv_frame(&type, &flags, &len) < 0 ||
		    type != TYPE_RES_BODY)
			return -1;
		ws_res_write(res, buf, len);
	}
	return 0;
}

static int own_context(ws_request *req, ws_response *res)
{
	const char *k, *v;
	int i;

	for (i = 0; ws_req_context_at(req, i, &k, &v) == 0; i++)
		ws_res_printf(res, "%s: %s\n", k, v);
	return 0;
}

static int hostile(ws_request *req, ws_response *res, void *ctx)
{
	const char *path = ws_req_path(req);

	(void)ctx;
	ws_res_header(res, "Content-Type", "text/plain");
	if (strcmp(path, "/dispatch") == 0)
		return dispatch(req, res, 0);
	if (strcmp(path, "/relay") == 0)
		return dispatch(req, res, 1);
	if (strcmp(path, "/fetch") == 0)
		return fetch(req, res);
	if (strcmp(path, "/raw") == 0 || strcmp(path, "/rawbad") == 0)
		return raw(req, res, path[4] == 'b');
	if (strcmp(path, "/context") == 0)
		return own_context(req, res);
	ws_res_printf(res, "alive\n");
	return 0;
}

int main(void)
{
	return ws_serve(hostile, NULL) < 0 ? 1 : 0;
}
