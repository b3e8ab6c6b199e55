/*
 * The request a worker sees: its id, the head's checks RFC 9112 asks of a
 * server (Host, the target's form, no hop-by-hop field passed on), and
 * the Request message the router packs from the head it read (http.c)
 * for the supervisor.
 *
 * Request ids: 16 hex digits of a 64-bit counter that starts at a random
 * number, so ids stay unique across restarts of the router (two runs
 * overlap only if their random starts are closer than the requests they
 * served) and cost one increment each. They are not secrets: an id only
 * names a request in events and logs.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "frame.h"
#include "http_syntax.h"
#include "log.h"
#include "router.h"
#include "util.h"

/* Headers per request, plus the Host and Content-Length the router may
 * add (pack_fields). */
#define PB_FIELDS (REQUEST_MAX_FIELDS + 2)

static uint64_t next_id;

/* Scratch for packing one Request: the router is single-threaded. */
static Switchyard__Header pb_fields[PB_FIELDS];
static Switchyard__Header *pb_fieldp[PB_FIELDS];

void request_init(void)
{
	if (getrandom(&next_id, sizeof(next_id), 0) != sizeof(next_id))
		fatal("getrandom: the first request id");
}

void request_id_new(char id[SY_REQUEST_ID_LEN + 1])
{
	snprintf(id, SY_REQUEST_ID_LEN + 1, "%016" PRIx64, next_id++);
}

const char *request_id(struct conn *c)
{
	if (c->rid[0] == '\0')
		request_id_new(c->rid);
	return c->rid;
}

static const char *field_name(const struct conn *c, size_t i)
{
	return c->head.data + c->head.fields[i].name;
}

static const char *field_value(const struct conn *c, size_t i)
{
	return c->head.data + c->head.fields[i].value;
}

/* RFC 9112 3.2: one Host, a valid one, and on HTTP/1.1 always one. */
static const char *check_host(struct conn *c, int required)
{
	const struct hfield *f = NULL;
	size_t i, n = 0;

	for (i = 0; i < c->head.nfields; i++) {
		if (sy_strcaseeq(field_name(c, i), "host")) {
			f = &c->head.fields[i];
			n++;
		}
	}
	if (n > 1)
		return "bad request: more than one Host header\n";
	if (n == 0 && required)
		return "bad request: an HTTP/1.1 request needs a Host header\n";
	if (f != NULL && !sy_http_host(c->head.data + f->value, f->value_len))
		return "bad request: invalid Host header\n";
	return NULL;
}

/* The length of "http://" or "https://" (any case) at url, else 0. */
static size_t http_scheme(const char *url)
{
	if (strncasecmp(url, "http://", 7) == 0)
		return 7;
	if (strncasecmp(url, "https://", 8) == 0)
		return 8;
	return 0;
}

/*
 * An absolute-form target (RFC 9112 3.2.2) becomes what an origin-form one
 * would have been: the path and query as the URL, the authority as the
 * Host the worker sees, whatever Host header came. Rewritten in place:
 * "http://a.b:8/p?q" -> "a.b:8" NUL, then "/p?q" (a '/' put in front of
 * an empty path or a bare query, in the room the scheme left).
 */
static const char *absolute_form(struct head *h)
{
	char *url = h->data + h->url, *auth, *rest;
	size_t scheme = http_scheme(url), alen;

	if (scheme == 0)
		return "bad request: the target must be a path or an http(s) "
		       "URL\n";
	auth = url + scheme;
	alen = strcspn(auth, "/?#");
	if (alen == 0 || !sy_http_host(auth, alen))
		return "bad request: invalid authority in the target\n";
	rest = auth + alen;
	memmove(url, auth, alen);
	url[alen] = '\0';
	h->host = h->url;
	h->host_len = (uint32_t)alen;
	if (*rest != '/')
		*--rest = '/';
	h->url = (uint32_t)(rest - h->data);
	h->url_len = (uint32_t)strlen(rest);
	return NULL;
}

static const char *check_target(struct head *h)
{
	const char *url = h->data + h->url;

	if (url[0] == '/' || strcmp(url, "*") == 0)
		return NULL;
	return absolute_form(h);
}

/* Fields that concern this connection only (RFC 9110 7.6.1), and Expect,
 * which the router answered itself. Every Proxy-* field goes too. */
static int hop_by_hop(const char *name)
{
	static const char *const names[] = {
		"connection", "keep-alive", "te", "trailer",
		"transfer-encoding", "upgrade", "proxy-connection", "expect",
	};
	size_t i;

	if (strncasecmp(name, "proxy-", 6) == 0)
		return 1;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (sy_strcaseeq(name, names[i]))
			return 1;
	}
	return 0;
}

/* Marks the fields called name[0, len) as hop-by-hop. Host and
 * Content-Length are never dropped this way: the request is not complete
 * without them, whatever a client lists in Connection. */
static void drop_named(struct conn *c, const char *name, size_t len)
{
	size_t i;

	if ((len == 4 && strncasecmp(name, "host", 4) == 0) ||
	    (len == 14 && strncasecmp(name, "content-length", 14) == 0))
		return;
	for (i = 0; i < c->head.nfields; i++) {
		if (c->head.fields[i].name_len == len &&
		    strncasecmp(field_name(c, i), name, len) == 0)
			c->head.fields[i].hop = 1;
	}
}

/* Every field named in a Connection header's comma-separated list. */
static void drop_connection_options(struct conn *c, const char *list)
{
	size_t n;

	for (;;) {
		list += strspn(list, " \t,");
		if (*list == '\0')
			return;
		n = strcspn(list, " \t,");
		drop_named(c, list, n);
		list += n;
	}
}

static void mark_hop_by_hop(struct conn *c)
{
	size_t i;

	for (i = 0; i < c->head.nfields; i++) {
		if (hop_by_hop(field_name(c, i)))
			c->head.fields[i].hop = 1;
		if (sy_strcaseeq(field_name(c, i), "connection"))
			drop_connection_options(c, field_value(c, i));
	}
}

const char *request_head(struct conn *c, int host_required)
{
	const char *why;

	if ((why = check_host(c, host_required)) != NULL ||
	    (why = check_target(&c->head)) != NULL)
		return why;
	mark_hop_by_hop(c);
	return NULL;
}

int request_expects_continue(const struct conn *c)
{
	size_t i;

	if (c->http10)
		return 0;
	for (i = 0; i < c->head.nfields; i++) {
		if (sy_strcaseeq(field_name(c, i), "expect") &&
		    sy_strcaseeq(field_value(c, i), "100-continue"))
			return 1;
	}
	return 0;
}

static void pack_field(size_t n, const char *name, const char *value)
{
	switchyard__header__init(&pb_fields[n]);
	pb_fields[n].name = (char *)name;
	pb_fields[n].value = (char *)value;
	pb_fieldp[n] = &pb_fields[n];
}

/* The fields a worker sees, into the scratch arrays: no hop-by-hop one,
 * an absolute-form target's authority as Host, and a chunked body's
 * length as Content-Length (it is whole now: RFC 9112 7.1.3, as nginx
 * passes it on). Returns how many. */
static size_t pack_fields(struct conn *c)
{
	static char length[24];
	const char *host = c->head.host != UINT32_MAX
	                   ? c->head.data + c->head.host : NULL;
	size_t i, n = 0;
	int host_seen = 0;

	for (i = 0; i < c->head.nfields; i++) {
		const char *name = field_name(c, i), *value = field_value(c, i);

		if (c->head.fields[i].hop)
			continue;
		if (host != NULL && sy_strcaseeq(name, "host")) {
			value = host;
			host_seen = 1;
		}
		pack_field(n++, name, value);
	}
	if (host != NULL && !host_seen)
		pack_field(n++, "Host", host);
	if (c->chunked && c->body.len > 0) {
		snprintf(length, sizeof(length), "%" PRIu64, c->body.len);
		pack_field(n++, "Content-Length", length);
	}
	return n;
}

/* Sends c's request head as a REQUEST on a fresh stream: END when it
 * has no body. */
static void send_head(struct conn *c)
{
	Switchyard__Request req = SWITCHYARD__REQUEST__INIT;
	char meth[32];

	snprintf(meth, sizeof(meth), "%s", llhttp_method_name(c->method));
	req.method = meth;
	req.url = c->head.data + c->head.url;
	req.n_headers = pack_fields(c);
	req.headers = pb_fieldp;
	req.remote_addr = c->remote;
	req.content_length = c->body.len;
	req.request_id = (char *)request_id(c);
	upstream_request(conn_stream_open(c), &req, c->body.len == 0);
	log_debug("%s: request %s: %s %s -> stream %u", c->remote, c->rid,
	          meth, req.url, c->stream);
}

int request_start(struct conn *c)
{
	c->res = RES_WAIT;
	send_head(c);
	c->body_up = c->body.len > 0;
	if (body_pump(c) >= 0)
		return 0;
	conn_fail(c, 500, "request body lost\n");
	return -1;
}
