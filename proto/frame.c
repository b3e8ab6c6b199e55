#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "frame.h"

/* Buffers start large enough for a few typical frames and grow to hold one
 * maximal frame; they are compacted, not shrunk, so steady traffic reuses
 * the same pages. */
#define INITIAL_CAP (16u * 1024u)

static const char *const msg_names[] = {
	[SY_MSG_HELLO] = "HELLO",
	[SY_MSG_REQUEST] = "REQUEST",
	[SY_MSG_REQ_BODY] = "REQ_BODY",
	[SY_MSG_RESPONSE] = "RESPONSE",
	[SY_MSG_RES_BODY] = "RES_BODY",
	[SY_MSG_CANCEL] = "CANCEL",
	[SY_MSG_FORWARD] = "FORWARD",
	[SY_MSG_BODY_PULL] = "BODY_PULL",
	[SY_MSG_CTL_REQUEST] = "CTL_REQUEST",
	[SY_MSG_CTL_RESPONSE] = "CTL_RESPONSE",
	[SY_MSG_STATS_REQUEST] = "STATS_REQUEST",
	[SY_MSG_STATS_RESPONSE] = "STATS_RESPONSE",
	[SY_MSG_KV_REQUEST] = "KV_REQUEST",
	[SY_MSG_KV_RESPONSE] = "KV_RESPONSE",
	[SY_MSG_KV_VALUE] = "KV_VALUE",
};

int sy_msg_known(uint8_t type)
{
	return type < sizeof(msg_names) / sizeof(msg_names[0]) &&
	       msg_names[type] != NULL;
}

const char *sy_msg_name(uint8_t type)
{
	return sy_msg_known(type) ? msg_names[type] : "UNKNOWN";
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

void sy_hdr_encode(uint8_t out[SY_FRAME_HDR_LEN], uint8_t type, uint8_t flags,
                   uint32_t stream, uint32_t len)
{
	put32(out, len);
	out[4] = type;
	out[5] = flags;
	out[6] = 0;
	out[7] = 0;
	put32(out + 8, stream);
}

int sy_hdr_decode(const uint8_t in[SY_FRAME_HDR_LEN], struct sy_frame *f)
{
	f->len = get32(in);
	f->type = in[4];
	f->flags = in[5];
	f->stream = get32(in + 8);
	f->payload = NULL;
	f->fd = -1;
	if (f->len > SY_FRAME_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (!sy_msg_known(f->type) || (f->flags & ~SY_FLAG_MASK) ||
	    in[6] != 0 || in[7] != 0) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

/* ---- reader ---- */

int sy_reader_init(struct sy_reader *r, int pass_fds)
{
	memset(r, 0, sizeof(*r));
	r->pending_fd = -1;
	r->pass_fds = pass_fds;
	r->buf = malloc(INITIAL_CAP);
	if (r->buf == NULL)
		return -1;
	r->cap = INITIAL_CAP;
	return 0;
}

void sy_reader_free(struct sy_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = r->start = r->end = 0;
	if (r->pending_fd >= 0)
		close(r->pending_fd);
	r->pending_fd = -1;
}

/* Makes room for `want` more bytes after end: compacts first, then grows,
 * never beyond one maximal frame plus a read's worth of slack. */
static int reader_reserve(struct sy_reader *r, size_t want)
{
	size_t used = r->end - r->start;
	size_t ncap;
	uint8_t *nbuf;

	if (r->cap - r->end >= want)
		return 0;
	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, used);
		if (r->pending_fd >= 0)
			r->fd_off -= r->start;
		r->start = 0;
		r->end = used;
		if (r->cap - r->end >= want)
			return 0;
	}
	ncap = r->cap ? r->cap : INITIAL_CAP;
	while (ncap - used < want)
		ncap *= 2;
	if (ncap > 2 * (SY_FRAME_MAX + SY_FRAME_HDR_LEN)) {
		errno = EMSGSIZE;
		return -1;
	}
	nbuf = realloc(r->buf, ncap);
	if (nbuf == NULL)
		return -1;
	r->buf = nbuf;
	r->cap = ncap;
	return 0;
}

/* Takes descriptors out of ancillary data: keeps one when the channel
 * allows it, closes every other one. Returns 1 if one was kept. */
static int reader_take_fds(struct sy_reader *r, struct msghdr *mh)
{
	struct cmsghdr *c;
	int kept = 0;

	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		size_t n, i;
		int fd;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (r->pass_fds && r->pending_fd < 0) {
				r->pending_fd = fd;
				kept = 1;
			} else {
				close(fd);
			}
		}
	}
	return kept;
}

/*
 * The kernel ends a stream read right after the segment that carried
 * descriptors, and our writer sends a descriptor with exactly one frame, so
 * the descriptor belongs to the last frame that starts within the bytes just
 * read, [from, to).
 */
static size_t last_frame_start(const struct sy_reader *r, size_t from,
                               size_t to)
{
	size_t off = r->start, last = from;

	while (off < to) {
		if (off >= from)
			last = off;
		if (to - off < SY_FRAME_HDR_LEN)
			break;
		off += SY_FRAME_HDR_LEN +
		       ((size_t)r->buf[off] << 24 | (size_t)r->buf[off + 1] << 16 |
		        (size_t)r->buf[off + 2] << 8 | r->buf[off + 3]);
	}
	return last;
}

ssize_t sy_reader_fill(struct sy_reader *r, int fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} cm;
	struct iovec iov;
	struct msghdr mh;
	ssize_t n;

	if (reader_reserve(r, INITIAL_CAP) < 0)
		return -1;
	iov.iov_base = r->buf + r->end;
	iov.iov_len = r->cap - r->end;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	do {
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno == ENOTSOCK) {
		/* Pipes and files (tests) carry no descriptors. */
		do {
			n = read(fd, iov.iov_base, iov.iov_len);
		} while (n < 0 && errno == EINTR);
		mh.msg_controllen = 0;
	}
	if (n < 0)
		return -1;
	if (mh.msg_controllen > 0 && reader_take_fds(r, &mh))
		r->fd_off = last_frame_start(r, r->end, r->end + (size_t)n);
	r->end += (size_t)n;
	return n;
}

int sy_reader_feed(struct sy_reader *r, const void *buf, size_t len)
{
	if (reader_reserve(r, len) < 0)
		return -1;
	memcpy(r->buf + r->end, buf, len);
	r->end += len;
	return 0;
}

int sy_reader_next(struct sy_reader *r, struct sy_frame *f)
{
	size_t avail = r->end - r->start;

	if (avail < SY_FRAME_HDR_LEN)
		return 0;
	/* The header is judged before a single payload byte is looked at. */
	if (sy_hdr_decode(r->buf + r->start, f) < 0)
		return -1;
	if (avail - SY_FRAME_HDR_LEN < f->len) {
		/* Make sure the whole frame will fit on the next fill. */
		if (reader_reserve(r, f->len + SY_FRAME_HDR_LEN - avail) < 0)
			return -1;
		return 0;
	}
	f->payload = r->buf + r->start + SY_FRAME_HDR_LEN;
	if (r->pending_fd >= 0 && r->fd_off == r->start) {
		f->fd = r->pending_fd;
		r->pending_fd = -1;
	}
	r->start += SY_FRAME_HDR_LEN + f->len;
	if (r->start == r->end && r->pending_fd < 0)
		r->start = r->end = 0;
	return 1;
}

int sy_frame_recv(int fd, struct sy_reader *r, struct sy_frame *f)
{
	for (;;) {
		int rc = sy_reader_next(r, f);
		ssize_t n;

		if (rc != 0)
			return rc;
		n = sy_reader_fill(r, fd);
		if (n < 0)
			return -1;
		if (n == 0) {
			if (r->end != r->start) {
				errno = EPROTO;
				return -1;
			}
			return 0;
		}
	}
}

/* ---- writer ---- */

int sy_writer_init(struct sy_writer *w)
{
	memset(w, 0, sizeof(*w));
	w->fd_out = -1;
	return sy_buf_init(&w->q, INITIAL_CAP);
}

void sy_writer_free(struct sy_writer *w)
{
	sy_buf_free(&w->q);
	if (w->fd_out >= 0)
		close(w->fd_out);
	w->fd_out = -1;
}

size_t sy_writer_pending(const struct sy_writer *w)
{
	return sy_buf_len(&w->q);
}

/* While a descriptor waits for its byte (fd_at), the queue must not move
 * within its allocation. */
static int writer_reserve(struct sy_writer *w, size_t want)
{
	if (w->fd_out >= 0)
		return sy_buf_grow(&w->q, want);
	return sy_buf_reserve(&w->q, want);
}

uint8_t *sy_writer_reserve(struct sy_writer *w, uint8_t type, uint8_t flags,
                           uint32_t stream, size_t len)
{
	uint8_t *p;

	if (len > SY_FRAME_MAX) {
		errno = EMSGSIZE;
		return NULL;
	}
	if (writer_reserve(w, SY_FRAME_HDR_LEN + len) < 0)
		return NULL;
	p = (uint8_t *)w->q.data + w->q.end;
	sy_hdr_encode(p, type, flags, stream, (uint32_t)len);
	w->q.end += SY_FRAME_HDR_LEN + len;
	return p + SY_FRAME_HDR_LEN;
}

int sy_writer_raw(struct sy_writer *w, uint8_t type, uint8_t flags,
                  uint32_t stream, const void *payload, size_t len)
{
	uint8_t *p = sy_writer_reserve(w, type, flags, stream, len);

	if (p == NULL)
		return -1;
	if (len > 0)
		memcpy(p, payload, len);
	return 0;
}

int sy_writer_msg(struct sy_writer *w, uint8_t type, uint8_t flags,
                  uint32_t stream, const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t *p = sy_writer_reserve(w, type, flags, stream, len);

	if (p == NULL)
		return -1;
	protobuf_c_message_pack(msg, p);
	return 0;
}

int sy_writer_attach_fd(struct sy_writer *w, int fd)
{
	if (w->fd_out >= 0) {
		errno = EBUSY;
		return -1;
	}
	w->fd_out = fd;
	w->fd_at = w->q.end;
	return 0;
}

/* Sends the bytes from fd_at with the descriptor in ancillary data. Bytes
 * before fd_at go first with plain send so the descriptor arrives with the
 * frame it belongs to. */
static ssize_t writer_send(struct sy_writer *w, int fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov;
	struct msghdr mh;
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	iov.iov_base = w->q.data + w->q.start;
	iov.iov_len = sy_buf_len(&w->q);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (w->fd_out >= 0 && w->q.start < w->fd_at) {
		iov.iov_len = w->fd_at - w->q.start;
	} else if (w->fd_out >= 0) {
		struct cmsghdr *c;
		size_t flen = SY_FRAME_HDR_LEN;

		if (iov.iov_len >= SY_FRAME_HDR_LEN)
			flen += get32(iov.iov_base);
		if (iov.iov_len > flen)
			iov.iov_len = flen;

		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &w->fd_out, sizeof(int));
	}
	do {
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno == ENOTSOCK && mh.msg_controllen == 0) {
		do {
			n = write(fd, iov.iov_base, iov.iov_len);
		} while (n < 0 && errno == EINTR);
	}
	if (n > 0 && mh.msg_controllen > 0) {
		close(w->fd_out);
		w->fd_out = -1;
	}
	return n;
}

ssize_t sy_writer_flush(struct sy_writer *w, int fd)
{
	while (sy_buf_len(&w->q) > 0) {
		ssize_t n = writer_send(w, fd);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -1;
		}
		/* Not sy_buf_consume: its restart at offset 0 would lose fd_at
		 * while a descriptor waits. */
		w->q.start += (size_t)n;
	}
	if (sy_buf_len(&w->q) == 0 && w->fd_out < 0)
		w->q.start = w->q.end = 0;
	return (ssize_t)sy_buf_len(&w->q);
}

int sy_writer_flush_all(struct sy_writer *w, int fd)
{
	ssize_t left = sy_writer_flush(w, fd);

	if (left < 0)
		return -1;
	if (left > 0) {
		/* A blocking descriptor only stops short on EAGAIN when it was
		 * non-blocking after all; refuse to spin. */
		errno = EAGAIN;
		return -1;
	}
	return 0;
}
