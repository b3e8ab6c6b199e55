/*
 * Request bodies, held whole before a worker sees the request (nginx's
 * client_body_buffer_size and client_body_temp_path): a worker process is
 * never kept waiting by a client that sends slowly, only the router is,
 * and its connections cost no process.
 *
 * The first client_body_buffer_bytes of a body stay in memory; the rest
 * goes to a file in body_dir (the supervisor's run_dir/router-body, the
 * router's own, mode 0700) made with O_TMPFILE: it has no name from the
 * start, so it is gone the moment it is closed, or the router dies. The
 * seccomp profile lets the router open nothing else: no existing file,
 * only new unnamed ones (router.policy).
 *
 * Once the request is read, the body goes upstream in SY_BODY_CHUNK
 * frames as fast as the supervisor's channel takes them: a body read from
 * its file never piles up in the channel's queue.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "log.h"
#include "router.h"

static int dir_fd = -1;
static char chunk[SY_BODY_CHUNK];

/* An unnamed file in body_dir, or -1 with errno. */
static int body_file(void)
{
	return openat(dir_fd, ".", O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);
}

void body_init(void)
{
	const char *dir = router.cfg.body_dir;
	int fd;

	dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		fatal("body directory %s", dir);
	/* fails now, not at the first large body, where O_TMPFILE is not
	 * supported (tmpfs, ext4, xfs and btrfs support it) */
	if ((fd = body_file()) < 0)
		fatal("body directory %s: an unnamed file (O_TMPFILE)", dir);
	close(fd);
}

void body_cleanup(void)
{
	if (dir_fd >= 0)
		close(dir_fd);
	dir_fd = -1;
}

static int write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_at(int fd, char *p, size_t len, uint64_t off)
{
	ssize_t n;

	while (len > 0) {
		if ((n = pread(fd, p, len, (off_t)off)) <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n == 0)
				errno = EIO; /* shorter than what was written */
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int body_add(struct conn *c, const char *p, size_t len)
{
	struct body *b = &c->body;
	size_t held = sy_buf_len(&b->mem), room = 0;

	if (held < router.cfg.client_body_buffer_bytes)
		room = router.cfg.client_body_buffer_bytes - held;
	if (room > len)
		room = len;
	if (room > 0 && sy_buf_add(&b->mem, p, room) < 0) {
		log_warn("%s: request %s: body buffer", c->remote, c->rid);
		return -1;
	}
	if (len > room && b->fd < 0 && (b->fd = body_file()) < 0) {
		log_warn("%s: request %s: body file in %s", c->remote, c->rid,
		         router.cfg.body_dir);
		return -1;
	}
	if (len > room && write_all(b->fd, p + room, len - room) < 0) {
		log_warn("%s: request %s: body file in %s: write", c->remote,
		         c->rid, router.cfg.body_dir);
		return -1;
	}
	b->len += len;
	return 0;
}

/* The next frame's bytes of b, from memory or read from the file into
 * chunk; NULL with errno if the file cannot be read. */
static const char *next_bytes(struct body *b, size_t *n)
{
	size_t held = sy_buf_len(&b->mem);
	uint64_t left = b->len - b->sent;

	*n = left < SY_BODY_CHUNK ? (size_t)left : SY_BODY_CHUNK;
	if (b->sent < held) {
		if (*n > held - b->sent)
			*n = held - (size_t)b->sent;
		return b->mem.data + b->mem.start + b->sent;
	}
	return read_at(b->fd, chunk, *n, b->sent - held) < 0 ? NULL : chunk;
}

int body_pump(struct conn *c)
{
	struct body *b = &c->body;
	const char *p;
	size_t n;

	while (c->body_up) {
		if (upstream_congested()) {
			conn_upstream_wait(c, 1);
			return 0;
		}
		if ((p = next_bytes(b, &n)) == NULL) {
			log_warn("%s: request %s: body file: read", c->remote,
			         c->rid);
			return -1;
		}
		b->sent += n;
		c->body_up = b->sent < b->len;
		upstream_body(c->stream, p, n, !c->body_up);
	}
	conn_upstream_wait(c, 0);
	body_release(c);
	return 1;
}

void body_release(struct conn *c)
{
	struct body *b = &c->body;

	if (b->fd >= 0 && close(b->fd) < 0)
		log_warn("%s: body file: close", c->remote);
	b->fd = -1;
	sy_buf_free(&b->mem);
	b->len = b->sent = 0;
}
