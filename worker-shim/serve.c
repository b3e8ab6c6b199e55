/*
 * ws_serve: the worker's main loop. One request at a time: read a REQUEST
 * and its body, run the handler, answer with one RESPONSE and its body.
 * A dispatch worker may have been sent several (its plan's concurrency):
 * it serves them in the order they came, the others waiting in later.c.
 *
 * Every REQUEST is answered with exactly one RESPONSE, even one the
 * supervisor canceled or one that failed validation (outcome EXCEPTION), so
 * the supervisor can take that RESPONSE as "this process is free again".
 */

#include <string.h>

#include "shim.h"

enum { NEXT_OK = 0, NEXT_EOF = 1 };

/* Why a request is answered without running the handler. */
enum body_result { BODY_OK, BODY_REFUSED, BODY_CANCELED };

int serve_read_body(uint32_t stream, struct ws_request *req, int *refused,
                    int *canceled, int *eof)
{
	struct sy_frame f;
	int rc;

	for (;;) {
		if ((rc = chan_recv(&f)) <= 0) {
			*eof = rc == 0;
			return rc;
		}
		if (f.type == SY_MSG_CANCEL && f.stream == stream) {
			*canceled = 1;
			return 0;
		}
		if (chan_stale(&f, 0))
			continue;
		if (f.type != SY_MSG_REQ_BODY || f.stream != stream)
			return WS_EIO;
		if (f.flags & SY_FLAG_ABORT) {
			*canceled = 1;
			return 0;
		}
		if (!*refused &&
		    (f.len > SHIM_BODY_MAX - sy_buf_len(&req->body) ||
		     sy_buf_add(&req->body, f.payload, f.len) < 0))
			*refused = 1;
		if (f.flags & SY_FLAG_END)
			return 0;
	}
}

/*
 * Reads the body of the REQUEST on stream into req, unless the platform
 * holds it. A body over SHIM_BODY_MAX, or one there is no memory for, is
 * still read to its end (the stream must be drained) and then refused in
 * *res. Returns 0, or WS_EIO; *eof is set when the supervisor closed the
 * channel.
 */
static int read_req_body(uint32_t stream, struct ws_request *req,
                         enum body_result *res, int *eof)
{
	int refused = *res != BODY_OK, canceled = 0, rc;

	if (req->body_held)
		return 0;
	rc = serve_read_body(stream, req, &refused, &canceled, eof);
	if (canceled)
		*res = BODY_CANCELED;
	else if (refused)
		*res = BODY_REFUSED;
	return rc;
}

/* Checks and copies the REQUEST payload into req. WS_EIO if it does not
 * even unpack; BODY_REFUSED in *res if a field is invalid. */
static int take_request(const struct sy_frame *f, struct ws_request *req,
                        enum body_result *res)
{
	Switchyard__Request *pb;
	struct shim_chan *c = &shim_chan;
	uint64_t hint;

	pb = switchyard__request__unpack(NULL, f->len, f->payload);
	if (pb == NULL)
		return WS_EIO;
	*res = req_from_pb(req, pb) < 0 ? BODY_REFUSED : BODY_OK;
	req->body_held = pb->body_held && !(f->flags & SY_FLAG_END);
	c->has_limits = pb->limits != NULL;
	if (c->has_limits) {
		c->lim.cpu_ms = pb->limits->cpu_ms;
		c->lim.wall_ms = pb->limits->wall_ms;
		c->lim.subrequests = pb->limits->subrequests;
	}
	c->cpu0_ns = pb->cpu_base_ns;
	kv_cache_begin(&pb->kv_gens);
	c->rid[0] = '\0';
	if (sy_request_id_valid(pb->request_id, strlen(pb->request_id)))
		memcpy(c->rid, pb->request_id, SY_REQUEST_ID_LEN + 1);
	hint = pb->content_length;
	switchyard__request__free_unpacked(pb, NULL);
	/* Trust the declared length only as far as a moderate reservation. */
	if (*res == BODY_OK && hint > 0 && hint <= SHIM_KEEP_MAX &&
	    sy_buf_reserve(&req->body, (size_t)hint) < 0)
		*res = BODY_REFUSED;
	return 0;
}

static int run_handler(uint32_t stream, ws_handler handler, void *ctx,
                       struct ws_request *req, struct ws_response *res)
{
	struct shim_chan *c = &shim_chan;
	int hr;

	c->in_handler = 1;
	c->stream = stream;
	c->canceled = 0;
	c->sub_used = 0;
	/* the supervisor said where this request's CPU time starts (its
	 * reading at the previous one's end): no clock read of ours */
	if (c->cpu0_ns == 0)
		c->cpu0_ns = shim_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	c->wall0_ns = shim_clock_ns(CLOCK_MONOTONIC);
	hr = handler(req, res, ctx);
	c->in_handler = 0;
	kv_cache_end();
	if (c->state == CHAN_EOF) {
		forward_finish(stream, req, 0);
		return NEXT_EOF;
	}
	if (c->state != CHAN_OPEN) {
		forward_finish(stream, req, 0);
		return WS_EIO;
	}
	if (hr < 0) {
		forward_finish(stream, req, 0);
		return chan_send_exception(stream);
	}
	if (c->forward != NULL)
		return forward_finish(stream, req, 1);
	return chan_send_response(stream, res);
}

static int serve_request(const struct sy_frame *f, ws_handler handler,
                         void *ctx, struct ws_request *req,
                         struct ws_response *res)
{
	struct shim_chan *c = &shim_chan;
	uint32_t stream = f->stream;
	enum body_result br;
	int rc, eof = 0;

	c->serving = 1;
	c->stream = stream;
	if ((rc = take_request(f, req, &br)) < 0)
		return rc;
	if (!(f->flags & SY_FLAG_END)) {
		/* f's payload is gone after this: take_request copied it. */
		if ((rc = read_req_body(stream, req, &br, &eof)) < 0 || eof)
			return eof ? NEXT_EOF : rc;
	}
	/* canceled while it waited behind the ones before it: not run */
	if (br == BODY_OK && later_canceled(stream))
		br = BODY_CANCELED;
	if (br != BODY_OK)
		rc = chan_send_exception(stream);
	else
		rc = run_handler(stream, handler, ctx, req, res);
	req_reset(req);
	res_reset(res);
	return rc;
}

/* Handles one frame from the supervisor while no request is running. */
static int serve_next(ws_handler handler, void *ctx, struct ws_request *req,
                      struct ws_response *res)
{
	struct sy_frame f;
	int rc;

	if ((rc = chan_recv(&f)) <= 0)
		return rc == 0 ? NEXT_EOF : rc;
	switch (f.type) {
	case SY_MSG_REQUEST:
		rc = serve_request(&f, handler, ctx, req, res);
		shim_chan.serving = 0;
		return rc;
	case SY_MSG_CANCEL:
		/* For a request already answered: nothing left to stop. */
		return NEXT_OK;
	default:
		if (chan_stale(&f, 0))
			return NEXT_OK;
		return WS_EIO;
	}
}

int ws_serve(ws_handler handler, void *ctx)
{
	struct ws_request req;
	struct ws_response res;
	int rc;

	if (handler == NULL || shim_chan.state != CHAN_CLOSED)
		return WS_EINVAL;
	if ((rc = chan_open(SHIM_FD)) < 0)
		return rc;
	req_init(&req);
	res_init(&res);
	req.shim_owned = res.shim_owned = 1;
	rc = chan_send_hello();
	while (rc == NEXT_OK)
		rc = serve_next(handler, ctx, &req, &res);
	req_release(&req);
	res_release(&res);
	kv_cache_free();
	chan_close();
	return rc == NEXT_EOF ? 0 : rc;
}

int ws_req_canceled(const ws_request *req)
{
	if (req == NULL || !req->shim_owned || !shim_chan.in_handler)
		return 0;
	return chan_poll_cancel() == 1;
}
