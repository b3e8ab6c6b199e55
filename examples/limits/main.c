/*
 * limits: a tenant that runs into the platform's per-request limits, for
 * tests, demos and bench/limits.sh.
 *
 *   GET /spin?ms=N       burns N ms of CPU time, then answers
 *   GET /sleep?ms=N      sleeps N ms (wall time, no CPU), then answers;
 *                        stops early when the request is canceled
 *                        (ws_req_canceled, every 10 ms), unless
 *                        &stubborn=1
 *   GET /dispatch?n=K    makes K ws_dispatch calls to tenants/hello (or
 *                        &target=NAME) and tells how many succeeded and
 *                        the first error
 *   GET /remaining       what ws_limits_remaining() says
 *   GET /call?target=NAME&cpu_ms=A&wall_ms=B&subrequests=C&path=/x?y
 *                        one ws_dispatch to tenants/NAME with those limits
 *                        (each optional, 0 = the callee's plan), for the
 *                        URL given last (path= takes the rest of the query)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <workershim.h>

#define NS "tenants"

static uint64_t now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The value of name in the query, copied into buf; "path" takes the rest
 * of the query, so it must come last. NULL when absent. */
static const char *param(const ws_request *req, const char *name, char *buf,
                         size_t size)
{
	const char *q = ws_req_query(req), *p = q, *end;
	size_t nlen = strlen(name), vlen;

	while (*p) {
		if (strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			p += nlen + 1;
			end = strcmp(name, "path") == 0 ? p + strlen(p)
			                                : p + strcspn(p, "&");
			vlen = (size_t)(end - p);
			if (vlen >= size)
				vlen = size - 1;
			memcpy(buf, p, vlen);
			buf[vlen] = '\0';
			return buf;
		}
		p += strcspn(p, "&");
		if (*p == '&')
			p++;
	}
	return NULL;
}

static unsigned long num(const ws_request *req, const char *name,
                         unsigned long dflt)
{
	char buf[32];
	const char *v = param(req, name, buf, sizeof(buf));

	return v != NULL ? strtoul(v, NULL, 10) : dflt;
}

static int spin(ws_request *req, ws_response *res)
{
	unsigned long ms = num(req, "ms", 10);
	uint64_t cpu0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	uint64_t wall0 = now_ns(CLOCK_MONOTONIC);
	uint64_t want = (uint64_t)ms * 1000000u;

	while (now_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0 < want)
		;
	ws_res_printf(res, "spun %lu ms of CPU in %llu ms\n", ms,
	              (unsigned long long)((now_ns(CLOCK_MONOTONIC) - wall0) /
	                                   1000000));
	return 0;
}

static void nap(unsigned long ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int do_sleep(ws_request *req, ws_response *res)
{
	unsigned long ms = num(req, "ms", 10), slept = 0, step;

	if (num(req, "stubborn", 0)) {
		nap(ms);
		slept = ms;
	}
	for (; slept < ms; slept += step) {
		if (ws_req_canceled(req)) {
			ws_log(WS_LOG_INFO, "canceled after %lu ms", slept);
			return 0;
		}
		step = ms - slept < 10 ? ms - slept : 10;
		nap(step);
	}
	ws_res_printf(res, "slept %lu ms\n", ms);
	return 0;
}

static int dispatch(ws_request *req, ws_response *res)
{
	unsigned long n = num(req, "n", 1), i, ok = 0;
	char target[64], first[600] = "none";
	ws_response *out = ws_response_new();
	ws_request *sub = ws_request_new("GET", "/");
	int rc;

	if (param(req, "target", target, sizeof(target)) == NULL)
		snprintf(target, sizeof(target), "hello");
	if (out == NULL || sub == NULL) {
		ws_response_free(out);
		ws_request_free(sub);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if ((rc = ws_dispatch(NS, target, sub, NULL, out)) == 0)
			ok++;
		else if (strcmp(first, "none") == 0)
			snprintf(first, sizeof(first), "call %lu: %d (%s): %s",
			         i + 1, rc, ws_strerror(rc), ws_dispatch_reason());
	}
	ws_res_printf(res, "dispatched %lu, succeeded %lu, first error: %s\n",
	              n, ok, first);
	ws_response_free(out);
	ws_request_free(sub);
	return 0;
}

static int remaining(ws_request *req, ws_response *res)
{
	ws_limits lim;
	int rc = ws_limits_remaining(&lim);

	ws_res_printf(res, "rc=%d cpu_ms=%u wall_ms=%u subrequests=%u\n", rc,
	              lim.cpu_ms, lim.wall_ms, lim.subrequests);
	return 0;
}

static int call(ws_request *req, ws_response *res)
{
	ws_limits lim = { (uint32_t)num(req, "cpu_ms", 0),
	                  (uint32_t)num(req, "wall_ms", 0),
	                  (uint32_t)num(req, "subrequests", 0) };
	char target[64], path[1024];
	ws_response *out = ws_response_new();
	ws_request *sub;
	const void *body;
	size_t len;
	int rc;

	if (param(req, "target", target, sizeof(target)) == NULL)
		snprintf(target, sizeof(target), "hello");
	if (param(req, "path", path, sizeof(path)) == NULL)
		snprintf(path, sizeof(path), "/");
	if ((sub = ws_request_new("GET", path)) == NULL || out == NULL) {
		ws_request_free(sub);
		ws_response_free(out);
		return -1;
	}
	rc = ws_dispatch(NS, target, sub, &lim, out);
	body = ws_res_body(out, &len);
	ws_res_printf(res, "rc=%d (%s) status=%d reason=%s\n", rc,
	              ws_strerror(rc), ws_res_get_status(out),
	              ws_dispatch_reason());
	ws_res_write(res, body, len);
	ws_request_free(sub);
	ws_response_free(out);
	return 0;
}

static int handle(ws_request *req, ws_response *res, void *ctx)
{
	const char *path = ws_req_path(req);

	ws_res_header(res, "Content-Type", "text/plain");
	if (strcmp(path, "/spin") == 0)
		return spin(req, res);
	if (strcmp(path, "/sleep") == 0)
		return do_sleep(req, res);
	if (strcmp(path, "/dispatch") == 0)
		return dispatch(req, res);
	if (strcmp(path, "/remaining") == 0)
		return remaining(req, res);
	if (strcmp(path, "/call") == 0)
		return call(req, res);
	ws_res_status(res, 404);
	ws_res_printf(res, "limits: no such page: %s\n", path);
	return 0;
}

int main(void)
{
	return ws_serve(handle, NULL) < 0 ? 1 : 0;
}
