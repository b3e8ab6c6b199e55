/*
 * Worker cgroups (supervisor/cgroup.h). cgroup v2 file writing is checked
 * against a fake tree in a temporary directory (the mount point is
 * injectable); the real hierarchy of this machine (v1 on the build VMs,
 * v2 elsewhere) is then used for what only the kernel can show: a memory
 * cap that OOM-kills, pids.max refusing forks, killing every member,
 * CPU accounting, and directories that go away. Runs as root; every
 * directory it makes is under a per-run root name and removed at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "jail/cgroup.h"
#include "testutil.h"

#define MiB (1024u * 1024u)

static char fake[64];            /* fake v2 mount */
static char root_name[64];       /* switchyard-test-<pid> */
static char fini_name[64];       /* switchyard-test-fini-<pid> */
static struct sy_cgroups *real;  /* this machine's hierarchy */

static void put(const char *dir, const char *file, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void get(const char *dir, const char *file, char *buf, size_t size)
{
	char path[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "r");
	if (f == NULL)
		fail_msg("open %s: %s", path, strerror(errno));
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static void expect_file(const char *dir, const char *file, const char *want)
{
	char buf[256];

	get(dir, file, buf, sizeof(buf));
	if (strcmp(buf, want) != 0)
		fail_msg("%s/%s: \"%s\", want \"%s\"", dir, file, buf, want);
}

static void mkdir_ok(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", path, strerror(errno));
}

/* rm -r of a fake tree (two levels of directories at most). */
static void rm_tree(const char *dir)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* The files the kernel would create in a v2 cgroup directory. */
static void fake_cgroup(const char *dir, int leaf)
{
	mkdir_ok(dir);
	put(dir, "cgroup.controllers", "cpuset cpu io memory hugetlb pids\n");
	put(dir, "cgroup.subtree_control", "");
	put(dir, "cgroup.procs", "");
	if (!leaf)
		return;
	put(dir, "memory.max", "");
	put(dir, "memory.swap.max", "");
	put(dir, "memory.oom.group", "");
	put(dir, "pids.max", "");
	put(dir, "cpu.max", "");
	put(dir, "cgroup.kill", "");
	put(dir, "memory.events", "low 0\nhigh 0\nmax 7\noom 3\noom_kill 2\n"
	                          "oom_group_kill 0\n");
	put(dir, "cpu.stat", "usage_usec 12345\nuser_usec 10000\n"
	                     "system_usec 2345\n");
}

static int group_setup(void **state)
{
	char err[256];

	snprintf(fake, sizeof(fake), "/tmp/sy-test-cgroup-XXXXXX");
	if (mkdtemp(fake) == NULL)
		return -1;
	snprintf(root_name, sizeof(root_name), "switchyard-test-%d",
	         (int)getpid());
	snprintf(fini_name, sizeof(fini_name), "switchyard-test-fini-%d",
	         (int)getpid());
	/* Orphaned grandchildren come back to us to be reaped. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		return -1;
	real = cgroup_init_at("/sys/fs/cgroup", 0, "/", root_name, err,
	                      sizeof(err));
	if (real == NULL) {
		fprintf(stderr, "test_cgroup: %s\n", err);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	tu_sweep_cgroups(root_name, 0);
	tu_sweep_cgroups(fini_name, 1);
	cgroup_fini(real);
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", fake);
	return system(cmd) == 0 ? 0 : -1;
}

/* Reaps every child (and adopted orphan) until none is left. */
static void reap_all(void)
{
	int st;

	while (waitpid(-1, &st, 0) > 0)
		;
}

static void test_v2_fake_tree(void **state)
{
	struct cg_limits lim = { 64 * MiB, 50, 32 };
	struct cg_handle h;
	struct sy_cgroups *cg;
	char root[128], leaf[256], err[512];
	uint64_t v;

	snprintf(root, sizeof(root), "%s/sytest", fake);
	snprintf(leaf, sizeof(leaf), "%s/w1", root);
	fake_cgroup(fake, 0);
	fake_cgroup(root, 0);
	fake_cgroup(leaf, 1);

	cg = cgroup_init_at(fake, 0, "/", "sytest", err, sizeof(err));
	if (cg == NULL)
		fail_msg("%s", err);
	assert_int_equal(cgroup_version(cg), 2);
	expect_file(fake, "cgroup.subtree_control", "+cpu +memory +pids");
	expect_file(root, "cgroup.subtree_control", "+cpu +memory +pids");

	if (cgroup_create(cg, "w1", &lim, &h, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(h.version, 2);
	assert_int_equal(h.ndirs, 1);
	assert_string_equal(h.dir[0].path, leaf);
	assert_true(h.dir[0].procs_fd >= 0);
	expect_file(leaf, "memory.max", "67108864");
	expect_file(leaf, "memory.swap.max", "0");
	expect_file(leaf, "memory.oom.group", "1");
	expect_file(leaf, "pids.max", "32");
	expect_file(leaf, "cpu.max", "50000 100000");

	/* The child's write, through the descriptor the parent opened. */
	assert_int_equal(cgroup_enter_self(&h), 0);
	expect_file(leaf, "cgroup.procs", "0");
	assert_int_equal(cgroup_oom_killed(&h, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 2);
	assert_int_equal(cgroup_cpu_usage_us(&h, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 12345);
	assert_int_equal(cgroup_kill(&h, err, sizeof(err)), 0);
	expect_file(leaf, "cgroup.kill", "1");

	/* A directory that cannot go yet stays in the handle for a retry. */
	assert_int_equal(cgroup_destroy(&h, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "rmdir "));
	assert_non_null(strstr(err, leaf));
	assert_int_equal(h.ndirs, 1);
	rm_tree(leaf);
	assert_int_equal(cgroup_destroy(&h, err, sizeof(err)), 0);
	assert_int_equal(h.ndirs, 0);
	assert_int_equal(h.version, 0);
	cgroup_fini(cg); /* sytest existed before: left alone */
	rm_tree(root);
}

static void test_v2_fake_no_limits(void **state)
{
	struct cg_limits none = { 0, 0, 0 };
	struct cg_handle h;
	struct sy_cgroups *cg;
	char root[128], leaf[256], err[512];

	snprintf(root, sizeof(root), "%s/sytest2", fake);
	snprintf(leaf, sizeof(leaf), "%s/w2", root);
	fake_cgroup(fake, 0);
	fake_cgroup(root, 0);
	fake_cgroup(leaf, 1);
	cg = cgroup_init_at(fake, 2, "/", "sytest2", err, sizeof(err));
	if (cg == NULL)
		fail_msg("%s", err);
	if (cgroup_create(cg, "w2", &none, &h, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	expect_file(leaf, "memory.max", "max");
	expect_file(leaf, "pids.max", "max");
	expect_file(leaf, "cpu.max", "max 100000");
	rm_tree(leaf);
	assert_int_equal(cgroup_destroy(&h, err, sizeof(err)), 0);
	cgroup_fini(cg);
	rm_tree(root);
}

static void test_v2_fake_errors(void **state)
{
	struct cg_limits lim = { 0, 0, 0 };
	struct cg_handle h;
	struct sy_cgroups *cg;
	char dir[256], err[512];

	/* Controllers held by v1 (or not delegated): named, refused. */
	snprintf(dir, sizeof(dir), "%s/nomem", fake);
	mkdir_ok(dir);
	put(dir, "cgroup.controllers", "cpu io pids\n");
	assert_null(cgroup_init_at(dir, 0, "/", "x", err, sizeof(err)));
	assert_non_null(strstr(err, "cgroup.controllers: controller memory "
	                            "not available"));

	/* Neither v1 nor v2 */
	snprintf(dir, sizeof(dir), "%s/empty", fake);
	mkdir_ok(dir);
	assert_null(cgroup_init_at(dir, 0, "/", "x", err, sizeof(err)));
	assert_non_null(strstr(err, "no usable hierarchy under"));

	assert_null(cgroup_init_at(fake, 2, "/", "../up", err, sizeof(err)));
	assert_non_null(strstr(err, "invalid root name"));

	/* A missing limit file names the file and the errno. */
	fake_cgroup(fake, 0);
	snprintf(dir, sizeof(dir), "%s/sytest3", fake);
	fake_cgroup(dir, 0);
	cg = cgroup_init_at(fake, 2, "/", "sytest3", err, sizeof(err));
	if (cg == NULL)
		fail_msg("%s", err);
	assert_int_equal(cgroup_create(cg, "a/b", &lim, &h, err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "invalid cgroup name"));
	assert_int_equal(cgroup_create(cg, "w3", &lim, &h, err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "/sytest3/w3/memory.max: No such file"));
	assert_int_equal(h.ndirs, 0);
	/* ... and the directory it made is gone again. */
	snprintf(dir, sizeof(dir), "%s/sytest3/w3", fake);
	assert_int_equal(access(dir, F_OK), -1);
	cgroup_fini(cg);
}

/* The real hierarchy. */

static void create_real(const char *name, const struct cg_limits *lim,
                        struct cg_handle *h)
{
	char err[512];

	if (cgroup_create(real, name, lim, h, err, sizeof(err)) < 0)
		fail_msg("%s", err);
}

static void destroy_real(struct cg_handle *h)
{
	char err[512], path[CG_MAX_DIRS][512];
	unsigned int i, n = h->ndirs;

	for (i = 0; i < n; i++)
		snprintf(path[i], sizeof(path[i]), "%s", h->dir[i].path);
	if (cgroup_destroy(h, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	for (i = 0; i < n; i++)
		if (access(path[i], F_OK) == 0)
			fail_msg("%s still exists after destroy", path[i]);
}

static void test_real_memory_cap_oom_kills(void **state)
{
	struct cg_limits lim = { 64 * MiB, 0, 0 };
	struct cg_handle h;
	char err[512];
	uint64_t kills = 0;
	size_t i, len = 256 * MiB;
	char *p;
	pid_t pid;
	int st;

	create_real("oom", &lim, &h);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (cgroup_enter_self(&h) < 0)
			_exit(90);
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			_exit(91);
		for (i = 0; i < len; i += 4096)
			p[i] = 1;
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
		fail_msg("256 MiB in a 64 MiB cgroup: status %#x, want SIGKILL",
		         st);
	if (cgroup_oom_killed(&h, &kills, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_true(kills >= 1);
	destroy_real(&h);
}

static void test_real_pids_max_refuses_fork(void **state)
{
	struct cg_limits lim = { 0, 0, 4 };
	struct cg_handle h;
	int pfd[2], rep[2] = { 0, 0 };
	char err[512];
	pid_t pid, c;
	int st, n = 0;

	create_real("pids", &lim, &h);
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		if (cgroup_enter_self(&h) < 0)
			_exit(90);
		for (;;) {
			if ((c = fork()) == 0) {
				pause();
				_exit(0);
			}
			if (c < 0)
				break;
			n++;
		}
		rep[0] = n;
		rep[1] = errno;
		if (write(pfd[1], rep, sizeof(rep)) != sizeof(rep))
			_exit(92);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], rep, sizeof(rep)), sizeof(rep));
	close(pfd[0]);
	/* Itself plus three children fill pids.max = 4. */
	assert_int_equal(rep[0], 3);
	assert_int_equal(rep[1], EAGAIN);
	if (cgroup_kill(&h, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	reap_all();
	destroy_real(&h);
}

static int count_procs(const struct cg_handle *h)
{
	char buf[4096], *p;
	int n = 0;

	get(h->dir[0].path, "cgroup.procs", buf, sizeof(buf));
	for (p = buf; *p; p++)
		if (*p == '\n')
			n++;
	return n;
}

static void test_real_kill_takes_every_member(void **state)
{
	struct cg_limits lim = { 0, 0, 0 };
	struct cg_handle h;
	int pfd[2], i, st, killed = 0;
	char err[512], c = 'r';
	pid_t pid, w;

	create_real("kill", &lim, &h);
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		if (cgroup_enter_self(&h) < 0)
			_exit(90);
		for (i = 0; i < 5; i++) {
			w = fork();
			if (w == 0) {
				/* A session of its own: out of reach of
				 * process-group kills, not of the cgroup. */
				setsid();
				pause();
				_exit(0);
			}
			if (w < 0)
				_exit(91);
		}
		if (write(pfd[1], &c, 1) != 1)
			_exit(92);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &c, 1), 1);
	close(pfd[0]);
	assert_int_equal(count_procs(&h), 6);
	/* Destroying a populated cgroup fails and can be retried. */
	assert_int_equal(cgroup_destroy(&h, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "rmdir "));
	assert_int_equal(h.ndirs > 0, 1);
	if (cgroup_kill(&h, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	while ((w = waitpid(-1, &st, 0)) > 0)
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
			killed++;
	assert_int_equal(killed, 6);
	assert_int_equal(count_procs(&h), 0);
	destroy_real(&h);
}

static void test_real_cpu_accounting(void **state)
{
	struct cg_limits lim = { 0, 50, 0 };
	struct cg_handle h;
	struct timespec t0, t;
	uint64_t us = 0;
	char err[512], buf[64];
	unsigned int i;
	pid_t pid;
	int st;

	create_real("cpu", &lim, &h);
	for (i = 0; i < h.ndirs && h.version == 1; i++)
		if (h.dir[i].ctl & CG_CPU) {
			get(h.dir[i].path, "cpu.cfs_quota_us", buf,
			    sizeof(buf));
			assert_string_equal(buf, "50000\n");
		}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (cgroup_enter_self(&h) < 0)
			_exit(90);
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
		do
			clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
		while ((t.tv_sec - t0.tv_sec) * 1000000000L +
		           (t.tv_nsec - t0.tv_nsec) < 50000000L);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (cgroup_cpu_usage_us(&h, &us, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	if (us < 40000 || us > 5000000)
		fail_msg("cpu usage %" PRIu64 " us for a 50 ms busy loop", us);
	destroy_real(&h);
}

static void test_real_reuse_and_fini(void **state)
{
	struct cg_limits lim = { 32 * MiB, 0, 8 }, big = { 128 * MiB, 0, 0 };
	struct cg_handle h1, h2;
	char err[512], buf[64], rootdir[512], *slash;
	struct sy_cgroups *cg;
	unsigned int i;

	cg = cgroup_init_at("/sys/fs/cgroup", 0, "/", fini_name, err,
	                    sizeof(err));
	if (cg == NULL)
		fail_msg("%s", err);
	if (cgroup_create(cg, "slot", &lim, &h1, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	/* A pool slot keeps its directory: the limits are rewritten. */
	if (cgroup_create(cg, "slot", &big, &h2, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	for (i = 0; i < h2.ndirs; i++) {
		if (!(h2.dir[i].ctl & CG_MEMORY))
			continue;
		get(h2.dir[i].path, h2.version == 1 ? "memory.limit_in_bytes"
		                                    : "memory.max",
		    buf, sizeof(buf));
		assert_string_equal(buf, "134217728\n");
	}
	snprintf(rootdir, sizeof(rootdir), "%s", h1.dir[0].path);
	slash = strrchr(rootdir, '/');
	*slash = '\0';
	destroy_real(&h1);
	assert_int_equal(cgroup_destroy(&h2, err, sizeof(err)), 0);
	assert_int_equal(access(rootdir, F_OK), 0);
	cgroup_fini(cg);
	assert_int_equal(access(rootdir, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v2_fake_tree),
		cmocka_unit_test(test_v2_fake_no_limits),
		cmocka_unit_test(test_v2_fake_errors),
		cmocka_unit_test(test_real_memory_cap_oom_kills),
		cmocka_unit_test(test_real_pids_max_refuses_fork),
		cmocka_unit_test(test_real_kill_takes_every_member),
		cmocka_unit_test(test_real_cpu_accounting),
		cmocka_unit_test(test_real_reuse_and_fini),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
