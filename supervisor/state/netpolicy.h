/*
 * The egress policy (netpolicy.c): which addresses and ports ws_fetch may
 * reach, the names it may use, how large and slow an answer may be, and
 * which certificate authorities https origins are verified against.
 * Read from the file named by the `egress_policy` key of [switchyard]
 * (format: policies/egress.ini, docs/fetch.md). No policy: every fetch is
 * denied. Nothing here resolves names, and nothing looks at HTTP bytes:
 * only at the URL the worker put in Request.fetch.
 */
#ifndef SY_STATE_NETPOLICY_H
#define SY_STATE_NETPOLICY_H

#include <stddef.h>
#include <stdint.h>

#define NP_HOST_MAX 254   /* a DNS name, NUL included */
#define NP_ADDR_MAX 46    /* INET6_ADDRSTRLEN */
#define NP_CA_MAX (64u * 1024u) /* ca_file: it travels in each https fetch */

/* A fetch's destination, from its URL. */
struct np_target {
	int https;               /* the scheme: 0 http, 1 https */
	char host[NP_HOST_MAX];  /* lower case; an IPv6 literal without [] */
	uint32_t port;           /* 80 (http) or 443 (https) when unnamed */
	const char *path;        /* into the URL: "/path?query" ("" = "/") */
	int family;              /* AF_INET or AF_INET6, once resolved */
	uint8_t ip[16];          /* network order; IPv4 in the first 4 */
	char addr[NP_ADDR_MAX];  /* ip as text */
};

struct netpolicy;

/* Reads the policy in path. The policy, or NULL with err naming the file,
 * line and key. */
struct netpolicy *netpolicy_load(const char *path, char *err, size_t errlen);
/* Accepts NULL. */
void netpolicy_free(struct netpolicy *pol);
/* 1 if a and b were read from the same bytes (the policy file and its
 * ca_file), or both are NULL (no policy); else 0. */
int netpolicy_same(const struct netpolicy *a, const struct netpolicy *b);

/* Splits an absolute http:// or https:// URL. 0, or -1 with why. */
int netpolicy_parse_url(const char *url, struct np_target *t, char *why,
                        size_t whylen);
/* Resolves t's host through pol's [hosts] (or takes the IP literal) and
 * checks the address and port against its allow list (pol NULL: no
 * policy, everything denied). 0 with family, ip and addr set; -1 (denied)
 * with why. */
int netpolicy_check(const struct netpolicy *pol, struct np_target *t,
                    char *why, size_t whylen);

/* pol's bounds on one fetch (pol NULL: the defaults). */
uint64_t netpolicy_max_response_bytes(const struct netpolicy *pol);
uint32_t netpolicy_timeout_ms(const struct netpolicy *pol);
/* pol's ca_file, read with the policy (PEM, *len bytes, not
 * NUL-terminated), or NULL: https origins are then verified against the
 * router's system bundle. Valid as long as pol. */
const char *netpolicy_ca_pem(const struct netpolicy *pol, size_t *len);

#endif
