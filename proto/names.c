/*
 * The naming rules of the wire (names.h). ASCII ranges, not <ctype.h>:
 * a locale a tenant sets must not change what is a valid name.
 */
#include <string.h>

#include "names.h"

static int is_alnum(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9');
}

static int name_char(char c, int first)
{
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return 1;
	return !first && (c == '-' || c == '_');
}

int sy_valid_name(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= SY_NAME_MAX - 1 || !name_char(s[i], i == 0))
			return 0;
	}
	return 1;
}

int sy_env_key_valid(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > SY_ENV_KEY_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if (!is_alnum(name[i]) && name[i] != '_')
			return 0;
	}
	return !(name[0] >= '0' && name[0] <= '9');
}

int sy_tag_valid(const char *tag)
{
	size_t i;

	for (i = 0; tag[i] != '\0'; i++) {
		if (i >= SY_TAG_MAX ||
		    (!is_alnum(tag[i]) && strchr("_.:-", tag[i]) == NULL))
			return 0;
	}
	return i > 0;
}

int sy_kv_binding_valid(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len >= SY_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if (!is_alnum(name[i]) && name[i] != '_')
			return 0;
	}
	return 1;
}

int sy_kv_key_valid(const char *key, size_t len)
{
	return key != NULL && len > 0 && len <= SY_KV_KEY_MAX &&
	       memchr(key, '\0', len) == NULL;
}

int sy_request_id_valid(const char *id, size_t len)
{
	size_t i;

	if (id == NULL || len != SY_REQUEST_ID_LEN)
		return 0;
	for (i = 0; i < len; i++) {
		if (!((id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	}
	return 1;
}
