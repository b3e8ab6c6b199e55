/*
 * Hostile worker, network family: a tenant that wants a connection the
 * platform did not give it, to the router, to the supervisor's control
 * socket, to anything listening on the host.
 *
 *   GET /inet?PORT       socket(AF_INET), and connect fd 3 to 127.0.0.1:PORT
 *   GET /unix?PATH       socket(AF_UNIX), and connect fd 3 to PATH
 *   GET /abstract?NAME   connect fd 3 to the abstract Unix socket @NAME
 *   GET /netlink         socket(AF_NETLINK): the kernel's routing tables
 *   GET /socketpair      socketpair(AF_UNIX)
 *   GET /sendto?PORT     sendto(fd 3, 127.0.0.1:PORT): a datagram with an
 *                        address on the one socket it has
 *   anything else        "alive pid N uid U"
 *
 * The connects reuse fd 3 because a new socket is refused already: they
 * show that connect itself is refused too, on any descriptor.
 * Each step answers one line "NAME: ok N" or "NAME: errno=N ENAME".
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <workershim.h>

static int say(ws_response *res, const char *what, long rc)
{
	int e = errno;

	if (rc < 0)
		return ws_res_printf(res, "%s: errno=%d %s\n", what, e,
		                     strerrorname_np(e)) < 0 ? -1 : 0;
	return ws_res_printf(res, "%s: ok %ld\n", what, rc) < 0 ? -1 : 0;
}

static struct sockaddr_in loopback(const char *port)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)atoi(port));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sin;
}

static int try_inet(const char *port, ws_response *res)
{
	struct sockaddr_in sin = loopback(port);

	if (say(res, "socket", socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	return say(res, "connect",
	           connect(3, (struct sockaddr *)&sin, sizeof(sin)));
}

static int try_unix(const char *path, ws_response *res)
{
	struct sockaddr_un sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (say(res, "socket", socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		return -1;
	return say(res, "connect",
	           connect(3, (struct sockaddr *)&sun, sizeof(sun)));
}

/* An abstract name lives in the network namespace, not the file system:
 * a leading NUL, no file to hide. */
static int try_abstract(const char *name, ws_response *res)
{
	struct sockaddr_un sun;
	size_t n = strlen(name);
	socklen_t len;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (n > sizeof(sun.sun_path) - 1)
		n = sizeof(sun.sun_path) - 1;
	memcpy(sun.sun_path + 1, name, n);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
	return say(res, "connect", connect(3, (struct sockaddr *)&sun, len));
}

static int try_netlink(const char *arg, ws_response *res)
{
	return say(res, "socket", socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE));
}

static int try_socketpair(const char *arg, ws_response *res)
{
	int sv[2];

	return say(res, "socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
}

static int try_sendto(const char *port, ws_response *res)
{
	struct sockaddr_in sin = loopback(port);

	return say(res, "sendto", sendto(3, "x", 1, 0, (struct sockaddr *)&sin,
	                                 sizeof(sin)));
}

static const struct attempt {
	const char *path;
	int (*run)(const char *arg, ws_response *res);
} attempts[] = {
	{ "/inet", try_inet },
	{ "/unix", try_unix },
	{ "/abstract", try_abstract },
	{ "/netlink", try_netlink },
	{ "/socketpair", try_socketpair },
	{ "/sendto", try_sendto },
};

static int hostile(ws_request *req, ws_response *res, void *ctx)
{
	const char *path = ws_req_path(req);
	size_t i;

	ws_res_header(res, "Content-Type", "text/plain");
	for (i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
		if (strcmp(path, attempts[i].path) == 0) {
			errno = 0;
			return attempts[i].run(ws_req_query(req), res);
		}
	}
	ws_res_printf(res, "alive pid %ld uid %ld\n", (long)getpid(),
	              (long)getuid());
	return 0;
}

int main(void)
{
	return ws_serve(hostile, NULL) < 0 ? 1 : 0;
}
