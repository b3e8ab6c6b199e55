/*
 * The control socket's deploy commands: deploy, versions, rollback, list
 * and delete. They check what the client sent and leave the work to
 * state/registry.c; secrets are ctl_secret.c's.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/ctl.h"
#include "log.h"
#include "serve/pool.h"
#include "state/registry.h"
#include "state/secrets.h"
#include "util.h"

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
	s->services = req->services;
	s->nservices = req->n_services;
	s->dispatch_ns = req->dispatch_namespaces;
	s->ndispatch_ns = req->n_dispatch_namespaces;
	return 0;
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
	if (ctl_worker_arg(req, "deploy", ns, name, safe, sizeof(safe), rep) == -1)
		return;
	if (fd < 0) {
		ctl_fail(rep, CTL_BAD_INPUT,
			 "deploy %s: no executable attached to the request",
			 safe);
		return;
	}
	if (spec_from(req, safe, &spec, rep) == -1 ||
	    ctl_secrets_check(req, "deploy", safe, rep) == -1)
		return;
	if (req->n_secrets > 0 &&
	    secrets_snapshot(safe, &saved, &nsaved) == -1) {
		ctl_fail(rep, CTL_FAIL, "deploy %s: %s", safe,
			 strerror(ENOMEM));
		return;
	}
	/* first, so that the new version's processes start with them */
	if (ctl_secrets_apply(req, safe, rep) == -1) {
		ctl_secrets_undo(safe, saved, nsaved);
		return;
	}
	n = registry_deploy(ns, name, fd, &spec, rep->error,
			    sizeof(rep->error));
	if (n == -1) {
		rep->res.code = errno == EINVAL ? CTL_BAD_INPUT : CTL_FAIL;
		if (req->n_secrets > 0)
			ctl_secrets_undo(safe, saved, nsaved);
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
	if ((w = ctl_worker_named(req, "versions", safe, sizeof(safe), rep)) ==
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
		vi[i].services = ctl_service_texts(rep, &w->versions[i]);
		vi[i].n_services = vi[i].services ? w->versions[i].nservices
		                                  : 0;
		vi[i].dispatch_namespaces = w->versions[i].dispatch_ns;
		vi[i].n_dispatch_namespaces = w->versions[i].ndispatch_ns;
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
	if ((w = ctl_worker_named(req, "rollback", safe, sizeof(safe), rep)) ==
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
		    ev_now_ms(control_env.loop) < dw->deadline)
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
	return strcmp(w->ns, control_env.conf->dispatch_ns) == 0 &&
	       strcmp(w->name, control_env.conf->dispatch_name) == 0;
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
	    (one = ctl_worker_named(req, "delete", safe, sizeof(safe), rep)) ==
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
				 "dispatch worker ([switchyard] dispatch_worker "
				 "in %s)", w->ns, w->name,
				 control_env.conf->path);
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
	dw->deadline = ev_now_ms(control_env.loop) + DELETE_WAIT_MS;
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
