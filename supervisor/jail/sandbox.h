/*
 * The supervisor's own seccomp filter (sandbox.c): OpenBSD's
 * pledge-after-start-up on Linux. Once the supervisor has opened what needs
 * more (the listening sockets, handed to the router), it loads
 * policies/seccomp/supervisor.policy, a deny-list: the supervisor keeps
 * every call it needs to build jails (clone with namespaces, mount,
 * pivot_root, set*id, capset, seccomp, exec) and loses the kernel
 * interfaces it never uses (bpf, ptrace, modules, kexec, io_uring, keys,
 * perf, sockets other than AF_UNIX, ...).
 *
 * Workers inherit the filter and stack their own on top: the stricter
 * action wins, so nothing the supervisor gives up is open to a worker.
 *
 * A build with AddressSanitizer loads the profile's "-asan" sibling instead
 * (supervisor.policy -> supervisor-asan.policy): LeakSanitizer's check at
 * exit attaches to the supervisor's threads with ptrace.
 */
#ifndef SY_JAIL_SANDBOX_H
#define SY_JAIL_SANDBOX_H

#include <stddef.h>

/*
 * Compiles the profile at policy_path (its -asan sibling in a sanitizer
 * build) and loads it for the calling thread, which must be the only one;
 * sets no_new_privs first. Fails closed: 0, or -1 with "seccomp profile
 * PATH: reason" in err, and the caller should not go on.
 */
int sandbox_supervisor(const char *policy_path, char *err, size_t errlen);

/*
 * The file a build loads for profile path p: p itself, or in a sanitizer
 * build "dir/NAME-asan.policy" for "dir/NAME.policy". 0, or -1 if it does
 * not fit in size.
 */
int sandbox_profile_path(const char *p, char *buf, size_t size);

#endif
