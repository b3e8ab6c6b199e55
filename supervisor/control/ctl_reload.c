/*
 * Re-reading the configuration file (yardctl reread, update; SIGHUP).
 * Only what can change under running workers is applied: plans (new
 * limits reach new requests and new processes; fewer instances stop idle
 * processes above the number), the egress policy (the next fetch is
 * checked against the new one) and [deploy] sections (deployed as at
 * start). The rest takes effect at the next start, and reread says so.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/ctl.h"
#include "log.h"
#include "notify.h"
#include "serve/pool.h"
#include "state/netpolicy.h"
#include "state/registry.h"
#include "util.h"

struct diff {
	char ***lines;
	size_t *nlines;
	int oom;
};

static void add(struct diff *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add(struct diff *d, const char *fmt, ...)
{
	va_list ap;
	char **grown, *line;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0) {
		va_end(ap);
		d->oom = 1;
		return;
	}
	va_end(ap);
	grown = realloc(*d->lines, (*d->nlines + 1) * sizeof(*grown));
	if (grown == NULL) {
		free(line);
		d->oom = 1;
		return;
	}
	*d->lines = grown;
	grown[(*d->nlines)++] = line;
}

static const struct {
	const char *key;
	size_t off;
} plan_keys[] = {
#define K(f) { #f, offsetof(struct plan, f) }
	K(instances), K(queue), K(queue_timeout_ms), K(idle_timeout_s),
	K(cpu_ms), K(wall_ms), K(subrequests), K(cpu_meter), K(concurrency),
#undef K
#define J(f) { #f, offsetof(struct plan, jail.f) }
	J(memory_mb), J(cpu_pct), J(pids), J(tmp_mb), J(nofile),
#undef J
};

static void plan_diff(struct diff *d, const struct plan *a,
                      const struct plan *b)
{
	char what[512];
	size_t i, n = 0;
	uint32_t x, y;

	what[0] = '\0';
	for (i = 0; i < sizeof(plan_keys) / sizeof(plan_keys[0]); i++) {
		memcpy(&x, (const char *)a + plan_keys[i].off, sizeof(x));
		memcpy(&y, (const char *)b + plan_keys[i].off, sizeof(y));
		if (x != y && n < sizeof(what))
			n += (size_t)snprintf(what + n, sizeof(what) - n,
			                      "%s%s %u -> %u", n ? ", " : "",
			                      plan_keys[i].key, x, y);
	}
	if (strcmp(a->jail.seccomp, b->jail.seccomp) != 0 && n < sizeof(what))
		snprintf(what + n, sizeof(what) - n, "%sseccomp %s -> %s",
		         n ? ", " : "", a->jail.seccomp, b->jail.seccomp);
	if (what[0] != '\0')
		add(d, "plan %s: changed (%s)", a->name, what);
}

/* A removed plan still used by a worker's current version refuses the
 * whole update: its processes would have no plan. */
static int plans_diff(struct diff *d, const struct sup_config *nc, char *err,
                      size_t errlen)
{
	const struct sup_config *oc = control_env.conf;
	const struct plan *o, *n;
	struct worker *w;
	size_t i;
	int rc = 0;

	for (i = 0; i < nc->nplans; i++) {
		n = &nc->plans[i];
		if ((o = config_plan(oc, n->name)) == NULL)
			add(d, "plan %s: added", n->name);
		else
			plan_diff(d, o, n);
	}
	for (i = 0; i < oc->nplans; i++) {
		o = &oc->plans[i];
		if (config_plan(nc, o->name) != NULL)
			continue;
		add(d, "plan %s: removed", o->name);
		for (w = registry_first(); w != NULL; w = registry_next(w)) {
			if (w->plan != o || rc == -1)
				continue;
			snprintf(err, errlen, "%s: plan %s is removed but "
			         "worker %s/%s uses it (deploy it with another "
			         "plan first, or keep [plan.%s])", nc->path,
			         o->name, w->ns, w->name, o->name);
			rc = -1;
		}
	}
	return rc;
}

static const struct boot_deploy *boot_find(const struct sup_config *c,
                                           const struct boot_deploy *b)
{
	size_t i;

	for (i = 0; i < c->nboot; i++) {
		if (strcmp(c->boot[i].ns, b->ns) == 0 &&
		    strcmp(c->boot[i].name, b->name) == 0)
			return &c->boot[i];
	}
	return NULL;
}

static void key_note(char *buf, size_t size, int differs, const char *key)
{
	size_t n = strlen(buf);

	if (differs)
		snprintf(buf + n, size - n, "%s%s", n > 0 ? ", " : "", key);
}

/* Names the keys of a [deploy] section that differ, "" if none. */
static void boot_changes(const struct boot_deploy *a,
                         const struct boot_deploy *b, char *buf, size_t size)
{
	const struct deploy_spec *x = &a->spec, *y = &b->spec;

	buf[0] = '\0';
	key_note(buf, size, strcmp(a->exe, b->exe) != 0, "exe");
	key_note(buf, size, strcmp(x->plan, y->plan) != 0, "plan");
	key_note(buf, size, !sy_strv_equal(x->env, x->nenv, y->env, y->nenv),
	         "env");
	key_note(buf, size, !sy_strv_equal(x->kv, x->nkv, y->kv, y->nkv), "kv");
	key_note(buf, size, !sy_strv_equal(x->tags, x->ntags, y->tags, y->ntags),
	         "tag");
	key_note(buf, size,
	         !sy_strv_equal(x->tail_consumers, x->ntail_consumers,
	                    y->tail_consumers, y->ntail_consumers),
	         "tail_consumer");
	key_note(buf, size, !sy_strv_equal(x->services, x->nservices,
	                                   y->services, y->nservices),
	         "service");
	key_note(buf, size, !sy_strv_equal(x->dispatch_ns, x->ndispatch_ns,
	                                   y->dispatch_ns, y->ndispatch_ns),
	         "dispatch_namespace");
}

static void boots_diff(struct diff *d, const struct sup_config *nc)
{
	const struct sup_config *oc = control_env.conf;
	const struct boot_deploy *o;
	char keys[192];
	size_t i;

	for (i = 0; i < nc->nboot; i++) {
		o = boot_find(oc, &nc->boot[i]);
		if (o == NULL) {
			add(d, "deploy %s/%s: added", nc->boot[i].ns,
			    nc->boot[i].name);
			continue;
		}
		boot_changes(o, &nc->boot[i], keys, sizeof(keys));
		if (keys[0] != '\0')
			add(d, "deploy %s/%s: changed (%s)", o->ns, o->name,
			    keys);
	}
	for (i = 0; i < oc->nboot; i++) {
		if (boot_find(nc, &oc->boot[i]) == NULL)
			add(d, "deploy %s/%s: removed (its deployment stays)",
			    oc->boot[i].ns, oc->boot[i].name);
	}
}

static int str_differ(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "") != 0;
}

/* The egress policy: its file named, added or removed, or its content
 * (or its ca_file's) changed since it was read; doit says it is applied
 * (apply() takes it), else that update would. */
static void egress_diff(struct diff *d, const struct sup_config *nc,
                        int doit)
{
	const struct sup_config *oc = control_env.conf;
	const char *when = doit ? "applied" : "yardctl update applies it";

	if (oc->egress_policy == NULL && nc->egress_policy == NULL)
		return;
	if (oc->egress_policy == NULL)
		add(d, "egress_policy %s: added (%s)", nc->egress_policy, when);
	else if (nc->egress_policy == NULL)
		add(d, "egress_policy %s: removed, every fetch is denied (%s)",
		    oc->egress_policy, when);
	else if (strcmp(oc->egress_policy, nc->egress_policy) != 0)
		add(d, "egress_policy: %s -> %s (%s)", oc->egress_policy,
		    nc->egress_policy, when);
	else if (!netpolicy_same(oc->egress, nc->egress))
		add(d, "egress_policy %s: changed (%s)", nc->egress_policy,
		    when);
}

/* What only a restart applies: said, never applied. */
static void rest_diff(struct diff *d, const struct sup_config *nc)
{
	const struct sup_config *oc = control_env.conf;
	size_t i;
	int listen = oc->nlisten != nc->nlisten;

	for (i = 0; !listen && i < nc->nlisten; i++)
		listen = strcmp(oc->listen[i], nc->listen[i]) != 0;
	if (listen || str_differ(oc->admin_listen, nc->admin_listen) ||
	    str_differ(oc->state_dir, nc->state_dir) ||
	    str_differ(oc->run_dir, nc->run_dir) ||
	    str_differ(oc->control_socket, nc->control_socket) ||
	    strcmp(oc->dispatch_ns, nc->dispatch_ns) != 0 ||
	    strcmp(oc->dispatch_name, nc->dispatch_name) != 0 ||
	    str_differ(oc->router_user, nc->router_user) ||
	    oc->uid_min != nc->uid_min || oc->uid_max != nc->uid_max ||
	    str_differ(oc->seccomp_dir, nc->seccomp_dir) ||
	    oc->log_level != nc->log_level ||
	    oc->warm_processes != nc->warm_processes)
		add(d, "[switchyard]: changed (applies at the next start)");
	if (oc->max_header_bytes != nc->max_header_bytes ||
	    oc->max_body_bytes != nc->max_body_bytes ||
	    oc->client_body_buffer_bytes != nc->client_body_buffer_bytes ||
	    oc->header_timeout_ms != nc->header_timeout_ms ||
	    oc->body_timeout_ms != nc->body_timeout_ms ||
	    oc->idle_timeout_ms != nc->idle_timeout_ms ||
	    oc->max_connections != nc->max_connections)
		add(d, "[router]: changed (applies at the next start)");
}

/* Takes nc's plans, [deploy] sections and egress policy; nc keeps the old
 * ones, to be freed with it. Every worker's plan pointer moves to the new
 * array. */
static void apply(struct sup_config *nc)
{
	struct sup_config *oc = control_env.conf, old = *oc;
	struct worker *w;

	oc->plans = nc->plans;
	oc->nplans = nc->nplans;
	oc->boot = nc->boot;
	oc->nboot = nc->nboot;
	oc->egress = nc->egress;
	oc->egress_policy = nc->egress_policy;
	nc->plans = old.plans;
	nc->nplans = old.nplans;
	nc->boot = old.boot;
	nc->nboot = old.nboot;
	nc->egress = old.egress;
	nc->egress_policy = old.egress_policy;
	for (w = registry_first(); w != NULL; w = registry_next(w)) {
		w->plan = config_plan(oc, worker_version(w)->plan);
		pool_plan_changed(w);
	}
}

/* As at start: skipped when the content is already the current version. */
static void deploy_boot(struct diff *d)
{
	const struct boot_deploy *b;
	char err[1024];
	size_t i;

	for (i = 0; i < control_env.conf->nboot; i++) {
		b = &control_env.conf->boot[i];
		if (registry_deploy_path(b->ns, b->name, b->exe, &b->spec, err,
		                         sizeof(err)) == -1)
			add(d, "deploy %s/%s: failed: %s", b->ns, b->name, err);
	}
}

/* Reads the configuration file again and compares it with the one in use:
 * one line per difference ("plan small: changed (instances 1 -> 2)",
 * "plan big: added", "deploy tenants/x: changed"); with doit, also makes
 * it current: plans are changed in place, added and removed; [deploy]
 * sections are deployed as at start. Returns 0, or -1 with err (nothing
 * applied) for a bad file or a removed plan still in use. lines is
 * realloc'd: *nlines entries, each malloc'd. */
static int reload_config(int doit, char ***lines, size_t *nlines, char *err,
                         size_t errlen)
{
	struct diff d = { lines, nlines, 0 };
	struct sup_config *nc;
	int rc;

	if ((nc = config_load(control_env.conf->path, err, errlen)) == NULL)
		return -1;
	rc = plans_diff(&d, nc, err, errlen);
	egress_diff(&d, nc, doit && rc == 0);
	boots_diff(&d, nc);
	rest_diff(&d, nc);
	if (rc == 0 && doit) {
		apply(nc);
		deploy_boot(&d);
	}
	config_free(nc);
	if (rc == 0 && d.oom) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
	}
	return rc;
}

void control_reload(void)
{
	char err[1024], nerr[256], **lines = NULL;
	size_t i, n = 0;

	if (notify_reloading(nerr, sizeof(nerr)) == -1)
		log_warnx("%s", nerr);
	if (reload_config(1, &lines, &n, err, sizeof(err)) == -1)
		log_warnx("SIGHUP: configuration not reloaded: %s", err);
	else
		log_info("SIGHUP: %s reloaded (%zu change%s)",
		         control_env.conf->path, n, n == 1 ? "" : "s");
	for (i = 0; i < n; i++) {
		log_info("reload: %s", lines[i]);
		free(lines[i]);
	}
	free(lines);
	if (notify_ready("running", nerr, sizeof(nerr)) == -1)
		log_warnx("%s", nerr);
}

static void reload_cmd(const Switchyard__CtlRequest *req, int apply,
                       struct ctl_reply *rep)
{
	const char *cmd = apply ? "update" : "reread";

	if (req->n_args > 1 || (req->n_args == 1 &&
	                        strcmp(req->args[0], "all") != 0)) {
		ctl_fail(rep, CTL_USAGE, "%s: expected no argument", cmd);
		return;
	}
	if (reload_config(apply, &rep->lines, &rep->nlines, rep->error,
	                  sizeof(rep->error)) == -1) {
		rep->res.code = CTL_BAD_INPUT;
		return;
	}
	rep->alines = rep->nlines;
	if (rep->nlines == 0)
		snprintf(rep->message, sizeof(rep->message), "%s: no changes",
		         control_env.conf->path);
	else if (apply)
		log_info("control: uid %u: configuration %s applied",
		         (unsigned)rep->uid, control_env.conf->path);
}

void ctl_reread(const Switchyard__CtlRequest *req, int fd,
                struct ctl_reply *rep)
{
	reload_cmd(req, 0, rep);
}

void ctl_update(const Switchyard__CtlRequest *req, int fd,
                struct ctl_reply *rep)
{
	reload_cmd(req, 1, rep);
}
