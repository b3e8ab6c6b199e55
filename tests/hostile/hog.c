/*
 * Hostile worker, resource family: a tenant that takes more than its
 * plan's share, to starve the others on the host.
 *
 *   GET /memory?MB   allocates and touches MB MiB, one MiB at a time
 *   GET /spin?MS     burns CPU for MS ms of wall time; answers
 *                    "spin: wall_ms=W cpu_ms=C" (C/W is the share it got)
 *   GET /forkbomb    fork() in a loop, children too
 *   anything else    "alive pid N uid U"
 *
 * /memory answers only if the cap did not stop it: "memory: allocated N
 * MiB", or "memory: malloc failed after N MiB" when an address-space limit
 * refused the allocation instead.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <workershim.h>

#define MIB (1024L * 1024L)

static long ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Touching every page is what makes the memory real (and counted). */
static int memory(long mb, ws_response *res)
{
	char **blocks = calloc((size_t)mb + 1, sizeof(*blocks));
	long i;

	for (i = 0; blocks != NULL && i < mb; i++) {
		if ((blocks[i] = malloc(MIB)) == NULL)
			break;
		memset(blocks[i], (int)i, MIB);
	}
	if (blocks == NULL || i < mb)
		ws_res_printf(res, "memory: malloc failed after %ld MiB\n", i);
	else
		ws_res_printf(res, "memory: allocated %ld MiB\n", i);
	while (blocks != NULL && i > 0)
		free(blocks[--i]);
	free(blocks);
	return 0;
}

static int spin(long wall_ms, ws_response *res)
{
	long start = ms(CLOCK_MONOTONIC), cpu0 = ms(CLOCK_PROCESS_CPUTIME_ID);
	volatile unsigned long x = 0;

	while (ms(CLOCK_MONOTONIC) - start < wall_ms)
		x++;
	ws_res_printf(res, "spin: wall_ms=%ld cpu_ms=%ld\n",
	              ms(CLOCK_MONOTONIC) - start,
	              ms(CLOCK_PROCESS_CPUTIME_ID) - cpu0);
	return 0;
}

static int forkbomb(ws_response *res)
{
	long n = 0;

	while (fork() >= 0)
		n++;
	ws_res_printf(res, "forkbomb: errno=%d %s after %ld forks\n", errno,
	              strerrorname_np(errno), n);
	return 0;
}

static int hostile(ws_request *req, ws_response *res, void *ctx)
{
	const char *path = ws_req_path(req);

	ws_res_header(res, "Content-Type", "text/plain");
	if (strcmp(path, "/memory") == 0)
		return memory(atol(ws_req_query(req)), res);
	if (strcmp(path, "/spin") == 0)
		return spin(atol(ws_req_query(req)), res);
	if (strcmp(path, "/forkbomb") == 0)
		return forkbomb(res);
	ws_res_printf(res, "alive pid %ld uid %ld\n", (long)getpid(),
	              (long)getuid());
	return 0;
}

int main(void)
{
	return ws_serve(hostile, NULL) < 0 ? 1 : 0;
}
