/*
 * route.c: which tenant a request is for. The routes live in KV, read on
 * every request (the shim answers repeated reads from its cache until the
 * namespace changes), so `yardctl kv put` changes where the very next
 * request goes; the fallbacks after it need no data at all.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dispatcher.h"

/* Worker names as the platform accepts them: [a-z0-9_-], first not - or _. */
int valid_name(const char *s, size_t n)
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

/* The Host header without its port or a final dot, lowercased; "" when
 * absent or too long. */
void request_host(ws_request *req, char host[HOST_MAX])
{
	const char *h = ws_req_header(req, "Host");
	size_t n, i;

	if (h == NULL)
		h = "";
	n = h[0] == '[' ? strcspn(h, "]") + 1 : strcspn(h, ":");
	if (n >= HOST_MAX)
		n = 0;
	if (n > 0 && h[n - 1] == '.')
		n--;
	for (i = 0; i < n; i++)
		host[i] = (char)tolower((unsigned char)h[i]);
	host[n] = '\0';
}

/* The KV route of host: 1 found (rt->meta filled), 0 none, 2 res holds
 * the answer. */
static int by_kv(const char *host, struct route *rt, ws_response *res)
{
	static int warned_unbound;
	char key[sizeof("host:") + HOST_MAX], why[256];
	size_t len;
	void *val;
	int rc;

	if (host[0] == '\0')
		return 0;
	snprintf(key, sizeof(key), "host:%s", host);
	rc = ws_kv_get(ROUTES_BINDING, key, &val, &len);
	if (rc == WS_ENOTFOUND)
		return 0;
	if (rc == WS_EDENIED) {
		/* deployed without the binding: the fallbacks still work */
		if (!warned_unbound++)
			ws_log(WS_LOG_WARN, "no KV binding %s (deploy --kv "
			       "%s=routes:ro): routing by fallbacks only",
			       ROUTES_BINDING, ROUTES_BINDING);
		return 0;
	}
	if (rc < 0) {
		ws_log(WS_LOG_ERROR, "host %s: reading its route: %s", host,
		       ws_strerror(rc));
		answer(res, 503, "Routing table unavailable for host %s\n", host);
		return 2;
	}
	rc = meta_parse(val, len, &rt->meta, why, sizeof(why));
	ws_kv_free(val);
	if (rc < 0) {
		ws_log(WS_LOG_WARN, "host %s: bad route metadata: %s", host, why);
		answer(res, 502, "Bad route metadata for host %s: %s\n", host,
		       why);
		return 2;
	}
	rt->has_meta = 1;
	snprintf(rt->worker, sizeof(rt->worker), "%s", rt->meta.worker);
	return 1;
}

/* NAME from the TENANT_HEADER header. */
static int by_header(ws_request *req, const char *header, char *name)
{
	const char *v;

	if (header == NULL || (v = ws_req_header(req, header)) == NULL ||
	    !valid_name(v, strlen(v)))
		return 0;
	snprintf(name, NAME_MAX_LEN + 1, "%s", v);
	return 1;
}

/* NAME from NAME.<base_domain>. */
static int by_subdomain(const char *host, const char *base, char *name)
{
	size_t hl = strlen(host), bl = strlen(base), n;

	if (hl <= bl + 1 || strcasecmp(host + hl - bl, base) != 0 ||
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

int route_request(ws_request *req, const struct settings *s,
                  const char *host, struct route *rt, ws_response *res)
{
	int rc;

	memset(rt, 0, sizeof(*rt));
	rt->by = BY_KV;
	if ((rc = by_kv(host, rt, res)) != 0 || !s->fallbacks)
		return rc;
	rt->by = BY_HEADER;
	if (by_header(req, s->tenant_header, rt->worker))
		return 1;
	rt->by = BY_SUBDOMAIN;
	if (by_subdomain(host, s->base_domain, rt->worker))
		return 1;
	rt->by = BY_PATH;
	return by_path(req, rt->worker);
}
