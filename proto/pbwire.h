/*
 * The protobuf wire format, walked without unpacking (pbwire.c): for the
 * one place that relays a message it does not otherwise parse and must
 * still take a field out of it (the router's requests lose any `context`,
 * supervisor/serve/call.c). Pure functions: they never allocate or log.
 */
#ifndef SY_PBWIRE_H
#define SY_PBWIRE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Copies the message in[0, len) into out (room for len bytes), leaving out
 * every occurrence of field number `field`, whatever its wire type or how
 * its tag is encoded. Returns the bytes written, or -1 when in is not a
 * message protobuf-c would unpack (a truncated field, a varint over 10
 * bytes, a group or wire types 6 and 7, field number 0). in and out must
 * not overlap.
 */
long sy_pb_strip_field(const uint8_t *in, size_t len, uint32_t field,
                       uint8_t *out);

#endif
