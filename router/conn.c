#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "router.h"
#include "util.h"

/* Input is read straight into this buffer and parsed in place; it only
 * holds pipelined bytes while a request is in flight. */
#define IN_CAP (64u * 1024u)
#define OUT_INIT (16u * 1024u)
/* Output buffers grown beyond this are shrunk when the connection closes,
 * so one large download does not pin memory in the pool forever. */
#define OUT_KEEP (1024u * 1024u)
/* Connections over the limit still get a struct, to be answered 503 and
 * drained politely; beyond this many they are just closed. */
#define REJECT_EXTRA 64u
/* How long a closing connection may keep sending before it is cut. */
#define LINGER_MS 5000u
#define ACCEPT_BATCH 64
#define ACCEPT_RETRY_MS 100u

TAILQ_HEAD(conn_list, conn);

static struct {
	struct conn **slots;       /* by slot; NULL until first used */
	uint32_t nslots, used;     /* table size, structs allocated */
	unsigned slot_bits;        /* stream id = gen << slot_bits | slot */
	struct conn *free;         /* pool of closed connections */
	uint64_t nconns, nrejects;
	uint32_t nblocked;         /* bodies waiting for upstream to drain */
	struct conn_list tl[TL_COUNT];
	uint64_t tl_ms[TL_COUNT];
	uint64_t timer, timer_when;
	struct conn_list dirty;
	int lfds[ROUTER_MAX_LISTEN];
	size_t nlfds;
	uint64_t accept_timer;
} ct;

/* What a connection beyond the table is told before it is closed. */
#define OVERFLOW_503 \
	"HTTP/1.1 503 Service Unavailable\r\n" \
	"Content-Type: text/plain; charset=utf-8\r\n" \
	"Content-Length: 21\r\n" \
	REQUEST_ID_HEADER ": %s\r\n" \
	"Connection: close\r\n\r\n" \
	"too many connections\n"

static void conn_close(struct conn *c);

/* ---- buffers ---- */

void buf_add(struct sy_buf *b, const void *p, size_t n)
{
	if (sy_buf_add(b, p, n) < 0)
		fatal("output buffer of %zu bytes", b->cap + n);
}

void buf_addstr(struct sy_buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void buf_adduint(struct sy_buf *b, uint64_t v)
{
	if (sy_buf_adduint(b, v) < 0)
		fatal("output buffer of %zu bytes", b->cap + 20);
}

/* ---- timeouts: one list per duration, so each list is in deadline order
 * and a single loop timer serves them all ---- */

static void timer_fire(struct ev_loop *loop, void *arg);

static void timer_arm(void)
{
	uint64_t when = UINT64_MAX, now = ev_now_ms(router.loop);
	int i;

	for (i = 0; i < TL_COUNT; i++) {
		struct conn *c = TAILQ_FIRST(&ct.tl[i]);

		if (c != NULL && c->deadline < when)
			when = c->deadline;
	}
	if (when == UINT64_MAX || (ct.timer && ct.timer_when <= when))
		return;
	if (ct.timer)
		ev_timer_del(router.loop, ct.timer);
	ct.timer = ev_timer_add(router.loop, when > now ? when - now : 0,
	                        timer_fire, NULL);
	if (ct.timer == 0)
		fatal("connection timer");
	ct.timer_when = when;
}

static void timer_set(struct conn *c, enum tlist l, int refresh)
{
	int was_empty;

	if (c->tlist == l && !refresh)
		return;
	if (c->tlist != TL_NONE)
		TAILQ_REMOVE(&ct.tl[c->tlist], c, tq);
	c->tlist = l;
	if (l == TL_NONE)
		return;
	c->deadline = ev_now_ms(router.loop) + ct.tl_ms[l];
	was_empty = TAILQ_EMPTY(&ct.tl[l]);
	TAILQ_INSERT_TAIL(&ct.tl[l], c, tq);
	if (was_empty)
		timer_arm();
}

/* Bytes of the next request have arrived (or it is the first one). */
static int conn_partial(const struct conn *c)
{
	return c->nreq == 0 || c->head_fed > 0 || sy_buf_len(&c->in) > 0;
}

/* A body's deadline is set once, at the end of its head: the whole body
 * must arrive within body_timeout_ms, however it trickles in. */
static void timer_update(struct conn *c, int progress)
{
	if (c->closing && sy_buf_len(&c->out) == 0)
		timer_set(c, TL_LINGER, 0);
	else if (c->req == REQ_BODY && !c->closing)
		timer_set(c, TL_BODY, 0);
	else if (sy_buf_len(&c->out) > 0)
		timer_set(c, TL_IDLE, progress || c->tlist != TL_IDLE);
	else if (c->req == REQ_HEAD)
		timer_set(c, conn_partial(c) ? TL_HEADER : TL_IDLE, 0);
	else
		timer_set(c, TL_NONE, 0);
}

static void conn_expire(struct conn *c, enum tlist l)
{
	int pending = sy_buf_len(&c->out) > 0;

	timer_set(c, TL_NONE, 0);
	if (l == TL_HEADER) {
		log_debug("%s: request head timed out", c->remote);
		conn_fail(c, 408, "request head not received in time\n");
	} else if (l == TL_BODY) {
		log_debug("%s: request %s: body not received in %llu ms",
		          c->remote, request_id(c),
		          (unsigned long long)router.cfg.body_timeout_ms);
		conn_fail(c, 408, "request body not received in time\n");
	} else if (l == TL_IDLE && !pending && c->req == REQ_HEAD &&
	           conn_partial(c)) {
		conn_fail(c, 408, "request not received in time\n");
	} else {
		/* Idle keep-alive, a stalled reader, or lingering done. */
		log_debug("%s: %s timed out", c->remote,
		          pending ? "write" : l == TL_IDLE ? "idle" : "linger");
		conn_close(c);
	}
}

static void timer_fire(struct ev_loop *loop, void *arg)
{
	uint64_t now = ev_now_ms(loop);
	int i;

	ct.timer = 0;
	for (i = 0; i < TL_COUNT; i++) {
		struct conn *c;

		while ((c = TAILQ_FIRST(&ct.tl[i])) != NULL &&
		       c->deadline <= now)
			conn_expire(c, (enum tlist)i);
	}
	timer_arm();
}

/* ---- the pool and the stream id map ---- */

void conn_init(void)
{
	const struct router_config *cfg = &router.cfg;
	int i;

	ct.nslots = (uint32_t)cfg->max_connections + REJECT_EXTRA;
	ct.slots = calloc(ct.nslots, sizeof(*ct.slots));
	if (ct.slots == NULL)
		fatal("connection table for %u connections", ct.nslots);
	while ((1u << ct.slot_bits) < ct.nslots)
		ct.slot_bits++;
	for (i = 0; i < TL_COUNT; i++)
		TAILQ_INIT(&ct.tl[i]);
	TAILQ_INIT(&ct.dirty);
	ct.tl_ms[TL_HEADER] = cfg->header_timeout_ms;
	ct.tl_ms[TL_BODY] = cfg->body_timeout_ms;
	ct.tl_ms[TL_IDLE] = cfg->idle_timeout_ms;
	ct.tl_ms[TL_LINGER] = LINGER_MS;
}

static void conn_destroy(struct conn *c)
{
	body_release(c);
	http_conn_free(c);
	sy_buf_free(&c->in);
	sy_buf_free(&c->out);
	free(c);
}

static struct conn *conn_alloc(void)
{
	struct conn *c = ct.free;

	if (c != NULL) {
		ct.free = c->free_next;
		return c;
	}
	if (ct.used == ct.nslots || (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if (sy_buf_init(&c->in, IN_CAP) < 0 ||
	    sy_buf_init(&c->out, OUT_INIT) < 0 || http_conn_init(c) < 0) {
		log_warn("connection buffers");
		conn_destroy(c);
		return NULL;
	}
	c->fd = -1;
	c->body.fd = -1;
	c->tlist = TL_NONE;
	c->slot = ct.used++;
	ct.slots[c->slot] = c;
	return c;
}

uint32_t conn_stream_open(struct conn *c)
{
	uint32_t genmax = UINT32_MAX >> ct.slot_bits;

	if (++c->gen > genmax || c->gen == 0)
		c->gen = 1;
	c->stream = c->gen << ct.slot_bits | c->slot;
	return c->stream;
}

struct conn *conn_by_stream(uint32_t id)
{
	uint32_t slot = id & ((1u << ct.slot_bits) - 1);
	struct conn *c;

	if (id == 0 || slot >= ct.used)
		return NULL;
	c = ct.slots[slot];
	return c->in_use && c->stream == id ? c : NULL;
}

/* ---- event mask ---- */

/* 1 when reading must wait. A request body is always taken in (into
 * c->body: it never waits for upstream): a client that reads only once it
 * has sent everything would otherwise wait for us forever. */
static int conn_read_blocked(const struct conn *c)
{
	if (c->closing)
		return c->rdeof;
	if (sy_buf_len(&c->out) > ROUTER_OUT_HIGH && c->req != REQ_BODY)
		return 1;
	return c->in.start == 0 && c->in.end == c->in.cap;
}

void conn_update(struct conn *c, int progress)
{
	uint32_t ev = conn_read_blocked(c) ? 0 : EPOLLIN;

	if (sy_buf_len(&c->out) > 0)
		ev |= EPOLLOUT;
	if (ev != c->events) {
		if (ev_mod(router.loop, c->fd, ev) < 0)
			log_warn("%s: epoll_ctl", c->remote);
		c->events = ev;
	}
	timer_update(c, progress);
}

void conn_upstream_wait(struct conn *c, int on)
{
	if (c->up_blocked == !!on)
		return;
	c->up_blocked = !!on;
	if (on)
		ct.nblocked++;
	else
		ct.nblocked--;
}

/* Pumping may fill the queue again: the rest wait for the next drain. */
void conn_upstream_drained(void)
{
	uint32_t i;

	for (i = 0; i < ct.used && ct.nblocked > 0; i++) {
		struct conn *c = ct.slots[i];

		if (!c->in_use || !c->up_blocked || upstream_congested())
			continue;
		if (body_pump(c) < 0)
			conn_fail(c, 500, "request body lost\n");
	}
}

/* ---- closing ---- */

static void conn_release(struct conn *c)
{
	c->in.start = c->in.end = 0;
	c->out.start = c->out.end = 0;
	if (c->out.cap > OUT_KEEP) {
		char *p = realloc(c->out.data, OUT_INIT);

		if (p != NULL) {
			c->out.data = p;
			c->out.cap = OUT_INIT;
		}
	}
	c->in_use = 0;
	c->free_next = ct.free;
	ct.free = c;
}

static void conn_close(struct conn *c)
{
	if (c->stream != 0) {
		upstream_cancel(c->stream);
		c->stream = 0;
	}
	timer_set(c, TL_NONE, 0);
	if (c->dirty)
		TAILQ_REMOVE(&ct.dirty, c, dq);
	c->dirty = 0;
	conn_upstream_wait(c, 0);
	body_release(c);
	ev_del(router.loop, c->fd);
	if (close(c->fd) < 0)
		log_warn("%s: close", c->remote);
	c->fd = -1;
	if (c->reject)
		ct.nrejects--;
	else
		ct.nconns--;
	log_debug("%s: closed after %llu requests", c->remote,
	          (unsigned long long)c->nreq);
	conn_release(c);
}

void conn_abort(struct conn *c)
{
	size_t len = sy_buf_len(&c->out);

	/* Whatever part of the answer is ready still goes, best effort. */
	if (len > 0 && send(c->fd, c->out.data + c->out.start, len,
	                    MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("%s: send: %s", c->remote, strerror(errno));
	conn_close(c);
}

/*
 * Writes what is queued, once. Once a closing connection has written
 * everything, its write side is shut down and it lingers, discarding input,
 * so the client reads our answer instead of a reset. Returns -1 if c was
 * closed.
 */
static int conn_flush(struct conn *c)
{
	size_t len = sy_buf_len(&c->out);
	ssize_t n;

	if (len > 0) {
		n = send(c->fd, c->out.data + c->out.start, len, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			log_debug("%s: send: %s", c->remote, strerror(errno));
			conn_close(c);
			return -1;
		}
		if (n > 0)
			sy_buf_consume(&c->out, (size_t)n);
	}
	if (c->closing && sy_buf_len(&c->out) == 0 && !c->wshut) {
		if (c->rdeof) {
			conn_close(c);
			return -1;
		}
		if (shutdown(c->fd, SHUT_WR) < 0)
			log_debug("%s: shutdown: %s", c->remote,
			          strerror(errno));
		c->wshut = 1;
	}
	return 0;
}

void conn_mark_dirty(struct conn *c)
{
	if (!c->dirty) {
		c->dirty = 1;
		TAILQ_INSERT_TAIL(&ct.dirty, c, dq);
	}
}

void conn_flush_dirty(void)
{
	struct conn *c;

	while ((c = TAILQ_FIRST(&ct.dirty)) != NULL) {
		TAILQ_REMOVE(&ct.dirty, c, dq);
		c->dirty = 0;
		if (conn_flush(c) == 0)
			conn_update(c, 1);
	}
}

void conn_fail(struct conn *c, int status, const char *text)
{
	if (c->stream != 0) {
		upstream_cancel(c->stream);
		c->stream = 0;
	}
	c->body_up = 0;
	conn_upstream_wait(c, 0);
	body_release(c);
	if (c->closing) {
		conn_update(c, 0);
		return;
	}
	if (c->res == RES_BODY) {
		/* Part of a response is out: it cannot be replaced. */
		conn_abort(c);
		return;
	}
	if (c->res != RES_DONE)
		response_error(c, status, text, 0);
	c->res = RES_DONE;
	c->closing = 1;
	if (conn_flush(c) == 0)
		conn_update(c, 1);
}

void conn_response_done(struct conn *c)
{
	/* answered before its whole body went: the rest is not wanted */
	if (c->body_up) {
		upstream_cancel(c->stream);
		c->body_up = 0;
		conn_upstream_wait(c, 0);
		body_release(c);
	}
	c->stream = 0;
	c->res = RES_DONE;
	conn_mark_dirty(c);
	http_parse(c);
}

void conn_upstream_lost(void)
{
	uint32_t i;

	for (i = 0; i < ct.used; i++) {
		struct conn *c = ct.slots[i];

		if (!c->in_use || c->stream == 0)
			continue;
		if (c->res == RES_WAIT)
			conn_fail(c, 502, "supervisor unreachable\n");
		else
			conn_abort(c);
	}
}

/* ---- reading ---- */

/* The client closed its side: it is gone if a request is in flight. */
static int conn_eof(struct conn *c)
{
	if (c->stream != 0 || sy_buf_len(&c->out) == 0 || c->wshut) {
		if (c->stream != 0)
			log_debug("%s: client went away, canceling stream %u",
			          c->remote, c->stream);
		conn_close(c);
		return -1;
	}
	/* Finish writing the answer to a half-closed client. */
	c->rdeof = 1;
	c->closing = 1;
	return 0;
}

static int conn_read(struct conn *c, uint32_t events)
{
	struct sy_buf *in = &c->in;
	ssize_t n;

	if (in->start == in->end)
		in->start = in->end = 0;
	else if (in->end == in->cap && in->start > 0) {
		memmove(in->data, in->data + in->start, in->end - in->start);
		in->end -= in->start;
		in->start = 0;
	}
	if (c->closing)
		in->start = in->end = 0; /* discarding */
	if (in->end == in->cap) {
		if (events & (EPOLLERR | EPOLLHUP)) {
			conn_close(c);
			return -1;
		}
		return 0;
	}
	n = recv(c->fd, in->data + in->end, in->cap - in->end, 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		log_debug("%s: recv: %s", c->remote, strerror(errno));
		conn_close(c);
		return -1;
	}
	if (n == 0)
		return conn_eof(c);
	in->end += (size_t)n;
	if (c->closing) {
		in->start = in->end = 0;
		return 0;
	}
	return http_parse(c);
}

static void conn_on_event(struct ev_loop *loop, int fd, uint32_t events,
                          void *arg)
{
	struct conn *c = arg;

	if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) &&
	    conn_read(c, events) < 0)
		return;
	if (conn_flush(c) < 0)
		return;
	/* Output drained below the high mark: parse what waited for it. */
	if (sy_buf_len(&c->in) > 0 && !c->closing && http_parse(c) < 0)
		return;
	conn_update(c, 1);
}

/* ---- accepting ---- */

static void conn_reset(struct conn *c, int fd, const struct sockaddr *sa)
{
	c->fd = fd;
	c->stream = 0;
	c->events = 0;
	c->in.start = c->in.end = 0;
	c->out.start = c->out.end = 0;
	c->req = REQ_HEAD;
	c->res = RES_NONE;
	c->nreq = 0;
	c->keepalive = c->closing = c->wshut = c->rdeof = 0;
	c->reject = c->dirty = c->up_blocked = 0;
	c->in_use = 1;
	c->tlist = TL_NONE;
	sy_format_addr(sa, c->remote, sizeof(c->remote));
	http_conn_reset(c);
}

static void conn_overflow(int fd)
{
	char page[sizeof(OVERFLOW_503) + SY_REQUEST_ID_LEN], id[32];
	int len;
	ssize_t n;

	request_id_new(id);
	len = snprintf(page, sizeof(page), OVERFLOW_503, id);
	n = send(fd, page, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
	/* Best effort: the connection is refused either way. */
	if (n < 0)
		log_debug("refused connection: send: %s", strerror(errno));
	if (close(fd) < 0)
		log_warn("refused connection: close");
}

/* One warning a second at most: a flood must not flood the log too. */
static void conn_note_refused(void)
{
	static uint64_t last, count;
	uint64_t now = ev_now_ms(router.loop);

	count++;
	if (last != 0 && now - last < 1000)
		return;
	log_warnx("at the limit of %llu connections: refused %llu with 503",
	          (unsigned long long)router.cfg.max_connections,
	          (unsigned long long)count);
	last = now;
	count = 0;
}

static void conn_start(int fd, const struct sockaddr *sa)
{
	int reject = ct.nconns >= router.cfg.max_connections;
	int one = 1;
	struct conn *c;

	if ((reject && ct.nrejects >= REJECT_EXTRA) ||
	    (c = conn_alloc()) == NULL) {
		conn_note_refused();
		conn_overflow(fd);
		return;
	}
	conn_reset(c, fd, sa);
	if (ev_add(router.loop, fd, EPOLLIN, conn_on_event, c) < 0) {
		log_warn("%s: epoll_ctl add", c->remote);
		if (close(fd) < 0)
			log_warn("%s: close", c->remote);
		c->in_use = 0;
		c->free_next = ct.free;
		ct.free = c;
		return;
	}
	c->events = EPOLLIN;
	/* Responses leave in one write; nothing is gained by Nagle. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		log_debug("%s: TCP_NODELAY: %s", c->remote, strerror(errno));
	if (!reject) {
		ct.nconns++;
		conn_update(c, 1);
		return;
	}
	ct.nrejects++;
	c->reject = 1;
	conn_note_refused();
	conn_fail(c, 503, "too many connections\n");
}

static void accept_resume(struct ev_loop *loop, void *arg)
{
	size_t i;

	ct.accept_timer = 0;
	for (i = 0; i < ct.nlfds; i++)
		ev_mod(loop, ct.lfds[i], EPOLLIN);
}

/* Out of descriptors: stop accepting for a moment instead of spinning. */
static void accept_pause(void)
{
	size_t i;

	if (ct.accept_timer)
		return;
	for (i = 0; i < ct.nlfds; i++)
		ev_mod(router.loop, ct.lfds[i], 0);
	ct.accept_timer = ev_timer_add(router.loop, ACCEPT_RETRY_MS,
	                               accept_resume, NULL);
	if (ct.accept_timer == 0)
		fatal("accept timer");
}

static void conn_on_accept(struct ev_loop *loop, int lfd, uint32_t events,
                           void *arg)
{
	int i;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		                 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			conn_start(fd, (struct sockaddr *)&ss);
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
			continue;
		log_warn("accept on listening socket %d", lfd);
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM)
			accept_pause();
		return;
	}
}

void conn_listen(int fd)
{
	int acc = 0;
	socklen_t len = sizeof(acc);

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) < 0 || !acc)
		fatalx("descriptor %d is not a listening socket", fd);
	if (sy_set_nonblock(fd) < 0 || sy_set_cloexec(fd) < 0)
		fatal("listening socket %d: fcntl", fd);
	if (ev_add(router.loop, fd, EPOLLIN, conn_on_accept, NULL) < 0)
		fatal("listening socket %d: epoll_ctl", fd);
	ct.lfds[ct.nlfds++] = fd;
}

void conn_cleanup(void)
{
	uint32_t i;

	for (i = 0; i < ct.used; i++) {
		if (ct.slots[i]->in_use)
			conn_close(ct.slots[i]);
	}
	for (i = 0; i < ct.used; i++)
		conn_destroy(ct.slots[i]);
	free(ct.slots);
	ct.slots = NULL;
	ct.used = 0;
	ct.free = NULL;
	if (ct.timer)
		ev_timer_del(router.loop, ct.timer);
	if (ct.accept_timer)
		ev_timer_del(router.loop, ct.accept_timer);
	ct.timer = ct.accept_timer = 0;
	for (i = 0; i < ct.nlfds; i++) {
		ev_del(router.loop, ct.lfds[i]);
		close(ct.lfds[i]);
	}
	ct.nlfds = 0;
}
