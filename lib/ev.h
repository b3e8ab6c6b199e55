/*
 * A small epoll event loop with millisecond timers, shaped like Redis's ae:
 * descriptors with a callback each, one-shot timers kept in a binary heap,
 * and a monotonic clock cached once per iteration.
 *
 * The loop never logs. Callbacks may add or delete descriptors and timers,
 * including their own, at any time: a deleted descriptor's pending events in
 * the current batch are skipped.
 */
#ifndef SY_EV_H
#define SY_EV_H

#include <stdint.h>
#include <sys/epoll.h>

struct ev_loop;

/* events: EPOLLIN / EPOLLOUT / EPOLLERR / EPOLLHUP bits as reported. */
typedef void ev_io_fn(struct ev_loop *loop, int fd, uint32_t events, void *arg);
typedef void ev_timer_fn(struct ev_loop *loop, void *arg);

/* maxfds bounds the descriptor numbers the loop accepts (table size).
 * Returns NULL with errno on failure. */
struct ev_loop *ev_new(int maxfds);
/* Frees the loop; registered descriptors are not closed. Accepts NULL. */
void ev_free(struct ev_loop *loop);

/* Watches fd for events (EPOLLIN and/or EPOLLOUT). 0, or -1 with errno
 * (EBADF if fd >= maxfds, EEXIST if already watched). */
int ev_add(struct ev_loop *loop, int fd, uint32_t events, ev_io_fn *fn,
           void *arg);
/* Changes the watched events of fd. 0 or -1 with errno. */
int ev_mod(struct ev_loop *loop, int fd, uint32_t events);
/* Stops watching fd (call before closing it). 0 or -1 (ENOENT). */
int ev_del(struct ev_loop *loop, int fd);

/* Calls fn(arg) once, after ms milliseconds. Returns a timer id > 0, or 0
 * with errno ENOMEM. */
uint64_t ev_timer_add(struct ev_loop *loop, uint64_t ms, ev_timer_fn *fn,
                      void *arg);
/* Cancels a pending timer; unknown or fired ids are ignored. */
void ev_timer_del(struct ev_loop *loop, uint64_t id);

/* Calls fn(loop, arg) before each wait for events, after the callbacks and
 * timers of the previous turn: the place to write what a turn queued, once
 * (Redis's beforeSleep). fn may call ev_stop. NULL removes it. */
void ev_set_before_sleep(struct ev_loop *loop, ev_timer_fn *fn, void *arg);

/* Runs until ev_stop. Returns 0, or -1 with errno if epoll_wait fails. */
int ev_run(struct ev_loop *loop);
/* How many times the loop has woken up: what was read during one turn
 * may be reused until the next (a clock that costs a system call). */
uint64_t ev_turn(const struct ev_loop *loop);
void ev_stop(struct ev_loop *loop);

/* Monotonic milliseconds, cached at the start of each loop iteration. */
uint64_t ev_now_ms(struct ev_loop *loop);
/* Monotonic microseconds read now (not cached). */
uint64_t ev_clock_us(void);

#endif
