/*
 * workershim.h: the API a Switchyard worker is written against.
 *
 * A worker is a plain executable whose main() calls ws_serve(). The platform
 * starts it in its own process, hands it requests one at a time and takes
 * back one response per request. Everything a worker can do beyond its own
 * computation goes through the functions below.
 *
 *   #include <workershim.h>
 *
 *   static int hello(ws_request *req, ws_response *res, void *ctx)
 *   {
 *       ws_res_header(res, "Content-Type", "text/plain");
 *       ws_res_printf(res, "hello from %s\n", ws_req_path(req));
 *       return 0;
 *   }
 *
 *   int main(void) { return ws_serve(hello, NULL); }
 *
 * Build: cc hello.c $(pkg-config --cflags --libs workershim)
 *
 * Conventions:
 * - Functions that can fail return 0 (or a count) on success and a negative
 *   WS_E* code on failure; ws_strerror() names it.
 * - Strings returned by accessors are owned by the object they came from and
 *   stay valid until that object is changed or freed; copy them to keep them.
 * - Header names are compared case-insensitively.
 * - Within a handler, `req` and `res` are owned by the shim and freed after
 *   the handler returns. Objects from ws_request_new()/ws_response_new() are
 *   owned by the caller and released with ws_request_free()/ws_response_free().
 * - The shim never writes to stdout/stderr on its own and never exits the
 *   process, except ws_serve() returning at shutdown.
 * - Not thread-safe: call it from the thread that runs ws_serve().
 */
#ifndef WORKERSHIM_H
#define WORKERSHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes: always negative. */
#define WS_OK 0
#define WS_ENOTFOUND (-1)           /* no such worker deployed */
#define WS_EEXCEPTION (-2)          /* the callee failed or crashed */
#define WS_EEXCEEDED_CPU (-3)       /* the callee ran out of CPU time */
#define WS_EEXCEEDED_MEMORY (-4)    /* the callee ran out of memory */
#define WS_EEXCEEDED_WALL (-5)      /* the callee ran out of wall time */
#define WS_ETOOMANYSUBREQUESTS (-6) /* this request spent its subrequests */
#define WS_EDENIED (-7)             /* not allowed by the platform's policy */
#define WS_EIO (-8)                 /* the channel to the platform failed */
#define WS_EINVAL (-9)              /* invalid argument */
#define WS_ENOMEM (-10)             /* out of memory */
#define WS_EOVERLOADED (-11)        /* the callee's queue is full (loadShed) */
#define WS_ECANCELED (-12)          /* the request was canceled */
#define WS_EINTERNAL (-13)          /* the platform failed */
#define WS_EFETCH (-14)             /* ws_fetch: the origin failed (see below) */

/* Log levels for ws_log. */
#define WS_LOG_DEBUG 0
#define WS_LOG_INFO 1
#define WS_LOG_WARN 2
#define WS_LOG_ERROR 3

typedef struct ws_request ws_request;
typedef struct ws_response ws_response;

/*
 * A request handler: fill `res` from `req`. Return 0 to send `res` (a status
 * of 200 is assumed if none was set), or a negative value to report an
 * exception: the client then gets the platform's 500 error page and the
 * request's outcome is `exception`. `ctx` is the pointer given to ws_serve.
 */
typedef int (*ws_handler)(ws_request *req, ws_response *res, void *ctx);

/*
 * The worker's main loop: tells the platform it is ready, then calls handler
 * once per request until the platform shuts the worker down. Returns 0 at an
 * orderly shutdown, or a negative WS_E* code if the channel to the platform
 * failed (for example when run outside Switchyard: there is no fd 3).
 */
int ws_serve(ws_handler handler, void *ctx);

/* ---- requests ---- */

/* Method ("GET"); never NULL. */
const char *ws_req_method(const ws_request *req);
/* Target as received, path plus query ("/a/b?x=1"); never NULL. */
const char *ws_req_url(const ws_request *req);
/* Path part of the URL ("/a/b"); never NULL. */
const char *ws_req_path(const ws_request *req);
/* Query part without '?' ("x=1"); "" when there is none; never NULL. */
const char *ws_req_query(const ws_request *req);
/* Value of the first header called name, or NULL if absent. */
const char *ws_req_header(const ws_request *req, const char *name);
/* The client's address as the router saw it, "192.0.2.1:5678" or
 * "[2001:db8::1]:5678"; "" for a request another worker sent with
 * ws_dispatch (the example dispatcher passes the client's address on in
 * X-Real-IP and X-Forwarded-For). */
const char *ws_req_remote_addr(const ws_request *req);
/* Number of headers, duplicates included. */
int ws_req_header_count(const ws_request *req);
/* The i-th header (0-based, arrival order). 0, or WS_EINVAL if i is out
 * of range. */
int ws_req_header_at(const ws_request *req, int i, const char **name,
                     const char **value);
/* The whole body (NULL with *len = 0 when empty). len may be NULL. */
const void *ws_req_body(const ws_request *req, size_t *len);

/* Replaces every header called name with one header name: value. */
int ws_req_set_header(ws_request *req, const char *name, const char *value);
/* Removes every header called name. 0, or WS_ENOTFOUND if none. */
int ws_req_del_header(ws_request *req, const char *name);
/* Replaces the URL: origin form (must start with '/'), or an absolute
 * http:// URL for ws_fetch. */
int ws_req_set_url(ws_request *req, const char *url);
/* Replaces the body with a copy of buf[0..len). */
int ws_req_set_body(ws_request *req, const void *buf, size_t len);

/* ---- context (docs/dispatch.md, "Context") ----
 *
 * What the platform's dispatch worker tells the worker it calls: the
 * customer, the plan, the result of its authentication, anything it
 * attaches. Only the platform writes a request's context, from what a
 * dispatch worker set on its ws_dispatch: no client (whose headers stay
 * headers) and no other tenant can, so a worker may trust what it reads
 * here, and should trust no header for it. Keys are 1-63 of [a-z0-9_.-],
 * starting with a letter or digit; values at most WS_CONTEXT_VALUE_MAX
 * bytes without control characters; at most WS_CONTEXT_MAX entries and
 * WS_CONTEXT_BYTES of keys and values in all.
 */
#define WS_CONTEXT_MAX 32
#define WS_CONTEXT_VALUE_MAX 1024
#define WS_CONTEXT_BYTES 8192

/* The value of req's context entry key ("customer_id"), or NULL. */
const char *ws_req_context(const ws_request *req, const char *key);
/* The i-th entry of req's context (0-based, in the order set). 0, or
 * WS_EINVAL when i is out of range. */
int ws_req_context_at(const ws_request *req, int i, const char **key,
                      const char **value);
/*
 * Sets req's context entry key to a copy of value (NULL removes it), for
 * the callee of a ws_dispatch of req. The platform passes it on only when
 * the caller is a dispatch worker calling a worker of one of the dispatch
 * namespaces its deployment binds (yardctl deploy --dispatch-namespace);
 * any other call, through a service binding or ws_fetch, reaches its
 * callee without context. 0, WS_EINVAL (key or value out of the rules
 * above, or too many), WS_ENOMEM.
 */
int ws_req_set_context(ws_request *req, const char *key, const char *value);

/* A new request owned by the caller, e.g. to build a subrequest. url is
 * origin form for ws_dispatch, absolute ("http://host/path") for ws_fetch;
 * ws_req_path() of an absolute URL is everything before its '?'.
 * NULL on invalid arguments or out of memory. */
ws_request *ws_request_new(const char *method, const char *url);
/* Frees a request from ws_request_new(). Accepts NULL. Never call it on the
 * request a handler was given. */
void ws_request_free(ws_request *req);

/* ---- responses ---- */

/* Sets the status (100..999). */
void ws_res_status(ws_response *res, int status);
/* The status set so far (200 when never set). */
int ws_res_get_status(const ws_response *res);
/* Adds a header (duplicates allowed, e.g. Set-Cookie). Names and values
 * must not contain CR, LF or NUL; names must be HTTP tokens. */
int ws_res_header(ws_response *res, const char *name, const char *value);
/* Value of the first header called name, or NULL. */
const char *ws_res_get_header(const ws_response *res, const char *name);
/* Replaces every header called name with one (name: value). */
int ws_res_set_header(ws_response *res, const char *name, const char *value);
/* Removes every header called name. 0, or WS_ENOTFOUND if none. */
int ws_res_del_header(ws_response *res, const char *name);
/* Number of headers and the i-th one, as for requests. */
int ws_res_header_count(const ws_response *res);
int ws_res_header_at(const ws_response *res, int i, const char **name,
                     const char **value);
/* Appends buf[0..len) to the body. */
int ws_res_write(ws_response *res, const void *buf, size_t len);
/* Appends formatted text to the body. Returns bytes appended or WS_E*. */
int ws_res_printf(ws_response *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The body so far (NULL with *len = 0 when empty). len may be NULL. */
const void *ws_res_body(const ws_response *res, size_t *len);
/* Discards the body so far. */
void ws_res_clear_body(ws_response *res);

/* A new empty response owned by the caller (for ws_dispatch's `out`). */
ws_response *ws_response_new(void);
/* Frees a response from ws_response_new(). Accepts NULL. */
void ws_response_free(ws_response *res);

/* ---- calling other workers ---- */

/* Per-call limits for the callee; 0 means the callee's plan default. They
 * can only lower the plan's limits. */
typedef struct {
	uint32_t cpu_ms;      /* CPU milliseconds for the call */
	uint32_t wall_ms;     /* wall-clock milliseconds for the call */
	uint32_t subrequests; /* subrequests the callee may make */
} ws_limits;

/*
 * Sends req to worker `worker` in dispatch namespace `ns` and waits for its
 * answer, which replaces the contents of `out` (status, headers, body).
 * req is not modified or taken over. lim may be NULL (plan defaults).
 * A worker may call only what its deployment binds (docs/security.md):
 * any worker of a dispatch namespace it binds (yardctl deploy
 * --dispatch-namespace NS; the callee then also gets the context set on
 * req, ws_req_set_context), or the target of one of its service bindings
 * (--service NAME=NS/WORKER; no context).
 * Returns 0 when the callee answered (whatever its HTTP status), or:
 *   WS_EDENIED              no binding names ns/worker (whether or not it
 *                           exists); out is a 403 error page
 *   WS_ENOTFOUND            no such worker; out is a 404 error page
 *   WS_EEXCEPTION           the callee failed; out is the platform's 500 page
 *   WS_EEXCEEDED_CPU/_MEMORY/_WALL  a limit was hit; out is a 503 page
 *   WS_EOVERLOADED          the callee's queue is full; out is a 503 page
 *   WS_ETOOMANYSUBREQUESTS  this request has no subrequests left
 *   WS_EIO / WS_EINVAL / WS_ENOMEM
 * The error pages give the status, the outcome and the request's id (the
 * one in the Switchyard-Request-Id header) and nothing else, so a
 * dispatcher can pass `out` on to the client as its own response without
 * telling it which worker failed or how. ws_dispatch_reason() gives the
 * detail to the caller's code; the operator finds it in the request's
 * events and the platform's log under that id.
 */
int ws_dispatch(const char *ns, const char *worker, ws_request *req,
                const ws_limits *lim, ws_response *out);
/* The platform's reason text for the last failed ws_dispatch ("" if none).
 * Valid until the next ws_dispatch. */
const char *ws_dispatch_reason(void);

/*
 * 1 when the platform canceled req, the handler's request: its client went
 * away (or, for a ws_dispatch callee, its caller gave up). Nobody will see
 * the answer, so a long handler may check now and then and return at once.
 * It has a grace (1 s) to return after the cancel; one that runs on is
 * killed. Reads what already arrived, without waiting: a system call or
 * two, not for every loop iteration of a tight loop. Waits inside the shim
 * (ws_kv_get, ws_dispatch, ws_fetch, reading a body) return WS_ECANCELED
 * by themselves.
 */
int ws_req_canceled(const ws_request *req);

/* ---- forwarding: a dispatch worker's decision (docs/dispatch.md) ----
 *
 * A dispatch worker usually only decides which worker serves a request.
 * ws_forward hands the request it was given on to that worker and ends the
 * handler's part: the platform sends the request, with every change the
 * handler made to it (headers set or deleted, the URL, the context), to
 * ns/worker, and the target's answer straight to the client, with the
 * response edits given here. Neither the request's body nor the response
 * passes through this process, which is free for the next request at
 * once; ws_dispatch is for a handler that must read or change the answer.
 *
 *   ws_forwarding *fw = ws_forward_new("tenants", name);
 *   ws_forward_limits(fw, &plan_limits);
 *   ws_forward_res_set(fw, "Server", "example");
 *   return ws_forward(req, fw);
 *
 * The target must be one this worker's deployment binds (a dispatch
 * namespace, or a service binding's target); otherwise the client gets
 * 403 `denied`, and a target that is not deployed 404. The request's body
 * stays with the platform unless the handler reads it (ws_req_body): a
 * handler that replaced it (ws_req_set_body) cannot forward. Each list of
 * edits holds at most WS_FORWARD_EDITS_MAX entries.
 */
#define WS_FORWARD_EDITS_MAX 64
#define WS_FORWARD_CACHE_TTL_MAX 3600
#define WS_FORWARD_VARY_MAX 8

typedef struct ws_forwarding ws_forwarding;

/* A forward to worker ns/worker; NULL on invalid names or out of memory. */
ws_forwarding *ws_forward_new(const char *ns, const char *worker);
/* Frees a forward not handed to ws_forward. Accepts NULL. */
void ws_forward_free(ws_forwarding *fw);
/* The target's limits for this request: they only lower its plan's. */
int ws_forward_limits(ws_forwarding *fw, const ws_limits *lim);
/* Response edits, applied by the platform to an answer the target gave
 * (not to the platform's error pages), in this order: every header
 * called name removed (res_del), replaced by one (res_set), or added when
 * the answer has none of that name and its status is below 400
 * (res_default, e.g. a Cache-Control). */
int ws_forward_res_del(ws_forwarding *fw, const char *name);
int ws_forward_res_set(ws_forwarding *fw, const char *name, const char *value);
int ws_forward_res_default(ws_forwarding *fw, const char *name,
                           const char *value);
/* Lets the platform reuse this decision, without waking this worker, for
 * later requests with the same Host (and the same values of each header
 * ws_forward_vary names, e.g. "Authorization"), for at most ttl_s seconds
 * (1..WS_FORWARD_CACHE_TTL_MAX) and only while this worker's version and
 * every KV namespace it binds are unchanged (docs/dispatch.md, "Decision
 * cache"). Use it only for decisions that depend on nothing else. */
int ws_forward_cache(ws_forwarding *fw, uint32_t ttl_s);
int ws_forward_vary(ws_forwarding *fw, const char *header);
/* Hands req, the request this handler was given, on as fw says (fw is
 * taken, whatever the result). Call it last, and return 0 from the
 * handler: the platform then sends no response of this worker's. 0, or
 * WS_EINVAL (req is not the handler's request, its body was replaced, a
 * forward was already asked for) or WS_ENOMEM. */
int ws_forward(ws_request *req, ws_forwarding *fw);

/*
 * Sends req to the URL it names and waits for the answer, which replaces
 * the contents of `out` (status, headers, body). req's URL must be absolute
 * "http://host[:port]/path?query" or "https://..." (ws_request_new accepts
 * both; anything else is WS_EINVAL), without a user name. https origins are
 * always verified (certificate chain, host name, TLS 1.2 or later) and a
 * failure is WS_EFETCH with a "tls: ..." reason. The platform checks the
 * URL against its egress policy (docs/fetch.md): the host must be an IP
 * address or a name the policy maps to one, and that address and port must
 * be allowed; loopback, link-local and private addresses only when listed.
 * A host "NAME.worker" (http, port 80) is a service binding: the request
 * goes straight to the worker this deployment's service binding NAME
 * names (yardctl deploy --service NAME=NS/WORKER; NAME without case), as
 * with ws_dispatch but without context, with the URL's path and query as
 * its URL; a NAME no binding has is WS_EDENIED.
 * Redirects (301, 302, 303, 307, 308 with a Location; http and https either
 * way) are followed, at most 5, each one checked against the policy again
 * and costing a subrequest; a
 * 303, or a 301/302 answering a POST, continues as a GET without the body.
 * req is not modified or taken over. Each call (and each redirect) spends
 * one of the request's subrequests, shared with ws_dispatch.
 * Returns 0 when a response arrived (whatever its HTTP status), or:
 *   WS_EDENIED              the egress policy refuses the URL (also for a
 *                           redirect), or NAME.worker is no service
 *                           binding of this worker's; out is a 403 page
 *   WS_ETOOMANYSUBREQUESTS  this request has no subrequests left
 *   WS_EFETCH               the origin could not be reached, timed out,
 *                           failed TLS, broke HTTP, answered with more than
 *                           the policy's max_response_bytes, or redirected
 *                           more than 5 times; out is a 502 page
 *   WS_ENOTFOUND ... WS_EOVERLOADED  as for ws_dispatch, for a binding
 *   WS_EIO / WS_EINVAL / WS_ENOMEM / WS_ECANCELED
 * ws_dispatch_reason() gives the platform's reason for the last failure of
 * either call ("egress: denied 10.0.0.1:80").
 */
int ws_fetch(ws_request *req, ws_response *out);

/*
 * What is left of the request being handled: CPU milliseconds (counted by
 * this process's CPU clock since the handler began), wall milliseconds and
 * subrequests (ws_dispatch calls). The platform stops the request when its
 * CPU or wall time runs out (outcome exceededCpu / exceededWallTime) and
 * refuses subrequests past the last one (WS_ETOOMANYSUBREQUESTS).
 * Returns 0; WS_EINVAL outside a handler or for NULL; WS_ENOTFOUND (and
 * zeros) when the platform did not say what the limits are.
 */
int ws_limits_remaining(ws_limits *lim);

/* ---- KV (docs/kv.md) ----
 *
 * Key-value namespaces kept by the platform, reached through bindings
 * declared at deploy (yardctl deploy ... --kv BINDING=KVNS[:ro]). Keys are
 * 1-511 bytes without NUL; values at most WS_KV_VALUE_MAX bytes (1 MiB). A
 * write is durable once the call returns and is seen by every request that
 * starts after that, in any worker; a request already running may go on
 * seeing the value it read. Writes, and reads the shim cannot answer from
 * its cache, are one round trip to the platform (a value over 200 KiB
 * travels in several frames of it). ws_kv_get answers from a per-process
 * cache while the platform says the namespace has not changed (values up
 * to 64 KiB, "not found" included; WS_KV_CACHE_MB=N in the worker's
 * environment bounds it, default 4, 0 turns it off).
 * Errors: WS_EDENIED (no such binding in this version, or a write through
 * a read-only one), WS_ENOTFOUND (no such key, or it expired), WS_EINVAL,
 * WS_ENOMEM, WS_EIO, WS_EINTERNAL (the store failed, e.g. it is full: the
 * platform's log then names the namespace and the setting to raise).
 */
#define WS_KV_VALUE_MAX (1024u * 1024u)
#define WS_KV_KEY_MAX 511

/* Reads key: *val is a malloc'd copy the caller releases with ws_kv_free()
 * (or free()), NUL-terminated for convenience (the NUL is not counted in
 * *len); len may be NULL. */
int ws_kv_get(const char *binding, const char *key, void **val, size_t *len);
/* Writes key; ttl_s > 0 makes it expire that many seconds from now. */
int ws_kv_put(const char *binding, const char *key, const void *val,
              size_t len, uint32_t ttl_s);
/* Deletes key: 0, or WS_ENOTFOUND when it did not exist. */
int ws_kv_delete(const char *binding, const char *key);
void ws_kv_free(void *val);

/* One page of keys from ws_kv_list. */
typedef struct {
	char **keys;  /* n keys in byte order, each NUL-terminated */
	size_t n;
	char *cursor; /* pass to the next ws_kv_list; NULL when no key is
	               * left */
} ws_kv_keys;

/* Keys starting with prefix (NULL: all), after cursor (NULL: from the
 * first): at most 1000 (fewer when they are long). Fills *out, which the
 * caller releases with ws_kv_keys_free(). */
int ws_kv_list(const char *binding, const char *prefix, const char *cursor,
               ws_kv_keys *out);
void ws_kv_keys_free(ws_kv_keys *k);

/* ---- environment and logging ---- */

/* Value of an environment variable set at deploy (yardctl deploy --env),
 * or NULL. */
const char *ws_env(const char *name);

/* Writes one line to the worker's log (its stderr, captured by the
 * platform). level is one of WS_LOG_*. */
void ws_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Text for a WS_E* code ("worker not found"); never NULL. */
const char *ws_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif
