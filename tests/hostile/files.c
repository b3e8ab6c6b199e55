/*
 * Hostile worker, file system family: a tenant that wants the host's files,
 * wants to leave something behind, or wants to run another program.
 *
 *   GET /shadow         open /etc/shadow for reading
 *   GET /environ        open /proc/1/environ (another process's secrets)
 *   GET /lsproc         list /proc (every process on the host)
 *   GET /write?PATH     create PATH and write to it (outside /tmp)
 *   GET /tmpfill?MB     write up to MB MiB into /tmp (past its size), then
 *                       remove what it wrote
 *   GET /tmpexec        copy /worker into /tmp and run the copy
 *   GET /exec           execve("/bin/sh")
 *   GET /execveat       execveat(AT_FDCWD, "/bin/sh", ..., 0)
 *   GET /execfd         execveat(0, "", ..., AT_EMPTY_PATH): run an fd
 *   GET /memfd          memfd_create, the first step of fileless exec
 *   anything else       "alive pid N uid U"
 *
 * Each attempt answers one line "NAME: ok N" or "NAME: errno=N ENAME".
 * Attempts the jail answers by killing the process never answer at all.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include <workershim.h>

static char *const sh_argv[] = { "sh", "-c", "id", NULL };
static char *const no_env[] = { NULL };

static int say(ws_response *res, const char *what, long rc)
{
	int e = errno;

	if (rc < 0)
		return ws_res_printf(res, "%s: errno=%d %s\n", what, e,
		                     strerrorname_np(e)) < 0 ? -1 : 0;
	return ws_res_printf(res, "%s: ok %ld\n", what, rc) < 0 ? -1 : 0;
}

static long try_read(const char *path)
{
	char buf[256];
	long n;
	int fd;

	if ((fd = open(path, O_RDONLY)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n;
}

static long try_shadow(const char *arg)
{
	return try_read("/etc/shadow");
}

static long try_environ(const char *arg)
{
	return try_read("/proc/1/environ");
}

/* The number of entries, if the directory could be opened at all. */
static long try_lsproc(const char *arg)
{
	DIR *d = opendir("/proc");
	long n = 0;

	if (d == NULL)
		return -1;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static long try_write(const char *path)
{
	long n;
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666)) < 0)
		return -1;
	n = write(fd, "owned\n", 6);
	close(fd);
	return n;
}

/* Fills /tmp with 1 MiB files, MB of them at most: KiB written before the
 * first error (errno kept), or -1 if not even one file could be created.
 * Several files, so that the file system fills up before any one file
 * reaches the file size limit (RLIMIT_FSIZE is tmp_mb too). */
static long try_tmpfill(const char *arg)
{
	static char chunk[64 * 1024];
	long mb = atol(arg), kib = 0, i;
	char name[32];
	int fd, e = 0;

	memset(chunk, 'x', sizeof(chunk));
	for (i = 0; i < mb && e == 0; i++) {
		snprintf(name, sizeof(name), "/tmp/fill%ld", i);
		if ((fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0) {
			if (i == 0)
				return -1;
			e = errno;
			break;
		}
		while (e == 0 && kib < (i + 1) * 1024) {
			if (write(fd, chunk, sizeof(chunk)) ==
			    (ssize_t)sizeof(chunk))
				kib += 64;
			else
				e = errno ? errno : ENOSPC;
		}
		close(fd);
	}
	/* Its /tmp lives as long as the process: leave it usable. */
	while (i-- > 0) {
		snprintf(name, sizeof(name), "/tmp/fill%ld", i);
		unlink(name);
	}
	if (e == 0)
		return kib;
	ws_log(WS_LOG_INFO, "tmpfill: %ld KiB written before the error", kib);
	errno = e;
	return -1;
}

/* Copies its own executable into /tmp, executable bits and all, and runs
 * the copy by descriptor: the one exec form the filter allows, of a file
 * the tenant wrote. */
static long try_tmpexec(const char *arg)
{
	char buf[64 * 1024];
	ssize_t n;
	int in, out, fd;

	if ((in = open("/worker", O_RDONLY)) < 0)
		return -1;
	if ((out = open("/tmp/copy", O_WRONLY | O_CREAT | O_TRUNC, 0755)) < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			break;
	close(in);
	close(out);
	if ((fd = open("/tmp/copy", O_RDONLY)) < 0)
		return -1;
	return syscall(SYS_execveat, fd, "", sh_argv, no_env, AT_EMPTY_PATH);
}

static long try_exec(const char *arg)
{
	return execve("/bin/sh", sh_argv, no_env);
}

static long try_execveat(const char *arg)
{
	return syscall(SYS_execveat, AT_FDCWD, "/bin/sh", sh_argv, no_env, 0);
}

/* fd 0 is /dev/null: the one exec the filter allows must still fail. */
static long try_execfd(const char *arg)
{
	return syscall(SYS_execveat, 0, "", sh_argv, no_env, AT_EMPTY_PATH);
}

static long try_memfd(const char *arg)
{
	return syscall(SYS_memfd_create, "payload", 0);
}

static const struct attempt {
	const char *path;
	long (*run)(const char *arg);
} attempts[] = {
	{ "/shadow", try_shadow },
	{ "/environ", try_environ },
	{ "/lsproc", try_lsproc },
	{ "/write", try_write },
	{ "/tmpfill", try_tmpfill },
	{ "/tmpexec", try_tmpexec },
	{ "/exec", try_exec },
	{ "/execveat", try_execveat },
	{ "/execfd", try_execfd },
	{ "/memfd", try_memfd },
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
