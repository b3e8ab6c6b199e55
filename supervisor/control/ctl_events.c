/*
 * yardctl events: the request events kept (serve/events.c), filtered by
 * worker, outcome and request id, and followed; and switching the ring on
 * and off.
 */
#include <stdio.h>
#include <string.h>

#include "control/ctl.h"
#include "frame.h"
#include "log.h"
#include "names.h"
#include "outcome.h"
#include "serve/events.h"
#include "serve/logring.h"

/* 1 if s is the name of an outcome. */
static int outcome_known(const char *s)
{
	const ProtobufCEnumDescriptor *d = &switchyard__outcome__descriptor;
	unsigned i;

	for (i = 0; i < d->n_values; i++) {
		if (strcmp(s, sy_outcome_name(d->values[i].value)) == 0)
			return 1;
	}
	return 0;
}

/* events --ring on|off: whether events are kept when nobody follows. */
static void events_ring_set(const char *arg, struct ctl_reply *rep)
{
	char safe[16];

	if (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0) {
		ctl_fail(rep, CTL_USAGE, "events --ring: %s: expected on or off",
		         ctl_safe(arg, safe, sizeof(safe)));
		return;
	}
	events_ring(strcmp(arg, "on") == 0);
	log_info("control: uid %u: events ring %s", (unsigned)rep->uid, arg);
	snprintf(rep->message, sizeof(rep->message), "events ring %s", arg);
}

/* The filter of `events [NS/NAME [OUTCOME [REQUEST_ID]]]` ("" for an
 * OUTCOME that is not given). 0, or -1 once rep says why. */
static int events_filter_of(const Switchyard__CtlRequest *req,
                            struct events_filter *f, char *worker,
                            size_t wsize, struct ctl_reply *rep)
{
	struct ctl_sel sel;
	char safe[64];

	if (ctl_parse_sel("events", req->n_args > 0 ? req->args[0] : NULL,
	                  &sel, rep) == -1)
		return -1;
	if (sel.all_ns) {
		ctl_fail(rep, CTL_BAD_INPUT, "events %s: name one worker or all",
		         sel.text);
		return -1;
	}
	snprintf(worker, wsize, "%s/%s", sel.ns, sel.name);
	f->worker = sel.any ? NULL : worker;
	f->outcome = req->n_args > 1 && *req->args[1] ? req->args[1] : NULL;
	f->rid = req->n_args > 2 ? req->args[2] : NULL;
	if (f->outcome != NULL && !outcome_known(f->outcome)) {
		ctl_fail(rep, CTL_USAGE, "events: %s: not an outcome (ok, "
		         "exception, exceededCpu, ...)",
		         ctl_safe(f->outcome, safe, sizeof(safe)));
		return -1;
	}
	if (f->rid != NULL && !sy_request_id_valid(f->rid, strlen(f->rid))) {
		ctl_fail(rep, CTL_USAGE, "events: %s: not a request id (16 hex "
		         "digits, as in the Switchyard-Request-Id header)",
		         ctl_safe(f->rid, safe, sizeof(safe)));
		return -1;
	}
	return 0;
}

void ctl_events(const Switchyard__CtlRequest *req, int fd,
                struct ctl_reply *rep)
{
	char worker[2 * SY_NAME_MAX];
	struct events_filter f;
	size_t len;

	(void)fd;
	if (req->n_args == 2 && strcmp(req->args[0], "--ring") == 0) {
		events_ring_set(req->args[1], rep);
		return;
	}
	if (req->n_args > 3) {
		ctl_fail(rep, CTL_USAGE, "events: expected [NS/NAME [OUTCOME "
		         "[REQUEST_ID]]]");
		return;
	}
	if (events_filter_of(req, &f, worker, sizeof(worker), rep) == -1)
		return;
	rep->output = (uint8_t *)events_dump(&f, SY_FRAME_MAX - 4096, &len);
	if (rep->output == NULL) {
		ctl_fail(rep, CTL_FAIL, "events: out of memory");
		return;
	}
	rep->res.output.data = rep->output;
	rep->res.output.len = len;
	if (!events_ring_on())
		snprintf(rep->message, sizeof(rep->message), "events are kept "
		         "only while the ring is on (yardctl events --ring on)");
	if (req->follow) {
		rep->res.more = 1;
		rep->follow = events_stream();
		rep->follow_off = events_stream()->total;
	}
}
