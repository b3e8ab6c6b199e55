/*
 * Small helpers shared by Switchyard's programs. Like every library here they
 * never log: they return -1 with errno, or fill a caller-owned error buffer.
 */
#ifndef SY_UTIL_H
#define SY_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "names.h" /* sy_valid_name and SY_NAME_MAX, sy_split_worker's */

/* Sets O_NONBLOCK on fd. 0 or -1 with errno. */
int sy_set_nonblock(int fd);
/* Sets FD_CLOEXEC on fd. 0 or -1 with errno. */
int sy_set_cloexec(int fd);

/*
 * Parses "127.0.0.1:8080", "[::1]:8080" or "*:8080" (IPv4 any) into *ss.
 * Returns 0, or -1 with a reason in err.
 */
int sy_parse_hostport(const char *s, struct sockaddr_storage *ss,
                      socklen_t *len, char *err, size_t errlen);
/* Formats a socket address as "ip:port" / "[ip6]:port" into buf. */
const char *sy_format_addr(const struct sockaddr *sa, char *buf, size_t size);

/*
 * Splits "ns/name" into its parts (copied into ns/name, each >= 64 bytes).
 * Returns 0, or -1 with a reason in err.
 */
int sy_split_worker(const char *s, char *ns, char *name, char *err,
                    size_t errlen);

/* Parses a non-negative integer with an optional k/m/g suffix (powers of
 * 1024) into *out. Returns 0, or -1 (EINVAL/ERANGE). */
int sy_parse_size(const char *s, uint64_t *out);
/* Parses a non-negative decimal integer <= max. 0 or -1 (EINVAL/ERANGE). */
int sy_parse_uint(const char *s, uint64_t max, uint64_t *out);

/* Case-insensitive ASCII comparison of two strings (HTTP header names). */
int sy_strcaseeq(const char *a, const char *b);
/* 1 if the string vectors a[na] and b[nb] hold the same strings in the
 * same order. */
int sy_strv_equal(char *const *a, size_t na, char *const *b, size_t nb);
/* Formats a wait status: "exited with status 3", "killed by signal 11
 * (SIGSEGV)". Returns buf. */
const char *sy_wait_status(int status, char *buf, size_t size);
/* Frees n malloc'd strings and the vector holding them (v may be NULL). */
void sy_strv_free(char **v, size_t n);
/* Writes v as a protobuf base-128 varint at p (room for 10 bytes) and
 * returns its length: for fields appended to a packed message without
 * re-packing it (limits.c, kvops.c). */
size_t sy_pb_varint(uint8_t *p, uint64_t v);

#endif
