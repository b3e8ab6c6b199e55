/*
 * sd_notify's wire protocol (see notify.h). The datagram's sender is
 * checked by the service manager from the kernel's credentials, which is
 * why the supervisor itself must send (NotifyAccess=main).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "notify.h"

#define NOTIFY_MAX 1024

static int notify_fd = -1;
static struct sockaddr_un notify_addr;
static socklen_t notify_addrlen;
static char notify_name[sizeof(notify_addr.sun_path) + 1];

static int set_addr(const char *name, char *err, size_t errlen)
{
	size_t len = strlen(name);

	if ((name[0] != '/' && name[0] != '@') || len < 2) {
		snprintf(err, errlen, "NOTIFY_SOCKET %s: not an absolute path "
		         "or @abstract name", name);
		return -1;
	}
	if (len > sizeof(notify_addr.sun_path) - (name[0] == '/')) {
		snprintf(err, errlen, "NOTIFY_SOCKET %s: name too long", name);
		return -1;
	}
	memset(&notify_addr, 0, sizeof(notify_addr));
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, name, len);
	/* An abstract name is not NUL-terminated: its length is the
	 * address length. */
	if (name[0] == '@')
		notify_addr.sun_path[0] = '\0';
	notify_addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	                             len + (name[0] == '/'));
	snprintf(notify_name, sizeof(notify_name), "%s", name);
	return 0;
}

int notify_init(char *err, size_t errlen)
{
	const char *name = getenv("NOTIFY_SOCKET");
	int rc = 0;

	notify_fini();
	if (name == NULL)
		return 0;
	if (set_addr(name, err, errlen) == -1)
		rc = -1;
	else if ((notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC,
	                             0)) == -1) {
		snprintf(err, errlen, "NOTIFY_SOCKET %s: socket: %s", name,
		         strerror(errno));
		rc = -1;
	}
	if (unsetenv("NOTIFY_SOCKET") == -1 && rc == 0) {
		snprintf(err, errlen, "unsetenv NOTIFY_SOCKET: %s",
		         strerror(errno));
		rc = -1;
	}
	return rc;
}

/* Never blocks: the event loop must not wait for the service manager. */
static int notify_send(const char *msg, char *err, size_t errlen)
{
	ssize_t n;

	if (notify_fd == -1)
		return 0;
	n = sendto(notify_fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL,
	           (struct sockaddr *)&notify_addr, notify_addrlen);
	if (n == -1) {
		snprintf(err, errlen, "NOTIFY_SOCKET %s: sendto: %s",
		         notify_name, strerror(errno));
		return -1;
	}
	return 0;
}

int notify_ready(const char *status, char *err, size_t errlen)
{
	char msg[NOTIFY_MAX], *p;
	int n;

	n = snprintf(msg, sizeof(msg), "READY=1\nMAINPID=%ld\nSTATUS=",
	             (long)getpid());
	/* A long status is cut; a newline in it would start a field. */
	snprintf(msg + n, sizeof(msg) - (size_t)n, "%s", status);
	for (p = msg + n; *p != '\0'; p++)
		if (*p == '\n')
			*p = ' ';
	return notify_send(msg, err, errlen);
}

int notify_stopping(char *err, size_t errlen)
{
	return notify_send("STOPPING=1\nSTATUS=stopping", err, errlen);
}

int notify_reloading(char *err, size_t errlen)
{
	struct timespec ts;
	char msg[128];

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1) {
		snprintf(err, errlen, "clock_gettime: %s", strerror(errno));
		return -1;
	}
	/* systemd (253+) wants the time to tell this reload from the next */
	snprintf(msg, sizeof(msg),
	         "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
	         (unsigned long long)ts.tv_sec * 1000000ull +
	             (unsigned long long)ts.tv_nsec / 1000u);
	return notify_send(msg, err, errlen);
}

void notify_fini(void)
{
	if (notify_fd != -1)
		close(notify_fd);
	notify_fd = -1;
}
