#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "util.h"

int sy_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	if (fl & O_NONBLOCK)
		return 0;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int sy_set_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl < 0)
		return -1;
	return fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

static int parse_port(const char *s, uint16_t *port)
{
	uint64_t v;

	if (sy_parse_uint(s, 65535, &v) < 0 || v == 0)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int sy_parse_hostport(const char *s, struct sockaddr_storage *ss,
                      socklen_t *len, char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon;
	uint16_t port;
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	colon = strrchr(s, ':');
	if (colon == NULL || parse_port(colon + 1, &port) < 0) {
		snprintf(err, errlen, "listen address %s: expected HOST:PORT "
		         "with a port 1-65535", s);
		return -1;
	}
	hl = (size_t)(colon - s);
	if (hl >= sizeof(host)) {
		snprintf(err, errlen, "listen address %s: host too long", s);
		return -1;
	}
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &sin6->sin6_addr) != 1)
			goto bad;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
		return 0;
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		if (strcmp(host, "*") == 0)
			sin->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			goto bad;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
		return 0;
	}
bad:
	snprintf(err, errlen, "listen address %s: not an IPv4 address or "
	         "[IPv6] address", s);
	return -1;
}

const char *sy_format_addr(const struct sockaddr *sa, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, size, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(buf, size, "%s:%u", ip, ntohs(s4->sin_port));
	} else {
		snprintf(buf, size, "unix");
	}
	return buf;
}

int sy_split_worker(const char *s, char *ns, char *name, char *err,
                    size_t errlen)
{
	const char *slash = strchr(s, '/');
	size_t nl;

	if (slash == NULL) {
		snprintf(err, errlen, "%s: expected NAMESPACE/NAME", s);
		return -1;
	}
	nl = (size_t)(slash - s);
	if (nl == 0 || nl > 63) {
		snprintf(err, errlen, "%s: invalid namespace", s);
		return -1;
	}
	memcpy(ns, s, nl);
	ns[nl] = '\0';
	if (!sy_valid_name(ns)) {
		snprintf(err, errlen, "%s: invalid namespace \"%s\" (use 1-63 "
		         "of a-z 0-9 - _, starting with a letter or digit)", s, ns);
		return -1;
	}
	if (!sy_valid_name(slash + 1)) {
		snprintf(err, errlen, "%s: invalid worker name \"%s\" (use 1-63 "
		         "of a-z 0-9 - _, starting with a letter or digit)", s,
		         slash + 1);
		return -1;
	}
	strcpy(name, slash + 1);
	return 0;
}

int sy_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (s == NULL || *s < '0' || *s > '9') {
		errno = EINVAL;
		return -1;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0') {
		errno = errno ? errno : EINVAL;
		return -1;
	}
	if (v > max) {
		errno = ERANGE;
		return -1;
	}
	*out = v;
	return 0;
}

int sy_parse_size(const char *s, uint64_t *out)
{
	char num[32];
	size_t n = strlen(s);
	unsigned shift = 0;
	uint64_t v;

	if (n == 0 || n >= sizeof(num)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	default: break;
	}
	if (shift)
		num[n - 1] = '\0';
	if (sy_parse_uint(num, UINT64_MAX >> shift, &v) < 0)
		return -1;
	*out = v << shift;
	return 0;
}

int sy_strcaseeq(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char x = (unsigned char)*a, y = (unsigned char)*b;

		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x + 32);
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y + 32);
		if (x != y)
			return 0;
		if (x == '\0')
			return 1;
	}
}

int sy_strv_equal(char *const *a, size_t na, char *const *b, size_t nb)
{
	size_t i;

	if (na != nb)
		return 0;
	for (i = 0; i < na; i++) {
		if (strcmp(a[i], b[i]) != 0)
			return 0;
	}
	return 1;
}

size_t sy_pb_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

void sy_strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n && v != NULL; i++)
		free(v[i]);
	free(v);
}

const char *sy_wait_status(int status, char *buf, size_t size)
{
	const char *abbrev;

	if (WIFEXITED(status)) {
		snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		abbrev = sigabbrev_np(WTERMSIG(status));
		snprintf(buf, size, "killed by signal %d (SIG%s)",
		         WTERMSIG(status), abbrev ? abbrev : "?");
	} else {
		snprintf(buf, size, "ended with wait status %#x", status);
	}
	return buf;
}
