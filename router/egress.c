/*
 * The egress client: the fetches the supervisor allowed, performed with
 * libcurl's multi interface on the router's epoll loop (curl tells us
 * which sockets to watch and when to wake it; we never block).
 *
 * The supervisor's Request names the address, port and bounds. The client
 * pins the URL's name to that address (CURLOPT_RESOLVE: libcurl's
 * resolver never runs), creates every socket itself and refuses any other
 * address (CURLOPT_OPENSOCKETFUNCTION), speaks only http and https and
 * follows no redirect: the worker's shim follows them, each one a new
 * fetch that the supervisor checks again. A whole answer is buffered, up
 * to the fetch's max_response_bytes, and sent as RESPONSE + RES_BODY
 * frames.
 *
 * https is verified against the URL's host name (the pinned address is
 * only where the socket goes), TLS 1.2 at least, always: no option turns
 * verification off. The trusted CAs are the fetch's ca_pem (the policy's
 * ca_file, read by the supervisor) or the system bundle, read here once
 * before the seccomp filter is loaded; libcurl gets either from memory
 * (CURLOPT_CAINFO_BLOB) and never opens a file for them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "egress.h"
#include "http_syntax.h"
#include "log.h"
#include "router.h"

#define HEAD_MAX (64u * 1024u)   /* response header bytes kept */
#define HDRS_MAX 256             /* response headers kept */
#define CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt" /* ca-certificates */
#define CA_BUNDLE_MAX (8u * 1024u * 1024u)

struct xfer {
	uint32_t stream;
	CURL *h;
	Switchyard__Request *req;    /* until it starts */
	struct curl_slist *hdrs, *resolve;
	struct sy_buf body;             /* request body */
	struct sy_buf res;              /* response body */
	struct sy_buf head;             /* "name\0value\0" pairs */
	size_t nhead;
	uint64_t max;
	int family;                  /* the one address it may reach */
	uint8_t ip[16];
	int too_large, head_too_large, started, https;
	char error[CURL_ERROR_SIZE]; /* libcurl's detail of a failure */
	struct xfer *next;
};

/* The system's CAs, or why there are none (https then fails). */
static struct {
	char *pem;
	size_t len;
	char why[160];
} sysca;

static CURLM *multi;
static uint64_t timer;
static struct xfer *xfers;

static struct xfer *find(uint32_t stream)
{
	struct xfer *x;

	for (x = xfers; x != NULL; x = x->next)
		if (x->stream == stream)
			return x;
	return NULL;
}

static void xfer_free(struct xfer *x)
{
	struct xfer **pp;

	for (pp = &xfers; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	}
	if (x->h != NULL) {
		if (x->started)
			curl_multi_remove_handle(multi, x->h);
		curl_easy_cleanup(x->h);
	}
	if (x->req != NULL)
		switchyard__request__free_unpacked(x->req, NULL);
	curl_slist_free_all(x->hdrs);
	curl_slist_free_all(x->resolve);
	sy_buf_free(&x->body);
	sy_buf_free(&x->res);
	sy_buf_free(&x->head);
	free(x);
}

/* ---- answers ---- */

static void fail(struct xfer *x, const char *reason)
{
	Switchyard__Response r = SWITCHYARD__RESPONSE__INIT;

	r.outcome = SWITCHYARD__OUTCOME__FETCH_FAILED;
	r.reason = (char *)reason;
	upstream_response(x->stream, &r, 1);
}

static void answer(struct xfer *x)
{
	Switchyard__Response r = SWITCHYARD__RESPONSE__INIT;
	Switchyard__Header *hv = NULL, **hp = NULL;
	size_t len = sy_buf_len(&x->res), off = 0, i, n;
	const char *s = x->head.data + x->head.start;
	long status = 0;

	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
	if (x->nhead > 0 && ((hv = calloc(x->nhead, sizeof(*hv))) == NULL ||
	                     (hp = calloc(x->nhead, sizeof(*hp))) == NULL))
		fatal("fetch: response headers");
	for (i = 0; i < x->nhead; i++) {
		switchyard__header__init(&hv[i]);
		hv[i].name = (char *)s;
		s += strlen(s) + 1;
		hv[i].value = (char *)s;
		s += strlen(s) + 1;
		hp[i] = &hv[i];
	}
	r.status = (uint32_t)status;
	r.n_headers = x->nhead;
	r.headers = hp;
	r.body_len = len;
	r.outcome = SWITCHYARD__OUTCOME__OK;
	upstream_response(x->stream, &r, len == 0);
	free(hv);
	free(hp);
	for (; off < len; off += n) {
		n = len - off < SY_FRAME_MAX ? len - off : SY_FRAME_MAX;
		upstream_res_body(x->stream, x->res.data + x->res.start + off,
		                  n, off + n == len);
	}
}

/* The handshake's failures, which a worker sees as "tls: ...". */
static int tls_failure(CURLcode rc)
{
	switch (rc) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return 1;
	default:
		return 0;
	}
}

/* "tls: certificate verify failed: SSL certificate problem: ...": the
 * kind of failure, then libcurl's detail (which names the certificate's
 * problem or the host name it does not match). */
static void tls_reason(const struct xfer *x, CURLcode rc, char *why,
                       size_t size)
{
	const char *detail = x->error[0] != '\0' ? x->error
	                                         : curl_easy_strerror(rc);

	snprintf(why, size, "tls: %s: %s",
	         rc == CURLE_PEER_FAILED_VERIFICATION
	         ? "certificate verify failed" : "handshake failed", detail);
}

static void finish(struct xfer *x, CURLcode rc)
{
	char why[64 + CURL_ERROR_SIZE];
	long status = 0;

	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
	if (x->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
		snprintf(why, sizeof(why), "fetch: response over %llu bytes",
		         (unsigned long long)x->max);
		fail(x, why);
	} else if (x->head_too_large) {
		fail(x, "fetch: response head too large");
	} else if (tls_failure(rc)) {
		tls_reason(x, rc, why, sizeof(why));
		fail(x, why);
	} else if (rc != CURLE_OK || status < 100 || status > 999) {
		snprintf(why, sizeof(why), "fetch: %s",
		         rc != CURLE_OK ? curl_easy_strerror(rc)
		                        : "no HTTP status");
		fail(x, why);
	} else {
		answer(x);
	}
	xfer_free(x);
}

static void check_done(void)
{
	struct xfer *x;
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		x = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (x != NULL)
			finish(x, m->data.result);
	}
}

/* ---- libcurl on the event loop ---- */

static void drive(curl_socket_t fd, int flags)
{
	int running;

	if (curl_multi_socket_action(multi, fd, flags, &running) != CURLM_OK)
		log_warnx("fetch: curl_multi_socket_action failed");
	check_done();
}

static void on_io(struct ev_loop *loop, int fd, uint32_t events, void *arg)
{
	int flags = 0;

	(void)loop;
	(void)arg;
	if (events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	drive(fd, flags);
}

static void on_timer(struct ev_loop *loop, void *arg)
{
	(void)loop;
	(void)arg;
	timer = 0;
	drive(CURL_SOCKET_TIMEOUT, 0);
}

static int socket_cb(CURL *e, curl_socket_t s, int what, void *userp,
                     void *socketp)
{
	uint32_t ev = 0;

	(void)e;
	(void)userp;
	if (what == CURL_POLL_REMOVE) {
		if (socketp != NULL)
			ev_del(router.loop, s);
		curl_multi_assign(multi, s, NULL);
		return 0;
	}
	if (what & CURL_POLL_IN)
		ev |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev |= EPOLLOUT;
	if (socketp != NULL)
		return ev_mod(router.loop, s, ev) < 0 ? -1 : 0;
	if (ev_add(router.loop, s, ev, on_io, NULL) < 0) {
		log_warn("fetch: socket %d: epoll_ctl", (int)s);
		return -1;
	}
	curl_multi_assign(multi, s, multi);
	return 0;
}

/* libcurl asks to be woken after ms (-1: never); it runs from the loop, not
 * from inside this callback. */
static int timer_cb(CURLM *m, long ms, void *userp)
{
	(void)m;
	(void)userp;
	if (timer != 0)
		ev_timer_del(router.loop, timer);
	timer = 0;
	if (ms >= 0 && (timer = ev_timer_add(router.loop, (uint64_t)ms,
	                                     on_timer, NULL)) == 0)
		return -1;
	return 0;
}

/* Every socket is made here: only to the fetch's own address, TCP,
 * non-blocking and close-on-exec from the start (the seccomp profile
 * allows no other socket). */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose,
                                 struct curl_sockaddr *a)
{
	const struct xfer *x = clientp;
	const struct sockaddr_in *in = (const void *)&a->addr;
	const struct sockaddr_in6 *in6 = (const void *)&a->addr;
	int ok = 0, fd;

	if (purpose != CURLSOCKTYPE_IPCXN || a->socktype != SOCK_STREAM)
		return CURL_SOCKET_BAD;
	if (a->family == AF_INET && x->family == AF_INET)
		ok = memcmp(&in->sin_addr, x->ip, 4) == 0;
	else if (a->family == AF_INET6 && x->family == AF_INET6)
		ok = memcmp(&in6->sin6_addr, x->ip, 16) == 0;
	if (!ok) {
		log_warnx("fetch: stream %u: refused a connection to an "
		          "address the supervisor did not name", x->stream);
		return CURL_SOCKET_BAD;
	}
	fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	            IPPROTO_TCP);
	if (fd < 0)
		log_warn("fetch: stream %u: socket", x->stream);
	return fd < 0 ? CURL_SOCKET_BAD : fd;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;

	n *= size;
	if (sy_buf_len(&x->res) + n > x->max) {
		x->too_large = 1;
		return 0;
	}
	buf_add(&x->res, p, n);
	return n;
}

static int hop_by_hop(const char *name, size_t len)
{
	static const char *const names[] = { "connection", "keep-alive",
		"transfer-encoding", "content-length", "proxy-connection",
		"te", "trailer", "upgrade", "host", "expect",
		"proxy-authorization", "proxy-authenticate" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len &&
		    strncasecmp(name, names[i], len) == 0)
			return 1;
	return 0;
}

/* One header line of the answer. A status line starts the head over
 * (after a 1xx); invalid and hop-by-hop fields are dropped. */
static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = n * size, nl, vl;
	const char *colon, *v;

	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		x->head.start = x->head.end = 0;
		x->nhead = 0;
		return n * size;
	}
	while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		len--;
	if (len == 0 || p[0] == ' ' || p[0] == '\t' ||
	    (colon = memchr(p, ':', len)) == NULL)
		return n * size;
	nl = (size_t)(colon - p);
	for (v = colon + 1; v < p + len && (*v == ' ' || *v == '\t'); v++)
		;
	vl = (size_t)(p + len - v);
	while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		vl--;
	if (!sy_http_token(p, nl) || !sy_http_value(v, vl) ||
	    hop_by_hop(p, nl))
		return n * size;
	if (sy_buf_len(&x->head) + nl + vl + 2 > HEAD_MAX ||
	    x->nhead >= HDRS_MAX) {
		x->head_too_large = 1;
		return 0;
	}
	buf_add(&x->head, p, nl);
	buf_add(&x->head, "", 1);
	buf_add(&x->head, v, vl);
	buf_add(&x->head, "", 1);
	x->nhead++;
	return n * size;
}

/* ---- starting a fetch ---- */

static int append(struct curl_slist **l, const char *line)
{
	struct curl_slist *n = curl_slist_append(*l, line);

	if (n == NULL)
		return -1;
	*l = n;
	return 0;
}

static int add_header(struct curl_slist **l, const char *name,
                      const char *value)
{
	size_t len = strlen(name) + strlen(value) + 3;
	char *line;
	int rc;

	if ((line = malloc(len)) == NULL)
		return -1;
	/* "Name;" is libcurl's way to send a header with an empty value */
	if (value[0] == '\0')
		snprintf(line, len, "%s;", name);
	else
		snprintf(line, len, "%s: %s", name, value);
	rc = append(l, line);
	free(line);
	return rc;
}

/* The worker's headers, less those that belong to the connection, and
 * none of libcurl's own additions for a body. */
static int set_headers(struct xfer *x, const Switchyard__Request *r)
{
	int has_type = 0;
	size_t i;

	for (i = 0; i < r->n_headers; i++) {
		const char *name = r->headers[i]->name;

		if (!sy_http_token(name, strlen(name)) ||
		    !sy_http_value(r->headers[i]->value,
		                   strlen(r->headers[i]->value)) ||
		    hop_by_hop(name, strlen(name)))
			continue;
		has_type |= strcasecmp(name, "Content-Type") == 0;
		if (add_header(&x->hdrs, name, r->headers[i]->value) < 0)
			return -1;
	}
	/* "Name:" removes a header libcurl would add */
	if (append(&x->hdrs, "Expect:") < 0 ||
	    (!has_type && append(&x->hdrs, "Content-Type:") < 0))
		return -1;
	return 0;
}

/* GET and HEAD as libcurl knows them; anything else by name, with the
 * body (if any) as it came. */
static int set_method(struct xfer *x, const char *m)
{
	CURL *h = x->h;
	size_t blen = sy_buf_len(&x->body);

	if (strcmp(m, "GET") == 0 && blen == 0)
		return curl_easy_setopt(h, CURLOPT_HTTPGET, 1L) != CURLE_OK;
	if (strcmp(m, "HEAD") == 0)
		return curl_easy_setopt(h, CURLOPT_NOBODY, 1L) != CURLE_OK;
	if (blen > 0 || strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 ||
	    strcmp(m, "PATCH") == 0) {
		if (curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		                     (curl_off_t)blen) != CURLE_OK ||
		    curl_easy_setopt(h, CURLOPT_POSTFIELDS,
		                     blen ? x->body.data + x->body.start : "")
		    != CURLE_OK)
			return -1;
	}
	return curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m) != CURLE_OK;
}

/* Pins the URL's name to the supervisor's address: an IP literal needs
 * nothing, libcurl does not resolve those. */
static int set_resolve(struct xfer *x, const Switchyard__Fetch *fe)
{
	char line[400];
	uint8_t probe[16];

	if (inet_pton(AF_INET, fe->host, probe) == 1 ||
	    inet_pton(AF_INET6, fe->host, probe) == 1)
		return 0;
	snprintf(line, sizeof(line), "%s:%u:%s%s%s", fe->host, fe->port,
	         x->family == AF_INET6 ? "[" : "", fe->addr,
	         x->family == AF_INET6 ? "]" : "");
	if (append(&x->resolve, line) < 0)
		return -1;
	return curl_easy_setopt(x->h, CURLOPT_RESOLVE, x->resolve) != CURLE_OK;
}

#define SET(opt, val) (curl_easy_setopt(h, opt, val) != CURLE_OK)

/* Verification on, whatever the URL: the peer's chain must end in the
 * fetch's CAs (or the system's) and name the URL's host. No CA file or
 * directory of libcurl's build defaults: they would be opened under the
 * seccomp filter. */
static int set_tls(struct xfer *x, const Switchyard__Fetch *fe)
{
	struct curl_blob ca = { sysca.pem, sysca.len, CURL_BLOB_NOCOPY };
	CURL *h = x->h;

	if (SET(CURLOPT_SSL_VERIFYPEER, 1L) || SET(CURLOPT_SSL_VERIFYHOST, 2L) ||
	    SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) ||
	    SET(CURLOPT_CAINFO, NULL) || SET(CURLOPT_CAPATH, NULL))
		return -1;
	if (!x->https)
		return 0;
	if (fe->ca_pem.len > 0) {
		/* the request, which holds it, is freed once started */
		ca.data = fe->ca_pem.data;
		ca.len = fe->ca_pem.len;
		ca.flags = CURL_BLOB_COPY;
	}
	return SET(CURLOPT_CAINFO_BLOB, &ca);
}

static int configure(struct xfer *x, const Switchyard__Request *r)
{
	const Switchyard__Fetch *fe = r->fetch;
	CURL *h = x->h;

	if (SET(CURLOPT_URL, fe->url) || SET(CURLOPT_PRIVATE, x) ||
	    SET(CURLOPT_ERRORBUFFER, x->error) ||
	    SET(CURLOPT_PROTOCOLS_STR, "http,https") ||
	    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https") ||
	    SET(CURLOPT_FOLLOWLOCATION, 0L) || SET(CURLOPT_PROXY, "") ||
	    SET(CURLOPT_NOSIGNAL, 1L) ||
	    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) ||
	    SET(CURLOPT_TIMEOUT_MS, (long)fe->timeout_ms) ||
	    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max) ||
	    SET(CURLOPT_IPRESOLVE, x->family == AF_INET
	                           ? CURL_IPRESOLVE_V4 : CURL_IPRESOLVE_V6) ||
	    SET(CURLOPT_OPENSOCKETFUNCTION, open_socket) ||
	    SET(CURLOPT_OPENSOCKETDATA, x) ||
	    SET(CURLOPT_WRITEFUNCTION, on_body) || SET(CURLOPT_WRITEDATA, x) ||
	    SET(CURLOPT_HEADERFUNCTION, on_header) ||
	    SET(CURLOPT_HEADERDATA, x))
		return -1;
	if (set_tls(x, fe) < 0 ||
	    set_headers(x, r) < 0 || SET(CURLOPT_HTTPHEADER, x->hdrs) ||
	    set_resolve(x, fe) < 0 || set_method(x, r->method) < 0)
		return -1;
	return 0;
}

#undef SET

/* The whole request is here: hands it to libcurl. */
static void start(struct xfer *x)
{
	char why[200];

	if (x->https && x->req->fetch->ca_pem.len == 0 && sysca.pem == NULL) {
		snprintf(why, sizeof(why), "fetch: https disabled: %s",
		         sysca.why);
		fail(x, why);
		xfer_free(x);
		return;
	}
	if ((x->h = curl_easy_init()) == NULL || configure(x, x->req) < 0) {
		fail(x, "fetch: cannot set the request up");
		xfer_free(x);
		return;
	}
	switchyard__request__free_unpacked(x->req, NULL);
	x->req = NULL;
	if (curl_multi_add_handle(multi, x->h) != CURLM_OK) {
		fail(x, "fetch: cannot start the request");
		xfer_free(x);
		return;
	}
	x->started = 1;
}

/* Checks what the supervisor sent: a fetch with an address to reach. */
static const char *check_request(const Switchyard__Request *r,
                                 struct xfer *x)
{
	const Switchyard__Fetch *fe = r->fetch;

	if (fe == NULL)
		return "REQUEST without a fetch";
	x->https = strncmp(fe->url, "https://", 8) == 0;
	if ((!x->https && strncmp(fe->url, "http://", 7) != 0) ||
	    fe->host[0] == '\0' ||
	    fe->host[strspn(fe->host, "abcdefghijklmnopqrstuvwxyz0123456789"
	                              ".-:")] != '\0')
		return "fetch with an invalid URL or host";
	if (fe->port < 1 || fe->port > 65535 || fe->timeout_ms == 0 ||
	    fe->max_response_bytes == 0)
		return "fetch with invalid bounds";
	if (fe->ca_pem.len > 0 && !x->https)
		return "CA certificates for a fetch that is not https";
	if (!sy_http_token(r->method, strlen(r->method)))
		return "fetch with an invalid method";
	memset(x->ip, 0, sizeof(x->ip));
	if (inet_pton(AF_INET, fe->addr, x->ip) == 1)
		x->family = AF_INET;
	else if (inet_pton(AF_INET6, fe->addr, x->ip) == 1)
		x->family = AF_INET6;
	else
		return "fetch without an address";
	return NULL;
}

int egress_request(const struct sy_frame *f, char *err, size_t errlen)
{
	struct xfer *x;
	const char *why = NULL;

	if (find(f->stream) != NULL) {
		snprintf(err, errlen, "fetch REQUEST on open stream %u",
		         f->stream);
		return -1;
	}
	if ((x = calloc(1, sizeof(*x))) == NULL)
		fatal("fetch: stream %u", f->stream);
	x->stream = f->stream;
	x->req = switchyard__request__unpack(NULL, f->len, f->payload);
	if (x->req == NULL || (why = check_request(x->req, x)) != NULL) {
		snprintf(err, errlen, "stream %u: %s", f->stream,
		         x->req == NULL ? "fetch REQUEST does not decode" : why);
		xfer_free(x);
		return -1;
	}
	x->max = x->req->fetch->max_response_bytes;
	x->next = xfers;
	xfers = x;
	if (f->flags & SY_FLAG_END)
		start(x);
	return 0;
}

int egress_req_body(const struct sy_frame *f, char *err, size_t errlen)
{
	struct xfer *x = find(f->stream);

	if (x == NULL)
		return 0; /* failed already; the supervisor will see why */
	if (x->req == NULL) {
		snprintf(err, errlen, "fetch REQ_BODY after END on stream %u",
		         f->stream);
		return -1;
	}
	if (f->flags & SY_FLAG_ABORT) {
		xfer_free(x);
		return 0;
	}
	buf_add(&x->body, f->payload, f->len);
	if (f->flags & SY_FLAG_END)
		start(x);
	return 0;
}

void egress_cancel(const struct sy_frame *f)
{
	struct xfer *x = find(f->stream);

	if (x != NULL)
		xfer_free(x);
}

/* Reads len bytes of fd into buf: 0, or -1 with errno (EIO: it ended
 * early). */
static int read_all(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		if ((n = read(fd, buf + got, len - got)) == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			errno = n == 0 ? EIO : errno;
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

/* Reads the system's CA bundle into sysca: before the seccomp filter,
 * which allows no open. Without it https is off (each https fetch fails
 * naming the file) and http still works. */
static void load_system_cas(void)
{
	struct stat st;
	int fd;

	if ((fd = open(CA_BUNDLE, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1 ||
	    fstat(fd, &st) == -1) {
		snprintf(sysca.why, sizeof(sysca.why), "CA bundle %s: %s",
		         CA_BUNDLE, strerror(errno));
	} else if (!S_ISREG(st.st_mode) || st.st_size == 0 ||
	           st.st_size > (off_t)CA_BUNDLE_MAX) {
		snprintf(sysca.why, sizeof(sysca.why), "CA bundle %s: not a "
		         "file of 1 byte to 8 MiB", CA_BUNDLE);
	} else if ((sysca.pem = malloc((size_t)st.st_size)) == NULL) {
		fatal("fetch: CA bundle %s", CA_BUNDLE);
	} else if (read_all(fd, sysca.pem, (size_t)st.st_size) == -1) {
		snprintf(sysca.why, sizeof(sysca.why), "CA bundle %s: %s",
		         CA_BUNDLE, strerror(errno));
		free(sysca.pem);
		sysca.pem = NULL;
	} else {
		sysca.len = (size_t)st.st_size;
	}
	if (fd != -1)
		close(fd);
	if (sysca.pem == NULL)
		log_warnx("fetch: https disabled: %s", sysca.why);
}

void egress_init(void)
{
	load_system_cas();
	/* OpenSSL checks certificate dates with gmtime_r, whose first call
	 * loads glibc's time zone (/etc/localtime): loaded now, before the
	 * seccomp filter, which allows no open. */
	tzset();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("fetch: curl_global_init failed");
	if ((multi = curl_multi_init()) == NULL)
		fatalx("fetch: curl_multi_init failed");
	if (curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, socket_cb) !=
	    CURLM_OK ||
	    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_cb) !=
	    CURLM_OK ||
	    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 16L) != CURLM_OK)
		fatalx("fetch: curl_multi_setopt failed");
}

void egress_cleanup(void)
{
	while (xfers != NULL)
		xfer_free(xfers);
	if (multi != NULL)
		curl_multi_cleanup(multi);
	multi = NULL;
	if (timer != 0)
		ev_timer_del(router.loop, timer);
	timer = 0;
	curl_global_cleanup();
	free(sysca.pem);
	sysca.pem = NULL;
}
