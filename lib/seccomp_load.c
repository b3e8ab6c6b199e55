/*
 * A seccomp profile for the calling process: which file, compiled how,
 * loaded when. The profile compiler is seccomp_filter.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "seccomp_filter.h"
#include "seccomp_load.h"

#if defined(__SANITIZE_ADDRESS__)
#define PROFILE_VARIANT "-asan"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PROFILE_VARIANT "-asan"
#endif
#endif
#ifndef PROFILE_VARIANT
#define PROFILE_VARIANT ""
#endif

#define POLICY_SUFFIX ".policy"

int seccomp_profile_path(const char *p, char *buf, size_t size)
{
	size_t len = strlen(p), stem = len, n = strlen(POLICY_SUFFIX);
	int w;

	if (len > n && strcmp(p + len - n, POLICY_SUFFIX) == 0)
		stem = len - n;
	w = snprintf(buf, size, "%.*s%s%s", (int)stem, p, PROFILE_VARIANT,
	             p + stem);
	return w < 0 || (size_t)w >= size ? -1 : 0;
}

struct sy_seccomp *seccomp_profile_compile(const char *policy_path,
                                           char *path, size_t pathsize,
                                           char *err, size_t errlen)
{
	struct sy_seccomp *s;
	char cerr[512];

	if (seccomp_profile_path(policy_path, path, pathsize) < 0) {
		snprintf(err, errlen, "seccomp profile %s: path too long",
		         policy_path);
		return NULL;
	}
	/* $SELF_PID, if a profile used it, is the caller's pid: the filter
	 * is the caller's, and its children inherit it as it is. */
	if ((s = seccomp_compile(path, getpid(), cerr, sizeof(cerr))) == NULL)
		snprintf(err, errlen, "seccomp profile: %s", cerr);
	return s;
}

int seccomp_profile_load(const char *policy_path, char *err, size_t errlen)
{
	char path[4096];
	struct sy_seccomp *s;
	int rc = 0;

	if (policy_path == NULL) {
		snprintf(err, errlen, "seccomp profile: no path");
		return -1;
	}
	s = seccomp_profile_compile(policy_path, path, sizeof(path), err,
	                            errlen);
	if (s == NULL)
		return -1;
	if (seccomp_apply(s) < 0) {
		snprintf(err, errlen, "seccomp profile %s: cannot load: %s",
		         path, strerror(errno));
		rc = -1;
	}
	seccomp_free(s);
	return rc;
}
