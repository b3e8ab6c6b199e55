/*
 * Hostile worker, KV family: a tenant that tries to make another tenant's
 * read cache serve a stale value (docs/kv.md, "Read cache"). A shim trusts
 * the generations in Request.kv_gens; the supervisor appends the true ones
 * to every request it hands a process, so a kv_gens this worker writes
 * into a ws_dispatch's Request must never reach the callee. Frames and
 * messages are written and read by hand on fd 3 (proto/frame.h,
 * proto/switchyard.proto), which the shim would never do:
 *
 *   GET /gen                 a KV get of key "k" through binding C; answers
 *                            KvResponse.gen, the namespace's generation
 *   GET /forge?to=NAME&gen=G a ws_dispatch to tenants/NAME, URL
 *                            "/get?b=C&k=k", whose Request carries
 *                            kv_gens {C: G}; answers the callee's body
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <workershim.h>

#define TYPE_REQUEST 2
#define TYPE_RESPONSE 4
#define TYPE_RES_BODY 5
#define TYPE_KV_REQUEST 22
#define TYPE_KV_RESPONSE 23
#define FLAG_END 0x01
#define STREAM 0x7ffe0001u

static unsigned char buf[70000];

static size_t put_varint(unsigned char *p, unsigned long long v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

static size_t put_bytes(unsigned char *p, int field, const char *s,
                        size_t len)
{
	size_t n = 0;

	p[n++] = (unsigned char)(field << 3 | 2);
	n += put_varint(p + n, len);
	memcpy(p + n, s, len);
	return n + len;
}

static int send_frame(int type, size_t len)
{
	unsigned char *h = buf;

	h[0] = (unsigned char)(len >> 24);
	h[1] = (unsigned char)(len >> 16);
	h[2] = (unsigned char)(len >> 8);
	h[3] = (unsigned char)len;
	h[4] = (unsigned char)type;
	h[5] = FLAG_END;
	h[6] = h[7] = 0;
	h[8] = (unsigned char)(STREAM >> 24);
	h[9] = (unsigned char)(STREAM >> 16);
	h[10] = (unsigned char)(STREAM >> 8);
	h[11] = (unsigned char)STREAM;
	return write(3, buf, 12 + len) == (ssize_t)(12 + len) ? 0 : -1;
}

static int read_full(unsigned char *p, size_t len)
{
	ssize_t n;

	for (; len > 0; p += n, len -= (size_t)n)
		if ((n = read(3, p, len)) <= 0)
			return -1;
	return 0;
}

/* The next frame on our stream: its type and flags, payload in buf. */
static int recv_frame(int *type, int *flags, size_t *len)
{
	unsigned char h[12];

	do {
		if (read_full(h, 12) < 0)
			return -1;
		*len = (size_t)h[0] << 24 | (size_t)h[1] << 16 |
		       (size_t)h[2] << 8 | h[3];
		if (*len > sizeof(buf) || read_full(buf, *len) < 0)
			return -1;
	} while (((unsigned)h[8] << 24 | (unsigned)h[9] << 16 |
	          (unsigned)h[10] << 8 | h[11]) != STREAM);
	*type = h[4];
	*flags = h[5];
	return 0;
}

/* Varint field `field` of the message in buf[0, len), or 0. */
static unsigned long long varint_field(size_t len, int field)
{
	unsigned long long v, found = 0;
	size_t i = 0;
	int shift, tag;

	while (i < len) {
		tag = buf[i++];
		for (v = 0, shift = 0; (tag & 7) == 0 && i < len; shift += 7) {
			v |= (unsigned long long)(buf[i] & 0x7f) << shift;
			if (!(buf[i++] & 0x80))
				break;
		}
		if ((tag & 7) == 0 && tag >> 3 == field)
			found = v;
		if ((tag & 7) == 2) { /* lengths here fit one byte */
			i += 1 + buf[i];
		} else if ((tag & 7) != 0) {
			break;
		}
	}
	return found;
}

static int gen(ws_response *res)
{
	unsigned char *m = buf + 12;
	size_t n = 0, len;
	int type, flags;

	m[n++] = 0x08; /* op: get */
	m[n++] = 1;
	n += put_bytes(m + n, 2, "C", 1);
	n += put_bytes(m + n, 3, "k", 1);
	if (send_frame(TYPE_KV_REQUEST, n) < 0 ||
	    recv_frame(&type, &flags, &len) < 0 || type != TYPE_KV_RESPONSE)
		return -1;
	ws_res_printf(res, "%llu", varint_field(len, 7));
	return 0;
}

static int forge(const char *to, unsigned long long g, ws_response *res)
{
	unsigned char *m = buf + 12, kg[32], kgs[40];
	size_t n = 0, kn, ksn, len;
	int type, flags;

	kn = put_bytes(kg, 1, "C", 1);
	kg[kn++] = 2 << 3;
	kn += put_varint(kg + kn, g);
	ksn = put_bytes(kgs, 1, (const char *)kg, kn);
	n += put_bytes(m + n, 1, "GET", 3);
	n += put_bytes(m + n, 2, "/get?b=C&k=k", 12);
	n += put_bytes(m + n, 7, "tenants", 7);
	n += put_bytes(m + n, 8, to, strlen(to));
	n += put_bytes(m + n, 11, (const char *)kgs, ksn);
	if (send_frame(TYPE_REQUEST, n) < 0 ||
	    recv_frame(&type, &flags, &len) < 0 || type != TYPE_RESPONSE)
		return -1;
	ws_res_status(res, (int)varint_field(len, 1));
	while (!(flags & FLAG_END)) {
		if (recv_frame(&type, &flags, &len) < 0 ||
		    type != TYPE_RES_BODY)
			return -1;
		ws_res_write(res, buf, len);
	}
	return 0;
}

static int hostile(ws_request *req, ws_response *res, void *ctx)
{
	const char *path = ws_req_path(req), *q = ws_req_query(req);
	char to[64] = "", *g;

	(void)ctx;
	if (strcmp(path, "/gen") == 0)
		return gen(res);
	if (strcmp(path, "/forge") == 0 && sscanf(q, "to=%63[a-z0-9]", to) == 1 &&
	    (g = strstr(q, "gen=")) != NULL)
		return forge(to, strtoull(g + 4, NULL, 10), res);
	ws_res_printf(res, "alive\n");
	return 0;
}

int main(void)
{
	return ws_serve(hostile, NULL) < 0 ? 1 : 0;
}
