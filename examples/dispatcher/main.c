/*
 * dispatcher: the platform's dispatch worker. The router hands it every
 * request; it picks a tenant worker in the "tenants" namespace, checks
 * and rewrites the request, and forwards it (ws_forward) under the limits
 * of the customer's plan: the platform hands the request to the tenant and
 * the tenant's answer to the client, and this process is free for the
 * next request at once. DISPATCH_MODE=relay sends it with ws_dispatch
 * instead and relays the answer, as a dispatcher that must read or change
 * answers would. Its routes are data in KV, read on every request, so
 * hostnames are added, moved and removed with yardctl, without
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
 * ROUTES_ONLY=1 turns 2-4 off. A request no rule matches gets 404 "Worker
 * not found"; one for a worker that is not deployed, the platform's 404.
 * DECISION_CACHE_S=N (default 0, off) lets the platform reuse a KV or
 * subdomain route's decision for N seconds without asking this worker
 * again (docs/dispatch.md, "Decision cache"): for the same Host, and the
 * same credential when the route needs one. Such a request then gets no
 * X-Real-IP or X-Forwarded-For (they would be another client's): the
 * tenant reads the client's address with ws_req_remote_addr.
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
 * loses X-Powered-By (forwarded: every answer the tenant gave; relayed:
 * every answer); one a tenant gave gets X-Dispatched-To: tenants/NAME
 * (relayed: also one it failed to give); a tenant's answer (below 400)
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
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "dispatcher.h"

static struct settings settings = { "example.com", NULL, 1, 0, 0 };

/* 1 when ws_dispatch's rc says the tenant was reached: it answered, or
 * failed itself (not: missing, refused, or never called). */
static int reached(int rc)
{
	return rc == 0 || rc == WS_EEXCEPTION || rc == WS_EEXCEEDED_CPU ||
	       rc == WS_EEXCEEDED_MEMORY || rc == WS_EEXCEEDED_WALL ||
	       rc == WS_EOVERLOADED;
}

/* The platform's face on the tenant's answer, and leave to reuse the
 * decision when it depends on nothing but Host (and a credential). */
static int decision(ws_forwarding *fw, const struct route *rt,
                    const ws_limits *lim)
{
	const struct meta *m = rt->has_meta ? &rt->meta : NULL;
	char to[sizeof(TENANT_NS) + NAME_MAX_LEN + 1];
	const char *vary = NULL;

	snprintf(to, sizeof(to), "%s/%s", TENANT_NS, rt->worker);
	if ((lim != NULL && ws_forward_limits(fw, lim) < 0) ||
	    ws_forward_res_del(fw, "X-Powered-By") < 0 ||
	    ws_forward_res_set(fw, "Server", "switchyard") < 0 ||
	    ws_forward_res_set(fw, "X-Dispatched-To", to) < 0)
		return -1;
	/* never make an error page cacheable: defaults apply below 400 */
	if (m != NULL && m->cache_control != NULL &&
	    ws_forward_res_default(fw, "Cache-Control", m->cache_control) < 0)
		return -1;
	if (settings.cache_s == 0 || !cacheable(rt, &settings, &vary))
		return 0;
	if (ws_forward_cache(fw, settings.cache_s) < 0 ||
	    (vary != NULL && ws_forward_vary(fw, vary) < 0))
		return -1;
	return 0;
}

/* Hands req on to rt's tenant under the limits (and context) of its plan:
 * the platform sends it, and the tenant's answer to the client, without
 * this process (docs/dispatch.md, "Forwarding"). 0, or -1. */
static int forward(ws_request *req, const struct route *rt, const char *host)
{
	const ws_limits *lim = NULL;
	const char *plan = NULL;
	ws_forwarding *fw;

	if (rt->has_meta)
		lim = plan_limits(rt->meta.plan, host, &plan);
	if (edit_request(req, rt, host, plan, &settings) < 0 ||
	    (fw = ws_forward_new(TENANT_NS, rt->worker)) == NULL)
		return -1;
	if (decision(fw, rt, lim) < 0) {
		ws_forward_free(fw);
		return -1;
	}
	return ws_forward(req, fw) < 0 ? -1 : 0;
}

/* Sends req to rt's tenant under the limits (and context) of its plan and
 * relays the answer: res gets it or the platform's error page, *rc
 * ws_dispatch's result. 0, or -1 when the request could not be prepared. */
static int relay(ws_request *req, const struct route *rt, const char *host,
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
	} else if (!settings.relay) {
		return forward(req, rt, host);
	} else if (relay(req, rt, host, res, &rc) == -1) {
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
	if ((v = ws_env("DISPATCH_MODE")) != NULL && strcmp(v, "relay") == 0)
		settings.relay = 1;
	if ((v = ws_env("DECISION_CACHE_S")) != NULL)
		settings.cache_s = (unsigned)strtoul(v, NULL, 10);
	if (settings.cache_s > WS_FORWARD_CACHE_TTL_MAX)
		settings.cache_s = WS_FORWARD_CACHE_TTL_MAX;
	ws_log(WS_LOG_INFO, "%s; decision cache %s", settings.relay
	       ? "relays answers (ws_dispatch)" : "forwards requests",
	       settings.cache_s ? "on" : "off");
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
