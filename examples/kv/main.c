/*
 * A worker that exposes its KV bindings over HTTP, for tests and the KV
 * benchmark:
 *   GET /get?b=BINDING&k=KEY          the value (404 missing, 403 denied)
 *   GET /put?b=..&k=..&v=VALUE[&ttl=S] (or the request body as the value)
 *   GET /delete?b=..&k=..
 *   GET /list?b=..[&p=PREFIX][&c=CURSOR]  keys one per line; the next
 *                                        cursor in X-KV-Cursor
 *   GET /bench?b=..&k=..&n=N          N gets of KEY, then N gets through
 *                                     an undeclared binding (one round
 *                                     trip the platform refuses without
 *                                     touching the store): p50/p99 in µs.
 *                                     The shim's read cache answers all
 *                                     but the first get of KEY unless
 *                                     deployed with WS_KV_CACHE_MB=0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <workershim.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decoded value of query parameter name into buf; 0 if absent. */
static int param(const char *q, const char *name, char *buf, size_t size)
{
	size_t nl = strlen(name), o = 0;
	const char *p = q;

	while (*p) {
		if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
			for (p += nl + 1; *p && *p != '&' && o + 1 < size; p++) {
				if (*p == '%' && hexval(p[1]) >= 0 &&
				    hexval(p[2]) >= 0) {
					buf[o++] = (char)(hexval(p[1]) * 16 +
					                  hexval(p[2]));
					p += 2;
				} else
					buf[o++] = *p == '+' ? ' ' : *p;
			}
			buf[o] = '\0';
			return 1;
		}
		p = strchr(p, '&');
		if (p == NULL)
			break;
		p++;
	}
	buf[0] = '\0';
	return 0;
}

static int fail(ws_response *res, int rc)
{
	int status = rc == WS_ENOTFOUND ? 404 : rc == WS_EDENIED ? 403
	             : rc == WS_EINVAL ? 400 : 500;

	ws_res_status(res, status);
	ws_res_header(res, "X-KV-Error", ws_strerror(rc));
	ws_res_printf(res, "%s\n", ws_strerror(rc));
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Shell sort: glibc's qsort may ask the kernel for the memory size, a
 * system call the worker jail does not allow. */
static void sort_u64(uint64_t *t, int n)
{
	static const int gaps[] = {701, 301, 132, 57, 23, 10, 4, 1};
	uint64_t x;
	size_t g;
	int i, j, gap;

	for (g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++) {
		gap = gaps[g];
		for (i = gap; i < n; i++) {
			x = t[i];
			for (j = i; j >= gap && t[j - gap] > x; j -= gap)
				t[j] = t[j - gap];
			t[j] = x;
		}
	}
}

/* p50 and p99 (µs) of n timed gets through binding b. */
static void timed(const char *b, const char *k, uint64_t *t, int n,
                  double *p50, double *p99)
{
	uint64_t t0;
	void *v;
	int i;

	for (i = 0; i < n; i++) {
		t0 = now_ns();
		ws_kv_get(b, k, &v, NULL);
		t[i] = now_ns() - t0;
		ws_kv_free(v);
	}
	sort_u64(t, n);
	*p50 = t[n / 2] / 1000.0;
	*p99 = t[(n * 99) / 100] / 1000.0;
}

static int bench(const char *q, ws_response *res)
{
	char b[64], k[512], ns[16];
	double g50, g99, r50, r99;
	uint64_t *t;
	int n;

	param(q, "b", b, sizeof(b));
	param(q, "k", k, sizeof(k));
	n = param(q, "n", ns, sizeof(ns)) ? atoi(ns) : 1000;
	if (n < 1 || n > 100000 || (t = calloc((size_t)n, 8)) == NULL)
		return fail(res, WS_EINVAL);
	timed(b, k, t, n, &g50, &g99);
	timed("no_such_binding", k, t, n, &r50, &r99);
	free(t);
	/* two decimals: a get the shim's cache answers takes well under
	 * a microsecond */
	ws_res_printf(res, "n=%d get_p50_us=%.2f get_p99_us=%.2f "
	              "rtt_p50_us=%.1f rtt_p99_us=%.1f\n", n, g50, g99, r50,
	              r99);
	return 0;
}

static int list(const char *q, const char *b, ws_response *res)
{
	char p[512], c[512];
	ws_kv_keys keys;
	size_t i;
	int rc;

	param(q, "p", p, sizeof(p));
	param(q, "c", c, sizeof(c));
	if ((rc = ws_kv_list(b, p, c[0] ? c : NULL, &keys)) < 0)
		return fail(res, rc);
	if (keys.cursor != NULL)
		ws_res_header(res, "X-KV-Cursor", keys.cursor);
	for (i = 0; i < keys.n; i++)
		ws_res_printf(res, "%s\n", keys.keys[i]);
	ws_kv_keys_free(&keys);
	return 0;
}

static int handle(ws_request *req, ws_response *res, void *ctx)
{
	static char v[256 * 1024];
	const char *path = ws_req_path(req), *q = ws_req_query(req), *body;
	char b[64], k[512], ttl[16];
	size_t len;
	void *val;
	int rc;

	(void)ctx;
	if (strcmp(path, "/bench") == 0)
		return bench(q, res);
	param(q, "b", b, sizeof(b));
	param(q, "k", k, sizeof(k));
	if (strcmp(path, "/list") == 0)
		return list(q, b, res);
	if (strcmp(path, "/get") == 0) {
		if ((rc = ws_kv_get(b, k, &val, &len)) < 0)
			return fail(res, rc);
		ws_res_write(res, val, len);
		ws_kv_free(val);
		return 0;
	}
	if (strcmp(path, "/put") == 0) {
		param(q, "ttl", ttl, sizeof(ttl));
		if (param(q, "v", v, sizeof(v))) {
			body = v;
			len = strlen(v);
		} else
			body = ws_req_body(req, &len);
		rc = ws_kv_put(b, k, body, len, (uint32_t)atoi(ttl));
	} else if (strcmp(path, "/delete") == 0) {
		rc = ws_kv_delete(b, k);
	} else {
		ws_res_status(res, 404);
		ws_res_printf(res, "no such route\n");
		return 0;
	}
	if (rc < 0)
		return fail(res, rc);
	ws_res_printf(res, "ok\n");
	return 0;
}

int main(void)
{
	return ws_serve(handle, NULL);
}
