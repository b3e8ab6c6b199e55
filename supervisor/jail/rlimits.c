/* Resource limits applied in the worker's child side (see rlimits.h). */
#include <stddef.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "jail/rlimits.h"

static int set_one(int resource, rlim_t v, int *failed_resource)
{
	struct rlimit rl = { .rlim_cur = v, .rlim_max = v };

	if (syscall(SYS_prlimit64, 0, resource, &rl, NULL) < 0) {
		*failed_resource = resource;
		return -1;
	}
	return 0;
}

int rlimits_apply(const struct sy_rlimits *r, int *failed_resource)
{
	static const int zero[] = { RLIMIT_CORE, RLIMIT_MEMLOCK,
		                    RLIMIT_MSGQUEUE, RLIMIT_RTPRIO };
	const struct {
		int resource;
		rlim_t v;
	} set[] = {
		{ RLIMIT_NOFILE, r->nofile }, { RLIMIT_NPROC, r->nproc },
		{ RLIMIT_FSIZE, r->fsize },   { RLIMIT_CPU, r->cpu_s },
		{ RLIMIT_AS, r->as_bytes },
	};
	size_t i;

	for (i = 0; i < sizeof(zero) / sizeof(zero[0]); i++)
		if (set_one(zero[i], 0, failed_resource) < 0)
			return -1;
	for (i = 0; i < sizeof(set) / sizeof(set[0]); i++)
		if (set[i].v != 0 &&
		    set_one(set[i].resource, set[i].v, failed_resource) < 0)
			return -1;
	return 0;
}

const char *rlimits_name(int resource)
{
	switch (resource) {
	case RLIMIT_CORE: return "RLIMIT_CORE";
	case RLIMIT_MEMLOCK: return "RLIMIT_MEMLOCK";
	case RLIMIT_MSGQUEUE: return "RLIMIT_MSGQUEUE";
	case RLIMIT_RTPRIO: return "RLIMIT_RTPRIO";
	case RLIMIT_NOFILE: return "RLIMIT_NOFILE";
	case RLIMIT_NPROC: return "RLIMIT_NPROC";
	case RLIMIT_FSIZE: return "RLIMIT_FSIZE";
	case RLIMIT_CPU: return "RLIMIT_CPU";
	case RLIMIT_AS: return "RLIMIT_AS";
	default: return "RLIMIT_?";
	}
}
