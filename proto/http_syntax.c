/*
 * HTTP's token, field-value and Host rules (http_syntax.h). ASCII ranges,
 * not <ctype.h>: a locale a tenant sets must not change what passes.
 */
#include <string.h>

#include "http_syntax.h"

/* RFC 9110 tchar. */
static int tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int sy_http_token(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		if (!tchar((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

/* RFC 3986 unreserved and sub-delims: what a reg-name holds besides %HH. */
static int host_char(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("-._~!$&'()*+,;=", c) != NULL;
}

static int hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

/* Skips a host of s from *i (a reg-name, or with brackets an IP-literal,
 * ':' allowed inside); 0, or -1 if it is empty or has a bad byte. */
static int host_part(const char *s, size_t len, size_t *i)
{
	int literal = s[*i] == '[';
	size_t start;

	*i += literal;
	start = *i;
	while (*i < len && s[*i] != (literal ? ']' : ':')) {
		unsigned char c = (unsigned char)s[*i];

		if (c == '%' && *i + 2 < len &&
		    hex((unsigned char)s[*i + 1]) &&
		    hex((unsigned char)s[*i + 2]))
			*i += 3;
		else if (host_char(c) || (literal && c == ':'))
			(*i)++;
		else
			return -1;
	}
	if (*i == start || (literal && *i == len))
		return -1;
	*i += literal;
	return 0;
}

int sy_http_host(const char *s, size_t len)
{
	size_t i = 0, digits;

	if (len == 0)
		return 1;
	if (host_part(s, len, &i) == -1)
		return 0;
	if (i == len)
		return 1;
	if (s[i] != ':')
		return 0;
	for (digits = 0, i++; i < len; i++, digits++) {
		if (s[i] < '0' || s[i] > '9' || digits == 5)
			return 0;
	}
	return 1;
}

int sy_http_value(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 0;
	}
	return 1;
}
