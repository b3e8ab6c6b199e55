/*
 * Control groups for workers (see cgroup.h): detection, the root
 * directories, per-worker directories with their limits, accounting and
 * teardown, for cgroup v2 and v1 behind one handle.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "jail/cgroup.h"

#define CPU_PERIOD_US 100000
#define V2_CONTROLLERS "+cpu +memory +pids"
#define KILL_ROUNDS 200 /* cgroup_kill v1: rounds of 1 ms at most */

struct cg_root {
	char *path;        /* absolute directory of our root */
	unsigned int ctl;  /* CG_* it stands for */
	int created;       /* made by us: removed by cgroup_fini */
};

struct sy_cgroups {
	int version;
	unsigned int n;
	struct cg_root root[CG_MAX_DIRS];
};

static const struct {
	const char *name;
	unsigned int ctl;
	int required;
} v1_ctls[] = {
	{ "cpu", CG_CPU, 1 },
	{ "cpuacct", CG_CPUACCT, 0 },
	{ "memory", CG_MEMORY, 1 },
	{ "pids", CG_PIDS, 1 },
};

static int cg_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fills err and returns -1, leaving errno as the failed call set it. */
static int cg_err(char *err, size_t errlen, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	int n;

	n = snprintf(err, errlen, "cgroup: ");
	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	errno = saved;
	return -1;
}

static void close_keep_errno(int fd)
{
	int saved = errno;

	close(fd);
	errno = saved;
}

/* buf = a sep b; -1 with ENAMETOOLONG when it does not fit. */
static int path_cat(char *buf, size_t size, const char *a, const char *sep,
                    const char *b)
{
	int n = snprintf(buf, size, "%s%s%s", a, sep, b);

	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static char *join(const char *a, const char *b)
{
	char *s;

	if (asprintf(&s, "%s/%s", a, b) < 0)
		return NULL;
	return s;
}

/*
 * Writes val to dir/file. With optional set, a missing file is not an
 * error (returns 1): memory.memsw.* needs swap accounting, memory.swap.max
 * a swap-capable kernel. 0, 1, or -1 with err.
 */
static int write_file(const char *dir, const char *file, const char *val,
                      int optional, char *err, size_t errlen)
{
	char path[4096];
	size_t len = strlen(val);
	ssize_t n;
	int fd;

	if (path_cat(path, sizeof(path), dir, "/", file) < 0)
		return cg_err(err, errlen, "%s/%s: %s", dir, file,
		              strerror(errno));
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0) {
		if (optional && errno == ENOENT)
			return 1;
		return cg_err(err, errlen, "open %s: %s", path,
		              strerror(errno));
	}
	n = write(fd, val, len);
	if (n < 0 || (size_t)n != len) {
		if (n >= 0)
			errno = EIO;
		cg_err(err, errlen, "write %s \"%s\": %s", path, val,
		       strerror(errno));
		close_keep_errno(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Reads dir/file into buf (NUL-terminated, truncated to size - 1). */
static int read_file(const char *dir, const char *file, char *buf,
                     size_t size, char *err, size_t errlen)
{
	char path[4096];
	size_t off = 0;
	ssize_t n = 0;
	int fd;

	if (path_cat(path, sizeof(path), dir, "/", file) < 0)
		return cg_err(err, errlen, "%s/%s: %s", dir, file,
		              strerror(errno));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return cg_err(err, errlen, "open %s: %s", path,
		              strerror(errno));
	while (off + 1 < size && (n = read(fd, buf + off, size - 1 - off)) > 0)
		off += (size_t)n;
	if (n < 0) {
		cg_err(err, errlen, "read %s: %s", path, strerror(errno));
		close_keep_errno(fd);
		return -1;
	}
	buf[off] = '\0';
	close(fd);
	return 0;
}

/* Finds "key value" in a flat-keyed file's content. */
static int keyed_u64(const char *buf, const char *key, uint64_t *out)
{
	size_t klen = strlen(key);
	const char *p = buf;
	char *end;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, klen) == 0 && p[klen] == ' ') {
			errno = 0;
			*out = strtoull(p + klen + 1, &end, 10);
			if (errno == 0 && end != p + klen + 1)
				return 0;
			return -1;
		}
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return -1;
}

/* Reads one unsigned number, or key's value, from dir/file. */
static int read_u64(const char *dir, const char *file, const char *key,
                    uint64_t *out, char *err, size_t errlen)
{
	char buf[4096], *end;

	if (read_file(dir, file, buf, sizeof(buf), err, errlen) < 0)
		return -1;
	if (key != NULL) {
		if (keyed_u64(buf, key, out) == 0)
			return 0;
		return cg_err(err, errlen, "%s/%s: no \"%s\" field", dir, file,
		              key);
	}
	errno = 0;
	*out = strtoull(buf, &end, 10);
	if (errno != 0 || end == buf)
		return cg_err(err, errlen, "%s/%s: not a number", dir, file);
	return 0;
}

/* 1 if the space-separated list has word. */
static int has_word(const char *list, const char *word)
{
	size_t len = strlen(word);
	const char *p = list;

	while ((p = strstr(p, word)) != NULL) {
		if ((p == list || isspace((unsigned char)p[-1])) &&
		    (p[len] == '\0' || isspace((unsigned char)p[len])))
			return 1;
		p += len;
	}
	return 0;
}

static int valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 200 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' &&
		    *s != '-')
			return 0;
	return 1;
}

/* mkdir that takes over an existing directory; *created says which. */
static int make_dir(const char *path, int *created, char *err, size_t errlen)
{
	*created = 0;
	if (mkdir(path, 0755) == 0) {
		*created = 1;
		return 0;
	}
	if (errno == EEXIST)
		return 0;
	return cg_err(err, errlen, "mkdir %s: %s", path, strerror(errno));
}

/* The supervisor's own v2 cgroup ("0::/path" in /proc/self/cgroup). */
static int own_v2_cgroup(char *buf, size_t size, char *err, size_t errlen)
{
	char content[4096], *p, *nl;

	if (read_file("/proc/self", "cgroup", content, sizeof(content), err,
	              errlen) < 0)
		return -1;
	for (p = content; p != NULL && *p; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		if (nl != NULL)
			*nl = '\0';
		if (strncmp(p, "0::", 3) == 0 && p[3] == '/') {
			snprintf(buf, size, "%s", p + 3);
			return 0;
		}
	}
	return cg_err(err, errlen, "/proc/self/cgroup: no cgroup v2 entry");
}

/* The supervisor's own v1 cgroup in the hierarchy of controller ctl
 * ("4:memory:/path" in /proc/self/cgroup; "cpu,cpuacct" counts for both),
 * or "/" when the file does not name it. */
static int own_v1_cgroup(const char *ctl, char *buf, size_t size, char *err,
                         size_t errlen)
{
	char content[4096], list[256], *p, *nl, *c1, *c2;
	size_t n;

	if (read_file("/proc/self", "cgroup", content, sizeof(content), err,
	              errlen) < 0)
		return -1;
	snprintf(buf, size, "/");
	for (p = content; p != NULL && *p; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		if (nl != NULL)
			*nl = '\0';
		if ((c1 = strchr(p, ':')) == NULL ||
		    (c2 = strchr(c1 + 1, ':')) == NULL || c2[1] != '/')
			continue;
		n = (size_t)(c2 - c1 - 1);
		if (n >= sizeof(list))
			continue;
		memcpy(list, c1 + 1, n);
		list[n] = '\0';
		for (c1 = list; (c1 = strchr(c1, ',')) != NULL; c1++)
			*c1 = ' ';
		if (has_word(list, ctl)) {
			snprintf(buf, size, "%s", c2 + 1);
			return 0;
		}
	}
	return 0;
}

static int add_root(struct sy_cgroups *cg, const char *base,
                    const char *parent, const char *name, unsigned int ctl,
                    char *err, size_t errlen)
{
	struct cg_root *r = &cg->root[cg->n];

	if (asprintf(&r->path, "%s%s/%s", base,
	             strcmp(parent, "/") == 0 ? "" : parent, name) < 0) {
		r->path = NULL;
		return cg_err(err, errlen, "%s", strerror(errno));
	}
	r->ctl = ctl;
	cg->n++;
	return make_dir(r->path, &r->created, err, errlen);
}

static int init_v1(struct sy_cgroups *cg, const char *mount,
                   const char *parent, const char *name, char *err,
                   size_t errlen)
{
	dev_t devs[CG_MAX_DIRS];
	char base[4096], own[2048];
	struct stat st;
	unsigned int i, k;

	for (i = 0; i < sizeof(v1_ctls) / sizeof(v1_ctls[0]); i++) {
		if (path_cat(base, sizeof(base), mount, "/",
		             v1_ctls[i].name) < 0 || stat(base, &st) < 0) {
			if (!v1_ctls[i].required)
				continue;
			return cg_err(err, errlen, "v1 controller %s: %s: %s",
			              v1_ctls[i].name, base, strerror(errno));
		}
		/* cpu,cpuacct mounted together: one tree, both bits. */
		for (k = 0; k < cg->n && devs[k] != st.st_dev; k++)
			;
		if (k < cg->n) {
			cg->root[k].ctl |= v1_ctls[i].ctl;
			continue;
		}
		devs[cg->n] = st.st_dev;
		/* Default: under our own cgroup, as v2 does, so that limits
		 * the service manager put on us also bind our workers. */
		if (parent == NULL &&
		    own_v1_cgroup(v1_ctls[i].name, own, sizeof(own), err,
		                  errlen) < 0)
			return -1;
		if (add_root(cg, base, parent ? parent : own, name,
		             v1_ctls[i].ctl, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* Enables cpu, memory and pids for the children of dir, unless they are. */
static int v2_enable(const char *dir, char *err, size_t errlen)
{
	char buf[512];

	if (read_file(dir, "cgroup.subtree_control", buf, sizeof(buf), err,
	              errlen) < 0)
		return -1;
	if (has_word(buf, "cpu") && has_word(buf, "memory") &&
	    has_word(buf, "pids"))
		return 0;
	return write_file(dir, "cgroup.subtree_control", V2_CONTROLLERS, 0,
	                  err, errlen);
}

/*
 * "No internal processes": a cgroup with processes cannot hand controllers
 * to children, so the supervisor moves itself into a leaf first.
 */
static int v2_leave_parent(const char *pdir, const char *name, char *err,
                           size_t errlen)
{
	char leaf[4096];
	int created;

	if (path_cat(leaf, sizeof(leaf), pdir, "/", name) < 0 ||
	    path_cat(leaf + strlen(leaf), sizeof(leaf) - strlen(leaf), "",
	             ".supervisor", "") < 0)
		return cg_err(err, errlen, "%s/%s.supervisor: %s", pdir, name,
		              strerror(errno));
	if (make_dir(leaf, &created, err, errlen) < 0)
		return -1;
	if (write_file(leaf, "cgroup.procs", "0", 0, err, errlen) < 0)
		return -1;
	return v2_enable(pdir, err, errlen);
}

static int init_v2(struct sy_cgroups *cg, const char *mount,
                   const char *parent, const char *name, char *err,
                   size_t errlen)
{
	char own[2048], pdir[4096], buf[512];
	const char *need[] = { "cpu", "memory", "pids" };
	size_t i;

	if (parent == NULL) {
		if (own_v2_cgroup(own, sizeof(own), err, errlen) < 0)
			return -1;
		parent = own;
	}
	if (path_cat(pdir, sizeof(pdir), mount, "",
	             strcmp(parent, "/") == 0 ? "" : parent) < 0)
		return cg_err(err, errlen, "%s%s: %s", mount, parent,
		              strerror(errno));
	if (read_file(pdir, "cgroup.controllers", buf, sizeof(buf), err,
	              errlen) < 0)
		return -1;
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!has_word(buf, need[i]))
			return cg_err(err, errlen, "%s/cgroup.controllers: "
			              "controller %s not available (bound to a "
			              "v1 hierarchy, or not delegated)",
			              pdir, need[i]);
	if (v2_enable(pdir, err, errlen) < 0 &&
	    (errno != EBUSY || v2_leave_parent(pdir, name, err, errlen) < 0))
		return -1;
	if (add_root(cg, pdir, "/", name, CG_CPU | CG_CPUACCT | CG_MEMORY |
	             CG_PIDS, err, errlen) < 0)
		return -1;
	return v2_enable(cg->root[0].path, err, errlen);
}

static int detect(const char *mount, char *err, size_t errlen)
{
	char path[4096];

	if (path_cat(path, sizeof(path), mount, "/cgroup.controllers", "") ==
	        0 && access(path, F_OK) == 0)
		return 2;
	if (path_cat(path, sizeof(path), mount, "/memory/cgroup.procs", "") ==
	        0 && access(path, F_OK) == 0)
		return 1;
	return cg_err(err, errlen, "no usable hierarchy under %s: neither "
	              "v2 (cgroup.controllers) nor v1 (memory/cgroup.procs)",
	              mount);
}

struct sy_cgroups *cgroup_init_at(const char *mount, int version,
                                  const char *parent, const char *root_name,
                                  char *err, size_t errlen)
{
	struct sy_cgroups *cg;
	int rc;

	if (!valid_name(root_name)) {
		cg_err(err, errlen, "invalid root name \"%s\"", root_name);
		return NULL;
	}
	if (parent != NULL && parent[0] != '/') {
		cg_err(err, errlen, "parent must start with /: %s", parent);
		return NULL;
	}
	if (version == 0 && (version = detect(mount, err, errlen)) < 0)
		return NULL;
	if (version != 1 && version != 2) {
		cg_err(err, errlen, "unknown version %d", version);
		return NULL;
	}
	if ((cg = calloc(1, sizeof(*cg))) == NULL) {
		cg_err(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	cg->version = version;
	if (version == 2)
		rc = init_v2(cg, mount, parent, root_name, err, errlen);
	else
		rc = init_v1(cg, mount, parent, root_name, err, errlen);
	if (rc < 0) {
		cgroup_fini(cg);
		return NULL;
	}
	return cg;
}

struct sy_cgroups *cgroup_init(const char *root_name, char *err,
                               size_t errlen)
{
	return cgroup_init_at("/sys/fs/cgroup", 0, NULL, root_name, err,
	                      errlen);
}

int cgroup_version(const struct sy_cgroups *cg)
{
	return cg->version;
}

void cgroup_fini(struct sy_cgroups *cg)
{
	unsigned int i;

	if (cg == NULL)
		return;
	for (i = 0; i < cg->n; i++) {
		if (cg->root[i].created)
			rmdir(cg->root[i].path);
		free(cg->root[i].path);
	}
	free(cg);
}

/* rmdir of dir's child cgroups, then of dir; 0 when dir is gone. */
static int remove_tree(const char *dir)
{
	char sub[4096];
	struct dirent *e;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_type == DT_DIR && e->d_name[0] != '.' &&
		    path_cat(sub, sizeof(sub), dir, "/", e->d_name) == 0)
			rmdir(sub);
	}
	closedir(d);
	return rmdir(dir);
}

/* prefix followed by the pid of a process that is gone? */
static int stale_name(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);
	char *end;
	long pid;

	if (strncmp(name, prefix, n) != 0 || name[n] < '1' || name[n] > '9')
		return 0;
	pid = strtol(name + n, &end, 10);
	return *end == '\0' && pid > 0 && pid <= INT32_MAX &&
	       kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

int cgroup_sweep_stale(const struct sy_cgroups *cg, const char *prefix)
{
	char parent[4096], path[4096], *slash;
	struct dirent *e;
	unsigned int i;
	int gone = 0;
	DIR *d;

	for (i = 0; i < cg->n; i++) {
		snprintf(parent, sizeof(parent), "%s", cg->root[i].path);
		if ((slash = strrchr(parent, '/')) == NULL ||
		    (d = opendir((*slash = '\0', parent))) == NULL)
			continue;
		while ((e = readdir(d)) != NULL) {
			if (e->d_type == DT_DIR && stale_name(e->d_name, prefix) &&
			    path_cat(path, sizeof(path), parent, "/",
			             e->d_name) == 0 && remove_tree(path) == 0)
				gone++;
		}
		closedir(d);
	}
	return gone;
}

static int limits_v1(const struct cg_dir *d, const struct cg_limits *lim,
                     char *err, size_t errlen)
{
	char v[32];
	int memsw;

	if (d->ctl & CG_MEMORY) {
		/* memsw >= limit at every step, whatever the old values. */
		memsw = write_file(d->path, "memory.memsw.limit_in_bytes", "-1",
		                   1, err, errlen);
		if (memsw < 0)
			return -1;
		snprintf(v, sizeof(v), "%" PRIu64, lim->memory_bytes);
		if (write_file(d->path, "memory.limit_in_bytes",
		               lim->memory_bytes ? v : "-1", 0, err,
		               errlen) < 0)
			return -1;
		if (memsw == 0 && lim->memory_bytes &&
		    write_file(d->path, "memory.memsw.limit_in_bytes", v, 0,
		               err, errlen) < 0)
			return -1;
	}
	if (d->ctl & CG_CPU) {
		snprintf(v, sizeof(v), "%d", CPU_PERIOD_US);
		if (write_file(d->path, "cpu.cfs_period_us", v, 0, err,
		               errlen) < 0)
			return -1;
		snprintf(v, sizeof(v), "%" PRIu64,
		         (uint64_t)lim->cpu_quota_pct * CPU_PERIOD_US / 100);
		if (write_file(d->path, "cpu.cfs_quota_us",
		               lim->cpu_quota_pct ? v : "-1", 0, err,
		               errlen) < 0)
			return -1;
	}
	if (d->ctl & CG_PIDS) {
		snprintf(v, sizeof(v), "%" PRIu32, lim->pids_max);
		if (write_file(d->path, "pids.max", lim->pids_max ? v : "max",
		               0, err, errlen) < 0)
			return -1;
	}
	return 0;
}

static int limits_v2(const struct cg_dir *d, const struct cg_limits *lim,
                     char *err, size_t errlen)
{
	char v[64];

	snprintf(v, sizeof(v), "%" PRIu64, lim->memory_bytes);
	if (write_file(d->path, "memory.max", lim->memory_bytes ? v : "max", 0,
	               err, errlen) < 0)
		return -1;
	if (write_file(d->path, "memory.swap.max", "0", 1, err, errlen) < 0)
		return -1;
	/* An OOM kill takes the whole worker, not one of its processes. */
	if (write_file(d->path, "memory.oom.group", "1", 1, err, errlen) < 0)
		return -1;
	snprintf(v, sizeof(v), "%" PRIu32, lim->pids_max);
	if (write_file(d->path, "pids.max", lim->pids_max ? v : "max", 0, err,
	               errlen) < 0)
		return -1;
	if (lim->cpu_quota_pct)
		snprintf(v, sizeof(v), "%" PRIu64 " %d",
		         (uint64_t)lim->cpu_quota_pct * CPU_PERIOD_US / 100,
		         CPU_PERIOD_US);
	else
		snprintf(v, sizeof(v), "max %d", CPU_PERIOD_US);
	return write_file(d->path, "cpu.max", v, 0, err, errlen);
}

static void handle_clear(struct cg_handle *h)
{
	unsigned int i;

	for (i = 0; i < CG_MAX_DIRS; i++) {
		h->dir[i].path = NULL;
		h->dir[i].ctl = 0;
		h->dir[i].procs_fd = -1;
	}
	h->ndirs = 0;
	h->version = 0;
}

/*
 * v1: "tasks", which moves one thread: the child that writes "0" there is
 * a process of one thread, so that is the whole process, and the kernel
 * then skips what cgroup.procs takes to move a thread group, the global
 * cgroup_threadgroup_rwsem for writing, whose rcu_sync waits for an RCU
 * grace period when no other move happened lately: on the reference VM
 * 0.1-3 ms of a worker's start after an idle second. v2 has no tasks file
 * outside threaded subtrees: cgroup.procs.
 */
static int open_procs(struct cg_dir *d, int version, char *err,
                      size_t errlen)
{
	const char *file = version == 1 ? "tasks" : "cgroup.procs";
	char path[4096];

	if (path_cat(path, sizeof(path), d->path, "/", file) < 0 ||
	    (d->procs_fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return cg_err(err, errlen, "open %s: %s", path,
		              strerror(errno));
	return 0;
}

/* Undoes a half-made handle: closes, removes what we created, frees. */
static void create_undo(struct cg_handle *h, const int *created)
{
	unsigned int i;

	for (i = 0; i < h->ndirs; i++) {
		if (h->dir[i].procs_fd >= 0)
			close(h->dir[i].procs_fd);
		if (created[i])
			rmdir(h->dir[i].path);
		free(h->dir[i].path);
	}
	handle_clear(h);
}

int cgroup_create(struct sy_cgroups *cg, const char *name,
                  const struct cg_limits *lim, struct cg_handle *out,
                  char *err, size_t errlen)
{
	int created[CG_MAX_DIRS] = { 0 };
	struct cg_dir *d;
	unsigned int i;
	int rc;

	handle_clear(out);
	if (!valid_name(name))
		return cg_err(err, errlen, "invalid cgroup name \"%s\"", name);
	out->version = cg->version;
	for (i = 0; i < cg->n; i++) {
		d = &out->dir[out->ndirs];
		if ((d->path = join(cg->root[i].path, name)) == NULL) {
			cg_err(err, errlen, "%s", strerror(errno));
			goto fail;
		}
		d->ctl = cg->root[i].ctl;
		out->ndirs++;
		if (make_dir(d->path, &created[i], err, errlen) < 0)
			goto fail;
		if (cg->version == 2)
			rc = limits_v2(d, lim, err, errlen);
		else
			rc = limits_v1(d, lim, err, errlen);
		if (rc < 0 || open_procs(d, cg->version, err, errlen) < 0)
			goto fail;
	}
	return 0;
fail:
	create_undo(out, created);
	return -1;
}

int cgroup_set_limits(const struct cg_handle *h, const struct cg_limits *lim,
                      char *err, size_t errlen)
{
	unsigned int i;
	int rc;

	for (i = 0; i < h->ndirs; i++) {
		if (h->version == 2)
			rc = limits_v2(&h->dir[i], lim, err, errlen);
		else
			rc = limits_v1(&h->dir[i], lim, err, errlen);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int cgroup_enter_self(const struct cg_handle *h)
{
	unsigned int i;

	for (i = 0; i < h->ndirs; i++)
		if (h->dir[i].procs_fd >= 0 &&
		    write(h->dir[i].procs_fd, "0", 1) != 1)
			return -1;
	return 0;
}

static const struct cg_dir *dir_for(const struct cg_handle *h,
                                    unsigned int ctl)
{
	unsigned int i;

	for (i = 0; i < h->ndirs; i++)
		if (h->dir[i].ctl & ctl)
			return &h->dir[i];
	return NULL;
}

int cgroup_oom_killed(const struct cg_handle *h, uint64_t *count, char *err,
                      size_t errlen)
{
	const struct cg_dir *d = dir_for(h, CG_MEMORY);

	if (d == NULL)
		return cg_err(err, errlen, "no memory controller");
	if (h->version == 2)
		return read_u64(d->path, "memory.events", "oom_kill", count,
		                err, errlen);
	return read_u64(d->path, "memory.oom_control", "oom_kill", count, err,
	                errlen);
}

int cgroup_cpu_usage_us(const struct cg_handle *h, uint64_t *usec, char *err,
                        size_t errlen)
{
	const struct cg_dir *d = dir_for(h, CG_CPUACCT);
	uint64_t ns;

	if (d == NULL)
		return cg_err(err, errlen, "no cpuacct controller");
	if (h->version == 2)
		return read_u64(d->path, "cpu.stat", "usage_usec", usec, err,
		                errlen);
	if (read_u64(d->path, "cpuacct.usage", NULL, &ns, err, errlen) < 0)
		return -1;
	*usec = ns / 1000;
	return 0;
}

/* SIGKILLs every pid listed in dir's cgroup.procs; returns how many were
 * listed, or -1 with err. */
static int kill_listed(const char *dir, char *err, size_t errlen)
{
	char buf[65536], *p, *end;
	long pid;
	int n = 0;

	if (read_file(dir, "cgroup.procs", buf, sizeof(buf), err, errlen) < 0)
		return -1;
	for (p = buf; *p != '\0'; p = end) {
		pid = strtol(p, &end, 10);
		if (end == p)
			break;
		/* Never 0 or negative: kill() would reach process groups. */
		if (pid > 0 && kill((pid_t)pid, SIGKILL) == 0)
			n++;
		else if (pid > 0 && errno != ESRCH)
			return cg_err(err, errlen, "kill %ld (in %s): %s", pid,
			              dir, strerror(errno));
	}
	/* A full buffer may hide more pids: report as busy. */
	return strlen(buf) >= sizeof(buf) - 1 ? n + 1 : n;
}

static int kill_v1(const struct cg_handle *h, char *err, size_t errlen)
{
	struct timespec ms = { 0, 1000000 };
	unsigned int round, i;
	int n, listed;

	for (round = 0; round < KILL_ROUNDS; round++) {
		listed = 0;
		for (i = 0; i < h->ndirs; i++) {
			if ((n = kill_listed(h->dir[i].path, err, errlen)) < 0)
				return -1;
			listed += n;
		}
		if (listed == 0)
			return 0;
		/* Killed processes leave cgroup.procs when they exit. */
		nanosleep(&ms, NULL);
	}
	errno = EBUSY;
	return cg_err(err, errlen, "%s: still populated after SIGKILL",
	              h->dir[0].path);
}

int cgroup_kill(const struct cg_handle *h, char *err, size_t errlen)
{
	int rc;

	if (h->ndirs == 0)
		return 0;
	if (h->version == 2) {
		rc = write_file(h->dir[0].path, "cgroup.kill", "1", 1, err,
		                errlen);
		if (rc <= 0)
			return rc; /* 1: before Linux 5.14, kill by hand */
	}
	return kill_v1(h, err, errlen);
}

int cgroup_destroy(struct cg_handle *h, char *err, size_t errlen)
{
	unsigned int i, left = 0;
	int rc = 0;

	for (i = 0; i < h->ndirs; i++) {
		if (h->dir[i].procs_fd >= 0) {
			close(h->dir[i].procs_fd);
			h->dir[i].procs_fd = -1;
		}
		if (h->dir[i].path == NULL)
			continue;
		if (rmdir(h->dir[i].path) < 0 && errno != ENOENT) {
			if (rc == 0)
				rc = cg_err(err, errlen, "rmdir %s: %s",
				            h->dir[i].path, strerror(errno));
			h->dir[left++] = h->dir[i];
			continue;
		}
		free(h->dir[i].path);
	}
	for (i = left; i < CG_MAX_DIRS; i++) {
		h->dir[i].path = NULL;
		h->dir[i].procs_fd = -1;
	}
	h->ndirs = left;
	if (left == 0)
		h->version = 0;
	return rc;
}
