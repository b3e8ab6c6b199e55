/*
 * The whole jail (supervisor/jail.h): a forked child runs jail_enter with
 * every facility (cgroup, mount/UTS/IPC/net namespaces, tmpfs root,
 * hostname, rlimits, capabilities, uid 64000, parent-death signal,
 * no_new_privs, the default seccomp profile) and execs a static probe by
 * its descriptor, which checks its world from inside and prints "ok". A
 * second profile, the default one with a few read-only calls added, lets
 * the probe inspect what the default one forbids (capabilities,
 * securebits, limits, interfaces). Failing steps are reported by number.
 * Runs as root with a C compiler and static libc ("cc -static").
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
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

#include "jail/caps.h"
#include "jail/jail.h"
#include "seccomp_filter.h"
#include "testutil.h"

#define JAIL_UID 64000
/* RLIMIT_AS binds the child from the rlimits step to its exec; an ASan
 * child has terabytes reserved and could not even report a failure. */
#if defined(__SANITIZE_ADDRESS__)
#define JAIL_AS_BYTES 0
#else
#define JAIL_AS_BYTES (1ull << 30)
#endif

static char tmpdir[64];
static char probe[128];
static char inspect_policy[128];
static char cg_root[64];
static struct sy_cgroups *cgroups;
static struct sock_filter scratch[BPF_MAXINSNS];

static const char probe_src[] =
	"#include <errno.h>\n"
	"#include <dirent.h>\n"
	"#include <net/if.h>\n"
	"#include <stdio.h>\n"
	"#include <stdlib.h>\n"
	"#include <string.h>\n"
	"#include <unistd.h>\n"
	"#include <sys/ioctl.h>\n"
	"#include <sys/prctl.h>\n"
	"#include <sys/resource.h>\n"
	"#include <sys/socket.h>\n"
	"#include <sys/stat.h>\n"
	"#include <sys/syscall.h>\n"
	"#include <sys/utsname.h>\n"
	"#include <linux/capability.h>\n"
	"static int basic(void)\n"
	"{\n"
	"\tstruct utsname u;\n"
	"\tif (getuid() != 64000 || geteuid() != 64000 ||\n"
	"\t    getgid() != 64000 || getegid() != 64000)\n"
	"\t\treturn 10;\n"
	"\tif (socket(AF_INET, SOCK_STREAM, 0) >= 0 || errno != EACCES)\n"
	"\t\treturn 11;\n"
	"\tif (uname(&u) < 0 || strcmp(u.nodename, \"sy-jail\") != 0)\n"
	"\t\treturn 12;\n"
	"\tif (fopen(\"/etc/passwd\", \"r\") != NULL)\n"
	"\t\treturn 13;\n"
	"\treturn 0;\n"
	"}\n"
	"static int caps_none(void)\n"
	"{\n"
	"\tstruct __user_cap_header_struct h = {\n"
	"\t\t_LINUX_CAPABILITY_VERSION_3, 0\n"
	"\t};\n"
	"\tstruct __user_cap_data_struct d[2];\n"
	"\tint c;\n"
	"\tif (syscall(SYS_capget, &h, d) < 0)\n"
	"\t\treturn 20;\n"
	"\tfor (c = 0; c < 2; c++)\n"
	"\t\tif (d[c].effective | d[c].permitted | d[c].inheritable)\n"
	"\t\t\treturn 21;\n"
	"\tfor (c = 0; prctl(PR_CAPBSET_READ, c, 0, 0, 0) >= 0; c++)\n"
	"\t\tif (prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 0)\n"
	"\t\t\treturn 22;\n"
	"\tif (c < 38 ||\n"
	"\t    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 0, 0, 0))\n"
	"\t\treturn 23;\n"
	"\tif (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)\n"
	"\t\treturn 24;\n"
	"\tif (prctl(PR_GET_SECUREBITS, 0, 0, 0, 0) != 0xef)\n"
	"\t\treturn 25;\n"
	"\treturn 0;\n"
	"}\n"
	"static int root_empty(void)\n"
	"{\n"
	"\tchar names[64] = \"\";\n"
	"\tstruct dirent *e;\n"
	"\tstruct stat st;\n"
	"\tDIR *dir;\n"
	"\tif (stat(\"/etc\", &st) == 0 || errno != ENOENT ||\n"
	"\t    stat(\"/proc\", &st) == 0 || stat(\"/worker\", &st) < 0)\n"
	"\t\treturn 26;\n"
	"\tif ((dir = opendir(\"/\")) == NULL)\n"
	"\t\treturn 27;\n"
	"\twhile ((e = readdir(dir)) != NULL)\n"
	"\t\tif (e->d_name[0] != '.' &&\n"
	"\t\t    strlen(names) + strlen(e->d_name) < 60) {\n"
	"\t\t\tstrcat(names, e->d_name);\n"
	"\t\t\tstrcat(names, \";\");\n"
	"\t\t}\n"
	"\tclosedir(dir);\n"
	"\tif (strcmp(names, \"tmp;worker;\") != 0 &&\n"
	"\t    strcmp(names, \"worker;tmp;\") != 0)\n"
	"\t\treturn 28;\n"
	"\treturn 0;\n"
	"}\n"
	"static int limits_and_net(void)\n"
	"{\n"
	"\tstruct rlimit rl;\n"
	"\tstruct ifreq ifr;\n"
	"\tint fd;\n"
	"\tif (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur != 64 ||\n"
	"\t    rl.rlim_max != 64)\n"
	"\t\treturn 29;\n"
	"\tif (getrlimit(RLIMIT_CORE, &rl) < 0 || rl.rlim_max != 0)\n"
	"\t\treturn 30;\n"
	"\tif (getsid(0) != getpid())\n"
	"\t\treturn 31;\n"
	"\t/* A new network namespace: lo is ifindex 1, alone. */\n"
	"\tif ((fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0)\n"
	"\t\treturn 32;\n"
	"\tmemset(&ifr, 0, sizeof(ifr));\n"
	"\tifr.ifr_ifindex = 1;\n"
	"\tif (ioctl(fd, SIOCGIFNAME, &ifr) < 0 ||\n"
	"\t    strcmp(ifr.ifr_name, \"lo\") != 0)\n"
	"\t\treturn 33;\n"
	"\tifr.ifr_ifindex = 2;\n"
	"\tif (ioctl(fd, SIOCGIFNAME, &ifr) == 0 || errno != ENODEV)\n"
	"\t\treturn 34;\n"
	"\tif (syscall(SYS_setresuid, 0, 0, 0) == 0)\n"
	"\t\treturn 35;\n"
	"\treturn 0;\n"
	"}\n"
	"int main(int argc, char **argv)\n"
	"{\n"
	"\tint rc;\n"
	"\tif (argc < 2)\n"
	"\t\treturn 2;\n"
	"\tif (strcmp(argv[1], \"basic\") == 0)\n"
	"\t\trc = basic();\n"
	"\telse if ((rc = caps_none()) == 0 && (rc = root_empty()) == 0)\n"
	"\t\trc = limits_and_net();\n"
	"\tif (rc == 0)\n"
	"\t\tprintf(\"ok %s\\n\", argv[1]);\n"
	"\treturn rc;\n"
	"}\n";

/* Calls the inspecting probe makes that the default profile refuses. */
static const char *const inspect_extra[] = {
	"openat", "newfstatat", "prctl", "capget", "socket", "ioctl",
	"getdents64", "getsid", "setresuid errno EPERM", "stat",
};

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static const char *policy_dir(void)
{
	const char *dir = getenv("SY_POLICY_DIR");

	return dir ? dir : "policies/seccomp";
}

/* The default profile minus the lines for inspect_extra's calls, plus
 * those calls allowed. */
static int write_inspect_policy(void)
{
	char in[256], line[512], word[64];
	FILE *src, *dst;
	size_t i, n = sizeof(inspect_extra) / sizeof(inspect_extra[0]);
	int skip;

	snprintf(in, sizeof(in), "%s/worker.policy", policy_dir());
	if ((src = fopen(in, "r")) == NULL)
		return -1;
	if ((dst = fopen(inspect_policy, "w")) == NULL) {
		fclose(src);
		return -1;
	}
	while (fgets(line, sizeof(line), src) != NULL) {
		skip = 0;
		if (sscanf(line, "%63s", word) == 1)
			for (i = 0; i < n; i++)
				if (strncmp(inspect_extra[i], word,
				            strlen(word)) == 0 &&
				    (inspect_extra[i][strlen(word)] == '\0' ||
				     inspect_extra[i][strlen(word)] == ' '))
					skip = 1;
		if (!skip)
			fputs(line, dst);
	}
	for (i = 0; i < n; i++)
		fprintf(dst, "%s\n", inspect_extra[i]);
	fclose(src);
	return fclose(dst);
}

static int group_setup(void **state)
{
	char src[128], err[256];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sy-test-jail-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(src, sizeof(src), "%s/probe.c", tmpdir);
	snprintf(probe, sizeof(probe), "%s/probe", tmpdir);
	snprintf(inspect_policy, sizeof(inspect_policy), "%s/inspect.policy",
	         tmpdir);
	write_text(src, probe_src);
	if (tu_run_cc(src, probe) < 0) {
		fprintf(stderr, "test_jail: cannot build the static probe\n");
		return -1;
	}
	unlink(src);
	if (write_inspect_policy() < 0)
		return -1;
	/* The staging dir for the root tmpfs: the tmpdir itself is fine,
	 * the mount only exists in the child's namespace. */
	snprintf(cg_root, sizeof(cg_root), "switchyard-test-jail-%d",
	         (int)getpid());
	cgroups = cgroup_init_at("/sys/fs/cgroup", 0, "/", cg_root, err,
	                         sizeof(err));
	if (cgroups == NULL) {
		fprintf(stderr, "test_jail: %s\n", err);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	char stage[128];

	tu_sweep_cgroups(cg_root, 0);
	cgroup_fini(cgroups);
	unlink(probe);
	unlink(inspect_policy);
	snprintf(stage, sizeof(stage), "%s/root", tmpdir);
	rmdir(stage);
	return rmdir(tmpdir);
}

/* Everything a worker spawn prepares, for this test's probe. */
struct fixture {
	struct jail_spec spec;
	struct sy_rootfs rootfs;
	struct sy_rlimits rl;
	struct cg_handle cg;
	struct sy_seccomp *filter;
	char stage[128];
};

static void fixture_init(struct fixture *f, const char *policy,
                         pid_t self_pid)
{
	struct cg_limits lim = { 256u << 20, 100, 16 };
	char err[512];

	memset(f, 0, sizeof(*f));
	snprintf(f->stage, sizeof(f->stage), "%s/root", tmpdir);
	if (mkdir(f->stage, 0700) < 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", f->stage, strerror(errno));
	if (rootfs_prepare(&f->rootfs, f->stage, probe, 1 << 20, err,
	                   sizeof(err)) < 0)
		fail_msg("%s", err);
	if (cgroup_create(cgroups, "probe", &lim, &f->cg, err,
	                  sizeof(err)) < 0)
		fail_msg("%s", err);
	if ((f->filter = seccomp_compile(policy, self_pid, err,
	                                 sizeof(err))) == NULL)
		fail_msg("%s", err);
	f->rl.nofile = 64;
	f->rl.nproc = 16;
	f->rl.fsize = 1 << 20;
	f->rl.cpu_s = 10;
	f->rl.as_bytes = JAIL_AS_BYTES;
	f->spec.uid = JAIL_UID;
	f->spec.gid = JAIL_UID;
	f->spec.unshare_flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
	                        CLONE_NEWNET;
	f->spec.hostname = "sy-jail";
	f->spec.cgroup = &f->cg;
	f->spec.rootfs = &f->rootfs;
	f->spec.rlimits = &f->rl;
	f->spec.last_cap = caps_last_cap();
	assert_true(f->spec.last_cap >= 0);
	f->spec.ppid = getpid();
	f->spec.seccomp = f->filter;
	f->spec.seccomp_scratch = scratch;
	f->spec.seccomp_scratch_len = BPF_MAXINSNS;
	f->spec.exec_fd = open(probe, O_RDONLY | O_CLOEXEC);
	assert_true(f->spec.exec_fd >= 0);
}

static void fixture_free(struct fixture *f)
{
	char err[512];

	if (cgroup_destroy(&f->cg, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	seccomp_free(f->filter);
	close(f->spec.exec_fd);
	rmdir(f->stage);
}

/* The child's failure record, sent before it exits. */
struct report {
	int step, err;
};

struct child_args {
	const struct jail_spec *spec;
	char *const *argv;
	int out_fd, report_fd;
};

static char child_stack[1 << 20] __attribute__((aligned(16)));

/* The spawned child: stdout to the pipe, the jail, the exec. */
static int jailed_child(void *arg)
{
	const struct child_args *a = arg;
	char *envp[] = { NULL };
	struct report r = { 0, 0 };
	int step;

	if (dup2(a->out_fd, 1) < 0)
		_exit(125);
	if (jail_enter(a->spec, &step) < 0) {
		r.step = step;
		r.err = errno;
	} else {
		jail_exec(a->spec, a->argv, envp);
		r.step = -1;
		r.err = errno;
	}
	if (write(a->report_fd, &r, sizeof(r)) != sizeof(r))
		_exit(124);
	_exit(126);
}

/*
 * Starts a child (pid 1 of a new pid namespace with pidns set) that enters
 * the jail and execs the probe with mode. Returns the wait status; fills
 * out with what the probe printed and *rep with a jail failure (step 0 if
 * none: the report pipe is close-on-exec, so EOF means the exec happened).
 */
static int run_jailed(const struct jail_spec *spec, const char *mode,
                      int pidns, char *out, size_t outlen,
                      struct report *rep)
{
	char *argv[] = { "probe", (char *)mode, NULL };
	struct child_args a = { spec, argv, -1, -1 };
	int opipe[2], rpipe[2], st;
	size_t off = 0;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe2(opipe, O_CLOEXEC), 0);
	assert_int_equal(pipe2(rpipe, O_CLOEXEC), 0);
	a.out_fd = opipe[1];
	a.report_fd = rpipe[1];
	pid = clone(jailed_child, child_stack + sizeof(child_stack),
	            SIGCHLD | (pidns ? CLONE_NEWPID : 0), &a);
	assert_true(pid > 0);
	close(opipe[1]);
	close(rpipe[1]);
	while (off + 1 < outlen &&
	       (n = read(opipe[0], out + off, outlen - 1 - off)) > 0)
		off += (size_t)n;
	out[off] = '\0';
	memset(rep, 0, sizeof(*rep));
	n = read(rpipe[0], rep, sizeof(*rep));
	assert_true(n == 0 || n == sizeof(*rep));
	close(opipe[0]);
	close(rpipe[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void expect_probe_ok(int st, const struct report *rep,
                            const char *out, const char *want)
{
	if (rep->step != 0)
		fail_msg("jail step %d (%s) failed: %s", rep->step,
		         jail_step_name(rep->step), strerror(rep->err));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("probe: %s %d (the probe's check with that code)",
		         WIFEXITED(st) ? "exit" : "signal",
		         WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	assert_string_equal(out, want);
}

static void test_jailed_probe_default_profile(void **state)
{
	char policy[256], out[128], err[512];
	struct report rep;
	struct fixture f;
	uint64_t us = 1;
	int st;

	snprintf(policy, sizeof(policy), "%s/worker.policy", policy_dir());
	fixture_init(&f, policy, SY_SECCOMP_PID_AT_APPLY);
	st = run_jailed(&f.spec, "basic", 0, out, sizeof(out), &rep);
	expect_probe_ok(st, &rep, out, "ok basic\n");
	/* It ran inside its cgroup. */
	if (cgroup_cpu_usage_us(&f.cg, &us, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_true(us > 0);
	fixture_free(&f);
}

static void test_jailed_probe_inspects_itself(void **state)
{
	struct report rep;
	struct fixture f;
	char out[128];
	int st;

	fixture_init(&f, inspect_policy, SY_SECCOMP_PID_AT_APPLY);
	st = run_jailed(&f.spec, "inspect", 0, out, sizeof(out), &rep);
	expect_probe_ok(st, &rep, out, "ok inspect\n");
	fixture_free(&f);
}

/* The worker as pid 1 of a new pid namespace: filter compiled for pid 1,
 * getppid() is 0 there. */
static void test_jailed_probe_in_pid_namespace(void **state)
{
	char policy[256], out[128];
	struct report rep;
	struct fixture f;
	int st;

	snprintf(policy, sizeof(policy), "%s/worker.policy", policy_dir());
	fixture_init(&f, policy, 1);
	f.spec.ppid = 0;
	st = run_jailed(&f.spec, "basic", 1, out, sizeof(out), &rep);
	expect_probe_ok(st, &rep, out, "ok basic\n");
	fixture_free(&f);
}

static void expect_step_fails(const struct jail_spec *spec, int step,
                              int err)
{
	struct report rep;
	char out[64];
	int st;

	st = run_jailed(spec, "basic", 0, out, sizeof(out), &rep);
	if (rep.step != step || rep.err != err)
		fail_msg("got step %d (%s) errno %d, want step %d (%s) errno "
		         "%d", rep.step, jail_step_name(rep.step), rep.err,
		         step, jail_step_name(step), err);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 126);
}

static void test_failing_steps_are_named(void **state)
{
	char policy[256];
	struct fixture f;
	const struct sy_rootfs *rootfs;

	snprintf(policy, sizeof(policy), "%s/worker.policy", policy_dir());
	fixture_init(&f, policy, SY_SECCOMP_PID_AT_APPLY);
	f.spec.uid = 0;
	expect_step_fails(&f.spec, JAIL_STEP_IDS, EINVAL);
	f.spec.uid = JAIL_UID;
	/* The supervisor died before the parent-death signal was set. */
	f.spec.ppid = 1;
	expect_step_fails(&f.spec, JAIL_STEP_PDEATHSIG, ESRCH);
	f.spec.ppid = getpid();
	/* No scratch for a program with a $SELF_PID placeholder. */
	f.spec.seccomp_scratch = NULL;
	expect_step_fails(&f.spec, JAIL_STEP_SECCOMP, EINVAL);
	f.spec.seccomp_scratch = scratch;
	/* A capability count the kernel does not have. Without namespaces
	 * and root, so the steps before it change nothing on the host. */
	rootfs = f.spec.rootfs;
	f.spec.unshare_flags = 0;
	f.spec.rootfs = NULL;
	f.spec.hostname = NULL;
	f.spec.last_cap = 99;
	expect_step_fails(&f.spec, JAIL_STEP_CAPS_DROP, EINVAL);
	f.spec.rootfs = rootfs;
	assert_string_equal(jail_step_name(JAIL_STEP_ROOTFS), "rootfs");
	assert_string_equal(jail_step_name(JAIL_STEP_SECCOMP), "seccomp");
	assert_string_equal(jail_step_name(0), "unknown step");
	fixture_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jailed_probe_default_profile),
		cmocka_unit_test(test_jailed_probe_inspects_itself),
		cmocka_unit_test(test_jailed_probe_in_pid_namespace),
		cmocka_unit_test(test_failing_steps_are_named),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
