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
#include "switchyard.pb-c.h"

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

/* Bindings a deploy declares (docs/security.md, "What a tenant can
 * reach"): the dispatch namespaces whose workers it may call, and its
 * service bindings, NAME=NS/WORKER. */
#define SY_MAX_DISPATCH_NS 8   /* dispatch namespaces per version */
#define SY_MAX_SERVICES 32     /* service bindings per version */
/* 1 if name[0, len) is a service binding's name, the NAME of
 * http://NAME.worker/: 1..63 of [A-Za-z0-9_-], starting with a letter or
 * digit. Names are compared without case, as host names are. */
int sy_service_name_valid(const char *name, size_t len);

/* Request.context: what a dispatch worker tells the worker it calls. */
#define SY_REQUEST_CONTEXT_FIELD 13 /* its number in switchyard.proto */
#define SY_CONTEXT_MAX 32          /* entries per request */
#define SY_CONTEXT_KEY_MAX 64      /* bytes of a key, NUL included */
#define SY_CONTEXT_VALUE_MAX 1024  /* bytes of a value */
#define SY_CONTEXT_BYTES 8192      /* keys and values of every entry */
/* 1 if key is a context key: 1..63 of [a-z0-9_.-], starting with a letter
 * or digit. key may be NULL (not valid). */
int sy_context_key_valid(const char *key);
/* 1 if value is a context value: at most SY_CONTEXT_VALUE_MAX bytes, no
 * control character (so it can become a header or a log line as it is).
 * value may be NULL (not valid). */
int sy_context_value_valid(const char *value);
/* NULL if the n entries of ctx (name: key, value: value) are a valid
 * context: at most SY_CONTEXT_MAX, each key and value valid, no key twice,
 * at most SY_CONTEXT_BYTES of keys and values; else why not. */
const char *sy_context_problem(Switchyard__Header *const *ctx, size_t n);

/* Forward (switchyard.proto): a dispatch worker's decision. */
#define SY_FORWARD_EDITS_MAX 64      /* entries of each list of edits */
#define SY_FORWARD_URL_MAX 8192      /* bytes of its url */
#define SY_FORWARD_CACHE_TTL_MAX 3600 /* seconds a decision may be reused */
#define SY_FORWARD_VARY_MAX 8        /* header names a cached one varies on */
/* NULL if fw is a Forward a worker may send: the target's names, an
 * origin-form url ("" or "/..." of visible ASCII), each list of edits at
 * most SY_FORWARD_EDITS_MAX HTTP tokens and field values, never a
 * Content-Length or Transfer-Encoding of the request set (the body is the
 * platform's), a valid context, a cache's ttl 1..SY_FORWARD_CACHE_TTL_MAX
 * and at most SY_FORWARD_VARY_MAX header names; else why not. */
const char *sy_forward_problem(const Switchyard__Forward *fw);

#endif
