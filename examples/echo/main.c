/*
 * echo: answers with the request body, byte for byte, under the request's
 * Content-Type. GET /headers lists the request headers instead, one
 * "name: value" line each, in the order they arrived; GET /context lists
 * the request's context the same way: what the platform's dispatch worker
 * told it (customer_id, plan, auth), which no client can set.
 * GET /answer?status=N&Name=Value&... answers status N (default 200) with
 * each other query pair as a response header, for tests of what the
 * platform does to an answer (no decoding: names and values as given).
 * GET /remote answers the client's address as the router accepted it
 * (ws_req_remote_addr), which no header of the client's can change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <workershim.h>

static int list_headers(ws_request *req, ws_response *res)
{
	const char *name, *value;
	int i;

	ws_res_header(res, "Content-Type", "text/plain; charset=utf-8");
	for (i = 0; i < ws_req_header_count(req); i++) {
		ws_req_header_at(req, i, &name, &value);
		if (ws_res_printf(res, "%s: %s\n", name, value) < 0)
			return -1;
	}
	return 0;
}

static int list_context(ws_request *req, ws_response *res)
{
	const char *key, *value;
	int i;

	ws_res_header(res, "Content-Type", "text/plain; charset=utf-8");
	for (i = 0; ws_req_context_at(req, i, &key, &value) == 0; i++)
		if (ws_res_printf(res, "%s: %s\n", key, value) < 0)
			return -1;
	return 0;
}

/* Each NAME=VALUE pair of the query but status= becomes a header. */
static int answer(ws_request *req, ws_response *res)
{
	char q[1024], *pair, *save = NULL, *eq;
	const char *query = ws_req_query(req);

	snprintf(q, sizeof(q), "%s", query ? query : "");
	for (pair = strtok_r(q, "&", &save); pair != NULL;
	     pair = strtok_r(NULL, "&", &save)) {
		if ((eq = strchr(pair, '=')) == NULL)
			continue;
		*eq = '\0';
		if (strcmp(pair, "status") == 0)
			ws_res_status(res, atoi(eq + 1));
		else if (ws_res_header(res, pair, eq + 1) < 0)
			return -1;
	}
	return ws_res_printf(res, "answered\n") < 0 ? -1 : 0;
}

static int echo(ws_request *req, ws_response *res, void *ctx)
{
	const char *type = ws_req_header(req, "Content-Type");
	const void *body;
	char len[32];
	size_t n;

	body = ws_req_body(req, &n);
	snprintf(len, sizeof(len), "%zu", n);
	ws_res_header(res, "X-Worker", "echo");
	ws_res_header(res, "X-Body-Length", len);
	if (strcmp(ws_req_method(req), "GET") == 0 &&
	    strcmp(ws_req_path(req), "/headers") == 0)
		return list_headers(req, res);
	if (strcmp(ws_req_method(req), "GET") == 0 &&
	    strcmp(ws_req_path(req), "/context") == 0)
		return list_context(req, res);
	if (strcmp(ws_req_path(req), "/answer") == 0)
		return answer(req, res);
	if (strcmp(ws_req_method(req), "GET") == 0 &&
	    strcmp(ws_req_path(req), "/remote") == 0)
		return ws_res_printf(res, "remote: %s\n",
		                     ws_req_remote_addr(req)) < 0 ? -1 : 0;
	ws_res_header(res, "Content-Type",
	              type ? type : "application/octet-stream");
	return ws_res_write(res, body, n) < 0 ? -1 : 0;
}

int main(void)
{
	return ws_serve(echo, NULL) < 0 ? 1 : 0;
}
