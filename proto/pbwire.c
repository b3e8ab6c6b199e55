/*
 * Walking the protobuf wire format (pbwire.h): a message is a sequence of
 * fields, each a varint tag (field number << 3 | wire type) and a value
 * whose length the wire type gives.
 */
#include <string.h>

#include "pbwire.h"

/* The varint at p[0, end): its value in *v and the byte after it, or NULL
 * when it is truncated or longer than 10 bytes. */
static const uint8_t *varint(const uint8_t *p, const uint8_t *end,
                             uint64_t *v)
{
	unsigned shift;

	*v = 0;
	for (shift = 0; p < end && shift < 70; shift += 7) {
		*v |= (uint64_t)(*p & 0x7f) << shift;
		if ((*p++ & 0x80) == 0)
			return p;
	}
	return NULL;
}

/* The end of the value of wire type wt starting at p, or NULL. */
static const uint8_t *value_end(const uint8_t *p, const uint8_t *end,
                                unsigned wt)
{
	uint64_t n;

	switch (wt) {
	case 0: /* varint */
		return varint(p, end, &n);
	case 1: /* 64-bit */
		return end - p >= 8 ? p + 8 : NULL;
	case 2: /* length-delimited */
		if ((p = varint(p, end, &n)) == NULL ||
		    n > (uint64_t)(end - p))
			return NULL;
		return p + n;
	case 5: /* 32-bit */
		return end - p >= 4 ? p + 4 : NULL;
	default: /* groups (3, 4), and 6, 7: protobuf-c refuses them */
		return NULL;
	}
}

long sy_pb_strip_field(const uint8_t *in, size_t len, uint32_t field,
                       uint8_t *out)
{
	const uint8_t *p = in, *end = in + len, *v, *next;
	uint64_t tag;
	long n = 0;

	while (p < end) {
		if ((v = varint(p, end, &tag)) == NULL || (tag >> 3) == 0 ||
		    (tag >> 3) > 0x1fffffff ||
		    (next = value_end(v, end, (unsigned)(tag & 7))) == NULL)
			return -1;
		if ((tag >> 3) != field) {
			memcpy(out + n, p, (size_t)(next - p));
			n += next - p;
		}
		p = next;
	}
	return n;
}
