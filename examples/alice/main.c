/*
 * alice: a tenant that says who it is and what it was asked, so that a
 * reader (or a test) can tell which worker answered a request.
 */
#include <workershim.h>

static int alice(ws_request *req, ws_response *res, void *ctx)
{
	ws_res_header(res, "Content-Type", "text/plain; charset=utf-8");
	ws_res_header(res, "X-Worker", "alice");
	ws_res_printf(res, "Hello from alice!\n");
	ws_res_printf(res, "%s %s\n", ws_req_method(req), ws_req_path(req));
	return 0;
}

int main(void)
{
	return ws_serve(alice, NULL) < 0 ? 1 : 0;
}
