/*
 * ws_dispatch: a subrequest to another worker through the supervisor;
 * ws_fetch: an outbound HTTP request, which the supervisor checks and the
 * router performs (or, for a service binding, another worker answers).
 *
 * The subrequest travels on a stream this worker opens (a counter). While
 * waiting for its RESPONSE the only other frame that may arrive is a CANCEL
 * for the request being handled: the subrequest is then canceled too and
 * whatever the supervisor still sends for it is dropped later (chan_stale).
 * Every failure fills `out` with the platform's error page, so a dispatcher
 * can answer with it unchanged.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "names.h"
#include "outcome.h"
#include "shim.h"

static char last_reason[512];

/* Keeps the reason for ws_dispatch_reason, as one printable line. */
static void set_reason(const char *s)
{
	size_t i;

	for (i = 0; s[i] && i < sizeof(last_reason) - 1; i++)
		last_reason[i] = (unsigned char)s[i] < ' ' ? ' ' : s[i];
	last_reason[i] = '\0';
}

static int outcome_err(Switchyard__Outcome o)
{
	switch (o) {
	case SWITCHYARD__OUTCOME__OK: return 0;
	case SWITCHYARD__OUTCOME__SCRIPT_NOT_FOUND: return WS_ENOTFOUND;
	case SWITCHYARD__OUTCOME__EXCEPTION: return WS_EEXCEPTION;
	case SWITCHYARD__OUTCOME__EXCEEDED_CPU: return WS_EEXCEEDED_CPU;
	case SWITCHYARD__OUTCOME__EXCEEDED_MEMORY: return WS_EEXCEEDED_MEMORY;
	case SWITCHYARD__OUTCOME__EXCEEDED_WALL_TIME: return WS_EEXCEEDED_WALL;
	case SWITCHYARD__OUTCOME__LOAD_SHED: return WS_EOVERLOADED;
	case SWITCHYARD__OUTCOME__CANCELED: return WS_ECANCELED;
	case SWITCHYARD__OUTCOME__TOO_MANY_SUBREQUESTS:
		return WS_ETOOMANYSUBREQUESTS;
	case SWITCHYARD__OUTCOME__DENIED: return WS_EDENIED;
	case SWITCHYARD__OUTCOME__FETCH_FAILED: return WS_EFETCH;
	default: return WS_EINTERNAL;
	}
}

/* The outcome a failure found here, not by the platform, is shown as. */
static Switchyard__Outcome err_outcome(int err)
{
	switch (err) {
	case WS_ECANCELED: return SWITCHYARD__OUTCOME__CANCELED;
	case WS_EEXCEPTION: return SWITCHYARD__OUTCOME__EXCEPTION;
	case WS_EFETCH: return SWITCHYARD__OUTCOME__FETCH_FAILED;
	default: return SWITCHYARD__OUTCOME__INTERNAL_ERROR;
	}
}

/* Replaces out with the error page; best effort, as it reports a failure
 * already. A dispatcher passes the page on to the client, so it names
 * neither who failed nor why (proto/outcome.h): the caller's code learns
 * that from ws_dispatch_reason(), the operator from the request's event
 * and log lines under the id the page shows. */
static void error_page(ws_response *out, Switchyard__Outcome o,
                       const char *who, uint32_t retry_after)
{
	char page[256], num[16];
	size_t n;

	if (out == NULL)
		return;
	res_reset(out);
	out->status = sy_outcome_status(o);
	hdrs_add(&out->hdrs, "Content-Type", "text/plain; charset=utf-8");
	if (o == SWITCHYARD__OUTCOME__LOAD_SHED) {
		snprintf(num, sizeof(num), "%u", retry_after ? retry_after : 1);
		hdrs_add(&out->hdrs, "Retry-After", num);
	}
	n = sy_outcome_page(page, sizeof(page), o, shim_chan.rid);
	sy_buf_add(&out->body, page, n);
}

static int fail(ws_response *out, int err, const char *who)
{
	if (last_reason[0] == '\0')
		set_reason(ws_strerror(err));
	error_page(out, err_outcome(err), who, 0);
	return err;
}

/* The supervisor broke the protocol (or left: then the channel already
 * says EOF, which ws_serve treats as an orderly shutdown). */
static int broken(ws_response *out, const char *who)
{
	if (shim_chan.state == CHAN_OPEN)
		shim_chan.state = CHAN_BROKEN;
	set_reason("protocol error on the channel to the platform");
	return fail(out, WS_EIO, who);
}

/*
 * Next frame for subrequest stream: 1 with *f, or a WS_E* code. Handles a
 * CANCEL of the request being served by canceling the subrequest.
 */
static int sub_recv(uint32_t stream, struct sy_frame *f)
{
	struct shim_chan *c = &shim_chan;
	int rc;

	for (;;) {
		if ((rc = chan_recv(f)) <= 0)
			return WS_EIO;
		if (f->type == SY_MSG_CANCEL) {
			if (f->stream != c->stream)
				continue;
			c->canceled = 1;
			chan_send_cancel(stream);
			return WS_ECANCELED;
		}
		if (!chan_stale(f, stream))
			return 1;
	}
}

/* Reads body frames totalling exactly want bytes into out (or nowhere). */
static int sub_body(uint32_t stream, uint64_t want, ws_response *keep)
{
	struct sy_frame f;
	uint64_t got = 0;
	int rc, nomem = 0;

	for (;;) {
		if ((rc = sub_recv(stream, &f)) < 0)
			return rc;
		if (f.type != SY_MSG_RES_BODY || f.stream != stream)
			return WS_EIO;
		if (f.flags & SY_FLAG_ABORT) {
			set_reason("the worker failed while sending its body");
			return WS_EEXCEPTION;
		}
		if (f.len > want - got)
			return WS_EIO;
		got += f.len;
		if (keep && sy_buf_add(&keep->body, f.payload, f.len) < 0)
			nomem = 1;
		if (f.flags & SY_FLAG_END)
			break;
	}
	if (got != want)
		return WS_EIO;
	return nomem ? WS_ENOMEM : 0;
}

/* Copies a successful answer's status and headers into out. */
static int take_head(const Switchyard__Response *pb, ws_response *out)
{
	size_t i;

	if (pb->status < 100 || pb->status > 999)
		return WS_EIO;
	res_reset(out);
	out->status = (int)pb->status;
	for (i = 0; i < pb->n_headers; i++) {
		const Switchyard__Header *h = pb->headers[i];

		if (!ws_is_token(h->name) || !ws_is_value(h->value))
			return WS_EIO;
		if (hdrs_add(&out->hdrs, h->name, h->value) < 0)
			return WS_ENOMEM;
	}
	return 0;
}

/* Handles the RESPONSE frame f and the body that follows it. */
static int sub_response(uint32_t stream, const struct sy_frame *f,
                        ws_response *out, const char *who)
{
	Switchyard__Response *pb;
	Switchyard__Outcome o;
	uint64_t blen;
	uint32_t retry;
	int rc = 0, err;

	if ((pb = switchyard__response__unpack(NULL, f->len, f->payload)) == NULL)
		return broken(out, who);
	o = pb->outcome;
	blen = pb->body_len;
	retry = pb->retry_after_s;
	if ((err = outcome_err(o)) == 0)
		rc = take_head(pb, out);
	else
		set_reason(pb->reason);
	switchyard__response__free_unpacked(pb, NULL);
	if (rc == WS_EIO || blen > SHIM_BODY_MAX ||
	    ((f->flags & SY_FLAG_END) != 0) != (blen == 0))
		return broken(out, who);
	if (blen > 0 && (rc = sub_body(stream, blen,
	                               err == 0 && rc == 0 ? out : NULL)) < 0) {
		if (rc == WS_EIO)
			return broken(out, who);
		return fail(out, rc, who);
	}
	if (rc < 0)
		return fail(out, rc, who);
	if (err < 0)
		error_page(out, o, who, retry);
	return err;
}

/* Sends req on a new subrequest stream (to ns/worker, or as a fetch when
 * ns is NULL) and waits for its answer in out. */
static int sub_call(ws_request *req, const char *ns, const char *worker,
                    const ws_limits *lim, ws_response *out, const char *who)
{
	struct shim_chan *c = &shim_chan;
	struct sy_frame f;
	uint32_t stream;
	int rc;

	if (c->canceled)
		return fail(out, WS_ECANCELED, who);
	if (c->state != CHAN_OPEN)
		return fail(out, WS_EIO, who);
	/* the handler's request, its body still with the platform */
	if ((rc = req_pull_body(req)) < 0)
		return fail(out, rc, who);
	/* Spent tokens are not refused here: the supervisor refuses them, and
	 * counts the attempt against this worker. */
	c->sub_used++;
	stream = c->next_sub++;
	if (c->next_sub == 0)
		c->next_sub = 1;
	if (ns != NULL)
		rc = chan_send_request(stream, req, ns, worker, lim);
	else
		rc = chan_send_fetch(stream, req);
	if (rc < 0)
		return fail(out, rc, who);
	if ((rc = sub_recv(stream, &f)) < 0)
		return rc == WS_EIO ? broken(out, who) : fail(out, rc, who);
	if (f.type != SY_MSG_RESPONSE || f.stream != stream)
		return broken(out, who);
	return sub_response(stream, &f, out, who);
}

int ws_dispatch(const char *ns, const char *worker, ws_request *req,
                const ws_limits *lim, ws_response *out)
{
	char who[128];

	last_reason[0] = '\0';
	if (!sy_valid_name(ns) || !sy_valid_name(worker) || req == NULL ||
	    out == NULL || !shim_chan.in_handler ||
	    ws_req_url(req)[0] != '/')
		return fail(out, WS_EINVAL, NULL);
	snprintf(who, sizeof(who), "%s/%s", ns, worker);
	return sub_call(req, ns, worker, lim, out, who);
}

/* ---- ws_fetch ---- */

#define FETCH_REDIRECTS_MAX 5
#define FETCH_URL_MAX 8192

/* The "host[:port]" of an absolute http(s) URL, for error pages. */
static void url_authority(const char *url, char *dst, size_t size)
{
	const char *h = strstr(url, "://"), *e;

	h = h != NULL ? h + 3 : url;
	e = h + strcspn(h, "/?#");
	snprintf(dst, size, "%.*s", (int)(e - h), h);
}

static int is_redirect(int status)
{
	return status == 301 || status == 302 || status == 303 ||
	       status == 307 || status == 308;
}

/* The absolute URL a Location names, relative to base (absolute http or
 * https; "//host/path" keeps base's scheme). 0, or -1 if it cannot be
 * followed. */
static int resolve(const char *base, const char *loc, char *dst, size_t size)
{
	const char *auth = strstr(base, "://") + 3, *path, *q, *slash;
	size_t keep;
	int n;

	path = auth + strcspn(auth, "/?#");
	q = path + strcspn(path, "?#");
	if (strncmp(loc, "http://", 7) == 0 || strncmp(loc, "https://", 8) == 0)
		n = snprintf(dst, size, "%s", loc);
	else if (loc[0] == '/' && loc[1] == '/')
		n = snprintf(dst, size, "%.*s%s", (int)(auth - 2 - base), base,
		             loc);
	else if (loc[0] == '/')
		n = snprintf(dst, size, "%.*s%s", (int)(path - base), base, loc);
	else if (loc[0] == '?')
		n = snprintf(dst, size, "%.*s%s", (int)(q - base), base, loc);
	else {
		for (slash = NULL; path < q; path++)
			if (*path == '/')
				slash = path;
		keep = slash != NULL ? (size_t)(slash + 1 - base)
		                     : (size_t)(q - base);
		n = snprintf(dst, size, "%.*s%s%s", (int)keep, base,
		             slash != NULL ? "" : "/", loc);
	}
	if (n < 0 || (size_t)n >= size)
		return -1;
	dst[strcspn(dst, "#")] = '\0';
	return 0;
}

/* The request for the next hop of a redirect: RFC 9110 15.4, as browsers
 * do it (303, and 301/302 after a POST, go on as GET without a body). */
static ws_request *next_hop(const ws_request *req, int status,
                            const char *url)
{
	const char *m = ws_req_method(req), *name, *value;
	int drop = status == 303 || ((status == 301 || status == 302) &&
	                             strcmp(m, "POST") == 0);
	ws_request *hop;
	size_t blen;
	const void *body = ws_req_body(req, &blen);
	int i;

	if (drop && strcmp(m, "HEAD") != 0)
		m = "GET";
	if ((hop = ws_request_new(m, url)) == NULL)
		return NULL;
	for (i = 0; i < ws_req_header_count(req); i++) {
		ws_req_header_at(req, i, &name, &value);
		if (drop && (strcasecmp(name, "Content-Type") == 0 ||
		             strcasecmp(name, "Content-Length") == 0))
			continue;
		if (hdrs_add(&hop->hdrs, name, value) < 0)
			goto fail;
	}
	if (!drop && blen > 0 && ws_req_set_body(hop, body, blen) < 0)
		goto fail;
	return hop;
fail:
	ws_request_free(hop);
	return NULL;
}

/* Follows out's redirect from url; *hop is the request sent last. */
static int follow(ws_request **hop, char *url, ws_response *out, char *who,
                  size_t wholen)
{
	const char *loc = ws_res_get_header(out, "Location");
	char next[FETCH_URL_MAX];
	ws_request *n;

	if (loc == NULL || resolve(url, loc, next, sizeof(next)) < 0)
		return 1; /* nothing to follow: the 3xx is the answer */
	if ((n = next_hop(*hop, ws_res_get_status(out), next)) == NULL) {
		set_reason("invalid redirect");
		return fail(out, WS_EFETCH, who);
	}
	ws_request_free(*hop);
	*hop = n;
	snprintf(url, FETCH_URL_MAX, "%s", next);
	url_authority(url, who, wholen);
	return sub_call(n, NULL, NULL, NULL, out, who);
}

int ws_fetch(ws_request *req, ws_response *out)
{
	char url[FETCH_URL_MAX], who[256];
	ws_request *hop = NULL;
	int rc, i;

	last_reason[0] = '\0';
	if (req == NULL || out == NULL || !shim_chan.in_handler ||
	    (strncmp(ws_req_url(req), "http://", 7) != 0 &&
	     strncmp(ws_req_url(req), "https://", 8) != 0) ||
	    strlen(ws_req_url(req)) >= sizeof(url))
		return fail(out, WS_EINVAL, NULL);
	snprintf(url, sizeof(url), "%s", ws_req_url(req));
	url_authority(url, who, sizeof(who));
	rc = sub_call(req, NULL, NULL, NULL, out, who);
	for (i = 0; rc == 0 && is_redirect(ws_res_get_status(out)); i++) {
		if (i == FETCH_REDIRECTS_MAX) {
			set_reason("more than 5 redirects");
			rc = fail(out, WS_EFETCH, who);
			break;
		}
		if (hop == NULL && (hop = next_hop(req, 307, url)) == NULL) {
			rc = fail(out, WS_ENOMEM, who);
			break;
		}
		if ((rc = follow(&hop, url, out, who, sizeof(who))) == 1) {
			rc = 0;
			break;
		}
	}
	ws_request_free(hop);
	return rc;
}

const char *ws_dispatch_reason(void)
{
	return last_reason;
}

uint64_t shim_clock_ns(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint32_t left_ms(uint32_t budget_ms, uint64_t used_ns)
{
	uint64_t used_ms = used_ns / 1000000;

	return used_ms < budget_ms ? budget_ms - (uint32_t)used_ms : 0;
}

int ws_limits_remaining(ws_limits *lim)
{
	const struct shim_chan *c = &shim_chan;

	if (lim == NULL || !c->in_handler)
		return WS_EINVAL;
	if (!c->has_limits) {
		lim->cpu_ms = lim->wall_ms = lim->subrequests = 0;
		return WS_ENOTFOUND;
	}
	lim->cpu_ms = left_ms(c->lim.cpu_ms,
	                      shim_clock_ns(CLOCK_PROCESS_CPUTIME_ID) - c->cpu0_ns);
	lim->wall_ms = left_ms(c->lim.wall_ms,
	                       shim_clock_ns(CLOCK_MONOTONIC) - c->wall0_ns);
	lim->subrequests = c->sub_used < c->lim.subrequests
	                   ? c->lim.subrequests - c->sub_used : 0;
	return 0;
}
