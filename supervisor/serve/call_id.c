/*
 * The request id of a call (call.h): read from the router's Request
 * without unpacking it, and the log line under it when a call fails,
 * which holds what the client's error page does not (docs/events.md,
 * "Request ids").
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "outcome.h"
#include "pbscan.h"
#include "serve/call.h"
#include "serve/call_state.h"

/* Outcomes any client can cause in bulk and that hide nothing (the
 * queue's, a cancel, an unknown worker) are logged at debug level only. */
void call_log_failed(const struct call *c, const char *worker,
                     Switchyard__Outcome o, uint32_t status,
                     const char *reason, const char *violation)
{
	int quiet = o == SWITCHYARD__OUTCOME__LOAD_SHED ||
	            o == SWITCHYARD__OUTCOME__CANCELED ||
	            o == SWITCHYARD__OUTCOME__SCRIPT_NOT_FOUND;
	const char *v = violation != NULL ? violation : "";
	char line[1536];

	if (o == SWITCHYARD__OUTCOME__OK)
		return;
	snprintf(line, sizeof(line), "request %s: worker %s: %s (%u): %s%s%s",
	         c->rid[0] ? c->rid : "-", worker, sy_outcome_name(o), status,
	         reason != NULL ? reason : "", *v ? "; violation: " : "", v);
	if (quiet)
		log_debug("%s", line);
	else
		log_info("%s", line);
}

int call_router_request_id(const struct sy_frame *f,
                           char id[SY_REQUEST_ID_LEN + 1])
{
	static uint32_t field;
	const uint8_t *v;
	size_t n;
	int rc;

	if (field == 0)
		field = protobuf_c_message_descriptor_get_field_by_name(
			&switchyard__request__descriptor, "request_id")->id;
	id[0] = '\0';
	if ((rc = sy_pb_find_bytes(f->payload, f->len, field, &v, &n)) == 0)
		return 0;
	if (rc == -1 || !sy_request_id_valid((const char *)v, n))
		return -1;
	memcpy(id, v, n);
	id[n] = '\0';
	return 0;
}

const char *call_rid_note(const struct call *c, char buf[CALL_RID_NOTE])
{
	if (c == NULL || c->rid[0] == '\0')
		return "";
	snprintf(buf, CALL_RID_NOTE, " (request %s)", c->rid);
	return buf;
}
