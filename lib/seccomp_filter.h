/*
 * Seccomp profiles (seccomp_filter.c): the workers' filters, which the
 * supervisor's jail loads, and the router's and supervisor's own
 * (seccomp_load.h). A profile is a text file under policies/seccomp/
 * (format: policies/seccomp/README). The supervisor compiles each worker
 * profile once with libseccomp into a classic BPF program; a worker's child
 * side only loads that program, as the very last step before its exec
 * (isolation.md §2 step 12), with no allocation and no libseccomp.
 *
 * The filter is for the native architecture only: every other audit arch and
 * every x32 syscall number hits the bad-arch action, which kills the process,
 * like any syscall the profile does not name.
 *
 * $SELF_PID. A profile may compare an argument with the worker's own pid
 * (tgkill arg0 == $SELF_PID, for raise/abort). The pid exists only after the
 * fork, so seccomp_compile() takes it:
 *   - self_pid > 0: the value is compiled in. Pass 1 for workers started in a
 *     new pid namespace, where every worker is pid 1: one compiled program
 *     then serves every spawn.
 *   - self_pid == SY_SECCOMP_PID_AT_APPLY: a placeholder is compiled in and
 *     the child patches its own pid into a copy of the program, in
 *     caller-provided scratch memory, with seccomp_apply_self(). Use this for
 *     workers that share the supervisor's pid namespace.
 */
#ifndef SY_SECCOMP_FILTER_H
#define SY_SECCOMP_FILTER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/filter.h>

#define SY_SECCOMP_PID_AT_APPLY 0

struct sy_seccomp;

/*
 * Parses the profile at path and builds its filter. Fails closed: a syscall
 * name that does not resolve on this host, an unknown constant or a malformed
 * line fails the whole load with "path:line: reason" in err. Returns the
 * compiled filter (free with seccomp_free), or NULL with err filled.
 */
struct sy_seccomp *seccomp_compile(const char *path, pid_t self_pid,
                                   char *err, size_t errlen);
void seccomp_free(struct sy_seccomp *s);

/* The program as the kernel takes it (owned by s). */
const struct sock_fprog *seccomp_prog(const struct sy_seccomp *s);
/* Instructions in the program: the scratch size seccomp_apply_self needs. */
size_t seccomp_len(const struct sy_seccomp *s);
/* 1 when the program holds a $SELF_PID placeholder (seccomp_apply_self). */
int seccomp_needs_pid(const struct sy_seccomp *s);
/*
 * 1 when the profile may let syscall name (as libseccomp spells it) run for
 * some arguments, 0 when it refuses every call of it (kill or errno), or
 * when it is not a native syscall here (the bad-arch action kills it). What
 * the jail learns of a profile before it lets workers share a namespace
 * they could reach only through such calls (supervisor/jail/spawn.c).
 */
int seccomp_may_allow(const struct sy_seccomp *s, const char *name);

/*
 * Child side, async-signal-safe (raw syscalls, no allocation). Sets
 * PR_SET_NO_NEW_PRIVS itself (idempotent, so a caller cannot forget it; the
 * kernel requires it from a process without CAP_SYS_ADMIN) and loads the
 * filter for the calling thread. 0, or -1 with errno; EINVAL when the
 * program needs seccomp_apply_self.
 */
int seccomp_apply(const struct sy_seccomp *s);
/*
 * Same, first copying the program into scratch (nscratch >= seccomp_len(s)
 * instructions, memory the caller owns) and patching the calling process's
 * pid over each $SELF_PID placeholder. Works for every program.
 */
int seccomp_apply_self(const struct sy_seccomp *s, struct sock_filter *scratch,
                       size_t nscratch);

/*
 * Parent: names syscall nr of audit architecture arch (AUDIT_ARCH_*, as the
 * kernel's audit records give it) for a message: "ptrace(101)",
 * "getpid(20, i386 ABI)", "getpid(1073741863, x32 ABI)", "?(999)" when
 * libseccomp does not know it. Written to buf, which is returned.
 */
const char *seccomp_syscall_name(uint32_t arch, long nr, char *buf,
                                 size_t size);

#endif
