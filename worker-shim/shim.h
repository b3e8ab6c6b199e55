/*
 * shim.h: libworkershim's internals, shared by its files and never installed.
 * Tenants see only workershim.h.
 *
 * Memory: every buffer below keeps its allocation when reset, so a worker in
 * steady state serves requests without growing or returning memory (page
 * faults are the dominant per-request cost of a fresh allocation). Only
 * buffers grown past SHIM_KEEP_MAX are given back at reset.
 */
#ifndef SHIM_H
#define SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "frame.h"
#include "names.h"
#include "switchyard.pb-c.h"
#include "workershim.h"

/* The descriptor the platform hands every worker. */
#define SHIM_FD 3
/* Largest request or subrequest response body the shim accepts. */
#define SHIM_BODY_MAX (1024u * 1024u * 1024u)
/* Buffers larger than this are freed at reset instead of kept. */
#define SHIM_KEEP_MAX (4u * 1024u * 1024u)

/* ---- headers.c: header lists, HTTP syntax ----
 * Byte buffers are lib/buf.h's: the shim never consumes from one, so
 * start is 0, end is the length and offsets from data stay valid. They
 * are emptied with sy_buf_reset(b, SHIM_KEEP_MAX). sy_buf_* fail with -1,
 * which the API reports as WS_ENOMEM. */

/* A header is two NUL-terminated strings in the list's pool, named by
 * offset so that the pool can move when it grows. */
struct ws_hdr {
	size_t name, value;
};

struct ws_hdrs {
	struct ws_hdr *v;
	int n, cap;
	struct sy_buf pool;
};

/* 1 if s is a non-empty HTTP token (method or header name):
 * sy_http_token. */
int ws_is_token(const char *s);
/* 1 if s may be a header value: no CR or LF (looser than
 * sy_http_value: see headers.c). */
int ws_is_value(const char *s);

const char *hdrs_name(const struct ws_hdrs *h, int i);
const char *hdrs_value(const struct ws_hdrs *h, int i);
/* Index of the first header called name, or -1. */
int hdrs_find(const struct ws_hdrs *h, const char *name);
/* Appends name: value without checking them. name and value may point into
 * h's own pool. 0 or WS_ENOMEM. */
int hdrs_add(struct ws_hdrs *h, const char *name, const char *value);
/* Replaces every header called name with one, where the first one was.
 * 0 or WS_ENOMEM. */
int hdrs_set(struct ws_hdrs *h, const char *name, const char *value);
/* Removes every header called name. 0, or WS_ENOTFOUND if none. */
int hdrs_del(struct ws_hdrs *h, const char *name);
/* Checks name and value (WS_EINVAL) before hdrs_add/hdrs_set. */
int hdrs_add_checked(struct ws_hdrs *h, const char *name, const char *value);
int hdrs_set_checked(struct ws_hdrs *h, const char *name, const char *value);
int hdrs_at(const struct ws_hdrs *h, int i, const char **name,
            const char **value);
void hdrs_reset(struct ws_hdrs *h);
void hdrs_free(struct ws_hdrs *h);

/* ---- request.c ---- */

struct ws_request {
	/* "method\0url\0path\0query\0"; method always at offset 0 */
	struct sy_buf line;
	size_t url, path, query;
	struct ws_hdrs hdrs;
	struct ws_hdrs ctx; /* Request.context: key -> value */
	struct sy_buf body;
	char remote[64]; /* the client's "ip:port" from the router, or "" */
	int shim_owned; /* the handler's request: ws_request_free ignores it */
	/* The handler's request only: what a forward must tell the platform
	 * (forward.c). */
	struct ws_hdrs touched; /* header names set or deleted (values "") */
	int url_set;            /* ws_req_set_url was called */
	int body_set;           /* ws_req_set_body was called */
	int body_held;          /* the platform holds the body (body_held) */
};

void req_init(struct ws_request *req);
/* The body of the handler's request, pulled from the platform if it holds
 * it (BODY_PULL) and not pulled yet. 0, or a WS_E* code. */
int req_pull_body(struct ws_request *req);
void req_reset(struct ws_request *req);
void req_release(struct ws_request *req);
/* Fills an empty req from a Request the supervisor sent, validating every
 * field. 0, WS_EINVAL or WS_ENOMEM. */
int req_from_pb(struct ws_request *req, const Switchyard__Request *pb);

/* ---- response.c ---- */

struct ws_response {
	int status; /* 0: never set, i.e. 200 */
	struct ws_hdrs hdrs;
	struct sy_buf body;
	int shim_owned;
};

void res_init(struct ws_response *res);
void res_reset(struct ws_response *res);
void res_release(struct ws_response *res);

/* ---- channel.c: the framed socket to the supervisor ---- */

enum chan_state { CHAN_CLOSED, CHAN_OPEN, CHAN_EOF, CHAN_BROKEN };

struct shim_chan {
	int fd;
	enum chan_state state;
	struct sy_reader rd;
	struct sy_writer wr;
	/* The request being handled, if in_handler; being served (from its
	 * REQUEST to its answer), if serving. */
	int in_handler, serving;
	uint32_t stream;
	char rid[SY_REQUEST_ID_LEN + 1]; /* its id (Request.request_id) or "":
	                                  * on ws_dispatch's error pages */
	int canceled;           /* the supervisor sent CANCEL for it */
	/* Its limits, as the supervisor told them (has_limits), and where
	 * the clocks stood when the handler began: */
	int has_limits;
	ws_limits lim;
	uint64_t cpu0_ns, wall0_ns;
	uint32_t sub_used;      /* ws_dispatch calls made */
	struct ws_forwarding *forward; /* ws_forward asked for, or NULL */
	uint32_t next_sub;      /* next stream id for a subrequest */
	/* Scratch space for packing header lists, kept between frames. */
	Switchyard__Header *pbh;
	Switchyard__Header **pbhp;
	size_t pbh_cap;
};

extern struct shim_chan shim_chan;

/* Adopts fd as the channel. 0 or WS_EIO. */
int chan_open(int fd);
void chan_close(void);
/* Next frame: 1, 0 at end of file, or WS_EIO. Marks the channel. While
 * a request is served, frames of the requests after it are kept for
 * later (later.c) and handed out once it is answered. */
int chan_recv(struct sy_frame *f);
/* Reads, without waiting, what the supervisor already sent: 1 if that
 * includes a CANCEL of the request being handled (or one came before),
 * else 0; WS_EIO if the channel broke. */
int chan_poll_cancel(void);
/* 1 if f answers a subrequest abandoned earlier (and is to be dropped). */
int chan_stale(const struct sy_frame *f, uint32_t waiting);
int chan_send_hello(void);
int chan_send_response(uint32_t stream, const struct ws_response *res);
int chan_send_exception(uint32_t stream);
int chan_send_request(uint32_t stream, const struct ws_request *req,
                      const char *ns, const char *worker,
                      const ws_limits *lim);
/* ws_fetch: req (its URL absolute) as a Request with `fetch` set. */
int chan_send_fetch(uint32_t stream, const struct ws_request *req);
int chan_send_cancel(uint32_t stream);
/* BODY_PULL for stream: the held body of the request being served. */
int chan_send_body_pull(uint32_t stream);
/* The Forward fw of the request being served, on its stream. */
int chan_send_forward(uint32_t stream, const Switchyard__Forward *fw);

/* ---- later.c: frames of the requests after the one being served ---- */

/* 1 if f, read while the request on stream `serving` is served, is for
 * a request after it (its REQUEST, or the body or CANCEL of one whose
 * REQUEST waits here). */
int later_belongs(const struct sy_frame *f, uint32_t serving);
/* Keeps a copy of f for later. 0 or WS_ENOMEM. */
int later_keep(const struct sy_frame *f);
/* The oldest frame kept that may be handed out now into *f (any: between
 * requests, the oldest of all; else the oldest that is not another
 * request's): 1, or 0 if none. *f stays valid until the next call. */
int later_take(struct sy_frame *f, int any, uint32_t serving);
/* 1 if a CANCEL for stream waits here. */
int later_canceled(uint32_t stream);
void later_free(void);

/* ---- serve.c ---- */

/* Reads REQ_BODY frames for stream until END into req's body (kept whole
 * up to SHIM_BODY_MAX; past it or out of memory, *refused is set and the
 * rest drained). *canceled when the supervisor canceled the request.
 * 0, WS_EIO, or 0 with *eof when the channel closed. */
int serve_read_body(uint32_t stream, struct ws_request *req, int *refused,
                    int *canceled, int *eof);

/* ---- forward.c ---- */

/* A forward the handler asked for (ws_forward), sent once it returns 0:
 * 0 when none, else chan_send_forward's result. Frees it either way. */
int forward_finish(uint32_t stream, struct ws_request *req, int send);

/* ---- kv.c: the read cache of ws_kv_get (docs/kv.md) ---- */

/* A request starts: gens is its Request.kv_gens (a packed KvGens; empty:
 * nothing is cached for it), the generations its gets may be answered
 * from the cache under. */
void kv_cache_begin(const ProtobufCBinaryData *gens);
/* The request ended: gets outside a request are never cached. */
void kv_cache_end(void);
/* Frees every entry (ws_serve is returning). */
void kv_cache_free(void);

/* ---- dispatch.c ---- */

/* clock_gettime(id) in nanoseconds; 0 if it fails. */
uint64_t shim_clock_ns(clockid_t id);

#endif
