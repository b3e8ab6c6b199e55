/*
 * Helpers shared by the unit tests (testutil.c): what more than one test
 * program needs to prepare or clean up around the code under test. They
 * use only libc, so that every test can link them whatever layers it
 * links.
 */
#ifndef SY_TESTUTIL_H
#define SY_TESTUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Compiles src into a static executable out with the system's cc. 0, or
 * -1 when cc could not be run or failed. */
int tu_run_cc(const char *src, const char *out);

/* After a failed test: removes the cgroups left under name in every
 * cgroup v1 hierarchy, and name itself too when root_too. */
void tu_sweep_cgroups(const char *name, int root_too);

/* Makes a new directory /tmp/sy-<what>-XXXXXX, its path in dir (size
 * bytes). 0, or -1 with errno. */
int tu_mkdtemp(char *dir, size_t size, const char *what);
/* Removes path and everything under it (no shell). 0, or -1 with errno;
 * a missing path is not an error. */
int tu_rm_rf(const char *path);
/* Writes len bytes of data to path (created or truncated) with mode
 * (chmod'ed, whatever the umask). 0, or -1 with errno. */
int tu_write_file(const char *path, const void *data, size_t len,
                  mode_t mode);
/* Reads the whole file path into a malloc'd, NUL-terminated buffer (its
 * length in *len if len is not NULL). NULL with errno on failure. */
char *tu_read_file(const char *path, size_t *len);
/* The path of rel (e.g. "examples/echo") in the build directory this test
 * program was built in ($(B), the parent of $(B)/tests). 0, or -1. */
int tu_build_path(const char *rel, char *buf, size_t size);
/* Entries of dir whose name contains part ("" counts them all; "." and
 * ".." never count), or -1 with errno. */
int tu_count_entries(const char *dir, const char *part);

#endif
