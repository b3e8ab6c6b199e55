/*
 * The naming rules of the wire: what a deploy, a secret, a subrequest or a
 * KV request may name. yardctl checks with them before it sends, the
 * supervisor decides with them, the shim refuses with them before it asks.
 * Pure functions: they never allocate or log.
 */
#ifndef SY_NAMES_H
#define SY_NAMES_H

#include <stddef.h>

#include "kv_wire.h"

/* Bytes of a namespace, worker, plan or KV namespace name, NUL included
 * (sy_valid_name). */
#define SY_NAME_MAX 64
/* Bytes of an environment variable's name (deploy --env, secrets). */
#define SY_ENV_KEY_MAX 128
/* A "KEY=VALUE" environment entry, given at deploy or as a secret, is
 * shorter than this: at most 8191 bytes. */
#define SY_ENV_ENTRY_MAX 8192
/* Tags per worker (deploy --tag), as Cloudflare. */
#define SY_MAX_TAGS 8
/* Bytes of one tag. */
#define SY_TAG_MAX 64

/* Characters of a request id (Request.request_id): lowercase hex digits,
 * the router's 64-bit number, which the client sees in the
 * Switchyard-Request-Id header and operators look up in events and logs. */
#define SY_REQUEST_ID_LEN 16

/* 1 if s is a namespace, worker, plan or KV namespace name: 1..63 of
 * [a-z0-9_-], starting with a letter or digit. s may be NULL (not
 * valid). */
int sy_valid_name(const char *s);
/* 1 if name[0, len) is an environment variable's name: 1..SY_ENV_KEY_MAX
 * of [A-Za-z0-9_], not starting with a digit. */
int sy_env_key_valid(const char *name, size_t len);
/* 1 if tag is a tag: 1..SY_TAG_MAX of [A-Za-z0-9_.:-]. */
int sy_tag_valid(const char *tag);
/* 1 if name[0, len) is a KV binding's name (what a worker passes to
 * ws_kv_*): 1..63 of [A-Za-z0-9_]. */
int sy_kv_binding_valid(const char *name, size_t len);
/* 1 if key[0, len) is a KV key: 1..SY_KV_KEY_MAX bytes, no NUL. key may
 * be NULL (not valid). */
int sy_kv_key_valid(const char *key, size_t len);
/* 1 if id[0, len) is a request id: exactly SY_REQUEST_ID_LEN of
 * [0-9a-f]. id may be NULL (not valid). */
int sy_request_id_valid(const char *id, size_t len);

#endif
