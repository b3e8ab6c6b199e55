/*
 * The request a worker sees: its id, and the Request message the router
 * packs from the head it read (http.c) for the supervisor.
 *
 * Request ids: 16 hex digits of a 64-bit counter that starts at a random
 * number, so ids stay unique across restarts of the router (two runs
 * would have to start within a few billion of each other to overlap) and
 * cost one increment each. They are not secrets: an id only names a
 * request in events and logs.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "frame.h"
#include "log.h"
#include "router.h"
#include "util.h"

/* Headers per request (http.c's MAX_FIELDS), plus the ones the router
 * adds. */
#define PB_FIELDS (REQUEST_MAX_FIELDS + 2)

static uint64_t next_id;

/* Scratch for packing one Request: the router is single-threaded. */
static Switchyard__Header pb_fields[PB_FIELDS];
static Switchyard__Header *pb_fieldp[PB_FIELDS];

void request_init(void)
{
	if (getrandom(&next_id, sizeof(next_id), 0) != sizeof(next_id))
		fatal("getrandom: the first request id");
}

void request_id_new(char id[SY_REQUEST_ID_LEN + 1])
{
	snprintf(id, SY_REQUEST_ID_LEN + 1, "%016" PRIx64, next_id++);
}

const char *request_id(struct conn *c)
{
	if (c->rid[0] == '\0')
		request_id_new(c->rid);
	return c->rid;
}

static const char *field_name(const struct conn *c, size_t i)
{
	return c->head.data + c->head.fields[i].name;
}

static const char *field_value(const struct conn *c, size_t i)
{
	return c->head.data + c->head.fields[i].value;
}

int request_expects_continue(const struct conn *c)
{
	size_t i;

	if (c->http10)
		return 0;
	for (i = 0; i < c->head.nfields; i++) {
		if (sy_strcaseeq(field_name(c, i), "expect") &&
		    sy_strcaseeq(field_value(c, i), "100-continue"))
			return 1;
	}
	return 0;
}

void request_send(struct conn *c, const char *method, uint64_t length,
                  int chunked, int end)
{
	Switchyard__Request req = SWITCHYARD__REQUEST__INIT;
	char meth[32];
	size_t i;

	snprintf(meth, sizeof(meth), "%s", method);
	for (i = 0; i < c->head.nfields; i++) {
		switchyard__header__init(&pb_fields[i]);
		pb_fields[i].name = (char *)field_name(c, i);
		pb_fields[i].value = (char *)field_value(c, i);
		pb_fieldp[i] = &pb_fields[i];
	}
	req.method = meth;
	req.url = c->head.data + c->head.url;
	req.n_headers = c->head.nfields;
	req.headers = pb_fieldp;
	req.remote_addr = c->remote;
	req.content_length = length;
	req.chunked = chunked;
	req.request_id = (char *)request_id(c);
	upstream_request(conn_stream_open(c), &req, end);
	log_debug("%s: request %s: %s %s -> stream %u", c->remote, c->rid,
	          meth, req.url, c->stream);
}
