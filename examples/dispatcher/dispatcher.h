/*
 * dispatcher.h: the pieces of the dispatch worker (main.c describes it).
 * One file per step of a request: route.c picks the tenant, meta.c reads
 * a host's JSON metadata, plan.c turns its plan into limits, auth.c checks
 * the credential, edit.c rewrites the request (its context included) and
 * the response.
 */
#ifndef DISPATCHER_H
#define DISPATCHER_H

#include <stddef.h>

#include <jansson.h>
#include <workershim.h>

#define TENANT_NS "tenants"
#define ROUTES_BINDING "ROUTES" /* deploy --kv ROUTES=routes:ro */
#define HOST_MAX 256            /* a DNS name is at most 253 */
#define NAME_MAX_LEN 63         /* the platform's worker names */
#define META_MAX 4096           /* bytes of a host's metadata */

/* What the deploy's environment configures (main.c). */
struct settings {
	const char *base_domain;   /* BASE_DOMAIN, default example.com */
	const char *tenant_header; /* TENANT_HEADER, NULL: no header routing */
	int fallbacks;             /* 0 when ROUTES_ONLY=1 */
	int relay;                 /* DISPATCH_MODE=relay: ws_dispatch and
	                            * relay the answer; else forward */
	unsigned cache_s;          /* DECISION_CACHE_S: seconds the platform
	                            * may reuse a decision; 0: never */
};

enum auth_kind { AUTH_NONE, AUTH_BEARER, AUTH_API_KEY };

/* A host's metadata, validated. The strings point into root, which
 * meta_free() releases. */
struct meta {
	json_t *root;
	const char *worker;
	const char *plan;          /* NULL: not given */
	const char *customer_id;   /* NULL: not given (then auth is none) */
	const char *cache_control; /* NULL: not given */
	const json_t *strip;       /* array of header names, or NULL */
	enum auth_kind auth;
};

/* How a route was found (route.c), in order of the rules. */
enum route_by { BY_KV, BY_HEADER, BY_SUBDOMAIN, BY_PATH };

/* Where a request goes: the worker, how it was picked, and the metadata
 * when its Host had a KV entry (has_meta). */
struct route {
	char worker[NAME_MAX_LEN + 1];
	enum route_by by;
	struct meta meta;
	int has_meta;
};

/* route.c */
int valid_name(const char *s, size_t n);
void request_host(ws_request *req, char host[HOST_MAX]);
/* Fills rt: 1 routed, 0 no rule matched, 2 res already holds the answer
 * (bad metadata, routing store failed), -1 out of memory. rt->meta must
 * be released with meta_free() whatever the result. */
int route_request(ws_request *req, const struct settings *s,
                  const char *host, struct route *rt, ws_response *res);

/* meta.c */
/* Parses and validates val[0..len) into m: 0, or -1 with the reason in
 * why (m then holds nothing to free). */
int meta_parse(const char *val, size_t len, struct meta *m, char *why,
               size_t whylen);
void meta_free(struct meta *m);

/* plan.c */
/* The limits of a plan (NULL: "free"); an unknown plan gets the most
 * restrictive ones and a warning naming host. Never NULL; *applied (may
 * be NULL) names the plan whose limits they are. */
const ws_limits *plan_limits(const char *plan, const char *host,
                             const char **applied);

/* auth.c */
/* Checks the credential m asks for and removes it from req: 0 let the
 * request through, 1 res holds a 401 or 403, -1 failure. */
int auth_check(ws_request *req, const struct meta *m, const char *host,
               ws_response *res);

/* edit.c */
/* Removes what the tenant must not believe of the client's headers, and
 * sets the request's context (what the platform tells the tenant, which
 * no client can write): how rt was routed, for host, and, for a KV route,
 * its customer_id, plan (the one applied) and auth. 0 or a WS_E* code. */
int edit_request(ws_request *req, const struct route *rt, const char *host,
                 const char *plan, const struct settings *s);
/* 1 when the decision for rt depends only on what the platform's decision
 * cache keys on (Host, and the headers *vary names): a KV route (varying
 * on its credential header) or a subdomain route. */
int cacheable(const struct route *rt, const struct settings *s,
              const char **vary);
/* The platform's face on every answer; the metadata's Cache-Control only
 * when the tenant answered (tenant_answered) without one. */
int edit_response(ws_response *res, const struct meta *m,
                  int tenant_answered);
/* A plain-text answer of the dispatcher itself. */
void answer(ws_response *res, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
