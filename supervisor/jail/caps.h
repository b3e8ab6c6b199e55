/*
 * Capabilities of a jailed worker (caps.c). The parent learns how many
 * capabilities the kernel has; the child, still root, empties its bounding
 * and ambient sets and locks the securebits, switches ids (ids.c), then
 * clears its remaining sets and checks that nothing is left.
 *
 * Child-side functions are async-signal-safe: raw prctl/capget/capset, no
 * allocation, no libcap (safe after fork and in a CLONE_VM child).
 */
#ifndef SY_JAIL_CAPS_H
#define SY_JAIL_CAPS_H

#include <stddef.h>

/* Parent: the highest capability number this kernel knows
 * (/proc/sys/kernel/cap_last_cap, else libcap's cap_max_bits()), or -1 with
 * errno. */
int caps_last_cap(void);
/*
 * Parent: 0 when this process has, effective, every capability the jail
 * needs: CAP_SYS_ADMIN (namespaces, mounts), CAP_SETUID and CAP_SETGID
 * (the worker's identity), CAP_SETPCAP (bounding set, securebits) and
 * CAP_KILL (signalling workers of other uids). Else -1 with the missing
 * ones named in buf ("CAP_SYS_ADMIN CAP_SETPCAP"), or errno's text.
 */
int caps_jail_missing(char *buf, size_t size);

/*
 * Child, while root with CAP_SETPCAP, before the uid change: drops every
 * capability 0..last_cap from the bounding set, clears the ambient and
 * inheritable sets, and sets and locks the securebits NOROOT,
 * NO_SETUID_FIXUP, NO_CAP_AMBIENT_RAISE (and locks KEEP_CAPS off), so that no
 * later exec or uid change can give capabilities back. 0, or -1 with errno.
 *
 * NO_SETUID_FIXUP means the uid change itself no longer clears the
 * permitted and effective sets: caps_clear() must follow ids_switch().
 */
int caps_drop_all(int last_cap);
/* Child, after ids_switch(): empties the effective, permitted and
 * inheritable sets (capset). 0, or -1 with errno. */
int caps_clear(void);
/* Child: 0 when capget reports every set empty (effective, permitted,
 * inheritable, both words), else -1 with errno EPERM (or capget's). */
int caps_verify_none(void);

#endif
