/*
 * The router's seccomp filter. The profile compiler and the choice of the
 * sanitizer variant are lib/'s (seccomp_filter.c, seccomp_load.c): this
 * file only decides when.
 */
#include <stddef.h>

#include "log.h"
#include "sandbox.h"
#include "seccomp_filter.h"
#include "seccomp_load.h"

static const char *policy;
static char path[4096];
static struct sy_seccomp *filter;

void sandbox_router_policy(const char *p)
{
	policy = p;
}

void sandbox_router_prepare(void)
{
	char err[1024];

	if (policy == NULL) {
		log_warnx("no --seccomp-policy given: running without a "
		          "seccomp filter");
		return;
	}
	/* The router never forks: its own pid is known now. */
	filter = seccomp_profile_compile(policy, path, sizeof(path), err,
	                                 sizeof(err));
	if (filter == NULL)
		fatalx("%s", err);
}

void sandbox_router_apply(void)
{
	size_t len;

	if (filter == NULL)
		return;
	len = seccomp_len(filter);
	if (seccomp_apply(filter) < 0)
		fatal("seccomp profile %s: cannot load", path);
	seccomp_free(filter);
	filter = NULL;
	log_info("seccomp profile %s loaded (%zu instructions)", path, len);
}
