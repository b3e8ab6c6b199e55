/*
 * Seccomp profiles: parse a policy file, build a libseccomp filter, export
 * it as classic BPF once in the supervisor, and load the prebuilt program in
 * the child. Grammar: policies/seccomp/README.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/seccomp.h>

#include <seccomp.h>

#include "seccomp_filter.h"

#define MAX_TOKENS 64
#define MAX_VALUES 32    /* values after one `in` or `subset` */
#define MAX_ARGS 6
#define MAX_PID_SLOTS 64 /* instructions that compare with $SELF_PID */
/*
 * Placeholder compiled for $SELF_PID when the pid is filled in at apply
 * time. Larger than any pid (pid_max is at most 2^22), and compile refuses a
 * profile that uses it as a literal, so every instruction whose constant is
 * the placeholder is one of ours.
 */
#define PID_PLACEHOLDER 0x7ffffffeu

struct sy_seccomp {
	struct sock_fprog prog;
	unsigned int npid;                     /* placeholder instructions */
	unsigned short pid_slot[MAX_PID_SLOTS];
	/* For seccomp_may_allow: with default_allow 0, the syscalls some line
	 * allows; with 1, those a line refuses whatever the arguments. */
	int default_allow;
	int *listed;
	size_t nlisted;
};

/* One value token: a number, or $SELF_PID. */
struct val {
	uint64_t v;
	int self_pid;
};

enum op { OP_EQ32, OP_EQ64, OP_IN32, OP_SUBSET32 };

struct cond {
	unsigned int arg;
	enum op op;
	struct val val[MAX_VALUES];
	unsigned int nval;
};

enum act_kind { ACT_ALLOW, ACT_ERRNO, ACT_KILL };

/* One policy line with a syscall on it. */
struct rule {
	unsigned int lineno;
	char name[64];
	int nr;
	enum act_kind act;
	int errnum;
	struct cond cond[MAX_ARGS];
	unsigned int ncond;
};

struct policy {
	const char *path;
	struct rule *rules;
	size_t nrules, cap;
	int uses_pid;
	int default_allow;     /* "@default allow": a deny-list */
	int seen_default;
	char *err;
	size_t errlen;
};

struct sym {
	const char *name;
	int64_t value;
};

#define SYM(x) { #x, (int64_t)(x) }

/* The symbolic constants a profile may use: a fixed table, so a typo can
 * never silently become a different value. */
static const struct sym consts[] = {
	SYM(F_DUPFD), SYM(F_GETFD), SYM(F_SETFD), SYM(F_GETFL), SYM(F_SETFL),
	SYM(F_GETLK), SYM(F_SETLK), SYM(F_SETLKW), SYM(F_DUPFD_CLOEXEC),
	SYM(FD_CLOEXEC),
	SYM(TCGETS), SYM(TIOCGWINSZ), SYM(TIOCGPGRP), SYM(TIOCSTI),
	SYM(TIOCLINUX), SYM(FIONREAD), SYM(FIONBIO), SYM(FIOCLEX),
	SYM(FIONCLEX), SYM(FIOASYNC),
	SYM(AT_FDCWD), SYM(AT_EMPTY_PATH), SYM(AT_SYMLINK_NOFOLLOW),
	SYM(AT_REMOVEDIR), SYM(AT_NO_AUTOMOUNT),
	SYM(PROT_NONE), SYM(PROT_READ), SYM(PROT_WRITE), SYM(PROT_EXEC),
	SYM(MAP_SHARED), SYM(MAP_PRIVATE), SYM(MAP_FIXED), SYM(MAP_ANONYMOUS),
	SYM(MAP_NORESERVE), SYM(MAP_STACK), SYM(MAP_POPULATE),
	SYM(MAP_FIXED_NOREPLACE),
	SYM(MADV_NORMAL), SYM(MADV_DONTNEED), SYM(MADV_FREE),
	SYM(MADV_WILLNEED), SYM(MADV_HUGEPAGE), SYM(MADV_NOHUGEPAGE),
	SYM(O_RDONLY), SYM(O_WRONLY), SYM(O_RDWR), SYM(O_CREAT), SYM(O_EXCL),
	SYM(O_TRUNC), SYM(O_APPEND), SYM(O_NONBLOCK), SYM(O_CLOEXEC),
	SYM(O_DIRECTORY), SYM(O_NOFOLLOW), SYM(O_PATH), SYM(O_NOCTTY),
	SYM(O_TMPFILE),
	SYM(PER_LINUX),
	SYM(SOL_SOCKET), SYM(SO_TYPE), SYM(SO_ERROR), SYM(SO_DOMAIN),
	SYM(SO_RCVBUF), SYM(SO_SNDBUF), SYM(SO_PEERCRED),
	SYM(MSG_NOSIGNAL), SYM(MSG_CMSG_CLOEXEC), SYM(MSG_DONTWAIT),
	SYM(MSG_PEEK), SYM(MSG_WAITALL), SYM(MSG_TRUNC),
	SYM(SHUT_RD), SYM(SHUT_WR), SYM(SHUT_RDWR),
	SYM(AF_UNIX), SYM(AF_INET), SYM(AF_INET6), SYM(AF_NETLINK),
	SYM(CLOCK_REALTIME), SYM(CLOCK_MONOTONIC), SYM(CLOCK_BOOTTIME),
	SYM(CLOCK_PROCESS_CPUTIME_ID), SYM(CLOCK_THREAD_CPUTIME_ID),
	SYM(RLIMIT_STACK), SYM(RLIMIT_NOFILE), SYM(RLIMIT_AS),
	SYM(RLIMIT_CORE), SYM(RLIMIT_CPU),
	SYM(GRND_NONBLOCK), SYM(GRND_RANDOM),
	SYM(SIGABRT), SYM(SIGKILL), SYM(SIGTERM), SYM(SIGSEGV),
};

static const struct sym errnos[] = {
	SYM(EPERM), SYM(ENOENT), SYM(ESRCH), SYM(EINTR), SYM(EIO),
	SYM(ENXIO), SYM(EBADF), SYM(EAGAIN), SYM(ENOMEM), SYM(EACCES),
	SYM(EFAULT), SYM(EBUSY), SYM(EEXIST), SYM(ENODEV), SYM(EINVAL),
	SYM(ENFILE), SYM(EMFILE), SYM(ENOTTY), SYM(EROFS), SYM(ENOSPC),
	SYM(ENOSYS), SYM(ENOTSUP), SYM(EOPNOTSUPP), SYM(EAFNOSUPPORT),
	SYM(EPROTONOSUPPORT), SYM(ENOTSOCK),
};

#undef SYM

static int perr(struct policy *p, unsigned int lineno, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fills err with "path:line: message" and returns -1. */
static int perr(struct policy *p, unsigned int lineno, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (lineno > 0)
		snprintf(p->err, p->errlen, "%s:%u: %s", p->path, lineno, msg);
	else
		snprintf(p->err, p->errlen, "%s: %s", p->path, msg);
	return -1;
}

static int sym_find(const struct sym *t, size_t n, const char *name,
                    int64_t *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(t[i].name, name) == 0) {
			*out = t[i].value;
			return 0;
		}
	}
	return -1;
}

/* A decimal (optionally negative) or 0x-hexadecimal number. */
static int parse_number(const char *s, uint64_t *out)
{
	int neg = 0;
	char *end;
	unsigned long long v;

	if (*s == '-') {
		neg = 1;
		s++;
	}
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		/* strtoull would take "0x-1" or "0x 1" */
		if (!isxdigit((unsigned char)s[2]))
			return -1;
		v = strtoull(s + 2, &end, 16);
	} else
		v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || (neg && v > (1ull << 63)))
		return -1;
	*out = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	return 0;
}

/* One term of a value: a number or a symbolic constant. */
static int parse_term(struct policy *p, unsigned int ln, const char *s,
                      uint64_t *out)
{
	int64_t v;

	if (parse_number(s, out) == 0)
		return 0;
	if (sym_find(consts, sizeof(consts) / sizeof(consts[0]), s, &v) == 0) {
		*out = (uint64_t)v;
		return 0;
	}
	if (isdigit((unsigned char)*s) || *s == '-')
		return perr(p, ln, "malformed number '%s'", s);
	return perr(p, ln, "unknown constant '%s'", s);
}

/* A value token: $SELF_PID, or terms joined by '|' (bitwise or). */
static int parse_value(struct policy *p, unsigned int ln, const char *tok,
                       struct val *out)
{
	char buf[128], *term, *save;
	uint64_t v;

	memset(out, 0, sizeof(*out));
	if (strcmp(tok, "$SELF_PID") == 0) {
		out->self_pid = 1;
		p->uses_pid = 1;
		return 0;
	}
	if (strlen(tok) >= sizeof(buf))
		return perr(p, ln, "value too long: '%.32s...'", tok);
	strcpy(buf, tok);
	if (buf[0] == '|' || buf[strlen(buf) - 1] == '|' || strstr(buf, "||"))
		return perr(p, ln, "malformed value '%s'", tok);
	for (term = strtok_r(buf, "|", &save); term != NULL;
	     term = strtok_r(NULL, "|", &save)) {
		if (parse_term(p, ln, term, &v) < 0)
			return -1;
		out->v |= v;
	}
	return 0;
}

static int is_arg_token(const char *t, unsigned int *arg)
{
	if (strncmp(t, "arg", 3) != 0 || t[3] < '0' || t[3] > '5' ||
	    t[4] != '\0')
		return 0;
	*arg = (unsigned int)(t[3] - '0');
	return 1;
}

static int is_action_token(const char *t)
{
	return strcmp(t, "allow") == 0 || strcmp(t, "errno") == 0 ||
	       strcmp(t, "kill") == 0;
}

/* "argN OP VALUE..." starting at tok[*i]; advances *i past it. */
static int parse_cond(struct policy *p, struct rule *r, char **tok,
                      size_t ntok, size_t *i)
{
	struct cond *c = &r->cond[r->ncond];
	unsigned int arg, k, a;
	const char *op;

	if (!is_arg_token(tok[*i], &arg))
		return perr(p, r->lineno,
		            "expected argN, errno, kill or allow, got '%s'",
		            tok[*i]);
	for (k = 0; k < r->ncond; k++)
		if (r->cond[k].arg == arg)
			return perr(p, r->lineno, "%s compared twice", tok[*i]);
	if (*i + 1 >= ntok)
		return perr(p, r->lineno, "%s: missing operator", tok[*i]);
	memset(c, 0, sizeof(*c));
	c->arg = arg;
	op = tok[*i + 1];
	if (strcmp(op, "==") == 0)
		c->op = OP_EQ32;
	else if (strcmp(op, "==64") == 0)
		c->op = OP_EQ64;
	else if (strcmp(op, "in") == 0)
		c->op = OP_IN32;
	else if (strcmp(op, "subset") == 0)
		c->op = OP_SUBSET32;
	else
		return perr(p, r->lineno, "unknown operator '%s'", op);
	for (k = 0; k < r->ncond && c->op == OP_IN32; k++)
		if (r->cond[k].op == OP_IN32)
			return perr(p, r->lineno, "only one 'in' per line");
	*i += 2;
	while (*i < ntok && !is_arg_token(tok[*i], &a) &&
	       !is_action_token(tok[*i])) {
		if (c->nval == MAX_VALUES)
			return perr(p, r->lineno, "more than %d values",
			            MAX_VALUES);
		if (parse_value(p, r->lineno, tok[*i], &c->val[c->nval]) < 0)
			return -1;
		if (c->val[c->nval].self_pid && c->op == OP_SUBSET32)
			return perr(p, r->lineno, "$SELF_PID in subset");
		c->nval++;
		(*i)++;
	}
	if (c->nval == 0)
		return perr(p, r->lineno, "arg%u %s: missing value", arg, op);
	if ((c->op == OP_EQ32 || c->op == OP_EQ64) && c->nval != 1)
		return perr(p, r->lineno, "arg%u %s takes one value (use in)",
		            arg, op);
	r->ncond++;
	return 0;
}

/* "allow" | "kill" | "errno E" at tok[*i], which must end the line. */
static int parse_action(struct policy *p, struct rule *r, char **tok,
                        size_t ntok, size_t *i)
{
	int64_t e;
	uint64_t n;

	if (strcmp(tok[*i], "allow") == 0) {
		r->act = ACT_ALLOW;
	} else if (strcmp(tok[*i], "kill") == 0) {
		r->act = ACT_KILL;
	} else {
		r->act = ACT_ERRNO;
		if (++*i >= ntok)
			return perr(p, r->lineno, "errno: missing value");
		if (sym_find(errnos, sizeof(errnos) / sizeof(errnos[0]),
		             tok[*i], &e) == 0)
			r->errnum = (int)e;
		else if (parse_number(tok[*i], &n) == 0 && n >= 1 &&
		         n <= 4095)
			r->errnum = (int)n;
		else
			return perr(p, r->lineno, "unknown errno '%s'",
			            tok[*i]);
	}
	if (++*i < ntok)
		return perr(p, r->lineno, "unexpected '%s' after the action",
		            tok[*i]);
	if (r->act == ACT_KILL && r->ncond > 0 && !p->default_allow)
		return perr(p, r->lineno, "kill takes no conditions (kill is "
		            "the default action)");
	return 0;
}

static int valid_name(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!islower((unsigned char)*s) &&
		    !isdigit((unsigned char)*s) && *s != '_')
			return 0;
	return 1;
}

static int parse_rule(struct policy *p, struct rule *r, char **tok,
                      size_t ntok)
{
	size_t i = 1;

	if (!valid_name(tok[0]) || strlen(tok[0]) >= sizeof(r->name))
		return perr(p, r->lineno, "malformed syscall name '%s'",
		            tok[0]);
	strcpy(r->name, tok[0]);
	r->nr = seccomp_syscall_resolve_name(r->name);
	if (r->nr == __NR_SCMP_ERROR)
		return perr(p, r->lineno, "unknown syscall '%s' on this host",
		            r->name);
	r->act = ACT_ALLOW;
	while (i < ntok && !is_action_token(tok[i])) {
		if (r->ncond == MAX_ARGS)
			return perr(p, r->lineno, "too many conditions");
		if (parse_cond(p, r, tok, ntok, &i) < 0)
			return -1;
	}
	if (i < ntok && parse_action(p, r, tok, ntok, &i) < 0)
		return -1;
	/* In a deny-list a bare name is almost surely meant as a denial. */
	if (p->default_allow && r->act == ACT_ALLOW)
		return perr(p, r->lineno, "%s: allow is this profile's default "
		            "action; write kill or errno E", r->name);
	return 0;
}

/* "@default allow|kill": before any syscall line, at most once. */
static int parse_directive(struct policy *p, unsigned int ln, char **tok,
                           size_t ntok)
{
	if (strcmp(tok[0], "@default") != 0)
		return perr(p, ln, "unknown directive '%s'", tok[0]);
	if (ntok != 2 || (strcmp(tok[1], "allow") != 0 &&
	                  strcmp(tok[1], "kill") != 0))
		return perr(p, ln, "@default takes allow or kill");
	if (p->seen_default || p->nrules > 0)
		return perr(p, ln, "@default must come once, before every "
		            "syscall line");
	p->seen_default = 1;
	p->default_allow = strcmp(tok[1], "allow") == 0;
	return 0;
}

/* Splits line (comment stripped) into tokens; returns their number or -1. */
static int tokenize(char *line, char **tok)
{
	char *hash, *t, *save;
	int n = 0;

	if ((hash = strchr(line, '#')) != NULL)
		*hash = '\0';
	for (t = strtok_r(line, " \t\r\n", &save); t != NULL;
	     t = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == MAX_TOKENS)
			return -1;
		tok[n++] = t;
	}
	return n;
}

static struct rule *rule_new(struct policy *p, unsigned int lineno)
{
	struct rule *r;

	if (p->nrules == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;

		if ((r = realloc(p->rules, cap * sizeof(*r))) == NULL)
			return NULL;
		p->rules = r;
		p->cap = cap;
	}
	r = &p->rules[p->nrules++];
	memset(r, 0, sizeof(*r));
	r->lineno = lineno;
	return r;
}

/*
 * libseccomp silently lets an unconditional rule replace conditional ones and
 * keeps the first of two unconditional rules with different actions, so
 * ambiguity is refused here: one action per syscall, and a line without
 * conditions is the only line for its syscall.
 */
static int check_rule(struct policy *p, const struct rule *r)
{
	size_t i;

	for (i = 0; i + 1 < p->nrules; i++) {
		const struct rule *o = &p->rules[i];

		if (o->nr != r->nr)
			continue;
		if (o->ncond == 0 || r->ncond == 0)
			return perr(p, r->lineno, "%s also on line %u: a line "
			            "without conditions must be the only one",
			            r->name, o->lineno);
		if (o->act != r->act || o->errnum != r->errnum)
			return perr(p, r->lineno,
			            "%s has a different action on line %u",
			            r->name, o->lineno);
	}
	return 0;
}

static int parse_file(struct policy *p)
{
	FILE *f;
	char *line = NULL, *tok[MAX_TOKENS];
	size_t cap = 0;
	unsigned int lineno = 0;
	int n, rc = 0;
	struct rule *r;

	if ((f = fopen(p->path, "re")) == NULL)
		return perr(p, 0, "open: %s", strerror(errno));
	while (rc == 0 && getline(&line, &cap, f) >= 0) {
		lineno++;
		if ((n = tokenize(line, tok)) < 0)
			rc = perr(p, lineno, "more than %d words", MAX_TOKENS);
		else if (n == 0)
			continue;
		else if (tok[0][0] == '@')
			rc = parse_directive(p, lineno, tok, (size_t)n);
		else if ((r = rule_new(p, lineno)) == NULL)
			rc = perr(p, lineno, "%s", strerror(errno));
		else if (parse_rule(p, r, tok, (size_t)n) < 0 ||
		         check_rule(p, r) < 0)
			rc = -1;
	}
	if (rc == 0 && ferror(f))
		rc = perr(p, lineno, "read: %s", strerror(errno));
	free(line);
	fclose(f);
	if (rc == 0 && p->nrules == 0)
		rc = perr(p, 0, p->default_allow ? "no syscalls: a deny-list "
		          "that denies nothing" : "no syscalls: a profile that "
		          "allows nothing cannot even exec");
	return rc;
}

static uint64_t val_get(const struct val *v, pid_t self_pid)
{
	if (v->self_pid)
		return self_pid > 0 ? (uint64_t)self_pid : PID_PLACEHOLDER;
	return v->v;
}

/* One libseccomp comparison for c, taking value k of an `in` list. */
static struct scmp_arg_cmp cmp_of(const struct cond *c, unsigned int k,
                                  pid_t self_pid)
{
	struct scmp_arg_cmp a = { .arg = c->arg };
	uint64_t all = 0;
	unsigned int i;

	switch (c->op) {
	case OP_EQ64:
		a.op = SCMP_CMP_EQ;
		a.datum_a = val_get(&c->val[0], self_pid);
		break;
	case OP_SUBSET32:
		for (i = 0; i < c->nval; i++)
			all |= c->val[i].v;
		a.op = SCMP_CMP_MASKED_EQ;
		a.datum_a = ~all & 0xffffffffu;
		a.datum_b = 0;
		break;
	default: /* OP_EQ32, OP_IN32: the low 32 bits (CVE-2019-10063) */
		a.op = SCMP_CMP_MASKED_EQ;
		a.datum_a = 0xffffffffu;
		a.datum_b = val_get(&c->val[k], self_pid) & 0xffffffffu;
		break;
	}
	return a;
}

static uint32_t action_of(const struct rule *r)
{
	switch (r->act) {
	case ACT_ERRNO:
		return SCMP_ACT_ERRNO((uint32_t)r->errnum);
	case ACT_KILL:
		return SCMP_ACT_KILL_PROCESS;
	default:
		return SCMP_ACT_ALLOW;
	}
}

/* Adds r: one libseccomp rule, or one per value of its `in` condition. */
static int add_rule(struct policy *p, scmp_filter_ctx ctx,
                    const struct rule *r, pid_t self_pid)
{
	struct scmp_arg_cmp a[MAX_ARGS];
	unsigned int i, k, nalt = 1, in = MAX_ARGS;
	int rc;

	if (r->act == ACT_KILL && !p->default_allow)
		return 0; /* the default action; the line documents intent */
	for (i = 0; i < r->ncond; i++) {
		if (r->cond[i].op != OP_IN32)
			continue;
		in = i;
		nalt = r->cond[i].nval;
	}
	for (k = 0; k < nalt; k++) {
		for (i = 0; i < r->ncond; i++)
			a[i] = cmp_of(&r->cond[i], i == in ? k : 0, self_pid);
		rc = seccomp_rule_add_array(ctx, action_of(r), r->nr,
		                            r->ncond, a);
		if (rc < 0)
			return perr(p, r->lineno, "%s: seccomp_rule_add: %s",
			            r->name, strerror(-rc));
	}
	return 0;
}

static int reserved(const struct val *v)
{
	return !v->self_pid && (v->v & 0xffffffffu) == PID_PLACEHOLDER;
}

/* A literal equal to the placeholder would be patched too: refuse it. */
static int check_literals(struct policy *p)
{
	const struct rule *r;
	unsigned int c, k;
	size_t i;

	for (i = 0; i < p->nrules; i++) {
		r = &p->rules[i];
		for (c = 0; c < r->ncond; c++)
			for (k = 0; k < r->cond[c].nval; k++)
				if (reserved(&r->cond[c].val[k]))
					return perr(p, r->lineno,
					            "value %#x is reserved",
					            PID_PLACEHOLDER);
	}
	return 0;
}

/*
 * A binary search on the syscall number instead of libseccomp's default
 * chain of comparisons: the same decisions, in a few more instructions
 * (worker.policy: 193 instead of 168) of which far fewer run. That matters
 * most at load: the kernel runs the new filter over every syscall number of
 * both ABIs to learn which are always allowed (seccomp_cache_prepare), a
 * walk of half the program each in a chain. Loading worker.policy in a
 * worker's last jail step took 160-290 us as a chain and 75-120 us as a
 * tree on the reference VM (2 vCPUs, tests/unit/test_spawn.c). A
 * libseccomp before 2.5 has no tree and builds the chain.
 */
static void set_binary_tree(scmp_filter_ctx ctx)
{
#if SCMP_VER_MAJOR > 2 || (SCMP_VER_MAJOR == 2 && SCMP_VER_MINOR >= 5)
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
#else
	(void)ctx;
#endif
}

static scmp_filter_ctx build(struct policy *p, pid_t self_pid)
{
	scmp_filter_ctx ctx;
	size_t i;
	int rc;

	ctx = seccomp_init(p->default_allow ? SCMP_ACT_ALLOW
	                                    : SCMP_ACT_KILL_PROCESS);
	if (ctx == NULL) {
		perr(p, 0, "seccomp_init failed");
		return NULL;
	}
	/* Native arch only: i386 (int 0x80) and x32 numbers land here. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	                      SCMP_ACT_KILL_PROCESS);
	if (rc < 0) {
		perr(p, 0, "seccomp_attr_set(ACT_BADARCH): %s", strerror(-rc));
		goto fail;
	}
	set_binary_tree(ctx);
	for (i = 0; i < p->nrules; i++)
		if (add_rule(p, ctx, &p->rules[i], self_pid) < 0)
			goto fail;
	return ctx;
fail:
	seccomp_release(ctx);
	return NULL;
}

/* libseccomp 2.5 exports only to a file descriptor: go through a memfd. */
static int export_bpf(struct policy *p, scmp_filter_ctx ctx,
                      struct sy_seccomp *s)
{
	struct stat st;
	int fd, rc;
	ssize_t n;

	if ((fd = memfd_create("sy-seccomp", MFD_CLOEXEC)) < 0)
		return perr(p, 0, "memfd_create: %s", strerror(errno));
	if ((rc = seccomp_export_bpf(ctx, fd)) < 0) {
		perr(p, 0, "seccomp_export_bpf: %s", strerror(-rc));
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		perr(p, 0, "fstat(memfd): %s", strerror(errno));
		goto fail;
	}
	if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) ||
	    st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS) {
		perr(p, 0, "filter of %jd bytes: too large or malformed",
		     (intmax_t)st.st_size);
		goto fail;
	}
	if ((s->prog.filter = malloc((size_t)st.st_size)) == NULL) {
		perr(p, 0, "%s", strerror(errno));
		goto fail;
	}
	n = pread(fd, s->prog.filter, (size_t)st.st_size, 0);
	if (n != st.st_size) {
		perr(p, 0, "read(memfd): %s",
		     n < 0 ? strerror(errno) : "short read");
		goto fail;
	}
	s->prog.len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
	close(fd);
	return 0;
fail:
	close(fd);
	return -1;
}

/* Records where the placeholder sits; it must only be a JEQ constant. */
static int find_pid_slots(struct policy *p, struct sy_seccomp *s)
{
	unsigned int i;
	const struct sock_filter *f = s->prog.filter;

	for (i = 0; i < s->prog.len; i++) {
		if (f[i].k != PID_PLACEHOLDER)
			continue;
		if (f[i].code != (BPF_JMP | BPF_JEQ | BPF_K) ||
		    s->npid == MAX_PID_SLOTS)
			return perr(p, 0, "cannot place $SELF_PID in the "
			            "filter (instruction %u)", i);
		s->pid_slot[s->npid++] = (unsigned short)i;
	}
	if (s->npid == 0)
		return perr(p, 0, "$SELF_PID not found in the compiled filter");
	return 0;
}

/* What seccomp_may_allow needs of the rules, which go once compiled. A
 * syscall has one action (check_rule): allowed, conditionally or not, in an
 * allow-list; refused outright, or only for some arguments, in a deny-list. */
static int keep_listed(struct policy *p, struct sy_seccomp *s)
{
	const struct rule *r;
	size_t i;

	s->default_allow = p->default_allow;
	if ((s->listed = calloc(p->nrules + 1, sizeof(*s->listed))) == NULL)
		return perr(p, 0, "%s", strerror(errno));
	for (i = 0; i < p->nrules; i++) {
		r = &p->rules[i];
		if (p->default_allow ? r->act != ACT_ALLOW && r->ncond == 0
		                     : r->act == ACT_ALLOW)
			s->listed[s->nlisted++] = r->nr;
	}
	return 0;
}

struct sy_seccomp *seccomp_compile(const char *path, pid_t self_pid,
                                   char *err, size_t errlen)
{
	struct policy p = { .path = path, .err = err, .errlen = errlen };
	struct sy_seccomp *s = NULL;
	scmp_filter_ctx ctx = NULL;

	if (self_pid < 0) {
		snprintf(err, errlen, "%s: invalid pid %d", path,
		         (int)self_pid);
		return NULL;
	}
	if (parse_file(&p) < 0 || check_literals(&p) < 0)
		goto fail;
	if ((ctx = build(&p, self_pid)) == NULL)
		goto fail;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		perr(&p, 0, "%s", strerror(errno));
		goto fail;
	}
	if (export_bpf(&p, ctx, s) < 0)
		goto fail;
	if (p.uses_pid && self_pid == SY_SECCOMP_PID_AT_APPLY &&
	    find_pid_slots(&p, s) < 0)
		goto fail;
	if (keep_listed(&p, s) < 0)
		goto fail;
	seccomp_release(ctx);
	free(p.rules);
	return s;
fail:
	if (ctx != NULL)
		seccomp_release(ctx);
	seccomp_free(s);
	free(p.rules);
	return NULL;
}

void seccomp_free(struct sy_seccomp *s)
{
	if (s == NULL)
		return;
	free(s->listed);
	free(s->prog.filter);
	free(s);
}

const struct sock_fprog *seccomp_prog(const struct sy_seccomp *s)
{
	return &s->prog;
}

size_t seccomp_len(const struct sy_seccomp *s)
{
	return s->prog.len;
}

int seccomp_needs_pid(const struct sy_seccomp *s)
{
	return s->npid > 0;
}

int seccomp_may_allow(const struct sy_seccomp *s, const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);
	size_t i;

	/* not a native syscall here (socketcall on x86-64): the bad-arch
	 * action kills whatever calls it */
	if (nr < 0)
		return 0;
	for (i = 0; i < s->nlisted; i++)
		if (s->listed[i] == nr)
			return !s->default_allow;
	return s->default_allow;
}

static int load(const struct sock_fprog *prog)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) < 0)
		return -1;
	return 0;
}

int seccomp_apply(const struct sy_seccomp *s)
{
	if (s->npid > 0) {
		errno = EINVAL;
		return -1;
	}
	return load(&s->prog);
}

int seccomp_apply_self(const struct sy_seccomp *s, struct sock_filter *scratch,
                       size_t nscratch)
{
	struct sock_fprog prog;
	unsigned int i;
	long pid;

	if (s->npid == 0)
		return load(&s->prog);
	if (scratch == NULL || nscratch < s->prog.len) {
		errno = EINVAL;
		return -1;
	}
	/* Raw getpid: no libc cache can hand the child its parent's pid. */
	pid = syscall(SYS_getpid);
	for (i = 0; i < s->prog.len; i++)
		scratch[i] = s->prog.filter[i];
	for (i = 0; i < s->npid; i++)
		scratch[s->pid_slot[i]].k = (uint32_t)pid;
	prog.len = s->prog.len;
	prog.filter = scratch;
	return load(&prog);
}

const char *seccomp_syscall_name(uint32_t arch, long nr, char *buf,
                                 size_t size)
{
	const char *abi = "";
	char *name;

	/* x32 calls come with the x86-64 audit arch and the x32 bit */
	if (arch == SCMP_ARCH_X86_64 && (nr & 0x40000000)) {
		arch = SCMP_ARCH_X32;
		abi = ", x32 ABI";
	} else if (arch == SCMP_ARCH_X86) {
		abi = ", i386 ABI";
	} else if (arch != seccomp_arch_native()) {
		abi = ", foreign ABI";
	}
	name = nr >= 0 && nr <= INT_MAX
	           ? seccomp_syscall_resolve_num_arch(arch, (int)nr) : NULL;
	snprintf(buf, size, "%s(%ld%s)", name != NULL ? name : "?", nr, abi);
	free(name);
	return buf;
}
