/*
 * What a deploy may ask for (environment, KV bindings, tags, tail
 * consumers), checked the same for the control socket and [deploy]
 * sections; and the control socket's deploy commands: deploy, versions,
 * rollback, list, delete and secret, which check what the client sent and
 * leave the work to registry.c (versions, deletion) and secrets.c.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "deployops.h"
#include "log.h"
#include "main.h"
#include "pool.h"
#include "secrets.h"
#include "store.h"
#include "supervisor.h"
#include "util.h"

/* ---- what a deploy may say (registry.c checks it with these) ---- */

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

static int env_key_valid(const char *kv, size_t kl)
{
	size_t i;

	for (i = 0; i < kl; i++) {
		if (!((kv[i] >= 'A' && kv[i] <= 'Z') ||
		      (kv[i] >= 'a' && kv[i] <= 'z') || kv[i] == '_' ||
		      (i > 0 && kv[i] >= '0' && kv[i] <= '9')))
			return 0;
	}
	return kl > 0 && kl <= 128;
}

const char *registry_env_problem(const char *kv)
{
	const char *eq = strchr(kv, '=');
	const char *p;

	if (eq == NULL)
		return "expected KEY=VALUE";
	if (!env_key_valid(kv, (size_t)(eq - kv)))
		return "invalid variable name (use 1-128 of A-Z a-z 0-9 _, not "
		       "starting with a digit)";
	if (strlen(kv) >= REG_MAX_ENV_LEN)
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

/* Names only the variable in errors, and only a well-formed one: its value
 * may be a secret. */
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
		if ((why = registry_env_problem(env[i])) != NULL) {
			if (env_key_valid(env[i], kl))
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
	size_t i;

	for (i = 0; tag[i] != '\0'; i++) {
		if (i >= REG_TAG_MAX ||
		    !((tag[i] >= 'a' && tag[i] <= 'z') ||
		      (tag[i] >= 'A' && tag[i] <= 'Z') ||
		      (tag[i] >= '0' && tag[i] <= '9') || tag[i] == '_' ||
		      tag[i] == '.' || tag[i] == ':' || tag[i] == '-'))
			return "invalid tag (use 1-64 of A-Z a-z 0-9 _ . : -)";
	}
	return i == 0 ? "empty tag" : NULL;
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

int deploy_spec_check(const char *label, const struct deploy_spec *s,
		      struct kv_binding *kv, char *err, size_t errlen)
{
	if (env_check(label, s->env, s->nenv, err, errlen) == -1 ||
	    kv_check(label, s, kv, err, errlen) == -1 ||
	    strv_check(label, "tag", s->tags, s->ntags, SY_MAX_TAGS, label,
		       tag_problem2, err, errlen) == -1)
		return -1;
	return strv_check(label, "tail consumer", s->tail_consumers,
			  s->ntail_consumers, REG_MAX_TAIL, label,
			  deploy_tail_problem, err, errlen);
}

/* The one NS/NAME argument of a command; -1 with rep failed. */
static int worker_arg(const Switchyard__CtlRequest *req, const char *cmd,
		      char *ns, char *name, char *safe, size_t safelen,
		      struct ctl_reply *rep)
{
	char e[384];

	if (req->n_args < 1) {
		ctl_fail(rep, CTL_USAGE, "%s: expected NS/NAME", cmd);
		return -1;
	}
	ctl_safe(req->args[0], safe, safelen);
	if (sy_split_worker(safe, ns, name, e, sizeof(e)) == -1) {
		ctl_fail(rep, CTL_BAD_INPUT, "%s %s", cmd, e);
		return -1;
	}
	return 0;
}

/* The spec a deploy request carries; strings stay the request's. */
static int spec_from(const Switchyard__CtlRequest *req, const char *safe,
		     struct deploy_spec *s, struct ctl_reply *rep)
{
	char e[SY_NAME_MAX + 8];

	memset(s, 0, sizeof(*s));
	if (strlen(req->plan) >= SY_NAME_MAX ||
	    strcmp(ctl_safe(req->plan, e, sizeof(e)), req->plan) != 0) {
		ctl_fail(rep, CTL_BAD_INPUT, "deploy %s: invalid plan name",
			 safe);
		return -1;
	}
	snprintf(s->plan, sizeof(s->plan), "%s", req->plan);
	s->env = req->env;
	s->nenv = req->n_env;
	s->kv = req->kv;
	s->nkv = req->n_kv;
	s->tags = req->tags;
	s->ntags = req->n_tags;
	s->tail_consumers = req->tail_consumers;
	s->ntail_consumers = req->n_tail_consumers;
	return 0;
}

/* Names only the key of a bad secret: its value must never be echoed. */
static int secrets_check(const Switchyard__CtlRequest *req, const char *cmd,
			 const char *safe, struct ctl_reply *rep)
{
	const char *why;
	char key[160];
	size_t i, j, kl;

	if (req->n_secrets > SECRETS_MAX) {
		ctl_fail(rep, CTL_BAD_INPUT, "%s %s: more than %d secrets",
			 cmd, safe, SECRETS_MAX);
		return -1;
	}
	for (i = 0; i < req->n_secrets; i++) {
		kl = strcspn(req->secrets[i], "=");
		snprintf(key, sizeof(key), "%.*s", (int)(kl < 128 ? kl : 128),
			 req->secrets[i]);
		ctl_safe(key, key, sizeof(key));
		if ((why = secrets_problem(req->secrets[i])) != NULL) {
			ctl_fail(rep, CTL_BAD_INPUT, "%s %s: secret %s: %s",
				 cmd, safe, key, why);
			return -1;
		}
		for (j = 0; j < i; j++) {
			if (strncmp(req->secrets[j], req->secrets[i], kl + 1) ==
			    0) {
				ctl_fail(rep, CTL_BAD_INPUT, "%s %s: secret %s "
					 "given twice", cmd, safe, key);
				return -1;
			}
		}
	}
	return 0;
}

/* Records the request's secrets for worker safe ("ns/name"). */
static int secrets_apply(const Switchyard__CtlRequest *req, const char *safe,
			 struct ctl_reply *rep)
{
	if (req->n_secrets == 0)
		return 0;
	if (secrets_set(safe, req->secrets, req->n_secrets, rep->error,
			sizeof(rep->error)) == -1 ||
	    secrets_save(sup_conf->state_dir, rep->error,
			 sizeof(rep->error)) == -1) {
		rep->res.code = CTL_FAIL;
		return -1;
	}
	return 0;
}

/* A deploy that failed changes no secrets: a new worker has none again,
 * an existing one the ones it had (saved by secrets_snapshot). */
static void secrets_undo(const char *safe, char **saved, size_t nsaved)
{
	char err[512];

	if (secrets_restore(safe, saved, nsaved, err, sizeof(err)) == -1 ||
	    secrets_save(sup_conf->state_dir, err, sizeof(err)) == -1)
		log_warnx("deploy %s: putting its secrets back: %s", safe, err);
}

/* deploy NS/NAME with the executable's descriptor attached */
void ctl_deploy(const Switchyard__CtlRequest *req, int fd,
		struct ctl_reply *rep)
{
	char ns[SY_NAME_MAX], name[SY_NAME_MAX], safe[160], **saved = NULL;
	struct deploy_spec spec;
	struct worker *w;
	size_t nsaved = 0;
	int n;

	if (req->n_args != 1) {
		ctl_fail(rep, CTL_USAGE, "deploy: expected NS/NAME");
		return;
	}
	if (worker_arg(req, "deploy", ns, name, safe, sizeof(safe), rep) == -1)
		return;
	if (fd < 0) {
		ctl_fail(rep, CTL_BAD_INPUT,
			 "deploy %s: no executable attached to the request",
			 safe);
		return;
	}
	if (spec_from(req, safe, &spec, rep) == -1 ||
	    secrets_check(req, "deploy", safe, rep) == -1)
		return;
	if (req->n_secrets > 0 &&
	    secrets_snapshot(safe, &saved, &nsaved) == -1) {
		ctl_fail(rep, CTL_FAIL, "deploy %s: %s", safe,
			 strerror(ENOMEM));
		return;
	}
	/* first, so that the new version's processes start with them */
	if (secrets_apply(req, safe, rep) == -1) {
		secrets_undo(safe, saved, nsaved);
		return;
	}
	n = registry_deploy(ns, name, fd, &spec, rep->error,
			    sizeof(rep->error));
	if (n == -1) {
		rep->res.code = errno == EINVAL ? CTL_BAD_INPUT : CTL_FAIL;
		if (req->n_secrets > 0)
			secrets_undo(safe, saved, nsaved);
		return;
	}
	secrets_restore(NULL, saved, nsaved, NULL, 0);
	w = registry_find(ns, name);
	snprintf(rep->message, sizeof(rep->message),
		 "deployed %s/%s version %d (sha256 %.12s...)", ns, name, n,
		 worker_version(w)->sha256);
	log_info("control: uid %u %s, plan %s", (unsigned)rep->uid,
		 rep->message, worker_version(w)->plan);
	if (ctl_reserve(rep, 1) == -1) {
		/* deployed all the same: say so rather than fail */
		rep->res.workers = NULL;
		return;
	}
	ctl_add_worker(rep, w);
}

/* The worker an argument names; fails rep with CTL_UNKNOWN_WORKER. */
static struct worker *worker_named(const Switchyard__CtlRequest *req,
				   const char *cmd, char *safe, size_t safelen,
				   struct ctl_reply *rep)
{
	char ns[SY_NAME_MAX], name[SY_NAME_MAX];
	struct worker *w;

	if (worker_arg(req, cmd, ns, name, safe, safelen, rep) == -1)
		return NULL;
	if ((w = registry_find(ns, name)) == NULL)
		ctl_fail(rep, CTL_UNKNOWN_WORKER, "%s %s: no such worker", cmd,
			 safe);
	return w;
}

static int has_tag(const struct worker *w, const char *tag)
{
	const struct version *v = worker_version(w);
	size_t i;

	for (i = 0; i < v->ntags; i++) {
		if (strcmp(v->tags[i], tag) == 0)
			return 1;
	}
	return 0;
}

/* list [--tag T] [NS]: every worker (of NS, with tag T). */
void ctl_list(const Switchyard__CtlRequest *req, int fd,
	      struct ctl_reply *rep)
{
	const char *ns = req->n_args > 0 ? req->args[0] : NULL;
	struct worker *w;
	size_t n = 0;
	int pass;

	if (req->n_args > 1) {
		ctl_fail(rep, CTL_USAGE, "list: expected at most one NS");
		return;
	}
	if (ns != NULL && !sy_valid_name(ns)) {
		ctl_fail(rep, CTL_BAD_INPUT, "list: invalid namespace");
		return;
	}
	for (pass = 0; pass < 2; pass++) {
		for (w = registry_first(); w != NULL; w = registry_next(w)) {
			if ((ns != NULL && strcmp(w->ns, ns) != 0) ||
			    (req->tag[0] != '\0' && !has_tag(w, req->tag)))
				continue;
			if (pass == 0)
				n++;
			else
				ctl_add_worker(rep, w);
		}
		if (pass == 0 && n > 0 && ctl_reserve(rep, n) == -1) {
			ctl_fail(rep, CTL_FAIL, "list: out of memory");
			return;
		}
	}
	if (n == 0)
		snprintf(rep->message, sizeof(rep->message), "no workers%s",
			 req->tag[0] != '\0' || ns != NULL ? " match" : "");
}

/* versions NS/NAME: oldest first. */
void ctl_versions(const Switchyard__CtlRequest *req, int fd,
		  struct ctl_reply *rep)
{
	Switchyard__VersionInfo *vi, **vip;
	char safe[160];
	struct worker *w;
	size_t i;

	if (req->n_args != 1) {
		ctl_fail(rep, CTL_USAGE, "versions: expected NS/NAME");
		return;
	}
	if ((w = worker_named(req, "versions", safe, sizeof(safe), rep)) ==
	    NULL)
		return;
	vi = calloc(w->nversions, sizeof(*vi));
	vip = calloc(w->nversions, sizeof(*vip));
	if (vi == NULL || vip == NULL) {
		free(vi);
		free(vip);
		ctl_fail(rep, CTL_FAIL, "versions %s: out of memory", safe);
		return;
	}
	for (i = 0; i < w->nversions; i++) {
		switchyard__version_info__init(&vi[i]);
		vi[i].number = w->versions[i].number;
		vi[i].sha256 = w->versions[i].sha256;
		vi[i].deployed_at = w->versions[i].deployed_at;
		vi[i].plan = w->versions[i].plan;
		vi[i].tags = w->versions[i].tags;
		vi[i].n_tags = w->versions[i].ntags;
		vi[i].current = i == w->current;
		vip[i] = &vi[i];
	}
	rep->versions = vi;
	rep->res.versions = vip;
	rep->res.n_versions = w->nversions;
}

/* rollback NS/NAME [VERSION]: default, the version before the current. */
void ctl_rollback(const Switchyard__CtlRequest *req, int fd,
		  struct ctl_reply *rep)
{
	char safe[160];
	struct worker *w;
	uint32_t to = req->version;

	if (req->n_args != 1) {
		ctl_fail(rep, CTL_USAGE, "rollback: expected NS/NAME");
		return;
	}
	if ((w = worker_named(req, "rollback", safe, sizeof(safe), rep)) ==
	    NULL)
		return;
	if (to == 0 && w->current == 0) {
		ctl_fail(rep, CTL_BAD_INPUT, "rollback %s: version %u is the "
			 "oldest kept: name a VERSION", safe,
			 worker_version(w)->number);
		return;
	}
	if (to == 0)
		to = w->versions[w->current - 1].number;
	if (registry_rollback(w, to, rep->error, sizeof(rep->error)) == -1) {
		rep->res.code = errno == ENOENT || errno == EINVAL
				    ? CTL_BAD_INPUT : CTL_FAIL;
		return;
	}
	snprintf(rep->message, sizeof(rep->message),
		 "%s: version %u is current", safe, to);
	log_info("control: uid %u: rollback %s", (unsigned)rep->uid,
		 rep->message);
}

/* What a waiting delete remembers: the workers, by name. */
struct del_wait {
	uint64_t deadline;
	size_t n;
	char names[][2 * SY_NAME_MAX];
};

#define DELETE_WAIT_MS 90000 /* as stop: in-flight requests + grace */

static struct worker *by_label(const char *label)
{
	char ns[SY_NAME_MAX], name[SY_NAME_MAX], e[256];

	if (sy_split_worker(label, ns, name, e, sizeof(e)) == -1)
		return NULL;
	return registry_find(ns, name);
}

static int delete_poll(void *arg, struct ctl_reply *rep)
{
	struct del_wait *dw = arg;
	struct worker *w;
	size_t i;

	for (i = 0; i < dw->n; i++) {
		w = by_label(dw->names[i]);
		if (w != NULL && !pool_op_none_left(w) &&
		    ev_now_ms(sup_loop) < dw->deadline)
			return 0;
	}
	for (i = 0; i < dw->n; i++) {
		if ((w = by_label(dw->names[i])) == NULL)
			continue;
		if (registry_delete(w, rep->error, sizeof(rep->error)) == -1) {
			rep->res.code = CTL_FAIL;
			return 1;
		}
		log_info("control: %s deleted", dw->names[i]);
		ctl_line(rep, "%s: deleted", dw->names[i]);
	}
	return 1;
}

static int is_dispatch(const struct worker *w)
{
	return strcmp(w->ns, sup_conf->dispatch_ns) == 0 &&
	       strcmp(w->name, sup_conf->dispatch_name) == 0;
}

/* Selects the workers to delete into dw; refuses the dispatch worker. */
static struct del_wait *delete_select(const Switchyard__CtlRequest *req,
				      struct ctl_reply *rep)
{
	struct del_wait *dw;
	struct worker *w, *one = NULL;
	char safe[160];
	size_t n = 0;

	if (req->n_args == 1 &&
	    (one = worker_named(req, "delete", safe, sizeof(safe), rep)) ==
		NULL)
		return NULL;
	for (w = registry_first(); w != NULL; w = registry_next(w))
		n += one == w || (one == NULL && has_tag(w, req->tag));
	if (n == 0) {
		ctl_fail(rep, CTL_UNKNOWN_WORKER, "delete --tag %s: no worker "
			 "has that tag", ctl_safe(req->tag, safe, sizeof(safe)));
		return NULL;
	}
	if ((dw = calloc(1, sizeof(*dw) + n * sizeof(dw->names[0]))) == NULL) {
		ctl_fail(rep, CTL_FAIL, "delete: out of memory");
		return NULL;
	}
	for (w = registry_first(); w != NULL; w = registry_next(w)) {
		if (one != w && (one != NULL || !has_tag(w, req->tag)))
			continue;
		if (is_dispatch(w)) {
			ctl_fail(rep, CTL_BAD_INPUT, "delete %s/%s: it is the "
				 "dispatch worker ([switchyard] dispatch in %s)",
				 w->ns, w->name, sup_conf->path);
			free(dw);
			return NULL;
		}
		snprintf(dw->names[dw->n++], sizeof(dw->names[0]), "%s/%s",
			 w->ns, w->name);
	}
	return dw;
}

/* delete NS/NAME | --tag T: drains and stops, then forgets. */
void ctl_delete(const Switchyard__CtlRequest *req, int fd,
		struct ctl_reply *rep)
{
	struct del_wait *dw;
	struct worker *w;
	char e[256];
	size_t i;

	if ((req->n_args == 1) == (req->tag[0] != '\0') || req->n_args > 1) {
		ctl_fail(rep, CTL_USAGE, "delete: expected NS/NAME or --tag T");
		return;
	}
	if ((dw = delete_select(req, rep)) == NULL)
		return;
	dw->deadline = ev_now_ms(sup_loop) + DELETE_WAIT_MS;
	rep->poll = delete_poll;
	rep->poll_arg = dw;
	for (i = 0; i < dw->n; i++) {
		log_info("control: uid %u: delete %s", (unsigned)rep->uid,
			 dw->names[i]);
		w = by_label(dw->names[i]);
		if (pool_op_stop(w, e, sizeof(e)) == -1) {
			ctl_fail(rep, CTL_FAIL, "delete %s: %s", dw->names[i],
				 e);
			return;
		}
	}
}

/* Processes read their environment once: a changed secret reaches the
 * worker through a new version, as on Cloudflare, whose processes replace
 * the old ones like a deploy's. */
static void secret_changed(struct worker *w, const char *op, const char *safe,
			   struct ctl_reply *rep)
{
	int n = registry_redeploy(w, rep->error, sizeof(rep->error));

	if (n == -1) {
		rep->res.code = CTL_FAIL;
		return;
	}
	snprintf(rep->message, sizeof(rep->message),
		 "secret %s %s: done, version %d is current", op, safe, n);
	log_info("control: uid %u: secret %s %s (version %d)",
		 (unsigned)rep->uid, op, safe, n);
}

/* secret put NS/NAME (value in secrets[0]) | list NS/NAME |
 * delete NS/NAME KEY */
void ctl_secret(const Switchyard__CtlRequest *req, int fd,
		struct ctl_reply *rep)
{
	Switchyard__CtlRequest sub = *req;
	char safe[160], key[160];
	char *const *names;
	struct worker *w;
	const char *op = req->n_args > 0 ? req->args[0] : "";
	size_t i, n;

	if (req->n_args < 2 ||
	    (strcmp(op, "delete") == 0) != (req->n_args == 3) ||
	    req->n_args > 3) {
		ctl_fail(rep, CTL_USAGE, "secret: expected put|list|delete "
			 "NS/NAME [KEY]");
		return;
	}
	/* the worker is the argument after the operation */
	sub.n_args = req->n_args - 1;
	sub.args = req->args + 1;
	if ((w = worker_named(&sub, "secret", safe, sizeof(safe), rep)) ==
	    NULL)
		return;
	if (strcmp(op, "list") == 0) {
		names = secrets_names(safe, &n);
		for (i = 0; i < n; i++)
			ctl_line(rep, "%s", names[i]);
		return;
	}
	if (strcmp(op, "put") == 0) {
		if (req->n_secrets != 1) {
			ctl_fail(rep, CTL_USAGE, "secret put %s: expected one "
				 "KEY=VALUE", safe);
			return;
		}
		if (secrets_check(req, "secret put", safe, rep) == -1 ||
		    secrets_apply(req, safe, rep) == -1)
			return;
	} else if (strcmp(op, "delete") == 0) {
		ctl_safe(req->args[2], key, sizeof(key));
		if (!secrets_delete(safe, req->args[2])) {
			ctl_fail(rep, CTL_BAD_INPUT, "secret delete %s: no "
				 "secret %s", safe, key);
			return;
		}
		if (secrets_save(sup_conf->state_dir, rep->error,
				 sizeof(rep->error)) == -1) {
			rep->res.code = CTL_FAIL;
			return;
		}
	} else {
		ctl_fail(rep, CTL_USAGE, "secret: unknown operation (put, "
			 "list, delete)");
		return;
	}
	secret_changed(w, op, safe, rep);
}
