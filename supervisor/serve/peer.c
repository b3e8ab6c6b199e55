/*
 * Framed channels: non-blocking reads handed to the owner frame by frame,
 * queued writes flushed once per loop turn.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "serve/peer.h"
#include "util.h"

/* A relayed body pauses its producer while the consumer's queue is longer
 * than THROTTLE_HIGH, and resumes it below THROTTLE_LOW. */
#define THROTTLE_HIGH (256u * 1024u)
#define THROTTLE_LOW (64u * 1024u)
/* Reads per readable event before others get their turn. */
#define READS_PER_EVENT 8

static struct peer *dirty;

static void peer_io(struct ev_loop *loop, int fd, uint32_t events, void *arg);

static void peer_watch(struct peer *p)
{
	uint32_t ev = (p->reading ? EPOLLIN : 0) | (p->writing ? EPOLLOUT : 0);

	if (p->fd >= 0 && ev_mod(p->loop, p->fd, ev) == -1)
		log_warn("peer: epoll_ctl on fd %d", p->fd);
}

int peer_open(struct peer *p, struct ev_loop *loop, int fd,
              const struct peer_ops *ops, void *owner, size_t out_max)
{
	int e;

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	p->loop = loop;
	p->ops = ops;
	p->owner = owner;
	p->out_max = out_max;
	if (sy_set_nonblock(fd) == -1 || sy_reader_init(&p->rd, 0) == -1 ||
	    sy_writer_init(&p->wr) == -1 ||
	    ev_add(loop, fd, EPOLLIN, peer_io, p) == -1) {
		e = errno;
		sy_reader_free(&p->rd);
		sy_writer_free(&p->wr);
		close(fd);
		errno = e;
		return -1;
	}
	p->fd = fd;
	p->reading = 1;
	return 0;
}

static void resume_all(struct peer *sink)
{
	struct peer *src;

	while ((src = sink->paused) != NULL) {
		sink->paused = src->paused_next;
		src->paused_next = NULL;
		src->paused_on = NULL;
		if (src->fd >= 0) {
			src->reading = 1;
			peer_watch(src);
		}
	}
}

static void unpause(struct peer *src)
{
	struct peer **pp;

	for (pp = &src->paused_on->paused; *pp != NULL;
	     pp = &(*pp)->paused_next) {
		if (*pp == src) {
			*pp = src->paused_next;
			break;
		}
	}
	src->paused_on = NULL;
	src->paused_next = NULL;
}

static void undirty(struct peer *p)
{
	struct peer **pp;

	for (pp = &dirty; *pp != NULL; pp = &(*pp)->dirty_next) {
		if (*pp == p) {
			*pp = p->dirty_next;
			break;
		}
	}
	p->dirty = 0;
	p->dirty_next = NULL;
}

void peer_close(struct peer *p)
{
	if (p->fd < 0)
		return;
	ev_del(p->loop, p->fd);
	close(p->fd);
	p->fd = -1;
	p->reading = p->writing = 0;
	sy_reader_free(&p->rd);
	sy_writer_free(&p->wr);
	if (p->paused_on != NULL)
		unpause(p);
	resume_all(p);
	if (p->dirty)
		undirty(p);
	if (p->ops->closed != NULL)
		p->ops->closed(p);
}

static void peer_mark(struct peer *p)
{
	if (p->dirty)
		return;
	p->dirty = 1;
	p->dirty_next = dirty;
	dirty = p;
}

static void peer_queued(struct peer *p, int rc)
{
	if (rc == -1)
		p->failed = errno;
	else if (p->out_max > 0 && sy_writer_pending(&p->wr) > p->out_max)
		p->failed = ENOBUFS;
	peer_mark(p);
}

void peer_send_raw(struct peer *p, uint8_t type, uint8_t flags,
                   uint32_t stream, const void *payload, size_t len)
{
	if (p->fd < 0 || p->failed)
		return;
	peer_queued(p, sy_writer_raw(&p->wr, type, flags, stream, payload,
	                             len));
}

void peer_send_msg(struct peer *p, uint8_t type, uint8_t flags,
                   uint32_t stream, const ProtobufCMessage *msg)
{
	if (p->fd < 0 || p->failed)
		return;
	peer_queued(p, sy_writer_msg(&p->wr, type, flags, stream, msg));
}

void peer_throttle(struct peer *src, struct peer *sink)
{
	if (src->fd < 0 || sink->fd < 0 || src->paused_on != NULL ||
	    sy_writer_pending(&sink->wr) < THROTTLE_HIGH)
		return;
	src->reading = 0;
	peer_watch(src);
	src->paused_on = sink;
	src->paused_next = sink->paused;
	sink->paused = src;
}

static void peer_write(struct peer *p)
{
	ssize_t left = sy_writer_flush(&p->wr, p->fd);

	if (left == -1) {
		p->failed = errno;
		return;
	}
	if (p->writing != (left > 0)) {
		p->writing = left > 0;
		peer_watch(p);
	}
	if ((size_t)left <= THROTTLE_LOW && p->paused != NULL)
		resume_all(p);
}

/* Failing a peer may answer calls, which queues frames on other peers:
 * the caller's loop picks those up. */
static void peer_fail(struct peer *p)
{
	char why[160];

	if (p->failed == ENOBUFS)
		snprintf(why, sizeof(why), "stopped reading its channel (%zu "
		         "bytes waiting)", sy_writer_pending(&p->wr));
	else
		snprintf(why, sizeof(why), "channel write failed: %s",
		         strerror(p->failed));
	p->ops->broken(p, p->failed, why);
}

void peer_flush_all(void)
{
	struct peer *p;

	while ((p = dirty) != NULL) {
		dirty = p->dirty_next;
		p->dirty = 0;
		p->dirty_next = NULL;
		if (p->fd < 0)
			continue;
		if (!p->failed)
			peer_write(p);
		if (p->failed)
			peer_fail(p);
	}
}

static void peer_broken(struct peer *p, const char *what, int err)
{
	char why[160];

	snprintf(why, sizeof(why), "%s%s%s", what, err ? ": " : "",
	         err ? strerror(err) : "");
	p->ops->broken(p, err, why);
}

/* Reads what the socket has, a bounded number of times, and dispatches
 * every whole frame. Stops as soon as a handler closed the channel. */
static void peer_read(struct peer *p)
{
	struct sy_frame f;
	ssize_t n;
	int i, rc, full;

	for (i = 0; i < READS_PER_EVENT; i++) {
		n = sy_reader_fill(&p->rd, p->fd);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n == -1) {
			peer_broken(p, "channel read failed", errno);
			return;
		}
		if (n == 0) {
			peer_broken(p, p->rd.end > p->rd.start ? "channel "
			            "closed inside a frame" : "channel closed", 0);
			return;
		}
		full = p->rd.end == p->rd.cap;
		while ((rc = sy_reader_next(&p->rd, &f)) == 1) {
			p->ops->frame(p, &f);
			if (p->fd < 0)
				return;
		}
		if (rc == -1) {
			peer_broken(p, "protocol error: malformed frame", errno);
			return;
		}
		if (!full || !p->reading)
			return;
	}
}

static void peer_io(struct ev_loop *loop, int fd, uint32_t events, void *arg)
{
	struct peer *p = arg;

	(void)loop;
	(void)fd;
	if (events & EPOLLOUT)
		peer_mark(p);
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		peer_read(p);
}
