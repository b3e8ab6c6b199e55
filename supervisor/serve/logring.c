/*
 * Worker output: lines read from each process's pipes are logged and kept
 * in its worker's rings. The rings are allocated at the first line so that
 * workers which print nothing cost nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "serve/logring.h"
#include "serve/serve.h"
#include "util.h"

#define LOG_READS 16 /* reads of a pipe per event */

void (*logring_hook)(const struct logring *r, int gone);

void logring_free(struct logring *r)
{
	if (logring_hook != NULL)
		logring_hook(r, 1);
	free(r->buf);
	r->buf = NULL;
	r->total = 0;
}

uint64_t logring_oldest(const struct logring *r)
{
	return r->total > LOGRING_SIZE ? r->total - LOGRING_SIZE : 0;
}

static void logring_put(struct logring *r, const char *s, size_t n)
{
	size_t at, first;

	if (r->buf == NULL && (r->buf = malloc(LOGRING_SIZE)) == NULL)
		return; /* still logged: only `tail` misses it */
	while (n > 0) {
		at = (size_t)(r->total % LOGRING_SIZE);
		first = LOGRING_SIZE - at < n ? LOGRING_SIZE - at : n;
		memcpy(r->buf + at, s, first);
		r->total += first;
		s += first;
		n -= first;
	}
}

size_t logring_read(const struct logring *r, uint64_t *off, char *dst,
                    size_t max)
{
	size_t n = 0, at, chunk;

	if (*off < logring_oldest(r))
		*off = logring_oldest(r);
	if (r->buf == NULL)
		return 0;
	while (n < max && *off < r->total) {
		at = (size_t)(*off % LOGRING_SIZE);
		chunk = LOGRING_SIZE - at;
		if (chunk > r->total - *off)
			chunk = (size_t)(r->total - *off);
		if (chunk > max - n)
			chunk = max - n;
		memcpy(dst + n, r->buf + at, chunk);
		n += chunk;
		*off += chunk;
	}
	return n;
}

uint64_t logring_tail_start(const struct logring *r, size_t n)
{
	uint64_t off = r->total > n ? r->total - n : 0;

	if (off < logring_oldest(r))
		off = logring_oldest(r);
	if (off == 0 || r->buf == NULL)
		return off;
	/* begin after the first newline, so the first line is whole */
	while (off < r->total && r->buf[(off - 1) % LOGRING_SIZE] != '\n')
		off++;
	return off;
}

void logring_append(struct logring *r, const char *s, size_t n)
{
	logring_put(r, s, n);
	if (logring_hook != NULL)
		logring_hook(r, 0);
}

/* Control characters would let a worker forge our log's lines or a
 * terminal's display. */
static void logpipe_emit(struct logpipe *lp, const char *s, size_t n)
{
	char line[LOGPIPE_LINE + 1];
	size_t i;

	if (n > 0 && s[n - 1] == '\r')
		n--;
	for (i = 0; i < n; i++)
		line[i] = ((unsigned char)s[i] < 0x20 && s[i] != '\t') ||
		                  s[i] == 0x7f
		              ? '?'
		              : s[i];
	line[n] = '\0';
	log_info("worker %s[%d]: %s", lp->label, (int)lp->pid, line);
	if (lp->ring == NULL)
		return;
	line[n] = '\n';
	logring_put(lp->ring, line, n + 1);
	if (logring_hook != NULL)
		logring_hook(lp->ring, 0);
}

static void logpipe_lines(struct logpipe *lp)
{
	size_t start = 0;
	char *nl;

	while ((nl = memchr(lp->buf + start, '\n', lp->len - start)) != NULL) {
		logpipe_emit(lp, lp->buf + start,
		             (size_t)(nl - lp->buf) - start);
		start = (size_t)(nl - lp->buf) + 1;
	}
	if (start == 0 && lp->len == sizeof(lp->buf)) {
		logpipe_emit(lp, lp->buf, lp->len);
		start = lp->len;
	}
	memmove(lp->buf, lp->buf + start, lp->len - start);
	lp->len -= start;
}

void logpipe_close(struct logpipe *lp)
{
	if (lp->fd < 0)
		return;
	ev_del(serve_env.loop, lp->fd);
	close(lp->fd);
	lp->fd = -1;
}

static void logpipe_read(struct logpipe *lp)
{
	ssize_t n;
	int i;

	for (i = 0; i < LOG_READS && lp->fd >= 0; i++) {
		n = read(lp->fd, lp->buf + lp->len, sizeof(lp->buf) - lp->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			if (lp->len > 0)
				logpipe_emit(lp, lp->buf, lp->len);
			lp->len = 0;
			logpipe_close(lp);
			return;
		}
		lp->len += (size_t)n;
		logpipe_lines(lp);
	}
}

static void logpipe_io(struct ev_loop *loop, int fd, uint32_t events,
                       void *arg)
{
	(void)loop;
	(void)fd;
	(void)events;
	logpipe_read(arg);
}

void logpipe_open(struct logpipe *lp, int fd, const char *label, pid_t pid,
                  struct logring *ring)
{
	lp->len = 0;
	lp->fd = fd;
	lp->label = label;
	lp->pid = pid;
	lp->ring = ring;
	if (sy_set_nonblock(fd) == -1 ||
	    ev_add(serve_env.loop, fd, EPOLLIN, logpipe_io, lp) == -1) {
		log_warn("worker %s[%d]: cannot watch its output", label,
		         (int)pid);
		close(fd);
		lp->fd = -1;
	}
}

void logpipe_drain(struct logpipe *lp)
{
	logpipe_read(lp);
	if (lp->len > 0)
		logpipe_emit(lp, lp->buf, lp->len);
	lp->len = 0;
	logpipe_close(lp);
}

void logpipe_poll(struct logpipe *lp)
{
	if (lp->fd >= 0)
		logpipe_read(lp);
}
