/*
 * The operator's commands that pass their arguments through: start, stop,
 * restart, signal, pid, avail, reread, update, reload, shutdown; tail,
 * which may follow the worker's output; and events.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "frame.h"
#include "names.h"
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
	_exit(CTL_OK);
}

static int tail_each(const Switchyard__CtlResponse *res, void *arg)
{
	const struct yc_opts *o = arg;

	if (res->code != CTL_OK)
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
		return print_error(o, CTL_FAIL, "sigaction: %s",
				   strerror(errno));
	rc = client_stream(o->socket, req, 0, tail_each, o, err, sizeof(err));
	if (rc != CTL_OK)
		return print_error(o, rc, "%s", err);
	return rc;
}

static int tail_show(const struct yc_opts *o,
		     const Switchyard__CtlResponse *res)
{
	if (o->json || res->code != CTL_OK)
		return print_response(o, res);
	print_output(res->output.data, res->output.len);
	return CTL_OK;
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

/* ---- events ---- */

struct ev_filter {
	const struct yc_opts *o;
	const char *worker;  /* NULL: any */
	const char *outcome; /* NULL: any */
	const char *rid;     /* NULL: any */
	char part[32768];    /* a line begun in one frame, ended in the next */
	size_t len;
};

static void event_human(json_t *ev)
{
	json_t *req = json_object_get(json_object_get(ev, "event"), "request");
	json_t *res = json_object_get(json_object_get(ev, "event"),
				      "response");
	json_int_t ms = json_integer_value(json_object_get(ev,
							   "eventTimestamp"));
	const char *m = json_string_value(json_object_get(req, "method"));
	const char *u = json_string_value(json_object_get(req, "url"));
	time_t t = (time_t)(ms / 1000);
	char when[32];
	struct tm tm;
	const char *id = json_string_value(json_object_get(ev, "requestId"));

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		snprintf(when, sizeof(when), "?");
	printf("%s.%03dZ %s %s %s %d cpu %lld ms wall %lld ms %s %s\n", when,
	       (int)(ms % 1000), id != NULL && *id ? id : "-",
	       json_string_value(json_object_get(ev, "scriptName")),
	       json_string_value(json_object_get(ev, "outcome")),
	       (int)json_integer_value(json_object_get(res, "status")),
	       (long long)json_integer_value(json_object_get(ev, "cpuTime")),
	       (long long)json_integer_value(json_object_get(ev, "wallTime")),
	       m != NULL ? m : "-", u != NULL ? u : "-");
}

static void event_line(struct ev_filter *f, const char *s, size_t n)
{
	json_t *ev = json_loadb(s, n, 0, NULL);
	const char *w, *oc, *id;

	if (ev == NULL)
		return;
	w = json_string_value(json_object_get(ev, "scriptName"));
	oc = json_string_value(json_object_get(ev, "outcome"));
	id = json_string_value(json_object_get(ev, "requestId"));
	if ((f->worker == NULL || (w != NULL && strcmp(w, f->worker) == 0)) &&
	    (f->outcome == NULL || (oc != NULL && strcmp(oc, f->outcome) == 0)) &&
	    (f->rid == NULL || (id != NULL && strcmp(id, f->rid) == 0))) {
		if (f->o->json)
			printf("%.*s\n", (int)n, s);
		else
			event_human(ev);
	}
	json_decref(ev);
}

/* Whole lines of data are shown; a partial one waits for its end. */
static void event_lines(struct ev_filter *f, const uint8_t *data, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (data[i] == '\n') {
			event_line(f, f->part, f->len);
			f->len = 0;
		} else if (f->len < sizeof(f->part)) {
			f->part[f->len++] = (char)data[i];
		}
	}
	fflush(stdout);
}

static int events_each(const Switchyard__CtlResponse *res, void *arg)
{
	struct ev_filter *f = arg;

	if (res->code != CTL_OK)
		return print_response(f->o, res);
	event_lines(f, res->output.data, res->output.len);
	return 0;
}

static int events_follow(struct yc_opts *o, Switchyard__CtlRequest *req,
			 struct ev_filter *f)
{
	struct sigaction sa;
	char err[1024];
	int rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;
	if (sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1)
		return print_error(o, CTL_FAIL, "sigaction: %s",
				   strerror(errno));
	rc = client_stream(o->socket, req, 0, events_each, f, err,
			   sizeof(err));
	if (rc != CTL_OK)
		return print_error(o, rc, "%s", err);
	return rc;
}

int cmd_events(struct yc_opts *o, int argc, char **argv)
{
	Switchyard__CtlRequest req = SWITCHYARD__CTL_REQUEST__INIT;
	Switchyard__CtlResponse *res;
	struct ev_filter *f;
	char *args[3] = { "all", "", NULL }, *ring[2] = { "--ring", NULL };
	char err[1024];
	int i, rc;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return print_error(o, CTL_FAIL, "out of memory");
	f->o = o;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0) {
			req.follow = 1;
		} else if (strcmp(argv[i], "--json") == 0) {
			o->json = 1;
		} else if (strcmp(argv[i], "--outcome") == 0 && i + 1 < argc) {
			f->outcome = args[1] = argv[++i];
		} else if (strcmp(argv[i], "--ring") == 0 && i + 1 < argc) {
			ring[1] = argv[++i];
		} else if (strncmp(argv[i], "--outcome=", 10) == 0) {
			f->outcome = args[1] = argv[i] + 10;
		} else if (strcmp(argv[i], "--request-id") == 0 &&
		           i + 1 < argc) {
			f->rid = args[2] = argv[++i];
		} else if (strncmp(argv[i], "--request-id=", 13) == 0) {
			f->rid = args[2] = argv[i] + 13;
		} else if (argv[i][0] == '-' || f->worker != NULL) {
			free(f);
			return yc_usage("events", "unexpected argument: %s",
					argv[i]);
		} else if (strcmp(argv[i], "all") != 0) {
			f->worker = args[0] = argv[i];
		}
	}
	req.command = "events";
	req.n_args = args[2] != NULL ? 3 : *args[1] ? 2 : 1;
	req.args = args;
	if (ring[1] != NULL) {
		free(f);
		req.n_args = 2;
		req.args = ring;
		return yc_call(o, &req, -1, print_response);
	}
	if (req.follow) {
		rc = events_follow(o, &req, f);
		free(f);
		return rc;
	}
	rc = client_call(o->socket, &req, -1, &res, err, sizeof(err));
	if (rc != CTL_OK) {
		free(f);
		return print_error(o, rc, "%s", err);
	}
	if (res->code != CTL_OK)
		rc = print_response(o, res);
	else
		event_lines(f, res->output.data, res->output.len);
	if (res->code == CTL_OK && res->output.len == 0 && !o->json &&
	    res->message != NULL && *res->message != '\0')
		fprintf(stderr, "yardctl: events: %s\n", res->message);
	switchyard__ctl_response__free_unpacked(res, NULL);
	free(f);
	return rc;
}
