#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "http_syntax.h"
#include "log.h"
#include "router.h"
#include "util.h"

#define FIELDS_INIT 32
/* Bytes of the request line besides method and target ("  HTTP/1.1\r\n")
 * and of the blank line, counted against max_header_bytes. */
#define LINE_OVERHEAD 14
/* ": " and CRLF around each header. */
#define FIELD_OVERHEAD 4

static llhttp_settings_t settings;

static int fail_with(struct conn *c, int status, const char *text)
{
	c->err_status = status;
	c->err_text = text;
	return HPE_USER;
}

static int too_large(struct conn *c)
{
	return fail_with(c, 431, "request header fields too large\n");
}

/* Copies a span of the head, leaving room for the NULs that may follow it
 * before the next span (a name's and an empty value's). They count in cap,
 * not in raw. */
static int head_add(struct conn *c, const char *at, size_t len)
{
	struct head *h = &c->head;

	h->raw += len;
	if (h->raw > router.cfg.max_header_bytes || h->cap - h->len < len + 3)
		return too_large(c);
	memcpy(h->data + h->len, at, len);
	h->len += len;
	return 0;
}

static void head_nul(struct head *h)
{
	h->data[h->len++] = '\0';
}

/* The id is made at the request's first byte: ids follow arrival. */
static int on_message_begin(llhttp_t *p)
{
	request_id(p->data);
	return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
	return head_add(p->data, at, len);
}

static int on_url_complete(llhttp_t *p)
{
	struct conn *c = p->data;

	c->head.url_len = (uint32_t)(c->head.len - c->head.url);
	head_nul(&c->head);
	return 0;
}

static int field_new(struct conn *c)
{
	struct head *h = &c->head;
	struct hfield *f;

	if (h->nfields == h->capfields) {
		size_t ncap = h->capfields * 2;

		if (ncap > REQUEST_MAX_FIELDS)
			return too_large(c);
		f = realloc(h->fields, ncap * sizeof(*f));
		if (f == NULL)
			return fail_with(c, 503, "out of memory\n");
		h->fields = f;
		h->capfields = ncap;
	}
	f = &h->fields[h->nfields++];
	f->name = (uint32_t)h->len;
	f->name_len = f->value = f->value_len = f->hop = 0;
	h->raw += FIELD_OVERHEAD;
	return 0;
}

/* Trailer fields (after a chunked body) are not merged into the head a
 * worker sees (RFC 9110 6.5.1): only counted against max_header_bytes. */
static int trailer(struct conn *c, size_t len)
{
	c->head.raw += len;
	return c->head.raw > router.cfg.max_header_bytes ? too_large(c) : 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
	struct conn *c = p->data;
	int rc;

	if (c->req != REQ_HEAD)
		return trailer(c, len);
	if (!c->head.in_field && (rc = field_new(c)) != 0)
		return rc;
	c->head.in_field = 1;
	return head_add(c, at, len);
}

static int on_header_field_complete(llhttp_t *p)
{
	struct conn *c = p->data;
	struct head *h = &c->head;
	struct hfield *f;

	if (c->req != REQ_HEAD)
		return 0;
	f = &h->fields[h->nfields - 1];
	f->name_len = (uint32_t)(h->len - f->name);
	/* llhttp's loose mode lets spaces and the like into names. */
	if (!sy_http_token(h->data + f->name, f->name_len))
		return fail_with(c, 400, "bad request: "
		                 "HPE_INVALID_HEADER_TOKEN: invalid character "
		                 "in header name\n");
	head_nul(h);
	/* An empty value may get no value callbacks: point it at "". */
	f->value = (uint32_t)h->len;
	head_nul(h);
	h->in_field = h->in_value = 0;
	return 0;
}

/* llhttp hands a value over in spans; one that goes on after a span that
 * ended inside the bytes parsed (at a line end, not at the end of what was
 * read) is an obs-fold, which RFC 9112 5.2 lets a server refuse. */
static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
	struct conn *c = p->data;
	struct head *h = &c->head;

	if (c->req != REQ_HEAD)
		return trailer(c, len);
	if (!h->in_value) {
		h->fields[h->nfields - 1].value = (uint32_t)h->len;
		h->in_value = 1;
	} else if (!h->value_cut) {
		return fail_with(c, 400, "bad request: a header folded over "
		                 "lines (obs-fold) is not accepted\n");
	}
	h->value_cut = at + len == h->feed_end;
	return head_add(c, at, len);
}

static int on_header_value_complete(llhttp_t *p)
{
	struct conn *c = p->data;
	struct head *h = &c->head;
	struct hfield *f;

	if (c->req != REQ_HEAD || !h->in_value)
		return 0;
	f = &h->fields[h->nfields - 1];
	while (h->len > f->value &&
	       (h->data[h->len - 1] == ' ' || h->data[h->len - 1] == '\t'))
		h->len--;
	f->value_len = (uint32_t)(h->len - f->value);
	head_nul(h);
	h->in_value = 0;
	return 0;
}

static int on_headers_complete(llhttp_t *p)
{
	struct conn *c = p->data;
	const struct router_config *cfg = &router.cfg;
	const char *method = llhttp_method_name(p->method);
	int chunked = (p->flags & F_CHUNKED) != 0;
	uint64_t length = (p->flags & F_CONTENT_LENGTH) ? p->content_length : 0;
	const char *why;

	c->head.raw += strlen(method) + LINE_OVERHEAD;
	if (c->head.raw > cfg->max_header_bytes)
		return too_large(c);
	if (p->method == HTTP_CONNECT)
		return fail_with(c, 405, "CONNECT is not supported\n");
	if ((p->flags & F_TRANSFER_ENCODING) && !chunked)
		return fail_with(c, 400, "bad request: unsupported "
		                 "Transfer-Encoding\n");
	if (length > cfg->max_body_bytes)
		return fail_with(c, 413, "request body too large\n");
	c->http10 = p->http_major == 1 && p->http_minor == 0;
	if ((why = request_head(c, !c->http10)) != NULL)
		return fail_with(c, 400, why);
	/* Upgrade requests are served as plain HTTP requests. */
	p->upgrade = 0;
	c->keepalive = llhttp_should_keep_alive(p) != 0;
	c->is_head = p->method == HTTP_HEAD;
	c->method = (uint8_t)p->method;
	c->chunked = chunked;
	c->nreq++;
	/* the body is the router's to take (body.c), from now on against
	 * body_timeout_ms: the client may send it at once */
	c->req = REQ_BODY;
	if ((chunked || length > 0) && request_expects_continue(c))
		response_continue(c);
	return 0;
}

/* Body bytes are held until the whole request has arrived. */
static int on_body(llhttp_t *p, const char *at, size_t len)
{
	struct conn *c = p->data;

	if (len > router.cfg.max_body_bytes - c->body.len)
		return fail_with(c, 413, "request body too large\n");
	if (body_add(c, at, len) < 0)
		return fail_with(c, 500, "request body could not be kept\n");
	return 0;
}

/* The request is whole: http_parse sends it upstream once llhttp has
 * returned. One request in flight: stop here and keep what follows. */
static int on_message_complete(llhttp_t *p)
{
	struct conn *c = p->data;

	c->req = REQ_DONE;
	return HPE_PAUSED;
}

void http_init(void)
{
	llhttp_settings_init(&settings);
	settings.on_message_begin = on_message_begin;
	settings.on_url = on_url;
	settings.on_url_complete = on_url_complete;
	settings.on_header_field = on_header_field;
	settings.on_header_field_complete = on_header_field_complete;
	settings.on_header_value = on_header_value;
	settings.on_header_value_complete = on_header_value_complete;
	settings.on_headers_complete = on_headers_complete;
	settings.on_body = on_body;
	settings.on_message_complete = on_message_complete;
}

int http_conn_init(struct conn *c)
{
	struct head *h = &c->head;

	h->cap = router.cfg.max_header_bytes + 256;
	h->data = malloc(h->cap);
	h->capfields = FIELDS_INIT;
	h->fields = calloc(h->capfields, sizeof(*h->fields));
	if (h->data == NULL || h->fields == NULL)
		return -1;
	return 0;
}

void http_conn_free(struct conn *c)
{
	free(c->head.data);
	free(c->head.fields);
	c->head.data = NULL;
	c->head.fields = NULL;
}

static void http_clear(struct conn *c)
{
	c->head.len = c->head.url = c->head.url_len = 0;
	c->head.nfields = 0;
	c->head.raw = 0;
	c->head.in_field = c->head.in_value = c->head.value_cut = 0;
	c->head.host = UINT32_MAX;
	c->head.host_len = 0;
	c->req = REQ_HEAD;
	c->res = RES_NONE;
	c->res_left = c->head_fed = 0;
	c->err_status = 0;
	c->err_text = NULL;
	c->is_head = c->no_body = c->body_up = c->chunked = 0;
	body_release(c);
	c->rid[0] = '\0';
}

void http_conn_reset(struct conn *c)
{
	llhttp_init(&c->parser, HTTP_REQUEST, &settings);
	c->parser.data = c;
	http_clear(c);
}

void http_next(struct conn *c)
{
	http_clear(c);
	llhttp_resume(&c->parser);
}

static int http_error(struct conn *c, llhttp_errno_t err)
{
	char text[256];

	if (c->err_status != 0) {
		log_debug("%s: request %s: answering %d: %.*s", c->remote,
		          request_id(c), c->err_status,
		          (int)strcspn(c->err_text, "\n"), c->err_text);
		conn_fail(c, c->err_status, c->err_text);
		return -1;
	}
	snprintf(text, sizeof(text), "bad request: %s: %s\n",
	         llhttp_errno_name(err), llhttp_get_error_reason(&c->parser));
	log_debug("%s: request %s: %.*s", c->remote, request_id(c),
	          (int)strcspn(text, "\n"), text);
	conn_fail(c, 400, text);
	return -1;
}

/* Feeds buffered input to llhttp once. Returns -1 if c was closed. */
static int http_execute(struct conn *c)
{
	const char *p = c->in.data + c->in.start;
	size_t n = sy_buf_len(&c->in), used = n;
	int in_head = c->req == REQ_HEAD;
	llhttp_errno_t err;

	c->head.feed_end = p + n;
	err = llhttp_execute(&c->parser, p, n);

	if (err == HPE_PAUSED)
		used = (size_t)(llhttp_get_error_pos(&c->parser) - p);
	else if (err != HPE_OK)
		return http_error(c, err);
	c->in.start += used;
	if (in_head && c->req == REQ_HEAD) {
		/* Whitespace and folding the callbacks never see count too. */
		c->head_fed += used;
		if (c->head_fed > router.cfg.max_header_bytes) {
			conn_fail(c, 431, "request header fields too large\n");
			return -1;
		}
	}
	return 0;
}

int http_parse(struct conn *c)
{
	while (!c->closing) {
		if (c->req == REQ_DONE) {
			if (c->res != RES_DONE)
				break;
			if (!c->keepalive) {
				c->closing = 1;
				break;
			}
			http_next(c);
		}
		if (sy_buf_len(&c->in) == 0)
			break;
		/* A slow reader gets no new requests until it catches up. */
		if (c->req == REQ_HEAD && c->head_fed == 0 &&
		    sy_buf_len(&c->out) > ROUTER_OUT_HIGH)
			break;
		if (http_execute(c) < 0)
			return -1;
		if (c->req == REQ_DONE && c->res == RES_NONE &&
		    request_start(c) < 0)
			return -1;
	}
	if (c->in.start == c->in.end)
		c->in.start = c->in.end = 0;
	return 0;
}
