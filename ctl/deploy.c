/*
 * yardctl's deploy commands: deploy, list, delete, versions, rollback and
 * secret. Secret values are read from stdin or a file, never from the
 * command line (which other users can read in /proc), and never printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "names.h"
#include "util.h"
#include "yardctl.h"

struct deploy_args {
	const char *worker, *exe, *plan;
	char **env, **kv, **tags, **tails, **secrets, **services, **dns;
	size_t nenv, nkv, ntags, ntails, nsecrets, nservices, ndns;
	int stdin_used; /* one --secret may read stdin */
};

/* Reads a secret value from fd: at most SY_ENV_ENTRY_MAX bytes with its
 * KEY=, one trailing newline stripped. Returns "KEY=VALUE" (malloc'd) or
 * NULL with err. */
static char *secret_read(int fd, const char *key, char *err, size_t errlen)
{
	size_t klen = strlen(key), len = klen + 1;
	char *buf = malloc(SY_ENV_ENTRY_MAX + 2);
	ssize_t n;

	if (buf == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	memcpy(buf, key, klen);
	buf[klen] = '=';
	while (len <= SY_ENV_ENTRY_MAX &&
	       (n = read(fd, buf + len, SY_ENV_ENTRY_MAX + 1 - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "secret %s: read: %s", key,
				 strerror(errno));
			goto fail;
		}
		len += (size_t)n;
	}
	if (len > SY_ENV_ENTRY_MAX) {
		snprintf(err, errlen, "secret %s: longer than %d bytes", key,
			 SY_ENV_ENTRY_MAX);
		goto fail;
	}
	if (len > klen + 1 && buf[len - 1] == '\n')
		len--;
	buf[len] = '\0';
	if (memchr(buf, '\0', len) != NULL) {
		snprintf(err, errlen, "secret %s: contains a NUL byte", key);
		goto fail;
	}
	return buf;
fail:
	explicit_bzero(buf, SY_ENV_ENTRY_MAX + 2);
	free(buf);
	return NULL;
}

/* --secret KEY (stdin) or --secret-file KEY=PATH. */
static int secret_opt(struct yc_opts *o, struct deploy_args *d,
		      const char *spec, int from_file)
{
	const char *eq = from_file ? strchr(spec, '=') : NULL;
	size_t klen = from_file ? (eq ? (size_t)(eq - spec) : 0) : strlen(spec);
	char key[160], err[512], *kv;
	int fd = STDIN_FILENO;

	if (!sy_env_key_valid(spec, klen))
		return yc_usage("deploy", from_file
				? "--secret-file needs KEY=PATH with KEY of "
				  "A-Z a-z 0-9 _"
				: "--secret needs a KEY of A-Z a-z 0-9 _");
	snprintf(key, sizeof(key), "%.*s", (int)klen, spec);
	if (!from_file && d->stdin_used++)
		return yc_usage("deploy", "at most one --secret reads stdin "
				"(use --secret-file for more)");
	if (from_file && (fd = open(eq + 1, O_RDONLY | O_CLOEXEC)) == -1)
		return print_error(o, CTL_BAD_INPUT, "deploy: secret %s: "
				   "cannot open %s: %s", key, eq + 1,
				   strerror(errno));
	kv = secret_read(fd, key, err, sizeof(err));
	if (from_file)
		close(fd);
	if (kv == NULL)
		return print_error(o, CTL_BAD_INPUT, "deploy: %s", err);
	d->secrets[d->nsecrets++] = kv;
	return CTL_OK;
}

/* One option of deploy at argv[*i]; 1 = not an option. */
static int deploy_opt(struct yc_opts *o, int argc, char **argv, int *i,
		      struct deploy_args *d)
{
	const char *v;
	int r;

	if ((r = yc_take_opt(argc, argv, i, "--plan", "-p", &v)) != 0) {
		if (r == -1)
			return yc_usage("deploy", "--plan needs a PLAN");
		d->plan = v;
	} else if ((r = yc_take_opt(argc, argv, i, "--env", "-e", &v)) != 0) {
		/* never echo the entry: its value may be a secret */
		if (r == -1 || strchr(v, '=') == NULL || v[0] == '=')
			return yc_usage("deploy", "--env needs KEY=VALUE");
		d->env[d->nenv++] = (char *)v;
	} else if ((r = yc_take_opt(argc, argv, i, "--kv", "-k", &v)) != 0) {
		if (r == -1 || strchr(v, '=') == NULL || v[0] == '=')
			return yc_usage("deploy", "--kv needs BINDING=KVNS[:ro]");
		d->kv[d->nkv++] = (char *)v;
	} else if ((r = yc_take_opt(argc, argv, i, "--tag", "-t", &v)) != 0) {
		if (r == -1 || v[0] == '\0')
			return yc_usage("deploy", "--tag needs a TAG");
		if (d->ntags == SY_MAX_TAGS)
			return yc_usage("deploy", "at most %d --tag",
					SY_MAX_TAGS);
		d->tags[d->ntags++] = (char *)v;
	} else if ((r = yc_take_opt(argc, argv, i, "--tail-consumer", "-T",
				    &v)) != 0) {
		if (r == -1 || strchr(v, '/') == NULL)
			return yc_usage("deploy",
					"--tail-consumer needs NS/NAME");
		d->tails[d->ntails++] = (char *)v;
	} else if ((r = yc_take_opt(argc, argv, i, "--service", "-S",
				    &v)) != 0) {
		if (r == -1 || strchr(v, '=') == NULL || v[0] == '=')
			return yc_usage("deploy",
					"--service needs NAME=NS/WORKER");
		d->services[d->nservices++] = (char *)v;
	} else if ((r = yc_take_opt(argc, argv, i, "--dispatch-namespace",
				    "-D", &v)) != 0) {
		if (r == -1 || v[0] == '\0')
			return yc_usage("deploy",
					"--dispatch-namespace needs NS");
		d->dns[d->ndns++] = (char *)v;
	} else if ((r = yc_take_opt(argc, argv, i, "--secret-file",
				    "--secret-file",
				    &v)) != 0) {
		if (r == -1)
			return yc_usage("deploy", "--secret-file needs "
					"KEY=PATH");
		return secret_opt(o, d, v, 1);
	} else if ((r = yc_take_opt(argc, argv, i, "--secret", "--secret",
				    &v)) != 0) {
		if (r == -1)
			return yc_usage("deploy", "--secret needs a KEY");
		return secret_opt(o, d, v, 0);
	} else
		return 1;
	return CTL_OK;
}

static int deploy_parse(struct yc_opts *o, int argc, char **argv,
			struct deploy_args *d)
{
	int i, npos = 0, opts = 1, r;

	for (i = 1; i < argc; i++) {
		if (opts && strcmp(argv[i], "--") == 0) {
			opts = 0;
		} else if (opts && strcmp(argv[i], "--json") == 0) {
			o->json = 1;
		} else if (opts && argv[i][0] == '-' && argv[i][1] != '\0') {
			if ((r = deploy_opt(o, argc, argv, &i, d)) == 1)
				return yc_usage("deploy", "unknown option: %s",
						argv[i]);
			if (r != CTL_OK)
				return r;
		} else if (npos == 0) {
			d->worker = argv[i];
			npos++;
		} else if (npos == 1) {
			d->exe = argv[i];
			npos++;
		} else
			return yc_usage("deploy", "unexpected argument: %s",
					argv[i]);
	}
	if (npos < 2)
		return yc_usage("deploy", "missing %s",
				npos ? "EXECUTABLE" : "NS/NAME and EXECUTABLE");
	return CTL_OK;
}

/* Opens the executable and names what is wrong with it, if anything. */
static int deploy_open(struct yc_opts *o, const struct deploy_args *d, int *fdp)
{
	struct stat st;
	int fd;

	if ((fd = open(d->exe, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return print_error(o, CTL_BAD_INPUT, "deploy %s: "
					   "executable not found: %s",
					   d->worker, d->exe);
		return print_error(o, CTL_BAD_INPUT, "deploy %s: cannot open "
				   "%s: %s", d->worker, d->exe,
				   strerror(errno));
	}
	if (fstat(fd, &st) == -1) {
		close(fd);
		return print_error(o, CTL_BAD_INPUT, "deploy %s: cannot stat "
				   "%s: %s", d->worker, d->exe,
				   strerror(errno));
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0) {
		close(fd);
		if (!S_ISREG(st.st_mode))
			return print_error(o, CTL_BAD_INPUT, "deploy %s: not a "
					   "regular file: %s", d->worker,
					   d->exe);
		return print_error(o, CTL_BAD_INPUT, "deploy %s: not "
				   "executable: %s (mode %04o)", d->worker,
				   d->exe, (unsigned)(st.st_mode & 07777));
	}
	*fdp = fd;
	return CTL_OK;
}

static void deploy_args_free(struct deploy_args *d)
{
	size_t i;

	for (i = 0; d->secrets != NULL && i < d->nsecrets; i++) {
		explicit_bzero(d->secrets[i], strlen(d->secrets[i]));
		free(d->secrets[i]);
	}
	free(d->secrets);
	free(d->env);
	free(d->kv);
	free(d->tags);
	free(d->tails);
	free(d->services);
	free(d->dns);
}

int cmd_deploy(struct yc_opts *o, int argc, char **argv)
{
	Switchyard__CtlRequest req = SWITCHYARD__CTL_REQUEST__INIT;
	struct deploy_args d;
	char ns[SY_NAME_MAX], name[SY_NAME_MAX], e[512];
	size_t n = (size_t)argc;
	int rc, fd = -1;

	memset(&d, 0, sizeof(d));
	d.plan = "";
	if ((d.env = calloc(n, sizeof(char *))) == NULL ||
	    (d.kv = calloc(n, sizeof(char *))) == NULL ||
	    (d.tags = calloc(n, sizeof(char *))) == NULL ||
	    (d.tails = calloc(n, sizeof(char *))) == NULL ||
	    (d.services = calloc(n, sizeof(char *))) == NULL ||
	    (d.dns = calloc(n, sizeof(char *))) == NULL ||
	    (d.secrets = calloc(n, sizeof(char *))) == NULL) {
		deploy_args_free(&d);
		return print_error(o, CTL_FAIL, "out of memory");
	}
	rc = deploy_parse(o, argc, argv, &d);
	if (rc == CTL_OK &&
	    sy_split_worker(d.worker, ns, name, e, sizeof(e)) == -1)
		rc = print_error(o, CTL_BAD_INPUT, "deploy %s", e);
	if (rc == CTL_OK)
		rc = deploy_open(o, &d, &fd);
	if (rc == CTL_OK) {
		req.command = "deploy";
		req.n_args = 1;
		req.args = (char **)&d.worker;
		req.plan = (char *)d.plan;
		req.n_env = d.nenv;
		req.env = d.env;
		req.n_kv = d.nkv;
		req.kv = d.kv;
		req.n_tags = d.ntags;
		req.tags = d.tags;
		req.n_tail_consumers = d.ntails;
		req.tail_consumers = d.tails;
		req.n_services = d.nservices;
		req.services = d.services;
		req.n_dispatch_namespaces = d.ndns;
		req.dispatch_namespaces = d.dns;
		req.n_secrets = d.nsecrets;
		req.secrets = d.secrets;
		rc = yc_call(o, &req, fd, print_response);
	}
	deploy_args_free(&d);
	return rc;
}

/* Control characters replaced: names come from the supervisor. */
static void safe_str(char *dst, size_t size, const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < size; i++)
		dst[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?'
								   : s[i];
	dst[i] = '\0';
}

static void join(char *buf, size_t size, char *const *v, size_t n)
{
	char one[80];
	size_t i, len = 0;

	snprintf(buf, size, "-");
	for (i = 0; i < n && len + 1 < size; i++) {
		safe_str(one, sizeof(one), v[i]);
		len += (size_t)snprintf(buf + len, size - len, "%s%s",
					i ? "," : "", one);
	}
}

static int list_show(const struct yc_opts *o,
		     const Switchyard__CtlResponse *res)
{
	const Switchyard__WorkerStatus *ws;
	char name[140], plan[64], tags[600];
	size_t i;

	if (o->json || res->code != CTL_OK || res->n_workers == 0)
		return print_response(o, res);
	printf("%-32s %-8s %-12s %s\n", "NAME", "VERSION", "PLAN", "TAGS");
	for (i = 0; i < res->n_workers; i++) {
		ws = res->workers[i];
		snprintf(name, sizeof(name), "%s/%s", ws->ns, ws->name);
		safe_str(name, sizeof(name), name);
		safe_str(plan, sizeof(plan), ws->plan);
		join(tags, sizeof(tags), ws->tags, ws->n_tags);
		printf("%-32s %-8u %-12s %s\n", name, ws->version, plan, tags);
	}
	return CTL_OK;
}

/* Options of list and delete: --json, --tag T; the rest positional. */
static int tag_args(struct yc_opts *o, int argc, char **argv,
		    const char **tag, char **pos, size_t *npos, size_t max)
{
	const char *v;
	int i, r;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			o->json = 1;
		} else if ((r = yc_take_opt(argc, argv, &i, "--tag", "-t",
					    &v)) != 0) {
			if (r == -1 || v[0] == '\0')
				return yc_usage(argv[0], "--tag needs a TAG");
			*tag = v;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			return yc_usage(argv[0], "unknown option: %s",
					argv[i]);
		} else if (*npos == max) {
			return yc_usage(argv[0], "unexpected argument: %s",
					argv[i]);
		} else
			pos[(*npos)++] = argv[i];
	}
	return CTL_OK;
}

/* list and delete: [--tag T] [ONE-POSITIONAL]; delete needs exactly one
 * of the two. */
static int tag_command(struct yc_opts *o, int argc, char **argv,
		       const char *command, int need_one,
		       int (*show)(const struct yc_opts *,
				   const Switchyard__CtlResponse *))
{
	Switchyard__CtlRequest req = SWITCHYARD__CTL_REQUEST__INIT;
	const char *tag = "";
	char *pos[1];
	size_t n = 0;
	int rc;

	if ((rc = tag_args(o, argc, argv, &tag, pos, &n, 1)) != CTL_OK)
		return rc;
	if (need_one && (n == 1) == (tag[0] != '\0'))
		return yc_usage(command, "expected NS/NAME or --tag T");
	req.command = (char *)command;
	req.tag = (char *)tag;
	req.n_args = n;
	req.args = pos;
	return yc_call(o, &req, -1, show);
}

int cmd_list(struct yc_opts *o, int argc, char **argv)
{
	return tag_command(o, argc, argv, "list", 0, list_show);
}

int cmd_delete(struct yc_opts *o, int argc, char **argv)
{
	return tag_command(o, argc, argv, "delete", 1, print_response);
}

static json_t *strv_json(char *const *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *versions_json(const Switchyard__CtlResponse *res)
{
	const Switchyard__VersionInfo *v;
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < res->n_versions; i++) {
		v = res->versions[i];
		json_array_append_new(
		    a, json_pack("{s:i, s:b, s:I, s:s?, s:s?, s:o, s:o, s:o}",
				 "number", (int)v->number, "current",
				 (int)v->current, "deployed_at",
				 (json_int_t)v->deployed_at, "sha256",
				 v->sha256, "plan", v->plan, "tags",
				 strv_json(v->tags, v->n_tags), "services",
				 strv_json(v->services, v->n_services),
				 "dispatch_namespaces",
				 strv_json(v->dispatch_namespaces,
					   v->n_dispatch_namespaces)));
	}
	return a;
}

static int versions_show(const struct yc_opts *o,
			 const Switchyard__CtlResponse *res)
{
	const Switchyard__VersionInfo *v;
	char when[32], plan[64], tags[600], num[16], *text;
	json_t *j;
	time_t t;
	size_t i;

	if (res->code != CTL_OK)
		return print_response(o, res);
	if (o->json) {
		j = json_pack("{s:i, s:o}", "code", 0, "versions",
			      versions_json(res));
		text = j != NULL ? json_dumps(j, JSON_INDENT(2) |
					      JSON_PRESERVE_ORDER) : NULL;
		json_decref(j);
		if (text == NULL)
			return print_error(o, CTL_FAIL, "cannot encode JSON");
		printf("%s\n", text);
		free(text);
		return CTL_OK;
	}
	printf("%-8s %-21s %-13s %-12s %s\n", "VERSION", "DEPLOYED", "SHA256",
	       "PLAN", "TAGS");
	for (i = 0; i < res->n_versions; i++) {
		v = res->versions[i];
		t = (time_t)v->deployed_at;
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
		safe_str(plan, sizeof(plan), v->plan);
		join(tags, sizeof(tags), v->tags, v->n_tags);
		snprintf(num, sizeof(num), "%u%s", v->number,
			 v->current ? "*" : "");
		printf("%-8s %-21s %-13.12s %-12s %s\n", num, when, v->sha256,
		       plan, tags);
	}
	return CTL_OK;
}

int cmd_versions(struct yc_opts *o, int argc, char **argv)
{
	Switchyard__CtlRequest req = SWITCHYARD__CTL_REQUEST__INIT;
	const char *tag = NULL;
	char *pos[1];
	size_t n = 0;
	int rc;

	if ((rc = tag_args(o, argc, argv, &tag, pos, &n, 1)) != CTL_OK)
		return rc;
	if (tag != NULL)
		return yc_usage("versions", "unknown option: --tag");
	if (n == 0)
		return yc_usage("versions", "missing NS/NAME");
	req.command = "versions";
	req.n_args = 1;
	req.args = pos;
	return yc_call(o, &req, -1, versions_show);
}

int cmd_rollback(struct yc_opts *o, int argc, char **argv)
{
	Switchyard__CtlRequest req = SWITCHYARD__CTL_REQUEST__INIT;
	const char *tag = NULL;
	char *pos[2], *end;
	unsigned long v;
	size_t n = 0;
	int rc;

	if ((rc = tag_args(o, argc, argv, &tag, pos, &n, 2)) != CTL_OK)
		return rc;
	if (tag != NULL)
		return yc_usage("rollback", "unknown option: --tag");
	if (n == 0)
		return yc_usage("rollback", "missing NS/NAME");
	if (n == 2) {
		errno = 0;
		v = strtoul(pos[1], &end, 10);
		if (errno != 0 || *end != '\0' || end == pos[1] || v == 0 ||
		    v > 0x7fffffffUL)
			return yc_usage("rollback", "VERSION must be a "
					"version number");
		req.version = (uint32_t)v;
	}
	req.command = "rollback";
	req.n_args = 1;
	req.args = pos;
	return yc_call(o, &req, -1, print_response);
}

int cmd_secret(struct yc_opts *o, int argc, char **argv)
{
	Switchyard__CtlRequest req = SWITCHYARD__CTL_REQUEST__INIT;
	const char *tag = NULL;
	char *pos[3], *kv = NULL, err[512];
	size_t n = 0;
	int rc, want;

	if ((rc = tag_args(o, argc, argv, &tag, pos, &n, 3)) != CTL_OK)
		return rc;
	if (tag != NULL)
		return yc_usage("secret", "unknown option: --tag");
	if (n == 0)
		return yc_usage("secret", "missing put, list or delete");
	want = strcmp(pos[0], "list") == 0 ? 2
	       : strcmp(pos[0], "put") == 0 || strcmp(pos[0], "delete") == 0
		   ? 3 : 0;
	if (want == 0)
		return yc_usage("secret", "unknown operation: %s (put, list, "
				"delete)", pos[0]);
	if ((int)n != want)
		return yc_usage("secret", "%s expects NS/NAME%s", pos[0],
				want == 3 ? " and KEY" : "");
	if (strcmp(pos[0], "put") == 0) {
		if (!sy_env_key_valid(pos[2], strlen(pos[2])))
			return yc_usage("secret", "KEY must be 1-128 of A-Z "
					"a-z 0-9 _, not starting with a digit");
		if ((kv = secret_read(STDIN_FILENO, pos[2], err,
				      sizeof(err))) == NULL)
			return print_error(o, CTL_BAD_INPUT, "%s", err);
		req.n_secrets = 1;
		req.secrets = &kv;
		n = 2;
	}
	req.command = "secret";
	req.n_args = n;
	req.args = pos;
	rc = yc_call(o, &req, -1, print_response);
	if (kv != NULL) {
		explicit_bzero(kv, strlen(kv));
		free(kv);
	}
	return rc;
}
