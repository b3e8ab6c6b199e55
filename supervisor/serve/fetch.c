/*
 * ws_fetch: outbound HTTP for workers, which cannot open sockets.
 *
 * The supervisor decides, the router acts. A worker's fetch REQUEST spends
 * one of its request's subrequest tokens, then its URL (our own protobuf
 * field: no HTTP is parsed here) is checked against the egress policy
 * (netpolicy.c), which also maps names to addresses: nothing is resolved
 * at run time. An allowed fetch is re-packed with the address, port and
 * bounds (and, for https, the policy's private CAs) filled in and sent to
 * the router on a stream of our own; the
 * router's egress client (router/egress.c) connects only to that address
 * and answers on the stream, and the answer is relayed to the worker. A
 * denied fetch never reaches the router: it is answered DENIED and counted
 * as a violation of the worker. Service bindings (NAME.worker) never come
 * here: subrequest.c turns them into ws_dispatch calls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "serve/call.h"
#include "serve/events.h"
#include "serve/fetch.h"
#include "serve/limits.h"
#include "serve/routerproc.h"
#include "serve/serve.h"
#include "state/netpolicy.h"

#define FETCHES_MAX 16       /* open fetches per process */

struct fetch {
	uint32_t id;               /* stream on the router channel */
	struct peer *origin;       /* the worker's channel */
	struct proc *origin_proc;
	uint32_t origin_stream;
	uint64_t body_bytes;       /* request body relayed */
	uint64_t res_left;         /* response body still expected */
	int answered;              /* the RESPONSE went to the worker */
	int req_end;               /* the worker sent its END */
	char label[NP_HOST_MAX + 16]; /* "host:port": Response.worker */
	char rid[SY_REQUEST_ID_LEN + 1]; /* the calling request's id */
	struct fetch *next;
};

static struct fetch *fetches;
static uint32_t last_id;

static struct fetch *by_origin(const struct peer *from, uint32_t stream)
{
	struct fetch *fe;

	for (fe = fetches; fe != NULL; fe = fe->next)
		if (fe->origin == from && fe->origin_stream == stream)
			return fe;
	return NULL;
}

static struct fetch *by_id(uint32_t id)
{
	struct fetch *fe;

	for (fe = fetches; fe != NULL; fe = fe->next)
		if (fe->id == id)
			return fe;
	return NULL;
}

static unsigned count_of(const struct proc *p)
{
	const struct fetch *fe;
	unsigned n = 0;

	for (fe = fetches; fe != NULL; fe = fe->next)
		n += fe->origin_proc == p;
	return n;
}

static void fetch_free(struct fetch *fe)
{
	struct fetch **pp;

	for (pp = &fetches; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == fe) {
			*pp = fe->next;
			break;
		}
	}
	free(fe);
}

/* Tells the router to drop fe's stream. */
static void cancel(const struct fetch *fe)
{
	struct peer *router = routerproc_chan();

	if (router != NULL)
		peer_send_raw(router, SY_MSG_CANCEL, 0, fe->id, NULL, 0);
}

/* Answers the worker without a body: outcome o, reason (and violation). */
static void answer(struct peer *to, uint32_t stream, Switchyard__Outcome o,
                   const char *who, const char *reason,
                   const char *violation)
{
	Switchyard__Response r = SWITCHYARD__RESPONSE__INIT;

	r.outcome = o;
	r.worker = (char *)who;
	r.reason = (char *)reason;
	r.violation = (char *)violation;
	peer_send_msg(to, SY_MSG_RESPONSE, SY_FLAG_END, stream, &r.base);
}

/* The fetch failed on our side: tells the worker (an error RESPONSE, or an
 * aborted body) and the router (CANCEL), and forgets it. */
static void fetch_fail(struct fetch *fe, Switchyard__Outcome o,
                       const char *reason)
{
	log_debug("request %s: fetch %s for %s: %s", fe->rid, fe->label,
	          fe->origin_proc->worker, reason);
	if (!fe->answered)
		answer(fe->origin, fe->origin_stream, o, fe->label, reason, "");
	else
		peer_send_raw(fe->origin, SY_MSG_RES_BODY,
		              SY_FLAG_END | SY_FLAG_ABORT, fe->origin_stream,
		              NULL, 0);
	cancel(fe);
	fetch_free(fe);
}

/* Spends a token and checks the policy: 0, or -1 once answered. */
static int fetch_admit(struct proc *op, uint32_t stream, const char *url,
                       struct np_target *t)
{
	char why[NP_HOST_MAX + 96];

	if (limits_subrequest(op->calls, op, why, sizeof(why)) == -1) {
		answer(&op->peer, stream,
		       SWITCHYARD__OUTCOME__TOO_MANY_SUBREQUESTS, op->worker,
		       why, why);
		return -1;
	}
	if (netpolicy_parse_url(url, t, why, sizeof(why)) == -1 ||
	    netpolicy_check(serve_env.conf->egress, t, why,
	                    sizeof(why)) == -1) {
		pool_violation(op, why);
		events_call_violation(op->calls, why);
		answer(&op->peer, stream, SWITCHYARD__OUTCOME__DENIED,
		       op->worker, why, why);
		return -1;
	}
	if (routerproc_chan() == NULL) {
		answer(&op->peer, stream, SWITCHYARD__OUTCOME__INTERNAL_ERROR,
		       op->worker, "the router is not running", "");
		return -1;
	}
	return 0;
}

/* The Request the router gets: the worker's method, headers and body,
 * the URL rebuilt from what the policy checked, the bounds, and the
 * calling request's id. NULL, or
 * why it cannot be sent (nothing was). */
static const char *forward(struct fetch *fe, Switchyard__Request *r,
                           const struct np_target *t, uint8_t flags)
{
	Switchyard__Fetch fo = SWITCHYARD__FETCH__INIT, *asked = r->fetch;
	Switchyard__Limits *lim = r->limits;
	char *ns = r->ns, *worker = r->worker, *url = r->url, *ra, *rid;
	char full[16 + NP_HOST_MAX + 8192];
	const char *why = NULL;
	const struct netpolicy *pol = serve_env.conf->egress;
	int v6 = t->family == AF_INET6 && strchr(t->host, ':') != NULL;
	uint64_t max = netpolicy_max_response_bytes(pol);
	uint64_t body_max = serve_env.conf->max_body_bytes;
	size_t calen, nctx;
	const char *ca = netpolicy_ca_pem(pol, &calen);
	int n;

	n = snprintf(full, sizeof(full), "%s://%s%s%s:%u%s%s",
	             t->https ? "https" : "http", v6 ? "[" : "",
	             t->host, v6 ? "]" : "", t->port,
	             t->path[0] == '/' ? "" : "/", t->path);
	if (n < 0 || (size_t)n >= sizeof(full))
		return "URL too long";
	full[strcspn(full, "#")] = '\0';
	fo.url = full;
	fo.host = (char *)t->host;
	fo.addr = (char *)t->addr;
	fo.port = t->port;
	/* the worker's channel must hold the whole answer (pool.c) */
	fo.max_response_bytes = max < body_max ? max : body_max;
	fo.timeout_ms = netpolicy_timeout_ms(pol);
	/* the policy's private CAs, sent along since the router, sandboxed,
	 * cannot read the file (it reads only the system bundle, at start) */
	if (t->https && ca != NULL) {
		fo.ca_pem.data = (uint8_t *)ca;
		fo.ca_pem.len = calen;
	}
	ra = r->remote_addr;
	rid = r->request_id;
	r->request_id = fe->rid;
	nctx = r->n_context;
	r->fetch = &fo;
	r->limits = NULL;
	r->n_context = 0; /* a worker's context is not the origin's business */
	r->ns = r->worker = r->url = r->remote_addr = (char *)"";
	/* a frame too large would break the router's channel, not this fetch */
	if (protobuf_c_message_get_packed_size(&r->base) > SY_FRAME_MAX)
		why = "request head too large (with the policy's ca_file)";
	else
		peer_send_msg(routerproc_chan(), SY_MSG_REQUEST, flags, fe->id,
		              &r->base);
	r->fetch = asked;
	r->limits = lim;
	r->n_context = nctx;
	r->ns = ns;
	r->worker = worker;
	r->url = url;
	r->remote_addr = ra;
	r->request_id = rid;
	return why;
}

void fetch_request(struct proc *op, uint32_t stream, uint8_t flags,
                   Switchyard__Request *r)
{
	struct np_target t;
	struct fetch *fe;
	const char *why;

	if (by_origin(&op->peer, stream) != NULL) {
		pool_kill(op, "protocol error: REQUEST on a stream already open",
		          BLAME_PROTOCOL);
		return;
	}
	if (count_of(op) >= FETCHES_MAX) {
		pool_kill(op, "protocol error: too many fetches at once",
		          BLAME_PROTOCOL);
		return;
	}
	if (fetch_admit(op, stream, r->fetch->url, &t) == -1)
		return;
	if ((fe = calloc(1, sizeof(*fe))) == NULL) {
		answer(&op->peer, stream, SWITCHYARD__OUTCOME__INTERNAL_ERROR,
		       op->worker, "out of memory", "");
		return;
	}
	if (++last_id == 0)
		last_id = 1;
	fe->id = last_id;
	fe->origin = &op->peer;
	fe->origin_proc = op;
	fe->origin_stream = stream;
	fe->req_end = (flags & SY_FLAG_END) != 0;
	snprintf(fe->label, sizeof(fe->label), "%s:%u", t.host, t.port);
	memcpy(fe->rid, op->calls->rid, sizeof(fe->rid));
	fe->next = fetches;
	fetches = fe;
	log_debug("request %s: fetch %s for %s: to %s", fe->rid, fe->label,
	          op->worker, t.addr);
	if ((why = forward(fe, r, &t, flags & SY_FLAG_END)) != NULL) {
		answer(&op->peer, stream, SWITCHYARD__OUTCOME__INTERNAL_ERROR,
		       op->worker, why, "");
		fetch_free(fe);
	}
}

int fetch_req_body(struct peer *from, const struct sy_frame *f)
{
	struct fetch *fe = by_origin(from, f->stream);

	if (fe == NULL)
		return 0;
	if (fe->req_end) {
		pool_kill(from->owner, "protocol error: REQ_BODY after the "
		          "request's END", BLAME_PROTOCOL);
		return 1;
	}
	fe->req_end = (f->flags & SY_FLAG_END) != 0;
	if (f->flags & SY_FLAG_ABORT) {
		fe->answered = 1; /* nobody waits for an answer */
		fetch_fail(fe, SWITCHYARD__OUTCOME__CANCELED, "aborted");
		return 1;
	}
	fe->body_bytes += f->len;
	if (fe->body_bytes > serve_env.conf->max_body_bytes) {
		fetch_fail(fe, SWITCHYARD__OUTCOME__INTERNAL_ERROR,
		           "request body too large");
		return 1;
	}
	if (routerproc_chan() != NULL)
		peer_send_raw(routerproc_chan(), SY_MSG_REQ_BODY,
		              f->flags & SY_FLAG_END, fe->id, f->payload,
		              f->len);
	return 1;
}

/* Forgets fe without answering the worker: it canceled or is gone. */
static void fetch_drop(struct fetch *fe)
{
	cancel(fe);
	fetch_free(fe);
}

int fetch_cancel(struct peer *from, const struct sy_frame *f)
{
	struct fetch *fe = by_origin(from, f->stream);

	if (fe == NULL)
		return 0;
	fetch_drop(fe);
	return 1;
}

void fetch_origin_gone(struct proc *p)
{
	struct fetch *fe, *next;

	for (fe = fetches; fe != NULL; fe = next) {
		next = fe->next;
		if (fe->origin_proc == p)
			fetch_drop(fe);
	}
}

void fetch_router_gone(void)
{
	while (fetches != NULL) {
		fetches->id = 0;
		fetch_fail(fetches, SWITCHYARD__OUTCOME__INTERNAL_ERROR,
		           "the router went away");
	}
}

/* The router is our own: its mistakes stop the platform. */
static void router_broke(const char *why)
{
	routerproc_lost(why);
}

/* The router answers OK with an HTTP status or FETCH_FAILED without. */
static const char *check_answer(const Switchyard__Response *r, uint8_t flags)
{
	if (flags & SY_FLAG_ABORT)
		return "protocol error: fetch RESPONSE flagged ABORT";
	if (r->outcome == SWITCHYARD__OUTCOME__OK) {
		if (r->status < 100 || r->status > 999)
			return "protocol error: fetch status out of range";
	} else if (r->outcome != SWITCHYARD__OUTCOME__FETCH_FAILED ||
	           r->body_len != 0) {
		return "protocol error: fetch outcome the router may not give";
	}
	if (((flags & SY_FLAG_END) != 0) != (r->body_len == 0))
		return "protocol error: fetch RESPONSE END flag disagrees with "
		       "body_len";
	return NULL;
}

void fetch_response(struct peer *router, const struct sy_frame *f)
{
	struct fetch *fe = by_id(f->stream);
	Switchyard__Response *r;
	const char *why;
	char *worker, *violation;

	if (fe == NULL || fe->answered) {
		if (fe != NULL)
			router_broke("protocol error: second fetch RESPONSE");
		return; /* canceled: a late answer */
	}
	if ((r = switchyard__response__unpack(NULL, f->len, f->payload)) ==
	    NULL) {
		router_broke("protocol error: malformed fetch RESPONSE");
		return;
	}
	if ((why = check_answer(r, f->flags)) != NULL) {
		switchyard__response__free_unpacked(r, NULL);
		router_broke(why);
		return;
	}
	worker = r->worker;
	violation = r->violation;
	r->worker = fe->label;
	r->violation = (char *)"";
	fe->answered = 1;
	fe->res_left = r->body_len;
	peer_send_msg(fe->origin, SY_MSG_RESPONSE, f->flags & SY_FLAG_END,
	              fe->origin_stream, &r->base);
	r->worker = worker;
	r->violation = violation;
	switchyard__response__free_unpacked(r, NULL);
	if (f->flags & SY_FLAG_END)
		fetch_free(fe);
	(void)router;
}

void fetch_res_body(struct peer *router, const struct sy_frame *f)
{
	struct fetch *fe = by_id(f->stream);
	int abort = (f->flags & SY_FLAG_ABORT) != 0;
	int end = (f->flags & SY_FLAG_END) != 0;

	(void)router;
	if (fe == NULL)
		return; /* canceled: a late answer */
	if (!fe->answered || f->len > fe->res_left) {
		router_broke("protocol error: fetch RES_BODY out of sequence");
		return;
	}
	fe->res_left -= f->len;
	if (!abort && end != (fe->res_left == 0)) {
		router_broke("protocol error: fetch RES_BODY END flag "
		             "disagrees with body_len");
		return;
	}
	peer_send_raw(fe->origin, SY_MSG_RES_BODY,
	              abort ? SY_FLAG_END | SY_FLAG_ABORT : f->flags,
	              fe->origin_stream, f->payload, f->len);
	if (abort || end)
		fetch_free(fe);
}
