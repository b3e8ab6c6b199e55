/*
 * Growable byte buffers: bytes are appended at the end and consumed from
 * the start, data[start, end) being live. Output queues (the router's
 * connections, the frame writer) consume; strings built in place (the
 * shim's requests and responses) never do, so their start stays 0 and an
 * offset from data is an offset into their bytes.
 *
 * A zeroed struct sy_buf is an empty buffer. Like every library here it
 * never logs or exits: calls return -1 with errno (ENOMEM), and the
 * program decides.
 */
#ifndef SY_BUF_H
#define SY_BUF_H

#include <stddef.h>
#include <stdint.h>

struct sy_buf {
	char *data;   /* cap bytes, or NULL; owned */
	size_t start; /* first live byte */
	size_t end;   /* one past the last live byte */
	size_t cap;
};

/* Allocates cap bytes up front, for a buffer used at once. b is empty.
 * 0, or -1 (ENOMEM) with b zeroed. */
int sy_buf_init(struct sy_buf *b, size_t cap);
/* Frees the allocation and zeroes b; safe twice. */
void sy_buf_free(struct sy_buf *b);
/* Live bytes. */
size_t sy_buf_len(const struct sy_buf *b);
/* Makes room for n more bytes after end, first moving the live bytes to
 * the front (so start becomes 0 and offsets from data change), then
 * doubling the allocation (the first one is 256 bytes at least).
 * 0, or -1 (ENOMEM, also when the size would overflow). */
int sy_buf_reserve(struct sy_buf *b, size_t n);
/* As sy_buf_reserve without moving the live bytes within the allocation:
 * offsets from data stay valid (data itself may move). For a queue that
 * remembers where in it something happens. */
int sy_buf_grow(struct sy_buf *b, size_t n);
/* Appends p[0, n), which must not point into b. 0, or -1 (ENOMEM). */
int sy_buf_add(struct sy_buf *b, const void *p, size_t n);
/* Appends a string without its NUL. 0, or -1 (ENOMEM). */
int sy_buf_addstr(struct sy_buf *b, const char *s);
/* Appends v in decimal. 0, or -1 (ENOMEM). */
int sy_buf_adduint(struct sy_buf *b, uint64_t v);
/* Drops n <= sy_buf_len(b) bytes from the start. An emptied buffer starts
 * over at offset 0, so a queue drained as fast as it fills never moves
 * its bytes. */
void sy_buf_consume(struct sy_buf *b, size_t n);
/* 1 if p points at a live byte of b (a caller handing back our own
 * bytes, which a reallocation would move). */
int sy_buf_holds(const struct sy_buf *b, const void *p);
/* Empties b, keeping its allocation for reuse unless it is over keep
 * bytes. */
void sy_buf_reset(struct sy_buf *b, size_t keep);

#endif
