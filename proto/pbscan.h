/*
 * Reading one field of a packed protobuf message without unpacking it:
 * the supervisor relays the router's Request bytes unread and learns only
 * its request_id this way (docs/DESIGN.md, "Request path"), and the Host
 * and the few headers a cached decision is keyed on
 * (supervisor/serve/decision_cache.c).
 *
 * Pure functions over caller-owned bytes: they never allocate or log.
 */
#ifndef SY_PBSCAN_H
#define SY_PBSCAN_H

#include <stddef.h>
#include <stdint.h>

/*
 * Finds the top-level length-delimited field (string, bytes or message)
 * numbered field in msg[0, len). Returns 1 with *val and *vlen pointing
 * into msg at its last occurrence (the one protobuf's merge keeps), 0 when
 * msg has none, or -1 when msg is not a well-formed message (a truncated
 * or over-long varint, a length past the end, a group, or field with a
 * wire type other than length-delimited).
 * O(len): every field before it is skipped, not decoded.
 */
int sy_pb_find_bytes(const uint8_t *msg, size_t len, uint32_t field,
                     const uint8_t **val, size_t *vlen);

/*
 * Steps through the top-level length-delimited fields of msg[0, len) in
 * the order they are packed, for a repeated field (the headers of a
 * Request): from *pos (0 to start), the next one, skipping fields of the
 * other wire types. Returns 1 with its number in *field, *val and *vlen
 * pointing into msg and *pos past it; 0 at the end; -1 when msg is not a
 * well-formed message (as sy_pb_find_bytes says, and a field number over
 * 2^29 - 1). O(bytes stepped over).
 */
int sy_pb_next_bytes(const uint8_t *msg, size_t len, size_t *pos,
                     uint32_t *field, const uint8_t **val, size_t *vlen);

#endif
