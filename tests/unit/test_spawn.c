/*
 * spawn_worker (supervisor/jail/spawn.h) with the whole jail, as the
 * supervisor runs it: a static worker is started SY_SPAWN_N times (default
 * 20) in its cgroup, namespaces, root, identity and seccomp profile, answers
 * on its fd 3, is stopped and reaped, and the next one starts. Asserts that
 * each one ran and that every process after the first reused the first
 * one's cgroup (what an idle worker's next start relies on). Prints where
 * a spawn's time went, step by step (struct spawn_clock): medians and the
 * slowest, in microseconds; the numbers are printed, never judged.
 * SY_SPAWN_FDS=N has us hold N more descriptors meanwhile, as a supervisor
 * with many workers does (three each: channel, stdout, stderr).
 * SY_SPAWN_GAP_MS=N waits N ms before each spawn, as a cold start after an
 * idle reap does: the kernel's per-spawn waits (RCU grace periods for the
 * cgroup move and the old root's unmount) are then paid in full.
 * SY_SPAWN_EXE=PATH starts that static executable instead, e.g.
 * build/examples/hello, whose first bytes are its HELLO (no main() time
 * then, and its exit status is its own).
 *
 * Then the namespaces: workers whose profile refuses every call that
 * reaches a network or IPC namespace share one of each, never ours; a
 * profile that allows such a call gets its workers their own; pid, mount
 * and UTS namespaces are always a process's own. Runs as root with a C
 * compiler and static libc ("cc -static").
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "jail/spawn.h"
#include "testutil.h"

#define WORKER_UID 64001
#define DEFAULT_N 20
#define MAX_N 1000

/* Tells the parent when its main() began, then waits for EOF on fd 3. */
static const char worker_src[] =
	"#include <stdint.h>\n"
	"#include <time.h>\n"
	"#include <unistd.h>\n"
	"int main(void)\n"
	"{\n"
	"\tstruct timespec ts;\n"
	"\tuint64_t ns;\n"
	"\tchar c;\n"
	"\tclock_gettime(CLOCK_MONOTONIC, &ts);\n"
	"\tns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;\n"
	"\tif (write(3, &ns, sizeof(ns)) != sizeof(ns))\n"
	"\t\treturn 1;\n"
	"\twhile (read(3, &c, 1) > 0)\n"
	"\t\t;\n"
	"\treturn 0;\n"
	"}\n";

static char tmpdir[64];
static char worker[128];
static char seccomp_dir[128];

static const char *policy_dir(void)
{
	const char *dir = getenv("SY_POLICY_DIR");

	return dir ? dir : "policies/seccomp";
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* seccomp_dir: the default profile, and "open", which is the default
 * with socket() and shmget() allowed. */
static int write_profiles(void)
{
	char in[256], out[192], line[512], word[64];
	FILE *src, *dst;
	int rc = 0;

	snprintf(seccomp_dir, sizeof(seccomp_dir), "%s/seccomp", tmpdir);
	if (mkdir(seccomp_dir, 0755) < 0)
		return -1;
	snprintf(in, sizeof(in), "%s/worker.policy", policy_dir());
	snprintf(out, sizeof(out), "%s/worker.policy", seccomp_dir);
	if ((src = fopen(in, "r")) == NULL)
		return -1;
	if ((dst = fopen(out, "w")) == NULL) {
		fclose(src);
		return -1;
	}
	while (fgets(line, sizeof(line), src) != NULL)
		fputs(line, dst);
	rc |= fclose(dst);
	snprintf(out, sizeof(out), "%s/open.policy", seccomp_dir);
	rewind(src);
	if ((dst = fopen(out, "w")) == NULL) {
		fclose(src);
		return -1;
	}
	while (fgets(line, sizeof(line), src) != NULL)
		if (sscanf(line, "%63s", word) != 1 ||
		    strcmp(word, "socket") != 0)
			fputs(line, dst);
	fputs("socket\nshmget\n", dst);
	rc |= fclose(dst);
	fclose(src);
	return rc;
}

static int group_setup(void **state)
{
	static const char *const profiles[] = { "worker" };
	struct spawn_opts o = { .jail = 1, .cgroups = 1 };
	char src[128], err[512];

	if (tu_mkdtemp(tmpdir, sizeof(tmpdir), "test-spawn") < 0)
		return -1;
	chmod(tmpdir, 0755);
	snprintf(src, sizeof(src), "%s/worker.c", tmpdir);
	snprintf(worker, sizeof(worker), "%s/worker", tmpdir);
	if (tu_write_file(src, worker_src, strlen(worker_src), 0644) < 0 ||
	    tu_run_cc(src, worker) < 0) {
		fprintf(stderr, "test_spawn: cannot build the static worker\n");
		return -1;
	}
	if (write_profiles() < 0) {
		fprintf(stderr, "test_spawn: cannot write the profiles\n");
		return -1;
	}
	o.run_dir = tmpdir;
	o.seccomp_dir = seccomp_dir;
	o.profiles = profiles;
	o.nprofiles = 1;
	if (spawn_init(&o, err, sizeof(err)) < 0) {
		fprintf(stderr, "test_spawn: %s\n", err);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	spawn_fini();
	return tu_rm_rf(tmpdir);
}

/* One spawn's phases, microseconds. */
enum phase {
	PH_PREPARE,  /* spawn_worker's own work before clone() */
	PH_CLONE,    /* clone() with the namespaces, to the child's start */
	PH_STEP0,    /* + JAIL_STEP_CGROUP - 1: each jail step */
	PH_EXEC = PH_STEP0 + JAIL_STEP_SECCOMP, /* execveat to our resume */
	PH_RESUMED,  /* our resume to spawn_worker's return */
	PH_MAIN,     /* last jail step to the worker's main() */
	PH_ANSWER,   /* spawn_worker's start to its first byte, read by us */
	PH_REAP,     /* closing its channel to its reap */
	NPHASES
};

static const char *phase_name(int ph)
{
	static char buf[32];

	switch (ph) {
	case PH_PREPARE: return "prepare (parent)";
	case PH_CLONE: return "clone + namespaces";
	case PH_EXEC: return "execveat until parent resumes";
	case PH_RESUMED: return "parent: report read";
	case PH_MAIN: return "exec + libc start to main()";
	case PH_ANSWER: return "= spawn to first byte";
	case PH_REAP: return "stop + reap";
	}
	snprintf(buf, sizeof(buf), "step %d %s", ph - PH_STEP0 + 1,
	         jail_step_name(ph - PH_STEP0 + 1));
	return buf;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void print_phases(uint64_t (*us)[NPHASES], size_t n)
{
	uint64_t col[MAX_N];
	size_t i;
	int ph;

	printf("spawn_worker, %zu spawns (us)%s%s%s: phase, median, max\n", n,
	       getenv("SY_SPAWN_FDS") ? ", holding " : "",
	       getenv("SY_SPAWN_FDS") ? getenv("SY_SPAWN_FDS") : "",
	       getenv("SY_SPAWN_FDS") ? " more descriptors" : "");
	for (ph = 0; ph < NPHASES; ph++) {
		for (i = 0; i < n; i++)
			col[i] = us[i][ph];
		qsort(col, n, sizeof(col[0]), cmp_u64);
		printf("  %-32s %6llu %6llu\n", phase_name(ph),
		       (unsigned long long)col[n / 2],
		       (unsigned long long)col[n - 1]);
	}
}

/* Starts the worker, reads its first word, stops and reaps it. */
static void spawn_once(struct spawn_tmpl **tmpl, uint64_t *us,
                       struct spawn_slot **slot)
{
	static const struct spawn_limits lim = { 64, 100, 16, 1, 64,
		                                 "worker" };
	const char *exe = getenv("SY_SPAWN_EXE") != NULL &&
	                  getenv("SY_SPAWN_EXE")[0] != '\0'
	                  ? getenv("SY_SPAWN_EXE") : NULL;
	struct spawn_req rq = { "test/spawn", exe ? exe : worker, 1, &lim, 1,
		                WORKER_UID, NULL, 0, tmpl, NULL };
	struct spawn_clock clk;
	struct spawn_res res;
	struct spawn_exit ex;
	uint64_t main_ns, t_read, t_stop;
	char err[512];
	int st, i;

	memset(&clk, 0, sizeof(clk));
	rq.clock = &clk;
	if (spawn_worker(&rq, &res, err, sizeof(err)) < 0)
		fail_msg("spawn_worker: %s", err);
	assert_int_equal(read(res.sock, &main_ns, sizeof(main_ns)),
	                 sizeof(main_ns));
	t_read = mono_ns();
	t_stop = mono_ns();
	close(res.sock);
	assert_int_equal(waitpid(res.pid, &st, 0), res.pid);
	if (exe == NULL && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
		fail_msg("worker: wait status 0x%x", st);
	us[PH_REAP] = (mono_ns() - t_stop) / 1000;
	*slot = res.slot;
	spawn_reaped(res.slot, res.pid, st, &ex);
	if (strcmp(ex.violation, "") != 0)
		fail_msg("worker: %s", ex.violation);
	close(res.out);
	close(res.err);
	us[PH_PREPARE] = (clk.clone - clk.begin) / 1000;
	us[PH_CLONE] = (clk.step[0] - clk.clone) / 1000;
	for (i = 1; i <= JAIL_STEP_SECCOMP; i++)
		us[PH_STEP0 + i - 1] = (clk.step[i] - clk.step[i - 1]) / 1000;
	us[PH_EXEC] = (clk.resumed - clk.step[JAIL_STEP_SECCOMP]) / 1000;
	us[PH_RESUMED] = (clk.end - clk.resumed) / 1000;
	us[PH_MAIN] = exe ? 0 : (main_ns - clk.step[JAIL_STEP_SECCOMP]) / 1000;
	us[PH_ANSWER] = (t_read - clk.begin) / 1000;
}

/* Holds n more descriptors (SY_SPAWN_FDS), or puts them back (n 0). */
static void hold_fds(size_t n)
{
	static int *held;
	static size_t nheld;
	struct rlimit rl;
	size_t i;

	while (nheld > 0)
		close(held[--nheld]);
	free(held);
	held = NULL;
	if (n == 0)
		return;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < n + 64) {
		rl.rlim_cur = rl.rlim_max = n + 64;
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	assert_non_null(held = calloc(n, sizeof(*held)));
	for (i = 0; i < n; i++)
		assert_true((held[nheld++] = open("/dev/null", O_RDONLY |
		                                  O_CLOEXEC)) >= 0);
}

static void test_spawns_reuse_their_cgroup(void **state)
{
	static uint64_t us[MAX_N][NPHASES];
	struct spawn_tmpl *tmpl = NULL;
	struct spawn_slot *first = NULL, *slot;
	const char *env = getenv("SY_SPAWN_N");
	const char *fds = getenv("SY_SPAWN_FDS");
	const char *gap = getenv("SY_SPAWN_GAP_MS");
	size_t i, n = env != NULL ? strtoul(env, NULL, 10) : DEFAULT_N;

	if (n == 0 || n > MAX_N)
		n = DEFAULT_N;
	hold_fds(fds != NULL ? strtoul(fds, NULL, 10) : 0);
	for (i = 0; i < n; i++) {
		if (gap != NULL)
			usleep(1000 * (useconds_t)strtoul(gap, NULL, 10));
		spawn_once(&tmpl, us[i], &slot);
		assert_non_null(slot);
		if (first == NULL)
			first = slot;
		/* reaped, then reused by the next process of the worker */
		assert_ptr_equal(slot, first);
	}
	spawn_tmpl_free(tmpl);
	hold_fds(0);
	/* the first spawn builds the template and the cgroup */
	print_phases(n > 1 ? us + 1 : us, n > 1 ? n - 1 : 1);
}

/* A live worker, started by start_worker. */
struct live {
	struct spawn_tmpl *tmpl;
	struct spawn_res res;
	char ns[5][64];
};

static const char *const ns_names[5] = { "net", "ipc", "pid", "mnt", "uts" };

static void ns_of(pid_t pid, char (*ns)[64])
{
	char path[64];
	ssize_t n;
	int i;

	for (i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid,
		         ns_names[i]);
		n = readlink(path, ns[i], sizeof(ns[i]) - 1);
		if (n <= 0)
			fail_msg("readlink %s: %s", path, strerror(errno));
		ns[i][n] = '\0';
	}
}

static void start_worker(struct live *w, const char *label, uid_t uid,
                         const struct spawn_limits *lim)
{
	struct spawn_req rq = { label, worker, 1, lim, 1, uid, NULL, 0,
		                &w->tmpl, NULL };
	uint64_t main_ns;
	char err[512];

	w->tmpl = NULL;
	if (spawn_worker(&rq, &w->res, err, sizeof(err)) < 0)
		fail_msg("spawn_worker %s: %s", label, err);
	/* it has exec'd and runs main(): its namespaces are final */
	assert_int_equal(read(w->res.sock, &main_ns, sizeof(main_ns)),
	                 sizeof(main_ns));
	ns_of(w->res.pid, w->ns);
}

static void stop_worker(struct live *w)
{
	struct spawn_exit ex;
	int st;

	close(w->res.sock);
	assert_int_equal(waitpid(w->res.pid, &st, 0), w->res.pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	spawn_reaped(w->res.slot, w->res.pid, st, &ex);
	close(w->res.out);
	close(w->res.err);
	spawn_tmpl_free(w->tmpl);
}

static void test_namespaces_shared_unless_reachable(void **state)
{
	static const struct spawn_limits dflt = { 64, 100, 16, 1, 64,
		                                  "worker" };
	static const struct spawn_limits open = { 64, 100, 16, 1, 64,
		                                  "open" };
	struct live a, b, c;
	char self[5][64];
	int i;

	ns_of(getpid(), self);
	start_worker(&a, "test/a", WORKER_UID + 1, &dflt);
	start_worker(&b, "test/b", WORKER_UID + 2, &dflt);
	start_worker(&c, "test/c", WORKER_UID + 3, &open);
	for (i = 0; i < 5; i++) {
		assert_string_not_equal(a.ns[i], self[i]);
		assert_string_not_equal(c.ns[i], self[i]);
		assert_string_not_equal(c.ns[i], a.ns[i]);
		if (i < 2) /* net, ipc: shared by a and b */
			assert_string_equal(a.ns[i], b.ns[i]);
		else
			assert_string_not_equal(a.ns[i], b.ns[i]);
	}
	stop_worker(&a);
	stop_worker(&b);
	stop_worker(&c);
}

/* A step that fails is reported as soon as spawn_worker returns: the
 * report is in the pipe before the child's exit lets clone() return. uid 0
 * is refused by the identity step. */
static void test_failed_step_is_reported(void **state)
{
	static const struct spawn_limits lim = { 64, 100, 16, 1, 64,
		                                 "worker" };
	struct spawn_tmpl *tmpl = NULL;
	struct spawn_req rq = { "test/root", worker, 1, &lim, 1, 0, NULL, 0,
		                &tmpl, NULL };
	struct spawn_res res;
	char err[512];
	int i;

	for (i = 0; i < 3; i++) {
		err[0] = '\0';
		assert_int_equal(spawn_worker(&rq, &res, err, sizeof(err)), -1);
		assert_string_equal(err, "step 10 (uid/gid) failed: "
		                         "Invalid argument");
	}
	spawn_tmpl_free(tmpl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failed_step_is_reported),
		cmocka_unit_test(test_spawns_reuse_their_cgroup),
		cmocka_unit_test(test_namespaces_shared_unless_reachable),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
