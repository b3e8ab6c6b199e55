/*
 * Hostile worker, channel family: a tenant that abuses the one descriptor
 * it is given (fd 3, a stream socket to the supervisor) or looks for others
 * it should not have.
 *
 *   GET /fds        every open descriptor, probed with fcntl(F_GETFD) over
 *                   0..1023 (there is no /proc to list): "fds: 0 1 2 3"
 *   GET /garbage    writes a frame of a type that does not exist
 *   GET /oversize   writes a frame header announcing SY_FRAME_MAX + 1 bytes
 *   GET /passfd     sends a pipe's read end over fd 3 (SCM_RIGHTS) with a
 *                   well-formed CANCEL frame; answers "passfd: ok INODE"
 *   anything else   "alive pid N uid U"
 *
 * After garbage the worker waits for the supervisor to hang up (a read on
 * fd 3), so the request shows how the supervisor treats the channel.
 * Frames are written by hand from the layout in proto/frame.h: 12 bytes
 * {len u32 BE, type u8, flags u8, reserved u16, stream u32 BE}.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <workershim.h>

#define FRAME_MAX (256u * 1024u)
#define TYPE_RESPONSE 4
#define TYPE_CANCEL 6

static void header(unsigned char h[12], unsigned len, int type,
                   unsigned stream)
{
	h[0] = (unsigned char)(len >> 24);
	h[1] = (unsigned char)(len >> 16);
	h[2] = (unsigned char)(len >> 8);
	h[3] = (unsigned char)len;
	h[4] = (unsigned char)type;
	h[5] = h[6] = h[7] = 0;
	h[8] = (unsigned char)(stream >> 24);
	h[9] = (unsigned char)(stream >> 16);
	h[10] = (unsigned char)(stream >> 8);
	h[11] = (unsigned char)stream;
}

static int list_fds(ws_response *res)
{
	int fd;

	ws_res_printf(res, "fds:");
	for (fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			ws_res_printf(res, " %d", fd);
	ws_res_printf(res, "\n");
	return 0;
}

/* Writes buf and waits until the supervisor closes the channel (or kills
 * us); a supervisor that carried on would get the handler's failure. */
static int poison(const void *buf, size_t len)
{
	char c;

	if (write(3, buf, len) != (ssize_t)len)
		ws_log(WS_LOG_WARN, "write fd 3: %s", strerror(errno));
	while (read(3, &c, 1) > 0)
		;
	return -1;
}

/* A plausible length, then a type that does not exist. */
static int garbage(void)
{
	static const char junk[] = "\0\0\0\x20\xee\0\0\0\0\0\0\x01"
	                           "definitely not a protobuf message";

	return poison(junk, sizeof(junk) - 1);
}

static int oversize(void)
{
	unsigned char h[12];

	header(h, FRAME_MAX + 1, TYPE_RESPONSE, 1);
	return poison(h, sizeof(h));
}

/* The descriptor rides on a CANCEL for a stream nobody opened, so that
 * the frame itself is harmless and only the descriptor is the attack. */
static int passfd(ws_response *res)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	unsigned char h[12];
	struct iovec iov = { h, sizeof(h) };
	struct msghdr msg;
	struct cmsghdr *cm;
	struct stat st;
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0 || fstat(p[0], &st) < 0)
		return ws_res_printf(res, "passfd: errno=%d %s\n", errno,
		                     strerrorname_np(errno)) < 0 ? -1 : 0;
	header(h, 0, TYPE_CANCEL, 0x7fffffff);
	memset(&msg, 0, sizeof(msg));
	memset(cbuf, 0, sizeof(cbuf));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &p[0], sizeof(int));
	if (sendmsg(3, &msg, MSG_NOSIGNAL) != (ssize_t)sizeof(h))
		return ws_res_printf(res, "passfd: errno=%d %s\n", errno,
		                     strerrorname_np(errno)) < 0 ? -1 : 0;
	close(p[0]);
	close(p[1]);
	ws_res_printf(res, "passfd: ok %lu\n", (unsigned long)st.st_ino);
	return 0;
}

static int hostile(ws_request *req, ws_response *res, void *ctx)
{
	const char *path = ws_req_path(req);

	ws_res_header(res, "Content-Type", "text/plain");
	if (strcmp(path, "/fds") == 0)
		return list_fds(res);
	if (strcmp(path, "/garbage") == 0)
		return garbage();
	if (strcmp(path, "/oversize") == 0)
		return oversize();
	if (strcmp(path, "/passfd") == 0)
		return passfd(res);
	ws_res_printf(res, "alive pid %ld uid %ld\n", (long)getpid(),
	              (long)getuid());
	return 0;
}

int main(void)
{
	return ws_serve(hostile, NULL) < 0 ? 1 : 0;
}
