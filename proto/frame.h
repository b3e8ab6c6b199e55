/*
 * Length-prefixed framing spoken by every Switchyard process.
 *
 * Wire format (all integers big-endian, packed field by field):
 *   u32 len      payload bytes that follow, <= SY_FRAME_MAX
 *   u8  type     enum sy_msg
 *   u8  flags    SY_FLAG_*
 *   u16 reserved must be 0
 *   u32 stream   stream id (0 for channel-level messages such as HELLO)
 * The header is validated (length, type, reserved bits) before any payload
 * byte is looked at, and protobuf payloads are only unpacked from a frame
 * whose length has been checked.
 *
 * The library never logs and never exits: calls return -1 and set errno
 * (EMSGSIZE for an over-size frame, EPROTO for a malformed header, EAGAIN
 * when a non-blocking descriptor has no more data or room).
 */
#ifndef SY_FRAME_H
#define SY_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <protobuf-c/protobuf-c.h>

#include "buf.h"

#define SY_FRAME_HDR_LEN 12
/* Hard ceiling for one frame's payload. Bodies larger than this travel as
 * several REQ_BODY/RES_BODY frames, so body size is a configuration limit,
 * not a framing one. */
#define SY_FRAME_MAX (256u * 1024u)
/* Size of body chunks senders should produce. */
#define SY_BODY_CHUNK (64u * 1024u)
/* Version of the worker protocol, sent in Hello. */
#define SY_API_VERSION 1

enum sy_msg {
	SY_MSG_HELLO = 1,        /* worker -> supervisor: Hello */
	SY_MSG_REQUEST = 2,      /* Request; opens a stream */
	SY_MSG_REQ_BODY = 3,     /* raw request body bytes */
	SY_MSG_RESPONSE = 4,     /* Response on a stream the receiver opened */
	SY_MSG_RES_BODY = 5,     /* raw response body bytes */
	SY_MSG_CANCEL = 6,       /* empty: abandon the stream */
	SY_MSG_FORWARD = 7,      /* worker -> supervisor: Forward, on the
	                          * stream of the request it hands on (END) */
	SY_MSG_BODY_PULL = 8,    /* worker -> supervisor: empty, on the
	                          * stream of a request whose body the
	                          * supervisor holds: send it now */
	SY_MSG_CTL_REQUEST = 16, /* yardctl -> supervisor: CtlRequest */
	SY_MSG_CTL_RESPONSE = 17, /* supervisor -> yardctl: CtlResponse */
	SY_MSG_STATS_REQUEST = 20, /* router -> supervisor: empty */
	SY_MSG_STATS_RESPONSE = 21, /* supervisor -> router: Stats */
	SY_MSG_KV_REQUEST = 22,  /* worker -> supervisor: KvRequest */
	SY_MSG_KV_RESPONSE = 23, /* supervisor -> worker: KvResponse */
	SY_MSG_KV_VALUE = 24     /* raw bytes of a large KV value, on the
	                          * stream of its KV_REQUEST (put) or
	                          * KV_RESPONSE (get); the last flagged END */
};

/* A KV value up to this size travels inside its KvRequest or KvResponse
 * (one frame, with its key); a larger one in KV_VALUE frames of
 * SY_BODY_CHUNK bytes after it, so SY_FRAME_MAX bounds every frame. */
#define SY_KV_INLINE_MAX (200u * 1024u)

#define SY_FLAG_END 0x01   /* last frame of a request or response */
#define SY_FLAG_ABORT 0x02 /* the body producer died; drop the stream */
#define SY_FLAG_MASK (SY_FLAG_END | SY_FLAG_ABORT)

struct sy_frame {
	uint8_t type;
	uint8_t flags;
	uint32_t stream;
	uint32_t len;
	const uint8_t *payload; /* points into the reader; valid until the next
	                         * sy_reader_fill() or sy_reader_next() */
	int fd;                 /* descriptor passed with this frame, or -1;
	                         * owned by the caller once returned */
};

/* Returns 1 if type is a known enum sy_msg value. */
int sy_msg_known(uint8_t type);
/* Name of a frame type for error messages ("REQUEST"), never NULL. */
const char *sy_msg_name(uint8_t type);

/*
 * Reader: accumulates bytes from a descriptor and yields whole frames.
 * When pass_fds is 0, any descriptor that arrives in ancillary data is closed
 * at once (workers must never hand us descriptors).
 */
struct sy_reader {
	uint8_t *buf;
	size_t cap;
	size_t start; /* first unconsumed byte */
	size_t end;   /* one past the last byte read */
	int pass_fds; /* accept SCM_RIGHTS descriptors on this channel */
	int pending_fd; /* descriptor received, not yet attached to a frame */
	size_t fd_off;  /* buffer offset of the frame pending_fd came with */
};

/* Initialises r; pass_fds as above. Returns 0, or -1 (ENOMEM). */
int sy_reader_init(struct sy_reader *r, int pass_fds);
/* Frees the buffer and closes any pending descriptor; safe on a zeroed or
 * half-initialised reader, and safe to call twice. */
void sy_reader_free(struct sy_reader *r);
/*
 * Reads once from fd into r (retrying EINTR). Returns the number of bytes
 * read, 0 at end of file, or -1 with errno (EAGAIN: nothing available).
 */
ssize_t sy_reader_fill(struct sy_reader *r, int fd);
/*
 * Extracts the next whole frame from bytes already read. Returns 1 and fills
 * *f, 0 if more bytes are needed, or -1 with errno EMSGSIZE (len over
 * SY_FRAME_MAX) or EPROTO (unknown type, reserved bits, unknown flags). After
 * -1 the channel is unusable and must be closed.
 */
int sy_reader_next(struct sy_reader *r, struct sy_frame *f);
/* Feeds bytes from memory instead of a descriptor (tests, fuzzers).
 * Returns 0, or -1 (ENOMEM, or EMSGSIZE if more than one frame of slack). */
int sy_reader_feed(struct sy_reader *r, const void *buf, size_t len);

/*
 * Writer: an output queue of encoded frames, flushed when the descriptor
 * is writable. The queue never shrinks its allocation below its initial size,
 * so steady-state traffic does not return memory to the kernel per request.
 */
struct sy_writer {
	struct sy_buf q; /* the encoded frames not yet sent */
	int fd_out;   /* descriptor to attach to the next flush, or -1 (owned) */
	size_t fd_at; /* byte offset in q.data the descriptor travels with */
};

int sy_writer_init(struct sy_writer *w);
/* Frees the queue and closes a descriptor not yet sent; safe twice. */
void sy_writer_free(struct sy_writer *w);
/* Bytes queued and not yet written. */
size_t sy_writer_pending(const struct sy_writer *w);
/* Queues one frame whose payload is raw bytes. len <= SY_FRAME_MAX.
 * Returns 0, or -1 (EMSGSIZE, ENOMEM). */
int sy_writer_raw(struct sy_writer *w, uint8_t type, uint8_t flags,
                  uint32_t stream, const void *payload, size_t len);
/* Queues one frame whose payload is msg packed in place (no temporary
 * buffer). Returns 0, or -1 (EMSGSIZE if it packs larger than
 * SY_FRAME_MAX, ENOMEM). */
int sy_writer_msg(struct sy_writer *w, uint8_t type, uint8_t flags,
                  uint32_t stream, const ProtobufCMessage *msg);
/* Queues a frame header and reserves room for its payload, returning a
 * pointer to fill in (valid until the next writer call), or NULL. */
uint8_t *sy_writer_reserve(struct sy_writer *w, uint8_t type, uint8_t flags,
                           uint32_t stream, size_t len);
/* Hands fd to the writer: it is sent with the next frame queued (in a
 * sendmsg of its own, so the reader can tell which frame it belongs to) and
 * closed by the writer once sent. Only one may be pending.
 * Returns 0, or -1 (EBUSY). */
int sy_writer_attach_fd(struct sy_writer *w, int fd);
/*
 * Writes as much of the queue as fd accepts (retrying EINTR). Returns the
 * bytes still queued (0 when drained), or -1 with errno (EAGAIN is not an
 * error: it returns the remaining count instead).
 */
ssize_t sy_writer_flush(struct sy_writer *w, int fd);
/* Blocks until the whole queue is written to a blocking fd. 0 or -1. */
int sy_writer_flush_all(struct sy_writer *w, int fd);

/*
 * Blocking helper for simple clients (shim, yardctl): reads from fd until one
 * whole frame is available in r. Returns 1 with *f filled, 0 on clean end of
 * file before any partial frame, -1 with errno otherwise (EPROTO on end of
 * file inside a frame).
 */
int sy_frame_recv(int fd, struct sy_reader *r, struct sy_frame *f);

/* Encodes/decodes the 12-byte header. decode returns 0 or -1 (EPROTO). */
void sy_hdr_encode(uint8_t out[SY_FRAME_HDR_LEN], uint8_t type, uint8_t flags,
                   uint32_t stream, uint32_t len);
int sy_hdr_decode(const uint8_t in[SY_FRAME_HDR_LEN], struct sy_frame *f);

#endif
