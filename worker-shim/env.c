/*
 * The worker's environment and its log. The supervisor starts a worker with
 * exactly the environment given at deploy, and captures its stderr: ws_log
 * is the one output a worker is meant to produce.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

#define LOG_LINE_MAX 2048

const char *ws_env(const char *name)
{
	if (name == NULL || *name == '\0' || strchr(name, '=') != NULL)
		return NULL;
	return getenv(name);
}

static const char *level_name(int level)
{
	switch (level) {
	case WS_LOG_DEBUG: return "debug";
	case WS_LOG_INFO: return "info";
	case WS_LOG_WARN: return "warn";
	case WS_LOG_ERROR: return "error";
	default: return "log";
	}
}

/* One write(2) per line, so lines from concurrent writers never interleave
 * and a line is never split; line breaks inside the message are flattened
 * so one call is always one line in the platform's log. */
void ws_log(int level, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	size_t n, i, pre;
	va_list ap;
	int len;
	ssize_t w;

	len = snprintf(line, sizeof(line), "%s: ", level_name(level));
	pre = (size_t)len;
	va_start(ap, fmt);
	len = vsnprintf(line + pre, sizeof(line) - pre - 1, fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	n = pre + ((size_t)len < sizeof(line) - pre - 1 ? (size_t)len :
	           sizeof(line) - pre - 2);
	while (n > pre && line[n - 1] == '\n')
		n--;
	for (i = pre; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	do {
		w = write(STDERR_FILENO, line, n);
	} while (w < 0 && errno == EINTR);
}
