/*
 * edit.c: what passes between client and tenant. What the platform tells
 * the tenant (the customer, the plan, how the request was authenticated
 * and routed) goes in the request's context, which only the platform can
 * write: a client's headers are the client's word, whatever their names.
 * Headers tenants used to be told to trust (X-Customer-Id, X-Plan,
 * X-Switchyard-*) are still removed from the client's request, so a
 * tenant written before context cannot be fooled by them. The client
 * sees the platform's face (Server: switchyard) rather than the tenant's
 * stack.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dispatcher.h"

/* Headers of the client's that the tenant must not believe: the platform
 * once set them, or reserves the prefix for itself. */
static const char *const untrusted[] = { "X-Customer-Id", "X-Plan" };
#define RESERVED_PREFIX "X-Switchyard-"

/* Index of the first request header starting with prefix, or -1. */
static int find_prefixed(ws_request *req, const char *prefix)
{
	size_t n = strlen(prefix);
	const char *name, *value;
	int i;

	for (i = 0; i < ws_req_header_count(req); i++)
		if (ws_req_header_at(req, i, &name, &value) == 0 &&
		    strncasecmp(name, prefix, n) == 0)
			return i;
	return -1;
}

static int del_prefixed(ws_request *req, const char *prefix)
{
	const char *name, *value;
	char *copy;
	int i, rc;

	while ((i = find_prefixed(req, prefix)) >= 0) {
		ws_req_header_at(req, i, &name, &value);
		/* name lives in req, which the deletion changes */
		if ((copy = strdup(name)) == NULL)
			return WS_ENOMEM;
		rc = ws_req_del_header(req, copy);
		free(copy);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ws_req_set_context, for a value that may be absent. */
static int set_opt(ws_request *req, const char *key, const char *value)
{
	return value != NULL ? ws_req_set_context(req, key, value) : 0;
}

static const char *const route_names[] = {
	[BY_KV] = "kv", [BY_HEADER] = "header", [BY_SUBDOMAIN] = "subdomain",
	[BY_PATH] = "path",
};

static const char *const auth_names[] = {
	[AUTH_NONE] = "none", [AUTH_BEARER] = "bearer",
	[AUTH_API_KEY] = "api_key",
};

/* What the platform tells the tenant (docs/dispatch.md, "Context"): how
 * it was routed, for which host; for a KV route also the customer, the
 * plan whose limits apply and the credential auth_check accepted. */
static int set_context(ws_request *req, const struct route *rt,
                       const char *host, const char *plan)
{
	const struct meta *m = rt->has_meta ? &rt->meta : NULL;
	int rc;

	if ((rc = ws_req_set_context(req, "route", route_names[rt->by])) < 0)
		return rc;
	/* a Host the context cannot hold (a tab in it) is left out */
	if (host[0] != '\0' &&
	    (rc = ws_req_set_context(req, "host", host)) < 0 && rc != WS_EINVAL)
		return rc;
	if (m == NULL)
		return 0;
	if ((rc = set_opt(req, "customer_id", m->customer_id)) < 0 ||
	    (rc = set_opt(req, "plan", plan)) < 0)
		return rc;
	return ws_req_set_context(req, "auth", auth_names[m->auth]);
}

/* The tenant sees no socket of the client's: X-Real-IP is the address
 * the router accepted (the client's own X-Real-IP is replaced), appended
 * to X-Forwarded-For as proxies do (what came before it is the client's
 * word, not the platform's). */
static int client_addr(ws_request *req)
{
	const char *remote = ws_req_remote_addr(req), *xff;
	int v6 = remote[0] == '[', rc;
	char ip[64], *v;
	size_t n;

	if (*remote == '\0')
		return 0;
	/* "192.0.2.1:5678" or "[2001:db8::1]:5678" */
	remote += v6;
	n = strcspn(remote, v6 ? "]" : ":");
	if (n >= sizeof(ip))
		return 0;
	memcpy(ip, remote, n);
	ip[n] = '\0';
	if ((rc = ws_req_set_header(req, "X-Real-IP", ip)) < 0)
		return rc;
	if ((xff = ws_req_header(req, "X-Forwarded-For")) == NULL)
		return ws_req_set_header(req, "X-Forwarded-For", ip);
	if ((v = malloc(strlen(xff) + n + 3)) == NULL)
		return WS_ENOMEM;
	sprintf(v, "%s, %s", xff, ip);
	rc = ws_req_set_header(req, "X-Forwarded-For", v);
	free(v);
	return rc;
}

int edit_request(ws_request *req, const struct route *rt, const char *host,
                 const char *plan, const struct settings *s)
{
	const struct meta *m = rt->has_meta ? &rt->meta : NULL;
	const json_t *h;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(untrusted) / sizeof(untrusted[0]); i++)
		ws_req_del_header(req, untrusted[i]);
	/* a reused decision would give every client this one's address:
	 * then the tenant reads it from ws_req_remote_addr */
	if (!(s->cache_s > 0 && cacheable(rt, s, NULL)) &&
	    (rc = client_addr(req)) < 0)
		return rc;
	if (s->tenant_header != NULL)
		ws_req_del_header(req, s->tenant_header);
	if ((rc = del_prefixed(req, RESERVED_PREFIX)) < 0)
		return rc;
	if (m != NULL && m->strip != NULL)
		json_array_foreach(m->strip, i, h)
			ws_req_del_header(req, json_string_value(h));
	return set_context(req, rt, host, plan);
}

int cacheable(const struct route *rt, const struct settings *s,
              const char **vary)
{
	const char *v = NULL;

	if (rt->by == BY_KV && rt->has_meta)
		v = rt->meta.auth == AUTH_BEARER ? "Authorization"
		    : rt->meta.auth == AUTH_API_KEY ? "X-Api-Key" : NULL;
	else if (rt->by != BY_SUBDOMAIN)
		return 0;
	(void)s;
	if (vary != NULL)
		*vary = v;
	return 1;
}

int edit_response(ws_response *res, const struct meta *m,
                  int tenant_answered)
{
	int rc;

	ws_res_del_header(res, "X-Powered-By");
	if ((rc = ws_res_set_header(res, "Server", "switchyard")) < 0)
		return rc;
	/* never make an error page cacheable */
	if (tenant_answered && m != NULL && m->cache_control != NULL &&
	    ws_res_get_status(res) < 400 &&
	    ws_res_get_header(res, "Cache-Control") == NULL)
		return ws_res_set_header(res, "Cache-Control", m->cache_control);
	return 0;
}

void answer(ws_response *res, int status, const char *fmt, ...)
{
	va_list ap;
	char *text;
	int n;

	ws_res_clear_body(res);
	ws_res_status(res, status);
	ws_res_set_header(res, "Content-Type", "text/plain; charset=utf-8");
	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	ws_res_write(res, text, (size_t)n);
	free(text);
}
