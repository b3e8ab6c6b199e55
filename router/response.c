#include <stdio.h>
#include <string.h>

#include "frame.h"
#include "http_syntax.h"
#include "log.h"
#include "outcome.h"
#include "router.h"
#include "util.h"

/* Framing is the router's business: these never pass from a worker. */
static const char *const hop_by_hop[] = {
	"connection", "transfer-encoding", "content-length", "keep-alive",
	"upgrade", "proxy-connection",
};

static int forwardable(const struct conn *c, const Switchyard__Header *h)
{
	size_t i;

	if (h == NULL || h->name == NULL || h->value == NULL ||
	    !sy_http_token(h->name, strlen(h->name)) ||
	    !sy_http_value(h->value, strlen(h->value))) {
		log_warnx("%s: stream %u: dropping invalid response header",
		          c->remote, c->stream);
		return 0;
	}
	for (i = 0; i < sizeof(hop_by_hop) / sizeof(hop_by_hop[0]); i++) {
		if (sy_strcaseeq(h->name, hop_by_hop[i]))
			return 0;
	}
	/* the router's own: a worker cannot make a request look like another */
	return !sy_strcaseeq(h->name, REQUEST_ID_HEADER);
}

static void put_status(struct sy_buf *b, int status)
{
	buf_addstr(b, "HTTP/1.1 ");
	buf_adduint(b, (uint64_t)status);
	buf_add(b, " ", 1);
	buf_addstr(b, sy_status_text(status));
	buf_add(b, "\r\n", 2);
}

static void put_header(struct sy_buf *b, const char *name, const char *value)
{
	buf_addstr(b, name);
	buf_add(b, ": ", 2);
	buf_addstr(b, value);
	buf_add(b, "\r\n", 2);
}

/* The request's id, Content-Length (unless the status forbids a body),
 * the connection's fate, and the blank line. */
static void put_end(struct conn *c, uint64_t len)
{
	struct sy_buf *b = &c->out;

	put_header(b, REQUEST_ID_HEADER, request_id(c));
	if (!c->no_body) {
		buf_addstr(b, "Content-Length: ");
		buf_adduint(b, len);
		buf_add(b, "\r\n", 2);
	}
	if (!c->keepalive)
		buf_addstr(b, "Connection: close\r\n");
	else if (c->http10)
		buf_addstr(b, "Connection: keep-alive\r\n");
	buf_add(b, "\r\n", 2);
}

/* A response made by the platform itself: plain text. */
static void response_page(struct conn *c, int status, const char *body,
                          size_t len, unsigned retry_after)
{
	struct sy_buf *b = &c->out;

	c->no_body = 0;
	put_status(b, status);
	buf_addstr(b, "Content-Type: text/plain; charset=utf-8\r\n");
	if (retry_after > 0) {
		buf_addstr(b, "Retry-After: ");
		buf_adduint(b, retry_after);
		buf_add(b, "\r\n", 2);
	}
	put_end(c, len);
	if (!c->is_head)
		buf_add(b, body, len);
}

void response_error(struct conn *c, int status, const char *body,
                    unsigned retry_after)
{
	c->keepalive = 0;
	response_page(c, status, body, strlen(body), retry_after);
}

void response_continue(struct conn *c)
{
	buf_addstr(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
}

/* A platform outcome: the page says only the outcome, the status and the
 * request's id (proto/outcome.h); the worker and the reason are logged
 * here at debug level, and by the supervisor under the same id. */
static void response_outcome(struct conn *c, const Switchyard__Response *res)
{
	char page[256];
	int status = sy_outcome_status(res->outcome);
	size_t len = sy_outcome_page(page, sizeof(page), res->outcome,
	                             request_id(c));
	unsigned retry = 0;

	if (res->outcome == SWITCHYARD__OUTCOME__LOAD_SHED)
		retry = res->retry_after_s > 0 ? res->retry_after_s : 1;
	log_debug("%s: request %s: %s from %s: %s", c->remote, request_id(c),
	          sy_outcome_name(res->outcome), res->worker ? res->worker : "",
	          res->reason ? res->reason : "");
	response_page(c, status, page, len, retry);
}

static void response_head(struct conn *c, const Switchyard__Response *res)
{
	struct sy_buf *b = &c->out;
	size_t i;

	c->no_body = res->status == 204 || res->status == 304;
	put_status(b, (int)res->status);
	for (i = 0; i < res->n_headers; i++) {
		const Switchyard__Header *h = res->headers[i];

		if (forwardable(c, h))
			put_header(b, h->name, h->value);
	}
	put_end(c, res->body_len);
}

/* The response is complete: the connection may serve the next request. */
static void response_done(struct conn *c)
{
	conn_mark_dirty(c);
	conn_response_done(c);
}

int response_start(struct conn *c, const Switchyard__Response *res, int end,
                   char *err, size_t errlen)
{
	static const char bad_status[] = "invalid response from worker\n";

	if (c->res != RES_WAIT) {
		snprintf(err, errlen, "second RESPONSE on stream %u",
		         c->stream);
		return -1;
	}
	if (end && res->body_len > 0) {
		snprintf(err, errlen, "RESPONSE on stream %u announces %llu "
		         "body bytes but ends the stream", c->stream,
		         (unsigned long long)res->body_len);
		return -1;
	}
	c->res_left = res->body_len;
	if (res->outcome != SWITCHYARD__OUTCOME__OK) {
		response_outcome(c, res);
		c->no_body = 1; /* a stray body is not the page's */
	} else if (res->status < 200 || res->status > 999) {
		log_warnx("%s: stream %u: invalid status %u from worker %s",
		          c->remote, c->stream, res->status,
		          res->worker ? res->worker : "");
		response_page(c, 502, bad_status, strlen(bad_status), 0);
		c->no_body = 1;
	} else {
		response_head(c, res);
		if (c->is_head)
			c->no_body = 1;
	}
	c->res = RES_BODY;
	conn_mark_dirty(c);
	if (end)
		response_done(c);
	return 0;
}

int response_body(struct conn *c, const uint8_t *p, size_t len, uint8_t flags,
                  char *err, size_t errlen)
{
	if (c->res != RES_BODY) {
		snprintf(err, errlen, "RES_BODY on stream %u before its "
		         "RESPONSE", c->stream);
		return -1;
	}
	if (flags & SY_FLAG_ABORT) {
		log_info("%s: stream %u: response aborted by its producer, "
		         "dropping the connection", c->remote, c->stream);
		c->stream = 0;
		conn_abort(c);
		return 0;
	}
	if (len > c->res_left) {
		snprintf(err, errlen, "RES_BODY on stream %u overruns body_len "
		         "by %llu bytes", c->stream,
		         (unsigned long long)(len - c->res_left));
		return -1;
	}
	c->res_left -= len;
	if (len > 0 && !c->no_body) {
		buf_add(&c->out, p, len);
		conn_mark_dirty(c);
	}
	if (!(flags & SY_FLAG_END))
		return 0;
	if (c->res_left > 0) {
		snprintf(err, errlen, "stream %u ended %llu bytes short of "
		         "body_len", c->stream,
		         (unsigned long long)c->res_left);
		return -1;
	}
	response_done(c);
	return 0;
}
