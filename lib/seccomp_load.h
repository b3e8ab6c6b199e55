/*
 * A seccomp profile for the calling process (seccomp_load.c): OpenBSD's
 * pledge-after-start-up on Linux. The supervisor loads
 * policies/seccomp/supervisor.policy once the listening sockets are open;
 * the router compiles router.policy while it is still root and can read
 * it, and loads it right before its event loop. The profile compiler is
 * seccomp_filter.h.
 *
 * A build with AddressSanitizer loads the profile's "-asan" sibling
 * instead (NAME.policy -> NAME-asan.policy): LeakSanitizer's check at exit
 * needs a thread, ptrace and /proc that neither program uses itself.
 */
#ifndef SY_SECCOMP_LOAD_H
#define SY_SECCOMP_LOAD_H

#include <stddef.h>

#include "seccomp_filter.h"

/*
 * The file a build loads for profile path p: p itself, or in a sanitizer
 * build "dir/NAME-asan.policy" for "dir/NAME.policy". 0, or -1 if it does
 * not fit in size.
 */
int seccomp_profile_path(const char *p, char *buf, size_t size);

/*
 * Compiles the profile a build loads for policy_path (seccomp_profile_path,
 * written to path) with $SELF_PID the caller's pid: for a process that
 * loads the filter itself, whose children (if any) inherit it. Returns the
 * filter (seccomp_free), or NULL with "seccomp profile ...: reason" in err.
 */
struct sy_seccomp *seccomp_profile_compile(const char *policy_path,
                                           char *path, size_t pathsize,
                                           char *err, size_t errlen);

/*
 * Compiles as above and loads the filter for the calling thread, which must
 * be the only one; sets no_new_privs first. Fails closed: 0, or -1 with
 * "seccomp profile PATH: reason" in err, and the caller should not go on.
 */
int seccomp_profile_load(const char *policy_path, char *err, size_t errlen);

#endif
