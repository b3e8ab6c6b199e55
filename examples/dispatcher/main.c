/*
 * dispatcher: the platform's dispatch worker. The router hands it every
 * request; it picks a tenant worker in the "tenants" namespace and forwards
 * the request there with ws_dispatch. The first rule that names a worker
 * wins:
 *
 *   1. host map   the exact Host, looked up in the file named by the
 *                 HOSTMAP_FILE variable ("hostname worker" per line)
 *   2. subdomain  NAME.<BASE_DOMAIN> (default example.com) goes to NAME
 *   3. path       /NAME/rest goes to NAME as /rest (the query is kept)
 *
 * Deploy it with its settings, e.g.
 *   yardctl deploy platform/dispatcher ./dispatcher \
 *       --env HOSTMAP_FILE=/etc/switchyard/hosts.map --env BASE_DOMAIN=example.com
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <workershim.h>

#define NS "tenants"
#define HOST_MAX 256
#define NAME_MAX_LEN 63

struct host_route {
	char host[HOST_MAX];
	char worker[NAME_MAX_LEN + 1];
};

static struct host_route *routes;
static size_t nroutes;
static const char *base_domain = "example.com";

/* Worker names as the platform accepts them: [a-z0-9_-], first not - or _. */
static int valid_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > NAME_MAX_LEN || s[0] == '-' || s[0] == '_')
		return 0;
	for (i = 0; i < n; i++)
		if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= '0' && s[i] <= '9') &&
		    s[i] != '-' && s[i] != '_')
			return 0;
	return 1;
}

static void lowercase(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static int add_route(const char *host, const char *worker)
{
	struct host_route *r;

	r = realloc(routes, (nroutes + 1) * sizeof(*routes));
	if (r == NULL)
		return -1;
	routes = r;
	r = &routes[nroutes++];
	/* Both fit: sscanf bounded the host, valid_name the worker. */
	memcpy(r->host, host, strlen(host) + 1);
	memcpy(r->worker, worker, strlen(worker) + 1);
	lowercase(r->host);
	return 0;
}

/* Reads "hostname worker" lines; '#' starts a comment. A file that cannot
 * be read only costs the host rules. */
static void load_hostmap(const char *path)
{
	char line[1024], host[HOST_MAX], worker[NAME_MAX_LEN + 2], extra;
	int lineno = 0, n;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		ws_log(WS_LOG_WARN, "host map %s: %s", path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		line[strcspn(line, "#\n")] = '\0';
		n = sscanf(line, "%255s %64s %c", host, worker, &extra);
		if (n <= 0)
			continue;
		if (n != 2 || !valid_name(worker, strlen(worker))) {
			ws_log(WS_LOG_WARN, "host map %s:%d: ignored, expected "
			       "\"hostname worker\"", path, lineno);
			continue;
		}
		if (add_route(host, worker) < 0) {
			ws_log(WS_LOG_ERROR, "host map %s: out of memory", path);
			break;
		}
	}
	fclose(fp);
	ws_log(WS_LOG_INFO, "host map %s: %zu hosts", path, nroutes);
}

/* The Host header without its port, lowercased; "" when absent. */
static void request_host(ws_request *req, char host[HOST_MAX])
{
	const char *h = ws_req_header(req, "Host");
	size_t n;

	if (h == NULL)
		h = "";
	n = h[0] == '[' ? strcspn(h, "]") + 1 : strcspn(h, ":");
	if (n >= HOST_MAX)
		n = 0;
	memcpy(host, h, n);
	host[n] = '\0';
	lowercase(host);
}

static const char *by_host(const char *host)
{
	size_t i;

	for (i = 0; i < nroutes; i++)
		if (strcmp(routes[i].host, host) == 0)
			return routes[i].worker;
	return NULL;
}

/* NAME from NAME.<base_domain>, copied into name. */
static int by_subdomain(const char *host, char *name)
{
	size_t hl = strlen(host), bl = strlen(base_domain), n;

	if (hl <= bl + 1 || strcasecmp(host + hl - bl, base_domain) != 0 ||
	    host[hl - bl - 1] != '.')
		return 0;
	n = hl - bl - 1;
	if (!valid_name(host, n))
		return 0;
	memcpy(name, host, n);
	name[n] = '\0';
	return 1;
}

/* NAME from /NAME/rest; the request then goes on as /rest?query. */
static int by_path(ws_request *req, char *name)
{
	const char *path = ws_req_path(req), *rest, *query;
	size_t n = strcspn(path + 1, "/"), len;
	char *url;
	int rc;

	if (path[0] != '/' || !valid_name(path + 1, n))
		return 0;
	memcpy(name, path + 1, n);
	name[n] = '\0';
	rest = path + 1 + n;
	query = ws_req_query(req);
	len = strlen(rest) + strlen(query) + 3;
	if ((url = malloc(len)) == NULL)
		return -1;
	snprintf(url, len, "%s%s%s%s", *rest ? "" : "/", rest,
	         *query ? "?" : "", query);
	rc = ws_req_set_url(req, url);
	free(url);
	return rc < 0 ? -1 : 1;
}

/* Picks the worker for req into name: 1, 0 if no rule matched, -1 on
 * failure. */
static int route(ws_request *req, const char *host, char *name)
{
	const char *worker;

	if ((worker = by_host(host)) != NULL) {
		snprintf(name, NAME_MAX_LEN + 1, "%s", worker);
		return 1;
	}
	if (by_subdomain(host, name))
		return 1;
	return by_path(req, name);
}

static void not_found(ws_response *res)
{
	ws_res_clear_body(res);
	ws_res_status(res, 404);
	ws_res_set_header(res, "Content-Type", "text/plain; charset=utf-8");
}

static int dispatch(ws_request *req, ws_response *res, void *ctx)
{
	char host[HOST_MAX], name[NAME_MAX_LEN + 1];
	char to[sizeof(NS) + NAME_MAX_LEN + 1];
	int rc;

	request_host(req, host);
	if ((rc = route(req, host, name)) < 0)
		return -1;
	if (rc == 0) {
		not_found(res);
		ws_res_printf(res, "Worker not found: no route for host %s path %s\n",
		              host, ws_req_path(req));
		return 0;
	}
	rc = ws_dispatch(NS, name, req, NULL, res);
	/* On any other failure res already holds the platform's error page. */
	if (rc == WS_ENOTFOUND) {
		not_found(res);
		ws_res_printf(res, "Worker not found: %s\n", name);
	}
	snprintf(to, sizeof(to), "%s/%s", NS, name);
	ws_res_set_header(res, "X-Dispatched-To", to);
	return 0;
}

int main(void)
{
	const char *path = ws_env("HOSTMAP_FILE"), *base = ws_env("BASE_DOMAIN");
	int rc;

	if (base != NULL && *base != '\0')
		base_domain = base;
	if (path != NULL && *path != '\0')
		load_hostmap(path);
	rc = ws_serve(dispatch, NULL);
	free(routes);
	return rc < 0 ? 1 : 0;
}
