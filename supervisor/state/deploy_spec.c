/*
 * What a deploy may ask for (environment, KV bindings, tags, tail
 * consumers, service bindings, dispatch namespaces), checked the same for the control socket and [deploy]
 * sections before registry.c touches the disk.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "names.h"
#include "state/deploy_spec.h"
#include "state/registry.h"
#include "util.h"

/* Strict UTF-8 (no overlongs, surrogates or values past U+10FFFF), since
 * the environment is stored as JSON text. */
static int utf8_valid(const unsigned char *s)
{
	unsigned int cp;
	int n, i;

	while (*s != '\0') {
		if (*s < 0x80) {
			s++;
			continue;
		}
		if (*s >= 0xc2 && *s <= 0xdf) {
			n = 1;
			cp = *s & 0x1f;
		} else if ((*s & 0xf0) == 0xe0) {
			n = 2;
			cp = *s & 0x0f;
		} else if (*s >= 0xf0 && *s <= 0xf4) {
			n = 3;
			cp = *s & 0x07;
		} else
			return 0;
		for (i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if ((n == 2 &&
		     (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		s += n + 1;
	}
	return 1;
}

const char *deploy_env_problem(const char *kv)
{
	const char *eq = strchr(kv, '=');
	const char *p;

	if (eq == NULL)
		return "expected KEY=VALUE";
	if (!sy_env_key_valid(kv, (size_t)(eq - kv)))
		return "invalid variable name (use 1-128 of A-Z a-z 0-9 _, not "
		       "starting with a digit)";
	if (strlen(kv) >= SY_ENV_ENTRY_MAX)
		return "entry too long";
	for (p = eq + 1; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return "value contains a control character";
	}
	if (!utf8_valid((const unsigned char *)eq + 1))
		return "value is not valid UTF-8";
	return NULL;
}

static size_t env_keylen(const char *kv)
{
	const char *eq = strchr(kv, '=');

	return eq != NULL ? (size_t)(eq - kv) : strlen(kv);
}

/* Names only the variable in errors, and only a well-formed one before an
 * '=': its value may be a secret, and so may an entry without '=' (a
 * value given without its name). */
static int env_check(const char *label, char *const *env, size_t nenv,
		     char *err, size_t errlen)
{
	const char *why;
	size_t i, j, kl;

	if (nenv > REG_MAX_ENV) {
		snprintf(err, errlen,
			 "deploy %s: too many environment variables (%zu, "
			 "at most %d)",
			 label, nenv, REG_MAX_ENV);
		return -1;
	}
	for (i = 0; i < nenv; i++) {
		kl = env_keylen(env[i]);
		if ((why = deploy_env_problem(env[i])) != NULL) {
			if (env[i][kl] == '=' && sy_env_key_valid(env[i], kl))
				snprintf(err, errlen,
					 "deploy %s: env %.*s: %s", label,
					 (int)kl, env[i], why);
			else
				snprintf(err, errlen,
					 "deploy %s: env entry %zu: %s", label,
					 i + 1, why);
			return -1;
		}
		for (j = 0; j < i; j++) {
			if (env_keylen(env[j]) == kl &&
			    strncmp(env[i], env[j], kl) == 0) {
				snprintf(err, errlen,
					 "deploy %s: env %.*s given twice",
					 label, (int)kl, env[i]);
				return -1;
			}
		}
	}
	return 0;
}

const char *deploy_tag_problem(const char *tag)
{
	if (tag[0] == '\0')
		return "empty tag";
	if (!sy_tag_valid(tag))
		return "invalid tag (use 1-64 of A-Z a-z 0-9 _ . : -)";
	return NULL;
}

const char *deploy_kv_problem(const char *binding)
{
	struct kv_binding b;

	return registry_kv_parse(binding, &b);
}

const char *deploy_tail_problem(const char *consumer, const char *self)
{
	char ns[SY_NAME_MAX], name[SY_NAME_MAX], e[256];

	if (sy_split_worker(consumer, ns, name, e, sizeof(e)) == -1)
		return "invalid tail consumer (expected NS/NAME of valid "
		       "names)";
	if (strcmp(consumer, self) == 0)
		return "a worker cannot be its own tail consumer";
	return NULL;
}

const char *deploy_service_problem(const char *binding)
{
	struct service_binding b;

	return registry_service_parse(binding, &b);
}

const char *deploy_dispatch_ns_problem(const char *ns)
{
	if (!sy_valid_name(ns))
		return "invalid namespace name (1-63 of [a-z0-9_-], starting "
		       "with a letter or digit)";
	return NULL;
}

/* Each entry of v valid (by problem, named by what) and none twice. */
static int strv_check(const char *label, const char *what, char *const *v,
		      size_t n, size_t max, const char *self,
		      const char *(*problem)(const char *, const char *),
		      char *err, size_t errlen)
{
	const char *why;
	size_t i, j;

	if (n > max) {
		snprintf(err, errlen, "deploy %s: more than %zu %ss", label,
			 max, what);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if ((why = problem(v[i], self)) != NULL) {
			snprintf(err, errlen, "deploy %s: %s %.80s: %s", label,
				 what, v[i], why);
			return -1;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(v[i], v[j]) == 0) {
				snprintf(err, errlen, "deploy %s: %s %s given "
					 "twice", label, what, v[i]);
				return -1;
			}
		}
	}
	return 0;
}

static const char *tag_problem2(const char *tag, const char *self)
{
	(void)self;
	return deploy_tag_problem(tag);
}

/* Parses the spec's KV bindings into kv (REG_MAX_KV entries). */
static int kv_check(const char *label, const struct deploy_spec *s,
		    struct kv_binding *kv, char *err, size_t errlen)
{
	const char *why;
	size_t i, j;

	if (s->nkv > REG_MAX_KV) {
		snprintf(err, errlen, "deploy %s: more than %d KV bindings",
			 label, REG_MAX_KV);
		return -1;
	}
	for (i = 0; i < s->nkv; i++) {
		if ((why = registry_kv_parse(s->kv[i], &kv[i])) != NULL) {
			snprintf(err, errlen, "deploy %s: kv %zu: %s", label,
				 i + 1, why);
			return -1;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(kv[j].name, kv[i].name) == 0) {
				snprintf(err, errlen, "deploy %s: KV binding "
					 "%s given twice", label, kv[i].name);
				return -1;
			}
		}
	}
	return 0;
}

static const char *dispatch_ns_problem2(const char *ns, const char *self)
{
	(void)self;
	return deploy_dispatch_ns_problem(ns);
}

/* Parses the spec's service bindings into svc (SY_MAX_SERVICES): one
 * target per name, names compared without case as http://NAME.worker/
 * does. */
static int svc_check(const char *label, const struct deploy_spec *s,
		     struct service_binding *svc, char *err, size_t errlen)
{
	const char *why;
	size_t i, j;

	if (s->nservices > SY_MAX_SERVICES) {
		snprintf(err, errlen, "deploy %s: more than %d service "
			 "bindings", label, SY_MAX_SERVICES);
		return -1;
	}
	for (i = 0; i < s->nservices; i++) {
		why = registry_service_parse(s->services[i], &svc[i]);
		for (j = 0; why == NULL && j < i; j++) {
			/* the supervisor runs in the C locale: ASCII */
			if (strcasecmp(svc[j].name, svc[i].name) == 0)
				why = "a service binding of that name is given "
				      "already";
		}
		if (why != NULL) {
			snprintf(err, errlen, "deploy %s: service %.200s: %s",
				 label, s->services[i], why);
			return -1;
		}
	}
	return 0;
}

int deploy_spec_check(const char *label, const struct deploy_spec *s,
		      struct kv_binding *kv, struct service_binding *svc,
		      char *err, size_t errlen)
{
	if (env_check(label, s->env, s->nenv, err, errlen) == -1 ||
	    kv_check(label, s, kv, err, errlen) == -1 ||
	    strv_check(label, "tag", s->tags, s->ntags, SY_MAX_TAGS, label,
		       tag_problem2, err, errlen) == -1 ||
	    strv_check(label, "tail consumer", s->tail_consumers,
		       s->ntail_consumers, REG_MAX_TAIL, label,
		       deploy_tail_problem, err, errlen) == -1 ||
	    svc_check(label, s, svc, err, errlen) == -1)
		return -1;
	return strv_check(label, "dispatch namespace", s->dispatch_ns,
			  s->ndispatch_ns, SY_MAX_DISPATCH_NS, label,
			  dispatch_ns_problem2, err, errlen);
}

void deploy_spec_free(struct deploy_spec *s)
{
	size_t i;

	/* env values may be secrets, as in version_clear */
	for (i = 0; i < s->nenv; i++)
		explicit_bzero(s->env[i], strlen(s->env[i]));
	sy_strv_free(s->env, s->nenv);
	sy_strv_free(s->kv, s->nkv);
	sy_strv_free(s->tags, s->ntags);
	sy_strv_free(s->tail_consumers, s->ntail_consumers);
	sy_strv_free(s->services, s->nservices);
	sy_strv_free(s->dispatch_ns, s->ndispatch_ns);
	memset(s, 0, sizeof(*s));
}
