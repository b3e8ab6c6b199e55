/*
 * crash: a tenant that fails on request, to show how the platform contains
 * failures.
 *   GET /crash      the process dies (abort): the client gets the 500 page
 *                   naming the `exception` outcome, the next request a new
 *                   process
 *   GET /exception  the handler reports failure: same page, process lives on
 *   GET /exit       the process exits with status 3
 *   anything else   200 "crash worker alive, pid N"
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <workershim.h>

static int crash(ws_request *req, ws_response *res, void *ctx)
{
	const char *path = ws_req_path(req);

	if (strcmp(path, "/crash") == 0) {
		ws_log(WS_LOG_ERROR, "crashing on purpose");
		abort();
	}
	if (strcmp(path, "/exception") == 0)
		return -1;
	if (strcmp(path, "/exit") == 0)
		exit(3);
	ws_res_header(res, "Content-Type", "text/plain; charset=utf-8");
	ws_res_printf(res, "crash worker alive, pid %ld\n", (long)getpid());
	return 0;
}

int main(void)
{
	return ws_serve(crash, NULL) < 0 ? 1 : 0;
}
