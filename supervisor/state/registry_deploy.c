/*
 * Deploying (registry.h): what a deploy names is checked before anything
 * touches the disk (deploy_spec.c for its spec), the executable copied
 * into state_dir, and the version built from the spec, then handed to
 * registry.c to be recorded. A deploy of what already runs is skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "state/deploy_spec.h"
#include "state/registry.h"
#include "state/registry_state.h"
#include "state/store.h"
#include "util.h"

/* Checks what a deploy names before anything touches the disk. */
static int deploy_check(const char *ns, const char *name,
			const struct deploy_spec *s, struct kv_binding *kv,
			struct service_binding *svc, const struct plan **planp,
			char *err, size_t errlen)
{
	char label[2 * SY_NAME_MAX];

	if (!sy_valid_name(ns) || !sy_valid_name(name)) {
		snprintf(err, errlen,
			 "deploy %.63s/%.63s: invalid %s name (use 1-63 of a-z "
			 "0-9 - _, starting with a letter or digit)",
			 ns, name, sy_valid_name(ns) ? "worker" : "namespace");
		return -1;
	}
	snprintf(label, sizeof(label), "%s/%s", ns, name);
	*planp = config_plan(registry_conf(), s->plan);
	if (*planp == NULL) {
		snprintf(err, errlen,
			 "deploy %s/%s: unknown plan \"%.63s\" (not in %s)", ns,
			 name, s->plan, registry_conf()->path);
		return -1;
	}
	return deploy_spec_check(label, s, kv, svc, err, errlen);
}

/* A KV namespace the deploy binds must be one the store can hold, or its
 * first write would fail in the worker (WS_EINTERNAL) instead of here. */
int registry_kv_room_check(const char *what, const char *ns, const char *name,
			 const struct kv_binding *kv, size_t n, char *err,
			 size_t errlen)
{
	const char *names[REG_MAX_KV];
	char why[512];
	size_t i, bad;

	for (i = 0; i < n; i++)
		names[i] = kv[i].ns;
	if (n == 0 || registry_kv_room(names, n, &bad, why, sizeof(why)) == 0)
		return 0;
	snprintf(err, errlen, "%s %s/%s: kv %s=%s: %s", what, ns, name,
		 kv[bad].name, kv[bad].ns, why);
	return -1;
}

/* The executable must look runnable now, not fail later in every spawn. */
static int exe_check(const char *ns, const char *name, int fd, char *err,
		     size_t errlen)
{
	unsigned char magic[4];
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen,
			 "deploy %s/%s: cannot stat the executable: %s", ns,
			 name, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "deploy %s/%s: not a regular file", ns,
			 name);
		return -1;
	}
	if ((st.st_mode & 0111) == 0) {
		snprintf(err, errlen,
			 "deploy %s/%s: not executable (mode %04o)", ns, name,
			 (unsigned)(st.st_mode & 07777));
		return -1;
	}
	if (st.st_size == 0) {
		snprintf(err, errlen, "deploy %s/%s: the executable is empty",
			 ns, name);
		return -1;
	}
	n = pread(fd, magic, sizeof(magic), 0);
	if (n == -1) {
		snprintf(err, errlen,
			 "deploy %s/%s: cannot read the executable: %s", ns,
			 name, strerror(errno));
		return -1;
	}
	if ((n == 4 && memcmp(magic, "\177ELF", 4) == 0) ||
	    (n >= 2 && magic[0] == '#' && magic[1] == '!'))
		return 0;
	snprintf(err, errlen, "deploy %s/%s: not an executable (no ELF header)",
		 ns, name);
	return -1;
}

static int strv_copy(char ***dst, size_t *ndst, char *const *src, size_t n)
{
	if (n == 0)
		return 0;
	if ((*dst = calloc(n, sizeof(**dst))) == NULL)
		return -1;
	for (*ndst = 0; *ndst < n; (*ndst)++) {
		if (((*dst)[*ndst] = strdup(src[*ndst])) == NULL)
			return -1;
	}
	return 0;
}

/* The version's own copies of what the spec says; svc is its service
 * bindings, parsed. */
static int version_fill(struct version *v, const struct deploy_spec *s,
			const struct service_binding *svc,
			const struct plan *p)
{
	v->deployed_at = (int64_t)time(NULL);
	snprintf(v->plan, sizeof(v->plan), "%s", p->name);
	if (strv_copy(&v->env, &v->nenv, s->env, s->nenv) == -1 ||
	    strv_copy(&v->tags, &v->ntags, s->tags, s->ntags) == -1 ||
	    strv_copy(&v->tail_consumers, &v->ntail_consumers,
		      s->tail_consumers, s->ntail_consumers) == -1 ||
	    strv_copy(&v->dispatch_ns, &v->ndispatch_ns, s->dispatch_ns,
		      s->ndispatch_ns) == -1)
		return -1;
	if (s->nservices == 0)
		return 0;
	if ((v->services = calloc(s->nservices, sizeof(*svc))) == NULL)
		return -1;
	memcpy(v->services, svc, s->nservices * sizeof(*svc));
	v->nservices = s->nservices;
	return 0;
}

int registry_deploy(const char *ns, const char *name, int exe_fd,
		    const struct deploy_spec *spec, char *err, size_t errlen)
{
	struct service_binding svc[SY_MAX_SERVICES];
	struct kv_binding kv[REG_MAX_KV];
	const struct plan *p;
	struct version v;
	struct worker *w;
	char serr[512];
	int e, n;

	if (deploy_check(ns, name, spec, kv, svc, &p, err, errlen) == -1 ||
	    exe_check(ns, name, exe_fd, err, errlen) == -1 ||
	    registry_kv_room_check("deploy", ns, name, kv, spec->nkv, err,
				   errlen) == -1) {
		errno = EINVAL;
		return -1;
	}
	memset(&v, 0, sizeof(v));
	if (store_put_exe(registry_conf()->state_dir, exe_fd, v.sha256, &v.exe_path,
			  serr, sizeof(serr)) == -1) {
		e = errno;
		snprintf(err, errlen, "deploy %s/%s: %s", ns, name, serr);
		errno = e == EINVAL ? EIO : e;
		return -1;
	}
	if (version_fill(&v, spec, svc, p) == -1) {
		snprintf(err, errlen, "deploy %s/%s: %s", ns, name,
			 strerror(ENOMEM));
		version_clear(&v);
		errno = ENOMEM;
		return -1;
	}
	n = registry_commit(ns, name, &v, p, kv, spec->nkv, err, errlen);
	if (n == -1) {
		e = errno;
		version_clear(&v);
		errno = e;
		return -1;
	}
	w = registry_find(ns, name);
	registry_changed(w);
	return n;
}

/* v's service bindings are, in order, those spec s names. */
static int services_same(const struct version *v, const struct deploy_spec *s)
{
	struct service_binding b;
	size_t i;

	if (v->nservices != s->nservices)
		return 0;
	for (i = 0; i < s->nservices; i++) {
		if (registry_service_parse(s->services[i], &b) != NULL ||
		    memcmp(&b, &v->services[i], sizeof(b)) != 0)
			return 0;
	}
	return 1;
}

/* Is the file open at fd, under spec, what ns/name already runs? */
static int deploy_unchanged(const char *ns, const char *name, int fd,
			    const struct deploy_spec *s)
{
	const struct worker *w = registry_find(ns, name);
	const struct plan *p = config_plan(registry_conf(), s->plan);
	const struct version *v;
	char sha[65], herr[256], label[2 * SY_NAME_MAX];

	if (w == NULL || p == NULL)
		return 0;
	v = worker_version(w);
	if (strcmp(v->plan, p->name) != 0 ||
	    !sy_strv_equal(v->env, v->nenv, s->env, s->nenv) ||
	    !sy_strv_equal(v->tags, v->ntags, s->tags, s->ntags) ||
	    !sy_strv_equal(v->tail_consumers, v->ntail_consumers,
			s->tail_consumers, s->ntail_consumers) ||
	    !sy_strv_equal(v->dispatch_ns, v->ndispatch_ns, s->dispatch_ns,
			   s->ndispatch_ns) ||
	    !services_same(v, s))
		return 0;
	snprintf(label, sizeof(label), "%s/%s", ns, name);
	if (!registry_kv_same(label, v->number, s->kv, s->nkv))
		return 0;
	/* a file we cannot hash is left for registry_deploy to report */
	if (store_hash_fd(fd, sha, herr, sizeof(herr)) == -1)
		return 0;
	return strcmp(sha, v->sha256) == 0;
}

int registry_deploy_path(const char *ns, const char *name, const char *path,
			 const struct deploy_spec *spec, char *err,
			 size_t errlen)
{
	int fd, n, e;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		e = errno;
		if (e == ENOENT)
			snprintf(err, errlen,
				 "deploy %s/%s: executable not found: %s", ns,
				 name, path);
		else
			snprintf(err, errlen,
				 "deploy %s/%s: cannot open %s: %s", ns, name,
				 path, strerror(e));
		errno = (e == ENOENT || e == EACCES || e == ENOTDIR ||
			 e == ELOOP || e == EISDIR)
			    ? EINVAL
			    : e;
		return -1;
	}
	if (deploy_unchanged(ns, name, fd, spec))
		n = (int)worker_version(registry_find(ns, name))->number;
	else
		n = registry_deploy(ns, name, fd, spec, err, errlen);
	e = errno;
	close(fd);
	errno = e;
	return n;
}

/* What a redeploy of cur asks for: its own spec, with strings of cur's
 * and of b. */
struct respec {
	char kv[REG_MAX_KV][2 * SY_NAME_MAX + 8];
	char *kvp[REG_MAX_KV];
	char svc[SY_MAX_SERVICES][3 * SY_NAME_MAX];
	char *svcp[SY_MAX_SERVICES];
};

static void respec(const struct worker *w, const struct version *cur,
		   struct deploy_spec *spec, struct respec *b)
{
	char label[2 * SY_NAME_MAX];
	const struct kv_binding *kv;
	size_t i, n;

	memset(spec, 0, sizeof(*spec));
	snprintf(spec->plan, sizeof(spec->plan), "%s", cur->plan);
	spec->env = cur->env;
	spec->nenv = cur->nenv;
	spec->tags = cur->tags;
	spec->ntags = cur->ntags;
	spec->tail_consumers = cur->tail_consumers;
	spec->ntail_consumers = cur->ntail_consumers;
	spec->dispatch_ns = cur->dispatch_ns;
	spec->ndispatch_ns = cur->ndispatch_ns;
	snprintf(label, sizeof(label), "%s/%s", w->ns, w->name);
	kv = registry_kv_get(label, cur->number, &n);
	for (i = 0; i < n; i++) {
		snprintf(b->kv[i], sizeof(b->kv[i]), "%s=%s%s", kv[i].name,
			 kv[i].ns, kv[i].ro ? ":ro" : "");
		b->kvp[i] = b->kv[i];
	}
	spec->kv = b->kvp;
	spec->nkv = n;
	for (i = 0; i < cur->nservices; i++) {
		registry_service_text(&cur->services[i], b->svc[i],
				      sizeof(b->svc[i]));
		b->svcp[i] = b->svc[i];
	}
	spec->services = b->svcp;
	spec->nservices = cur->nservices;
}

int registry_redeploy(struct worker *w, char *err, size_t errlen)
{
	const struct version *cur = worker_version(w);
	struct deploy_spec spec;
	struct respec *b;
	int fd, rc;

	if ((b = malloc(sizeof(*b))) == NULL) {
		snprintf(err, errlen, "%s/%s: %s", w->ns, w->name,
			 strerror(ENOMEM));
		return -1;
	}
	respec(w, cur, &spec, b);
	if ((fd = open(cur->exe_path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s/%s: cannot open %s: %s", w->ns,
			 w->name, cur->exe_path, strerror(errno));
		free(b);
		return -1;
	}
	/* cur's strings stay valid: deploying only appends a version */
	rc = registry_deploy(w->ns, w->name, fd, &spec, err, errlen);
	close(fd);
	free(b);
	return rc;
}

