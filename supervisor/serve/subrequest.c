/*
 * Subrequests (call.h): a worker's ws_dispatch, and its ws_fetch of
 * http://NAME.worker/ (a service binding), made while it serves a request.
 *
 * Whom a worker may call is decided here, by the bindings of the version
 * its process runs (state/bindings.h, registry_call_bound): any worker of
 * a dispatch namespace its deployment binds, or the target of one of its
 * service bindings; http://NAME.worker/ means only the service binding
 * called NAME. Anything else is answered DENIED and counted as a
 * `binding` violation before the target is looked up, so a caller learns
 * nothing of the workers it may not call. An allowed call is rebuilt for
 * its callee (call_pack_request): the callee's limits, and the context the
 * caller set only when it calls through a dispatch namespace.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "serve/call.h"
#include "serve/call_state.h"
#include "serve/events.h"
#include "serve/fetch.h"
#include "serve/limits.h"
#include "serve/pool.h"
#include "state/netpolicy.h"
#include "state/registry.h"

#define SUBCALLS_MAX 16     /* open ws_dispatch calls per process */
#define WHY_MAX 640

/* The version op's process runs; NULL when it is no longer kept (or op's
 * pool is gone): such a process may call nothing. */
static const struct version *proc_version(const struct proc *op)
{
	const struct worker *w = pool_worker(op->pool);

	return w != NULL ? registry_version(w, op->version) : NULL;
}

/* A worker may only call others while it serves a call of its own. */
static int subrequest_allowed(const struct proc *op, char *why,
                              size_t whylen)
{
	if (op->calls == NULL || (op->state != PROC_BUSY &&
	                         op->state != PROC_DRAINING)) {
		snprintf(why, whylen, "protocol error: subrequest outside a "
		         "request");
		return 0;
	}
	if (op->nsubcalls >= SUBCALLS_MAX) {
		snprintf(why, whylen, "protocol error: too many subrequests at "
		         "once");
		return 0;
	}
	return 1;
}

/* Unpacks a subrequest and checks its target and context, which the shim
 * never gets wrong; the rest of the Request is the callee's business. The
 * Request, or NULL with why. */
static Switchyard__Request *subrequest_open(const struct sy_frame *f,
                                            char *why, size_t whylen)
{
	Switchyard__Request *r;
	const char *bad = NULL;

	r = switchyard__request__unpack(NULL, f->len, f->payload);
	if (r == NULL) {
		snprintf(why, whylen, "protocol error: malformed subrequest");
		return NULL;
	}
	if (r->fetch == NULL &&
	    (!sy_valid_name(r->ns) || !sy_valid_name(r->worker)))
		snprintf(why, whylen, "protocol error: subrequest names an "
		         "invalid worker");
	else if ((bad = sy_context_problem(r->context, r->n_context)) != NULL)
		snprintf(why, whylen, "protocol error: subrequest context: %s",
		         bad);
	else
		return r;
	switchyard__request__free_unpacked(r, NULL);
	return NULL;
}

int call_pack_request(struct call *c, Switchyard__Request *r,
                      Switchyard__Header **ctx, size_t nctx)
{
	Switchyard__Limits l = SWITCHYARD__LIMITS__INIT, *asked = r->limits;
	Switchyard__Header **given = r->context;
	size_t ngiven = r->n_context, len;
	char *rid = r->request_id;

	l.cpu_ms = c->lim.cpu_ms;
	l.wall_ms = c->lim.wall_ms;
	l.subrequests = c->lim.subrequests;
	r->limits = &l;
	r->context = ctx;
	r->n_context = nctx;
	/* the caller's id, whatever the worker wrote there */
	r->request_id = c->rid;
	len = switchyard__request__get_packed_size(r);
	if ((c->req_owned = malloc(len ? len : 1)) != NULL)
		switchyard__request__pack(r, c->req_owned);
	r->limits = asked;
	r->context = given;
	r->n_context = ngiven;
	r->request_id = rid;
	c->req = c->req_owned;
	c->req_len = (uint32_t)len;
	c->req_packed = c->req_owned != NULL;
	return c->req_owned != NULL ? 0 : -1;
}

/* c, a subrequest of op, broke the platform's rule, not the protocol:
 * answered DENIED, counted as op's violation and listed in the event of
 * the request op serves. */
static void deny(struct call *c, struct proc *op, const char *target,
                 const char *why)
{
	pool_violation(op, why);
	events_call_violation(op->calls, why);
	call_deny(c, SWITCHYARD__OUTCOME__DENIED, target, why, why);
}

/* The rest of subrequest r from op, as call c: via says how op may call
 * r's target (BIND_NONE: it may not, for why, and target names it). */
static void subrequest(struct call *c, struct proc *op,
                       Switchyard__Request *r, enum bind_via via,
                       const char *target, const char *why)
{
	char spent[96];
	struct worker *w;

	memcpy(c->rid, op->calls->rid, sizeof(c->rid));
	if (limits_subrequest(op->calls, op, spent, sizeof(spent)) == -1) {
		call_refuse(c, r, SWITCHYARD__OUTCOME__TOO_MANY_SUBREQUESTS,
		            op->worker, spent, spent);
		return;
	}
	if (via == BIND_NONE) {
		deny(c, op, target, why);
		return;
	}
	if ((w = registry_find(r->ns, r->worker)) == NULL) {
		call_not_found(c, r, r->ns, r->worker);
		return;
	}
	limits_set(c, w->plan, r->limits);
	if (call_pack_request(c, r, via == BIND_DISPATCH ? r->context : NULL,
	                      via == BIND_DISPATCH ? r->n_context : 0) == -1 ||
	    c->req_len > SY_FRAME_MAX) {
		call_refuse(c, r, SWITCHYARD__OUTCOME__INTERNAL_ERROR,
		            op->worker, c->req == NULL ? "out of memory"
		            : "subrequest head too large", "");
		return;
	}
	pool_submit(w, c);
}

/* A ws_dispatch r from op, as call c. */
static void dispatch(struct call *c, struct proc *op, Switchyard__Request *r)
{
	char target[2 * SY_NAME_MAX], why[WHY_MAX];
	enum bind_via via;

	snprintf(target, sizeof(target), "%s/%s", r->ns, r->worker);
	via = registry_call_bound(proc_version(op), r->ns, r->worker);
	snprintf(why, sizeof(why), "binding: %s may not call %s (neither a "
	         "dispatch namespace nor a service binding of its deployment "
	         "names it)", op->worker, target);
	subrequest(c, op, r, via, target, why);
}

/* A ws_fetch r from op to http://NAME.worker/path?query: 1 with the
 * target of op's service binding NAME in ns and name and the URL's path
 * and query in url; 0 when r is an ordinary fetch; -1 when op has no
 * service binding NAME, with why and the host in host. */
static int service_url(const struct proc *op, const Switchyard__Request *r,
                       char *ns, char *name, char *url, size_t urlsize,
                       char *host, char *why, size_t whylen)
{
	static const char suffix[] = ".worker";
	const struct service_binding *b;
	size_t hl, sl = sizeof(suffix) - 1;
	char label[SY_NAME_MAX];
	struct np_target t;

	if (netpolicy_parse_url(r->fetch->url, &t, why, whylen) == -1)
		return 0;
	hl = strlen(t.host);
	if (t.https || hl <= sl || strcmp(t.host + hl - sl, suffix) != 0 ||
	    t.port != 80)
		return 0;
	snprintf(host, NP_HOST_MAX, "%s", t.host);
	snprintf(label, sizeof(label), "%.*s", (int)(hl - sl), t.host);
	if (hl - sl >= SY_NAME_MAX ||
	    (b = registry_service_find(proc_version(op), label)) == NULL) {
		snprintf(why, whylen, "binding: %s has no service binding "
		         "called %s (http://%s/)", op->worker, label, t.host);
		return -1;
	}
	snprintf(ns, SY_NAME_MAX, "%s", b->ns);
	snprintf(name, SY_NAME_MAX, "%s", b->worker);
	snprintf(url, urlsize, "%s%s", t.path[0] == '/' ? "" : "/", t.path);
	url[strcspn(url, "#")] = '\0';
	return 1;
}

/* A ws_fetch r: goes to the router, or, for a service binding, is made a
 * ws_dispatch to the binding's target in place, without context. r stays
 * the caller's. */
static void fetch_or_bind(struct proc *op, const struct sy_frame *f,
                          Switchyard__Request *r)
{
	char ns[SY_NAME_MAX], name[SY_NAME_MAX], url[8192];
	char host[NP_HOST_MAX], why[WHY_MAX];
	char *saved[3] = { r->ns, r->worker, r->url };
	Switchyard__Fetch *fe = r->fetch;
	struct call *c;
	int rc;

	rc = service_url(op, r, ns, name, url, sizeof(url), host, why,
	                 sizeof(why));
	if (rc == 0) {
		fetch_request(op, f->stream, f->flags, r);
		return;
	}
	if ((c = call_open(&op->peer, f)) == NULL)
		return;
	if (rc == -1) {
		subrequest(c, op, r, BIND_NONE, host, why);
		return;
	}
	/* the unpacked strings are free_unpacked's: ours only meanwhile */
	r->ns = ns;
	r->worker = name;
	r->url = url;
	r->fetch = NULL;
	subrequest(c, op, r, BIND_SERVICE, host, why);
	r->ns = saved[0];
	r->worker = saved[1];
	r->url = saved[2];
	r->fetch = fe;
}

void subrequest_request(struct proc *op, const struct sy_frame *f)
{
	Switchyard__Request *r;
	char why[WHY_MAX];
	struct call *c;

	if (!subrequest_allowed(op, why, sizeof(why)) ||
	    (r = subrequest_open(f, why, sizeof(why))) == NULL) {
		call_blame(&op->peer, why);
		return;
	}
	if (r->fetch != NULL)
		fetch_or_bind(op, f, r);
	else if ((c = call_open(&op->peer, f)) != NULL)
		dispatch(c, op, r);
	switchyard__request__free_unpacked(r, NULL);
}
