#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ev.h"

struct ev_io {
	ev_io_fn *fn;
	void *arg;
	uint32_t events;
	int active;
};

struct ev_timer {
	uint64_t when; /* monotonic ms */
	uint64_t id;
	ev_timer_fn *fn;
	void *arg;
};

struct ev_loop {
	int epfd;
	int maxfds;
	struct ev_io *io;      /* indexed by fd */
	struct ev_timer *heap; /* min-heap on (when, id) */
	size_t ntimers, captimers;
	uint64_t next_id;
	uint64_t now_ms;
	int stop;
	uint64_t turns;        /* epoll_wait returns so far */
	ev_timer_fn *before_sleep;
	void *before_sleep_arg;
};

#define EV_BATCH 128

static uint64_t clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t ev_clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

struct ev_loop *ev_new(int maxfds)
{
	struct ev_loop *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->io = calloc((size_t)maxfds, sizeof(*l->io));
	if (l->epfd < 0 || l->io == NULL) {
		ev_free(l);
		return NULL;
	}
	l->maxfds = maxfds;
	l->now_ms = clock_ms();
	return l;
}

void ev_free(struct ev_loop *l)
{
	if (l == NULL)
		return;
	if (l->epfd >= 0)
		close(l->epfd);
	free(l->io);
	free(l->heap);
	free(l);
}

int ev_add(struct ev_loop *l, int fd, uint32_t events, ev_io_fn *fn, void *arg)
{
	struct epoll_event ee = { .events = events, .data.fd = fd };

	if (fd < 0 || fd >= l->maxfds) {
		errno = EBADF;
		return -1;
	}
	if (l->io[fd].active) {
		errno = EEXIST;
		return -1;
	}
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ee) < 0)
		return -1;
	l->io[fd] = (struct ev_io){ fn, arg, events, 1 };
	return 0;
}

int ev_mod(struct ev_loop *l, int fd, uint32_t events)
{
	struct epoll_event ee = { .events = events, .data.fd = fd };

	if (fd < 0 || fd >= l->maxfds || !l->io[fd].active) {
		errno = ENOENT;
		return -1;
	}
	if (l->io[fd].events == events)
		return 0;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ee) < 0)
		return -1;
	l->io[fd].events = events;
	return 0;
}

int ev_del(struct ev_loop *l, int fd)
{
	if (fd < 0 || fd >= l->maxfds || !l->io[fd].active) {
		errno = ENOENT;
		return -1;
	}
	l->io[fd].active = 0;
	l->io[fd].fn = NULL;
	/* The descriptor may already be closed by a careless caller; the
	 * table entry is what decides whether callbacks run. */
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	return 0;
}

static int timer_less(const struct ev_timer *a, const struct ev_timer *b)
{
	return a->when < b->when || (a->when == b->when && a->id < b->id);
}

static void heap_swap(struct ev_loop *l, size_t i, size_t j)
{
	struct ev_timer t = l->heap[i];

	l->heap[i] = l->heap[j];
	l->heap[j] = t;
}

static void heap_up(struct ev_loop *l, size_t i)
{
	while (i > 0 && timer_less(&l->heap[i], &l->heap[(i - 1) / 2])) {
		heap_swap(l, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct ev_loop *l, size_t i)
{
	for (;;) {
		size_t c = 2 * i + 1, m = i;

		if (c < l->ntimers && timer_less(&l->heap[c], &l->heap[m]))
			m = c;
		if (c + 1 < l->ntimers && timer_less(&l->heap[c + 1], &l->heap[m]))
			m = c + 1;
		if (m == i)
			return;
		heap_swap(l, i, m);
		i = m;
	}
}

static void heap_remove(struct ev_loop *l, size_t i)
{
	l->ntimers--;
	if (i == l->ntimers)
		return;
	l->heap[i] = l->heap[l->ntimers];
	heap_down(l, i);
	heap_up(l, i);
}

uint64_t ev_timer_add(struct ev_loop *l, uint64_t ms, ev_timer_fn *fn, void *arg)
{
	if (l->ntimers == l->captimers) {
		size_t ncap = l->captimers ? l->captimers * 2 : 64;
		struct ev_timer *h = realloc(l->heap, ncap * sizeof(*h));

		if (h == NULL) {
			errno = ENOMEM;
			return 0;
		}
		l->heap = h;
		l->captimers = ncap;
	}
	l->heap[l->ntimers] = (struct ev_timer){ clock_ms() + ms, ++l->next_id,
	                                         fn, arg };
	heap_up(l, l->ntimers++);
	return l->next_id;
}

/* Linear search: the supervisor keeps few timers (periodic ticks and
 * shutdown deadlines), so a heap index map is not worth its weight. */
void ev_timer_del(struct ev_loop *l, uint64_t id)
{
	size_t i;

	for (i = 0; i < l->ntimers; i++) {
		if (l->heap[i].id == id) {
			heap_remove(l, i);
			return;
		}
	}
}

static int next_timeout(struct ev_loop *l)
{
	uint64_t now;

	if (l->ntimers == 0)
		return -1;
	now = clock_ms();
	if (l->heap[0].when <= now)
		return 0;
	return (int)(l->heap[0].when - now);
}

static void run_timers(struct ev_loop *l)
{
	while (!l->stop && l->ntimers > 0 && l->heap[0].when <= l->now_ms) {
		struct ev_timer t = l->heap[0];

		heap_remove(l, 0);
		t.fn(l, t.arg);
	}
}

uint64_t ev_turn(const struct ev_loop *l)
{
	return l->turns;
}

void ev_set_before_sleep(struct ev_loop *l, ev_timer_fn *fn, void *arg)
{
	l->before_sleep = fn;
	l->before_sleep_arg = arg;
}

int ev_run(struct ev_loop *l)
{
	struct epoll_event evs[EV_BATCH];
	int n, i;

	l->stop = 0;
	for (;;) {
		if (!l->stop && l->before_sleep != NULL)
			l->before_sleep(l, l->before_sleep_arg);
		if (l->stop)
			break;
		n = epoll_wait(l->epfd, evs, EV_BATCH, next_timeout(l));
		l->turns++;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		l->now_ms = clock_ms();
		for (i = 0; i < n && !l->stop; i++) {
			int fd = evs[i].data.fd;

			if (l->io[fd].active)
				l->io[fd].fn(l, fd, evs[i].events,
				             l->io[fd].arg);
		}
		run_timers(l);
	}
	return 0;
}

void ev_stop(struct ev_loop *l)
{
	l->stop = 1;
}

uint64_t ev_now_ms(struct ev_loop *l)
{
	return l->now_ms;
}
