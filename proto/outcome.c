#include <stdio.h>
#include <string.h>

#include "outcome.h"

static const char *const names[] = {
	[SWITCHYARD__OUTCOME__OUTCOME_UNKNOWN] = "internalError",
	[SWITCHYARD__OUTCOME__OK] = "ok",
	[SWITCHYARD__OUTCOME__EXCEPTION] = "exception",
	[SWITCHYARD__OUTCOME__EXCEEDED_CPU] = "exceededCpu",
	[SWITCHYARD__OUTCOME__EXCEEDED_MEMORY] = "exceededMemory",
	[SWITCHYARD__OUTCOME__EXCEEDED_WALL_TIME] = "exceededWallTime",
	[SWITCHYARD__OUTCOME__SCRIPT_NOT_FOUND] = "scriptNotFound",
	[SWITCHYARD__OUTCOME__CANCELED] = "canceled",
	[SWITCHYARD__OUTCOME__LOAD_SHED] = "loadShed",
	[SWITCHYARD__OUTCOME__INTERNAL_ERROR] = "internalError",
	[SWITCHYARD__OUTCOME__TOO_MANY_SUBREQUESTS] = "tooManySubrequests",
	[SWITCHYARD__OUTCOME__DENIED] = "denied",
	[SWITCHYARD__OUTCOME__FETCH_FAILED] = "fetchFailed",
};

const char *sy_outcome_name(Switchyard__Outcome o)
{
	if ((unsigned)o >= sizeof(names) / sizeof(names[0]))
		return "internalError";
	return names[o];
}

int sy_outcome_status(Switchyard__Outcome o)
{
	switch (o) {
	case SWITCHYARD__OUTCOME__OK:
		return 200;
	case SWITCHYARD__OUTCOME__EXCEPTION:
		return 500;
	case SWITCHYARD__OUTCOME__EXCEEDED_CPU:
	case SWITCHYARD__OUTCOME__EXCEEDED_MEMORY:
	case SWITCHYARD__OUTCOME__EXCEEDED_WALL_TIME:
	case SWITCHYARD__OUTCOME__LOAD_SHED:
	case SWITCHYARD__OUTCOME__TOO_MANY_SUBREQUESTS:
		return 503;
	case SWITCHYARD__OUTCOME__DENIED:
		return 403;
	case SWITCHYARD__OUTCOME__FETCH_FAILED:
		return 502;
	case SWITCHYARD__OUTCOME__SCRIPT_NOT_FOUND:
		return 404;
	case SWITCHYARD__OUTCOME__CANCELED:
		return 499;
	default:
		return 500;
	}
}

int sy_outcome_errno(Switchyard__Outcome o)
{
	switch (o) {
	case SWITCHYARD__OUTCOME__EXCEPTION:
		return 1101;
	case SWITCHYARD__OUTCOME__EXCEEDED_CPU:
	case SWITCHYARD__OUTCOME__EXCEEDED_MEMORY:
	case SWITCHYARD__OUTCOME__EXCEEDED_WALL_TIME:
		return 1102;
	default:
		return 0;
	}
}

const char *sy_status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 499: return "Client Closed Request";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

size_t sy_outcome_page(char *buf, size_t size, Switchyard__Outcome o,
                       const char *request_id)
{
	int code = sy_outcome_errno(o), status = sy_outcome_status(o);
	int has_id = request_id != NULL && *request_id != '\0';
	char num[32] = "";
	int n;

	if (size == 0)
		return 0;
	if (code)
		snprintf(num, sizeof(num), " (error %d)", code);
	n = snprintf(buf, size, "%d %s: %s%s\n%s%s%s", status,
	             sy_status_text(status), sy_outcome_name(o), num,
	             has_id ? "request id: " : "", has_id ? request_id : "",
	             has_id ? "\n" : "");
	if (n < 0)
		return 0;
	return (size_t)n < size ? (size_t)n : size - 1;
}

static const char *const viol_names[SY_VIOL_COUNT] = {
	[SY_VIOL_SYSCALL] = "syscall", [SY_VIOL_MEMORY] = "memory",
	[SY_VIOL_PROTOCOL] = "protocol", [SY_VIOL_SUBREQUESTS] = "subrequests",
	[SY_VIOL_EGRESS] = "egress", [SY_VIOL_OTHER] = "other",
	[SY_VIOL_BINDING] = "binding",
};

const char *sy_viol_name(unsigned kind)
{
	return kind < SY_VIOL_COUNT ? viol_names[kind]
	                            : viol_names[SY_VIOL_OTHER];
}

enum sy_viol sy_viol_kind(const char *what)
{
	size_t n;
	unsigned i;

	for (i = 0; i < SY_VIOL_COUNT; i++) {
		n = strlen(viol_names[i]);
		if (i != SY_VIOL_OTHER && strncmp(what, viol_names[i], n) == 0 &&
		    (what[n] == ' ' || what[n] == ':' || what[n] == '\0'))
			return (enum sy_viol)i;
	}
	return SY_VIOL_OTHER;
}
