/*
 * hello: the smallest Switchyard worker.
 *
 *   cc main.c $(pkg-config --cflags --libs workershim) -o hello
 *   yardctl deploy tenants/hello ./hello
 */
#include <workershim.h>

static int hello(ws_request *req, ws_response *res, void *ctx)
{
	ws_res_header(res, "Content-Type", "text/plain");
	ws_res_printf(res, "hello world\n");
	return 0;
}

int main(void)
{
	return ws_serve(hello, NULL) < 0 ? 1 : 0;
}
