/*
 * The worker's root file system (supervisor/rootfs.h). A forked child
 * unshares its mount namespace, enters the prepared root and checks from
 * inside what a worker would see: only /worker (read-only), /tmp (writable,
 * noexec) and, for dynamic workers, the library directories; no /etc, no
 * /proc, no way back to the host tree. Each check has its own exit code.
 * Runs as root.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "jail/rootfs.h"

static char stage[64];  /* host dir the root tmpfs goes on */

static int group_setup(void **state)
{
	snprintf(stage, sizeof(stage), "/tmp/sy-test-rootfs-XXXXXX");
	return mkdtemp(stage) == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
	return rmdir(stage);
}

/* What the child runs inside the jail; returns its exit code. */
typedef int (*inside_fn)(const struct sy_rootfs *r);

/* Forks; the child unshares its mount namespace (unless r has a template,
 * which needs none: it is entered from ours), enters r, runs fn. */
static int run_inside(const struct sy_rootfs *r, inside_fn fn)
{
	const char *what;
	pid_t pid;
	int st;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (r->template_ns < 0 && unshare(CLONE_NEWNS) < 0)
			_exit(120);
		if (rootfs_enter(r, &what) < 0)
			_exit(121);
		_exit(fn(r));
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void expect_exit0(int st)
{
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("inside the jail: %s %d (the check with that code)",
		         WIFEXITED(st) ? "exit" : "signal",
		         WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in /, sorted, as one "a b c" string; returns their number. */
static int list_root(char *out, size_t size)
{
	struct dirent **v;
	char *names[16];
	int n, i, k = 0;

	if ((n = scandir("/", &v, NULL, NULL)) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (strcmp(v[i]->d_name, ".") != 0 &&
		    strcmp(v[i]->d_name, "..") != 0 && k < 16)
			names[k++] = v[i]->d_name;
	qsort(names, (size_t)k, sizeof(names[0]), by_name);
	out[0] = '\0';
	for (i = 0; i < k; i++) {
		strncat(out, names[i], size - strlen(out) - 1);
		if (i + 1 < k)
			strncat(out, " ", size - strlen(out) - 1);
	}
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return k;
}

static int check_static_layout(const struct sy_rootfs *r)
{
	char names[256], cwd[64];
	struct stat st;
	int fd;

	if (access("/etc/passwd", F_OK) == 0 || errno != ENOENT)
		return 10;
	if (access("/proc", F_OK) == 0 || access("/dev", F_OK) == 0)
		return 11;
	if (stat("/worker", &st) < 0 || !S_ISREG(st.st_mode))
		return 12;
	if (open("/worker", O_WRONLY) >= 0 || errno != EROFS)
		return 13;
	if (list_root(names, sizeof(names)) != 2 ||
	    strcmp(names, "tmp worker") != 0)
		return 14;
	if (getcwd(cwd, sizeof(cwd)) == NULL || strcmp(cwd, "/") != 0)
		return 15;
	/* / itself is read-only */
	if (mkdir("/new", 0755) == 0 || errno != EROFS)
		return 16;
	/* /tmp is writable but nothing there can be executed. */
	fd = open("/tmp/x", O_WRONLY | O_CREAT | O_EXCL, 0755);
	if (fd < 0 || write(fd, "#!/worker\n", 10) != 10 || close(fd) < 0)
		return 17;
	if (execl("/tmp/x", "x", (char *)NULL) == 0 || errno != EACCES)
		return 18;
	/* The staging dir's path means nothing in here. */
	if (access(r->root, F_OK) == 0)
		return 19;
	if (chdir("..") < 0 || getcwd(cwd, sizeof(cwd)) == NULL ||
	    strcmp(cwd, "/") != 0)
		return 20;
	return 0;
}

static void test_static_worker_root(void **state)
{
	struct sy_rootfs r;
	char err[256], names[256];
	DIR *d;

	if (rootfs_prepare(&r, stage, "/bin/true", 1 << 20, err,
	                   sizeof(err)) < 0)
		fail_msg("%s", err);
	expect_exit0(run_inside(&r, check_static_layout));
	/* The mounts never reached the host: the stage is still empty. */
	d = opendir(stage);
	assert_non_null(d);
	names[0] = '\0';
	{
		struct dirent *e;

		while ((e = readdir(d)) != NULL)
			if (e->d_name[0] != '.')
				snprintf(names, sizeof(names), "%s", e->d_name);
	}
	closedir(d);
	assert_string_equal(names, "");
}

/* Same type (dir or symlink) inside as on the host, for every path. */
static int check_dynamic_layout(const struct sy_rootfs *r)
{
	char *argv[] = { "worker", NULL };
	struct stat st;
	unsigned int i;
	int fd, ws;
	pid_t pid;

	for (i = 0; i < r->npaths; i++) {
		if (lstat(r->paths[i].path, &st) < 0)
			return 30;
		if ((r->paths[i].symlink[0] != '\0') != S_ISLNK(st.st_mode))
			return 31;
	}
	if (access("/usr/bin", F_OK) == 0 || access("/etc", F_OK) == 0)
		return 32;
	fd = open("/usr/lib/sy-test", O_WRONLY | O_CREAT, 0644);
	if (fd >= 0 || errno != EROFS)
		return 33;
	/* /worker is the dynamically linked /bin/true: the loader and libc
	 * must be found through the bound library directories. */
	if ((pid = fork()) < 0)
		return 34;
	if (pid == 0) {
		execv("/worker", argv);
		_exit(99);
	}
	if (waitpid(pid, &ws, 0) != pid || !WIFEXITED(ws) ||
	    WEXITSTATUS(ws) != 0)
		return 35;
	return 0;
}

static void test_dynamic_worker_root(void **state)
{
	struct sy_rootfs r;
	char err[256];

	if (rootfs_prepare(&r, stage, "/bin/true", 0, err, sizeof(err)) < 0 ||
	    rootfs_add_system_libs(&r, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_true(r.npaths >= 2);
	assert_string_equal(r.tmp_opts, "");
	expect_exit0(run_inside(&r, check_dynamic_layout));
}

static int stage_is_empty(void)
{
	struct dirent *e;
	int empty = 1;
	DIR *d;

	assert_non_null(d = opendir(stage));
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			empty = 0;
	closedir(d);
	return empty;
}

/* A template is entered from the parent's own mount namespace, and each
 * process gets its own /tmp: check_static_layout's O_EXCL file is new in
 * the second copy too. */
static void test_template_static_root(void **state)
{
	struct sy_rootfs r;
	char err[256];

	if (rootfs_prepare(&r, stage, "/bin/true", 1 << 20, err,
	                   sizeof(err)) < 0 ||
	    rootfs_template(&r, 10, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_true(r.template_ns >= 10);
	expect_exit0(run_inside(&r, check_static_layout));
	expect_exit0(run_inside(&r, check_static_layout));
	assert_true(stage_is_empty());
	rootfs_template_close(&r);
	assert_int_equal(r.template_ns, -1);
}

static void test_template_dynamic_root(void **state)
{
	struct sy_rootfs r;
	char err[256];

	if (rootfs_prepare(&r, stage, "/bin/true", 0, err, sizeof(err)) < 0 ||
	    rootfs_add_system_libs(&r, err, sizeof(err)) < 0 ||
	    rootfs_template(&r, 3, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_true(r.template_ns >= 3);
	expect_exit0(run_inside(&r, check_dynamic_layout));
	rootfs_template_close(&r);
}

/* A library directory under /tmp would be hidden by each process's own
 * /tmp: such a root is built per process, as without templates. */
static void test_template_not_for_tmp_paths(void **state)
{
	char dir[64], err[256];
	struct sy_rootfs r;

	snprintf(dir, sizeof(dir), "%s", "/tmp/sy-test-rootfs-lib-XXXXXX");
	assert_non_null(mkdtemp(dir));
	if (rootfs_prepare(&r, stage, "/bin/true", 1 << 20, err,
	                   sizeof(err)) < 0 ||
	    rootfs_add_path(&r, dir, err, sizeof(err)) < 0 ||
	    rootfs_template(&r, 3, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(r.template_ns, -1);
	rmdir(dir);
}

static void test_prepare_errors(void **state)
{
	struct sy_rootfs r;
	char err[256], longp[SY_ROOTFS_PATH_MAX + 8];
	int i;

	assert_int_equal(rootfs_prepare(&r, "relative", "/bin/true", 0, err,
	                                sizeof(err)), -1);
	assert_non_null(strstr(err, "must be an absolute path: relative"));
	assert_int_equal(rootfs_prepare(&r, "/nonexistent-sy", "/bin/true", 0,
	                                err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent-sy: No such file"));
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(rootfs_prepare(&r, stage, longp, 0, err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "too long"));

	assert_int_equal(rootfs_prepare(&r, stage, "/bin/true", 0, err,
	                                sizeof(err)), 0);
	assert_int_equal(rootfs_add_path(&r, "/etc/passwd", err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "/etc/passwd: not a directory"));
	/* Missing on this host: skipped, not an error. */
	assert_int_equal(rootfs_add_path(&r, "/nonexistent-sy", err,
	                                 sizeof(err)), 0);
	assert_int_equal(r.npaths, 0);
	for (i = 0; i < SY_ROOTFS_MAX_PATHS; i++)
		assert_int_equal(rootfs_add_path(&r, "/usr", err, sizeof(err)),
		                 0);
	assert_int_equal(rootfs_add_path(&r, "/usr", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than"));
}

static int unreachable(const struct sy_rootfs *r)
{
	return 40;
}

/* A failing step reports the call; the child never gets to run fn. */
static void test_enter_reports_failing_call(void **state)
{
	struct sy_rootfs r;
	const char *what = NULL;
	char err[256];
	pid_t pid;
	int st;

	if (rootfs_prepare(&r, stage, "/nonexistent-sy-worker", 0, err,
	                   sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(WEXITSTATUS(run_inside(&r, unreachable)), 121);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (unshare(CLONE_NEWNS) < 0)
			_exit(120);
		if (rootfs_enter(&r, &what) == 0)
			_exit(1);
		_exit(errno == ENOENT && strcmp(what, "bind mount") == 0 ? 0
		                                                         : 2);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	expect_exit0(st);
}

/* Without unshare(CLONE_NEWNS) it would re-root the host: refused
 * before it touches anything. */
static void test_enter_refuses_host_namespace(void **state)
{
	struct sy_rootfs r;
	const char *what = NULL;
	char err[256];
	pid_t pid;
	int st;

	if (rootfs_prepare(&r, stage, "/bin/true", 0, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (rootfs_enter(&r, &what) == 0)
			_exit(1);
		_exit(errno == EPERM &&
		      strcmp(what, "mount namespace check") == 0 ? 0 : 2);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	expect_exit0(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_static_worker_root),
		cmocka_unit_test(test_dynamic_worker_root),
		cmocka_unit_test(test_template_static_root),
		cmocka_unit_test(test_template_dynamic_root),
		cmocka_unit_test(test_template_not_for_tmp_paths),
		cmocka_unit_test(test_prepare_errors),
		cmocka_unit_test(test_enter_reports_failing_call),
		cmocka_unit_test(test_enter_refuses_host_namespace),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
