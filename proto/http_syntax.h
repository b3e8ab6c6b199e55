/*
 * What a method, a header name and a header value may be on every wire
 * Switchyard speaks: from clients through the router, between workers and
 * the supervisor, and out to origins by fetch. A value with a CR or LF
 * would let its sender inject a header or a second message, so the router
 * and the supervisor refuse every control character but HTAB.
 *
 * The shim's check of a value a tenant passes (ws_is_value,
 * worker-shim/headers.c) is looser: it refuses CR and LF only.
 */
#ifndef SY_HTTP_SYNTAX_H
#define SY_HTTP_SYNTAX_H

#include <stddef.h>

/* 1 if s[0, len) is a non-empty RFC 9110 token (a method or a header
 * name): A-Z a-z 0-9 and !#$%&'*+-.^_`|~ only. */
int sy_http_token(const char *s, size_t len);
/* 1 if s[0, len) may be a header value: no control character but HTAB,
 * so no CR, LF, NUL or DEL; bytes 0x80-0xff pass (RFC 9110 obs-text). An
 * empty value is valid. */
int sy_http_value(const char *s, size_t len);
/* 1 if s[0, len) is a Host header's value (RFC 9110 7.2: uri-host
 * [":" port]): a reg-name of unreserved, sub-delims and %HH, or an
 * IP-literal in brackets, then optionally ':' and at most 5 digits. Never
 * userinfo ('@'), a path or whitespace. The empty value is valid (a
 * request whose target has no authority sends "Host:"). */
int sy_http_host(const char *s, size_t len);

#endif
