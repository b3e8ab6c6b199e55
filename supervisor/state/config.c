/*
 * The supervisor's INI file, read with libinih. Every key has a default (the
 * values in policies/switchyard.ini), every value is range-checked, and every
 * mistake is reported as "FILE:LINE: what is wrong" so that a typo can be
 * found without reading the source.
 *
 * Debian's libinih truncates section names at 50 bytes and lines at its
 * INI_MAX_LINE, silently. We feed it through our own line reader, which counts
 * lines, refuses over-long ones and keeps the full text of the current section
 * header, so a long "[deploy NS/NAME]" is never cut short.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <ini.h>

#include "frame.h"
#include "log.h"
#include "state/config.h"
#include "state/deploy_spec.h"
#include "state/kv.h"
#include "state/netpolicy.h"
#include "state/registry.h"
#include "util.h"

#define DEFAULT_INSTANCES 4
#define DEFAULT_QUEUE 256
#define DEFAULT_QUEUE_TIMEOUT_MS 10000
#define DEFAULT_IDLE_TIMEOUT_S 60
#define DEFAULT_WARM_PROCESSES 8
#define WARM_PROCESSES_MAX 65536
#define DEFAULT_CPU_MS 50
#define DEFAULT_WALL_MS 30000
#define DEFAULT_SUBREQUESTS 50
#define DEFAULT_MEMORY_MB 128
#define DEFAULT_CPU_PCT 100
#define DEFAULT_PIDS 32
#define DEFAULT_TMP_MB 16
#define DEFAULT_NOFILE 256
#define DEFAULT_SECCOMP "worker"
#define DEFAULT_UID_MIN 100000
#define DEFAULT_UID_MAX 165535
#define INSTALLED_SECCOMP_DIR "/etc/switchyard/seccomp"
#define MAX_INSTANCES 64 /* pool_stats reports at most 64 pids */
#define MAX_CONCURRENCY 64 /* a dispatch process holds that many requests */
#define SECTION_MAX 256

struct parse {
	struct sup_config *c;
	FILE *fp;
	char dir[PATH_MAX];        /* directory of the file, for relative paths */
	unsigned line;             /* line the reader returned last */
	char section[SECTION_MAX]; /* full text of the current [section] */
	unsigned section_line;
	char **seen;               /* "section\nkey" already given */
	size_t nseen;
	int failed;
	char *err;
	size_t errlen;
};

static int perr(struct parse *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Records the first error only: later ones are often its consequences. */
static int perr(struct parse *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (p->failed)
		return 0;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->line > 0)
		snprintf(p->err, p->errlen, "%s:%u: %s", p->c->path, p->line,
		         msg);
	else
		snprintf(p->err, p->errlen, "%s: %s", p->c->path, msg);
	p->failed = 1;
	return 0;
}

/* Remembers the section header of a line, untruncated. */
static void reader_note_section(struct parse *p, const char *s)
{
	const char *end;
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s != '[' || (end = strchr(s, ']')) == NULL)
		return;
	n = (size_t)(end - s - 1);
	if (n >= sizeof(p->section)) {
		perr(p, "section name too long");
		n = sizeof(p->section) - 1;
	}
	memcpy(p->section, s + 1, n);
	p->section[n] = '\0';
	p->section_line = p->line;
}

static char *reader(char *str, int num, void *stream)
{
	struct parse *p = stream;
	size_t n;
	int ch;

	if (fgets(str, num, p->fp) == NULL)
		return NULL;
	p->line++;
	n = strlen(str);
	if (n > 0 && str[n - 1] != '\n' && !feof(p->fp)) {
		perr(p, "line longer than %d bytes", num - 2);
		while ((ch = fgetc(p->fp)) != EOF && ch != '\n')
			;
	}
	reader_note_section(p, str);
	return str;
}

/* A scalar key given twice is a mistake; only env repeats. */
static int once(struct parse *p, const char *name)
{
	size_t i, len = strlen(p->section) + strlen(name) + 2;
	char *key, **grown;

	if ((key = malloc(len)) == NULL)
		return perr(p, "out of memory");
	snprintf(key, len, "%s\n%s", p->section, name);
	for (i = 0; i < p->nseen; i++) {
		if (strcmp(p->seen[i], key) == 0) {
			free(key);
			return perr(p, "[%s] %s given twice", p->section, name);
		}
	}
	grown = realloc(p->seen, (p->nseen + 1) * sizeof(*grown));
	if (grown == NULL) {
		free(key);
		return perr(p, "out of memory");
	}
	p->seen = grown;
	p->seen[p->nseen++] = key;
	return 1;
}

static int set_str(struct parse *p, char **dst, const char *value, int path)
{
	char *s;
	size_t len;

	if (value[0] == '\0')
		return perr(p, "[%s] empty value", p->section);
	if (path && value[0] != '/') {
		len = strlen(p->dir) + strlen(value) + 2;
		if ((s = malloc(len)) != NULL)
			snprintf(s, len, "%s/%s", p->dir, value);
	} else {
		s = strdup(value);
	}
	if (s == NULL)
		return perr(p, "out of memory");
	free(*dst);
	*dst = s;
	return 1;
}

static int set_u32(struct parse *p, const char *name, const char *value,
                   uint64_t min, uint64_t max, uint32_t *dst)
{
	uint64_t v;

	if (sy_parse_uint(value, max, &v) == -1 || v < min)
		return perr(p, "[%s] %s = %s: expected an integer from %llu to "
		            "%llu", p->section, name, value,
		            (unsigned long long)min, (unsigned long long)max);
	*dst = (uint32_t)v;
	return 1;
}

static int set_size(struct parse *p, const char *name, const char *value,
                    uint64_t min, uint64_t max, uint64_t *dst)
{
	uint64_t v;

	if (sy_parse_size(value, &v) == -1 || v < min || v > max)
		return perr(p, "[%s] %s = %s: expected a size from %llu to %llu "
		            "bytes (suffixes k, m, g allowed)", p->section, name,
		            value, (unsigned long long)min,
		            (unsigned long long)max);
	*dst = v;
	return 1;
}

static int add_listen(struct parse *p, const char *value)
{
	struct sockaddr_storage ss;
	char buf[256], err[256], *tok, *save = NULL, **grown;
	socklen_t sl;

	if (strlen(value) >= sizeof(buf))
		return perr(p, "[switchyard] listen: value too long");
	snprintf(buf, sizeof(buf), "%s", value);
	for (tok = strtok_r(buf, ", \t", &save); tok != NULL;
	     tok = strtok_r(NULL, ", \t", &save)) {
		if (sy_parse_hostport(tok, &ss, &sl, err, sizeof(err)) == -1)
			return perr(p, "[switchyard] %s", err);
		grown = realloc(p->c->listen, (p->c->nlisten + 1) * sizeof(*grown));
		if (grown == NULL)
			return perr(p, "out of memory");
		p->c->listen = grown;
		if ((grown[p->c->nlisten] = strdup(tok)) == NULL)
			return perr(p, "out of memory");
		p->c->nlisten++;
	}
	if (p->c->nlisten == 0)
		return perr(p, "[switchyard] listen: no address given");
	return 1;
}

static int set_log_level(struct parse *p, const char *value)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	int i;

	for (i = 0; i < 4; i++) {
		if (strcmp(value, names[i]) == 0) {
			p->c->log_level = SY_LOG_ERR + i;
			return 1;
		}
	}
	return perr(p, "[switchyard] log_level = %s: expected error, warn, info "
	            "or debug", value);
}

static int set_dispatch(struct parse *p, const char *value)
{
	char err[256];

	if (sy_split_worker(value, p->c->dispatch_ns, p->c->dispatch_name, err,
	                    sizeof(err)) == -1)
		return perr(p, "[switchyard] dispatch_worker = %s", err);
	return 1;
}

/* "FIRST-LAST", both uids of workers: never 0, never (uid_t)-1. */
static int set_uid_range(struct parse *p, const char *value)
{
	char first[16], last[16], extra;
	uint64_t a, b;

	if (sscanf(value, "%15[0-9]-%15[0-9]%c", first, last, &extra) != 2 ||
	    sy_parse_uint(first, 4294967294u, &a) == -1 ||
	    sy_parse_uint(last, 4294967294u, &b) == -1 || a == 0 || a > b)
		return perr(p, "[switchyard] uid_range = %s: expected FIRST-LAST "
		            "with 1 <= FIRST <= LAST < 4294967295", value);
	p->c->uid_min = (uid_t)a;
	p->c->uid_max = (uid_t)b;
	return 1;
}

/* ws_fetch's policy (netpolicy.c) is read with the configuration, so that
 * a broken one is reported like any mistake of the file's; what uses it
 * takes it from the config it applies. */
static int set_egress_policy(struct parse *p, const char *value)
{
	struct sup_config *c = p->c;
	char err[512];

	if (set_str(p, &c->egress_policy, value, 1) == 0)
		return 0;
	netpolicy_free(c->egress);
	if ((c->egress = netpolicy_load(c->egress_policy, err,
	                                sizeof(err))) == NULL)
		return perr(p, "%s", err);
	return 1;
}

static int key_switchyard(struct parse *p, const char *name, const char *value)
{
	struct sup_config *c = p->c;

	if (strcmp(name, "listen") == 0)
		return add_listen(p, value);
	if (strcmp(name, "state_dir") == 0)
		return set_str(p, &c->state_dir, value, 1);
	if (strcmp(name, "run_dir") == 0)
		return set_str(p, &c->run_dir, value, 1);
	if (strcmp(name, "control_socket") == 0)
		return set_str(p, &c->control_socket, value, 1);
	if (strcmp(name, "dispatch_worker") == 0)
		return set_dispatch(p, value);
	if (strcmp(name, "admin_listen") == 0) {
		free(c->admin_listen);
		c->admin_listen = NULL;
		if (value[0] == '\0')
			return 1;
		return set_str(p, &c->admin_listen, value, 0);
	}
	if (strcmp(name, "router_user") == 0)
		return set_str(p, &c->router_user, value, 0);
	if (strcmp(name, "router_path") == 0)
		return set_str(p, &c->router_path, value, 1);
	if (strcmp(name, "log_level") == 0)
		return set_log_level(p, value);
	if (strcmp(name, "uid_range") == 0)
		return set_uid_range(p, value);
	if (strcmp(name, "seccomp_dir") == 0)
		return set_str(p, &c->seccomp_dir, value, 1);
	if (strcmp(name, "egress_policy") == 0)
		return set_egress_policy(p, value);
	if (strcmp(name, "kv_max_mb") == 0)
		return set_u32(p, name, value, 1, KV_MAX_MB_MAX, &c->kv_max_mb);
	if (strcmp(name, "warm_processes") == 0)
		return set_u32(p, name, value, 0, WARM_PROCESSES_MAX,
		               &c->warm_processes);
	return perr(p, "unknown key \"%s\" in [switchyard]", name);
}

static int key_router(struct parse *p, const char *name, const char *value)
{
	struct sup_config *c = p->c;

	/* The request head travels in one frame with room to spare. */
	if (strcmp(name, "max_header_bytes") == 0)
		return set_size(p, name, value, 1024, SY_FRAME_MAX / 2,
		                &c->max_header_bytes);
	if (strcmp(name, "max_body_bytes") == 0)
		return set_size(p, name, value, 0, 1ull << 30, &c->max_body_bytes);
	if (strcmp(name, "client_body_buffer_bytes") == 0)
		return set_size(p, name, value, 0, 1ull << 30,
		                &c->client_body_buffer_bytes);
	if (strcmp(name, "body_timeout_ms") == 0)
		return set_u32(p, name, value, 1, 3600000, &c->body_timeout_ms);
	if (strcmp(name, "header_timeout_ms") == 0)
		return set_u32(p, name, value, 1, 3600000, &c->header_timeout_ms);
	if (strcmp(name, "idle_timeout_ms") == 0)
		return set_u32(p, name, value, 1, 86400000, &c->idle_timeout_ms);
	if (strcmp(name, "max_connections") == 0)
		return set_u32(p, name, value, 1, 1000000, &c->max_connections);
	return perr(p, "unknown key \"%s\" in [router]", name);
}

static void plan_defaults(struct plan *pl, const char *name)
{
	memset(pl, 0, sizeof(*pl));
	snprintf(pl->name, sizeof(pl->name), "%s", name);
	pl->instances = DEFAULT_INSTANCES;
	pl->concurrency = 1;
	pl->queue = DEFAULT_QUEUE;
	pl->queue_timeout_ms = DEFAULT_QUEUE_TIMEOUT_MS;
	pl->idle_timeout_s = DEFAULT_IDLE_TIMEOUT_S;
	pl->cpu_ms = DEFAULT_CPU_MS;
	pl->wall_ms = DEFAULT_WALL_MS;
	pl->subrequests = DEFAULT_SUBREQUESTS;
	pl->jail.memory_mb = DEFAULT_MEMORY_MB;
	pl->jail.cpu_pct = DEFAULT_CPU_PCT;
	pl->jail.pids = DEFAULT_PIDS;
	pl->jail.tmp_mb = DEFAULT_TMP_MB;
	pl->jail.nofile = DEFAULT_NOFILE;
	snprintf(pl->jail.seccomp, sizeof(pl->jail.seccomp), "%s",
	         DEFAULT_SECCOMP);
}

/* The plan called name, created with defaults if new; NULL on ENOMEM. */
static struct plan *plan_get(struct sup_config *c, const char *name)
{
	struct plan *grown;
	size_t i;

	for (i = 0; i < c->nplans; i++) {
		if (strcmp(c->plans[i].name, name) == 0)
			return &c->plans[i];
	}
	grown = realloc(c->plans, (c->nplans + 1) * sizeof(*grown));
	if (grown == NULL)
		return NULL;
	c->plans = grown;
	plan_defaults(&c->plans[c->nplans], name);
	return &c->plans[c->nplans++];
}

/* The keys that size a plan's jail (see policies/switchyard.ini). */
static int key_plan_jail(struct parse *p, struct plan *pl, const char *name,
                         const char *value)
{
	if (strcmp(name, "memory_mb") == 0)
		return set_u32(p, name, value, 8, 1048576, &pl->jail.memory_mb);
	if (strcmp(name, "cpu_pct") == 0)
		return set_u32(p, name, value, 1, 102400, &pl->jail.cpu_pct);
	if (strcmp(name, "pids") == 0)
		return set_u32(p, name, value, 1, 65536, &pl->jail.pids);
	if (strcmp(name, "tmp_mb") == 0)
		return set_u32(p, name, value, 0, 65536, &pl->jail.tmp_mb);
	if (strcmp(name, "nofile") == 0)
		return set_u32(p, name, value, 16, 1048576, &pl->jail.nofile);
	if (strcmp(name, "seccomp") == 0) {
		/* a file name under seccomp_dir, never a path */
		if (!sy_valid_name(value))
			return perr(p, "[%s] seccomp = %s: expected a profile "
			            "name (1-63 of a-z 0-9 - _), not a path",
			            p->section, value);
		snprintf(pl->jail.seccomp, sizeof(pl->jail.seccomp), "%s",
		         value);
		return 1;
	}
	return perr(p, "unknown key \"%s\" in [%s]", name, p->section);
}

static int set_cpu_meter(struct parse *p, struct plan *pl, const char *value)
{
	static const char *const names[] = { "auto", "clock", "perf" };
	uint32_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(value, names[i]) == 0) {
			pl->cpu_meter = i;
			return 1;
		}
	}
	return perr(p, "[%s] cpu_meter = %s: expected auto, clock or perf",
	            p->section, value);
}

static int key_plan(struct parse *p, const char *pname, const char *name,
                    const char *value)
{
	struct plan *pl;

	if (!sy_valid_name(pname))
		return perr(p, "[%s]: invalid plan name \"%s\" (use 1-63 of "
		            "a-z 0-9 - _, starting with a letter or digit)",
		            p->section, pname);
	if ((pl = plan_get(p->c, pname)) == NULL)
		return perr(p, "out of memory");
	if (strcmp(name, "instances") == 0)
		return set_u32(p, name, value, 1, MAX_INSTANCES, &pl->instances);
	if (strcmp(name, "queue") == 0)
		return set_u32(p, name, value, 0, 65536, &pl->queue);
	if (strcmp(name, "queue_timeout_ms") == 0)
		return set_u32(p, name, value, 1, 3600000, &pl->queue_timeout_ms);
	if (strcmp(name, "idle_timeout_s") == 0)
		return set_u32(p, name, value, 0, 604800, &pl->idle_timeout_s);
	if (strcmp(name, "cpu_ms") == 0)
		return set_u32(p, name, value, 1, 3600000, &pl->cpu_ms);
	if (strcmp(name, "wall_ms") == 0)
		return set_u32(p, name, value, 1, 86400000, &pl->wall_ms);
	if (strcmp(name, "subrequests") == 0)
		return set_u32(p, name, value, 0, 100000, &pl->subrequests);
	if (strcmp(name, "cpu_meter") == 0)
		return set_cpu_meter(p, pl, value);
	if (strcmp(name, "concurrency") == 0)
		return set_u32(p, name, value, 1, MAX_CONCURRENCY,
		               &pl->concurrency);
	return key_plan_jail(p, pl, name, value);
}

/* The [deploy NS/NAME] section being read: the last one, or a new one. */
static struct boot_deploy *deploy_get(struct parse *p, const char *spec)
{
	struct sup_config *c = p->c;
	struct boot_deploy *b, *grown;
	char ns[SY_NAME_MAX], name[SY_NAME_MAX], err[256];
	size_t i;

	if (sy_split_worker(spec, ns, name, err, sizeof(err)) == -1) {
		perr(p, "[%s]: %s", p->section, err);
		return NULL;
	}
	for (i = 0; i < c->nboot; i++) {
		b = &c->boot[i];
		if (strcmp(b->ns, ns) == 0 && strcmp(b->name, name) == 0)
			return b;
	}
	grown = realloc(c->boot, (c->nboot + 1) * sizeof(*grown));
	if (grown == NULL) {
		perr(p, "out of memory");
		return NULL;
	}
	c->boot = grown;
	b = &c->boot[c->nboot++];
	memset(b, 0, sizeof(*b));
	snprintf(b->ns, sizeof(b->ns), "%s", ns);
	snprintf(b->name, sizeof(b->name), "%s", name);
	snprintf(b->spec.plan, sizeof(b->spec.plan), "default");
	return b;
}

/* Appends value to a [deploy] list key after checking it with problem. */
static int deploy_add(struct parse *p, const char *key, char ***v, size_t *n,
                      size_t max, const char *value, const char *why)
{
	char **grown;
	size_t i;

	if (why != NULL)
		return perr(p, "[%s] %s = %.80s: %s", p->section, key, value,
		            why);
	for (i = 0; i < *n; i++) {
		if (strcmp((*v)[i], value) == 0)
			return perr(p, "[%s] %s = %.80s: given twice",
			            p->section, key, value);
	}
	if (*n >= max)
		return perr(p, "[%s] %s: at most %zu", p->section, key, max);
	grown = realloc(*v, (*n + 1) * sizeof(*grown));
	if (grown == NULL)
		return perr(p, "out of memory");
	*v = grown;
	if ((grown[*n] = strdup(value)) == NULL)
		return perr(p, "out of memory");
	(*n)++;
	return 1;
}

static int deploy_env(struct parse *p, struct boot_deploy *b, const char *kv)
{
	const char *eq = strchr(kv, '=');

	/* never echo the value: it may be a secret */
	if (eq == NULL || eq == kv)
		return perr(p, "[%s] env: expected KEY=VALUE", p->section);
	return deploy_add(p, "env", &b->spec.env, &b->spec.nenv, 256, kv,
	                  NULL);
}

/* kv, tag, tail_consumer, service and dispatch_namespace: repeatable,
 * each checked as a deploy would. */
static int deploy_list_key(struct parse *p, struct boot_deploy *b,
                           const char *name, const char *value)
{
	char self[2 * SY_NAME_MAX];
	struct deploy_spec *s = &b->spec;

	if (strcmp(name, "service") == 0)
		return deploy_add(p, name, &s->services, &s->nservices,
		                  SY_MAX_SERVICES, value,
		                  deploy_service_problem(value));
	if (strcmp(name, "dispatch_namespace") == 0)
		return deploy_add(p, name, &s->dispatch_ns, &s->ndispatch_ns,
		                  SY_MAX_DISPATCH_NS, value,
		                  deploy_dispatch_ns_problem(value));
	if (strcmp(name, "kv") == 0)
		return deploy_add(p, name, &s->kv, &s->nkv, 64, value,
		                  deploy_kv_problem(value));
	if (strcmp(name, "tag") == 0)
		return deploy_add(p, name, &s->tags, &s->ntags, SY_MAX_TAGS,
		                  value, deploy_tag_problem(value));
	snprintf(self, sizeof(self), "%s/%s", b->ns, b->name);
	return deploy_add(p, name, &s->tail_consumers, &s->ntail_consumers, 8,
	                  value, deploy_tail_problem(value, self));
}

static int key_deploy(struct parse *p, const char *spec, const char *name,
                      const char *value)
{
	struct boot_deploy *b;

	while (*spec == ' ' || *spec == '\t')
		spec++;
	if ((b = deploy_get(p, spec)) == NULL)
		return 0;
	if (strcmp(name, "env") == 0)
		return deploy_env(p, b, value);
	if (strcmp(name, "kv") == 0 || strcmp(name, "tag") == 0 ||
	    strcmp(name, "tail_consumer") == 0 ||
	    strcmp(name, "service") == 0 ||
	    strcmp(name, "dispatch_namespace") == 0)
		return deploy_list_key(p, b, name, value);
	if (!once(p, name))
		return 0;
	if (strcmp(name, "exe") == 0)
		return set_str(p, &b->exe, value, 1);
	if (strcmp(name, "plan") == 0) {
		if (!sy_valid_name(value))
			return perr(p, "[%s] plan = %s: invalid plan name",
			            p->section, value);
		snprintf(b->spec.plan, sizeof(b->spec.plan), "%s", value);
		return 1;
	}
	return perr(p, "unknown key \"%s\" in [%s]", name, p->section);
}

static int handler(void *user, const char *section, const char *name,
                   const char *value)
{
	struct parse *p = user;
	const char *s = p->section;

	(void)section; /* possibly truncated by inih; p->section is whole */
	if (p->failed)
		return 0;
	if (strncmp(s, "deploy ", 7) == 0 || strncmp(s, "deploy\t", 7) == 0)
		return key_deploy(p, s + 7, name, value);
	if (!once(p, name))
		return 0;
	if (strcmp(s, "switchyard") == 0)
		return key_switchyard(p, name, value);
	if (strcmp(s, "router") == 0)
		return key_router(p, name, value);
	if (strncmp(s, "plan.", 5) == 0)
		return key_plan(p, s + 5, name, value);
	if (s[0] == '\0')
		return perr(p, "key \"%s\" outside any section", name);
	return perr(p, "unknown section [%s]", s);
}

/* Fills everything the file may leave out. */
static int config_defaults(struct sup_config *c)
{
	c->state_dir = strdup("/var/lib/switchyard");
	c->run_dir = strdup("/run/switchyard");
	c->router_user = strdup("nobody");
	c->admin_listen = strdup("127.0.0.1:9090");
	snprintf(c->dispatch_ns, sizeof(c->dispatch_ns), "platform");
	snprintf(c->dispatch_name, sizeof(c->dispatch_name), "dispatcher");
	c->log_level = SY_LOG_INFO;
	c->kv_max_mb = KV_MAX_MB_DEFAULT;
	c->warm_processes = DEFAULT_WARM_PROCESSES;
	c->uid_min = DEFAULT_UID_MIN;
	c->uid_max = DEFAULT_UID_MAX;
	c->max_header_bytes = 16 * 1024;
	c->max_body_bytes = 16 * 1024 * 1024;
	c->client_body_buffer_bytes = 64 * 1024;
	c->header_timeout_ms = 10000;
	c->body_timeout_ms = 10000;
	c->idle_timeout_ms = 60000;
	c->max_connections = 1024;
	return c->state_dir && c->run_dir && c->router_user &&
	       c->admin_listen ? 0 : -1;
}

/* A build tree (build/ or build-san/ next to policies/) uses its own
 * profiles; an installed supervisor the ones `make install` put in /etc. */
static int default_seccomp_dir(struct sup_config *c, const char *exe_dir)
{
	char path[PATH_MAX], real[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/../policies/seccomp", exe_dir);
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
	    realpath(path, real) != NULL)
		c->seccomp_dir = strdup(real);
	else
		c->seccomp_dir = strdup(INSTALLED_SECCOMP_DIR);
	return c->seccomp_dir == NULL ? -1 : 0;
}

/* Defaults that depend on other keys, and checks across sections. */
static int config_finish(struct parse *p)
{
	struct sup_config *c = p->c;
	char exe[PATH_MAX], *dir;
	ssize_t n;
	size_t i, len;

	p->line = 0; /* what is missing has no line */
	if (c->nlisten == 0 && add_listen(p, "127.0.0.1:8080") == 0)
		return -1;
	if (c->control_socket == NULL) {
		len = strlen(c->run_dir) + sizeof("/control.sock");
		if ((c->control_socket = malloc(len)) == NULL)
			return perr(p, "out of memory"), -1;
		snprintf(c->control_socket, len, "%s/control.sock", c->run_dir);
	}
	if (plan_get(c, "default") == NULL)
		return perr(p, "out of memory"), -1;
	for (i = 0; i < c->nboot; i++) {
		if (c->boot[i].exe == NULL)
			return perr(p, "[deploy %s/%s]: exe not given",
			            c->boot[i].ns, c->boot[i].name), -1;
		if (config_plan(c, c->boot[i].spec.plan) == NULL)
			return perr(p, "[deploy %s/%s]: unknown plan \"%s\"",
			            c->boot[i].ns, c->boot[i].name,
			            c->boot[i].spec.plan), -1;
	}
	if (c->router_path != NULL && c->seccomp_dir != NULL)
		return 0;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return perr(p, "cannot find the supervisor's directory: "
		            "readlink /proc/self/exe: %s", strerror(errno)), -1;
	exe[n] = '\0';
	dir = dirname(exe);
	if (c->seccomp_dir == NULL && default_seccomp_dir(c, dir) == -1)
		return perr(p, "out of memory"), -1;
	if (c->router_path != NULL)
		return 0;
	len = strlen(dir) + sizeof("/switchyard-router");
	if ((c->router_path = malloc(len)) == NULL)
		return perr(p, "out of memory"), -1;
	snprintf(c->router_path, len, "%s/switchyard-router", dir);
	return 0;
}

static void parse_free(struct parse *p)
{
	size_t i;

	for (i = 0; i < p->nseen; i++)
		free(p->seen[i]);
	free(p->seen);
	if (p->fp != NULL)
		fclose(p->fp);
}

static int config_open(struct parse *p, const char *path)
{
	char abs[PATH_MAX], tmp[PATH_MAX];

	if ((p->fp = fopen(path, "re")) == NULL ||
	    realpath(path, abs) == NULL) {
		snprintf(p->err, p->errlen, "config %s: %s", path,
		         strerror(errno));
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s", abs);
	snprintf(p->dir, sizeof(p->dir), "%s", dirname(tmp));
	if ((p->c->path = strdup(abs)) == NULL) {
		snprintf(p->err, p->errlen, "config %s: %s", path,
		         strerror(ENOMEM));
		return -1;
	}
	return 0;
}

struct sup_config *config_load(const char *path, char *err, size_t errlen)
{
	struct parse p;
	int rc;

	memset(&p, 0, sizeof(p));
	p.err = err;
	p.errlen = errlen;
	if ((p.c = calloc(1, sizeof(*p.c))) == NULL ||
	    config_defaults(p.c) == -1) {
		snprintf(err, errlen, "config %s: %s", path, strerror(ENOMEM));
		goto fail;
	}
	if (config_open(&p, path) == -1)
		goto fail;
	rc = ini_parse_stream(reader, &p, handler, &p);
	if (rc != 0 && !p.failed) {
		p.line = rc > 0 ? (unsigned)rc : p.line;
		perr(&p, rc > 0 ? "syntax error (expected [section] or key = "
		     "value)" : "cannot read the file");
	}
	if (p.failed || config_finish(&p) == -1)
		goto fail;
	parse_free(&p);
	return p.c;
fail:
	parse_free(&p);
	config_free(p.c);
	return NULL;
}

static void boot_free(struct boot_deploy *b)
{
	free(b->exe);
	deploy_spec_free(&b->spec);
}

void config_free(struct sup_config *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->path);
	for (i = 0; i < c->nlisten; i++)
		free(c->listen[i]);
	free(c->listen);
	free(c->state_dir);
	free(c->run_dir);
	free(c->control_socket);
	free(c->router_user);
	free(c->admin_listen);
	free(c->router_path);
	free(c->seccomp_dir);
	free(c->egress_policy);
	netpolicy_free(c->egress);
	free(c->plans);
	for (i = 0; i < c->nboot; i++)
		boot_free(&c->boot[i]);
	free(c->boot);
	free(c);
}

const struct plan *config_plan(const struct sup_config *c, const char *name)
{
	size_t i;

	if (name == NULL || name[0] == '\0')
		name = "default";
	for (i = 0; i < c->nplans; i++) {
		if (strcmp(c->plans[i].name, name) == 0)
			return &c->plans[i];
	}
	return NULL;
}
