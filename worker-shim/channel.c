/*
 * The worker's one channel: a blocking stream socket to the supervisor on
 * fd 3, one frame reader and one frame writer reused for the process's life.
 * A failure to read or write marks the channel broken; every later call then
 * fails fast with WS_EIO and ws_serve returns it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "shim.h"

/* Queued bytes past which body frames are written out instead of piling up
 * in the writer: large bodies stream through a bounded buffer. */
#define FLUSH_AT (4u * SY_BODY_CHUNK)

struct shim_chan shim_chan = { .fd = -1 };

int chan_open(int fd)
{
	struct shim_chan *c = &shim_chan;
	int type, fl;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    type != SOCK_STREAM)
		return WS_EIO;
	/* Keep the channel out of programs the tenant executes, and blocking
	 * whatever the spawner left. */
	if ((fl = fcntl(fd, F_GETFD)) < 0 ||
	    fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0 ||
	    (fl = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return WS_EIO;
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->next_sub = 1;
	if (sy_reader_init(&c->rd, 0) < 0 || sy_writer_init(&c->wr) < 0) {
		chan_close();
		return WS_ENOMEM;
	}
	c->state = CHAN_OPEN;
	return 0;
}

/* Releases the buffers; fd 3 itself stays open, as the platform gave it. */
void chan_close(void)
{
	struct shim_chan *c = &shim_chan;

	sy_reader_free(&c->rd);
	sy_writer_free(&c->wr);
	later_free();
	free(c->pbh);
	free(c->pbhp);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->state = CHAN_CLOSED;
}

static int chan_flush(void);
static int chan_fail(void);

/* What the process queued (answers, subrequests) leaves only when it is
 * about to wait for the platform: one write for every answer a wake-up
 * produced, when the supervisor handed it several requests at once. */
/*
 * Sleeps until the supervisor sends something. In poll, not in recvmsg:
 * a reader asleep in a stream socket's recvmsg is woken each time the
 * supervisor reads what this process wrote (the kernel's "room to write"
 * wake-up reaches every sleeper on the socket), which made every request
 * cost this process a second, useless wake-up; poll sleeps for input
 * only. One system call more, one wake-up and two context switches less.
 */
static int chan_wait(void)
{
	struct pollfd pfd = { .fd = shim_chan.fd, .events = POLLIN };

	while (poll(&pfd, 1, -1) < 0) {
		if (errno != EINTR)
			return chan_fail();
	}
	return 0;
}

/* The next frame off the socket. */
static int chan_read(struct sy_frame *f)
{
	struct shim_chan *c = &shim_chan;
	int rc;

	if ((rc = sy_reader_next(&c->rd, f)) == 0) {
		if (chan_flush() < 0)
			return WS_EIO;
		if (chan_wait() < 0)
			return WS_EIO;
		rc = sy_frame_recv(c->fd, &c->rd, f);
	}
	if (rc == 1) {
		/* pass_fds is off, so the reader closed any descriptor. */
		return 1;
	}
	c->state = rc == 0 ? CHAN_EOF : CHAN_BROKEN;
	return rc == 0 ? 0 : WS_EIO;
}

int chan_recv(struct sy_frame *f)
{
	struct shim_chan *c = &shim_chan;
	int rc;

	if (c->state != CHAN_OPEN)
		return c->state == CHAN_EOF ? 0 : WS_EIO;
	if (later_take(f, !c->serving, c->stream))
		return 1;
	for (;;) {
		if ((rc = chan_read(f)) != 1)
			return rc;
		if (!c->serving || !later_belongs(f, c->stream))
			return 1;
		if (later_keep(f) < 0)
			return chan_fail();
	}
}

/* A frame read by chan_poll_cancel: a CANCEL of the request being
 * handled marks it; a late answer to an abandoned subrequest, or a
 * CANCEL for a request answered already, goes; anything else waits
 * for whoever reads the channel next. */
static int poll_one(const struct sy_frame *f)
{
	struct shim_chan *c = &shim_chan;

	if (f->type == SY_MSG_CANCEL && f->stream == c->stream) {
		c->canceled = 1;
		return 0;
	}
	if (chan_stale(f, 0) ||
	    (f->type == SY_MSG_CANCEL && !later_belongs(f, c->stream)))
		return 0;
	return later_keep(f) < 0 ? chan_fail() : 0;
}

int chan_poll_cancel(void)
{
	struct shim_chan *c = &shim_chan;
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	struct sy_frame f;
	ssize_t n;
	int rc;

	if (c->state != CHAN_OPEN)
		return c->state == CHAN_EOF ? 0 : WS_EIO;
	if (c->canceled || later_canceled(c->stream))
		return c->canceled = 1;
	if (poll(&pfd, 1, 0) == 1) {
		if ((n = sy_reader_fill(&c->rd, c->fd)) == 0) {
			c->state = CHAN_EOF;
			return 0;
		}
		if (n < 0 && errno != EAGAIN)
			return chan_fail();
	}
	while ((rc = sy_reader_next(&c->rd, &f)) == 1) {
		if (poll_one(&f) < 0)
			return WS_EIO;
	}
	if (rc < 0)
		return chan_fail();
	return c->canceled;
}

int chan_stale(const struct sy_frame *f, uint32_t waiting)
{
	const struct shim_chan *c = &shim_chan;

	if (f->type != SY_MSG_RESPONSE && f->type != SY_MSG_RES_BODY)
		return 0;
	/* Ours (opened before next_sub) and not the one being waited for. */
	return f->stream != 0 && f->stream != waiting &&
	       f->stream < c->next_sub;
}

static int chan_fail(void)
{
	shim_chan.state = CHAN_BROKEN;
	return WS_EIO;
}

static int chan_flush(void)
{
	struct shim_chan *c = &shim_chan;

	if (c->state != CHAN_OPEN)
		return WS_EIO;
	if (sy_writer_flush_all(&c->wr, c->fd) < 0)
		return chan_fail();
	return 0;
}

/* Queues msg; EMSGSIZE (an over-size header list) leaves the channel
 * usable and nothing queued. */
static int chan_msg(uint8_t type, uint8_t flags, uint32_t stream,
                    const ProtobufCMessage *msg)
{
	struct shim_chan *c = &shim_chan;

	if (c->state != CHAN_OPEN)
		return WS_EIO;
	if (sy_writer_msg(&c->wr, type, flags, stream, msg) < 0)
		return errno == EMSGSIZE ? WS_EINVAL : chan_fail();
	return 0;
}

/* Queues body in SY_BODY_CHUNK frames, the last flagged END, writing out
 * whenever enough is queued. */
static int chan_body(uint8_t type, uint32_t stream, const char *p, size_t len)
{
	struct shim_chan *c = &shim_chan;
	size_t n;

	while (len > 0) {
		n = len < SY_BODY_CHUNK ? len : SY_BODY_CHUNK;
		if (sy_writer_raw(&c->wr, type, n == len ? SY_FLAG_END : 0,
		                  stream, p, n) < 0)
			return chan_fail();
		p += n;
		len -= n;
		if (len > 0 && sy_writer_pending(&c->wr) >= FLUSH_AT &&
		    chan_flush() < 0)
			return WS_EIO;
	}
	return 0;
}

/* Points the scratch Header messages at h's strings (no copies), then at
 * ctx's (NULL: none) after them. */
static int chan_pack_hdrs(const struct ws_hdrs *h, const struct ws_hdrs *ctx)
{
	struct shim_chan *c = &shim_chan;
	size_t i, nh = (size_t)h->n, n = nh + (ctx ? (size_t)ctx->n : 0);

	if (n > c->pbh_cap) {
		Switchyard__Header *v;
		Switchyard__Header **vp;

		if ((v = realloc(c->pbh, n * sizeof(*v))) == NULL)
			return WS_ENOMEM;
		c->pbh = v;
		if ((vp = realloc(c->pbhp, n * sizeof(*vp))) == NULL)
			return WS_ENOMEM;
		c->pbhp = vp;
		c->pbh_cap = n;
	}
	for (i = 0; i < n; i++) {
		const struct ws_hdrs *from = i < nh ? h : ctx;
		int j = (int)(i < nh ? i : i - nh);

		switchyard__header__init(&c->pbh[i]);
		c->pbh[i].name = (char *)hdrs_name(from, j);
		c->pbh[i].value = (char *)hdrs_value(from, j);
		c->pbhp[i] = &c->pbh[i];
	}
	return 0;
}

int chan_send_hello(void)
{
	Switchyard__Hello hello = SWITCHYARD__HELLO__INIT;
	int rc;

	hello.api_version = SY_API_VERSION;
	if ((rc = chan_msg(SY_MSG_HELLO, 0, 0, &hello.base)) < 0)
		return rc;
	return chan_flush();
}

int chan_send_exception(uint32_t stream)
{
	Switchyard__Response r = SWITCHYARD__RESPONSE__INIT;

	r.outcome = SWITCHYARD__OUTCOME__EXCEPTION;
	return chan_msg(SY_MSG_RESPONSE, SY_FLAG_END, stream, &r.base);
}

/* A response the channel cannot carry (headers over the frame limit, no
 * memory to pack them) is the handler's failure: it becomes an exception. */
int chan_send_response(uint32_t stream, const struct ws_response *res)
{
	Switchyard__Response r = SWITCHYARD__RESPONSE__INIT;
	size_t blen = sy_buf_len(&res->body);
	int rc;

	if (chan_pack_hdrs(&res->hdrs, NULL) < 0)
		return chan_send_exception(stream);
	r.status = (uint32_t)ws_res_get_status(res);
	r.n_headers = (size_t)res->hdrs.n;
	r.headers = r.n_headers ? shim_chan.pbhp : NULL;
	r.body_len = blen;
	r.outcome = SWITCHYARD__OUTCOME__OK;
	rc = chan_msg(SY_MSG_RESPONSE, blen ? 0 : SY_FLAG_END, stream, &r.base);
	if (rc == WS_EINVAL)
		return chan_send_exception(stream);
	if (rc < 0)
		return rc;
	return chan_body(SY_MSG_RES_BODY, stream, res->body.data, blen);
}

int chan_send_request(uint32_t stream, const struct ws_request *req,
                      const char *ns, const char *worker,
                      const ws_limits *lim)
{
	Switchyard__Request r = SWITCHYARD__REQUEST__INIT;
	Switchyard__Limits l = SWITCHYARD__LIMITS__INIT;
	size_t blen = sy_buf_len(&req->body);
	int rc;

	if ((rc = chan_pack_hdrs(&req->hdrs, &req->ctx)) < 0)
		return rc;
	r.method = (char *)ws_req_method(req);
	r.url = (char *)ws_req_url(req);
	r.n_headers = (size_t)req->hdrs.n;
	r.headers = r.n_headers ? shim_chan.pbhp : NULL;
	/* asked for: the supervisor decides whether the callee gets it */
	r.n_context = (size_t)req->ctx.n;
	r.context = r.n_context ? shim_chan.pbhp + r.n_headers : NULL;
	r.content_length = blen;
	r.ns = (char *)ns;
	r.worker = (char *)worker;
	if (lim) {
		l.cpu_ms = lim->cpu_ms;
		l.wall_ms = lim->wall_ms;
		l.subrequests = lim->subrequests;
	}
	r.limits = &l;
	rc = chan_msg(SY_MSG_REQUEST, blen ? 0 : SY_FLAG_END, stream, &r.base);
	if (rc < 0)
		return rc;
	return chan_body(SY_MSG_REQ_BODY, stream, req->body.data, blen);
}

int chan_send_fetch(uint32_t stream, const struct ws_request *req)
{
	Switchyard__Request r = SWITCHYARD__REQUEST__INIT;
	Switchyard__Fetch fe = SWITCHYARD__FETCH__INIT;
	size_t blen = sy_buf_len(&req->body);
	int rc;

	if ((rc = chan_pack_hdrs(&req->hdrs, NULL)) < 0)
		return rc;
	r.method = (char *)ws_req_method(req);
	fe.url = (char *)ws_req_url(req);
	r.fetch = &fe;
	r.n_headers = (size_t)req->hdrs.n;
	r.headers = r.n_headers ? shim_chan.pbhp : NULL;
	r.content_length = blen;
	rc = chan_msg(SY_MSG_REQUEST, blen ? 0 : SY_FLAG_END, stream, &r.base);
	if (rc < 0)
		return rc;
	return chan_body(SY_MSG_REQ_BODY, stream, req->body.data, blen);
}

int chan_send_cancel(uint32_t stream)
{
	struct shim_chan *c = &shim_chan;

	if (c->state != CHAN_OPEN)
		return WS_EIO;
	if (sy_writer_raw(&c->wr, SY_MSG_CANCEL, 0, stream, NULL, 0) < 0)
		return chan_fail();
	return 0;
}

int chan_send_body_pull(uint32_t stream)
{
	struct shim_chan *c = &shim_chan;

	if (c->state != CHAN_OPEN)
		return WS_EIO;
	if (sy_writer_raw(&c->wr, SY_MSG_BODY_PULL, 0, stream, NULL, 0) < 0)
		return chan_fail();
	return 0;
}

int chan_send_forward(uint32_t stream, const Switchyard__Forward *fw)
{
	return chan_msg(SY_MSG_FORWARD, SY_FLAG_END, stream, &fw->base);
}
