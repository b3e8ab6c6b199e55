/*
 * plan.c: what each customer plan may spend per request. The limits only
 * lower what the tenant's own deploy plan allows (ws_dispatch), so the
 * platform's configuration stays the ceiling and this table is the
 * product's price list. Changing it is a redeploy of the dispatcher, as
 * for any code of a platform.
 */
#include <string.h>

#include "dispatcher.h"

struct plan_limits {
	const char *name;
	ws_limits lim; /* cpu_ms, wall_ms, subrequests; 0: the tenant's plan */
};

/* The first entry is the most restrictive: it is also what an unknown
 * plan gets. */
static const struct plan_limits plans[] = {
	{ "free", { 10, 10000, 5 } },
	{ "pro", { 50, 30000, 50 } },
	{ "enterprise", { 0, 0, 0 } },
};

/* The entry of plan (NULL: the first), warning of an unknown one. */
static const struct plan_limits *plan_find(const char *plan, const char *host)
{
	size_t i;

	if (plan == NULL)
		return &plans[0];
	for (i = 0; i < sizeof(plans) / sizeof(plans[0]); i++)
		if (strcmp(plans[i].name, plan) == 0)
			return &plans[i];
	ws_log(WS_LOG_WARN, "host %s: unknown plan \"%s\", given the limits "
	       "of \"%s\"", host, plan, plans[0].name);
	return &plans[0];
}

const ws_limits *plan_limits(const char *plan, const char *host,
                             const char **applied)
{
	const struct plan_limits *p = plan_find(plan, host);

	if (applied != NULL)
		*applied = p->name;
	return &p->lim;
}
