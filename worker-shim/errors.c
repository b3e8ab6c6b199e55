/*
 * Texts for WS_E* codes, in the words the platform's error pages use.
 */
#include "shim.h"

static const char *const texts[] = {
	[0] = "success",
	[-WS_ENOTFOUND] = "worker not found",
	[-WS_EEXCEPTION] = "the worker threw an exception",
	[-WS_EEXCEEDED_CPU] = "the worker exceeded its CPU time limit",
	[-WS_EEXCEEDED_MEMORY] = "the worker exceeded its memory limit",
	[-WS_EEXCEEDED_WALL] = "the worker exceeded its wall time limit",
	[-WS_ETOOMANYSUBREQUESTS] = "too many subrequests",
	[-WS_EDENIED] = "denied by the platform's policy",
	[-WS_EIO] = "the channel to the platform failed",
	[-WS_EINVAL] = "invalid argument",
	[-WS_ENOMEM] = "out of memory",
	[-WS_EOVERLOADED] = "the worker is overloaded",
	[-WS_ECANCELED] = "the request was canceled",
	[-WS_EINTERNAL] = "the platform failed",
	[-WS_EFETCH] = "the fetch failed",
};

const char *ws_strerror(int err)
{
	if (err > 0 || err <= -(int)(sizeof(texts) / sizeof(texts[0])) ||
	    texts[-err] == NULL)
		return "unknown error";
	return texts[-err];
}
