/*
 * Between the control socket (control.c) and its commands, one file per
 * family, with the helpers they share in ctl_args.c: ctl_status.c (status), ctl_deploy.c (deploy, list, delete,
 * versions, rollback), ctl_secret.c (secret), ctl_ops.c (start, stop,
 * restart, signal, pid, tail, avail, shutdown), ctl_reload.c (reread,
 * update and the configuration diff), ctl_kv.c (kv), ctl_events.c
 * (events).
 */
#ifndef SY_CONTROL_CTL_H
#define SY_CONTROL_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "control/control.h"
#include "ctl_codes.h"
#include "ev.h"
#include "state/config.h"
#include "state/registry.h"
#include "switchyard.pb-c.h"

/* What every command may use, set by control_listen(). */
struct control_env {
	struct ev_loop *loop;
	struct sup_config *conf;
	struct control_hooks hooks;
};
extern struct control_env control_env;

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
	void **owned;       /* blocks res points into (ctl_own) */
	size_t nowned;
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

/* ---- ctl_args.c: what every command uses ---- */

void ctl_fail(struct ctl_reply *rep, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A zeroed block of size bytes that lives as long as rep (what res points
 * to that nothing else keeps), or NULL with rep failed. */
void *ctl_own(struct ctl_reply *rep, size_t size);
/* v's service bindings as "NAME=NS/WORKER" strings kept with rep, for
 * WorkerStatus and VersionInfo; NULL when none (or out of memory). */
char **ctl_service_texts(struct ctl_reply *rep, const struct version *v);
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
/* The one NS/NAME argument of a command (args[0]), split into ns and name,
 * printable in safe. -1 with rep failed (cmd names the command). */
int ctl_worker_arg(const Switchyard__CtlRequest *req, const char *cmd,
                   char *ns, char *name, char *safe, size_t safelen,
                   struct ctl_reply *rep);
/* The worker args[0] names; NULL with rep failed (CTL_UNKNOWN_WORKER when
 * there is none). */
struct worker *ctl_worker_named(const Switchyard__CtlRequest *req,
                                const char *cmd, char *safe, size_t safelen,
                                struct ctl_reply *rep);

/* ---- ctl_status.c ---- */
ctl_cmd_fn ctl_status;
/* Room for n WorkerStatus entries; then ctl_add_worker for each. */
int ctl_reserve(struct ctl_reply *rep, size_t n);
void ctl_add_worker(struct ctl_reply *rep, struct worker *w);

/* ---- ctl_deploy.c ---- */
ctl_cmd_fn ctl_deploy, ctl_list, ctl_delete, ctl_versions, ctl_rollback;

/* ---- ctl_secret.c ---- */
ctl_cmd_fn ctl_secret;
/* Checks the request's secrets for worker safe; -1 with rep failed. */
int ctl_secrets_check(const Switchyard__CtlRequest *req, const char *cmd,
                      const char *safe, struct ctl_reply *rep);
/* Records the request's secrets for worker safe ("ns/name"). */
int ctl_secrets_apply(const Switchyard__CtlRequest *req, const char *safe,
                      struct ctl_reply *rep);
/* A deploy that failed changes no secrets (secrets_snapshot's saved). */
void ctl_secrets_undo(const char *safe, char **saved, size_t nsaved);

/* ---- ctl_ops.c ---- */
ctl_cmd_fn ctl_start, ctl_stop, ctl_restart, ctl_signal, ctl_pid, ctl_tail,
    ctl_avail, ctl_shutdown;

/* ---- ctl_reload.c ---- */
ctl_cmd_fn ctl_reread, ctl_update;

/* ---- ctl_kv.c, ctl_events.c ---- */
ctl_cmd_fn ctl_kv, ctl_events;

#endif
