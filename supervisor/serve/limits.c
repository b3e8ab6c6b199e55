/*
 * Per-request limits: CPU time, wall time, subrequests.
 *
 * CPU time is a task-clock perf counter on the serving process (opened
 * when it is spawned, see limits_meter_open), read when the call starts;
 * each worker process is alone in its cgroup and pid namespace, so that
 * counter is all the request's work. Reading it is exact even while the
 * process runs on another CPU: the kernel brings it up to date for the
 * read. Where perf_event_open is unavailable the process's CPU clock
 * (clock_getcpuclockid) stands in; the kernel updates that clock only at
 * the process's scheduler ticks and context switches, so a reading of a
 * running process lags by up to one tick.
 *
 * A running call has one timer, set for the nearer of its wall deadline
 * and the soonest moment its CPU budget could run out. CPU time cannot
 * run faster than the wall clock times the CPUs the process can use (a
 * worker is single-threaded under the default profiles, but a plan may
 * name a profile that lets it make threads), so a timer of remaining /
 * ncpus never fires late; at the deadline the counter is read again and
 * the timer re-armed for what remains, so a request that ends before
 * cpu_ms / ncpus costs one timer and no reads but the two that measure
 * it. The last step is a millisecond (the loop's timer resolution): that,
 * plus how late the supervisor wakes, bounds the overshoot.
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "serve/limits.h"
#include "serve/serve.h"
#include "util.h"

static unsigned ncpus;

static unsigned cpus(void)
{
	long n;

	if (ncpus == 0) {
		n = sysconf(_SC_NPROCESSORS_ONLN);
		ncpus = n >= 1 && n <= 4096 ? (unsigned)n : 1;
	}
	return ncpus;
}

static uint32_t lower(uint32_t plan, uint32_t asked)
{
	return asked != 0 && asked < plan ? asked : plan;
}

void limits_set(struct call *c, const struct plan *pn,
                const Switchyard__Limits *asked)
{
	c->lim.cpu_ms = pn->cpu_ms;
	c->lim.wall_ms = pn->wall_ms;
	c->lim.subrequests = pn->subrequests;
	if (asked == NULL)
		return;
	c->lim.cpu_ms = lower(pn->cpu_ms, asked->cpu_ms);
	c->lim.wall_ms = lower(pn->wall_ms, asked->wall_ms);
	c->lim.subrequests = lower(pn->subrequests, asked->subrequests);
}

/* Request.limits is field 9 (length-delimited); Limits' fields 1-3 are
 * varints. Concatenated protobuf is merged, so appending adds the field
 * without re-packing the rest. */
size_t limits_append(const struct call *c, uint8_t *buf)
{
	uint8_t *p = buf + 2;

	*p++ = 0x08;
	p += sy_pb_varint(p, c->lim.cpu_ms);
	*p++ = 0x10;
	p += sy_pb_varint(p, c->lim.wall_ms);
	*p++ = 0x18;
	p += sy_pb_varint(p, c->lim.subrequests);
	buf[0] = (9 << 3) | 2;
	buf[1] = (uint8_t)(p - buf - 2);
	return (size_t)(p - buf);
}

size_t limits_base_append(const struct proc *p, uint8_t *buf)
{
	uint64_t base = p->cpufd == -1 && p->has_cpuclock ? p->cpu_mark_ns : 0;

	buf[0] = 15 << 3;
	return 1 + sy_pb_varint(buf + 1, base);
}

/* Set once perf_event_open proved unusable on this host: every later
 * spawn goes straight to the CPU clock, without a failing call each. */
static int perf_off;

/* inherit: a thread or child the worker makes (only a profile other than
 * the defaults allows it) is counted too, as the process clock would. */
static int perf_open(pid_t pid)
{
	struct perf_event_attr a;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_TASK_CLOCK;
	a.inherit = 1;
	return (int)syscall(SYS_perf_event_open, &a, pid, -1, -1,
	                    PERF_FLAG_FD_CLOEXEC);
}

static void perf_failed(const struct proc *p, int err)
{
	switch (err) {
	case ENOSYS: case ENOENT: case EACCES: case EPERM: case EOPNOTSUPP:
	case EINVAL:
		/* the host's answer, not this process's: ask no more */
		perf_off = 1;
		log_warnx("worker %s[%d]: perf_event_open (task-clock): %s; "
		          "CPU limits use the process CPU clock instead, which "
		          "lags up to a scheduler tick (docs/limits.md)",
		          p->worker, (int)p->pid, strerror(err));
		return;
	default:
		log_warnx("worker %s[%d]: perf_event_open (task-clock): %s; "
		          "its CPU limit uses its process CPU clock instead",
		          p->worker, (int)p->pid, strerror(err));
	}
}

/* A task-clock counter makes every context switch of its process dearer
 * (perf's switch hooks: 15-25 % of the dispatch path's throughput on the
 * 2-CPU VM, docs/limits.md), so it is used only where a tick of lag would
 * break the overshoot target: a plan asking for it, or cpu_ms under
 * SY_CPU_METER_AUTO_MS. */
static int wants_perf(const struct plan *pn)
{
	if (pn == NULL || pn->cpu_meter == SY_CPU_METER_AUTO)
		return pn == NULL || pn->cpu_ms < SY_CPU_METER_AUTO_MS;
	return pn->cpu_meter == SY_CPU_METER_PERF;
}

void limits_meter_open(struct proc *p, const struct plan *pn)
{
	p->cpufd = -1;
	p->has_cpuclock = 0;
	if (!perf_off && wants_perf(pn) &&
	    (p->cpufd = perf_open(p->pid)) == -1)
		perf_failed(p, errno);
	if (p->cpufd == -1)
		p->has_cpuclock =
			clock_getcpuclockid(p->pid, &p->cpuclock) == 0;
}

void limits_meter_close(struct proc *p)
{
	if (p->cpufd != -1)
		close(p->cpufd);
	p->cpufd = -1;
	p->has_cpuclock = 0;
}

static int metered(const struct proc *p)
{
	return p->cpufd != -1 || p->has_cpuclock;
}

int64_t limits_cpu_ns(const struct proc *p)
{
	struct timespec ts;
	uint64_t ns;

	if (p->cpufd != -1) {
		if (read(p->cpufd, &ns, sizeof(ns)) != (ssize_t)sizeof(ns) ||
		    ns > INT64_MAX)
			return -1;
		return (int64_t)ns;
	}
	if (!p->has_cpuclock || clock_gettime(p->cpuclock, &ts) == -1)
		return -1;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* p's CPU clock, read at most once per turn of the loop: a dispatch
 * process's batch of answers arrives in one read, and one reading serves
 * them all. */
static int64_t cpu_this_turn(struct proc *p)
{
	uint64_t turn = ev_turn(serve_env.loop);
	int64_t ns;

	if (p->cpu_seen_turn == turn && p->cpu_seen_ns != 0)
		return (int64_t)p->cpu_seen_ns;
	if ((ns = limits_cpu_ns(p)) > 0) {
		p->cpu_seen_ns = (uint64_t)ns;
		p->cpu_seen_turn = turn;
	}
	return ns;
}

void limits_cpu_mark(struct proc *p)
{
	int64_t ns = cpu_this_turn(p);

	p->cpu_mark_ns = ns > 0 ? (uint64_t)ns : 0;
}

uint64_t limits_cpu_share_us(struct proc *p)
{
	int64_t now = cpu_this_turn(p);
	uint64_t share;

	share = now > 0 && (uint64_t)now > p->cpu_mark_ns
	        ? (uint64_t)now - p->cpu_mark_ns : 0;
	if (p->ncalls > 1)
		share /= p->ncalls;
	p->cpu_mark_ns += share;
	return share / 1000;
}

static void limits_check(struct ev_loop *loop, void *arg);

static void arm(struct call *c, uint64_t ms)
{
	c->limit_timer = ev_timer_add(serve_env.loop, ms ? ms : 1, limits_check, c);
	if (c->limit_timer == 0)
		log_warnx("worker %s: cannot watch a request's limits: out of "
		          "memory", c->proc->worker);
}

/* Stops c for a limit: the process is killed, the origin answered. */
static void stop(struct call *c, Switchyard__Outcome o, const char *why)
{
	char note[CALL_RID_NOTE];

	log_info("worker %s[%d]: %s; killed%s", c->proc->worker,
	         (int)c->proc->pid, why, call_rid_note(c, note));
	call_fail(c, o, why, 0);
}

static void cpu_exceeded(struct call *c, uint64_t used_ns)
{
	char why[128];

	c->cpu_us = used_ns / 1000;
	snprintf(why, sizeof(why), "CPU time limit of %u ms exceeded (used "
	         "%llu.%03llu ms)", c->lim.cpu_ms,
	         (unsigned long long)(used_ns / 1000000),
	         (unsigned long long)(used_ns / 1000 % 1000));
	stop(c, SWITCHYARD__OUTCOME__EXCEEDED_CPU, why);
}

static void wall_exceeded(struct call *c)
{
	char why[128];

	if (c == c->proc->calls)
		c->cpu_us = limits_cpu_share_us(c->proc);
	snprintf(why, sizeof(why), "wall time limit of %u ms exceeded",
	         c->lim.wall_ms);
	stop(c, SWITCHYARD__OUTCOME__EXCEEDED_WALL_TIME, why);
}

/* Re-reads both clocks: stops c at a limit, else re-arms its timer. */
static void limits_check(struct ev_loop *loop, void *arg)
{
	struct call *c = arg;
	uint64_t now = ev_clock_us(), wall_end, budget, used, ms;
	int64_t cpu;

	(void)loop;
	c->limit_timer = 0;
	if (c->proc == NULL)
		return;
	wall_end = c->start_us + c->lim.wall_ms * 1000ull;
	if (now >= wall_end) {
		wall_exceeded(c);
		return;
	}
	ms = (wall_end - now + 999) / 1000;
	/* only the oldest call a process holds is running (pool.h) */
	cpu = c == c->proc->calls ? limits_cpu_ns(c->proc) : -1;
	if (cpu >= 0) {
		budget = c->lim.cpu_ms * 1000000ull;
		used = (uint64_t)cpu > c->proc->cpu_mark_ns
		       ? (uint64_t)cpu - c->proc->cpu_mark_ns : 0;
		if (used >= budget) {
			cpu_exceeded(c, used);
			return;
		}
		if ((budget - used) / 1000000 / cpus() < ms)
			ms = (budget - used) / 1000000 / cpus();
	}
	arm(c, ms);
}

void limits_start(struct call *c)
{
	uint64_t ms = c->lim.wall_ms;

	c->start_us = ev_clock_us();
	c->cpu_us = 0;
	if (metered(c->proc) && c->lim.cpu_ms / cpus() < ms)
		ms = c->lim.cpu_ms / cpus();
	arm(c, ms);
}

static void grace_over(struct ev_loop *loop, void *arg)
{
	struct call *c = arg;
	struct proc *p = c->proc;
	char note[CALL_RID_NOTE];

	(void)loop;
	c->limit_timer = 0;
	if (p == NULL)
		return;
	log_info("worker %s[%d]: still running %u ms after its request was "
	         "canceled; killed%s", p->worker, (int)p->pid,
	         LIMITS_CANCEL_GRACE_MS, call_rid_note(c, note));
	pool_cancel_counted(p, 0);
	pool_kill(p, "request canceled, and not ended within the grace",
	          BLAME_PLATFORM);
}

void limits_cancel_grace(struct call *c)
{
	limits_stop(c);
	c->limit_timer = ev_timer_add(serve_env.loop, LIMITS_CANCEL_GRACE_MS,
	                              grace_over, c);
	if (c->limit_timer == 0) {
		/* without a timer, nothing would ever stop it */
		pool_cancel_counted(c->proc, 0);
		pool_kill(c->proc, "request canceled (no memory for its "
		          "grace timer)", BLAME_PLATFORM);
	}
}

void limits_stop(struct call *c)
{
	if (c->limit_timer != 0)
		ev_timer_del(serve_env.loop, c->limit_timer);
	c->limit_timer = 0;
}

int limits_subrequest(struct call *parent, struct proc *op, char *why,
                      size_t whylen)
{
	if (parent->subrequests < parent->lim.subrequests) {
		parent->subrequests++;
		return 0;
	}
	snprintf(why, whylen, "subrequests: limit of %u reached",
	         parent->lim.subrequests);
	pool_violation(op, why);
	return -1;
}
