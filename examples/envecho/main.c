/*
 * envecho: answers with the value of the environment variable the request's
 * query names (GET /?NAME), as ws_env sees it: the deploy's --env entries
 * and the worker's secrets. A test fixture: a real worker would never echo
 * a secret.
 *
 *   yardctl deploy tenants/envecho ./envecho --env GREETING=hi
 *   curl 'http://tenants-envecho.localhost:8080/?GREETING'
 */
#include <string.h>

#include <workershim.h>

static int envecho(ws_request *req, ws_response *res, void *ctx)
{
	const char *url = ws_req_url(req), *q = strchr(url, '?'), *v;

	ws_res_header(res, "Content-Type", "text/plain");
	if (q == NULL || q[1] == '\0') {
		ws_res_status(res, 400);
		ws_res_printf(res, "name a variable: /?NAME\n");
		return 0;
	}
	if ((v = ws_env(q + 1)) == NULL) {
		ws_res_status(res, 404);
		ws_res_printf(res, "%s is not set\n", q + 1);
		return 0;
	}
	ws_res_printf(res, "%s\n", v);
	return 0;
}

int main(void)
{
	return ws_serve(envecho, NULL) < 0 ? 1 : 0;
}
