/*
 * Worker output (logring.c). Each process's stdout and stderr is a pipe
 * read by the supervisor; every line is logged under the worker's name and
 * also kept in a bounded ring per worker and stream, which `yardctl tail`
 * reads and follows.
 */
#ifndef SY_SERVE_LOGRING_H
#define SY_SERVE_LOGRING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LOGPIPE_LINE 512          /* longer lines are kept in pieces */
#define LOGRING_SIZE (64u * 1024u) /* bytes kept per worker and stream */

/* The last LOGRING_SIZE bytes of lines, each ending with '\n'. Offsets
 * count every byte ever appended, so a reader can tell what it missed. */
struct logring {
	char *buf;       /* allocated at the first line */
	uint64_t total;  /* bytes ever appended */
};

/* One stream of one process: a line buffer in front of its ring. */
struct logpipe {
	int fd;
	size_t len;
	const char *label;       /* "ns/name", for the log */
	pid_t pid;
	struct logring *ring;    /* NULL once its pool is gone */
	char buf[LOGPIPE_LINE];
};

/* Called after lines were appended to r (gone = 0) and when r is about to
 * be freed (gone = 1): control.c follows rings for `tail -f`. */
extern void (*logring_hook)(const struct logring *r, int gone);

void logring_free(struct logring *r);
/* The offset of the oldest byte still kept. */
uint64_t logring_oldest(const struct logring *r);
/* Copies up to max bytes from *off (moved up to the oldest kept first),
 * advancing *off. Returns the bytes copied. */
size_t logring_read(const struct logring *r, uint64_t *off, char *dst,
                    size_t max);
/* The offset of the start of the last n bytes, moved to a line start. */
uint64_t logring_tail_start(const struct logring *r, size_t n);

/* Appends n bytes of whole lines to r, as a worker's would be, and calls
 * logring_hook: events.c streams request events so. */
void logring_append(struct logring *r, const char *s, size_t n);

/* Watches fd (taken over) as a process's stream. */
void logpipe_open(struct logpipe *lp, int fd, const char *label, pid_t pid,
                  struct logring *ring);
/* Reads what is left (the process is gone) and closes. */
void logpipe_drain(struct logpipe *lp);
void logpipe_close(struct logpipe *lp);
/* Reads what the process wrote so far, now rather than at its next event:
 * events.c wants the lines a worker wrote before it answered. */
void logpipe_poll(struct logpipe *lp);

#endif
