/*
 * The operator's commands that pass their arguments through: start, stop,
 * restart, signal, pid, avail, reread, update, reload, shutdown; and tail,
 * which may follow the worker's output.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>

#include "yardctl.h"

/* Arguments each takes: at least min, at most max positional. */
static const struct {
	const char *name;
	int min, max;
} arity[] = {
    {"start", 1, 1},  {"stop", 1, 1},	 {"restart", 1, 1},
    {"signal", 2, 2}, {"pid", 0, 1},	 {"avail", 0, 0},
    {"reread", 0, 0}, {"update", 0, 1}, {"reload", 0, 1},
    {"shutdown", 0, 0},
};

int cmd_simple(struct yc_opts *o, int argc, char **argv)
{
	Switchyard__CtlRequest req = SWITCHYARD__CTL_REQUEST__INIT;
	char *args[4];
	size_t i, n = 0;
	int j, min = 0, max = 0;

	for (i = 0; i < sizeof(arity) / sizeof(arity[0]); i++) {
		if (strcmp(arity[i].name, argv[0]) == 0) {
			min = arity[i].min;
			max = arity[i].max;
		}
	}
	for (j = 1; j < argc; j++) {
		if (strcmp(argv[j], "--json") == 0)
			o->json = 1;
		else if ((int)n == max)
			return yc_usage(argv[0], "unexpected argument: %s",
					argv[j]);
		else
			args[n++] = argv[j];
	}
	if ((int)n < min)
		return yc_usage(argv[0], "missing argument");
	req.command = argv[0];
	req.n_args = n;
	req.args = args;
	return yc_call(o, &req, -1, print_response);
}

/* Output is flushed after each piece, so nothing is lost by leaving
 * from the handler (the frame reader retries interrupted reads). */
static void on_interrupt(int sig)
{
	_exit(YC_OK);
}

static int tail_each(const Switchyard__CtlResponse *res, void *arg)
{
	const struct yc_opts *o = arg;

	if (res->code != YC_OK)
		return print_response(o, res);
	print_output(res->output.data, res->output.len);
	fflush(stdout);
	return 0;
}

/* Ctrl-C ends `tail -f` with success, as supervisorctl's does. */
static int tail_follow(struct yc_opts *o, Switchyard__CtlRequest *req)
{
	struct sigaction sa;
	char err[1024];
	int rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;
	if (sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1)
		return print_error(o, YC_FAIL, "sigaction: %s",
				   strerror(errno));
	rc = client_stream(o->socket, req, 0, tail_each, o, err, sizeof(err));
	if (rc != YC_OK)
		return print_error(o, rc, "%s", err);
	return rc;
}

static int tail_show(const struct yc_opts *o,
		     const Switchyard__CtlResponse *res)
{
	if (o->json || res->code != YC_OK)
		return print_response(o, res);
	print_output(res->output.data, res->output.len);
	return YC_OK;
}

int cmd_tail(struct yc_opts *o, int argc, char **argv)
{
	Switchyard__CtlRequest req = SWITCHYARD__CTL_REQUEST__INIT;
	char *args[2], *end;
	size_t n = 0;
	long bytes;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0) {
			req.follow = 1;
		} else if (strcmp(argv[i], "--json") == 0) {
			o->json = 1;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			bytes = strtol(argv[i] + 1, &end, 10);
			if (*end != '\0' || bytes <= 0 || bytes > 1 << 20)
				return yc_usage("tail", "unknown option: %s",
						argv[i]);
			req.bytes = (uint32_t)bytes;
		} else if (n == 2) {
			return yc_usage("tail", "unexpected argument: %s",
					argv[i]);
		} else {
			args[n++] = argv[i];
		}
	}
	if (n == 0)
		return yc_usage("tail", "missing NS/NAME");
	req.command = "tail";
	req.n_args = n;
	req.args = args;
	if (req.follow && !o->json)
		return tail_follow(o, &req);
	return yc_call(o, &req, -1, tail_show);
}
