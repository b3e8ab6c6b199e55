/*
 * fetch: a tenant that makes outbound HTTP requests with ws_fetch, for
 * tests and demos (docs/fetch.md).
 *
 *   GET  /fetch?url=URL        fetches URL and answers with what came back:
 *                              its status, Content-Type and body
 *   POST /fetch?url=URL        the same, sending this request's body
 *   GET  /fetch?n=K&url=URL    fetches URL K times and tells how many
 *                              succeeded and the first error
 *
 * url= takes the rest of the query, so it comes last. Every answer carries
 * X-Fetch-Rc (ws_fetch's return value) and, on failure, X-Fetch-Reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <workershim.h>

/* The value of name in the query, copied into buf; "url" takes the rest
 * of the query. NULL when absent. */
static const char *param(const ws_request *req, const char *name, char *buf,
                         size_t size)
{
	const char *q = ws_req_query(req), *p = q, *end;
	size_t nlen = strlen(name), vlen;

	while (*p) {
		if (strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			p += nlen + 1;
			end = strcmp(name, "url") == 0 ? p + strlen(p)
			                               : p + strcspn(p, "&");
			vlen = (size_t)(end - p);
			if (vlen >= size)
				return NULL;
			memcpy(buf, p, vlen);
			buf[vlen] = '\0';
			return buf;
		}
		p += strcspn(p, "&");
		if (*p == '&')
			p++;
	}
	return NULL;
}

static void tag(ws_response *res, int rc)
{
	char num[16];

	snprintf(num, sizeof(num), "%d", rc);
	ws_res_set_header(res, "X-Fetch-Rc", num);
	if (rc != 0)
		ws_res_set_header(res, "X-Fetch-Reason", ws_dispatch_reason());
}

/* K fetches of url: a summary line. */
static int many(ws_request *sub, int k, ws_response *res)
{
	ws_response *out = ws_response_new();
	int i, ok = 0, first = 0, rc;
	char reason[256] = "";

	if (out == NULL)
		return -1;
	for (i = 0; i < k; i++) {
		if ((rc = ws_fetch(sub, out)) == 0)
			ok++;
		else if (first == 0) {
			first = rc;
			snprintf(reason, sizeof(reason), "%s",
			         ws_dispatch_reason());
		}
	}
	ws_response_free(out);
	ws_res_header(res, "Content-Type", "text/plain");
	ws_res_printf(res, "ok=%d first_error=%d %s\n", ok, first, reason);
	return 0;
}

static int copy(const ws_response *out, ws_response *res, int rc)
{
	const char *type = ws_res_get_header(out, "Content-Type");
	const char *loc = ws_res_get_header(out, "Location");
	size_t len;
	const void *body = ws_res_body(out, &len);

	ws_res_status(res, ws_res_get_status(out));
	if (type != NULL)
		ws_res_header(res, "Content-Type", type);
	if (loc != NULL)
		ws_res_header(res, "X-Fetch-Location", loc);
	tag(res, rc);
	return ws_res_write(res, body, len) < 0 ? -1 : 0;
}

static int handle(ws_request *req, ws_response *res, void *ctx)
{
	char url[4096], num[16];
	const char *n = param(req, "n", num, sizeof(num));
	ws_request *sub;
	ws_response *out;
	size_t blen;
	const void *body = ws_req_body(req, &blen);
	int rc;

	(void)ctx;
	if (strcmp(ws_req_path(req), "/fetch") != 0 ||
	    param(req, "url", url, sizeof(url)) == NULL) {
		ws_res_status(res, 404);
		ws_res_printf(res, "try /fetch?url=http://...\n");
		return 0;
	}
	if ((sub = ws_request_new(ws_req_method(req), url)) == NULL) {
		ws_res_status(res, 400);
		tag(res, WS_EINVAL);
		return 0;
	}
	if (blen > 0)
		ws_req_set_body(sub, body, blen);
	if (n != NULL) {
		rc = many(sub, atoi(n), res);
		ws_request_free(sub);
		return rc;
	}
	if ((out = ws_response_new()) == NULL) {
		ws_request_free(sub);
		return -1;
	}
	rc = ws_fetch(sub, out);
	rc = copy(out, res, rc);
	ws_response_free(out);
	ws_request_free(sub);
	return rc;
}

int main(void)
{
	return ws_serve(handle, NULL);
}
