/*
 * The worker's root file system (see rootfs.h). The child works relative to
 * its new root (chdir into the tmpfs, then "worker", "tmp", "usr/lib"), so
 * the parent does not have to prepare joined paths.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "rootfs.h"

/* Mount points only: a few inodes, no data. */
#define ROOT_OPTS "size=64k,nr_inodes=64,mode=0755"
#define BIND_RO (MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)

static int copy_path(char *dst, const char *src, const char *what, char *err,
                     size_t errlen)
{
	if (src == NULL || src[0] != '/') {
		snprintf(err, errlen, "rootfs: %s must be an absolute path: %s",
		         what, src ? src : "(none)");
		return -1;
	}
	if (strlen(src) >= SY_ROOTFS_PATH_MAX) {
		snprintf(err, errlen, "rootfs: %s too long: %.64s...", what,
		         src);
		return -1;
	}
	strcpy(dst, src);
	return 0;
}

int rootfs_prepare(struct sy_rootfs *r, const char *root_dir,
                   const char *worker_src, size_t tmp_bytes, char *err,
                   size_t errlen)
{
	struct stat st;

	memset(r, 0, sizeof(*r));
	if (copy_path(r->root, root_dir, "root dir", err, errlen) < 0 ||
	    copy_path(r->worker_src, worker_src, "executable", err, errlen) < 0)
		return -1;
	if (stat(r->root, &st) < 0) {
		snprintf(err, errlen, "rootfs: root dir %s: %s", r->root,
		         strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "rootfs: root dir %s: not a directory",
		         r->root);
		return -1;
	}
	if (stat("/proc/self/ns/mnt", &st) < 0) {
		snprintf(err, errlen, "rootfs: /proc/self/ns/mnt: %s",
		         strerror(errno));
		return -1;
	}
	r->host_mntns_dev = st.st_dev;
	r->host_mntns_ino = st.st_ino;
	snprintf(r->root_opts, sizeof(r->root_opts), "%s", ROOT_OPTS);
	if (tmp_bytes > 0)
		snprintf(r->tmp_opts, sizeof(r->tmp_opts),
		         "size=%zu,nr_inodes=4096,mode=1777", tmp_bytes);
	return 0;
}

int rootfs_add_path(struct sy_rootfs *r, const char *path, char *err,
                    size_t errlen)
{
	struct sy_rootfs_path *p;
	struct stat st;
	ssize_t n;

	if (r->npaths == SY_ROOTFS_MAX_PATHS) {
		snprintf(err, errlen, "rootfs: more than %d paths: %s",
		         SY_ROOTFS_MAX_PATHS, path);
		return -1;
	}
	p = &r->paths[r->npaths];
	memset(p, 0, sizeof(*p));
	if (copy_path(p->path, path, "path", err, errlen) < 0)
		return -1;
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "rootfs: %s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		n = readlink(path, p->symlink, sizeof(p->symlink) - 1);
		if (n <= 0 || (size_t)n >= sizeof(p->symlink) - 1) {
			snprintf(err, errlen, "rootfs: readlink %s: %s", path,
			         n < 0 ? strerror(errno) : "too long");
			return -1;
		}
		p->symlink[n] = '\0';
	} else if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "rootfs: %s: not a directory", path);
		return -1;
	}
	r->npaths++;
	return 0;
}

int rootfs_add_system_libs(struct sy_rootfs *r, char *err, size_t errlen)
{
	static const char *const libs[] = { "/lib", "/lib64", "/usr/lib",
		                            "/usr/lib64" };
	size_t i;

	for (i = 0; i < sizeof(libs) / sizeof(libs[0]); i++)
		if (rootfs_add_path(r, libs[i], err, errlen) < 0)
			return -1;
	return 0;
}

/* mkdir -p of the parents of rel ("usr/lib" creates "usr"), in place on a
 * stack copy. */
static int mkdir_parents(const char *rel)
{
	char buf[SY_ROOTFS_PATH_MAX];
	char *s;

	strcpy(buf, rel);
	for (s = buf; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	return 0;
}

/* Binds src at target (relative to the new root) read-only. */
static int bind_ro(const char *src, const char *target, const char **what)
{
	*what = "bind mount";
	if (mount(src, target, NULL, MS_BIND, NULL) < 0)
		return -1;
	*what = "remount bind read-only";
	return mount(NULL, target, NULL, BIND_RO, NULL);
}

static int add_worker(const struct sy_rootfs *r, const char **what)
{
	int fd;

	*what = "create /worker";
	if ((fd = open("worker", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	               0555)) < 0)
		return -1;
	close(fd);
	return bind_ro(r->worker_src, "worker", what);
}

static int add_path(const struct sy_rootfs_path *p, const char **what)
{
	const char *rel = p->path + 1;

	*what = "mkdir for a path";
	if (mkdir_parents(rel) < 0)
		return -1;
	if (p->symlink[0] != '\0') {
		*what = "symlink";
		return symlink(p->symlink, rel);
	}
	if (mkdir(rel, 0755) < 0 && errno != EEXIST)
		return -1;
	return bind_ro(p->path, rel, what);
}

static int add_tmp(const struct sy_rootfs *r, const char **what)
{
	*what = "mkdir /tmp";
	if (mkdir("tmp", 0755) < 0)
		return -1;
	*what = "mount tmpfs on /tmp";
	return mount("tmpfs", "tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	             r->tmp_opts);
}

/* pivot_root(".", "."): the old root ends up stacked on the new one and is
 * detached at once, so no path to the host tree remains. */
static int pivot(const char **what)
{
	*what = "pivot_root";
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return -1;
	*what = "umount old root";
	if (umount2(".", MNT_DETACH) < 0)
		return -1;
	*what = "chdir /";
	if (chdir("/") < 0)
		return -1;
	*what = "remount / read-only";
	return mount(NULL, "/", NULL, BIND_RO, NULL);
}

/* Refuses the namespace rootfs_prepare ran in: unshare must come first. */
static int check_mntns(const struct sy_rootfs *r, const char **what)
{
	struct stat st;

	*what = "mount namespace check";
	if (stat("/proc/self/ns/mnt", &st) < 0)
		return -1;
	if (st.st_dev == r->host_mntns_dev && st.st_ino == r->host_mntns_ino) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

int rootfs_enter(const struct sy_rootfs *r, const char **what)
{
	unsigned int i;

	if (check_mntns(r, what) < 0)
		return -1;
	*what = "make mounts private";
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -1;
	*what = "mount tmpfs on the root dir";
	if (mount("tmpfs", r->root, "tmpfs", MS_NOSUID | MS_NODEV,
	          r->root_opts) < 0)
		return -1;
	*what = "chdir into the root";
	if (chdir(r->root) < 0)
		return -1;
	if (add_worker(r, what) < 0)
		return -1;
	for (i = 0; i < r->npaths; i++)
		if (add_path(&r->paths[i], what) < 0)
			return -1;
	if (r->tmp_opts[0] != '\0' && add_tmp(r, what) < 0)
		return -1;
	return pivot(what);
}
