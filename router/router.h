/*
 * Contracts between the router's modules. The router is one unprivileged,
 * single-threaded process around one ev_loop: it speaks HTTP/1.1 to clients
 * and frames to the supervisor over one channel (fd 3). Each block names the
 * file that implements it.
 *
 * A client connection carries at most one request in flight: the parser is
 * paused once a request is complete and resumed only after its response has
 * been queued, which keeps pipelined responses in order without bookkeeping.
 *
 * A request goes to the supervisor only once the router holds all of it,
 * body included (body.c), as nginx buffers by default: no worker process
 * ever waits on a slow client.
 */
#ifndef SY_ROUTER_H
#define SY_ROUTER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <llhttp.h>

#include "buf.h"
#include "ev.h"
#include "names.h"
#include "switchyard.pb-c.h"

#define ROUTER_MAX_LISTEN 16
/* A client whose unsent output passes this is not read (nor its pipelined
 * requests started) until it catches up. */
#define ROUTER_OUT_HIGH (1024u * 1024u)
/* Headers per request; more is answered 431 like an over-long head. */
#define REQUEST_MAX_FIELDS 512
/* The response header that names the request (request.c). */
#define REQUEST_ID_HEADER "Switchyard-Request-Id"

/* ---- config.c: command-line flags ---- */

struct router_config {
	int upstream_fd;               /* channel to the supervisor */
	int listen_fds[ROUTER_MAX_LISTEN];
	size_t nlisten;
	int admin_fd;                  /* admin listener, or -1 */
	const char *user;              /* drop to this user; NULL: none given */
	uint64_t max_header_bytes;     /* request line + headers (431 over) */
	uint64_t max_body_bytes;       /* request body (413 over) */
	/* Of a request body, kept in memory; the rest in a file in body_dir */
	uint64_t client_body_buffer_bytes;
	uint64_t header_timeout_ms;    /* whole head must arrive within (408) */
	uint64_t body_timeout_ms;      /* whole body must arrive within, from
	                                * the end of the head (408) */
	const char *body_dir;          /* where bodies over body_buffer_bytes
	                                * are kept, in unnamed files */
	uint64_t idle_timeout_ms;      /* keep-alive idle / stalled transfer */
	uint64_t max_connections;      /* further connections get 503 */
	int log_level;                 /* SY_LOG_* */
};

/* Fills cfg from argv. Returns 0, or -1 with a reason in err (usage). */
int config_parse(struct router_config *cfg, int argc, char *argv[], char *err,
                 size_t errlen);
void config_usage(const char *prog);

/* ---- privdrop.c ---- */

/* Becomes user (if given and running as root) and makes sure root cannot be
 * regained; refuses to go on as root. Fatal on any failure. */
void privdrop(const char *user);

/* ---- conn.c: client connections ---- */

/* Appends to a buffer (lib/buf.h); fatal on out of memory (the router
 * holds no state worth saving that a restart would not rebuild). */
void buf_add(struct sy_buf *b, const void *p, size_t n);
void buf_addstr(struct sy_buf *b, const char *s);
void buf_adduint(struct sy_buf *b, uint64_t v);

enum req_state {
	REQ_HEAD, /* reading the request line and headers */
	REQ_BODY, /* head read, its body arriving into c->body */
	REQ_DONE  /* whole request read and sent upstream; parser paused */
};

enum res_state {
	RES_NONE, /* no request yet */
	RES_WAIT, /* waiting for the RESPONSE frame */
	RES_BODY, /* head queued, body frames arriving */
	RES_DONE  /* response complete */
};

enum tlist {
	TL_NONE = -1, TL_HEADER, TL_BODY, TL_IDLE, TL_LINGER, TL_COUNT
};

/* One header of the request being read: offsets into head.data. */
struct hfield {
	uint32_t name, name_len, value, value_len;
	uint32_t hop;           /* hop-by-hop: never passed to a worker */
};

/* The request head, copied out of the input buffer as llhttp hands it over
 * (its spans may straddle reads). Strings are NUL-terminated in data. */
struct head {
	char *data;
	size_t len, cap;
	uint32_t url, url_len;
	struct hfield *fields;
	size_t nfields, capfields;
	uint64_t raw;           /* approximate wire bytes of the head so far */
	int in_field;           /* inside a header name */
	int in_value;           /* inside a header value */
	/* obs-fold detection: a value continued after its span ended before
	 * the end of the bytes being parsed, i.e. at a line end */
	const char *feed_end;   /* end of the bytes llhttp is parsing */
	int value_cut;          /* the last value span ended at feed_end */
	/* The Host a worker sees when the target was in absolute form
	 * (request.c): offset into data, or UINT32_MAX to keep the field. */
	uint32_t host, host_len;
};

/* A request body while it arrives and until it has gone upstream
 * (body.c): its first client_body_buffer_bytes in memory, the rest in a
 * file that has no name (O_TMPFILE), so nothing is left if the router
 * dies. */
struct body {
	struct sy_buf mem;
	int fd;                 /* the file, or -1 */
	uint64_t len;           /* bytes held */
	uint64_t sent;          /* bytes sent upstream */
};

struct conn {
	int fd;
	uint32_t slot;          /* index in the connection table */
	uint32_t gen;           /* per-slot stream generation */
	uint32_t stream;        /* open upstream stream, or 0 */
	uint32_t events;        /* epoll events currently watched */
	struct sy_buf in, out;
	llhttp_t parser;
	struct head head;
	enum req_state req;
	enum res_state res;
	uint64_t nreq;          /* requests started on this connection */
	struct body body;
	uint64_t res_left;      /* response body bytes still to come */
	uint64_t head_fed;      /* bytes fed to llhttp while in REQ_HEAD */
	char rid[SY_REQUEST_ID_LEN + 1]; /* the request's id; "" until the
	                        * first byte of a request or its answer */
	int err_status;         /* status a callback asked to answer with */
	const char *err_text;
	uint8_t method;         /* llhttp's, of the request being read */
	unsigned keepalive : 1;
	unsigned is_head : 1;   /* HEAD request: no body bytes in the answer */
	unsigned no_body : 1;   /* body bytes are dropped (HEAD, 204, 304) */
	unsigned chunked : 1;   /* its body came chunked */
	unsigned body_up : 1;   /* request body still to go upstream */
	unsigned closing : 1;   /* no more requests; close once out drains */
	unsigned wshut : 1;     /* write side shut down: lingering */
	unsigned rdeof : 1;     /* the client shut its side down */
	unsigned http10 : 1;    /* HTTP/1.0 request */
	unsigned reject : 1;    /* over the connection limit */
	unsigned in_use : 1;
	unsigned dirty : 1;     /* on the flush list */
	unsigned up_blocked : 1;/* body waits for upstream congestion */
	enum tlist tlist;
	uint64_t deadline;      /* ms, for the list it is on */
	TAILQ_ENTRY(conn) tq;   /* timeout list */
	TAILQ_ENTRY(conn) dq;   /* flush list */
	struct conn *free_next;
	char remote[64];        /* "ip:port" */
};

/* Sets up the table for the configured connection limit. Fatal on error. */
void conn_init(void);
/* Closes every connection and frees the pool. */
void conn_cleanup(void);
/* Starts accepting on a listening socket. Fatal on error. */
void conn_listen(int fd);
/* The connection whose open stream is id, or NULL (finished, canceled). */
struct conn *conn_by_stream(uint32_t id);
/* Gives c a fresh stream id, unique among open streams. */
uint32_t conn_stream_open(struct conn *c);
/* Queues c to be flushed once the current batch of frames is handled. */
void conn_mark_dirty(struct conn *c);
void conn_flush_dirty(void);
/* Answers status with a short text body (unless a response has started),
 * cancels the open stream and closes once written. */
void conn_fail(struct conn *c, int status, const char *text);
/* Drops c at once (after one best-effort write of what is queued),
 * canceling its open stream. c is invalid afterwards, as after conn_fail. */
void conn_abort(struct conn *c);
/* The response half is complete: start the next request or close. May
 * close c. */
void conn_response_done(struct conn *c);
/* The supervisor is gone: 502 for every request still waiting. */
void conn_upstream_lost(void);
/* c's body waits for the upstream queue to drain (on), or not (off). */
void conn_upstream_wait(struct conn *c, int on);
/* The upstream queue drained: send the bodies that waited for it. */
void conn_upstream_drained(void);
/* Recomputes the watched events and timeout after a state change. */
void conn_update(struct conn *c, int progress);

/* ---- http.c: llhttp glue ---- */

void http_init(void);
/* Prepares c's parser and head storage; 0 or -1 (ENOMEM). */
int http_conn_init(struct conn *c);
void http_conn_free(struct conn *c);
/* Starts a fresh parser for a new connection. */
void http_conn_reset(struct conn *c);
/* Resets per-request state and resumes the paused parser. */
void http_next(struct conn *c);
/* Parses buffered input as far as state allows. Returns -1 if c was closed
 * (the pointer is then invalid), else 0. */
int http_parse(struct conn *c);

/* ---- request.c: the request a worker sees ---- */

/* Seeds the request ids (before the seccomp filter). Fatal on error. */
void request_init(void);
/* A fresh request id, for an answer that belongs to no request. */
void request_id_new(char id[SY_REQUEST_ID_LEN + 1]);
/* c's current request's id, made on first use (c->rid). */
const char *request_id(struct conn *c);
/* Checks the complete head as RFC 9112 asks (one valid Host, required
 * when host_required: HTTP/1.1; a path, "*" or an absolute http(s)
 * target) and prepares what the worker sees of it (the target's path and
 * authority, hop-by-hop fields marked). NULL, or why it is a 400. */
const char *request_head(struct conn *c, int host_required);
/* 1 if the head asks for 100 Continue before its body. */
int request_expects_continue(const struct conn *c);
/* c's whole request is read: sends its REQUEST on a fresh stream, then
 * its body as far as upstream takes it. Returns -1 if c was failed (and
 * may be closed: the pointer is then invalid), else 0. */
int request_start(struct conn *c);

/* ---- body.c: request bodies, held whole before they go upstream ---- */

/* Opens body_dir and checks it takes unnamed files (before the seccomp
 * filter, after the privilege drop). Fatal on error. */
void body_init(void);
void body_cleanup(void);
/* Appends len bytes to c's body: memory first, then the file. 0, or -1
 * when the file cannot be made or written (logged). */
int body_add(struct conn *c, const char *p, size_t len);
/* Sends c's body upstream on its stream until it is all gone (the last
 * frame END; 1) or upstream is congested (0; conn_upstream_drained
 * resumes it). -1 if the file cannot be read (logged). */
int body_pump(struct conn *c);
/* Forgets c's body: the file is closed, the memory given back. */
void body_release(struct conn *c);

/* ---- upstream.c: the channel to the supervisor ---- */

void upstream_init(int fd);
void upstream_cleanup(void);
/* Queue frames; flushed at the end of the current loop iteration. Fatal on
 * out of memory. */
void upstream_request(uint32_t stream, const Switchyard__Request *req,
                      int end);
void upstream_body(uint32_t stream, const char *p, size_t len, int end);
void upstream_cancel(uint32_t stream);
/* A fetch's answer (egress.c), on a stream the supervisor opened. */
void upstream_response(uint32_t stream, const Switchyard__Response *res,
                       int end);
void upstream_res_body(uint32_t stream, const void *p, size_t len, int end);
/* 1 when so much is queued that clients should stop sending bodies. */
int upstream_congested(void);

/* ---- response.c: responses to clients ---- */

/* Handles a RESPONSE frame for c: validated, serialised into c->out. A
 * frame out of sequence is a protocol error: -1 with a reason in err. */
int response_start(struct conn *c, const Switchyard__Response *res, int end,
                   char *err, size_t errlen);
/* Handles a RES_BODY frame for c; may close c. -1 as above. */
int response_body(struct conn *c, const uint8_t *p, size_t len, uint8_t flags,
                  char *err, size_t errlen);
/* Queues a platform response with Connection: close. retry_after 0: none. */
void response_error(struct conn *c, int status, const char *body,
                    unsigned retry_after);
void response_continue(struct conn *c);

/* ---- admin.c: the admin listener (/ping, /status, /metrics) ----
 * Answered by the router itself from the supervisor's counters; never
 * forwarded to a worker. */

struct sy_frame;

/* Starts accepting on the admin socket. Fatal on error. */
void admin_init(int fd);
void admin_cleanup(void);
/* A STATS_RESPONSE frame from the supervisor. -1 with err if malformed. */
int admin_stats(const struct sy_frame *f, char *err, size_t errlen);
/* The supervisor is gone: waiting admin requests get 502. */
void admin_upstream_lost(void);

/* ---- upstream.c ---- */

/* Asks the supervisor for its counters (answered by STATS_RESPONSE). */
void upstream_stats(uint32_t stream);

/* ---- main.c ---- */

struct router {
	struct router_config cfg;
	struct ev_loop *loop;
	int exit_code;
};

extern struct router router;

/* Stops the loop; main cleans up and exits with code. */
void router_stop(int code);

#endif
