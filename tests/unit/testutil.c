/*
 * testutil.c: helpers shared by the unit tests (see testutil.h).
 */
#include <dirent.h>
#include <stdio.h>
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
