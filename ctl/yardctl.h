/*
 * yardctl: a thin client of the supervisor's control socket. yardctl.c parses
 * the command line from a keyword table, client.c carries one request and its
 * response over the socket, print.c shows the response to people or scripts.
 */
#ifndef SY_YARDCTL_H
#define SY_YARDCTL_H

#include <stddef.h>

#include "ctl_codes.h"
#include "switchyard.pb-c.h"

#define YC_DEFAULT_SOCKET "/run/switchyard/control.sock"
#define YC_TIMEOUT_S 120 /* longest wait for the supervisor's answer */

struct yc_opts {
	const char *socket; /* control socket path */
	int json;	    /* print responses as JSON */
	int shell;	    /* in the interactive shell */
};

struct yc_cmd {
	const char *name;
	const char *synopsis; /* arguments, for usage lines */
	const char *summary;  /* one line for the command list */
	const char *details;  /* shown by `help COMMAND` */
	int (*fn)(struct yc_opts *o, int argc, char **argv);
};

/* ---- yardctl.c ---- */

extern const struct yc_cmd yc_commands[];
extern const size_t yc_ncommands;
/* Runs the command line argv (argv[0] the command word, abbreviations
 * allowed); returns its exit code. */
int yc_run(struct yc_opts *o, int argc, char **argv);
/* "yardctl: NAME: problem" and NAME's usage line on stderr; CTL_USAGE. */
int yc_usage(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * Matches argv[*i] against an option taking a value ("--plan P",
 * "--plan=P", "-p P"). Returns 1 with *val set (and *i past it), 0 if it
 * is another argument, -1 if the value is missing.
 */
int yc_take_opt(int argc, char **argv, int *i, const char *lng,
		const char *shrt, const char **val);
/* Sends req (with fd, consumed) and shows the answer with show. */
int yc_call(struct yc_opts *o, Switchyard__CtlRequest *req, int fd,
	    int (*show)(const struct yc_opts *,
			const Switchyard__CtlResponse *));

/* ---- ops.c: start, stop, restart, signal, pid, tail, avail, shutdown,
 * reread, update, reload ---- */

int cmd_simple(struct yc_opts *o, int argc, char **argv);
int cmd_tail(struct yc_opts *o, int argc, char **argv);
/* events [-f] [--json] [--outcome X] [NS/NAME] (docs/events.md) */
int cmd_events(struct yc_opts *o, int argc, char **argv);

/* ---- kv.c: kv get|put|delete|list|import|drop (docs/kv.md) ---- */
int cmd_kv(struct yc_opts *o, int argc, char **argv);

/* ---- deploy.c: deploy, list, delete, versions, rollback, secret ---- */

int cmd_deploy(struct yc_opts *o, int argc, char **argv);
int cmd_list(struct yc_opts *o, int argc, char **argv);
int cmd_delete(struct yc_opts *o, int argc, char **argv);
int cmd_versions(struct yc_opts *o, int argc, char **argv);
int cmd_rollback(struct yc_opts *o, int argc, char **argv);
int cmd_secret(struct yc_opts *o, int argc, char **argv);

/* ---- top.c ---- */

int cmd_top(struct yc_opts *o, int argc, char **argv);

/* ---- shell.c ---- */

/* The interactive shell (yardctl without a command). */
int shell_run(struct yc_opts *o);

/* ---- client.c ---- */

/*
 * Sends req to the supervisor listening at path, with the descriptor fd
 * attached when fd >= 0 (fd is consumed: closed once sent or on failure),
 * and waits for its response. Returns 0 with *res to be freed with
 * switchyard__ctl_response__free_unpacked, or an exit code (CTL_UNREACHABLE,
 * CTL_FAIL) with a message naming the socket in err.
 */
int client_call(const char *path, const Switchyard__CtlRequest *req, int fd,
		Switchyard__CtlResponse **res, char *err, size_t errlen);

/*
 * Like client_call, for answers in several frames (tail -f): calls each
 * with every response until one has more = 0 or each returns nonzero.
 * timeout_s 0 waits for ever. 0, or an exit code with err.
 */
int client_stream(const char *path, const Switchyard__CtlRequest *req,
		  int timeout_s,
		  int (*each)(const Switchyard__CtlResponse *res, void *arg),
		  void *arg, char *err, size_t errlen);

/* ---- print.c ---- */

/* Reports an error: "yardctl: msg" on stderr, or {"code","error"} on stdout
 * with --json. Returns code. */
int print_error(const struct yc_opts *o, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Shows a response (errors included) and returns the exit code it means. */
int print_response(const struct yc_opts *o, const Switchyard__CtlResponse *res);
/* Same, but shows the workers as a table (one line per worker); status
 * exit 6 still shows the table. */
int print_status_response(const struct yc_opts *o,
			  const Switchyard__CtlResponse *res);

/* status -l: with CPU and VIOLATIONS columns. */
int print_status_long(const struct yc_opts *o,
		      const Switchyard__CtlResponse *res);
/* Writes a worker's output, control characters but tab and newline
 * replaced. */
void print_output(const uint8_t *data, size_t len);

#endif
