/*
 * ws_forward: a dispatch worker's decision, sent as one FORWARD frame once
 * its handler returns. The request edits are not given here: they are
 * what the handler did to the request it was given (request.c remembers
 * which headers it touched and whether it set the URL), so a dispatcher
 * edits its request as it would for ws_dispatch and forwards it.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "names.h"
#include "shim.h"

#define SAME_AS_WIRE(ws, sy) \
	_Static_assert((ws) == (sy), #ws " differs from proto/names.h")
SAME_AS_WIRE(WS_FORWARD_EDITS_MAX, SY_FORWARD_EDITS_MAX);
SAME_AS_WIRE(WS_FORWARD_CACHE_TTL_MAX, SY_FORWARD_CACHE_TTL_MAX);
SAME_AS_WIRE(WS_FORWARD_VARY_MAX, SY_FORWARD_VARY_MAX);

struct ws_forwarding {
	char ns[SY_NAME_MAX], worker[SY_NAME_MAX];
	int has_limits;
	ws_limits lim;
	struct ws_hdrs res_del, res_set, res_default; /* res_del: names */
	uint32_t ttl_s;
	struct ws_hdrs vary;                          /* names */
};

/* Scratch Header messages pointing into lists, for packing. */
struct packing {
	Switchyard__Header *h;
	Switchyard__Header **hp;
	size_t n, cap;
};

ws_forwarding *ws_forward_new(const char *ns, const char *worker)
{
	ws_forwarding *fw;

	if (ns == NULL || worker == NULL || !sy_valid_name(ns) ||
	    !sy_valid_name(worker) || (fw = calloc(1, sizeof(*fw))) == NULL)
		return NULL;
	memcpy(fw->ns, ns, strlen(ns) + 1);
	memcpy(fw->worker, worker, strlen(worker) + 1);
	return fw;
}

void ws_forward_free(ws_forwarding *fw)
{
	if (fw == NULL)
		return;
	hdrs_free(&fw->res_del);
	hdrs_free(&fw->res_set);
	hdrs_free(&fw->res_default);
	hdrs_free(&fw->vary);
	free(fw);
}

int ws_forward_limits(ws_forwarding *fw, const ws_limits *lim)
{
	if (fw == NULL || lim == NULL)
		return WS_EINVAL;
	fw->lim = *lim;
	fw->has_limits = 1;
	return 0;
}

/* Adds name (and value) to one of fw's lists, within its bound. */
static int list_add(struct ws_hdrs *h, const char *name, const char *value)
{
	if (h->n >= SY_FORWARD_EDITS_MAX)
		return WS_EINVAL;
	return hdrs_add_checked(h, name, value);
}

int ws_forward_res_del(ws_forwarding *fw, const char *name)
{
	return fw == NULL ? WS_EINVAL : list_add(&fw->res_del, name, "");
}

int ws_forward_res_set(ws_forwarding *fw, const char *name, const char *value)
{
	return fw == NULL ? WS_EINVAL : list_add(&fw->res_set, name, value);
}

int ws_forward_res_default(ws_forwarding *fw, const char *name,
                           const char *value)
{
	return fw == NULL ? WS_EINVAL
	                  : list_add(&fw->res_default, name, value);
}

int ws_forward_cache(ws_forwarding *fw, uint32_t ttl_s)
{
	if (fw == NULL || ttl_s < 1 || ttl_s > SY_FORWARD_CACHE_TTL_MAX)
		return WS_EINVAL;
	fw->ttl_s = ttl_s;
	return 0;
}

int ws_forward_vary(ws_forwarding *fw, const char *header)
{
	if (fw == NULL || fw->vary.n >= SY_FORWARD_VARY_MAX)
		return WS_EINVAL;
	return hdrs_add_checked(&fw->vary, header, "");
}

int ws_forward(ws_request *req, ws_forwarding *fw)
{
	struct shim_chan *c = &shim_chan;

	if (fw == NULL)
		return WS_EINVAL;
	if (req == NULL || !req->shim_owned || !c->in_handler ||
	    c->forward != NULL || req->body_set) {
		ws_forward_free(fw);
		return WS_EINVAL;
	}
	c->forward = fw;
	return 0;
}

/* ---- packing the Forward ---- */

static int pk_room(struct packing *pk, size_t more)
{
	Switchyard__Header *h;
	Switchyard__Header **hp;
	size_t cap = pk->n + more, i;

	if (cap <= pk->cap)
		return 0;
	if ((h = realloc(pk->h, cap * sizeof(*h))) == NULL)
		return -1;
	pk->h = h;
	if ((hp = realloc(pk->hp, cap * sizeof(*hp))) == NULL)
		return -1;
	pk->hp = hp;
	pk->cap = cap;
	for (i = 0; i < pk->n; i++)
		pk->hp[i] = &pk->h[i];
	return 0;
}

static void pk_put(struct packing *pk, const char *name, const char *value)
{
	Switchyard__Header *h = &pk->h[pk->n];

	switchyard__header__init(h);
	h->name = (char *)name;
	h->value = (char *)value;
	pk->hp[pk->n++] = h;
}

/* The entries of list h from pk: *v and *n point into pk, whose arrays
 * must not move any more (pk_room was asked for all of them first). */
static void pk_list(struct packing *pk, const struct ws_hdrs *h,
                    Switchyard__Header ***v, size_t *n)
{
	int i;

	*v = pk->hp + pk->n;
	*n = (size_t)h->n;
	for (i = 0; i < h->n; i++)
		pk_put(pk, hdrs_name(h, i), hdrs_value(h, i));
}

/* The names of list h, as strings (names malloc'd array). */
static char **names_of(const struct ws_hdrs *h)
{
	char **v = calloc((size_t)h->n + 1, sizeof(*v));
	int i;

	for (i = 0; v != NULL && i < h->n; i++)
		v[i] = (char *)hdrs_name(h, i);
	return v;
}

/* The request edits: each touched name gone from the request is removed;
 * each still there is set to every header of that name, in order. */
static int request_edits(const struct ws_request *req, struct packing *pk,
                         Switchyard__Forward *f, char ***rm)
{
	const struct ws_hdrs *t = &req->touched;
	size_t nset = 0;
	int i, j;

	if ((*rm = calloc((size_t)t->n + 1, sizeof(**rm))) == NULL)
		return -1;
	for (i = 0; i < t->n; i++) {
		if (hdrs_find(&req->hdrs, hdrs_name(t, i)) < 0)
			(*rm)[f->n_remove_headers++] = (char *)hdrs_name(t, i);
	}
	f->remove_headers = *rm;
	f->set_headers = pk->hp + pk->n;
	for (i = 0; i < req->hdrs.n; i++) {
		for (j = 0; j < t->n; j++) {
			if (strcasecmp(hdrs_name(&req->hdrs, i),
			               hdrs_name(t, j)) != 0)
				continue;
			pk_put(pk, hdrs_name(&req->hdrs, i),
			       hdrs_value(&req->hdrs, i));
			nset++;
			break;
		}
	}
	f->n_set_headers = nset;
	return 0;
}

/* Packs and queues fw for req as a Forward. */
static int send_forward(uint32_t stream, const struct ws_request *req,
                        const ws_forwarding *fw)
{
	Switchyard__Forward f = SWITCHYARD__FORWARD__INIT;
	Switchyard__Limits l = SWITCHYARD__LIMITS__INIT;
	Switchyard__ForwardCache fc = SWITCHYARD__FORWARD_CACHE__INIT;
	struct packing pk = { 0 };
	char **rm = NULL, **rdel = NULL, **vary = NULL;
	int rc = WS_ENOMEM;

	f.ns = (char *)fw->ns;
	f.worker = (char *)fw->worker;
	f.url = req->url_set ? (char *)ws_req_url(req) : (char *)"";
	if (pk_room(&pk, (size_t)(req->hdrs.n + fw->res_set.n +
	                          fw->res_default.n + req->ctx.n)) < 0 ||
	    request_edits(req, &pk, &f, &rm) < 0 ||
	    (rdel = names_of(&fw->res_del)) == NULL ||
	    (vary = names_of(&fw->vary)) == NULL)
		goto out;
	f.response_remove_headers = rdel;
	f.n_response_remove_headers = (size_t)fw->res_del.n;
	pk_list(&pk, &fw->res_set, &f.response_set_headers,
	        &f.n_response_set_headers);
	pk_list(&pk, &fw->res_default, &f.response_default_headers,
	        &f.n_response_default_headers);
	pk_list(&pk, &req->ctx, &f.context, &f.n_context);
	if (fw->has_limits) {
		l.cpu_ms = fw->lim.cpu_ms;
		l.wall_ms = fw->lim.wall_ms;
		l.subrequests = fw->lim.subrequests;
		f.limits = &l;
	}
	if (fw->ttl_s > 0) {
		fc.ttl_s = fw->ttl_s;
		fc.vary = vary;
		fc.n_vary = (size_t)fw->vary.n;
		f.cache = &fc;
	}
	/* what the platform would refuse (a header value with a control
	 * character, too many edits) fails the handler, not the process */
	rc = sy_forward_problem(&f) != NULL ? WS_EINVAL
	                                    : chan_send_forward(stream, &f);
out:
	free(rm);
	free(rdel);
	free(vary);
	free(pk.h);
	free(pk.hp);
	return rc;
}

int forward_finish(uint32_t stream, struct ws_request *req, int send)
{
	struct shim_chan *c = &shim_chan;
	ws_forwarding *fw = c->forward;
	int rc = 0;

	c->forward = NULL;
	if (fw == NULL)
		return 0;
	/* a decision the platform would refuse is the handler's failure */
	if (send && (rc = send_forward(stream, req, fw)) == WS_EINVAL)
		rc = chan_send_exception(stream);
	ws_forward_free(fw);
	return rc;
}
