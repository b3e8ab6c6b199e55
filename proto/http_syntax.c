/*
 * HTTP's token and field-value rules (http_syntax.h). ASCII ranges, not
 * <ctype.h>: a locale a tenant sets must not change what passes.
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
