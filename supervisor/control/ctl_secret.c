/*
 * yardctl secret put|list|delete, and the checks a deploy's secrets get
 * too (ctl_deploy.c): a secret is the worker's (state/secrets.c), never
 * echoed, logged or sent back; a change reaches its processes through a new
 * version.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "control/ctl.h"
#include "log.h"
#include "state/registry.h"
#include "state/secrets.h"

/* How a message names entry i of a request's secrets: by its KEY when
 * there is a well-formed one; else by its place, since without "=" (or
 * with a garbled name) the whole entry may be the value itself. */
static void secret_label(const char *kv, size_t kl, size_t i, char *buf,
                         size_t size)
{
	size_t k;
	int ok = kv[kl] == '=' && kl > 0 && kl <= 128 &&
	         !(kv[0] >= '0' && kv[0] <= '9');

	for (k = 0; ok && k < kl; k++)
		ok = (kv[k] >= 'A' && kv[k] <= 'Z') ||
		     (kv[k] >= 'a' && kv[k] <= 'z') ||
		     (kv[k] >= '0' && kv[k] <= '9') || kv[k] == '_';
	if (ok)
		snprintf(buf, size, "%.*s", (int)kl, kv);
	else
		snprintf(buf, size, "entry %zu", i + 1);
}

/* Names only the key of a bad secret: its value must never be echoed. */
int ctl_secrets_check(const Switchyard__CtlRequest *req, const char *cmd,
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
		secret_label(req->secrets[i], kl, i, key, sizeof(key));
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
int ctl_secrets_apply(const Switchyard__CtlRequest *req, const char *safe,
                      struct ctl_reply *rep)
{
	if (req->n_secrets == 0)
		return 0;
	if (secrets_set(safe, req->secrets, req->n_secrets, rep->error,
			sizeof(rep->error)) == -1 ||
	    secrets_save(control_env.conf->state_dir, rep->error,
			 sizeof(rep->error)) == -1) {
		rep->res.code = CTL_FAIL;
		return -1;
	}
	return 0;
}

/* A deploy that failed changes no secrets: a new worker has none again,
 * an existing one the ones it had (saved by secrets_snapshot). */
void ctl_secrets_undo(const char *safe, char **saved, size_t nsaved)
{
	char err[512];

	if (secrets_restore(safe, saved, nsaved, err, sizeof(err)) == -1 ||
	    secrets_save(control_env.conf->state_dir, err, sizeof(err)) == -1)
		log_warnx("deploy %s: putting its secrets back: %s", safe, err);
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
	if ((w = ctl_worker_named(&sub, "secret", safe, sizeof(safe), rep)) ==
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
		if (ctl_secrets_check(req, "secret put", safe, rep) == -1 ||
		    ctl_secrets_apply(req, safe, rep) == -1)
			return;
	} else if (strcmp(op, "delete") == 0) {
		ctl_safe(req->args[2], key, sizeof(key));
		if (!secrets_delete(safe, req->args[2])) {
			ctl_fail(rep, CTL_BAD_INPUT, "secret delete %s: no "
				 "secret %s", safe, key);
			return;
		}
		if (secrets_save(control_env.conf->state_dir, rep->error,
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
