/*
 * The operator's commands on workers' processes, after supervisorctl:
 * start, stop, restart, signal, pid, tail, avail and shutdown. Commands
 * that wait (start for readiness, stop for in-flight requests to finish)
 * answer later through ctl_reply.poll.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "control/ctl.h"
#include "log.h"
#include "serve/logring.h"
#include "serve/pool.h"

#define START_WAIT_MS 15000 /* start: until every process is ready */
#define STOP_WAIT_MS 90000  /* stop: in-flight requests (wall_ms) + grace */
#define TAIL_DEFAULT 1600   /* bytes, as supervisorctl */

/* What a waiting start, stop or restart remembers between polls. */
struct ctl_wait {
	struct ctl_sel sel;
	char cmd[16];
	int starting;       /* past the stop half of a restart */
	uint64_t deadline;  /* monotonic ms */
	uid_t uid;
};

static uint64_t now_ms(void)
{
	return ev_now_ms(control_env.loop);
}

/* The one selection argument of start, stop and restart. */
static int sel_arg(const Switchyard__CtlRequest *req, const char *cmd,
                   struct ctl_sel *sel, struct ctl_reply *rep)
{
	if (req->n_args != 1) {
		ctl_fail(rep, CTL_USAGE, "%s: expected NS/NAME, NS/* or all",
		         cmd);
		return -1;
	}
	if (ctl_parse_sel(cmd, req->args[0], sel, rep) == -1)
		return -1;
	if (ctl_sel_count(cmd, sel, rep) == 0) {
		if (rep->res.code == CTL_OK)
			ctl_fail(rep, CTL_UNKNOWN_WORKER,
			         "%s all: no workers deployed", cmd);
		return -1;
	}
	return 0;
}

static int start_all(struct ctl_wait *cw, struct ctl_reply *rep)
{
	struct worker *w;
	char e[256];

	for (w = registry_first(); w != NULL; w = registry_next(w)) {
		if (!ctl_sel_match(&cw->sel, w))
			continue;
		if (pool_op_start(w, e, sizeof(e)) == -1) {
			ctl_fail(rep, CTL_FAIL, "%s %s/%s: %s", cw->cmd, w->ns,
			         w->name, e);
			return -1;
		}
	}
	return 0;
}

static const char *state_of(struct worker *w)
{
	struct pool_stats st;

	if (w->pool == NULL)
		return "IDLE";
	pool_stats(w, &st);
	return st.state;
}

/* 1 when every selected worker left STARTING (or is not starting). */
static int start_done(struct ctl_wait *cw, struct ctl_reply *rep)
{
	struct worker *w;
	const char *st;
	int late = now_ms() >= cw->deadline;

	for (w = registry_first(); w != NULL; w = registry_next(w)) {
		if (ctl_sel_match(&cw->sel, w) &&
		    strcmp(state_of(w), "STARTING") == 0 && !late)
			return 0;
	}
	for (w = registry_first(); w != NULL; w = registry_next(w)) {
		if (!ctl_sel_match(&cw->sel, w))
			continue;
		st = state_of(w);
		if (strcmp(st, "RUNNING") != 0) {
			ctl_fail(rep, CTL_FAIL, "%s %s/%s: %s, not RUNNING%s",
			         cw->cmd, w->ns, w->name, st,
			         late ? " after 15 s" : "");
			return 1;
		}
		ctl_line(rep, "%s/%s: started", w->ns, w->name);
	}
	return 1;
}

static int stop_done(struct ctl_wait *cw, struct ctl_reply *rep)
{
	struct worker *w;

	for (w = registry_first(); w != NULL; w = registry_next(w)) {
		if (!ctl_sel_match(&cw->sel, w) || pool_op_none_left(w))
			continue;
		if (now_ms() < cw->deadline)
			return 0;
		ctl_fail(rep, CTL_FAIL, "%s %s/%s: processes still running "
		         "after %d s", cw->cmd, w->ns, w->name,
		         STOP_WAIT_MS / 1000);
		return 1;
	}
	if (strcmp(cw->cmd, "stop") == 0) {
		for (w = registry_first(); w != NULL; w = registry_next(w)) {
			if (ctl_sel_match(&cw->sel, w))
				ctl_line(rep, "%s/%s: stopped", w->ns, w->name);
		}
	}
	return 1;
}

static int wait_poll(void *arg, struct ctl_reply *rep)
{
	struct ctl_wait *cw = arg;

	if (strcmp(cw->cmd, "start") == 0 || cw->starting)
		return start_done(cw, rep);
	if (!stop_done(cw, rep))
		return 0;
	if (rep->res.code != CTL_OK || strcmp(cw->cmd, "stop") == 0)
		return 1;
	/* restart: the stop half is over */
	cw->starting = 1;
	cw->deadline = now_ms() + START_WAIT_MS;
	if (start_all(cw, rep) == -1)
		return 1;
	return start_done(cw, rep);
}

static void op_begin(const Switchyard__CtlRequest *req, const char *cmd,
                     struct ctl_reply *rep)
{
	struct ctl_wait *cw;
	struct worker *w;
	char e[256];

	if ((cw = calloc(1, sizeof(*cw))) == NULL) {
		ctl_fail(rep, CTL_FAIL, "%s: out of memory", cmd);
		return;
	}
	snprintf(cw->cmd, sizeof(cw->cmd), "%s", cmd);
	cw->uid = rep->uid;
	if (sel_arg(req, cmd, &cw->sel, rep) == -1) {
		free(cw);
		return;
	}
	log_info("control: uid %u: %s %s", (unsigned)rep->uid, cmd,
	         cw->sel.text);
	rep->poll = wait_poll;
	rep->poll_arg = cw;
	if (strcmp(cmd, "start") == 0) {
		cw->deadline = now_ms() + START_WAIT_MS;
		start_all(cw, rep);
		return;
	}
	cw->deadline = now_ms() + STOP_WAIT_MS;
	for (w = registry_first(); w != NULL; w = registry_next(w)) {
		if (ctl_sel_match(&cw->sel, w) &&
		    pool_op_stop(w, e, sizeof(e)) == -1) {
			ctl_fail(rep, CTL_FAIL, "%s %s/%s: %s", cmd, w->ns,
			         w->name, e);
			return;
		}
	}
}

void ctl_start(const Switchyard__CtlRequest *req, int fd,
               struct ctl_reply *rep)
{
	op_begin(req, "start", rep);
}

void ctl_stop(const Switchyard__CtlRequest *req, int fd,
              struct ctl_reply *rep)
{
	op_begin(req, "stop", rep);
}

void ctl_restart(const Switchyard__CtlRequest *req, int fd,
                 struct ctl_reply *rep)
{
	op_begin(req, "restart", rep);
}

/* Only the signals a worker may be expected to handle, or die of. */
static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "KILL", SIGKILL },
	{ "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "TERM", SIGTERM },
};

static int signal_parse(const char *s, const char **name)
{
	char *end;
	long n;
	size_t i;

	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	n = strtol(s, &end, 10);
	for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
		if ((*end == '\0' && *s != '\0' && n == signals[i].sig) ||
		    strcasecmp(s, signals[i].name) == 0) {
			*name = signals[i].name;
			return signals[i].sig;
		}
	}
	return -1;
}

void ctl_signal(const Switchyard__CtlRequest *req, int fd,
                struct ctl_reply *rep)
{
	struct ctl_sel sel;
	struct worker *w;
	const char *name;
	char safe[32];
	unsigned n, total = 0;
	int sig;

	if (req->n_args != 2) {
		ctl_fail(rep, CTL_USAGE, "signal: expected SIGNAL and NS/NAME, "
		         "NS/* or all");
		return;
	}
	if ((sig = signal_parse(req->args[0], &name)) == -1) {
		ctl_fail(rep, CTL_BAD_INPUT, "signal %s: not one of TERM, HUP, "
		         "INT, KILL, USR1, USR2 (by name or number)",
		         ctl_safe(req->args[0], safe, sizeof(safe)));
		return;
	}
	if (ctl_parse_sel("signal", req->args[1], &sel, rep) == -1 ||
	    ctl_sel_count("signal", &sel, rep) == 0)
		return;
	for (w = registry_first(); w != NULL; w = registry_next(w)) {
		if (!ctl_sel_match(&sel, w) || (n = pool_op_signal(w, sig)) == 0)
			continue;
		total += n;
		ctl_line(rep, "%s/%s: sent SIG%s to %u process%s", w->ns,
		         w->name, name, n, n == 1 ? "" : "es");
	}
	if (total == 0 && rep->res.code == CTL_OK)
		ctl_fail(rep, CTL_FAIL, "signal %s %s: no process running",
		         name, sel.text);
	else
		log_info("control: uid %u: signal %s %s: %u processes",
		         (unsigned)rep->uid, name, sel.text, total);
}

void ctl_pid(const Switchyard__CtlRequest *req, int fd,
             struct ctl_reply *rep)
{
	struct pool_stats st;
	struct ctl_sel sel;
	struct worker *w;
	uint32_t i;

	if (req->n_args > 1) {
		ctl_fail(rep, CTL_USAGE, "pid: expected nothing, NS/NAME, "
		         "NS/* or all");
		return;
	}
	if (req->n_args == 0) {
		ctl_line(rep, "%ld", (long)getpid());
		return;
	}
	if (ctl_parse_sel("pid", req->args[0], &sel, rep) == -1 ||
	    ctl_sel_count("pid", &sel, rep) == 0)
		return;
	for (w = registry_first(); w != NULL; w = registry_next(w)) {
		if (!ctl_sel_match(&sel, w) || w->pool == NULL)
			continue;
		pool_stats(w, &st);
		for (i = 0; i < st.npids; i++)
			ctl_line(rep, "%ld", (long)st.pids[i]);
	}
}

static int tail_stream(const Switchyard__CtlRequest *req,
                       struct ctl_reply *rep)
{
	const char *s = req->n_args > 1 ? req->args[1] : "stdout";
	char safe[32];

	if (strcmp(s, "stdout") == 0)
		return 1;
	if (strcmp(s, "stderr") == 0)
		return 2;
	ctl_fail(rep, CTL_USAGE, "tail: %s: expected stdout or stderr",
	         ctl_safe(s, safe, sizeof(safe)));
	return -1;
}

void ctl_tail(const Switchyard__CtlRequest *req, int fd,
              struct ctl_reply *rep)
{
	struct ctl_sel sel;
	struct logring *r;
	struct worker *w;
	uint32_t want = req->bytes ? req->bytes : TAIL_DEFAULT;
	uint64_t off;
	int stream;

	if (req->n_args < 1 || req->n_args > 2) {
		ctl_fail(rep, CTL_USAGE, "tail: expected NS/NAME [stdout|stderr]");
		return;
	}
	if (ctl_parse_sel("tail", req->args[0], &sel, rep) == -1 ||
	    (stream = tail_stream(req, rep)) == -1)
		return;
	if (sel.any || sel.all_ns) {
		ctl_fail(rep, CTL_BAD_INPUT, "tail %s: name one worker",
		         sel.text);
		return;
	}
	if ((w = registry_find(sel.ns, sel.name)) == NULL) {
		ctl_fail(rep, CTL_UNKNOWN_WORKER, "tail %s: no such worker",
		         sel.text);
		return;
	}
	if ((r = pool_logring(w, stream)) == NULL) {
		ctl_fail(rep, CTL_FAIL, "tail %s: out of memory", sel.text);
		return;
	}
	if (want > LOGRING_SIZE)
		want = LOGRING_SIZE;
	off = logring_tail_start(r, want);
	if ((rep->output = malloc(want)) == NULL) {
		ctl_fail(rep, CTL_FAIL, "tail %s: out of memory", sel.text);
		return;
	}
	rep->res.output.data = rep->output;
	rep->res.output.len = logring_read(r, &off, (char *)rep->output, want);
	if (req->follow) {
		rep->res.more = 1;
		rep->follow = r;
		rep->follow_off = off;
	}
}

void ctl_avail(const Switchyard__CtlRequest *req, int fd,
               struct ctl_reply *rep)
{
	const struct plan *pn;
	struct worker *w;
	size_t i, used;

	if (req->n_args != 0) {
		ctl_fail(rep, CTL_USAGE, "avail: expected no argument");
		return;
	}
	for (i = 0; i < control_env.conf->nplans; i++) {
		pn = &control_env.conf->plans[i];
		used = 0;
		for (w = registry_first(); w != NULL; w = registry_next(w))
			used += w->plan == pn;
		ctl_line(rep, "plan %s: instances %u, queue %u, memory %u MiB, "
		         "cpu %u%%, cpu_ms %u, wall_ms %u; %zu worker%s",
		         pn->name, pn->instances, pn->queue, pn->jail.memory_mb,
		         pn->jail.cpu_pct, pn->cpu_ms, pn->wall_ms, used,
		         used == 1 ? "" : "s");
	}
	for (w = registry_first(); w != NULL; w = registry_next(w))
		ctl_line(rep, "worker %s/%s: version %u, plan %s, %s", w->ns,
		         w->name, worker_version(w)->number,
		         worker_version(w)->plan, state_of(w));
}

void ctl_shutdown(const Switchyard__CtlRequest *req, int fd,
                  struct ctl_reply *rep)
{
	if (req->n_args != 0) {
		ctl_fail(rep, CTL_USAGE, "shutdown: expected no argument");
		return;
	}
	snprintf(rep->message, sizeof(rep->message), "shutting down");
	rep->shutdown = 1;
}
