/*
 * The router's and the supervisor's own seccomp profiles
 * (policies/seccomp/router.policy, supervisor.policy, and their -asan
 * variants loaded by sanitizer builds), each loaded for real in forked
 * children: what the process does after start-up still works, and what it
 * gives up is refused with the errno written in the profile or killed with
 * SIGSYS. Also the deny-list grammar (@default allow) the supervisor's
 * profile relies on, and that each -asan variant only widens its profile.
 *
 * Runs as root (namespaces and a tmpfs mount under the supervisor's
 * profile). Profiles are found through SY_POLICY_DIR or policies/seccomp
 * relative to the working directory (the repository root).
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
#include <time.h>
#include <unistd.h>
#include <linux/ptrace.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "seccomp_filter.h"

#define X32_BIT 0x40000000L
#define MAX_LINES 512

/* Descriptors made before a filter is loaded, as a process has them after
 * start-up; inherited by every child. */
static struct {
	int sv[2];   /* AF_UNIX stream pair: the supervisor channel */
	int shut[2]; /* a pair for shutdown, which the children share */
	int lfd;     /* listening AF_UNIX socket, non-blocking */
	int tcp;     /* unconnected TCP socket: a client connection */
	int epfd;
	char dir[64];
	struct sy_seccomp *worker; /* stacked under the supervisor's */
} fx = { { -1, -1 }, { -1, -1 }, -1, -1, -1, "", NULL };

static struct sock_filter scratch[BPF_MAXINSNS];
static struct sock_filter scratch2[BPF_MAXINSNS];

static void policy_path(char *buf, size_t size, const char *name)
{
	const char *dir = getenv("SY_POLICY_DIR");

	snprintf(buf, size, "%s/%s", dir ? dir : "policies/seccomp", name);
}

static struct sy_seccomp *profile(const char *name)
{
	char path[512], err[512];
	struct sy_seccomp *s;

	policy_path(path, sizeof(path), name);
	s = seccomp_compile(path, SY_SECCOMP_PID_AT_APPLY, err, sizeof(err));
	if (s == NULL)
		fail_msg("%s", err);
	return s;
}

static int group_setup(void **state)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	snprintf(fx.dir, sizeof(fx.dir), "/tmp/sy-test-sandbox-XXXXXX");
	if (mkdtemp(fx.dir) == NULL)
		return -1;
	/* Abstract address: nothing to clean up. */
	snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1,
	         "sy-test-sandbox-%d", (int)getpid());
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fx.sv) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fx.shut) < 0 ||
	    (fx.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0)) < 0 ||
	    bind(fx.lfd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(fx.lfd, 4) < 0 ||
	    (fx.tcp = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    (fx.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		perror("test_sandbox: setup");
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/written", fx.dir);
	unlink(path);
	close(fx.sv[0]);
	close(fx.sv[1]);
	close(fx.shut[0]);
	close(fx.shut[1]);
	close(fx.lfd);
	close(fx.tcp);
	close(fx.epfd);
	rmdir(fx.dir);
	return 0;
}

/* errno of a raw syscall returning -1, as an exit code; 0 if it worked */
static int errno_of(long rc)
{
	return rc < 0 ? errno : 0;
}

/* Probes: each runs in a filtered child and returns its exit code. */

static int p_pipe_io(void)
{
	char c = 'x';

	if (syscall(SYS_write, fx.sv[0], &c, 1) != 1)
		return 100;
	return errno_of(syscall(SYS_read, fx.sv[1], &c, 1));
}

static int p_send_recv(void)
{
	char c = 'x';

	if (syscall(SYS_sendto, fx.sv[0], &c, 1, MSG_NOSIGNAL, NULL, 0) != 1)
		return 100;
	return errno_of(syscall(SYS_recvfrom, fx.sv[1], &c, 1, 0, NULL,
	                        NULL));
}

static int p_msg(void)
{
	char c = 'x';
	struct iovec iov = { &c, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (syscall(SYS_sendmsg, fx.sv[0], &m, MSG_NOSIGNAL) != 1)
		return 100;
	return errno_of(syscall(SYS_recvmsg, fx.sv[1], &m, MSG_CMSG_CLOEXEC));
}

static int p_accept4(void)
{
	return errno_of(syscall(SYS_accept4, fx.lfd, NULL, NULL,
	                        SOCK_NONBLOCK | SOCK_CLOEXEC));
}

static int p_nodelay(void)
{
	int one = 1;

	return errno_of(syscall(SYS_setsockopt, fx.tcp, IPPROTO_TCP,
	                        TCP_NODELAY, &one, sizeof(one)));
}

static int p_reuseaddr(void)
{
	int one = 1;

	return errno_of(syscall(SYS_setsockopt, fx.tcp, SOL_SOCKET,
	                        SO_REUSEADDR, &one, sizeof(one)));
}

static int p_shutdown(void)
{
	return errno_of(syscall(SYS_shutdown, fx.shut[0], SHUT_WR));
}

static int p_epoll(void)
{
	struct epoll_event ev = { .events = EPOLLIN };

	/* The epoll instance is shared with later children: leave it empty. */
	if (syscall(SYS_epoll_ctl, fx.epfd, EPOLL_CTL_ADD, fx.sv[1], &ev) < 0 ||
	    syscall(SYS_epoll_wait, fx.epfd, &ev, 1, 0) < 0)
		return errno;
	return errno_of(syscall(SYS_epoll_ctl, fx.epfd, EPOLL_CTL_DEL, fx.sv[1],
	                        NULL));
}

static int p_epoll_create(void)
{
	return errno_of(syscall(SYS_epoll_create1, EPOLL_CLOEXEC));
}

static int p_clock(void)
{
	struct timespec ts;

	return errno_of(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts));
}

/* What malloc does: brk, anonymous read-write maps, mremap, madvise. */
static int p_memory(void)
{
	long p;

	if (syscall(SYS_brk, 0) <= 0)
		return 100;
	p = syscall(SYS_mmap, NULL, 8192, PROT_READ | PROT_WRITE,
	            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == -1)
		return errno;
	p = syscall(SYS_mremap, p, 8192, 65536, MREMAP_MAYMOVE);
	if (p == -1 || syscall(SYS_madvise, p, 65536, MADV_DONTNEED) < 0 ||
	    syscall(SYS_mprotect, p, 4096, PROT_READ) < 0)
		return errno;
	return errno_of(syscall(SYS_munmap, p, 65536));
}

static int p_mmap_exec(void)
{
	return errno_of(syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_EXEC,
	                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
}

static int p_mprotect_exec(void)
{
	static char page[4096] __attribute__((aligned(4096)));

	return errno_of(syscall(SYS_mprotect, page, sizeof(page),
	                        PROT_READ | PROT_EXEC));
}

static int p_fcntl_flags(void)
{
	long fl = syscall(SYS_fcntl, fx.sv[0], F_GETFL);

	if (fl < 0)
		return errno;
	return errno_of(syscall(SYS_fcntl, fx.sv[0], F_SETFL, fl | O_NONBLOCK));
}

static int p_fcntl_setown(void)
{
	return errno_of(syscall(SYS_fcntl, fx.sv[0], F_SETOWN, 1));
}

static int p_ids(void)
{
	return syscall(SYS_getpid) > 0 && syscall(SYS_gettid) > 0 ? 0 : 100;
}

static int p_close(void)
{
	return errno_of(syscall(SYS_close, fx.tcp));
}

/* Through a pointer without noreturn: ASan instruments calls to noreturn
 * functions with a sigaltstack query that the router's profile (rightly)
 * refuses; abort() itself is glibc's, uninstrumented. */
static int p_abort(void)
{
	void (*volatile call)(void) = abort;

	call();
	return 100;
}

static int p_socket_inet(void)
{
	return errno_of(syscall(SYS_socket, AF_INET, SOCK_STREAM, 0));
}

static int p_socket_inet6(void)
{
	return errno_of(syscall(SYS_socket, AF_INET6, SOCK_DGRAM, 0));
}

static int p_socket_netlink(void)
{
	return errno_of(syscall(SYS_socket, AF_NETLINK, SOCK_RAW, 0));
}

static int p_socket_packet(void)
{
	return errno_of(syscall(SYS_socket, AF_PACKET, SOCK_RAW, 0));
}

/* The kernel reads an int: high bits must not smuggle AF_INET past. */
static int p_socket_inet_high(void)
{
	return errno_of(syscall(SYS_socket, (1L << 32) | AF_INET, SOCK_STREAM,
	                        0));
}

static int p_socket_unix(void)
{
	long fd = syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);

	return fd < 0 ? errno : 0;
}

static int p_socketpair(void)
{
	int sv[2];

	return errno_of(syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, sv));
}

static int p_connect(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	return errno_of(syscall(SYS_connect, fx.tcp, &sun, sizeof(sun)));
}

static int p_sendto_addr(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char c = 'x';

	return errno_of(syscall(SYS_sendto, fx.sv[0], &c, 1, MSG_NOSIGNAL,
	                        &sin, sizeof(sin)));
}

static int p_open_ro(void)
{
	return errno_of(syscall(SYS_openat, AT_FDCWD, "/proc/self/maps",
	                        O_RDONLY | O_CLOEXEC));
}

static int p_open_write(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/written", fx.dir);
	return errno_of(syscall(SYS_openat, AT_FDCWD, path,
	                        O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
}

/* A request body's file (router/body.c): made without a name, written,
 * read back, closed. */
static int p_body_file(void)
{
	char got[4];
	long fd = syscall(SYS_openat, AT_FDCWD, fx.dir,
	                  O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);

	if (fd < 0)
		return errno;
	if (write((int)fd, "body", 4) != 4 ||
	    syscall(SYS_pread64, fd, got, 4, 0) != 4 ||
	    memcmp(got, "body", 4) != 0)
		return EIO;
	return errno_of(close((int)fd));
}

/* The same with a mode a file with a name would want, or without
 * O_CLOEXEC: only the exact call body.c makes is allowed. */
static int p_body_file_other_mode(void)
{
	return errno_of(syscall(SYS_openat, AT_FDCWD, fx.dir,
	                        O_RDWR | O_TMPFILE | O_CLOEXEC, 0644));
}

static int p_body_file_inherited(void)
{
	return errno_of(syscall(SYS_openat, AT_FDCWD, fx.dir,
	                        O_RDWR | O_TMPFILE, 0600));
}

static int p_execve(void)
{
	char *argv[] = { "true", NULL };

	return errno_of(syscall(SYS_execve, "/bin/true", argv, NULL));
}

static int p_execveat(void)
{
	char *argv[] = { "true", NULL };

	return errno_of(syscall(SYS_execveat, AT_FDCWD, "/bin/true", argv,
	                        NULL, 0));
}

/* Invalid flags: if the call got through it would fail, not fork. */
static int p_clone(void)
{
	return errno_of(syscall(SYS_clone, CLONE_SIGHAND, 0, 0, 0, 0));
}

static int p_fork(void)
{
	long pid = syscall(SYS_fork);

	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid((pid_t)pid, NULL, 0);
	return pid < 0 ? errno : 0;
}

static int p_ptrace(void)
{
	return errno_of(syscall(SYS_ptrace, PTRACE_PEEKDATA, 1, 0, 0));
}

static int p_process_vm_readv(void)
{
	return errno_of(syscall(SYS_process_vm_readv, 1, NULL, 0, NULL, 0, 0));
}

static int p_kill_other(void)
{
	return errno_of(syscall(SYS_kill, 1, 0));
}

static int p_tgkill_other(void)
{
	return errno_of(syscall(SYS_tgkill, 1, 1, 0));
}

static int p_prctl(void)
{
	return errno_of(syscall(SYS_prctl, PR_SET_DUMPABLE, 1, 0, 0, 0));
}

static int p_memfd(void)
{
	return errno_of(syscall(SYS_memfd_create, "x", 0));
}

static int p_io_uring(void)
{
	return errno_of(syscall(SYS_io_uring_setup, 1, NULL));
}

static int p_bpf(void)
{
	return errno_of(syscall(SYS_bpf, -1, NULL, 0));
}

static int p_perf(void)
{
	return errno_of(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
}

/* The one form the supervisor uses (a counter on one process, close on
 * exec): not killed; the NULL attribute then fails normally. */
static int p_perf_task(void)
{
	return errno_of(syscall(SYS_perf_event_open, NULL,
	                        (pid_t)syscall(SYS_getpid), -1, -1,
	                        8 /* PERF_FLAG_FD_CLOEXEC */));
}

static int p_userfaultfd(void)
{
	return errno_of(syscall(SYS_userfaultfd, -1));
}

static int p_keyctl(void)
{
	return errno_of(syscall(SYS_keyctl, -1, 0, 0, 0, 0));
}

static int p_init_module(void)
{
	return errno_of(syscall(SYS_init_module, NULL, 0, ""));
}

/* A wrong magic number: if this got through it would fail with EINVAL. */
static int p_reboot(void)
{
	return errno_of(syscall(SYS_reboot, 0, 0, 0, NULL));
}

static int p_clock_settime(void)
{
	return errno_of(syscall(SYS_clock_settime, CLOCK_REALTIME, NULL));
}

static int p_open_by_handle(void)
{
	return errno_of(syscall(SYS_open_by_handle_at, -1, NULL, 0));
}

/* Checked before the descriptor: no terminal is ever touched. */
static int p_tiocsti(void)
{
	char c = 'x';

	return errno_of(syscall(SYS_ioctl, -1, TIOCSTI, &c));
}

static int p_x32(void)
{
	return errno_of(syscall(X32_BIT | SYS_getpid));
}

static int p_pipe2(void)
{
	int p[2];

	return errno_of(syscall(SYS_pipe2, p, O_CLOEXEC));
}

/* What a jail's child does before its own filter is in. */
static int p_jail_calls(void)
{
	if (syscall(SYS_unshare, CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
	            CLONE_NEWNET) < 0)
		return errno;
	if (syscall(SYS_mount, NULL, "/", NULL, MS_REC | MS_PRIVATE,
	            NULL) < 0 ||
	    syscall(SYS_mount, "tmpfs", fx.dir, "tmpfs", MS_NOSUID | MS_NODEV,
	            "size=64k") < 0 ||
	    syscall(SYS_umount2, fx.dir, MNT_DETACH) < 0)
		return errno;
	if (syscall(SYS_sethostname, "sy-test", 7) < 0 ||
	    syscall(SYS_setresuid, 0, 0, 0) < 0)
		return errno;
	return 0;
}

/* A worker's filter stacks on the supervisor's. */
static int p_stack_worker(void)
{
	if (seccomp_apply_self(fx.worker, scratch2, BPF_MAXINSNS) < 0)
		return errno;
	return syscall(SYS_getpid) > 0 ? 0 : 100;
}

struct probe {
	const char *what;
	int (*fn)(void);
	int sig;  /* the signal that must end the child, or 0 ... */
	int code; /* ... for an exit with this code (an errno, or 0) */
};

#define OK(what, fn) { what, fn, 0, 0 }
#define REFUSED(what, fn, e) { what, fn, 0, e }
#define KILLED(what, fn) { what, fn, SIGSYS, 0 }

static int run_filtered(const struct sy_seccomp *s, int (*fn)(void))
{
	pid_t pid;
	int st;

	pid = fork();
	assert_true(pid >= 0);
	/* The child exits by the raw call: a sanitizer's _exit interceptor
	 * makes calls (sigaltstack) that the strict profiles do not allow. */
	if (pid == 0) {
		if (seccomp_apply_self(s, scratch, BPF_MAXINSNS) < 0)
			syscall(SYS_exit_group, 120);
		syscall(SYS_exit_group, fn());
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

/* "exit 13 (Permission denied)" or "signal 31 (Bad system call)" */
static const char *outcome(int sig, int code, char *buf, size_t size)
{
	if (sig)
		snprintf(buf, size, "signal %d (%s)", sig, strsignal(sig));
	else
		snprintf(buf, size, "exit %d (%s)", code, strerror(code));
	return buf;
}

static void run_probes(const char *name, const struct probe *p, size_t n)
{
	struct sy_seccomp *s = profile(name);
	char got[96], want[96];
	size_t i;
	int st, bad = 0;

	for (i = 0; i < n; i++) {
		st = run_filtered(s, p[i].fn);
		if (p[i].sig ? WIFSIGNALED(st) && WTERMSIG(st) == p[i].sig :
		               WIFEXITED(st) && WEXITSTATUS(st) == p[i].code)
			continue;
		print_error("%s: %s: got %s, want %s\n", name, p[i].what,
		            outcome(WIFSIGNALED(st) ? WTERMSIG(st) : 0,
		                    WIFEXITED(st) ? WEXITSTATUS(st) : 0, got,
		                    sizeof(got)),
		            outcome(p[i].sig, p[i].code, want, sizeof(want)));
		bad++;
	}
	seccomp_free(s);
	if (bad)
		fail_msg("%s: %d of %zu probes wrong", name, bad, n);
}

static const struct probe router_serves[] = {
	OK("read/write on the channel", p_pipe_io),
	OK("send/recv without address", p_send_recv),
	OK("sendmsg/recvmsg", p_msg),
	REFUSED("accept4 with no client waiting", p_accept4, EAGAIN),
	OK("setsockopt TCP_NODELAY", p_nodelay),
	OK("shutdown", p_shutdown),
	OK("epoll_ctl/epoll_wait", p_epoll),
	OK("clock_gettime", p_clock),
	OK("brk/mmap/mremap/madvise/mprotect/munmap", p_memory),
	OK("fcntl F_GETFL/F_SETFL", p_fcntl_flags),
	OK("getpid/gettid", p_ids),
	OK("close", p_close),
	OK("openat O_TMPFILE, write, pread64 (a request body)", p_body_file),
	{ "abort", p_abort, SIGABRT, 0 },
};

/* Both the production profile and the sanitizer variant refuse these. */
static const struct probe router_refuses[] = {
	KILLED("socket(AF_INET)", p_socket_inet),
	KILLED("socket(AF_UNIX)", p_socket_unix),
	KILLED("socketpair", p_socketpair),
	KILLED("connect", p_connect),
	KILLED("sendto with an address", p_sendto_addr),
	KILLED("setsockopt SO_REUSEADDR", p_reuseaddr),
	KILLED("epoll_create1 after start-up", p_epoll_create),
	KILLED("openat for writing", p_open_write),
	KILLED("openat O_TMPFILE mode 0644", p_body_file_other_mode),
	KILLED("openat O_TMPFILE without O_CLOEXEC", p_body_file_inherited),
	KILLED("execveat", p_execveat),
	KILLED("clone without LSan's flags", p_clone),
	KILLED("mmap PROT_EXEC", p_mmap_exec),
	KILLED("mprotect PROT_EXEC", p_mprotect_exec),
	KILLED("fcntl F_SETOWN", p_fcntl_setown),
	KILLED("kill(1, 0)", p_kill_other),
	KILLED("tgkill of another process", p_tgkill_other),
	KILLED("process_vm_readv", p_process_vm_readv),
	KILLED("memfd_create", p_memfd),
	KILLED("io_uring_setup", p_io_uring),
	KILLED("bpf", p_bpf),
	KILLED("x32 getpid", p_x32),
};

/* Only the production profile refuses these; the sanitizer runtimes use
 * them, or fall back when refused with an errno. */
static const struct probe router_only_refuses[] = {
	KILLED("openat read-only", p_open_ro),
	KILLED("execve", p_execve),
	KILLED("fork", p_fork),
	KILLED("ptrace", p_ptrace),
	KILLED("prctl", p_prctl),
};

static const struct probe router_asan_differs[] = {
	OK("openat /proc/self/maps read-only", p_open_ro),
	REFUSED("execve (external symbolizer)", p_execve, EACCES),
	REFUSED("fork (external symbolizer)", p_fork, EPERM),
};

#define NPROBES(a) (sizeof(a) / sizeof(a[0]))

static void test_router_serves(void **state)
{
	run_probes("router.policy", router_serves, NPROBES(router_serves));
	run_probes("router-asan.policy", router_serves,
	           NPROBES(router_serves));
}

static void test_router_refuses(void **state)
{
	run_probes("router.policy", router_refuses, NPROBES(router_refuses));
	run_probes("router.policy", router_only_refuses,
	           NPROBES(router_only_refuses));
	run_probes("router-asan.policy", router_refuses,
	           NPROBES(router_refuses));
	run_probes("router-asan.policy", router_asan_differs,
	           NPROBES(router_asan_differs));
}

static const struct probe supervisor_keeps[] = {
	OK("socket(AF_UNIX)", p_socket_unix),
	OK("socketpair(AF_UNIX)", p_socketpair),
	OK("pipe2", p_pipe2),
	OK("memfd_create (profile export)", p_memfd),
	OK("epoll_create1", p_epoll_create),
	OK("fork", p_fork),
	OK("unshare, mount, umount2, sethostname, setresuid", p_jail_calls),
	OK("a worker filter stacked on top", p_stack_worker),
	OK("openat for writing (cgroup files, state)", p_open_write),
};

static const struct probe supervisor_refuses[] = {
	REFUSED("socket(AF_INET)", p_socket_inet, EAFNOSUPPORT),
	REFUSED("socket(AF_INET6)", p_socket_inet6, EAFNOSUPPORT),
	REFUSED("socket(AF_NETLINK)", p_socket_netlink, EAFNOSUPPORT),
	REFUSED("socket(AF_PACKET)", p_socket_packet, EAFNOSUPPORT),
	REFUSED("socket(AF_INET) with high bits set", p_socket_inet_high,
	        EAFNOSUPPORT),
	REFUSED("io_uring_setup", p_io_uring, ENOSYS),
	REFUSED("ioctl TIOCSTI", p_tiocsti, EPERM),
	KILLED("bpf", p_bpf),
	KILLED("perf_event_open", p_perf),
	REFUSED("perf_event_open of one pid, close on exec", p_perf_task,
	        EFAULT),
	KILLED("userfaultfd", p_userfaultfd),
	KILLED("keyctl", p_keyctl),
	KILLED("process_vm_readv", p_process_vm_readv),
	KILLED("init_module", p_init_module),
	KILLED("reboot", p_reboot),
	KILLED("clock_settime", p_clock_settime),
	KILLED("open_by_handle_at", p_open_by_handle),
	KILLED("x32 getpid", p_x32),
};

static const struct probe supervisor_only_refuses[] = {
	KILLED("ptrace", p_ptrace),
};

/* LeakSanitizer attaches with ptrace; PEEKDATA of a process we do not
 * trace then fails normally. */
static const struct probe supervisor_asan_differs[] = {
	REFUSED("ptrace of a process not traced", p_ptrace, ESRCH),
};

static void test_supervisor_keeps_jail_calls(void **state)
{
	char err[512], path[512];

	policy_path(path, sizeof(path), "worker.policy");
	fx.worker = seccomp_compile(path, SY_SECCOMP_PID_AT_APPLY, err,
	                            sizeof(err));
	if (fx.worker == NULL)
		fail_msg("%s", err);
	run_probes("supervisor.policy", supervisor_keeps,
	           NPROBES(supervisor_keeps));
	run_probes("supervisor-asan.policy", supervisor_keeps,
	           NPROBES(supervisor_keeps));
	seccomp_free(fx.worker);
	fx.worker = NULL;
}

static void test_supervisor_refuses(void **state)
{
	run_probes("supervisor.policy", supervisor_refuses,
	           NPROBES(supervisor_refuses));
	run_probes("supervisor.policy", supervisor_only_refuses,
	           NPROBES(supervisor_only_refuses));
	run_probes("supervisor-asan.policy", supervisor_refuses,
	           NPROBES(supervisor_refuses));
	run_probes("supervisor-asan.policy", supervisor_asan_differs,
	           NPROBES(supervisor_asan_differs));
}

static struct sy_seccomp *compile_text(const char *text, char *err,
                                       size_t errlen)
{
	char path[128];
	struct sy_seccomp *s;
	FILE *f;

	snprintf(path, sizeof(path), "%s/t.policy", fx.dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	s = seccomp_compile(path, 1, err, errlen);
	unlink(path);
	return s;
}

static void expect_compile_error(const char *text, const char *want)
{
	char err[512] = "";
	struct sy_seccomp *s = compile_text(text, err, sizeof(err));

	if (s != NULL || strstr(err, want) == NULL)
		fail_msg("policy \"%s\": got \"%s\", want \"%s\"", text, err,
		         want);
}

static void test_deny_list_grammar(void **state)
{
	char err[512];
	struct sy_seccomp *s;

	/* A bare name in a deny-list would allow what it seems to deny. */
	expect_compile_error("@default allow\nptrace\n",
	                     ":2: ptrace: allow is this profile's default");
	expect_compile_error("@default allow\nptrace allow\n",
	                     "allow is this profile's default");
	expect_compile_error("read\n@default allow\n",
	                     ":2: @default must come once, before");
	expect_compile_error("@default allow\n@default allow\nbpf kill\n",
	                     ":2: @default must come once");
	expect_compile_error("@default deny\nbpf kill\n",
	                     ":1: @default takes allow or kill");
	expect_compile_error("@default\nbpf kill\n", "@default takes");
	expect_compile_error("@include x\n", ":1: unknown directive");
	expect_compile_error("@default allow\n# nothing\n", "no syscalls");
	/* Conditions on kill lines are fine once kill is not the default. */
	s = compile_text("@default allow\n"
	                 "bpf arg0 in 0 1 kill\n"
	                 "socket arg0 == AF_INET errno EAFNOSUPPORT\n",
	                 err, sizeof(err));
	if (s == NULL)
		fail_msg("%s", err);
	seccomp_free(s);
	expect_compile_error("@default kill\nbpf arg0 == 1 kill\n",
	                     "kill takes no conditions");
}

/* The syscall lines of a profile, comments and spacing normalised. */
static size_t read_lines(const char *name, char **out, size_t max)
{
	char path[512], *line = NULL, *tok, *save, buf[512];
	size_t cap = 0, n = 0;
	FILE *f;

	policy_path(path, sizeof(path), name);
	f = fopen(path, "r");
	if (f == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	while (getline(&line, &cap, f) >= 0) {
		if (strchr(line, '#') != NULL)
			*strchr(line, '#') = '\0';
		buf[0] = '\0';
		for (tok = strtok_r(line, " \t\r\n", &save); tok != NULL;
		     tok = strtok_r(NULL, " \t\r\n", &save)) {
			assert_true(strlen(buf) + strlen(tok) + 2 < sizeof(buf));
			if (buf[0] != '\0')
				strcat(buf, " ");
			strcat(buf, tok);
		}
		if (buf[0] != '\0' && n < max)
			out[n++] = strdup(buf);
	}
	free(line);
	fclose(f);
	assert_true(n < max);
	return n;
}

static int has_line(char **lines, size_t n, const char *l)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(lines[i], l) == 0)
			return 1;
	return 0;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/*
 * Allow-list (default kill): every line of the profile that allows or
 * refuses with an errno is in the variant. Deny-list (@default allow):
 * every line of the variant that denies is in the profile.
 */
static void expect_wider(const char *base, const char *variant)
{
	static char *a[MAX_LINES], *b[MAX_LINES];
	size_t na = read_lines(base, a, MAX_LINES);
	size_t nb = read_lines(variant, b, MAX_LINES), i;
	int deny_list = has_line(a, na, "@default allow");

	assert_int_equal(deny_list, has_line(b, nb, "@default allow"));
	for (i = 0; !deny_list && i < na; i++)
		if (!ends_with(a[i], " kill") && !has_line(b, nb, a[i]))
			fail_msg("%s: \"%s\" is missing", variant, a[i]);
	for (i = 0; deny_list && i < nb; i++)
		if (!has_line(a, na, b[i]))
			fail_msg("%s: \"%s\" is not in %s", variant, b[i],
			         base);
	for (i = 0; i < na; i++)
		free(a[i]);
	for (i = 0; i < nb; i++)
		free(b[i]);
}

static void test_asan_variants_only_widen(void **state)
{
	expect_wider("router.policy", "router-asan.policy");
	expect_wider("supervisor.policy", "supervisor-asan.policy");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_router_serves),
		cmocka_unit_test(test_router_refuses),
		cmocka_unit_test(test_supervisor_keeps_jail_calls),
		cmocka_unit_test(test_supervisor_refuses),
		cmocka_unit_test(test_deny_list_grammar),
		cmocka_unit_test(test_asan_variants_only_widen),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
