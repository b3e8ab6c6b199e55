/*
 * The naming rules of the wire (names.h). ASCII ranges, not <ctype.h>:
 * a locale a tenant sets must not change what is a valid name.
 */
#include <string.h>
#include <strings.h>

#include "http_syntax.h"
#include "names.h"

/* A limit's number in a message, from its one definition. */
#define STR_(x) #x
#define STR(x) STR_(x)

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

int sy_service_name_valid(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len >= SY_NAME_MAX || !is_alnum(name[0]))
		return 0;
	for (i = 0; i < len; i++) {
		if (!is_alnum(name[i]) && name[i] != '_' && name[i] != '-')
			return 0;
	}
	return 1;
}

int sy_context_key_valid(const char *key)
{
	size_t i;

	if (key == NULL || !name_char(key[0], 1))
		return 0;
	for (i = 0; key[i] != '\0'; i++) {
		if (i >= SY_CONTEXT_KEY_MAX - 1 ||
		    (!name_char(key[i], 0) && key[i] != '.'))
			return 0;
	}
	return 1;
}

int sy_context_value_valid(const char *value)
{
	size_t i;

	if (value == NULL)
		return 0;
	for (i = 0; value[i] != '\0'; i++) {
		if (i >= SY_CONTEXT_VALUE_MAX ||
		    (unsigned char)value[i] < 0x20 || value[i] == 0x7f)
			return 0;
	}
	return 1;
}

const char *sy_context_problem(Switchyard__Header *const *ctx, size_t n)
{
	size_t i, j, bytes = 0;

	if (n > SY_CONTEXT_MAX)
		return "more than " STR(SY_CONTEXT_MAX) " context entries";
	for (i = 0; i < n; i++) {
		if (!sy_context_key_valid(ctx[i]->name))
			return "invalid context key (1-63 of [a-z0-9_.-], starting "
			       "with a letter or digit)";
		if (!sy_context_value_valid(ctx[i]->value))
			return "invalid context value (at most "
			       STR(SY_CONTEXT_VALUE_MAX) " bytes, no control "
			       "characters)";
		for (j = 0; j < i; j++) {
			if (strcmp(ctx[i]->name, ctx[j]->name) == 0)
				return "a context key given twice";
		}
		bytes += strlen(ctx[i]->name) + strlen(ctx[i]->value);
	}
	return bytes > SY_CONTEXT_BYTES ? "context over "
	       STR(SY_CONTEXT_BYTES) " bytes" : NULL;
}

static int origin_form(const char *url)
{
	size_t i;

	if (url[0] == '\0')
		return 1;
	if (url[0] != '/')
		return 0;
	for (i = 0; url[i] != '\0'; i++) {
		if (i >= SY_FORWARD_URL_MAX || (unsigned char)url[i] <= 0x20 ||
		    (unsigned char)url[i] >= 0x7f)
			return 0;
	}
	return 1;
}

static int tokens_ok(char *const *v, size_t n)
{
	size_t i;

	if (n > SY_FORWARD_EDITS_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		if (!sy_http_token(v[i], strlen(v[i])))
			return 0;
	}
	return 1;
}

static int headers_ok(Switchyard__Header *const *h, size_t n, int request)
{
	size_t i;

	if (n > SY_FORWARD_EDITS_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		if (!sy_http_token(h[i]->name, strlen(h[i]->name)) ||
		    !sy_http_value(h[i]->value, strlen(h[i]->value)))
			return 0;
		/* the body and its framing are the platform's */
		if (request && (strcasecmp(h[i]->name, "content-length") == 0 ||
		                strcasecmp(h[i]->name, "transfer-encoding") == 0))
			return 0;
	}
	return 1;
}

static const char *cache_problem(const Switchyard__ForwardCache *fc)
{
	if (fc == NULL)
		return NULL;
	if (fc->ttl_s < 1 || fc->ttl_s > SY_FORWARD_CACHE_TTL_MAX)
		return "cache ttl out of range (1-" STR(SY_FORWARD_CACHE_TTL_MAX)
		       " s)";
	if (fc->n_vary > SY_FORWARD_VARY_MAX || !tokens_ok(fc->vary, fc->n_vary))
		return "cache vary: at most " STR(SY_FORWARD_VARY_MAX)
		       " header names";
	return NULL;
}

const char *sy_forward_problem(const Switchyard__Forward *fw)
{
	const char *why;

	if (!sy_valid_name(fw->ns) || !sy_valid_name(fw->worker))
		return "invalid target worker name";
	if (!origin_form(fw->url))
		return "url is not an origin-form target";
	if (!tokens_ok(fw->remove_headers, fw->n_remove_headers) ||
	    !headers_ok(fw->set_headers, fw->n_set_headers, 1))
		return "invalid request header edit";
	if (!tokens_ok(fw->response_remove_headers,
	               fw->n_response_remove_headers) ||
	    !headers_ok(fw->response_set_headers, fw->n_response_set_headers,
	                0) ||
	    !headers_ok(fw->response_default_headers,
	                fw->n_response_default_headers, 0))
		return "invalid response header edit";
	if ((why = sy_context_problem(fw->context, fw->n_context)) != NULL)
		return why;
	return cache_problem(fw->cache);
}
