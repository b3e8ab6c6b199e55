/*
 * bob: a tenant that echoes the path it received. Behind the dispatcher,
 * GET /bob/hello reaches bob as /hello.
 */
#include <workershim.h>

static int bob(ws_request *req, ws_response *res, void *ctx)
{
	ws_res_header(res, "Content-Type", "text/plain; charset=utf-8");
	ws_res_header(res, "X-Worker", "bob");
	ws_res_printf(res, "Hello from bob!\n%s\n", ws_req_url(req));
	return 0;
}

int main(void)
{
	return ws_serve(bob, NULL) < 0 ? 1 : 0;
}
