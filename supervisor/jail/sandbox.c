/*
 * The supervisor's own seccomp filter: which profile, loaded how. The
 * profile compiler is seccomp.c; the profile is
 * policies/seccomp/supervisor.policy.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "jail/sandbox.h"
#include "jail/seccomp.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_VARIANT "-asan"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_VARIANT "-asan"
#endif
#endif
#ifndef SANDBOX_VARIANT
#define SANDBOX_VARIANT ""
#endif

#define POLICY_SUFFIX ".policy"

int sandbox_profile_path(const char *p, char *buf, size_t size)
{
	size_t len = strlen(p), stem = len, n = strlen(POLICY_SUFFIX);
	int w;

	if (len > n && strcmp(p + len - n, POLICY_SUFFIX) == 0)
		stem = len - n;
	w = snprintf(buf, size, "%.*s%s%s", (int)stem, p, SANDBOX_VARIANT,
	             p + stem);
	return w < 0 || (size_t)w >= size ? -1 : 0;
}

int sandbox_supervisor(const char *policy_path, char *err, size_t errlen)
{
	char path[4096], cerr[512];
	struct sy_seccomp *s;
	int rc = 0;

	if (policy_path == NULL) {
		snprintf(err, errlen, "seccomp profile: no path");
		return -1;
	}
	if (sandbox_profile_path(policy_path, path, sizeof(path)) < 0) {
		snprintf(err, errlen, "seccomp profile %s: path too long",
		         policy_path);
		return -1;
	}
	/* $SELF_PID, if a profile used it, would be the supervisor's pid,
	 * inherited by every child: compiled in now. */
	if ((s = seccomp_compile(path, getpid(), cerr, sizeof(cerr))) == NULL) {
		snprintf(err, errlen, "seccomp profile: %s", cerr);
		return -1;
	}
	if (seccomp_apply(s) < 0) {
		snprintf(err, errlen, "seccomp profile %s: cannot load: %s",
		         path, strerror(errno));
		rc = -1;
	}
	seccomp_free(s);
	return rc;
}
