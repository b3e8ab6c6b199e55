/*
 * dispatcher: the platform's dispatch worker. The router hands it every
 * request; it picks a tenant worker in the "tenants" namespace, checks
 * and rewrites the request, and forwards it with ws_dispatch under the
 * limits of the customer's plan. Its routes are data in KV, read on every
 * request, so hostnames are added, moved and removed with yardctl, without
 * redeploying it (docs/dispatch.md).
 *
 * Routing, first match wins:
 *   1. KV         key host:<Host, lowercased, without port> in the KV
 *                 namespace bound as ROUTES; the value is the host's JSON
 *                 metadata (at most 4096 bytes), e.g.
 *                   {"worker": "alice", "plan": "pro",
 *                    "customer_id": "cus_42", "tags": ["eu"],
 *                    "auth": "none" | "bearer" | "api_key",
 *                    "strip_headers": ["x-debug"],
 *                    "cache_control": "public, max-age=60"}
 *                 Only "worker" is required. A value that is too large or
 *                 malformed is logged and answered 502 for that host only.
 *   2. header     the header TENANT_HEADER names (off unless set), e.g.
 *                 X-Tenant: alice
 *   3. subdomain  NAME.<BASE_DOMAIN> (default example.com)
 *   4. path       /NAME/rest, forwarded as /rest?query
 * ROUTES_ONLY=1 turns 2-4 off. A request no rule matches, or for a worker
 * that is not deployed, gets 404 "Worker not found".
 *
 * For a KV-routed host, before the tenant sees the request:
 *   - limits: the metadata's plan picks the tenant's CPU, wall and
 *     subrequest limits (plan.c); no plan or an unknown one: "free"
 *   - auth: "bearer" needs Authorization: Bearer TOKEN, "api_key" needs
 *     X-Api-Key: TOKEN, with KV key token:TOKEN -> {"customer_id": ...}
 *     of the host's customer; no credential: 401, any other: 403
 * The tenant learns what the platform knows from the request's context,
 * which no client can write (ws_req_context): route (kv, header,
 * subdomain, path) and host always; for a KV route also customer_id, plan
 * (the one whose limits apply) and auth (none, bearer, api_key: the
 * credential checked). The platform passes context only because this
 * worker is deployed with --dispatch-namespace tenants.
 * Every request loses the client's X-Customer-Id, X-Plan, X-Switchyard-*
 * and TENANT_HEADER headers (and, KV-routed, the credential and the
 * metadata's strip_headers). Every answer gets Server: switchyard and
 * loses X-Powered-By; one a tenant gave (or failed to: exception, limits)
 * gets X-Dispatched-To: tenants/NAME; a tenant's answer (below 400)
 * without Cache-Control gets the metadata's cache_control. Fallback routes
 * have no metadata: the tenant's own plan applies.
 *
 * Deploy it with its settings, e.g.
 *   yardctl deploy platform/dispatcher ./dispatcher --kv ROUTES=routes:ro \
 *       --dispatch-namespace tenants \
 *       --env BASE_DOMAIN=example.com --env TENANT_HEADER=X-Tenant
 * and route a host with
 *   yardctl kv put routes host:shop.test '{"worker":"alice","plan":"pro"}'
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "dispatcher.h"

static struct settings settings = { "example.com", NULL, 1 };

/* 1 when ws_dispatch's rc says the tenant was reached: it answered, or
 * failed itself (not: missing, refused, or never called). */
static int reached(int rc)
{
	return rc == 0 || rc == WS_EEXCEPTION || rc == WS_EEXCEEDED_CPU ||
	       rc == WS_EEXCEEDED_MEMORY || rc == WS_EEXCEEDED_WALL ||
	       rc == WS_EOVERLOADED;
}

/* Forwards req to rt's tenant under the limits (and context) of its plan;
 * res gets its answer or the platform's error page, *rc ws_dispatch's
 * result. 0, or -1 when the request could not be prepared. */
static int forward(ws_request *req, const struct route *rt, const char *host,
                   ws_response *res, int *rc)
{
	const ws_limits *lim = NULL;
	const char *plan = NULL;
	char to[sizeof(TENANT_NS) + NAME_MAX_LEN + 1];

	if (rt->has_meta)
		lim = plan_limits(rt->meta.plan, host, &plan);
	if (edit_request(req, rt, host, plan, &settings) < 0)
		return -1;
	*rc = ws_dispatch(TENANT_NS, rt->worker, req, lim, res);
	if (*rc == WS_ENOTFOUND)
		answer(res, 404, "Worker not found: %s\n", rt->worker);
	snprintf(to, sizeof(to), "%s/%s", TENANT_NS, rt->worker);
	if (reached(*rc) && ws_res_set_header(res, "X-Dispatched-To", to) < 0)
		return -1;
	return 0;
}

/* Routes, checks and forwards: 0, or -1 for the platform's 500. */
static int handle(ws_request *req, ws_response *res, const char *host,
                  struct route *rt)
{
	const struct meta *m;
	int rc, answered = 0;

	if ((rc = route_request(req, &settings, host, rt, res)) < 0)
		return -1;
	if (rc == 2)
		return edit_response(res, NULL, 0) < 0 ? -1 : 0;
	if (rc == 0) {
		answer(res, 404, "Worker not found: no route for host %s path "
		       "%s\n", host, ws_req_path(req));
		return edit_response(res, NULL, 0) < 0 ? -1 : 0;
	}
	m = rt->has_meta ? &rt->meta : NULL;
	if (m != NULL && (rc = auth_check(req, m, host, res)) != 0) {
		if (rc < 0)
			return -1;
	} else if (forward(req, rt, host, res, &rc) == -1) {
		return -1;
	} else {
		answered = rc == 0;
	}
	return edit_response(res, m, answered) < 0 ? -1 : 0;
}

static int dispatch(ws_request *req, ws_response *res, void *ctx)
{
	char host[HOST_MAX];
	struct route rt;
	int rc;

	request_host(req, host);
	rc = handle(req, res, host, &rt);
	meta_free(&rt.meta);
	return rc;
}

static void configure(void)
{
	uint32_t seed = 0;
	const char *v;

	/* jansson would read /dev/urandom, which the jail does not have: its
	 * hash seed (against collisions sent as JSON keys) comes from here */
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed) || seed == 0)
		seed = (uint32_t)(uintptr_t)&seed ^ 0x9e3779b9u;
	json_object_seed(seed);

	if ((v = ws_env("BASE_DOMAIN")) != NULL && *v != '\0')
		settings.base_domain = v;
	if ((v = ws_env("TENANT_HEADER")) != NULL && *v != '\0')
		settings.tenant_header = v;
	if ((v = ws_env("ROUTES_ONLY")) != NULL && strcmp(v, "1") == 0)
		settings.fallbacks = 0;
	/* the order the rules apply in, for whoever reads the log */
	if (!settings.fallbacks)
		ws_log(WS_LOG_INFO, "routing: host map in KV (binding %s) only",
		       ROUTES_BINDING);
	else
		ws_log(WS_LOG_INFO, "routing: host map in KV (binding %s), "
		       "then %s%s%sNAME.%s, then /NAME/", ROUTES_BINDING,
		       settings.tenant_header ? "header " : "",
		       settings.tenant_header ? settings.tenant_header : "",
		       settings.tenant_header ? ", then " : "",
		       settings.base_domain);
}

int main(void)
{
	configure();
	return ws_serve(dispatch, NULL) < 0 ? 1 : 0;
}
