/*
 * Helpers shared by the unit tests (testutil.c): what more than one test
 * program needs to prepare or clean up around the code under test.
 */
#ifndef SY_TESTUTIL_H
#define SY_TESTUTIL_H

/* Compiles src into a static executable out with the system's cc. 0, or
 * -1 when cc could not be run or failed. */
int tu_run_cc(const char *src, const char *out);

/* After a failed test: removes the cgroups left under name in every
 * cgroup v1 hierarchy, and name itself too when root_too. */
void tu_sweep_cgroups(const char *name, int root_too);

#endif
