/*
 * A framed, non-blocking channel to another process (the router, or one
 * worker process), registered in the supervisor's ev loop.
 *
 * Output is queued by peer_send_*() and written by peer_flush_all(), which
 * every event callback of the supervisor runs before it returns (sup_settle),
 * so the frames one event produces leave in one write per peer. A peer whose
 * queue cannot take a frame, or grows past its bound, is failed from
 * peer_flush_all(), never from inside peer_send_*(): callers may keep using
 * their calls and processes after a send.
 *
 * Flow control: a worker relaying a body to a peer whose queue is long is
 * paused (its channel is not read) until that queue drains.
 */
#ifndef SY_PEER_H
#define SY_PEER_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

enum peer_kind { PEER_ROUTER, PEER_WORKER };

struct proc;

struct peer {
	int fd;                  /* -1 when closed */
	enum peer_kind kind;
	struct proc *proc;       /* PEER_WORKER: the process at the other end */
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

/* Takes over fd (made non-blocking) and watches it. 0, or -1 with errno;
 * on failure fd is closed and the peer is closed. */
int peer_open(struct peer *p, int fd, enum peer_kind kind, struct proc *proc,
              size_t out_max);
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

/* Frame handlers, one per peer kind: a flat switch on the frame type. */
void router_dispatch(struct peer *p, const struct sy_frame *f);
void worker_dispatch(struct proc *proc, const struct sy_frame *f);

#endif
