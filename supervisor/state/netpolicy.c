/*
 * The egress policy: an allow list of networks (with an optional port),
 * a static name map, bounds on each fetch, and an optional private CA
 * bundle for https (ca_file), read here, as root, so that the router never
 * opens it.
 *
 * Addresses in the special ranges (loopback, private, link-local, shared,
 * multicast, reserved) are allowed only by an entry that lies wholly inside
 * such a range, so "allow = 0.0.0.0/0" opens the public internet without
 * opening the host's own services or its private network: a name mapped
 * to 10.0.0.1, or a redirect there, is still denied.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "state/netpolicy.h"

#define RULES_MAX 1024
#define NAMES_MAX 1024
#define TEXT_MAX (1024u * 1024u) /* bytes of the policy file */
#define DEFAULT_MAX_RESPONSE (16ull * 1024 * 1024)
#define DEFAULT_TIMEOUT_MS 10000

struct net {
	int family;
	uint8_t ip[16];
	unsigned prefix;
	uint32_t port;     /* 0: any */
	int special;       /* lies inside a special range */
};

struct name {
	char host[NP_HOST_MAX];
	int family;
	uint8_t ip[16];
};

struct netpolicy {
	struct net *nets;
	size_t nnets;
	struct name *names;
	size_t nnames;
	uint64_t max_response;
	uint32_t timeout_ms;
	char *ca_pem;      /* ca_file's contents, or NULL */
	size_t ca_len;
	char *text;        /* the file as read: what netpolicy_same compares */
	size_t text_len;
};

struct parse {
	struct netpolicy *pol;
	const char *path;
	char *err;
	size_t errlen;
	int line;          /* of a syntax error, else 0 */
	int failed;
};

/* The ranges no broad entry opens (RFC 6890 and friends). */
static const struct {
	int family;
	const char *ip;
	unsigned prefix;
} specials[] = {
	{ AF_INET, "0.0.0.0", 8 }, { AF_INET, "10.0.0.0", 8 },
	{ AF_INET, "100.64.0.0", 10 }, { AF_INET, "127.0.0.0", 8 },
	{ AF_INET, "169.254.0.0", 16 }, { AF_INET, "172.16.0.0", 12 },
	{ AF_INET, "192.0.0.0", 24 }, { AF_INET, "192.168.0.0", 16 },
	{ AF_INET, "198.18.0.0", 15 }, { AF_INET, "224.0.0.0", 3 },
	{ AF_INET6, "::", 127 }, { AF_INET6, "::ffff:0:0", 96 },
	{ AF_INET6, "64:ff9b::", 96 }, { AF_INET6, "fc00::", 7 },
	{ AF_INET6, "fe80::", 10 }, { AF_INET6, "ff00::", 8 },
};

static int in_net(int family, const uint8_t *ip, int nfamily,
                  const uint8_t *nip, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;

	if (family != nfamily)
		return 0;
	if (memcmp(ip, nip, full) != 0)
		return 0;
	return rest == 0 ||
	       ((ip[full] ^ nip[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/* 1 if the whole network ip/prefix lies inside a special range. */
static int is_special(int family, const uint8_t *ip, unsigned prefix)
{
	uint8_t sip[16];
	size_t i;

	for (i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
		if (specials[i].family != family || prefix < specials[i].prefix)
			continue;
		inet_pton(family, specials[i].ip, sip);
		if (in_net(family, ip, family, sip, specials[i].prefix))
			return 1;
	}
	return 0;
}

/* An IP literal: 0 with family and ip, or -1. IPv4-mapped IPv6 becomes
 * IPv4, so that it meets the IPv4 entries. */
static int parse_ip(const char *s, int *family, uint8_t ip[16])
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	                                    0xff, 0xff };

	memset(ip, 0, 16);
	if (inet_pton(AF_INET, s, ip) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, ip) != 1)
		return -1;
	*family = AF_INET6;
	if (memcmp(ip, mapped, sizeof(mapped)) == 0) {
		memmove(ip, ip + 12, 4);
		memset(ip + 4, 0, 12);
		*family = AF_INET;
	}
	return 0;
}

static int perr(struct parse *p, const char *fmt, const char *arg)
{
	char msg[256];

	snprintf(msg, sizeof(msg), fmt, arg);
	if (p->line > 0)
		snprintf(p->err, p->errlen, "egress policy %s:%d: %s",
		         p->path, p->line, msg);
	else
		snprintf(p->err, p->errlen, "egress policy %s: %s", p->path,
		         msg);
	p->failed = 1;
	return 0;
}

static int parse_port(const char *s, uint32_t *port)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 65535 ||
	    !isdigit((unsigned char)*s))
		return -1;
	*port = (uint32_t)v;
	return 0;
}

/* "ADDR[/PREFIX] [PORT]" */
static int add_net(struct parse *p, const char *value)
{
	char buf[128], *sp, *slash, *end;
	struct net n;
	unsigned long pre;
	struct net *grown;

	memset(&n, 0, sizeof(n));
	if (snprintf(buf, sizeof(buf), "%s", value) >= (int)sizeof(buf))
		return perr(p, "allow: value too long: %s", value);
	if ((sp = strpbrk(buf, " \t")) != NULL) {
		*sp++ = '\0';
		sp += strspn(sp, " \t");
		if (parse_port(sp, &n.port) < 0)
			return perr(p, "allow: invalid port: %s", sp);
	}
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (parse_ip(buf, &n.family, n.ip) < 0)
		return perr(p, "allow: not an IP address: %s", buf);
	n.prefix = n.family == AF_INET ? 32 : 128;
	if (slash != NULL) {
		errno = 0;
		pre = strtoul(slash, &end, 10);
		if (errno != 0 || end == slash || *end != '\0' ||
		    pre > n.prefix || !isdigit((unsigned char)*slash))
			return perr(p, "allow: invalid prefix length: %s",
			            slash);
		n.prefix = (unsigned)pre;
	}
	n.special = is_special(n.family, n.ip, n.prefix);
	if (p->pol->nnets >= RULES_MAX)
		return perr(p, "allow: more than %s entries", "1024");
	grown = realloc(p->pol->nets, (p->pol->nnets + 1) * sizeof(*grown));
	if (grown == NULL)
		return perr(p, "%s", strerror(ENOMEM));
	p->pol->nets = grown;
	p->pol->nets[p->pol->nnets++] = n;
	return 1;
}

static int valid_host(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
			return 0;
	return i > 0 && i < NP_HOST_MAX;
}

static int add_name(struct parse *p, const char *host, const char *value)
{
	struct name n, *grown;
	size_t i;

	memset(&n, 0, sizeof(n));
	if (!valid_host(host))
		return perr(p, "[hosts]: invalid host name: %s", host);
	for (i = 0; host[i] != '\0'; i++)
		n.host[i] = (char)tolower((unsigned char)host[i]);
	if (parse_ip(value, &n.family, n.ip) < 0)
		return perr(p, "[hosts]: not an IP address: %s", value);
	if (p->pol->nnames >= NAMES_MAX)
		return perr(p, "[hosts]: more than %s names", "1024");
	grown = realloc(p->pol->names, (p->pol->nnames + 1) * sizeof(*grown));
	if (grown == NULL)
		return perr(p, "%s", strerror(ENOMEM));
	p->pol->names = grown;
	p->pol->names[p->pol->nnames++] = n;
	return 1;
}

static int set_num(struct parse *p, const char *value, uint64_t min,
                   uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || v < min || v > max ||
	    !isdigit((unsigned char)*value))
		return perr(p, "value out of range: %s", value);
	*out = v;
	return 1;
}

/* ca_file's path: relative to the policy's own directory. */
static int ca_path(const struct parse *p, const char *value, char *out,
                   size_t size)
{
	const char *slash = strrchr(p->path, '/');
	int n;

	if (value[0] == '/' || slash == NULL)
		n = snprintf(out, size, "%s", value);
	else
		n = snprintf(out, size, "%.*s/%s", (int)(slash - p->path),
		             p->path, value);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Reads the whole of fd (a regular file of at most NP_CA_MAX bytes) into
 * a new buffer. NULL with errno. */
/* The whole regular file open at fd, NUL-terminated (malloc'd), if it
 * holds at most max bytes; NULL with errno (EFBIG: larger). */
static char *read_small(int fd, size_t max, size_t *len)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t got = 0;

	if (fstat(fd, &st) == -1)
		return NULL;
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)max) {
		errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		return NULL;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		return NULL;
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			errno = n == 0 ? EIO : errno;
			return NULL;
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	*len = got;
	return buf;
}

/* ca_file = PATH: PEM certificates, read now so that a missing or
 * unreadable file stops the start, naming it. */
static int set_ca_file(struct parse *p, const char *value)
{
	char path[4096], msg[4200];
	int fd;

	if (p->pol->ca_pem != NULL)
		return perr(p, "ca_file given twice: %s", value);
	if (value[0] == '\0' || ca_path(p, value, path, sizeof(path)) < 0)
		return perr(p, "ca_file: invalid path: %s", value);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1 ||
	    (p->pol->ca_pem = read_small(fd, NP_CA_MAX,
	                                 &p->pol->ca_len)) == NULL) {
		snprintf(msg, sizeof(msg), "ca_file %s: %s", path,
		         errno == EFBIG ? "larger than 64 KiB" : strerror(errno));
		if (fd != -1)
			close(fd);
		return perr(p, "%s", msg);
	}
	close(fd);
	if (strstr(p->pol->ca_pem, "-----BEGIN CERTIFICATE-----") == NULL) {
		snprintf(msg, sizeof(msg), "ca_file %s: no PEM certificate "
		         "in it", path);
		return perr(p, "%s", msg);
	}
	return 1;
}

static int handler(void *user, const char *section, const char *name,
                   const char *value)
{
	struct parse *p = user;
	uint64_t v;

	if (p->failed)
		return 0;
	if (strcmp(section, "hosts") == 0)
		return add_name(p, name, value);
	if (strcmp(section, "egress") != 0)
		return perr(p, "unknown section [%s]", section);
	if (strcmp(name, "allow") == 0)
		return add_net(p, value);
	if (strcmp(name, "max_response_bytes") == 0) {
		if (set_num(p, value, 1, 1ull << 30, &v) == 0)
			return 0;
		p->pol->max_response = v;
		return 1;
	}
	if (strcmp(name, "timeout_ms") == 0) {
		if (set_num(p, value, 1, 600000, &v) == 0)
			return 0;
		p->pol->timeout_ms = (uint32_t)v;
		return 1;
	}
	if (strcmp(name, "ca_file") == 0)
		return set_ca_file(p, value);
	return perr(p, "unknown key \"%s\" in [egress]", name);
}

void netpolicy_free(struct netpolicy *pol)
{
	if (pol == NULL)
		return;
	free(pol->nets);
	free(pol->names);
	free(pol->ca_pem);
	free(pol->text);
	free(pol);
}

int netpolicy_same(const struct netpolicy *a, const struct netpolicy *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return a->text_len == b->text_len && a->ca_len == b->ca_len &&
	       memcmp(a->text, b->text, a->text_len) == 0 &&
	       (a->ca_len == 0 || memcmp(a->ca_pem, b->ca_pem, a->ca_len) == 0);
}

struct netpolicy *netpolicy_load(const char *path, char *err, size_t errlen)
{
	struct parse p;
	int fd, rc;

	memset(&p, 0, sizeof(p));
	p.path = path;
	p.err = err;
	p.errlen = errlen;
	if ((p.pol = calloc(1, sizeof(*p.pol))) == NULL) {
		snprintf(err, errlen, "egress policy %s: %s", path,
		         strerror(ENOMEM));
		return NULL;
	}
	p.pol->max_response = DEFAULT_MAX_RESPONSE;
	p.pol->timeout_ms = DEFAULT_TIMEOUT_MS;
	/* read whole, once: what is parsed is what a reload compares */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1 ||
	    (p.pol->text = read_small(fd, TEXT_MAX,
	                              &p.pol->text_len)) == NULL) {
		snprintf(err, errlen, "egress policy %s: %s", path,
		         errno == EFBIG ? "larger than 1 MiB" : strerror(errno));
		if (fd != -1)
			close(fd);
		netpolicy_free(p.pol);
		return NULL;
	}
	close(fd);
	rc = ini_parse_string(p.pol->text, handler, &p);
	if (rc != 0 && !p.failed) {
		p.line = rc;
		perr(&p, "%s", rc > 0 ? "syntax error" : "cannot read it");
	}
	if (p.failed) {
		netpolicy_free(p.pol);
		return NULL;
	}
	return p.pol;
}

/* ---- checking a fetch ---- */

static int url_char_ok(unsigned char ch)
{
	return ch > ' ' && ch < 0x7f;
}

static int parse_authority(const char *a, size_t len, struct np_target *t)
{
	const char *colon = NULL, *host = a;
	size_t hlen = len, i;
	char port[8];

	if (memchr(a, '@', len) != NULL)
		return -1;
	if (len > 0 && a[0] == '[') {
		const char *close = memchr(a, ']', len);

		if (close == NULL)
			return -1;
		host = a + 1;
		hlen = (size_t)(close - host);
		if (close + 1 < a + len) {
			if (close[1] != ':')
				return -1;
			colon = close + 1;
		}
	} else if ((colon = memchr(a, ':', len)) != NULL) {
		hlen = (size_t)(colon - a);
	}
	if (hlen == 0 || hlen >= NP_HOST_MAX)
		return -1;
	for (i = 0; i < hlen; i++)
		t->host[i] = (char)tolower((unsigned char)host[i]);
	t->host[hlen] = '\0';
	t->port = t->https ? 443 : 80;
	if (colon == NULL)
		return 0;
	i = (size_t)(a + len - colon - 1);
	if (i == 0 || i >= sizeof(port))
		return -1;
	memcpy(port, colon + 1, i);
	port[i] = '\0';
	return parse_port(port, &t->port);
}

int netpolicy_parse_url(const char *url, struct np_target *t, char *why,
                        size_t whylen)
{
	const char *a, *end;
	size_t i;

	memset(t, 0, sizeof(*t));
	for (i = 0; url[i] != '\0'; i++) {
		if (!url_char_ok((unsigned char)url[i])) {
			snprintf(why, whylen, "egress: invalid URL");
			return -1;
		}
	}
	if (strncmp(url, "http://", 7) == 0) {
		a = url + 7;
	} else if (strncmp(url, "https://", 8) == 0) {
		a = url + 8;
		t->https = 1;
	} else {
		snprintf(why, whylen, "egress: only http:// and https:// URLs "
		         "are supported");
		return -1;
	}
	end = a + strcspn(a, "/?#");
	if (parse_authority(a, (size_t)(end - a), t) < 0) {
		snprintf(why, whylen, "egress: invalid URL");
		return -1;
	}
	t->path = end;
	return 0;
}

static const struct name *find_name(const struct netpolicy *pol,
                                     const char *host)
{
	size_t i;

	for (i = 0; i < pol->nnames; i++)
		if (strcmp(pol->names[i].host, host) == 0)
			return &pol->names[i];
	return NULL;
}

static int allowed(const struct netpolicy *pol, const struct np_target *t)
{
	int special = is_special(t->family, t->ip, t->family == AF_INET
	                                           ? 32 : 128);
	const struct net *n;
	size_t i;

	for (i = 0; i < pol->nnets; i++) {
		n = &pol->nets[i];
		if (special && !n->special)
			continue;
		if (n->port != 0 && n->port != t->port)
			continue;
		if (in_net(t->family, t->ip, n->family, n->ip, n->prefix))
			return 1;
	}
	return 0;
}

int netpolicy_check(const struct netpolicy *pol, struct np_target *t,
                    char *why, size_t whylen)
{
	const struct name *n;
	int v6 = strchr(t->host, ':') != NULL;

	if (pol == NULL) {
		snprintf(why, whylen, "egress: denied %s%s%s:%u (no egress "
		         "policy)", v6 ? "[" : "", t->host, v6 ? "]" : "",
		         t->port);
		return -1;
	}
	if (parse_ip(t->host, &t->family, t->ip) < 0) {
		if ((n = find_name(pol, t->host)) == NULL) {
			snprintf(why, whylen, "egress: denied %s:%u (name not "
			         "in the egress policy)", t->host, t->port);
			return -1;
		}
		t->family = n->family;
		memcpy(t->ip, n->ip, sizeof(t->ip));
	}
	inet_ntop(t->family, t->ip, t->addr, sizeof(t->addr));
	if (!allowed(pol, t)) {
		snprintf(why, whylen, "egress: denied %s%s%s:%u", v6 ? "[" : "",
		         t->host, v6 ? "]" : "", t->port);
		return -1;
	}
	return 0;
}

uint64_t netpolicy_max_response_bytes(const struct netpolicy *pol)
{
	return pol != NULL ? pol->max_response : DEFAULT_MAX_RESPONSE;
}

uint32_t netpolicy_timeout_ms(const struct netpolicy *pol)
{
	return pol != NULL ? pol->timeout_ms : DEFAULT_TIMEOUT_MS;
}

const char *netpolicy_ca_pem(const struct netpolicy *pol, size_t *len)
{
	*len = pol != NULL ? pol->ca_len : 0;
	return pol != NULL ? pol->ca_pem : NULL;
}
