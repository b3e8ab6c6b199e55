/*
 * Between the control socket (control.c) and its commands (ctlstatus.c:
 * status; deployops.c: deploy, list, delete, versions, rollback, secret;
 * ctlops.c: start, stop, restart, signal, pid, tail, avail, shutdown,
 * reread, update; reload.c: the configuration diff).
 */
#ifndef SY_CTL_H
#define SY_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "supervisor.h"
#include "switchyard.pb-c.h"

/* yardctl's exit codes, which responses carry (ctl/yardctl.h). */
enum {
	CTL_OK = 0,
	CTL_FAIL = 1,
	CTL_USAGE = 2,
	CTL_UNKNOWN_WORKER = 4,
	CTL_BAD_INPUT = 5,
	CTL_NOT_RUNNING = 6
};

struct logring;
struct ctl_reply;

/* A command that answers later: control.c calls poll(arg, rep) every
 * CTL_POLL_MS until it returns 1 with rep filled, then frees arg. */
typedef int ctl_poll_fn(void *arg, struct ctl_reply *rep);

/* What a command fills in; control.c packs and frees it. */
struct ctl_reply {
	Switchyard__CtlResponse res;
	Switchyard__WorkerStatus *ws;
	Switchyard__WorkerStatus **wsp;
	uint32_t *pids;
	Switchyard__OutcomeCount *oc;   /* POOL_NOUTCOMES per worker */
	Switchyard__OutcomeCount **ocp;
	Switchyard__VersionInfo *versions; /* res.versions' entries */
	char **lines;       /* res.lines, each malloc'd */
	size_t nlines, alines;
	uint8_t *output;    /* res.output.data, malloc'd */
	uid_t uid;          /* the client's, for the log */
	ctl_poll_fn *poll;  /* set: answer later */
	void *poll_arg;     /* free()d once answered or closed */
	struct logring *follow; /* set: keep the connection, push output */
	uint64_t follow_off;
	int shutdown;       /* stop the platform once the answer is sent */
	char error[1024];
	char message[512];
};

typedef void ctl_cmd_fn(const Switchyard__CtlRequest *req, int fd,
                        struct ctl_reply *rep);

void ctl_fail(struct ctl_reply *rep, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Printable ASCII copy of a client's string, bounded. */
const char *ctl_safe(const char *s, char *buf, size_t size);
/* Appends one line to rep->lines. 0 or -1 (out of memory, rep failed). */
int ctl_line(struct ctl_reply *rep, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Which workers a command names: all, NS/NAME, NS/ followed by a star. */
struct ctl_sel {
	char text[160]; /* as given, made printable */
	char ns[SY_NAME_MAX], name[SY_NAME_MAX];
	int any, all_ns;
};
/* arg NULL or "all": every worker. -1 with rep failed (CTL_BAD_INPUT,
 * the message starting with cmd). */
int ctl_parse_sel(const char *cmd, const char *arg, struct ctl_sel *sel,
                  struct ctl_reply *rep);
int ctl_sel_match(const struct ctl_sel *sel, const struct worker *w);
/* Counts the selected workers; 0 fails rep with CTL_UNKNOWN_WORKER
 * (unless any: no workers deployed is not an error). */
size_t ctl_sel_count(const char *cmd, const struct ctl_sel *sel,
                     struct ctl_reply *rep);

/* ---- ctlstatus.c ---- */
ctl_cmd_fn ctl_status;
/* Room for n WorkerStatus entries; then ctl_add_worker for each. */
int ctl_reserve(struct ctl_reply *rep, size_t n);
void ctl_add_worker(struct ctl_reply *rep, struct worker *w);

/* ---- deployops.c ---- */
ctl_cmd_fn ctl_deploy, ctl_list, ctl_delete, ctl_versions, ctl_rollback,
    ctl_secret;

/* ---- ctlops.c ---- */
ctl_cmd_fn ctl_start, ctl_stop, ctl_restart, ctl_signal, ctl_pid, ctl_tail,
    ctl_avail, ctl_shutdown, ctl_reread, ctl_update;

/* ---- reload.c ---- */

/* Reads the configuration file again and compares it with the one in use:
 * one line per difference ("plan small: changed (instances 1 -> 2)",
 * "plan big: added", "deploy tenants/x: changed"); with apply, also makes
 * it current: plans are changed in place, added and removed; [deploy]
 * sections are deployed as at start. Returns 0, or -1 with err (nothing
 * applied) for a bad file or a removed plan still in use. lines is
 * realloc'd: *nlines entries, each malloc'd. */
int reload_config(int apply, char ***lines, size_t *nlines, char *err,
                  size_t errlen);
/* SIGHUP: reload_config(1), logged, with RELOADING=1 and READY=1 sent to
 * the service manager around it. */
void reload_on_sighup(void);

#endif
