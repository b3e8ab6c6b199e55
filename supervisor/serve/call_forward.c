/*
 * Forwarding: a dispatch worker ends its part of a request with a FORWARD
 * (proto/switchyard.proto, message Forward) instead of a response, and the
 * supervisor hands the request to the target worker itself, as a tail
 * call. The dispatch worker's process is free at once; the request's head
 * and body, held here since the router sent them (call.c), go to the
 * target with the edits the decision asks for; the target's answer goes
 * straight to the router, with the decision's response edits applied
 * (call_answer.c). Neither body passes through the dispatch worker, which
 * is what makes this cheaper than ws_dispatch, where the dispatcher relays
 * both.
 *
 * The decision is checked as a ws_dispatch would be: the target must be
 * one the dispatch worker's version binds (state/bindings.c), context is
 * given only through a dispatch namespace, and limits only lower the
 * target's plan. Each part has its own event: the dispatch worker's says
 * where it forwarded, the target's who forwarded to it.
 *
 * A decision that carries `cache` is also kept (decision_cache.c), and a
 * later router request it fits is handed on here the same way, checked
 * against the dispatch worker's current version, without waking it: the
 * target's event then says the decision was cached, and the dispatch
 * worker, whose code did not run, has none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "names.h"
#include "serve/call.h"
#include "serve/call_state.h"
#include "serve/decision_cache.h"
#include "serve/events.h"
#include "serve/limits.h"
#include "serve/pool.h"
#include "state/bindings.h"
#include "state/registry.h"

#define WHY_MAX 640

/* 1 if name is in v[0, n), without case. */
static int named(char *const *v, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcasecmp(v[i], name) == 0)
			return 1;
	}
	return 0;
}

static int set_named(Switchyard__Header *const *h, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcasecmp(h[i]->name, name) == 0)
			return 1;
	}
	return 0;
}

/*
 * The header list *hv[*n] with the edits applied: those named in rm or
 * in set go, set's are appended. The new list is malloc'd (*owned: free
 * it); its entries are r's own or set's, never copied, so the caller puts
 * the old list back before freeing r. -1 when out of memory.
 */
static int edit_headers(Switchyard__Header ***hv, size_t *n, char *const *rm,
                        size_t nrm, Switchyard__Header *const *set,
                        size_t nset, Switchyard__Header ***owned)
{
	Switchyard__Header **out;
	size_t i, k = 0;

	if ((out = calloc(*n + nset + 1, sizeof(*out))) == NULL)
		return -1;
	for (i = 0; i < *n; i++) {
		if (!named(rm, nrm, (*hv)[i]->name) &&
		    !set_named(set, nset, (*hv)[i]->name))
			out[k++] = (*hv)[i];
	}
	for (i = 0; i < nset; i++)
		out[k++] = set[i];
	*owned = out;
	*hv = out;
	*n = k;
	return 0;
}

/* The defaults of fw r lacks, appended to the list edit_headers made. */
static void add_defaults(Switchyard__Response *r, const Switchyard__Forward *fw)
{
	size_t i;

	if (r->status >= 400)
		return;
	for (i = 0; i < fw->n_response_default_headers; i++) {
		if (!set_named(r->headers, r->n_headers,
		               fw->response_default_headers[i]->name))
			r->headers[r->n_headers++] =
				fw->response_default_headers[i];
	}
}

int call_forward_response(const struct call *c, Switchyard__Response *r,
                          struct fwd_undo *u)
{
	const Switchyard__Forward *fw = c->fwd;
	Switchyard__Header **grown;

	u->headers = r->headers;
	u->n_headers = r->n_headers;
	u->owned = NULL;
	if (fw == NULL || r->outcome != SWITCHYARD__OUTCOME__OK)
		return 0;
	if (edit_headers(&r->headers, &r->n_headers,
	                 fw->response_remove_headers,
	                 fw->n_response_remove_headers,
	                 fw->response_set_headers, fw->n_response_set_headers,
	                 &u->owned) == -1)
		return -1;
	grown = realloc(u->owned, (r->n_headers +
	                           fw->n_response_default_headers + 1) *
	                          sizeof(*grown));
	if (grown == NULL) {
		call_forward_response_undo(r, u);
		return -1;
	}
	u->owned = r->headers = grown;
	add_defaults(r, fw);
	return 0;
}

void call_forward_response_undo(Switchyard__Response *r, struct fwd_undo *u)
{
	r->headers = u->headers;
	r->n_headers = u->n_headers;
	free(u->owned);
	u->owned = NULL;
}

/* The request the target gets: the held head with fw's edits, the target's
 * limits and, through a dispatch namespace, fw's context (c then owns the
 * packed bytes). 0, or -1 (ENOMEM, or a head over a frame: why). */
static int target_request(struct call *c, const Switchyard__Forward *fw,
                          int give_context, const char **why)
{
	Switchyard__Header **hv, **edited = NULL;
	Switchyard__Request *r;
	uint8_t *held = c->req_owned;
	size_t nh;
	char *url;
	int rc = -1, packed = 0;

	*why = "out of memory";
	if ((r = switchyard__request__unpack(NULL, c->req_len, c->req)) == NULL)
		return -1;
	hv = r->headers;
	nh = r->n_headers;
	url = r->url;
	if (edit_headers(&r->headers, &r->n_headers, fw->remove_headers,
	                 fw->n_remove_headers, fw->set_headers,
	                 fw->n_set_headers, &edited) == 0) {
		if (fw->url[0] != '\0')
			r->url = fw->url;
		c->req_owned = NULL;
		rc = call_pack_request(c, r, give_context ? fw->context : NULL,
		                       give_context ? fw->n_context : 0);
		if (rc == 0 && c->req_len > SY_FRAME_MAX) {
			*why = "request head too large";
			rc = -1;
		}
		packed = 1;
	}
	r->headers = hv;
	r->n_headers = nh;
	r->url = url;
	free(edited);
	switchyard__request__free_unpacked(r, NULL);
	/* c's request is the packed one now: the held bytes were r's */
	if (packed)
		free(held);
	return rc;
}

/* The dispatch worker's part is over: counted, its event recorded (as
 * forwarding to `to`), its process free for the next request. */
static void decider_done(struct call *c, struct proc *p, const char *to)
{
	uint64_t cpu_us = limits_cpu_share_us(p);

	pool_account(c->pool, 1, 0);
	snprintf(c->fwd_to, sizeof(c->fwd_to), "%s", to);
	call_done(c, SWITCHYARD__OUTCOME__OK, 0, "", "",
	          ev_clock_us() - c->recv_us, cpu_us);
	c->fwd_to[0] = '\0';
	call_unbind(c);
	/* ws_dispatch waits for its answers: calls still open are orphans */
	call_origin_gone(p);
	pool_finished(p);
}

/* A decision the dispatch worker may not take: the client gets `o`,
 * naming the dispatch worker, and its process goes on. */
static void refuse(struct call *c, struct proc *p, Switchyard__Outcome o,
                   const char *why)
{
	pool_violation(p, why);
	events_call_violation(c, why);
	call_unbind(c);
	call_origin_gone(p);
	pool_finished(p);
	call_violated(c, o, why, why);
}

/* Hands c to its target w under fw (taken: kept for the response edits
 * when it has any). */
static void hand_on(struct call *c, struct worker *w, Switchyard__Forward *fw,
                    int give_context)
{
	const char *why;

	limits_set(c, w->plan, fw->limits);
	if (target_request(c, fw, give_context, &why) == -1) {
		switchyard__forward__free_unpacked(fw, NULL);
		call_refuse(c, NULL, SWITCHYARD__OUTCOME__INTERNAL_ERROR,
		            c->fwd_from, why, "");
		return;
	}
	c->add_limits = 0;
	c->hold = c->pulled = 0;
	c->subrequests = 0;
	c->cpu_us = 0;
	c->forwarded = 1;
	if (fw->n_response_remove_headers + fw->n_response_set_headers +
	    fw->n_response_default_headers > 0)
		c->fwd = fw;
	else
		switchyard__forward__free_unpacked(fw, NULL);
	pool_submit(w, c);
}

/* The version p runs; NULL when it is no longer kept: it binds nothing. */
static const struct version *proc_version(const struct proc *p)
{
	const struct worker *w = pool_worker(p->pool);

	return w != NULL ? registry_version(w, p->version) : NULL;
}

/* The FORWARD f (fw unpacked)'s checks, in the order a ws_dispatch's
 * are made: its binding, then whether its target exists. A decision the
 * dispatch worker lets the supervisor reuse is kept once it passed the
 * first: the second is made again for every request it serves. */
static void forward(struct call *c, struct proc *p, Switchyard__Forward *fw,
                    const struct sy_frame *f)
{
	const struct worker *dw = pool_worker(p->pool);
	char target[2 * SY_NAME_MAX], why[WHY_MAX];
	enum bind_via via;
	struct worker *w;

	snprintf(target, sizeof(target), "%s/%s", fw->ns, fw->worker);
	via = registry_call_bound(proc_version(p), fw->ns, fw->worker);
	if (via == BIND_NONE) {
		snprintf(why, sizeof(why), "binding: %s may not forward to %s "
		         "(neither a dispatch namespace nor a service binding "
		         "of its deployment names it)", p->worker, target);
		switchyard__forward__free_unpacked(fw, NULL);
		refuse(c, p, SWITCHYARD__OUTCOME__DENIED, why);
		return;
	}
	if (fw->cache != NULL && dw != NULL)
		dcache_store(dw, p->version, c->kv_mark, c->req, c->req_len, fw,
		             f->payload, f->len);
	snprintf(c->fwd_from, sizeof(c->fwd_from), "%s", p->worker);
	decider_done(c, p, target);
	if ((w = registry_find(fw->ns, fw->worker)) == NULL) {
		call_not_found(c, NULL, fw->ns, fw->worker);
		switchyard__forward__free_unpacked(fw, NULL);
		return;
	}
	hand_on(c, w, fw, via == BIND_DISPATCH);
}

void call_forward(struct proc *p, const struct sy_frame *f)
{
	struct call *c = call_held(p, f->stream);
	Switchyard__Forward *fw;
	const char *why;
	char msg[WHY_MAX];

	if (c == NULL || c->answered || !c->hold ||
	    !(f->flags & SY_FLAG_END) || (f->flags & SY_FLAG_ABORT)) {
		pool_kill(p, "protocol error: FORWARD on a stream it may not "
		          "forward", BLAME_PROTOCOL);
		return;
	}
	if ((fw = switchyard__forward__unpack(NULL, f->len, f->payload)) ==
	    NULL) {
		pool_kill(p, "protocol error: malformed FORWARD", BLAME_PROTOCOL);
		return;
	}
	if ((why = sy_forward_problem(fw)) != NULL) {
		switchyard__forward__free_unpacked(fw, NULL);
		snprintf(msg, sizeof(msg), "protocol error: forward: %s", why);
		pool_kill(p, msg, BLAME_PROTOCOL);
		return;
	}
	if (c->canceled) {
		/* its client left: nobody to hand it on for */
		switchyard__forward__free_unpacked(fw, NULL);
		call_cancel_over(c, p);
		return;
	}
	forward(c, p, fw, f);
}

int call_forward_cached(struct call *c, struct worker *dw)
{
	Switchyard__Forward *fw;
	enum bind_via via;
	struct worker *w;

	/* stopped by the operator (or FATAL): its requests are refused as
	 * the pool refuses them, not served around it */
	if (pool_op_held(dw) ||
	    (fw = dcache_lookup(dw, c->req, c->req_len)) == NULL)
		return 0;
	/* the version that decided is dw's current one, whose bindings
	 * allowed it; a decision is still never carried out unchecked */
	via = registry_call_bound(worker_version(dw), fw->ns, fw->worker);
	if (via == BIND_NONE) {
		switchyard__forward__free_unpacked(fw, NULL);
		return 0;
	}
	snprintf(c->fwd_from, sizeof(c->fwd_from), "%s/%s", dw->ns, dw->name);
	c->fwd_cached = 1;
	if ((w = registry_find(fw->ns, fw->worker)) == NULL) {
		call_not_found(c, NULL, fw->ns, fw->worker);
		switchyard__forward__free_unpacked(fw, NULL);
		return 1;
	}
	hand_on(c, w, fw, via == BIND_DISPATCH);
	return 1;
}
