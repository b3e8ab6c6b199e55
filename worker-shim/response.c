/*
 * Responses: the one a handler fills and the `out` of ws_dispatch.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

void res_init(struct ws_response *res)
{
	memset(res, 0, sizeof(*res));
}

void res_reset(struct ws_response *res)
{
	res->status = 0;
	hdrs_reset(&res->hdrs);
	sy_buf_reset(&res->body, SHIM_KEEP_MAX);
}

void res_release(struct ws_response *res)
{
	hdrs_free(&res->hdrs);
	sy_buf_free(&res->body);
}

/* Out-of-range statuses are ignored: the call has no way to fail. */
void ws_res_status(ws_response *res, int status)
{
	if (status >= 100 && status <= 999)
		res->status = status;
}

int ws_res_get_status(const ws_response *res)
{
	return res->status ? res->status : 200;
}

int ws_res_header(ws_response *res, const char *name, const char *value)
{
	return hdrs_add_checked(&res->hdrs, name, value);
}

const char *ws_res_get_header(const ws_response *res, const char *name)
{
	int i;

	if (name == NULL || (i = hdrs_find(&res->hdrs, name)) < 0)
		return NULL;
	return hdrs_value(&res->hdrs, i);
}

int ws_res_set_header(ws_response *res, const char *name, const char *value)
{
	return hdrs_set_checked(&res->hdrs, name, value);
}

int ws_res_del_header(ws_response *res, const char *name)
{
	if (name == NULL)
		return WS_EINVAL;
	return hdrs_del(&res->hdrs, name);
}

int ws_res_header_count(const ws_response *res)
{
	return res->hdrs.n;
}

int ws_res_header_at(const ws_response *res, int i, const char **name,
                     const char **value)
{
	return hdrs_at(&res->hdrs, i, name, value);
}

int ws_res_write(ws_response *res, const void *buf, size_t len)
{
	if (buf == NULL && len > 0)
		return WS_EINVAL;
	/* Appending the body to itself must survive the buffer moving. */
	if (len > 0 && sy_buf_holds(&res->body, buf)) {
		size_t off = (size_t)((const char *)buf - res->body.data);

		if (len > sy_buf_len(&res->body) - off)
			return WS_EINVAL;
		if (sy_buf_reserve(&res->body, len) < 0)
			return WS_ENOMEM;
		buf = res->body.data + off;
	}
	return sy_buf_add(&res->body, buf, len) < 0 ? WS_ENOMEM : 0;
}

int ws_res_printf(ws_response *res, const char *fmt, ...)
{
	struct sy_buf *b = &res->body;
	va_list ap;
	int n;

	if (fmt == NULL)
		return WS_EINVAL;
	/* Formats straight into the body; a second pass only if it was short. */
	if (sy_buf_reserve(b, 128) < 0)
		return WS_ENOMEM;
	va_start(ap, fmt);
	n = vsnprintf(b->data + b->end, b->cap - b->end, fmt, ap);
	va_end(ap);
	if (n < 0)
		return WS_EINVAL;
	if ((size_t)n >= b->cap - b->end) {
		if (n == INT_MAX || sy_buf_reserve(b, (size_t)n + 1) < 0)
			return WS_ENOMEM;
		va_start(ap, fmt);
		n = vsnprintf(b->data + b->end, b->cap - b->end, fmt, ap);
		va_end(ap);
		if (n < 0)
			return WS_EINVAL;
	}
	b->end += (size_t)n;
	return n;
}

const void *ws_res_body(const ws_response *res, size_t *len)
{
	if (len)
		*len = sy_buf_len(&res->body);
	return sy_buf_len(&res->body) ? res->body.data : NULL;
}

void ws_res_clear_body(ws_response *res)
{
	res->body.end = 0;
}

ws_response *ws_response_new(void)
{
	ws_response *res;

	if ((res = malloc(sizeof(*res))) == NULL)
		return NULL;
	res_init(res);
	return res;
}

void ws_response_free(ws_response *res)
{
	if (res == NULL || res->shim_owned)
		return;
	res_release(res);
	free(res);
}
