/*
 * Durable state under state_dir:
 *   exe/<sha256>        deployed executables, content-addressed, 0555
 *   deployments.json    every worker's versions, 0600 (env may hold
 *                       secrets), written from store_json.c's text
 * Both are replaced only by rename(2) of a fully written, fsynced file, so a
 * crash leaves either the old or the new state, never a torn one.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <dirent.h>
#include <unistd.h>

#include <sha2.h>

#include "log.h"
#include "state/registry.h"
#include "state/store.h"
#include "util.h"

#define STORE_EXE_MAX (1024LL * 1024 * 1024) /* bytes of one executable */
#define STORE_CHUNK (64 * 1024)

/* Creates dir (0711: workers may exec files inside, nobody may list it). */
static int store_mkdir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dir, 0711) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir,
			 strerror(errno));
		return -1;
	}
	if (stat(dir, &st) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", dir);
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

static int store_path(char *buf, size_t size, const char *dir, const char *leaf,
		      char *err, size_t errlen)
{
	int n = snprintf(buf, size, "%s/%s", dir, leaf);

	if (n < 0 || (size_t)n >= size) {
		snprintf(err, errlen, "%s/%s: path too long", dir, leaf);
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* The rename of a file into dir is durable only once dir is synced. */
static int store_sync_dir(const char *dir, char *err, size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd == -1 || fsync(fd) == -1) {
		snprintf(err, errlen, "cannot sync directory %s: %s", dir,
			 strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void hex_digest(const uint8_t d[SHA256_DIGEST_LENGTH], char out[65])
{
	static const char hex[] = "0123456789abcdef";
	int i;

	for (i = 0; i < SHA256_DIGEST_LENGTH; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[64] = '\0';
}

/* Reads fd from offset 0 to its end, hashing it and, when out >= 0, copying
 * it to out. The copy is what gets hashed, so the name always matches the
 * stored bytes even if the source changes meanwhile. */
static int store_copy(int fd, int out, const char *outpath, char sha[65],
		      char *err, size_t errlen)
{
	uint8_t buf[STORE_CHUNK], digest[SHA256_DIGEST_LENGTH];
	SHA2_CTX ctx;
	off_t off = 0;
	ssize_t n;

	SHA256Init(&ctx);
	for (;;) {
		n = pread(fd, buf, sizeof(buf), off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "cannot read the executable: %s",
				 strerror(errno));
			return -1;
		}
		if (n == 0)
			break;
		off += n;
		if (off > STORE_EXE_MAX) {
			snprintf(err, errlen,
				 "the executable is larger than %lld bytes",
				 STORE_EXE_MAX);
			errno = EFBIG;
			return -1;
		}
		SHA256Update(&ctx, buf, (size_t)n);
		if (out >= 0 && write_all(out, buf, (size_t)n) == -1) {
			snprintf(err, errlen, "cannot write %s: %s", outpath,
				 strerror(errno));
			return -1;
		}
	}
	SHA256Final(digest, &ctx);
	hex_digest(digest, sha);
	return 0;
}

int store_hash_fd(int fd, char sha256[65], char *err, size_t errlen)
{
	return store_copy(fd, -1, NULL, sha256, err, errlen);
}

/* Finishes the temporary copy tmp (open at out) as dir/<sha>. */
static int store_publish(int out, const char *tmp, const char *dir,
			 const char *final, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(final, &st) == 0 && S_ISREG(st.st_mode)) {
		/* same content already stored: keep the existing file */
		close(out);
		unlink(tmp);
		return 0;
	}
	if (fchmod(out, 0555) == -1 || fsync(out) == -1) {
		snprintf(err, errlen, "cannot finish %s: %s", tmp,
			 strerror(errno));
		close(out);
		unlink(tmp);
		return -1;
	}
	if (close(out) == -1 || rename(tmp, final) == -1) {
		snprintf(err, errlen, "cannot store %s: %s", final,
			 strerror(errno));
		unlink(tmp);
		return -1;
	}
	return store_sync_dir(dir, err, errlen);
}

int store_put_exe(const char *state_dir, int exe_fd, char sha256[65],
		  char **path, char *err, size_t errlen)
{
	char dir[PATH_MAX], tmp[PATH_MAX], final[PATH_MAX];
	int out, e;

	*path = NULL;
	if (store_mkdir(state_dir, err, errlen) == -1 ||
	    store_path(dir, sizeof(dir), state_dir, "exe", err, errlen) == -1 ||
	    store_mkdir(dir, err, errlen) == -1 ||
	    store_path(tmp, sizeof(tmp), dir, ".tmp.XXXXXX", err, errlen) == -1)
		return -1;
	if ((out = mkostemp(tmp, O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "cannot create a file in %s: %s", dir,
			 strerror(errno));
		return -1;
	}
	if (store_copy(exe_fd, out, tmp, sha256, err, errlen) == -1 ||
	    store_path(final, sizeof(final), dir, sha256, err, errlen) == -1) {
		e = errno;
		close(out);
		unlink(tmp);
		errno = e;
		return -1;
	}
	if (store_publish(out, tmp, dir, final, err, errlen) == -1)
		return -1;
	if ((*path = strdup(final)) == NULL) {
		snprintf(err, errlen, "%s: %s", final, strerror(errno));
		return -1;
	}
	return 0;
}

static int store_write(const char *tmp, const char *text, char *err,
		       size_t errlen)
{
	int fd;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd == -1) {
		snprintf(err, errlen, "cannot create %s: %s", tmp,
			 strerror(errno));
		return -1;
	}
	/* a stale temp file may have other permissions */
	if (fchmod(fd, 0600) == -1 || write_all(fd, text, strlen(text)) == -1 ||
	    write_all(fd, "\n", 1) == -1 || fsync(fd) == -1) {
		snprintf(err, errlen, "cannot write %s: %s", tmp,
			 strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) == -1) {
		snprintf(err, errlen, "cannot write %s: %s", tmp,
			 strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int store_write_file(const char *state_dir, const char *leaf,
		     const char *text, char *err, size_t errlen)
{
	char path[PATH_MAX], tmp[PATH_MAX], tleaf[NAME_MAX];

	snprintf(tleaf, sizeof(tleaf), "%s.tmp", leaf);
	if (store_mkdir(state_dir, err, errlen) == -1 ||
	    store_path(path, sizeof(path), state_dir, leaf, err, errlen) ==
		-1 ||
	    store_path(tmp, sizeof(tmp), state_dir, tleaf, err, errlen) == -1)
		return -1;
	if (store_write(tmp, text, err, errlen) == -1)
		return -1;
	if (rename(tmp, path) == -1) {
		snprintf(err, errlen, "cannot replace %s: %s", path,
			 strerror(errno));
		unlink(tmp);
		return -1;
	}
	return store_sync_dir(state_dir, err, errlen);
}

static int save_deferred, save_pending;

int store_defer(int on, const char *state_dir, char *err, size_t errlen)
{
	save_deferred = on;
	if (on || !save_pending)
		return 0;
	save_pending = 0;
	return store_save(state_dir, err, errlen);
}

int store_save(const char *state_dir, char *err, size_t errlen)
{
	char *text;
	int rc;

	if (save_deferred) {
		save_pending = 1;
		return 0;
	}
	if ((text = store_json()) == NULL) {
		snprintf(err, errlen, "cannot encode %s/%s: out of memory",
			 state_dir, STORE_FILE);
		errno = ENOMEM;
		return -1;
	}
	rc = store_write_file(state_dir, STORE_FILE, text, err, errlen);
	explicit_bzero(text, strlen(text));
	free(text);
	return rc;
}

static int exe_used(const char *sha)
{
	struct worker *w;
	size_t i;

	for (w = registry_first(); w != NULL; w = registry_next(w)) {
		for (i = 0; i < w->nversions; i++) {
			if (strcmp(w->versions[i].sha256, sha) == 0)
				return 1;
		}
	}
	return 0;
}

void store_gc_exes(const char *state_dir)
{
	char dir[PATH_MAX], path[PATH_MAX], err[2 * PATH_MAX + 32];
	struct dirent *de;
	DIR *d;

	if (store_path(dir, sizeof(dir), state_dir, "exe", err,
		       sizeof(err)) == -1 || (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!store_valid_sha(de->d_name) || exe_used(de->d_name))
			continue;
		if (store_path(path, sizeof(path), dir, de->d_name, err,
			       sizeof(err)) == 0 &&
		    unlink(path) == -1 && errno != ENOENT)
			log_warn("cannot remove unused executable %s", path);
	}
	closedir(d);
}

int store_valid_sha(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return s[64] == '\0';
}
