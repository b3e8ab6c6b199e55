#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "egress.h"
#include "frame.h"
#include "log.h"
#include "router.h"
#include "util.h"

/* Clients stop sending bodies while this much waits for the supervisor,
 * and resume once it is down to UP_LOW. */
#define UP_HIGH (8u * 1024u * 1024u)
#define UP_LOW (1u * 1024u * 1024u)

static struct {
	int fd;
	struct sy_reader r;
	struct sy_writer w;
	uint32_t events;
	uint64_t flush_timer;  /* pending end-of-iteration flush */
	int throttled;         /* clients were told to pause */
	int dead;
} up = { .fd = -1 };

static void upstream_lost(int code)
{
	if (up.dead)
		return;
	up.dead = 1;
	ev_del(router.loop, up.fd);
	conn_upstream_lost();
	admin_upstream_lost();
	router_stop(code);
}

static void upstream_flush(void)
{
	ssize_t left = sy_writer_flush(&up.w, up.fd);
	uint32_t ev = EPOLLIN;

	if (left < 0 && (errno == EPIPE || errno == ECONNRESET)) {
		log_info("supervisor went away, exiting");
		upstream_lost(0);
		return;
	}
	if (left < 0) {
		log_warn("supervisor channel (fd %d): write", up.fd);
		upstream_lost(1);
		return;
	}
	if (left > 0)
		ev |= EPOLLOUT;
	if (ev != up.events) {
		if (ev_mod(router.loop, up.fd, ev) < 0)
			fatal("supervisor channel (fd %d): epoll_ctl", up.fd);
		up.events = ev;
	}
	if (up.throttled && (size_t)left < UP_LOW) {
		up.throttled = 0;
		conn_upstream_drained();
	}
}

static void upstream_flush_timer(struct ev_loop *loop, void *arg)
{
	up.flush_timer = 0;
	if (!up.dead)
		upstream_flush();
}

/* Frames queued while handling this iteration's events leave together:
 * a zero timer runs after the batch of descriptor callbacks. */
static void upstream_kick(void)
{
	if (up.flush_timer != 0 || up.dead)
		return;
	up.flush_timer = ev_timer_add(router.loop, 0, upstream_flush_timer,
	                              NULL);
	if (up.flush_timer == 0)
		upstream_flush();
}

int upstream_congested(void)
{
	if (sy_writer_pending(&up.w) > UP_HIGH)
		up.throttled = 1;
	return up.throttled;
}

void upstream_request(uint32_t stream, const Switchyard__Request *req,
                      int end)
{
	if (up.dead)
		return;
	if (sy_writer_msg(&up.w, SY_MSG_REQUEST, end ? SY_FLAG_END : 0, stream,
	                  &req->base) < 0)
		fatal("supervisor channel: queue REQUEST for stream %u",
		      stream);
	upstream_kick();
}

void upstream_body(uint32_t stream, const char *p, size_t len, int end)
{
	if (up.dead)
		return;
	if (sy_writer_raw(&up.w, SY_MSG_REQ_BODY, end ? SY_FLAG_END : 0,
	                  stream, p, len) < 0)
		fatal("supervisor channel: queue REQ_BODY for stream %u",
		      stream);
	upstream_kick();
}

void upstream_cancel(uint32_t stream)
{
	if (up.dead)
		return;
	if (sy_writer_raw(&up.w, SY_MSG_CANCEL, 0, stream, NULL, 0) < 0)
		fatal("supervisor channel: queue CANCEL for stream %u", stream);
	upstream_kick();
}

void upstream_response(uint32_t stream, const Switchyard__Response *res,
                       int end)
{
	if (up.dead)
		return;
	if (sy_writer_msg(&up.w, SY_MSG_RESPONSE, end ? SY_FLAG_END : 0,
	                  stream, &res->base) < 0)
		fatal("supervisor channel: queue RESPONSE for stream %u",
		      stream);
	upstream_kick();
}

void upstream_res_body(uint32_t stream, const void *p, size_t len, int end)
{
	if (up.dead)
		return;
	if (sy_writer_raw(&up.w, SY_MSG_RES_BODY, end ? SY_FLAG_END : 0,
	                  stream, p, len) < 0)
		fatal("supervisor channel: queue RES_BODY for stream %u",
		      stream);
	upstream_kick();
}

void upstream_stats(uint32_t stream)
{
	if (up.dead)
		return;
	if (sy_writer_raw(&up.w, SY_MSG_STATS_REQUEST, SY_FLAG_END, stream,
	                  NULL, 0) < 0)
		fatal("supervisor channel: queue STATS_REQUEST for stream %u",
		      stream);
	upstream_kick();
}

static int upstream_on_response(const struct sy_frame *f, char *err,
                                size_t errlen)
{
	Switchyard__Response *res;
	struct conn *c;
	int rc = 0;

	if (f->flags & SY_FLAG_ABORT) {
		snprintf(err, errlen, "RESPONSE on stream %u flagged ABORT",
		         f->stream);
		return -1;
	}
	res = switchyard__response__unpack(NULL, f->len, f->payload);
	if (res == NULL) {
		snprintf(err, errlen, "RESPONSE on stream %u does not decode",
		         f->stream);
		return -1;
	}
	if ((c = conn_by_stream(f->stream)) != NULL)
		rc = response_start(c, res, f->flags & SY_FLAG_END, err,
		                    errlen);
	else
		log_debug("stream %u: late RESPONSE dropped", f->stream);
	switchyard__response__free_unpacked(res, NULL);
	return rc;
}

static int upstream_on_res_body(const struct sy_frame *f, char *err,
                                size_t errlen)
{
	struct conn *c = conn_by_stream(f->stream);

	if (c == NULL) {
		log_debug("stream %u: late RES_BODY dropped", f->stream);
		return 0;
	}
	return response_body(c, f->payload, f->len, f->flags, err, errlen);
}

static int upstream_dispatch(const struct sy_frame *f, char *err,
                             size_t errlen)
{
	switch (f->type) {
	case SY_MSG_RESPONSE:
		return upstream_on_response(f, err, errlen);
	case SY_MSG_RES_BODY:
		return upstream_on_res_body(f, err, errlen);
	case SY_MSG_REQUEST:
		return egress_request(f, err, errlen);
	case SY_MSG_REQ_BODY:
		return egress_req_body(f, err, errlen);
	case SY_MSG_CANCEL:
		egress_cancel(f);
		return 0;
	case SY_MSG_STATS_RESPONSE:
		return admin_stats(f, err, errlen);
	default:
		snprintf(err, errlen, "unexpected %s frame on stream %u",
		         sy_msg_name(f->type), f->stream);
		return -1;
	}
}

static void upstream_read(void)
{
	struct sy_frame f;
	char err[256];
	ssize_t n = sy_reader_fill(&up.r, up.fd);
	int rc;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0 && errno != ECONNRESET) {
		log_warn("supervisor channel (fd %d): read", up.fd);
		upstream_lost(1);
		return;
	}
	if (n <= 0) {
		log_info("supervisor closed the channel, exiting");
		upstream_lost(0);
		return;
	}
	while ((rc = sy_reader_next(&up.r, &f)) == 1) {
		if (f.fd >= 0)
			close(f.fd);
		if (upstream_dispatch(&f, err, sizeof(err)) < 0)
			fatalx("supervisor channel: protocol error: %s", err);
	}
	if (rc < 0)
		fatal("supervisor channel: malformed frame");
	conn_flush_dirty();
}

static void upstream_on_event(struct ev_loop *loop, int fd, uint32_t events,
                              void *arg)
{
	if (events & EPOLLOUT)
		upstream_flush();
	if (!up.dead && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		upstream_read();
}

void upstream_init(int fd)
{
	up.fd = fd;
	if (sy_set_nonblock(fd) < 0 || sy_set_cloexec(fd) < 0)
		fatal("supervisor channel (fd %d): fcntl", fd);
	if (sy_reader_init(&up.r, 0) < 0 || sy_writer_init(&up.w) < 0)
		fatal("supervisor channel buffers");
	if (ev_add(router.loop, fd, EPOLLIN, upstream_on_event, NULL) < 0)
		fatal("supervisor channel (fd %d): epoll_ctl", fd);
	up.events = EPOLLIN;
}

void upstream_cleanup(void)
{
	if (up.flush_timer != 0)
		ev_timer_del(router.loop, up.flush_timer);
	up.flush_timer = 0;
	if (!up.dead && up.fd >= 0)
		ev_del(router.loop, up.fd);
	up.dead = 1;
	if (up.fd >= 0)
		close(up.fd);
	up.fd = -1;
	sy_reader_free(&up.r);
	sy_writer_free(&up.w);
}
