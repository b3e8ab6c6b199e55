/*
 * The worker's identity (ids.c): child side, async-signal-safe.
 */
#ifndef SY_JAIL_IDS_H
#define SY_JAIL_IDS_H

#include <sys/types.h>

/*
 * Switches the calling process to uid/gid with no supplementary groups:
 * setgroups(0), setresgid(g, g, g), setresuid(u, u, u), in that order (the
 * gid can no longer change once the uid is not root), then checks with
 * getresgid/getresuid/getgroups that all of them took. Uses raw syscalls:
 * glibc's set*id wrappers signal every thread of the process to change
 * theirs too, which in a CLONE_VM child would reach the supervisor's
 * threads. Refuses uid or gid 0 (EINVAL). 0, or -1 with errno (EPERM when
 * the check fails).
 */
int ids_switch(uid_t uid, gid_t gid);

#endif
