/*
 * Each worker's secrets, in memory and in state_dir/secrets.json:
 *   {"format": 1, "workers": {"ns/name": {"KEY": "VALUE", ...}, ...}}
 * A list of workers with secrets: few have any, and changes are rare.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "names.h"
#include "state/secrets.h"
#include "state/store.h"
#include "util.h"

#define SECRETS_FILE "secrets.json"

struct wsecrets {
	char worker[2 * SY_NAME_MAX];
	char **kv;    /* "KEY=VALUE" */
	char **names; /* "KEY", same order */
	size_t n;
	struct wsecrets *next;
};

static struct wsecrets *sec_list;

static void zfree(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

static void ws_free(struct wsecrets *ws)
{
	size_t i;

	for (i = 0; i < ws->n; i++) {
		zfree(ws->kv[i]);
		free(ws->names[i]);
	}
	free(ws->kv);
	free(ws->names);
	free(ws);
}

static struct wsecrets **ws_slot(const char *worker)
{
	struct wsecrets **pp;

	for (pp = &sec_list; *pp != NULL; pp = &(*pp)->next) {
		if (strcmp((*pp)->worker, worker) == 0)
			break;
	}
	return pp;
}

static struct wsecrets *ws_get(const char *worker, int create)
{
	struct wsecrets **pp = ws_slot(worker), *ws;

	if (*pp != NULL || !create)
		return *pp;
	if ((ws = calloc(1, sizeof(*ws))) == NULL ||
	    (ws->kv = calloc(SECRETS_MAX, sizeof(*ws->kv))) == NULL ||
	    (ws->names = calloc(SECRETS_MAX, sizeof(*ws->names))) == NULL) {
		if (ws != NULL)
			free(ws->kv);
		free(ws);
		return NULL;
	}
	snprintf(ws->worker, sizeof(ws->worker), "%s", worker);
	*pp = ws;
	return ws;
}

static size_t keylen(const char *kv)
{
	const char *eq = strchr(kv, '=');

	return eq != NULL ? (size_t)(eq - kv) : strlen(kv);
}

static ssize_t ws_find(const struct wsecrets *ws, const char *key, size_t kl)
{
	size_t i;

	for (i = 0; i < ws->n; i++) {
		if (strlen(ws->names[i]) == kl &&
		    strncmp(ws->names[i], key, kl) == 0)
			return (ssize_t)i;
	}
	return -1;
}

const char *secrets_problem(const char *kv)
{
	const char *eq = strchr(kv, '=');
	json_t *j;

	if (eq == NULL)
		return "expected KEY=VALUE";
	if (!sy_env_key_valid(kv, (size_t)(eq - kv)))
		return "invalid name (use 1-128 of A-Z a-z 0-9 _, not "
		       "starting with a digit)";
	if (strlen(kv) >= SY_ENV_ENTRY_MAX)
		return "value too long (at most 8191 bytes with its name)";
	/* stored as JSON text, which must be UTF-8 */
	if ((j = json_string(eq + 1)) == NULL)
		return "value is not valid UTF-8";
	explicit_bzero((char *)json_string_value(j), json_string_length(j));
	json_decref(j);
	return NULL;
}

/* Adds or replaces one entry of ws; the new strings are made first so
 * that a failure leaves ws as it was. */
static int ws_put(struct wsecrets *ws, const char *kv)
{
	size_t kl = keylen(kv);
	ssize_t at = ws_find(ws, kv, kl);
	char *v = strdup(kv), *name = strndup(kv, kl);

	if (v == NULL || name == NULL || (at < 0 && ws->n == SECRETS_MAX)) {
		zfree(v);
		free(name);
		errno = v == NULL || name == NULL ? ENOMEM : ENOSPC;
		return -1;
	}
	if (at < 0)
		at = (ssize_t)ws->n++;
	else {
		zfree(ws->kv[at]);
		free(ws->names[at]);
	}
	ws->kv[at] = v;
	ws->names[at] = name;
	return 0;
}

int secrets_set(const char *worker, char *const *kv, size_t n, char *err,
		size_t errlen)
{
	struct wsecrets *ws;
	size_t i;

	if (n == 0)
		return 0;
	if ((ws = ws_get(worker, 1)) == NULL) {
		snprintf(err, errlen, "secret %s: %s", worker,
			 strerror(ENOMEM));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (ws_put(ws, kv[i]) == -1) {
			snprintf(err, errlen, "secret %s: %s", worker,
				 errno == ENOSPC ? "more than 64 secrets"
						 : strerror(errno));
			return -1;
		}
	}
	return 0;
}

int secrets_delete(const char *worker, const char *key)
{
	struct wsecrets *ws = ws_get(worker, 0);
	ssize_t at;

	if (ws == NULL || (at = ws_find(ws, key, strlen(key))) < 0)
		return 0;
	zfree(ws->kv[at]);
	free(ws->names[at]);
	ws->n--;
	memmove(&ws->kv[at], &ws->kv[at + 1],
		(ws->n - (size_t)at) * sizeof(*ws->kv));
	memmove(&ws->names[at], &ws->names[at + 1],
		(ws->n - (size_t)at) * sizeof(*ws->names));
	if (ws->n == 0)
		secrets_forget(worker);
	return 1;
}

void secrets_forget(const char *worker)
{
	struct wsecrets **pp = ws_slot(worker), *ws = *pp;

	if (ws == NULL)
		return;
	*pp = ws->next;
	ws_free(ws);
}

char *const *secrets_env(const char *worker, size_t *n)
{
	struct wsecrets *ws = ws_get(worker, 0);

	*n = ws != NULL ? ws->n : 0;
	return ws != NULL ? ws->kv : NULL;
}

char *const *secrets_names(const char *worker, size_t *n)
{
	struct wsecrets *ws = ws_get(worker, 0);

	*n = ws != NULL ? ws->n : 0;
	return ws != NULL ? ws->names : NULL;
}

void secrets_free(void)
{
	struct wsecrets *ws;

	while ((ws = sec_list) != NULL) {
		sec_list = ws->next;
		ws_free(ws);
	}
}

static json_t *secrets_json(void)
{
	json_t *root = json_object(), *workers = json_object(), *o;
	const struct wsecrets *ws;
	size_t i, kl;

	if (root == NULL || workers == NULL ||
	    json_object_set_new(root, "format", json_integer(1)) == -1 ||
	    json_object_set_new(root, "workers", workers) == -1) {
		json_decref(root);
		return NULL;
	}
	for (ws = sec_list; ws != NULL; ws = ws->next) {
		if ((o = json_object()) == NULL ||
		    json_object_set_new(workers, ws->worker, o) == -1)
			goto fail;
		for (i = 0; i < ws->n; i++) {
			kl = keylen(ws->kv[i]);
			if (json_object_set_new(o, ws->names[i],
						json_string(ws->kv[i] + kl + 1)))
				goto fail;
		}
	}
	return root;
fail:
	json_decref(root);
	return NULL;
}

/* jansson copies strings: the JSON tree's values are zeroed before it is
 * freed, as every other copy of a secret is. */
static void json_zero_free(json_t *root)
{
	json_t *workers = json_object_get(root, "workers"), *o, *v;
	const char *k, *kk;

	json_object_foreach(workers, k, o) {
		json_object_foreach(o, kk, v) {
			explicit_bzero((char *)json_string_value(v),
				       json_string_length(v));
		}
	}
	json_decref(root);
}

int secrets_save(const char *state_dir, char *err, size_t errlen)
{
	json_t *root = secrets_json();
	char *text;
	int rc;

	if (root == NULL ||
	    (text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS)) ==
		NULL) {
		if (root != NULL)
			json_zero_free(root);
		snprintf(err, errlen, "cannot encode %s/%s: out of memory",
			 state_dir, SECRETS_FILE);
		return -1;
	}
	json_zero_free(root);
	rc = store_write_file(state_dir, SECRETS_FILE, text, err, errlen);
	explicit_bzero(text, strlen(text));
	free(text);
	return rc;
}

static int load_worker(const char *file, const char *worker, json_t *o,
		       char *err, size_t errlen)
{
	char ns[SY_NAME_MAX], name[SY_NAME_MAX], e[256], *kv;
	const char *k, *why;
	json_t *v;
	int rc;

	if (sy_split_worker(worker, ns, name, e, sizeof(e)) == -1 ||
	    !json_is_object(o)) {
		snprintf(err, errlen, "state %s: invalid entry for worker "
			 "\"%.140s\"", file, worker);
		return -1;
	}
	json_object_foreach(o, k, v) {
		if (!json_is_string(v) ||
		    asprintf(&kv, "%s=%s", k, json_string_value(v)) < 0) {
			snprintf(err, errlen, "state %s: %s: secret %.128s: "
				 "not a string", file, worker, k);
			return -1;
		}
		if ((why = secrets_problem(kv)) != NULL)
			snprintf(err, errlen, "state %s: %s: secret %.128s: %s",
				 file, worker, k, why);
		rc = why == NULL ? secrets_set(worker, &kv, 1, err, errlen)
				 : -1;
		zfree(kv);
		if (rc == -1)
			return -1;
	}
	return 0;
}

int secrets_load(const char *state_dir, char *err, size_t errlen)
{
	char file[PATH_MAX];
	json_t *root, *workers, *o;
	json_error_t je;
	const char *k;
	int rc = 0;

	snprintf(file, sizeof(file), "%s/%s", state_dir, SECRETS_FILE);
	if (access(file, F_OK) == -1 && errno == ENOENT)
		return 0;
	if ((root = json_load_file(file, JSON_REJECT_DUPLICATES, &je)) ==
	    NULL) {
		snprintf(err, errlen, "state %s: line %d: %s", file, je.line,
			 je.text);
		return -1;
	}
	workers = json_object_get(root, "workers");
	if (!json_is_object(workers)) {
		snprintf(err, errlen, "state %s: workers must be an object",
			 file);
		rc = -1;
	}
	json_object_foreach(workers, k, o) {
		if (rc == 0)
			rc = load_worker(file, k, o, err, errlen);
	}
	json_zero_free(root);
	if (rc == -1)
		secrets_free();
	return rc;
}

int secrets_snapshot(const char *worker, char ***out, size_t *n)
{
	char *const *kv = secrets_env(worker, n);
	size_t i;

	*out = NULL;
	if (*n == 0)
		return 0;
	if ((*out = calloc(*n, sizeof(**out))) == NULL)
		return -1;
	for (i = 0; i < *n; i++) {
		if (((*out)[i] = strdup(kv[i])) == NULL) {
			secrets_restore(NULL, *out, i, NULL, 0);
			*out = NULL;
			return -1;
		}
	}
	return 0;
}

int secrets_restore(const char *worker, char **kv, size_t n, char *err,
		    size_t errlen)
{
	size_t i;
	int rc = 0;

	if (worker != NULL) {
		secrets_forget(worker);
		rc = secrets_set(worker, kv, n, err, errlen);
	}
	for (i = 0; i < n; i++)
		zfree(kv[i]);
	free(kv);
	return rc;
}
