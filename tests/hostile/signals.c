/*
 * Hostile worker, process family: a tenant that goes after other
 * processes, the innocent tenant's worker or the supervisor itself, whose
 * host pids it was given (GET /kill?PID).
 *
 *   GET /kill?PID       kill(PID, SIGKILL)
 *   GET /killall        kill(-1, SIGKILL): everything this uid may signal
 *   GET /tkill?PID      tkill(PID, SIGKILL)
 *   GET /tgkill?PID     tgkill(PID, PID, SIGKILL): the form abort() uses
 *   GET /ptrace?PID     ptrace(PTRACE_ATTACH, PID)
 *   GET /vmread?PID     process_vm_readv(PID): read its memory
 *   GET /pidfd?PID      pidfd_open(PID)
 *   anything else       "alive pid N uid U"
 *
 * Each attempt answers "NAME: ok N" or "NAME: errno=N ENAME" if it returns.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <workershim.h>

static int say(ws_response *res, const char *what, long rc)
{
	int e = errno;

	if (rc < 0)
		return ws_res_printf(res, "%s: errno=%d %s\n", what, e,
		                     strerrorname_np(e)) < 0 ? -1 : 0;
	return ws_res_printf(res, "%s: ok %ld\n", what, rc) < 0 ? -1 : 0;
}

static long try_kill(const char *pid)
{
	return kill(atoi(pid), SIGKILL);
}

static long try_killall(const char *arg)
{
	return kill(-1, SIGKILL);
}

static long try_tkill(const char *pid)
{
	return syscall(SYS_tkill, atoi(pid), SIGKILL);
}

static long try_tgkill(const char *pid)
{
	return syscall(SYS_tgkill, atoi(pid), atoi(pid), SIGKILL);
}

static long try_ptrace(const char *pid)
{
	return ptrace(PTRACE_ATTACH, atoi(pid), NULL, NULL);
}

/* Its environment block sits near the top of its stack; any address
 * will do to show the call is refused. */
static long try_vmread(const char *pid)
{
	char buf[64];
	struct iovec local = { buf, sizeof(buf) };
	struct iovec remote = { (void *)0x400000, sizeof(buf) };

	return syscall(SYS_process_vm_readv, atoi(pid), &local, 1, &remote, 1,
	               0);
}

static long try_pidfd(const char *pid)
{
	return syscall(SYS_pidfd_open, atoi(pid), 0);
}

static const struct attempt {
	const char *path;
	long (*run)(const char *arg);
} attempts[] = {
	{ "/kill", try_kill },
	{ "/killall", try_killall },
	{ "/tkill", try_tkill },
	{ "/tgkill", try_tgkill },
	{ "/ptrace", try_ptrace },
	{ "/vmread", try_vmread },
	{ "/pidfd", try_pidfd },
};

static int hostile(ws_request *req, ws_response *res, void *ctx)
{
	const char *path = ws_req_path(req), *arg = ws_req_query(req);
	size_t i;

	ws_res_header(res, "Content-Type", "text/plain");
	for (i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
		if (strcmp(path, attempts[i].path) == 0) {
			errno = 0;
			return say(res, path + 1, attempts[i].run(arg));
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
