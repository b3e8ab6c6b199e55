/*
 * A framed, non-blocking channel to another process (the router, or one
 * worker process), registered in an ev loop. The transport only moves
 * frames: each peer is opened with the operations of whoever owns it, which
 * get every whole frame it reads and hear when it breaks, as OpenBSD's
 * proc.c hands each imsg to its role's callback. Nothing here knows what
 * a frame means.
 *
 * Output is queued by peer_send_*() and written by peer_flush_all(), which
 * the loop runs once per turn before it sleeps (serve_settle), so the
 * frames one turn produces leave in one write per peer. A peer whose queue
 * cannot take a frame, or grows past its bound, is failed from
 * peer_flush_all(), never from inside peer_send_*(): callers may keep using
 * their calls and processes after a send.
 *
 * Flow control: a producer relaying a body to a peer whose queue is long is
 * paused (its channel is not read) until that queue drains.
 */
#ifndef SY_SERVE_PEER_H
#define SY_SERVE_PEER_H

#include <stddef.h>
#include <stdint.h>

#include "ev.h"
#include "frame.h"

struct peer;

/* What the owner of a peer is told. */
struct peer_ops {
	/* A whole frame arrived; the owner may close the peer. */
	void (*frame)(struct peer *p, const struct sy_frame *f);
	/* The channel failed: err is the errno (0: end of file; ENOBUFS:
	 * its queue outgrew out_max; EMSGSIZE, EPROTO: a malformed frame),
	 * why says it for a log. The owner closes the peer. */
	void (*broken)(struct peer *p, int err, const char *why);
	/* The peer was closed (peer_close); may be NULL. */
	void (*closed)(struct peer *p);
};

struct peer {
	int fd;                  /* -1 when closed */
	struct ev_loop *loop;
	const struct peer_ops *ops;
	void *owner;             /* the owner's object, or NULL */
	struct sy_reader rd;
	struct sy_writer wr;
	size_t out_max;          /* queued bytes that fail the peer; 0: none */
	int failed;              /* errno that will fail the peer, or 0 */
	int reading;             /* EPOLLIN watched (not paused) */
	int writing;             /* EPOLLOUT watched */
	struct peer *dirty_next; /* on the flush list */
	int dirty;
	struct peer *paused;     /* producers waiting for this peer to drain */
	struct peer *paused_next;
	struct peer *paused_on;  /* the peer this one waits for, or NULL */
};

/* Takes over fd (made non-blocking) and watches it in loop for owner, whose
 * ops are kept. 0, or -1 with errno; on failure fd is closed and the peer
 * is closed. */
int peer_open(struct peer *p, struct ev_loop *loop, int fd,
              const struct peer_ops *ops, void *owner, size_t out_max);
/* Stops watching and closes the channel, dropping queued output. Safe on a
 * closed peer. */
void peer_close(struct peer *p);
static inline int peer_is_open(const struct peer *p)
{
	return p->fd >= 0;
}

/* Queue one frame (see the top of this file for failures). */
void peer_send_raw(struct peer *p, uint8_t type, uint8_t flags,
                   uint32_t stream, const void *payload, size_t len);
void peer_send_msg(struct peer *p, uint8_t type, uint8_t flags,
                   uint32_t stream, const ProtobufCMessage *msg);

/* Stops reading src until sink's queue is short again, if it is long now. */
void peer_throttle(struct peer *src, struct peer *sink);

/* Writes every peer with queued output, and fails the peers that must be. */
void peer_flush_all(void);

#endif
