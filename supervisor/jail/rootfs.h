/*
 * The worker's root file system (rootfs.c): a fresh, size-limited tmpfs that
 * holds only the worker's executable at /worker (read-only bind), the
 * system library directories when the worker is dynamically linked
 * (read-only binds), and an empty /tmp (noexec). No /proc, no /dev, no /etc.
 *
 * The parent prepares everything (paths, mount options) in a struct sy_rootfs;
 * the child, after unshare(CLONE_NEWNS) or clone(CLONE_NEWNS), only calls
 * rootfs_enter(), which is async-signal-safe: raw mount/pivot_root on the
 * prepared strings, no allocation.
 */
#ifndef SY_JAIL_ROOTFS_H
#define SY_JAIL_ROOTFS_H

#include <stddef.h>
#include <sys/types.h>

#define SY_ROOTFS_PATH_MAX 512
#define SY_ROOTFS_MAX_PATHS 16

/* A host directory shown at the same path in the jail. */
struct sy_rootfs_path {
	char path[SY_ROOTFS_PATH_MAX];    /* absolute */
	char symlink[SY_ROOTFS_PATH_MAX]; /* non-empty: the host path is a
	                                   * symlink to this; the jail gets the
	                                   * same symlink, not a bind mount */
};

struct sy_rootfs {
	char root[SY_ROOTFS_PATH_MAX];       /* host dir the tmpfs goes on */
	char worker_src[SY_ROOTFS_PATH_MAX]; /* bound at /worker */
	char root_opts[64];                  /* tmpfs options of / */
	char tmp_opts[64];                   /* of /tmp; "" = no /tmp */
	struct sy_rootfs_path paths[SY_ROOTFS_MAX_PATHS];
	unsigned int npaths;
	/* The parent's mount namespace, where rootfs_enter refuses to run. */
	dev_t host_mntns_dev;
	ino_t host_mntns_ino;
	/* -1, or a mount namespace with this root built in it, /tmp aside
	 * (rootfs_template): rootfs_enter then copies it. */
	int template_ns;
};

/*
 * Parent: starts a root for the executable at the host path worker_src (a
 * path, not "/proc/self/fd/N": a descriptor opened before the child's
 * unshare(CLONE_NEWNS) names a mount of the old namespace, and bind mounts
 * from there fail with EINVAL; the content-addressed copies in state_dir
 * never change, so the path is safe). root_dir is an existing, empty host
 * directory that the root tmpfs is mounted over; all spawns may share one,
 * because each mount lives only in its child's private mount namespace.
 * tmp_bytes sizes /tmp (0: no /tmp). 0, or -1 with err.
 */
int rootfs_prepare(struct sy_rootfs *r, const char *root_dir,
                   const char *worker_src, size_t tmp_bytes, char *err,
                   size_t errlen);
/*
 * Parent: shows the host directory path read-only (nosuid, nodev) at the
 * same path in the jail; a symlink is recreated as the same symlink (merged
 * /usr: /lib -> usr/lib). A path that does not exist on this host is
 * skipped. 0, or -1 with err (too many paths, a name too long, not a
 * directory).
 */
int rootfs_add_path(struct sy_rootfs *r, const char *path, char *err,
                    size_t errlen);
/* Parent: adds /lib, /lib64, /usr/lib and /usr/lib64 (those that exist):
 * what a dynamically linked worker's loader needs. Static workers skip it. */
int rootfs_add_system_libs(struct sy_rootfs *r, char *err, size_t errlen);
/*
 * Parent: inspects the executable at exe. A dynamically linked one (it has
 * a PT_INTERP program header) sets *dynamic and gets what its loader needs:
 * the system library directories and every absolute directory of its
 * DT_RUNPATH (or DT_RPATH) not already shown ($ORIGIN entries are
 * skipped). A static one, or a file that is not a 64-bit ELF (a script:
 * it cannot run in the jail), leaves the root as it is with *dynamic 0.
 * 0, or -1 with err.
 */
int rootfs_add_exe_needs(struct sy_rootfs *r, const char *exe, int *dynamic,
                         char *err, size_t errlen);

/*
 * Parent: builds r once, as rootfs_enter would but for the tmpfs on /tmp,
 * in a mount namespace of a helper child, which is gone at return; the
 * namespace stays, held by r->template_ns (at or above min_fd,
 * close-on-exec). Every process started from r then enters a copy of it:
 * one setns, one unshare and the /tmp mount instead of a dozen mounts, a
 * pivot_root and the old root's unmount, whose RCU grace period costs
 * 0.1-3 ms on the reference VM. The template's root is the same read-only
 * tmpfs for every process of r (mount points only, nothing a worker can
 * write). A root with a path under /tmp, which each process's own /tmp
 * would hide, gets no template: r->template_ns stays -1. 0, or -1 with err.
 */
int rootfs_template(struct sy_rootfs *r, int min_fd, char *err,
                    size_t errlen);
/* Closes r's template, if any; the kernel frees it with its last user. */
void rootfs_template_close(struct sy_rootfs *r);

/*
 * Child, still privileged. Without a template, in its own mount namespace:
 * makes every mount private, mounts the tmpfs on root, builds /worker, the
 * paths and /tmp in it, pivots into it, detaches the old root, and makes /
 * read-only. Run in the parent's own mount namespace it would re-root the
 * whole host, so it first checks that it is not there (EPERM, "mount
 * namespace check"). With a template, in any mount namespace: enters the
 * template, unshares a copy of it (the only namespace it mounts in) and
 * mounts its own /tmp there. The working directory ends at "/". 0, or -1
 * with errno and *what naming the failing call ("pivot_root").
 */
int rootfs_enter(const struct sy_rootfs *r, const char **what);

#endif
