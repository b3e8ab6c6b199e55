/*
 * testutil.c: helpers shared by the unit tests (see testutil.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

int tu_run_cc(const char *src, const char *out)
{
	char *argv[] = { "cc", "-static", "-O1", "-o", (char *)out,
		         (char *)src, NULL };
	pid_t pid;
	int st;

	/* fork + exec: <spawn.h> is shadowed by supervisor/spawn.h for the
	 * tests that include the supervisor's headers. */
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		execvp("cc", argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

void tu_sweep_cgroups(const char *name, int root_too)
{
	static const char *const mounts[] = {
		"/sys/fs/cgroup", "/sys/fs/cgroup/cpu",
		"/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/memory",
		"/sys/fs/cgroup/pids",
	};
	char dir[256], sub[512];
	struct dirent *e;
	size_t i;
	DIR *d;

	for (i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		snprintf(dir, sizeof(dir), "%s/%s", mounts[i], name);
		if ((d = opendir(dir)) == NULL)
			continue;
		while ((e = readdir(d)) != NULL) {
			if (e->d_type != DT_DIR || e->d_name[0] == '.')
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
			rmdir(sub);
		}
		closedir(d);
		if (root_too)
			rmdir(dir);
	}
}

int tu_mkdtemp(char *dir, size_t size, const char *what)
{
	int n = snprintf(dir, size, "/tmp/sy-%s-XXXXXX", what);

	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int rm_one(const char *path, const struct stat *st, int type,
                  struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

int tu_rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int tu_write_file(const char *path, const void *data, size_t len,
                  mode_t mode)
{
	const char *p = data;
	ssize_t n;
	int fd, e;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		p += n;
		len -= (size_t)n;
	}
	if (fchmod(fd, mode) == -1)
		goto fail;
	return close(fd);
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

char *tu_read_file(const char *path, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = NULL, *grown;
	ssize_t r;
	int fd, e;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	for (;;) {
		if (buf == NULL || n + 1 >= cap) {
			cap *= 2;
			if ((grown = realloc(buf, cap)) == NULL)
				goto fail;
			buf = grown;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			goto fail;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
fail:
	e = errno;
	free(buf);
	close(fd);
	errno = e;
	return NULL;
}

int tu_build_path(const char *rel, char *buf, size_t size)
{
	char exe[PATH_MAX];
	ssize_t n;
	int len;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -1;
	exe[n] = '\0';
	/* $(B)/tests/test_x: the build directory is two levels up */
	len = snprintf(buf, size, "%s/../%s", dirname(exe), rel);
	if (len < 0 || (size_t)len >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int tu_count_entries(const char *dir, const char *part)
{
	struct dirent *e;
	int n = 0;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (strstr(e->d_name, part) != NULL)
			n++;
	}
	closedir(d);
	return n;
}
