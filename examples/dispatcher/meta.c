/*
 * meta.c: a host's JSON metadata, as an operator writes it with
 * `yardctl kv put routes host:NAME '{...}'`. Everything that ends up in a
 * header or picks a worker is checked here, so a bad entry costs one 502
 * for its host and nothing else.
 */
#include <stdio.h>
#include <string.h>

#include "dispatcher.h"

#define STRIP_MAX 32   /* strip_headers entries */
#define FIELD_MAX 1024 /* bytes of a string that becomes a header */

/* Values that become headers or context: no control characters (a
 * context value may hold none, not even a tab). */
static int header_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* An HTTP token (RFC 9110 tchar), as header names must be. */
static int token(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
		    !(*s >= '0' && *s <= '9') && !strchr("!#$%&'*+-.^_`|~", *s))
			return 0;
	return 1;
}

/* The optional string field key into *out: 0, or -1 with why. */
static int opt_string(const json_t *root, const char *key, const char **out,
                      char *why, size_t whylen)
{
	const json_t *v = json_object_get(root, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) > FIELD_MAX ||
	    strlen(json_string_value(v)) != json_string_length(v) ||
	    !header_safe(json_string_value(v))) {
		snprintf(why, whylen, "\"%s\" must be a string of at most %d "
		         "printable characters", key, FIELD_MAX);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

static int parse_auth(const json_t *root, enum auth_kind *auth, char *why,
                      size_t whylen)
{
	const char *a;

	if (opt_string(root, "auth", &a, why, whylen) < 0)
		return -1;
	if (a == NULL || strcmp(a, "none") == 0)
		*auth = AUTH_NONE;
	else if (strcmp(a, "bearer") == 0)
		*auth = AUTH_BEARER;
	else if (strcmp(a, "api_key") == 0)
		*auth = AUTH_API_KEY;
	else {
		snprintf(why, whylen, "\"auth\" must be none, bearer or "
		         "api_key");
		return -1;
	}
	return 0;
}

static int parse_strip(const json_t *root, const json_t **out, char *why,
                       size_t whylen)
{
	const json_t *v = json_object_get(root, "strip_headers"), *h;
	size_t i;

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_array(v) || json_array_size(v) > STRIP_MAX)
		goto bad;
	json_array_foreach(v, i, h)
		if (!json_is_string(h) || !token(json_string_value(h)))
			goto bad;
	*out = v;
	return 0;
bad:
	snprintf(why, whylen, "\"strip_headers\" must be an array of at most "
	         "%d header names", STRIP_MAX);
	return -1;
}

/* tags are the operator's; they only have to be strings. */
static int check_tags(const json_t *root, char *why, size_t whylen)
{
	const json_t *v = json_object_get(root, "tags"), *t;
	size_t i;

	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_array(v)) {
		json_array_foreach(v, i, t)
			if (!json_is_string(t))
				break;
		if (i == json_array_size(v))
			return 0;
	}
	snprintf(why, whylen, "\"tags\" must be an array of strings");
	return -1;
}

static int check_fields(struct meta *m, char *why, size_t whylen)
{
	const json_t *root = m->root;

	if (opt_string(root, "worker", &m->worker, why, whylen) < 0)
		return -1;
	if (m->worker == NULL || !valid_name(m->worker, strlen(m->worker))) {
		snprintf(why, whylen, "\"worker\" must be a worker name "
		         "([a-z0-9_-], 1-63, not starting with - or _)");
		return -1;
	}
	if (opt_string(root, "plan", &m->plan, why, whylen) < 0 ||
	    opt_string(root, "customer_id", &m->customer_id, why, whylen) < 0 ||
	    opt_string(root, "cache_control", &m->cache_control, why,
	               whylen) < 0 ||
	    parse_auth(root, &m->auth, why, whylen) < 0 ||
	    parse_strip(root, &m->strip, why, whylen) < 0 ||
	    check_tags(root, why, whylen) < 0)
		return -1;
	/* a token proves a customer: without one, any token would do */
	if (m->auth != AUTH_NONE && m->customer_id == NULL) {
		snprintf(why, whylen, "\"auth\" needs a \"customer_id\"");
		return -1;
	}
	return 0;
}

int meta_parse(const char *val, size_t len, struct meta *m, char *why,
               size_t whylen)
{
	json_error_t jerr;

	memset(m, 0, sizeof(*m));
	if (len > META_MAX) {
		snprintf(why, whylen, "%zu bytes, more than %d", len, META_MAX);
		return -1;
	}
	m->root = json_loadb(val, len, JSON_REJECT_DUPLICATES, &jerr);
	if (m->root == NULL) {
		snprintf(why, whylen, "not JSON: %s (at byte %d)", jerr.text,
		         jerr.position);
		return -1;
	}
	if (!json_is_object(m->root)) {
		snprintf(why, whylen, "not a JSON object");
		meta_free(m);
		return -1;
	}
	if (check_fields(m, why, whylen) < 0) {
		meta_free(m);
		return -1;
	}
	return 0;
}

void meta_free(struct meta *m)
{
	json_decref(m->root);
	memset(m, 0, sizeof(*m));
}
