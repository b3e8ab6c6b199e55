#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static const char *log_prog = "switchyard";
static int log_level = SY_LOG_INFO;
static int log_journal; /* stderr is journald's stream: add <N> priorities */

/* systemd sets JOURNAL_STREAM=dev:ino for a service whose stderr goes to
 * the journal; only then does a "<3>" prefix become the line's priority
 * (and not text on somebody's terminal). */
static int stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void log_init(const char *prog, int level)
{
	log_prog = prog;
	log_level = level;
	log_journal = stderr_is_journal();
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

	/* syslog priorities: err 3, warning 4, info 6, debug 7 */
	static const char *const prio[] = { "<3>", "<4>", "<6>", "<7>" };
	const char *p = log_journal ? prio[level] : "";

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (err)
		fprintf(stderr, "%s%s[%d]: %s: %s: %s\n", p, log_prog,
		        (int)getpid(), tag, msg, strerror(err));
	else
		fprintf(stderr, "%s%s[%d]: %s: %s\n", p, log_prog,
		        (int)getpid(), tag, msg);
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
