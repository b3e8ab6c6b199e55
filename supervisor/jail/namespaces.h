/*
 * A worker's namespaces (namespaces.c): which are its own and which it
 * joins. Its pid, mount and UTS namespaces are always its own (clone()
 * makes them: pid 1 is the worker, the mounts hold its own /tmp). The
 * network and IPC namespaces are made once, empty, and shared by every
 * worker whose seccomp profile refuses every call that could reach them;
 * a worker whose profile allows one gets that namespace of its own.
 * docs/security.md, "What workers share", says why sharing them gives a
 * worker nothing.
 */
#ifndef SY_JAIL_NAMESPACES_H
#define SY_JAIL_NAMESPACES_H

#include <stddef.h>

#include "jail/jail.h"
#include "seccomp_filter.h"

/* The namespaces clone() always makes for a worker. */
#define NS_OWN (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS)

/*
 * Makes the shared network and IPC namespaces, empty, and keeps them open.
 * 0, or -1 with the reason in err. Costs one network namespace (0.4-0.8 ms
 * here), once.
 */
int ns_shared_init(char *err, size_t errlen);
/* Closes them; the kernel frees them with their last worker. Safe to call
 * when ns_shared_init failed or never ran. */
void ns_shared_fini(void);

/*
 * The CLONE_NEW* flags of the shared namespaces that a worker under filter
 * could reach (seccomp_may_allow of the calls that reach each): its workers
 * need them of their own. Logs each, naming the profile at path.
 */
int ns_reachable(const struct sy_seccomp *filter, const char *path);

/*
 * For one worker whose profile reaches private_ns (ns_reachable): adds the
 * shared namespaces it joins to spec->join, and returns the CLONE_NEW*
 * flags clone() must make, NS_OWN and private_ns. Without ns_shared_init,
 * every namespace is its own.
 */
int ns_plan(struct jail_spec *spec, int private_ns);

#endif
