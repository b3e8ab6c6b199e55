/*
 * tailstore: a tail consumer (docs/events.md). The platform POSTs it
 * batches of another worker's request events, each a JSON array; it keeps
 * them and shows them back:
 *
 *   POST /           a batch: kept in memory (the newest 1 MiB), and put
 *                    into KV under batch/<time>-<pid>-<n> when the version
 *                    has a TAIL binding (yardctl deploy --kv TAIL=...)
 *   GET /            the batches this process kept, as a JSON array of
 *                    arrays, oldest first; X-Tail-Batches: how many it got
 *   GET /?from=kv    the same, read back from KV (every process's)
 *
 * Only workershim.h and libc: it does not parse the events, it keeps them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <workershim.h>

#define KEEP_BYTES (1024u * 1024u)
#define BINDING "TAIL"

/* The batches, each followed by '\n', oldest first. */
static char *kept;
static size_t kept_len;
static unsigned long batches;

/* Appends one batch, forgetting the oldest ones if it would not fit. */
static int keep(const char *b, size_t len)
{
	char *nl;

	if (len + 1 > KEEP_BYTES)
		return -1;
	if (kept == NULL && (kept = malloc(KEEP_BYTES)) == NULL)
		return -1;
	while (kept_len + len + 1 > KEEP_BYTES &&
	       (nl = memchr(kept, '\n', kept_len)) != NULL) {
		kept_len -= (size_t)(nl - kept) + 1;
		memmove(kept, nl + 1, kept_len);
	}
	memcpy(kept + kept_len, b, len);
	kept_len += len;
	kept[kept_len++] = '\n';
	return 0;
}

static int receive(ws_request *req, ws_response *res)
{
	size_t len;
	const char *body = ws_req_body(req, &len);
	char key[96];
	int rc;

	if (body == NULL || len < 2 || body[0] != '[' ||
	    memchr(body, '\n', len) != NULL) {
		ws_res_status(res, 400);
		ws_res_printf(res, "expected a JSON array on one line\n");
		return 0;
	}
	if (keep(body, len) == -1) {
		ws_res_status(res, 413);
		return 0;
	}
	batches++;
	snprintf(key, sizeof(key), "batch/%lld-%d-%lu",
	         (long long)time(NULL), (int)getpid(), batches);
	rc = ws_kv_put(BINDING, key, body, len, 0);
	if (rc != 0 && rc != WS_EDENIED)
		ws_log(WS_LOG_WARN, "kv put %s: %s", key, ws_strerror(rc));
	ws_res_status(res, 204);
	return 0;
}

/* Writes the batches in lines (each '\n'-ended) as one JSON array. */
static void write_array(ws_response *res, const char *lines, size_t len)
{
	const char *p = lines, *end = lines + len, *nl;
	int first = 1;

	ws_res_write(res, "[", 1);
	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (!first)
			ws_res_write(res, ",", 1);
		ws_res_write(res, p, (size_t)(nl - p));
		first = 0;
		p = nl + 1;
	}
	ws_res_write(res, "]\n", 2);
}

/* Every batch in KV, oldest key first, as one JSON array. */
static int from_kv(ws_response *res)
{
	ws_kv_keys k;
	char *cursor = NULL;
	size_t i, len;
	void *val;
	int first = 1, rc;

	ws_res_write(res, "[", 1);
	do {
		rc = ws_kv_list(BINDING, "batch/", cursor, &k);
		free(cursor);
		cursor = NULL;
		if (rc != 0) {
			ws_res_clear_body(res);
			ws_res_status(res, rc == WS_EDENIED ? 404 : 500);
			ws_res_printf(res, "kv: %s\n", ws_strerror(rc));
			return 0;
		}
		for (i = 0; i < k.n; i++) {
			if (ws_kv_get(BINDING, k.keys[i], &val, &len) != 0)
				continue;
			if (!first)
				ws_res_write(res, ",", 1);
			ws_res_write(res, val, len);
			first = 0;
			ws_kv_free(val);
		}
		if (k.cursor != NULL)
			cursor = strdup(k.cursor);
		ws_kv_keys_free(&k);
	} while (cursor != NULL);
	ws_res_write(res, "]\n", 2);
	return 0;
}

static int handle(ws_request *req, ws_response *res, void *ctx)
{
	char n[24];

	(void)ctx;
	if (strcmp(ws_req_method(req), "POST") == 0)
		return receive(req, res);
	ws_res_header(res, "Content-Type", "application/json");
	snprintf(n, sizeof(n), "%lu", batches);
	ws_res_header(res, "X-Tail-Batches", n);
	if (strstr(ws_req_query(req), "from=kv") != NULL)
		return from_kv(res);
	write_array(res, kept, kept_len);
	return 0;
}

int main(void)
{
	return ws_serve(handle, NULL);
}
