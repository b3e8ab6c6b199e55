/*
 * auth.c: the credential a host's metadata asks for, checked before the
 * tenant sees anything. Tokens live in the same KV namespace as the
 * routes, as token:TOKEN -> {"customer_id": "..."}, so issuing or
 * revoking one is a `yardctl kv put` or `delete`, effective at once.
 * A token is good only for hosts of its own customer.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dispatcher.h"

#define TOKEN_MAX 256

/* Tokens as RFC 6750 (b64token) and API keys in practice: no spaces or
 * controls, so they make a clean KV key. */
static int valid_token(const char *t)
{
	size_t n = strlen(t), i;

	if (n == 0 || n > TOKEN_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (t[i] <= 0x20 || t[i] >= 0x7f)
			return 0;
	return 1;
}

/* The token the request presents, or NULL. */
static const char *credential(ws_request *req, enum auth_kind kind)
{
	const char *v;

	if (kind == AUTH_API_KEY)
		return ws_req_header(req, "X-Api-Key");
	v = ws_req_header(req, "Authorization");
	if (v == NULL || strncasecmp(v, "Bearer ", 7) != 0)
		return NULL;
	for (v += 7; *v == ' '; v++)
		;
	return v;
}

/* 1 when token belongs to customer, 0 when not (or unknown), -1 when the
 * store failed. */
static int token_owned(const char *token, const char *customer,
                       const char *host)
{
	char key[sizeof("token:") + TOKEN_MAX];
	const json_t *id;
	json_error_t jerr;
	json_t *root;
	size_t len;
	void *val;
	int rc;

	snprintf(key, sizeof(key), "token:%s", token);
	rc = ws_kv_get(ROUTES_BINDING, key, &val, &len);
	if (rc == WS_ENOTFOUND)
		return 0;
	if (rc < 0) {
		ws_log(WS_LOG_ERROR, "host %s: reading a token: %s", host,
		       ws_strerror(rc));
		return -1;
	}
	root = json_loadb(val, len, 0, &jerr);
	ws_kv_free(val);
	id = json_object_get(root, "customer_id");
	if (!json_is_string(id)) {
		ws_log(WS_LOG_WARN, "host %s: token record without a "
		       "\"customer_id\" string: refused", host);
		rc = 0;
	} else
		rc = strcmp(json_string_value(id), customer) == 0;
	json_decref(root);
	return rc;
}

int auth_check(ws_request *req, const struct meta *m, const char *host,
               ws_response *res)
{
	const char *header = m->auth == AUTH_BEARER ? "Authorization"
	                                             : "X-Api-Key";
	const char *token;
	int rc;

	if (m->auth == AUTH_NONE)
		return 0;
	if ((token = credential(req, m->auth)) == NULL || *token == '\0') {
		answer(res, 401, "Authentication required: send %s\n",
		       m->auth == AUTH_BEARER ? "Authorization: Bearer TOKEN"
		                              : "X-Api-Key: TOKEN");
		if (m->auth == AUTH_BEARER)
			ws_res_set_header(res, "WWW-Authenticate",
			                  "Bearer realm=\"switchyard\"");
		return 1;
	}
	rc = valid_token(token) ? token_owned(token, m->customer_id, host) : 0;
	if (rc < 0) {
		answer(res, 503, "Authentication unavailable for host %s\n",
		       host);
		return 1;
	}
	if (rc == 0) {
		answer(res, 403, "Forbidden: this credential is not valid for "
		       "host %s\n", host);
		return 1;
	}
	ws_req_del_header(req, header);
	return 0;
}
