#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* Small enough for a header line, large enough not to realloc per byte. */
#define BUF_FIRST 256u

int sy_buf_init(struct sy_buf *b, size_t cap)
{
	memset(b, 0, sizeof(*b));
	if (cap > 0 && (b->data = malloc(cap)) == NULL)
		return -1;
	b->cap = cap;
	return 0;
}

void sy_buf_free(struct sy_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

size_t sy_buf_len(const struct sy_buf *b)
{
	return b->end - b->start;
}

int sy_buf_grow(struct sy_buf *b, size_t n)
{
	size_t ncap;
	char *p;

	if (b->cap - b->end >= n)
		return 0;
	if (n > SIZE_MAX / 2 - b->end) {
		errno = ENOMEM;
		return -1;
	}
	ncap = b->cap ? b->cap : BUF_FIRST;
	while (ncap - b->end < n)
		ncap *= 2;
	if ((p = realloc(b->data, ncap)) == NULL)
		return -1;
	b->data = p;
	b->cap = ncap;
	return 0;
}

int sy_buf_reserve(struct sy_buf *b, size_t n)
{
	size_t used = b->end - b->start;

	if (b->cap - b->end >= n)
		return 0;
	if (b->start > 0) {
		memmove(b->data, b->data + b->start, used);
		b->start = 0;
		b->end = used;
	}
	return sy_buf_grow(b, n);
}

int sy_buf_add(struct sy_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (sy_buf_reserve(b, n) < 0)
		return -1;
	memcpy(b->data + b->end, p, n);
	b->end += n;
	return 0;
}

int sy_buf_addstr(struct sy_buf *b, const char *s)
{
	return sy_buf_add(b, s, strlen(s));
}

int sy_buf_adduint(struct sy_buf *b, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	return sy_buf_add(b, tmp + i, sizeof(tmp) - i);
}

void sy_buf_consume(struct sy_buf *b, size_t n)
{
	b->start += n;
	if (b->start == b->end)
		b->start = b->end = 0;
}

int sy_buf_holds(const struct sy_buf *b, const void *p)
{
	uintptr_t x = (uintptr_t)p, a = (uintptr_t)b->data;

	return b->data != NULL && x >= a + b->start && x < a + b->end;
}

void sy_buf_reset(struct sy_buf *b, size_t keep)
{
	b->start = b->end = 0;
	if (b->cap > keep)
		sy_buf_free(b);
}
