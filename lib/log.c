#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static const char *log_prog = "switchyard";
static int log_level = SY_LOG_INFO;

void log_init(const char *prog, int level)
{
	log_prog = prog;
	log_level = level;
}

void log_setlevel(int level)
{
	log_level = level;
}

/* One fprintf per line so that lines from several processes sharing stderr
 * do not interleave mid-line. */
static void vlog(int level, const char *tag, int err, const char *fmt,
                 va_list ap)
{
	char msg[1024];

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (err)
		fprintf(stderr, "%s[%d]: %s: %s: %s\n", log_prog, (int)getpid(),
		        tag, msg, strerror(err));
	else
		fprintf(stderr, "%s[%d]: %s: %s\n", log_prog, (int)getpid(), tag,
		        msg);
}

void log_warn(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(SY_LOG_WARN, "warning", err, fmt, ap);
	va_end(ap);
	errno = err;
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(SY_LOG_WARN, "warning", 0, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(SY_LOG_INFO, "info", 0, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(SY_LOG_DEBUG, "debug", 0, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(SY_LOG_ERR, "fatal", err, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(SY_LOG_ERR, "fatal", 0, fmt, ap);
	va_end(ap);
	exit(1);
}
