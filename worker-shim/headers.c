/*
 * Header lists shared by requests and responses, and the HTTP syntax
 * checks that keep a tenant from smuggling a header break into a response
 * or subrequest.
 */
#include <stdlib.h>
#include <string.h>

#include "http_syntax.h"
#include "shim.h"

int ws_is_token(const char *s)
{
	return s != NULL && sy_http_token(s, strlen(s));
}

/* Looser than sy_http_value, as the API promises (no CR or LF,
 * workershim.h): another control character passes here; the supervisor
 * refuses a response that carries one (serve/call_answer.c), fetch drops
 * such a header (router/egress.c), a subrequest hands it to its callee. */
int ws_is_value(const char *s)
{
	return s != NULL && strpbrk(s, "\r\n") == NULL;
}

const char *hdrs_name(const struct ws_hdrs *h, int i)
{
	return h->pool.data + h->v[i].name;
}

const char *hdrs_value(const struct ws_hdrs *h, int i)
{
	return h->pool.data + h->v[i].value;
}

/* ASCII only: strcasecmp follows the locale a tenant may have set. */
static int name_eq(const char *a, const char *b)
{
	unsigned char x, y;

	do {
		x = (unsigned char)*a++;
		y = (unsigned char)*b++;
		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
	} while (x == y && x != '\0');
	return x == y;
}

int hdrs_find(const struct ws_hdrs *h, const char *name)
{
	int i;

	for (i = 0; i < h->n; i++)
		if (name_eq(hdrs_name(h, i), name))
			return i;
	return -1;
}

/* Copies name and value into the pool, which may hold them already: their
 * offsets survive the pool moving, their pointers would not. */
static int pool_put(struct ws_hdrs *h, const char *name, const char *value,
                    struct ws_hdr *out)
{
	struct sy_buf *b = &h->pool;
	size_t nl = strlen(name) + 1, vl = strlen(value) + 1;
	size_t noff = 0, voff = 0;
	int nin, vin;

	nin = sy_buf_holds(b, name);
	vin = sy_buf_holds(b, value);
	if (nin)
		noff = (size_t)(name - b->data);
	if (vin)
		voff = (size_t)(value - b->data);
	if (nl > SIZE_MAX - vl || sy_buf_reserve(b, nl + vl) < 0)
		return WS_ENOMEM;
	if (nin)
		name = b->data + noff;
	if (vin)
		value = b->data + voff;
	out->name = b->end;
	memcpy(b->data + b->end, name, nl);
	b->end += nl;
	out->value = b->end;
	memcpy(b->data + b->end, value, vl);
	b->end += vl;
	return 0;
}

int hdrs_add(struct ws_hdrs *h, const char *name, const char *value)
{
	struct ws_hdr *v;
	int cap;

	if (h->n == h->cap) {
		if (h->cap > (1 << 20))
			return WS_ENOMEM;
		cap = h->cap ? h->cap * 2 : 16;
		if ((v = realloc(h->v, (size_t)cap * sizeof(*v))) == NULL)
			return WS_ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	if (pool_put(h, name, value, &h->v[h->n]) < 0)
		return WS_ENOMEM;
	h->n++;
	return 0;
}

/* Removes every header called name at index >= from. Returns how many. */
static int hdrs_del_from(struct ws_hdrs *h, const char *name, int from)
{
	int i, j, removed;

	for (i = j = from; i < h->n; i++) {
		if (name_eq(hdrs_name(h, i), name))
			continue;
		h->v[j++] = h->v[i];
	}
	removed = h->n - j;
	h->n = j;
	return removed;
}

int hdrs_set(struct ws_hdrs *h, const char *name, const char *value)
{
	struct ws_hdr nv;
	int i;

	if ((i = hdrs_find(h, name)) < 0)
		return hdrs_add(h, name, value);
	if (pool_put(h, name, value, &nv) < 0)
		return WS_ENOMEM;
	/* The old name still sits in the pool, so the match keeps working. */
	hdrs_del_from(h, hdrs_name(h, i), i + 1);
	h->v[i] = nv;
	return 0;
}

int hdrs_del(struct ws_hdrs *h, const char *name)
{
	return hdrs_del_from(h, name, 0) > 0 ? 0 : WS_ENOTFOUND;
}

int hdrs_add_checked(struct ws_hdrs *h, const char *name, const char *value)
{
	if (!ws_is_token(name) || !ws_is_value(value))
		return WS_EINVAL;
	return hdrs_add(h, name, value);
}

int hdrs_set_checked(struct ws_hdrs *h, const char *name, const char *value)
{
	if (!ws_is_token(name) || !ws_is_value(value))
		return WS_EINVAL;
	return hdrs_set(h, name, value);
}

int hdrs_at(const struct ws_hdrs *h, int i, const char **name,
            const char **value)
{
	if (i < 0 || i >= h->n)
		return WS_EINVAL;
	if (name)
		*name = hdrs_name(h, i);
	if (value)
		*value = hdrs_value(h, i);
	return 0;
}

void hdrs_reset(struct ws_hdrs *h)
{
	h->n = 0;
	sy_buf_reset(&h->pool, SHIM_KEEP_MAX);
}

void hdrs_free(struct ws_hdrs *h)
{
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
	sy_buf_free(&h->pool);
}
