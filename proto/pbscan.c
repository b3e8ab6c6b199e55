/*
 * Protobuf's wire format, just enough to skip fields (pbscan.h): a key
 * varint (field number << 3 | wire type), then a varint (0), 8 bytes (1),
 * a varint length and that many bytes (2), or 4 bytes (5). Groups (3, 4)
 * belong to proto2 and never appear in our messages.
 */
#include "pbscan.h"

enum { WT_VARINT = 0, WT_FIXED64 = 1, WT_LEN = 2, WT_FIXED32 = 5 };

/* Reads a varint at *pos. 0, or -1 if it is cut short or over 10 bytes. */
static int varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v)
{
	unsigned shift;

	*v = 0;
	for (shift = 0; shift < 70 && *pos < len; shift += 7) {
		uint8_t b = p[(*pos)++];

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

/* Skips n bytes at *pos: 0, or -1 if fewer are left. */
static int skip(size_t len, size_t *pos, uint64_t n)
{
	if (n > len - *pos)
		return -1;
	*pos += (size_t)n;
	return 0;
}

/* Skips the value of wire type wt at *pos. 0, or -1. */
static int skip_value(const uint8_t *p, size_t len, size_t *pos,
                      unsigned wt)
{
	uint64_t n;

	switch (wt) {
	case WT_VARINT:
		return varint(p, len, pos, &n);
	case WT_FIXED64:
		return skip(len, pos, 8);
	case WT_FIXED32:
		return skip(len, pos, 4);
	case WT_LEN:
		return varint(p, len, pos, &n) == 0 ? skip(len, pos, n) : -1;
	default:
		return -1;
	}
}

int sy_pb_find_bytes(const uint8_t *msg, size_t len, uint32_t field,
                     const uint8_t **val, size_t *vlen)
{
	size_t pos = 0, start;
	uint64_t key, n;
	int found = 0;

	while (pos < len) {
		if (varint(msg, len, &pos, &key) == -1 || (key >> 3) == 0)
			return -1;
		if ((key >> 3) != field) {
			if (skip_value(msg, len, &pos, (unsigned)(key & 7)) == -1)
				return -1;
			continue;
		}
		if ((key & 7) != WT_LEN || varint(msg, len, &pos, &n) == -1)
			return -1;
		start = pos;
		if (skip(len, &pos, n) == -1)
			return -1;
		*val = msg + start;
		*vlen = (size_t)n;
		found = 1;
	}
	return found;
}

/* The largest field number protobuf allows. */
#define FIELD_MAX 0x1fffffffu

int sy_pb_next_bytes(const uint8_t *msg, size_t len, size_t *pos,
                     uint32_t *field, const uint8_t **val, size_t *vlen)
{
	uint64_t key, n;
	size_t start;

	while (*pos < len) {
		if (varint(msg, len, pos, &key) == -1 || (key >> 3) == 0 ||
		    (key >> 3) > FIELD_MAX)
			return -1;
		if ((key & 7) != WT_LEN) {
			if (skip_value(msg, len, pos, (unsigned)(key & 7)) == -1)
				return -1;
			continue;
		}
		if (varint(msg, len, pos, &n) == -1)
			return -1;
		start = *pos;
		if (skip(len, pos, n) == -1)
			return -1;
		*field = (uint32_t)(key >> 3);
		*val = msg + start;
		*vlen = (size_t)n;
		return 1;
	}
	return 0;
}
