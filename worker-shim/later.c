/*
 * Frames for later: a dispatch worker's process may be sent several
 * requests at once (the plan's concurrency), and it serves them one after
 * another. What arrives for the requests after the one being served (their
 * REQUEST, body and CANCEL frames) waits here, copied, while the handler
 * reads the channel for its own frames (a KV answer, a subrequest's
 * response, its held body); chan_recv hands them out in order once their
 * turn comes. The supervisor sends at most `concurrency` requests, so the
 * list stays short and a linear search is enough.
 */
#include <stdlib.h>
#include <string.h>

#include "shim.h"

struct later {
	struct later *next;
	struct sy_frame f;
	uint8_t data[];
};

static struct later *head, *tail;
static struct later *given; /* the frame chan_recv last handed out */

/* 1 if a REQUEST for stream waits here. */
static int request_waits(uint32_t stream)
{
	const struct later *l;

	for (l = head; l != NULL; l = l->next) {
		if (l->f.type == SY_MSG_REQUEST && l->f.stream == stream)
			return 1;
	}
	return 0;
}

int later_belongs(const struct sy_frame *f, uint32_t serving)
{
	if (f->type == SY_MSG_REQUEST)
		return 1;
	if (f->stream == serving ||
	    (f->type != SY_MSG_REQ_BODY && f->type != SY_MSG_CANCEL))
		return 0;
	return request_waits(f->stream);
}

int later_keep(const struct sy_frame *f)
{
	struct later *l = malloc(sizeof(*l) + f->len);

	if (l == NULL)
		return WS_ENOMEM;
	l->next = NULL;
	l->f = *f;
	memcpy(l->data, f->payload, f->len);
	l->f.payload = l->data;
	if (tail != NULL)
		tail->next = l;
	else
		head = l;
	tail = l;
	return 0;
}

/* Unlinks *pp (whose predecessor is prev) and makes it the given one. */
static void give(struct later **pp, struct later *prev, struct sy_frame *f)
{
	struct later *l = *pp;

	*pp = l->next;
	if (tail == l)
		tail = prev;
	*f = l->f;
	given = l;
}

int later_take(struct sy_frame *f, int any, uint32_t serving)
{
	struct later **pp, *prev = NULL;

	free(given);
	given = NULL;
	for (pp = &head; *pp != NULL; prev = *pp, pp = &(*pp)->next) {
		if (any || !later_belongs(&(*pp)->f, serving)) {
			give(pp, prev, f);
			return 1;
		}
	}
	return 0;
}

int later_canceled(uint32_t stream)
{
	const struct later *l;

	for (l = head; l != NULL; l = l->next) {
		if (l->f.type == SY_MSG_CANCEL && l->f.stream == stream)
			return 1;
	}
	return 0;
}

void later_free(void)
{
	struct later *l;

	free(given);
	given = NULL;
	while ((l = head) != NULL) {
		head = l->next;
		free(l);
	}
	tail = NULL;
}
