/*
 * Hostile worker, KV family: a tenant that lies in the KV_VALUE stream a
 * large ws_kv_put sends (docs/kv.md), through its binding B. Each path
 * writes one lie by hand on fd 3 and waits for the supervisor to end it:
 *
 *   GET /long         announces 16 bytes, sends 32
 *   GET /short        announces 64 bytes, sends 16 (flagged END)
 *   GET /wrongstream  announces 16 bytes, sends them on another stream
 *   GET /orphan       a KV_VALUE with no KV_REQUEST before it
 *   GET /huge         announces 1 MiB + 1 bytes
 *   GET /stall        announces 1 MiB, sends 16 bytes, then answers the
 *                     request as if nothing happened ("stalled"); the next
 *                     /stall announces a second value while the first is
 *                     still open
 *   anything else     "alive pid N"
 *
 * Frames and the KvRequest are written by hand from proto/frame.h and
 * proto/switchyard.proto: 12-byte header {len u32 BE, type u8, flags u8,
 * reserved u16, stream u32 BE}; KvRequest {op = 1 (2: put), binding = 2,
 * key = 3, value_len = 9}.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <workershim.h>

#define TYPE_KV_REQUEST 22
#define TYPE_KV_VALUE 24
#define FLAG_END 0x01
#define STREAM 0x7fff0001u

static unsigned char buf[256];

static size_t header(unsigned char *h, unsigned len, int type, int flags,
                     unsigned stream)
{
	h[0] = (unsigned char)(len >> 24);
	h[1] = (unsigned char)(len >> 16);
	h[2] = (unsigned char)(len >> 8);
	h[3] = (unsigned char)len;
	h[4] = (unsigned char)type;
	h[5] = (unsigned char)flags;
	h[6] = h[7] = 0;
	h[8] = (unsigned char)(stream >> 24);
	h[9] = (unsigned char)(stream >> 16);
	h[10] = (unsigned char)(stream >> 8);
	h[11] = (unsigned char)stream;
	return 12;
}

/* A KV_REQUEST (no END: a value follows) putting key "k" through binding
 * "B" with value_len announced. Returns the bytes written into out. */
static size_t put_request(unsigned char *out, unsigned value_len)
{
	unsigned char *m = out + 12;
	size_t n = 0;

	m[n++] = 0x08; /* op, varint */
	m[n++] = 2;
	m[n++] = 0x12; /* binding, bytes */
	m[n++] = 1;
	m[n++] = 'B';
	m[n++] = 0x1a; /* key, bytes */
	m[n++] = 1;
	m[n++] = 'k';
	m[n++] = 0x48; /* value_len, varint */
	while (value_len >= 0x80) {
		m[n++] = (unsigned char)(value_len | 0x80);
		value_len >>= 7;
	}
	m[n++] = (unsigned char)value_len;
	header(out, (unsigned)n, TYPE_KV_REQUEST, 0, STREAM);
	return 12 + n;
}

/* A KV_VALUE of len bytes of 'v' on stream. */
static size_t value(unsigned char *out, unsigned len, int flags,
                    unsigned stream)
{
	header(out, len, TYPE_KV_VALUE, flags, stream);
	memset(out + 12, 'v', len);
	return 12 + len;
}

static int send_all(size_t len)
{
	if (write(3, buf, len) != (ssize_t)len) {
		ws_log(WS_LOG_WARN, "write fd 3: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Sends the lie and waits until the supervisor hangs up or kills us. */
static int lie(size_t len)
{
	char c;

	send_all(len);
	while (read(3, &c, 1) > 0)
		;
	return -1;
}

static int hostile(ws_request *req, ws_response *res, void *ctx)
{
	const char *path = ws_req_path(req);
	size_t n;

	(void)ctx;
	if (strcmp(path, "/long") == 0) {
		n = put_request(buf, 16);
		return lie(n + value(buf + n, 32, FLAG_END, STREAM));
	}
	if (strcmp(path, "/short") == 0) {
		n = put_request(buf, 64);
		return lie(n + value(buf + n, 16, FLAG_END, STREAM));
	}
	if (strcmp(path, "/wrongstream") == 0) {
		n = put_request(buf, 16);
		return lie(n + value(buf + n, 16, FLAG_END, STREAM + 1));
	}
	if (strcmp(path, "/orphan") == 0)
		return lie(value(buf, 16, FLAG_END, STREAM));
	if (strcmp(path, "/huge") == 0)
		return lie(put_request(buf, 1024 * 1024 + 1));
	if (strcmp(path, "/stall") == 0) {
		n = put_request(buf, 1024 * 1024);
		if (send_all(n + value(buf + n, 16, 0, STREAM)) < 0)
			return -1;
		ws_res_printf(res, "stalled\n");
		return 0;
	}
	ws_res_printf(res, "alive pid %ld\n", (long)getpid());
	return 0;
}

int main(void)
{
	return ws_serve(hostile, NULL) < 0 ? 1 : 0;
}
