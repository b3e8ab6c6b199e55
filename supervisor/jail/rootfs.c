/*
 * The worker's root file system (see rootfs.h), and what the parent learns
 * from the executable to build it. The child works relative to
 * its new root (chdir into the tmpfs, then "worker", "tmp", "usr/lib"), so
 * the parent does not have to prepare joined paths.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "jail/rootfs.h"

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
	r->template_ns = -1;
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

/* The next free entry, cleared and holding path; counted only once the
 * caller has checked what is there. */
static struct sy_rootfs_path *next_path(struct sy_rootfs *r, const char *path,
                                        const char *what, char *err,
                                        size_t errlen)
{
	struct sy_rootfs_path *p;

	if (r->npaths == SY_ROOTFS_MAX_PATHS) {
		snprintf(err, errlen, "rootfs: more than %d paths: %s",
		         SY_ROOTFS_MAX_PATHS, path);
		return NULL;
	}
	p = &r->paths[r->npaths];
	memset(p, 0, sizeof(*p));
	if (copy_path(p->path, path, what, err, errlen) < 0)
		return NULL;
	return p;
}

int rootfs_add_path(struct sy_rootfs *r, const char *path, char *err,
                    size_t errlen)
{
	struct sy_rootfs_path *p;
	struct stat st;
	ssize_t n;

	if ((p = next_path(r, path, "path", err, errlen)) == NULL)
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

/* 1 when path is at or under a directory the root already shows. */
static int covered(const struct sy_rootfs *r, const char *path)
{
	const char *d;
	unsigned int i;
	size_t n;

	for (i = 0; i < r->npaths; i++) {
		d = r->paths[i].path;
		n = strlen(d);
		if (strncmp(path, d, n) == 0 &&
		    (path[n] == '\0' || path[n] == '/'))
			return 1;
	}
	return 0;
}

/* Reads exactly n bytes at off. 0, or -1 (errno EIO when short). */
static int read_at(int fd, void *buf, size_t n, off_t off)
{
	ssize_t got = pread(fd, buf, n, off);

	if (got >= 0 && (size_t)got != n)
		errno = EIO;
	return got == (ssize_t)n ? 0 : -1;
}

/* The file offset of virtual address va, from the PT_LOAD headers. */
static int va_to_off(const Elf64_Phdr *ph, unsigned int n, Elf64_Addr va,
                     off_t *off)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (ph[i].p_type == PT_LOAD && va >= ph[i].p_vaddr &&
		    va - ph[i].p_vaddr < ph[i].p_filesz) {
			*off = (off_t)(ph[i].p_offset + (va - ph[i].p_vaddr));
			return 0;
		}
	}
	return -1;
}

/* DT_RUNPATH (else DT_RPATH) of the dynamic segment dyn, into out; ""
 * when there is none. */
static int elf_runpath(int fd, const Elf64_Phdr *ph, unsigned int n,
                       const Elf64_Phdr *dyn, char *out, size_t size)
{
	Elf64_Dyn d[512];
	Elf64_Addr strtab = 0;
	Elf64_Xword rp = 0, rpath = 0;
	size_t i, nd = dyn->p_filesz / sizeof(Elf64_Dyn);
	off_t off;
	ssize_t got;

	out[0] = '\0';
	if (nd > sizeof(d) / sizeof(d[0]))
		nd = sizeof(d) / sizeof(d[0]);
	if (read_at(fd, d, nd * sizeof(d[0]), (off_t)dyn->p_offset) < 0)
		return -1;
	for (i = 0; i < nd && d[i].d_tag != DT_NULL; i++) {
		if (d[i].d_tag == DT_STRTAB)
			strtab = d[i].d_un.d_ptr;
		else if (d[i].d_tag == DT_RUNPATH)
			rp = d[i].d_un.d_val + 1;
		else if (d[i].d_tag == DT_RPATH)
			rpath = d[i].d_un.d_val + 1;
	}
	if (rp == 0)
		rp = rpath;
	if (rp == 0 || strtab == 0)
		return 0;
	if (va_to_off(ph, n, strtab, &off) < 0) {
		errno = ENOEXEC;
		return -1;
	}
	got = pread(fd, out, size - 1, off + (off_t)(rp - 1));
	if (got < 0)
		return -1;
	out[got] = '\0';
	if (strlen(out) == (size_t)got && (size_t)got == size - 1) {
		errno = ENAMETOOLONG; /* no NUL within the buffer */
		return -1;
	}
	return 0;
}

/* Shows each absolute directory of a ':'-separated run path. */
static int add_runpath(struct sy_rootfs *r, char *runpath, char *err,
                       size_t errlen)
{
	char *dir, *save;
	struct stat st;

	for (dir = strtok_r(runpath, ":", &save); dir != NULL;
	     dir = strtok_r(NULL, ":", &save)) {
		if (dir[0] != '/' || strchr(dir, '$') != NULL ||
		    covered(r, dir) || stat(dir, &st) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		if (rootfs_add_path(r, dir, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* Program headers of a native 64-bit ELF file; *n = 0 for anything else. */
static int elf_phdrs(int fd, Elf64_Phdr *ph, unsigned int *n)
{
	Elf64_Ehdr eh;

	*n = 0;
	if (read_at(fd, &eh, sizeof(eh), 0) < 0)
		return errno == EIO ? 0 : -1;
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr))
		return 0;
	if (eh.e_phnum > 64) {
		errno = ENOEXEC;
		return -1;
	}
	if (read_at(fd, ph, eh.e_phnum * sizeof(*ph), (off_t)eh.e_phoff) < 0)
		return -1;
	*n = eh.e_phnum;
	return 0;
}

int rootfs_add_exe_needs(struct sy_rootfs *r, const char *exe, int *dynamic,
                         char *err, size_t errlen)
{
	Elf64_Phdr ph[64];
	const Elf64_Phdr *dyn = NULL;
	char runpath[SY_ROOTFS_PATH_MAX * 4];
	unsigned int i, n;
	int fd, rc;

	*dynamic = 0;
	if ((fd = open(exe, O_RDONLY | O_CLOEXEC)) < 0 ||
	    elf_phdrs(fd, ph, &n) < 0)
		goto fail;
	for (i = 0; i < n; i++) {
		if (ph[i].p_type == PT_INTERP)
			*dynamic = 1;
		else if (ph[i].p_type == PT_DYNAMIC)
			dyn = &ph[i];
	}
	if (*dynamic && dyn != NULL &&
	    elf_runpath(fd, ph, n, dyn, runpath, sizeof(runpath)) < 0)
		goto fail;
	close(fd);
	if (!*dynamic)
		return 0;
	if ((rc = rootfs_add_system_libs(r, err, errlen)) == 0 && dyn != NULL)
		rc = add_runpath(r, runpath, err, errlen);
	return rc;
fail:
	snprintf(err, errlen, "rootfs: inspecting %s: %s", exe,
	         strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
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

static int mount_tmp(const struct sy_rootfs *r, const char *at,
                     const char **what)
{
	*what = "mount tmpfs on /tmp";
	return mount("tmpfs", at, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	             r->tmp_opts);
}

/* The mount point; its tmpfs too unless the root is a template. */
static int add_tmp(const struct sy_rootfs *r, int mount_it,
                   const char **what)
{
	*what = "mkdir /tmp";
	if (mkdir("tmp", 0755) < 0)
		return -1;
	return mount_it ? mount_tmp(r, "tmp", what) : 0;
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

/* Everything of rootfs_enter after the namespace check; /tmp's tmpfs only
 * with with_tmp. */
static int build(const struct sy_rootfs *r, int with_tmp, const char **what)
{
	unsigned int i;

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
	/* /tmp first: a library dir that lives under the host's /tmp
	 * (a build tree there) is then bound on top of the private /tmp
	 * instead of colliding with its mount point. */
	if (r->tmp_opts[0] != '\0' && add_tmp(r, with_tmp, what) < 0)
		return -1;
	for (i = 0; i < r->npaths; i++)
		if (add_path(&r->paths[i], what) < 0)
			return -1;
	return pivot(what);
}

/* No namespace check here: the only mount happens after the unshare, in
 * the copy (and /proc, which the check reads, is not in the template). */
static int enter_template(const struct sy_rootfs *r, const char **what)
{
	*what = "setns into the root's template";
	if (setns(r->template_ns, CLONE_NEWNS) < 0)
		return -1;
	*what = "unshare a copy of the template";
	if (unshare(CLONE_NEWNS) < 0)
		return -1;
	if (r->tmp_opts[0] != '\0' && mount_tmp(r, "/tmp", what) < 0)
		return -1;
	*what = "chdir /";
	return chdir("/");
}

int rootfs_enter(const struct sy_rootfs *r, const char **what)
{
	if (r->template_ns >= 0)
		return enter_template(r, what);
	if (check_mntns(r, what) < 0)
		return -1;
	return build(r, 1, what);
}

#define HELPER_STACK (64 * 1024)

struct template_helper {
	const struct sy_rootfs *r;
	int fd;
	int err;
	const char *what;
};

/* In its new mount namespace, sharing our memory and descriptor table:
 * opens the namespace into our table while /proc is still there, builds
 * the root in it, and is gone. */
static int template_run(void *arg)
{
	struct template_helper *h = arg;

	h->what = "open /proc/self/ns/mnt";
	if ((h->fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC)) < 0 ||
	    build(h->r, 0, &h->what) < 0)
		h->err = errno;
	_exit(0);
	return 0;
}

static int tmp_covers_a_path(const struct sy_rootfs *r)
{
	unsigned int i;

	for (i = 0; i < r->npaths; i++)
		if (strncmp(r->paths[i].path, "/tmp", 4) == 0 &&
		    (r->paths[i].path[4] == '/' || r->paths[i].path[4] == '\0'))
			return 1;
	return 0;
}

/* The helper sends no exit signal: whoever reaps our children never sees
 * it. */
int rootfs_template(struct sy_rootfs *r, int min_fd, char *err,
                    size_t errlen)
{
	struct template_helper h = { r, -1, 0, "" };
	char *stack;
	pid_t pid;
	int fd;

	rootfs_template_close(r);
	if (r->tmp_opts[0] != '\0' && tmp_covers_a_path(r))
		return 0;
	if ((stack = malloc(HELPER_STACK)) == NULL) {
		snprintf(err, errlen, "rootfs template: %s", strerror(ENOMEM));
		return -1;
	}
	pid = clone(template_run, stack + HELPER_STACK,
	            CLONE_VM | CLONE_VFORK | CLONE_FILES | CLONE_NEWNS, &h);
	if (pid < 0) {
		snprintf(err, errlen, "rootfs template: clone: %s",
		         strerror(errno));
		free(stack);
		return -1;
	}
	while (waitpid(pid, NULL, __WCLONE) < 0 && errno == EINTR)
		;
	free(stack);
	if (h.err != 0) {
		snprintf(err, errlen, "rootfs template: %s: %s", h.what,
		         strerror(h.err));
		if (h.fd >= 0)
			close(h.fd);
		return -1;
	}
	if (h.fd < min_fd) {
		fd = fcntl(h.fd, F_DUPFD_CLOEXEC, min_fd);
		close(h.fd);
		if (fd < 0) {
			snprintf(err, errlen, "rootfs template: %s",
			         strerror(errno));
			return -1;
		}
		h.fd = fd;
	}
	r->template_ns = h.fd;
	return 0;
}

void rootfs_template_close(struct sy_rootfs *r)
{
	if (r->template_ns >= 0)
		close(r->template_ns);
	r->template_ns = -1;
}
