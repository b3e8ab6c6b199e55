/*
 * Seccomp profiles (supervisor/seccomp.h): the policy parser fails closed on
 * every malformed or unknown input, and the default worker profile, loaded
 * for real in forked children, allows what a worker needs and stops the
 * rest: the exact errno for refused calls, SIGSYS for killed ones and for
 * non-native ABIs (x32, int 0x80). A static probe program is compiled at
 * test time and exec'd under the filter the way the supervisor does it
 * (filter first, then execveat of the executable's fd).
 *
 * Runs as root (one test makes a pid namespace) and needs a C compiler with
 * a static libc ("cc -static") for the exec tests; policies are found
 * through SY_POLICY_DIR or policies/seccomp relative to the working
 * directory (the repository root).
 */
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
#include <termios.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "seccomp_filter.h"
#include "testutil.h"

static char tmpdir[64];
static char probe[128];
static char policy[512];
static struct sock_filter scratch[BPF_MAXINSNS];

static const char probe_src[] =
	"#include <errno.h>\n"
	"#include <signal.h>\n"
	"#include <stdio.h>\n"
	"#include <stdlib.h>\n"
	"#include <string.h>\n"
	"#include <unistd.h>\n"
	"#include <sys/socket.h>\n"
	"#include <sys/syscall.h>\n"
	"int main(int argc, char **argv)\n"
	"{\n"
	"\tchar *p;\n"
	"\tif (argc < 2)\n"
	"\t\treturn 2;\n"
	"\tif (strcmp(argv[1], \"hello\") == 0) {\n"
	"\t\tp = malloc(1 << 20);\n"
	"\t\tmemset(p, 1, 1 << 20);\n"
	"\t\tfree(p);\n"
	"\t\tprintf(\"hello from pid %d\\n\", (int)getpid());\n"
	"\t\treturn 0;\n"
	"\t}\n"
	"\tif (strcmp(argv[1], \"socket\") == 0)\n"
	"\t\treturn socket(AF_INET, SOCK_STREAM, 0) < 0 &&\n"
	"\t\t       errno == EACCES ? 0 : 1;\n"
	"\tif (strcmp(argv[1], \"kill\") == 0)\n"
	"\t\treturn kill(1, 0) == 0 ? 3 : 4;\n"
	"\tif (strcmp(argv[1], \"abort\") == 0)\n"
	"\t\tabort();\n"
	"\treturn 2;\n"
	"}\n";

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void policy_path(char *buf, size_t size, const char *name)
{
	const char *dir = getenv("SY_POLICY_DIR");

	snprintf(buf, size, "%s/%s", dir ? dir : "policies/seccomp", name);
}

static int group_setup(void **state)
{
	char src[128];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sy-test-seccomp-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(src, sizeof(src), "%s/probe.c", tmpdir);
	snprintf(probe, sizeof(probe), "%s/probe", tmpdir);
	write_text(src, probe_src);
	if (tu_run_cc(src, probe) < 0) {
		fprintf(stderr, "test_seccomp: cannot build a static probe "
		        "with cc -static\n");
		return -1;
	}
	unlink(src);
	policy_path(policy, sizeof(policy), "worker.policy");
	return 0;
}

static int group_teardown(void **state)
{
	char path[192];

	snprintf(path, sizeof(path), "%s/bad.policy", tmpdir);
	unlink(path);
	unlink(probe);
	rmdir(tmpdir);
	return 0;
}

static struct sy_seccomp *compile_text(const char *text, pid_t pid,
                                       char *err, size_t errlen)
{
	char path[192];

	snprintf(path, sizeof(path), "%s/bad.policy", tmpdir);
	write_text(path, text);
	return seccomp_compile(path, pid, err, errlen);
}

static void expect_compile_error(const char *text, const char *want)
{
	char err[512] = "";
	struct sy_seccomp *s = compile_text(text, 1, err, sizeof(err));

	if (s != NULL || strstr(err, want) == NULL)
		fail_msg("policy \"%s\": got \"%s\", want \"%s\"", text, err,
		         want);
	seccomp_free(s);
}

/* What a child does after the filter is in: returns its exit code. */
typedef int (*child_fn)(void);

/* Forks, applies s in the child, runs fn; returns the wait status. */
/* cmocka catches SIGSEGV and friends to report a failed test; a child must
 * die of them instead, so that its wait status tells what happened. */
static void child_default_signals(void)
{
	static const int sigs[] = { SIGSEGV, SIGILL, SIGBUS, SIGFPE, SIGSYS };
	size_t i;

	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
}

/* Forks; the child applies s (NULL: no filter) and exits with fn's value.
 * Returns the child's wait status. */
static int run_filtered(const struct sy_seccomp *s, child_fn fn)
{
	pid_t pid;
	int st;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		child_default_signals();
		if (s != NULL && seccomp_apply_self(s, scratch, BPF_MAXINSNS) < 0)
			_exit(120);
		_exit(fn());
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void expect_exit(int st, int code)
{
	if (!WIFEXITED(st) || WEXITSTATUS(st) != code)
		fail_msg("child: %s %d, want exit %d",
		         WIFEXITED(st) ? "exit" : "signal",
		         WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), code);
}

static void expect_sigsys(int st)
{
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
		fail_msg("child: %s %d, want SIGSYS (seccomp kill)",
		         WIFEXITED(st) ? "exit" : "signal",
		         WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

static struct sy_seccomp *worker_filter(pid_t pid)
{
	char err[512];
	struct sy_seccomp *s = seccomp_compile(policy, pid, err, sizeof(err));

	if (s == NULL)
		fail_msg("%s", err);
	return s;
}

/* errno of a raw syscall returning -1, as the exit code; 0 if it worked */
static int errno_of(long rc)
{
	return rc < 0 ? errno : 0;
}

static void test_parse_errors_fail_closed(void **state)
{
	expect_compile_error("read\nno_such_call\n",
	                     ":2: unknown syscall 'no_such_call' on this host");
	expect_compile_error("ioctl arg1 == TIOCNOTREAL\n",
	                     ":1: unknown constant 'TIOCNOTREAL'");
	expect_compile_error("read arg9 == 1\n", ":1: expected argN");
	expect_compile_error("read arg0 = 1\n", ":1: unknown operator '='");
	expect_compile_error("read arg0 ==\n", ":1: arg0 ==: missing value");
	expect_compile_error("read arg0 == 1 2\n", ":1: arg0 == takes one");
	expect_compile_error("read arg0 == 1 arg0 == 2\n", "compared twice");
	expect_compile_error("read errno ENOTANERRNO\n", "unknown errno");
	expect_compile_error("read errno 5000\n", "unknown errno");
	expect_compile_error("read allow now\n", "unexpected 'now'");
	expect_compile_error("Read\n", "malformed syscall name");
	expect_compile_error("read arg0 == 12abc\n", "malformed number");
	expect_compile_error("read arg0 == 0x-1\n", "malformed number");
	expect_compile_error("read arg0 == 99999999999999999999\n",
	                     "malformed number");
	expect_compile_error("read arg0 == F_GETFD|\n", "malformed value");
	expect_compile_error("read arg0 in 1 2 arg1 in 3 4\n",
	                     "only one 'in'");
	expect_compile_error("kill arg0 == 1 kill\n", "kill takes no");
	expect_compile_error("read arg0 subset $SELF_PID\n", "$SELF_PID in");
	expect_compile_error("read arg0 == 0x7ffffffe\n", "reserved");
	expect_compile_error("# only a comment\n\n", "no syscalls");
}

/* libseccomp would silently drop one of two rules here: refused. */
static void test_parse_refuses_ambiguous_rules(void **state)
{
	expect_compile_error("read\nwrite\nread\n",
	                     ":3: read also on line 1");
	expect_compile_error("fcntl arg1 == F_GETFD\nfcntl errno EPERM\n",
	                     ":2: fcntl also on line 1");
	expect_compile_error("fcntl arg1 == F_GETFD\n"
	                     "fcntl arg1 == F_SETFD errno EPERM\n",
	                     ":2: fcntl has a different action on line 1");
}

static void test_parse_grammar_accepted(void **state)
{
	char err[512];
	struct sy_seccomp *s;

	s = compile_text("# comment\n\n  read   # trailing\n"
	                 "write allow\n"
	                 "mmap arg2 subset PROT_READ PROT_WRITE\n"
	                 "fcntl arg1 in F_GETFD 0x2 3\n"
	                 "fcntl arg1 == F_SETFL "
	                 "arg2 subset O_NONBLOCK|O_APPEND\n"
	                 "sendto arg4 ==64 0\n"
	                 "tgkill arg0 == $SELF_PID arg2 == 0\n"
	                 "openat arg0 == -100 errno 13\n"
	                 "ptrace kill\n",
	                 SY_SECCOMP_PID_AT_APPLY, err, sizeof(err));
	if (s == NULL)
		fail_msg("%s", err);
	assert_true(seccomp_needs_pid(s));
	assert_true(seccomp_len(s) > 10);
	assert_true(seccomp_len(s) <= BPF_MAXINSNS);
	assert_int_equal(seccomp_prog(s)->len, seccomp_len(s));
	/* A placeholder program refuses the fixed-pid loader. */
	errno = 0;
	assert_int_equal(seccomp_apply(s), -1);
	assert_int_equal(errno, EINVAL);
	seccomp_free(s);
}

static void test_missing_file(void **state)
{
	char err[512];

	assert_null(seccomp_compile("/nonexistent/x.policy", 1, err,
	                            sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/x.policy: open: "));
}

static void test_default_profile_compiles(void **state)
{
	struct sy_seccomp *s = worker_filter(1);

	assert_false(seccomp_needs_pid(s));
	seccomp_free(s);
	s = worker_filter(SY_SECCOMP_PID_AT_APPLY);
	assert_true(seccomp_needs_pid(s));
	seccomp_free(s);
}

/* What the jail asks of a profile before workers share a network or IPC
 * namespace: every way to a socket or to SysV/POSIX IPC is refused by the
 * shipped profiles; a profile that allows one for some arguments says so. */
static void test_may_allow(void **state)
{
	static const char *const refused[] = {
		"socket", "socketpair", "io_uring_setup", "msgget", "msgctl",
		"semget", "semctl", "shmget", "shmat", "shmctl", "mq_open",
		"socketcall", "ipc", "no_such_call",
	};
	char path[256], err[512];
	struct sy_seccomp *s;
	size_t i, k;

	for (i = 0; i < 2; i++) {
		policy_path(path, sizeof(path), i == 0 ? "worker.policy"
		                                       : "worker-dynamic.policy");
		if ((s = seccomp_compile(path, 1, err, sizeof(err))) == NULL)
			fail_msg("%s", err);
		assert_int_equal(seccomp_may_allow(s, "read"), 1);
		assert_int_equal(seccomp_may_allow(s, "fcntl"), 1);
		for (k = 0; k < sizeof(refused) / sizeof(refused[0]); k++)
			if (seccomp_may_allow(s, refused[k]) != 0)
				fail_msg("%s allows %s", path, refused[k]);
		seccomp_free(s);
	}
	s = compile_text("read\nsocket arg0 == AF_UNIX\nshmget errno EPERM\n",
	                 1, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(seccomp_may_allow(s, "socket"), 1);
	assert_int_equal(seccomp_may_allow(s, "shmget"), 0);
	seccomp_free(s);
	/* A deny-list allows what it does not refuse outright. */
	s = compile_text("@default allow\nsocket errno EACCES\n"
	                 "socketpair arg0 == AF_INET errno EACCES\n",
	                 1, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(seccomp_may_allow(s, "socket"), 0);
	assert_int_equal(seccomp_may_allow(s, "socketpair"), 1);
	assert_int_equal(seccomp_may_allow(s, "shmget"), 1);
	seccomp_free(s);
}

static int do_getpid(void)
{
	return syscall(SYS_getpid) > 0 ? 0 : 1;
}

static int do_socket(void)
{
	return errno_of(syscall(SYS_socket, AF_INET, SOCK_STREAM, 0));
}

static int do_socketpair(void)
{
	int sv[2];

	return errno_of(syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, sv));
}

static int do_connect(void)
{
	return errno_of(syscall(SYS_connect, 3, NULL, 0));
}

static int do_io_uring(void)
{
	return errno_of(syscall(SYS_io_uring_setup, 1, NULL));
}

static int do_clone3(void)
{
	return errno_of(syscall(SYS_clone3, NULL, 0));
}

static int do_kill(void)
{
	syscall(SYS_kill, 1, 0);
	return 0;
}

static int do_tkill(void)
{
	syscall(SYS_tkill, syscall(SYS_gettid), 0);
	return 0;
}

static int do_x32_getpid(void)
{
	syscall(0x40000000 /* __X32_SYSCALL_BIT */ | SYS_getpid);
	return 0;
}

static int do_tgkill_self(void)
{
	return errno_of(syscall(SYS_tgkill, syscall(SYS_getpid),
	                        syscall(SYS_gettid), 0));
}

static int do_tgkill_parent(void)
{
	syscall(SYS_tgkill, getppid(), getppid(), 0);
	return 0;
}

static int do_ioctl_fionread_high_bits(void)
{
	int fds[2], n = -1;

	if (pipe(fds) < 0)
		return 99;
	/* High bits are dropped by the kernel and ignored by the filter. */
	return errno_of(syscall(SYS_ioctl, fds[0],
	                        (unsigned long)FIONREAD | (1ul << 32), &n));
}

static int do_ioctl_tiocsti_high_bits(void)
{
	char c = 'x';

	syscall(SYS_ioctl, 0, (unsigned long)TIOCSTI | (1ul << 32), &c);
	return 0;
}

static int do_fcntl_getfd(void)
{
	return syscall(SYS_fcntl, 1, F_GETFD) >= 0 ? 0 : errno;
}

static int do_fcntl_setown(void)
{
	syscall(SYS_fcntl, 1, F_SETOWN, 1);
	return 0;
}

static int do_openat(void)
{
	return errno_of(syscall(SYS_openat, AT_FDCWD, "/etc/passwd",
	                        O_RDONLY));
}

static int do_prctl(void)
{
	syscall(SYS_prctl, PR_GET_DUMPABLE, 0, 0, 0, 0);
	return 0;
}

static int do_execve(void)
{
	char *argv[] = { "/bin/true", NULL };

	syscall(SYS_execve, "/bin/true", argv, NULL);
	return 0;
}

#ifdef __x86_64__
/* getpid through the i386 entry: audit arch I386, not ours. */
static int do_int80(void)
{
	long r;

	__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
	return 0;
}
#endif

static void test_worker_allows_basics(void **state)
{
	struct sy_seccomp *s = worker_filter(SY_SECCOMP_PID_AT_APPLY);

	expect_exit(run_filtered(s, do_getpid), 0);
	expect_exit(run_filtered(s, do_tgkill_self), 0);
	expect_exit(run_filtered(s, do_fcntl_getfd), 0);
	expect_exit(run_filtered(s, do_ioctl_fionread_high_bits), 0);
	seccomp_free(s);
}

static void test_worker_refuses_with_errno(void **state)
{
	struct sy_seccomp *s = worker_filter(SY_SECCOMP_PID_AT_APPLY);

	expect_exit(run_filtered(s, do_socket), EACCES);
	expect_exit(run_filtered(s, do_socketpair), EACCES);
	expect_exit(run_filtered(s, do_connect), EACCES);
	expect_exit(run_filtered(s, do_io_uring), ENOSYS);
	expect_exit(run_filtered(s, do_clone3), ENOSYS);
	expect_exit(run_filtered(s, do_openat), ENOENT);
	seccomp_free(s);
}

static void test_worker_kills(void **state)
{
	struct sy_seccomp *s = worker_filter(SY_SECCOMP_PID_AT_APPLY);

	expect_sigsys(run_filtered(s, do_kill));
	expect_sigsys(run_filtered(s, do_tkill));
	expect_sigsys(run_filtered(s, do_tgkill_parent));
	expect_sigsys(run_filtered(s, do_ioctl_tiocsti_high_bits));
	expect_sigsys(run_filtered(s, do_fcntl_setown));
	expect_sigsys(run_filtered(s, do_prctl));
	expect_sigsys(run_filtered(s, do_execve));
	seccomp_free(s);
}

static void test_worker_kills_foreign_abis(void **state)
{
	struct sy_seccomp *s = worker_filter(SY_SECCOMP_PID_AT_APPLY);

	int st;

	expect_sigsys(run_filtered(s, do_x32_getpid));
#ifdef __x86_64__
	/* A kernel without the i386 ABI answers int $0x80 itself, with
	 * SIGSEGV, before the filter sees a call: then the filtered child
	 * must die the same way, and never run getpid. */
	st = run_filtered(NULL, do_int80);
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV) {
		print_message("kernel refuses the i386 ABI: int $0x80 is "
		              "SIGSEGV unfiltered too\n");
		st = run_filtered(s, do_int80);
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSEGV)
			fail_msg("int $0x80 under the filter: status %#x, want "
			         "SIGSEGV as without it", st);
	} else {
		expect_exit(st, 0);
		expect_sigsys(run_filtered(s, do_int80));
	}
#endif
	seccomp_free(s);
}

/* self_pid = 1: the program for workers that are pid 1 of a new pid ns. */
static void test_self_pid_in_pid_namespace(void **state)
{
	struct sy_seccomp *s = worker_filter(1);
	pid_t pid, inner;
	int st;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (unshare(CLONE_NEWPID) < 0)
			_exit(121);
		if ((inner = fork()) < 0)
			_exit(122);
		if (inner == 0) {
			if (getpid() != 1 || seccomp_apply(s) < 0)
				_exit(123);
			_exit(do_tgkill_self());
		}
		if (waitpid(inner, &st, 0) != inner)
			_exit(124);
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st));
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	expect_exit(st, 0);
	/* The same program outside the namespace: tgkill of a pid != 1. */
	expect_sigsys(run_filtered(s, do_tgkill_self));
	seccomp_free(s);
}

/* Forks; the child applies s, then execveat's the probe with arg.
 * Returns the wait status; the probe's stdout goes to out. */
static int exec_probe(const struct sy_seccomp *s, const char *arg, char *out,
                      size_t outlen)
{
	char *argv[] = { "probe", (char *)arg, NULL };
	char *envp[] = { NULL };
	int pfd[2], efd, st;
	ssize_t n;
	size_t off = 0;
	pid_t pid;

	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	efd = open(probe, O_RDONLY | O_CLOEXEC);
	assert_true(efd >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (dup2(pfd[1], 1) < 0)
			_exit(125);
		if (seccomp_apply_self(s, scratch, BPF_MAXINSNS) < 0)
			_exit(120);
		syscall(SYS_execveat, efd, "", argv, envp, AT_EMPTY_PATH);
		_exit(126);
	}
	close(pfd[1]);
	close(efd);
	while (off + 1 < outlen &&
	       (n = read(pfd[0], out + off, outlen - 1 - off)) > 0)
		off += (size_t)n;
	out[off] = '\0';
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void test_exec_static_probe(void **state)
{
	struct sy_seccomp *s = worker_filter(SY_SECCOMP_PID_AT_APPLY);
	char out[256];
	int st;

	expect_exit(exec_probe(s, "hello", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "hello from pid"));
	expect_exit(exec_probe(s, "socket", out, sizeof(out)), 0);
	expect_sigsys(exec_probe(s, "kill", out, sizeof(out)));
	/* abort() signals itself through tgkill($SELF_PID): allowed. */
	st = exec_probe(s, "abort", out, sizeof(out));
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT)
		fail_msg("abort under the filter: status %#x", st);
	seccomp_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_errors_fail_closed),
		cmocka_unit_test(test_parse_refuses_ambiguous_rules),
		cmocka_unit_test(test_parse_grammar_accepted),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_default_profile_compiles),
		cmocka_unit_test(test_may_allow),
		cmocka_unit_test(test_worker_allows_basics),
		cmocka_unit_test(test_worker_refuses_with_errno),
		cmocka_unit_test(test_worker_kills),
		cmocka_unit_test(test_worker_kills_foreign_abis),
		cmocka_unit_test(test_self_pid_in_pid_namespace),
		cmocka_unit_test(test_exec_static_probe),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
