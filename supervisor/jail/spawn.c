/*
 * Starting a worker process, parent side. Everything that may allocate or
 * fail cleanly happens here, before the clone: the per-version template
 * (root, limits, compiled profile), the process's cgroup, the descriptor of
 * the executable and the channels. The child runs jail.c's steps in order;
 * the first that fails writes {step, errno} to a close-on-exec pipe and
 * exits, and the parent turns it into "step N (name) failed: error". When
 * the exec succeeds the pipe closes with nothing written.
 *
 * The child is a clone(CLONE_VM | CLONE_VFORK) that also creates its pid,
 * mount and UTS namespaces, and joins the network and IPC namespaces that
 * every worker shares (namespaces.h: made once, empty, and out of reach
 * of every call the worker's profile lets through; a profile that lets
 * one through gets that one of its own): it borrows the supervisor's
 * memory until it execs, so starting a worker costs the same however large
 * the supervisor has grown (fork copies page tables). The price is that its
 * steps must not allocate, and must make raw system calls where glibc would
 * coordinate threads (set*id). The supervisor is suspended meanwhile, so
 * nothing it owns changes under the child.
 *
 * The worker is pid 1 of its pid namespace, so the kernel ignores signals
 * it sends itself while their action is the default: abort()'s raise of
 * SIGABRT does nothing, and glibc then executes a privileged instruction,
 * whose forced SIGSEGV does kill it (a crash: outcome exception). SIGKILL
 * from the supervisor, outside the namespace, always works.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jail/caps.h"
#include "jail/jail.h"
#include "jail/namespaces.h"
#include "jail/spawn.h"
#include "log.h"
#include "seccomp_filter.h"

#define CHILD_STACK (256 * 1024)
#define CPU_BACKSTOP_S 86400 /* RLIMIT_CPU: a CPU-day, over a life */
#define FREE_SLOTS_MAX 64    /* idle cgroups kept for reuse */
#define KMSG_RECORD 8192
#define KILL_RECORDS 32      /* seccomp kills read from /dev/kmsg, kept */

struct profile {
	char *path;
	struct sy_seccomp *filter;
	int private_ns;           /* CLONE_NEW* of the shared namespaces it
	                           * could reach: its workers get their own */
	struct profile *next;
};

struct spawn_tmpl {
	uint32_t version;         /* the version and limits it was built for */
	const struct spawn_limits *limits;
	int dynamic;              /* the executable has a PT_INTERP */
	struct sy_rootfs rootfs;
	struct sy_rlimits rl;
	struct cg_limits lim;
	const struct profile *profile; /* in the profile cache */
};

struct spawn_slot {
	char name[2 * SY_NAME_MAX + 16]; /* "ns.name.N" */
	char label[2 * SY_NAME_MAX];     /* "ns/name" */
	unsigned int index;
	struct cg_handle cg;
	struct cg_limits lim;
	uint64_t oom;             /* OOM kills counted so far */
	int in_use;
	struct spawn_slot *next;
};

struct status_msg {
	int32_t step;
	int32_t err;
};

/* A seccomp kill the kernel logged (pid 0: none). */
struct kill_record {
	pid_t pid;
	unsigned long arch;
	long nr;
};

struct child {
	struct jail_spec spec;
	int clone_ns;             /* CLONE_NEW* that clone() makes */
	struct jail_fds fds;
	char *argv[2];
	char **envp;
};

static struct {
	const char *seccomp_dir;
	int jail, cgroups;
	struct sy_cgroups *cg;
	char *root_dir;           /* what each root tmpfs is mounted on */
	int last_cap;
	int kmsg;                 /* /dev/kmsg, read from where we started */
	struct kill_record kills[KILL_RECORDS]; /* the latest ones read */
	unsigned int nkills;
	struct profile *profiles;
	struct spawn_slot *slots; /* every cgroup made, newest and most
	                           * recently freed first */
	char *stack;
} S = { .kmsg = -1 };

int spawn_reset_signals(void)
{
	struct sigaction sa;
	sigset_t none;
	int sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		/* glibc reserves a few real-time signals: EINVAL there */
		if (sigaction(sig, &sa, NULL) == -1 && errno != EINVAL)
			return -1;
	}
	sigemptyset(&none);
	return sigprocmask(SIG_SETMASK, &none, NULL);
}

int spawn_jailed(void)
{
	return S.jail;
}

/* ---- seccomp profiles, compiled once each ---- */

/*
 * NAME.policy, or NAME-dynamic.policy for a worker with files to open: a
 * dynamically linked executable (its loader opens and maps libraries).
 * Compiled for pid 1: every worker is pid 1 of its own pid namespace, so
 * one program serves every spawn.
 */
static const struct profile *profile_get(const char *name, int dynamic,
                                         char *err, size_t errlen)
{
	struct profile *p;
	char *path;

	if (asprintf(&path, "%s/%s%s.policy", S.seccomp_dir, name,
	             dynamic ? "-dynamic" : "") < 0) {
		snprintf(err, errlen, "seccomp profile %s: %s", name,
		         strerror(ENOMEM));
		return NULL;
	}
	for (p = S.profiles; p != NULL; p = p->next) {
		if (strcmp(p->path, path) == 0) {
			free(path);
			return p;
		}
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "seccomp profile %s: %s", path,
		         strerror(ENOMEM));
		free(path);
		return NULL;
	}
	p->path = path;
	if (access(path, R_OK) == -1) {
		snprintf(err, errlen, "seccomp profile \"%s\"%s: %s: %s", name,
		         dynamic ? " (for workers that open files)" : "",
		         path, strerror(errno));
	} else if ((p->filter = seccomp_compile(path, 1, err, errlen)) !=
	           NULL) {
		p->private_ns = ns_reachable(p->filter, p->path);
		p->next = S.profiles;
		S.profiles = p;
		return p;
	}
	free(p->path);
	free(p);
	return NULL;
}

/* ---- cgroups, one per process, reused ---- */

/*
 * A free cgroup of the same worker (its limits rewritten if the plan
 * changed), else a new one: creating a v1 cgroup costs about 260 µs, more
 * than the rest of a spawn, so each is reused by the worker's next process
 * once its last one has been reaped. One per process, not per worker: a
 * process's memory cap and OOM count are then its own, and an OOM kill
 * names the process (and request) that caused it.
 */
static struct spawn_slot *slot_get(const char *label,
                                   const struct cg_limits *lim, char *err,
                                   size_t errlen)
{
	struct spawn_slot *s, *pick = NULL;
	unsigned int index = 0;
	char scratch[256];
	int taken;

	for (s = S.slots; s != NULL; s = s->next) {
		if (s->in_use || strcmp(s->label, label) != 0)
			continue;
		if (pick == NULL || memcmp(&s->lim, lim, sizeof(*lim)) == 0)
			pick = s;
	}
	if (pick != NULL) {
		if (memcmp(&pick->lim, lim, sizeof(*lim)) != 0) {
			if (cgroup_set_limits(&pick->cg, lim, err, errlen) < 0)
				return NULL;
			pick->lim = *lim;
		}
		pick->in_use = 1;
		return pick;
	}
	do {
		taken = 0;
		for (s = S.slots; s != NULL; s = s->next)
			if (strcmp(s->label, label) == 0 && s->index == index)
				taken = 1;
	} while (taken && ++index);
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "cgroup: %s", strerror(ENOMEM));
		return NULL;
	}
	snprintf(s->label, sizeof(s->label), "%s", label);
	snprintf(s->name, sizeof(s->name), "%s.%u", label, index);
	*strchr(s->name, '/') = '.';
	s->index = index;
	s->lim = *lim;
	if (cgroup_create(S.cg, s->name, lim, &s->cg, err, errlen) < 0 ||
	    cgroup_oom_killed(&s->cg, &s->oom, err, errlen) < 0) {
		cgroup_destroy(&s->cg, scratch, sizeof(scratch));
		free(s);
		return NULL;
	}
	s->in_use = 1;
	s->next = S.slots;
	S.slots = s;
	return s;
}

static void slot_destroy(struct spawn_slot *s)
{
	char err[512];

	if (cgroup_destroy(&s->cg, err, sizeof(err)) < 0)
		log_warnx("%s", err);
	free(s);
}

/* Back to the free list; the oldest free ones beyond FREE_SLOTS_MAX go. */
static void slot_put(struct spawn_slot *slot)
{
	struct spawn_slot **pp, *s;
	unsigned int nfree = 0;

	slot->in_use = 0;
	for (pp = &S.slots; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == slot) {
			*pp = slot->next;
			break;
		}
	}
	slot->next = S.slots;
	S.slots = slot;
	for (pp = &S.slots; (s = *pp) != NULL;) {
		if (!s->in_use && ++nfree > FREE_SLOTS_MAX) {
			*pp = s->next;
			slot_destroy(s);
			continue;
		}
		pp = &s->next;
	}
}

/* ---- the template of a version ---- */

static void tmpl_limits(struct spawn_tmpl *t, const struct spawn_limits *pn,
                        uint32_t instances)
{
	uint64_t mem = (uint64_t)pn->memory_mb << 20;
	uint64_t tmp = (uint64_t)pn->tmp_mb << 20;

	t->lim.memory_bytes = mem;
	t->lim.cpu_quota_pct = pn->cpu_pct;
	t->lim.pids_max = pn->pids;
	t->rl.nofile = pn->nofile;
	/* counted per uid, which every process of the worker shares, old
	 * versions' draining ones included */
	t->rl.nproc = (rlim_t)pn->pids * instances * 2;
	t->rl.fsize = tmp > 0 ? tmp : 1;
	t->rl.cpu_s = CPU_BACKSTOP_S;
	/* the cgroup caps what is used; this only what is reserved */
	t->rl.as_bytes = 4 * mem + (64u << 20);
}

static struct spawn_tmpl *tmpl_build(const struct spawn_req *req, char *err,
                                     size_t errlen)
{
	struct spawn_tmpl *t = calloc(1, sizeof(*t));

	if (t == NULL) {
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		return NULL;
	}
	t->version = req->version;
	t->limits = req->limits;
	tmpl_limits(t, req->limits, req->instances);
	if (rootfs_prepare(&t->rootfs, S.root_dir, req->exe_path,
	                   t->rl.fsize > 1 ? (size_t)t->rl.fsize : 0, err,
	                   errlen) == -1 ||
	    rootfs_add_exe_needs(&t->rootfs, req->exe_path, &t->dynamic, err,
	                         errlen) == -1)
		goto fail;
	/* NAME-dynamic.policy is for workers with files to open */
	t->profile = profile_get(req->limits->seccomp, t->dynamic, err,
	                         errlen);
	if (t->profile == NULL ||
	    rootfs_template(&t->rootfs, JAIL_FD_EXEC + 1, err, errlen) == -1)
		goto fail;
	return t;
fail:
	free(t);
	return NULL;
}

void spawn_tmpl_free(struct spawn_tmpl *t)
{
	if (t != NULL)
		rootfs_template_close(&t->rootfs);
	free(t);
}

static struct spawn_tmpl *tmpl_get(const struct spawn_req *req, char *err,
                                   size_t errlen)
{
	struct spawn_tmpl *t = *req->tmpl;

	if (t != NULL && t->version == req->version &&
	    t->limits == req->limits)
		return t;
	if ((t = tmpl_build(req, err, errlen)) == NULL)
		return NULL;
	spawn_tmpl_free(*req->tmpl);
	*req->tmpl = t;
	return t;
}

/* For struct spawn_clock: the vDSO's clock, no system call. */
static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the child ---- */

static int child_run(void *arg)
{
	struct child *c = arg;
	struct status_msg m;
	int step;
	ssize_t n;

	if (jail_enter(&c->spec, &step) == 0) {
		jail_exec(&c->spec, c->argv, c->envp);
		step = JAIL_STEP_EXEC;
	}
	m.step = step;
	m.err = errno;
	do {
		n = write(c->fds.status, &m, sizeof(m));
	} while (n == -1 && errno == EINTR);
	_exit(127);
	return 127;
}

/* One stack serves every child: CLONE_VFORK returns only once the child
 * has exec'd or exited. */
static pid_t child_start(struct child *c)
{
	int flags = CLONE_VM | CLONE_VFORK | SIGCHLD;

	if (S.stack == NULL && (S.stack = malloc(CHILD_STACK)) == NULL)
		return -1;
	return clone(child_run, S.stack + CHILD_STACK, flags | c->clone_ns, c);
}

/* The environment is only what the caller gave and the worker's name;
 * built before the clone so the child does not allocate. */
static char **make_env(const struct spawn_req *req, char *self, size_t size)
{
	char **envp = calloc(req->nenv + 2, sizeof(*envp));
	size_t n;

	if (envp == NULL)
		return NULL;
	for (n = 0; n < req->nenv; n++)
		envp[n] = req->env[n];
	snprintf(self, size, "SWITCHYARD_WORKER=%s", req->worker);
	envp[n] = self;
	return envp;
}

/* Fills the spec: the jail of tmpl, or (no tmpl) only the steps that are
 * not the jail. */
static void child_init(struct child *c, const struct spawn_req *req,
                       const struct spawn_tmpl *t,
                       const struct spawn_slot *slot)
{
	struct jail_spec *s = &c->spec;

	s->fds = &c->fds;
	s->exec_fd = c->fds.exec;
	s->clock_ns = req->clock != NULL ? req->clock->step : NULL;
	c->argv[0] = t != NULL ? (char *)"/worker" : (char *)req->exe_path;
	c->argv[1] = NULL;
	if (t == NULL) {
		s->no_jail = 1;
		s->ppid = getpid();
		return;
	}
	s->uid = req->uid;
	s->gid = (gid_t)req->uid;
	s->hostname = "worker";
	s->cgroup = slot != NULL ? &slot->cg : NULL;
	s->rootfs = &t->rootfs;
	s->rlimits = &t->rl;
	s->last_cap = S.last_cap;
	s->ppid = 0; /* the parent is outside the new pid namespace */
	s->seccomp = t->profile->filter;
	c->clone_ns = ns_plan(s, t->profile->private_ns);
	/* it copies its root's template instead (rootfs.h) */
	if (t->rootfs.template_ns >= 0)
		c->clone_ns &= ~CLONE_NEWNS;
}

static void close_all(int *fds, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* The child has its copies; ours would hide its exit from the pipes. */
static void close_child_ends(int fds[9])
{
	static const int child_end[] = { 1, 3, 5, 7, 8 };
	size_t i;

	for (i = 0; i < sizeof(child_end) / sizeof(child_end[0]); i++) {
		close(fds[child_end[i]]);
		fds[child_end[i]] = -1;
	}
}

/*
 * The child's report, without waiting for it: clone() with CLONE_VFORK
 * returns once the child has either exited, after writing the report of
 * a failed step, or exec'd past the point of no return (the exec released
 * our memory), from where a failure kills it instead of coming back. So
 * the pipe already holds a report, or never will: no report (EAGAIN while
 * the exec is still closing its descriptors, or EOF) means it exec'd, or
 * died of a signal, which the reaping tells. Waiting for the EOF, as this
 * did, blocked the supervisor until the child's exec got that far, and on
 * a busy or idle-halted CPU pair often well beyond (0.3-2 ms after an idle
 * second on the reference VM). 0 once exec'd, -1 with err if a step failed
 * (and then reaps it).
 */
static int exec_report(pid_t pid, int fd, char *err, size_t errlen)
{
	struct status_msg m;
	ssize_t n;

	do {
		n = read(fd, &m, sizeof(m));
	} while (n == -1 && errno == EINTR);
	if (n == 0 || (n == -1 && errno == EAGAIN))
		return 0;
	if (n == (ssize_t)sizeof(m))
		snprintf(err, errlen, "step %d (%s) failed: %s", m.step,
		         jail_step_name(m.step), strerror(m.err));
	else
		snprintf(err, errlen, "start-up report unreadable%s%s",
		         n == -1 ? ": " : "", n == -1 ? strerror(errno) : "");
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		;
	return -1;
}

/* fds: socketpair, stdout, stderr and status pipes (never waited on:
 * exec_report), then the executable. */
static int open_channels(int fds[9], const char *exe)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == -1 ||
	    pipe2(fds + 2, O_CLOEXEC) == -1 ||
	    pipe2(fds + 4, O_CLOEXEC) == -1 ||
	    pipe2(fds + 6, O_CLOEXEC | O_NONBLOCK) == -1)
		return -1;
	fds[8] = open(exe, O_RDONLY | O_CLOEXEC);
	return fds[8] == -1 ? -1 : 0;
}

/* Starts the child on the prepared channels; the parent keeps fds[0],
 * [2], [4] (ours) and reads [6]. */
static pid_t start(const struct spawn_req *req, const struct spawn_tmpl *t,
                   const struct spawn_slot *slot, int fds[9], char *err,
                   size_t errlen)
{
	char self[160];
	struct child c;
	pid_t pid;

	memset(&c, 0, sizeof(c));
	c.fds.sock = fds[1];
	c.fds.out = fds[3];
	c.fds.err = fds[5];
	c.fds.status = fds[7];
	c.fds.exec = fds[8];
	child_init(&c, req, t, slot);
	if ((c.envp = make_env(req, self, sizeof(self))) == NULL) {
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		return -1;
	}
	if (req->clock != NULL)
		req->clock->clone = mono_ns();
	pid = child_start(&c);
	if (req->clock != NULL)
		req->clock->resumed = mono_ns();
	if (pid == -1)
		snprintf(err, errlen, "clone: %s", strerror(errno));
	free(c.envp);
	return pid;
}

int spawn_worker(const struct spawn_req *req, struct spawn_res *res,
                 char *err, size_t errlen)
{
	int fds[9] = { -1, -1, -1, -1, -1, -1, -1, -1, -1 };
	const struct spawn_tmpl *t = NULL;
	struct spawn_slot *slot = NULL;
	pid_t pid;

	if (req->clock != NULL)
		req->clock->begin = mono_ns();
	if (S.jail && (t = tmpl_get(req, err, errlen)) == NULL)
		return -1;
	if (t != NULL && S.cg != NULL &&
	    (slot = slot_get(req->worker, &t->lim, err, errlen)) == NULL)
		return -1;
	if (open_channels(fds, req->exe_path) == -1) {
		snprintf(err, errlen, "%s: %s", fds[7] == -1 ? "socketpair/pipe"
		         : req->exe_path, strerror(errno));
		goto fail;
	}
	if ((pid = start(req, t, slot, fds, err, errlen)) == -1)
		goto fail;
	close_child_ends(fds);
	if (exec_report(pid, fds[6], err, errlen) == -1)
		goto fail;
	close(fds[6]);
	if (req->clock != NULL)
		req->clock->end = mono_ns();
	res->pid = pid;
	res->sock = fds[0];
	res->out = fds[2];
	res->err = fds[4];
	res->slot = slot;
	return 0;
fail:
	close_all(fds, 9);
	if (slot != NULL)
		slot_put(slot);
	return -1;
}

/* ---- how a worker ended ---- */

/*
 * The kernel's audit record of a seccomp kill names the syscall:
 *   audit: type=1326 ... pid=1234 ... sig=31 arch=c000003e syscall=101 ...
 * /dev/kmsg is read from where it was at start, record by record, without
 * blocking; the kill was logged before the process died, hence before we
 * reaped it. Without audit, or past printk's rate limit, there is none.
 * Records read meanwhile are kept a while: two workers killed at once are
 * reaped one after the other.
 */
static void kmsg_drain(void)
{
	char rec[KMSG_RECORD + 1], *p, *a;
	struct kill_record *k;
	ssize_t n;
	int pid;

	for (;;) {
		n = read(S.kmsg, rec, KMSG_RECORD);
		if (n == -1 && (errno == EPIPE || errno == EINTR))
			continue; /* overwritten before we read it */
		if (n <= 0)
			return;
		rec[n] = '\0';
		if (strstr(rec, "type=1326") == NULL ||
		    (p = strstr(rec, " pid=")) == NULL ||
		    (a = strstr(rec, " arch=")) == NULL)
			continue;
		k = &S.kills[S.nkills++ % KILL_RECORDS];
		if (sscanf(p, " pid=%d", &pid) != 1 ||
		    sscanf(a, " arch=%lx syscall=%ld", &k->arch, &k->nr) != 2)
			pid = 0;
		k->pid = pid;
	}
}

static int kmsg_syscall(pid_t pid, long *nr, unsigned long *arch)
{
	struct kill_record *k;
	unsigned int i;

	if (S.kmsg == -1)
		return -1;
	kmsg_drain();
	for (i = 1; i <= KILL_RECORDS; i++) {
		k = &S.kills[(S.nkills - i) % KILL_RECORDS];
		if (k->pid == pid) {
			*nr = k->nr;
			*arch = k->arch;
			k->pid = 0;
			return 0;
		}
	}
	return -1;
}

static void syscall_violation(pid_t pid, char *buf, size_t size)
{
	char name[96];
	unsigned long arch;
	long nr;

	if (kmsg_syscall(pid, &nr, &arch) == -1)
		snprintf(buf, size, "seccomp (syscall unknown)");
	else
		snprintf(buf, size, "syscall %s",
		         seccomp_syscall_name((uint32_t)arch, nr, name,
		                              sizeof(name)));
}

/* An OOM kill shows as a SIGKILL; the cgroup's counter says whose. */
static int memory_violation(struct spawn_slot *slot, int status)
{
	char err[512];
	uint64_t n;

	if (cgroup_oom_killed(&slot->cg, &n, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return 0;
	}
	if (n <= slot->oom) {
		slot->oom = n;
		return 0;
	}
	slot->oom = n;
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

void spawn_reaped(struct spawn_slot *slot, pid_t pid, int status,
                  struct spawn_exit *ex)
{
	ex->outcome = SWITCHYARD__OUTCOME__EXCEPTION;
	ex->violation[0] = '\0';
	if (slot != NULL && memory_violation(slot, status)) {
		ex->outcome = SWITCHYARD__OUTCOME__EXCEEDED_MEMORY;
		snprintf(ex->violation, sizeof(ex->violation),
		         "memory cap %llu MiB",
		         (unsigned long long)(slot->lim.memory_bytes >> 20));
	} else if (S.jail && WIFSIGNALED(status) &&
	           WTERMSIG(status) == SIGSYS) {
		syscall_violation(pid, ex->violation, sizeof(ex->violation));
	}
	if (slot != NULL)
		slot_put(slot);
}

/* ---- set-up and tear-down ---- */

static int init_jail(const struct spawn_opts *o, char *err, size_t errlen)
{
	size_t i;

	if ((S.last_cap = caps_last_cap()) == -1) {
		snprintf(err, errlen, "capabilities: cannot learn the highest "
		         "one: %s", strerror(errno));
		return -1;
	}
	if (asprintf(&S.root_dir, "%s/jail-root", o->run_dir) < 0) {
		S.root_dir = NULL;
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		return -1;
	}
	if (mkdir(S.root_dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", S.root_dir,
		         strerror(errno));
		return -1;
	}
	if (ns_shared_init(err, errlen) == -1)
		return -1;
	for (i = 0; i < o->nprofiles; i++) {
		if (profile_get(o->profiles[i], 0, err, errlen) == NULL)
			return -1;
	}
	S.kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (S.kmsg == -1 || lseek(S.kmsg, 0, SEEK_END) == -1)
		log_warn("/dev/kmsg: seccomp kills will not name the syscall");
	return 0;
}

int spawn_init(const struct spawn_opts *o, char *err, size_t errlen)
{
	char name[64];

	S.seccomp_dir = o->seccomp_dir;
	S.jail = o->jail;
	S.cgroups = o->cgroups;
	if (!S.jail)
		return 0;
	if (init_jail(o, err, errlen) == -1)
		return -1;
	if (!S.cgroups)
		return 0;
	/* one root per supervisor: several may run side by side */
	snprintf(name, sizeof(name), "switchyard-%d", (int)getpid());
	if ((S.cg = cgroup_init(name, err, errlen)) == NULL)
		return -1;
	log_info("cgroup v%d: workers' cgroups under %s", cgroup_version(S.cg),
	         name);
	/* what a supervisor killed with SIGKILL left behind */
	if (cgroup_sweep_stale(S.cg, "switchyard-") > 0)
		log_info("removed the cgroups of supervisors that are gone");
	return 0;
}

void spawn_fini(void)
{
	struct spawn_slot *s;
	struct profile *p;

	while ((s = S.slots) != NULL) {
		S.slots = s->next;
		slot_destroy(s);
	}
	cgroup_fini(S.cg);
	S.cg = NULL;
	while ((p = S.profiles) != NULL) {
		S.profiles = p->next;
		seccomp_free(p->filter);
		free(p->path);
		free(p);
	}
	ns_shared_fini();
	if (S.root_dir != NULL && rmdir(S.root_dir) == -1 && errno != ENOENT)
		log_warn("rmdir %s", S.root_dir);
	free(S.root_dir);
	S.root_dir = NULL;
	if (S.kmsg != -1)
		close(S.kmsg);
	S.kmsg = -1;
	free(S.stack);
	S.stack = NULL;
}
