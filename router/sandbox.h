/*
 * The router's seccomp filter (sandbox.c): OpenBSD's pledge-after-start-up
 * on Linux. The profile (policies/seccomp/router.policy, given with
 * --seccomp-policy) is compiled while the router is still root and can read
 * it, and loaded once start-up is over, right before the event loop. From
 * then on a system call outside the profile kills the router with SIGSYS,
 * which the supervisor logs.
 *
 * A build with AddressSanitizer loads the profile's "-asan" sibling
 * instead (router.policy -> router-asan.policy): LeakSanitizer's check at
 * exit needs a thread, ptrace and /proc that the router itself never uses.
 */
#ifndef SY_ROUTER_SANDBOX_H
#define SY_ROUTER_SANDBOX_H

/* Records the profile given with --seccomp-policy (config.c); NULL: none,
 * and the router runs unfiltered, with a warning. */
void sandbox_router_policy(const char *path);
/* Compiles the recorded profile. Call before dropping privileges. Fatal on
 * any error: the router does not run with a filter it could not build. */
void sandbox_router_prepare(void);
/* Loads the compiled filter for the rest of the router's life. Fatal on
 * error. */
void sandbox_router_apply(void);

#endif
