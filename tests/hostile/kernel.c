/*
 * Hostile worker, kernel family: a tenant that wants privilege back, a
 * different view of the system, or a kernel interface with a history of
 * exploits. Also reports who it is, for comparison with the plan.
 *
 *   GET /setuid        setuid(0)
 *   GET /mount         mount a tmpfs on /tmp
 *   GET /unshare       unshare(CLONE_NEWUSER | CLONE_NEWNS): become root
 *                      in a user namespace of its own
 *   GET /setns         setns(0, 0)
 *   GET /chroot        chroot("/tmp"), the first step of a chroot escape
 *   GET /io_uring      io_uring_setup: I/O the seccomp filter cannot see
 *   GET /bpf           bpf(BPF_PROG_LOAD)
 *   GET /perf          perf_event_open
 *   GET /userfaultfd   userfaultfd: stalls the kernel on a page fault
 *   GET /keyctl        keyctl: the session keyring
 *   GET /personality   personality(READ_IMPLIES_EXEC): executable heap
 *   GET /tiocsti       ioctl(0, TIOCSTI): type into someone's terminal
 *   GET /tiocsti64     the same request with high bits set
 *                      (0xdeadbeef00005412, CVE-2019-10063)
 *   GET /x32           getpid through the x32 ABI (nr | 0x40000000)
 *   GET /int80         getpid through the i386 ABI (int $0x80)
 *   GET /clone3        clone3 (glibc's threads and fork try it first)
 *   GET /shmget        shmget(IPC_PRIVATE): SysV shared memory, which
 *                      lives in the IPC namespace workers share
 *   GET /msgctl        msgctl(0, MSG_STAT): the IPC namespace's message
 *                      queues by index, no key needed
 *   GET /mq_open       a POSIX message queue (also the IPC namespace's)
 *   GET /whoami        uid, gid, pid, ppid, host name, rlimits: the calls a
 *                      worker may make about itself
 *   GET /getgroups     getgroups
 *   GET /capget        capget: its capability sets
 *   GET /nnp           prctl(PR_GET_NO_NEW_PRIVS)
 *   GET /seccomp       prctl(PR_GET_SECCOMP)
 *   anything else      "alive pid N uid U"
 *
 * Arguments are harmless where the call allows it (clone3 and io_uring get
 * invalid sizes: the kernel would say EINVAL, so ENOSYS can only come from
 * the filter). Each attempt answers "NAME: ok N" or "NAME: errno=N ENAME"
 * if it returns.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include <workershim.h>

static int say(ws_response *res, const char *what, long rc)
{
	int e = errno;

	if (rc < 0)
		return ws_res_printf(res, "%s: errno=%d %s\n", what, e,
		                     strerrorname_np(e)) < 0 ? -1 : 0;
	return ws_res_printf(res, "%s: ok %ld\n", what, rc) < 0 ? -1 : 0;
}

static long try_setuid(void)
{
	return syscall(SYS_setuid, 0);
}

static long try_mount(void)
{
	return syscall(SYS_mount, "none", "/tmp", "tmpfs", 0L, NULL);
}

static long try_unshare(void)
{
	return syscall(SYS_unshare, CLONE_NEWUSER | CLONE_NEWNS);
}

static long try_setns(void)
{
	return syscall(SYS_setns, 0, 0);
}

static long try_chroot(void)
{
	return syscall(SYS_chroot, "/tmp");
}

static long try_io_uring(void)
{
	return syscall(SYS_io_uring_setup, 0, NULL);
}

static long try_bpf(void)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	return syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
}

static long try_perf(void)
{
	struct perf_event_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = PERF_COUNT_SW_CPU_CLOCK;
	return syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
}

static long try_userfaultfd(void)
{
	return syscall(SYS_userfaultfd, 0);
}

static long try_keyctl(void)
{
	return syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID,
	               KEY_SPEC_SESSION_KEYRING, 0);
}

static long try_personality(void)
{
	return syscall(SYS_personality, READ_IMPLIES_EXEC);
}

static long try_tiocsti(void)
{
	return syscall(SYS_ioctl, 0, TIOCSTI, "x");
}

/* The kernel truncates the request to 32 bits: this is TIOCSTI. */
static long try_tiocsti64(void)
{
	return syscall(SYS_ioctl, 0, 0xdeadbeef00005412UL, "x");
}

static long try_x32(void)
{
	return syscall(0x40000000 | SYS_getpid);
}

/* 20 is getpid in the i386 table. */
static long try_int80(void)
{
	long ret;

	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory");
	if (ret < 0 && ret > -4096) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
}

static long try_clone3(void)
{
	return syscall(SYS_clone3, NULL, 0);
}

static long try_shmget(void)
{
	return syscall(SYS_shmget, 0L /* IPC_PRIVATE */, 4096L, 01600L);
}

static long try_msgctl(void)
{
	char buf[256];

	return syscall(SYS_msgctl, 0L, 11L /* MSG_STAT */, buf);
}

static long try_mq_open(void)
{
	return syscall(SYS_mq_open, "sy-hostile", 0102L /* O_RDWR|O_CREAT */,
	               0600L, NULL);
}

static long try_getgroups(void)
{
	gid_t g[64];

	return getgroups(64, g);
}

/* The number of capabilities in any set, if capget answers. */
static long try_capget(void)
{
	struct __user_cap_header_struct hdr = {
		_LINUX_CAPABILITY_VERSION_3, 0
	};
	struct __user_cap_data_struct d[2];
	long n = 0;
	int i;

	if (syscall(SYS_capget, &hdr, d) < 0)
		return -1;
	for (i = 0; i < 2; i++)
		n += __builtin_popcount(d[i].effective) +
		     __builtin_popcount(d[i].permitted) +
		     __builtin_popcount(d[i].inheritable);
	return n;
}

static long try_nnp(void)
{
	return syscall(SYS_prctl, PR_GET_NO_NEW_PRIVS, 0L, 0L, 0L, 0L);
}

static long try_seccomp(void)
{
	return syscall(SYS_prctl, PR_GET_SECCOMP, 0L, 0L, 0L, 0L);
}

static void limit(ws_response *res, const char *name, int resource)
{
	struct rlimit rl;

	if (getrlimit(resource, &rl) < 0)
		ws_res_printf(res, " %s=errno%d", name, errno);
	else if (rl.rlim_cur == RLIM_INFINITY && rl.rlim_max == RLIM_INFINITY)
		ws_res_printf(res, " %s=unlimited", name);
	else
		ws_res_printf(res, " %s=%llu/%llu", name,
		              (unsigned long long)rl.rlim_cur,
		              (unsigned long long)rl.rlim_max);
}

static int whoami(ws_response *res)
{
	struct utsname u;

	ws_res_printf(res, "uid=%ld euid=%ld gid=%ld egid=%ld pid=%ld ppid=%ld",
	              (long)getuid(), (long)geteuid(), (long)getgid(),
	              (long)getegid(), (long)getpid(), (long)getppid());
	if (uname(&u) == 0)
		ws_res_printf(res, " hostname=%s", u.nodename);
	limit(res, "nofile", RLIMIT_NOFILE);
	limit(res, "core", RLIMIT_CORE);
	limit(res, "memlock", RLIMIT_MEMLOCK);
	limit(res, "fsize", RLIMIT_FSIZE);
	limit(res, "cpu", RLIMIT_CPU);
	limit(res, "as", RLIMIT_AS);
	ws_res_printf(res, "\n");
	return 0;
}

static const struct attempt {
	const char *path;
	long (*run)(void);
} attempts[] = {
	{ "/setuid", try_setuid },
	{ "/mount", try_mount },
	{ "/unshare", try_unshare },
	{ "/setns", try_setns },
	{ "/chroot", try_chroot },
	{ "/io_uring", try_io_uring },
	{ "/bpf", try_bpf },
	{ "/perf", try_perf },
	{ "/userfaultfd", try_userfaultfd },
	{ "/keyctl", try_keyctl },
	{ "/personality", try_personality },
	{ "/tiocsti", try_tiocsti },
	{ "/tiocsti64", try_tiocsti64 },
	{ "/x32", try_x32 },
	{ "/int80", try_int80 },
	{ "/clone3", try_clone3 },
	{ "/shmget", try_shmget },
	{ "/msgctl", try_msgctl },
	{ "/mq_open", try_mq_open },
	{ "/getgroups", try_getgroups },
	{ "/capget", try_capget },
	{ "/nnp", try_nnp },
	{ "/seccomp", try_seccomp },
};

static int hostile(ws_request *req, ws_response *res, void *ctx)
{
	const char *path = ws_req_path(req);
	size_t i;

	ws_res_header(res, "Content-Type", "text/plain");
	if (strcmp(path, "/whoami") == 0)
		return whoami(res);
	for (i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
		if (strcmp(path, attempts[i].path) == 0) {
			errno = 0;
			return say(res, path + 1, attempts[i].run());
		}
	}
	ws_res_printf(res, "alive pid %ld uid %ld\n", (long)getpid(),
	              (long)getuid());
	return 0;
}

int main(void)
{
	return ws_serve(hostile, NULL) < 0 ? 1 : 0;
}
