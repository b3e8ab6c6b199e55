/*
 * Logging for Switchyard's programs (never for libraries): one line per
 * event on stderr, "<prog>[pid]: <level>: message", a format journald keeps.
 * The verbs follow OpenBSD's daemons: *_warn appends strerror(errno),
 * *_warnx does not; fatal/fatalx log and exit(1).
 */
#ifndef SY_LOG_H
#define SY_LOG_H

#include <stdnoreturn.h>

enum { SY_LOG_ERR = 0, SY_LOG_WARN = 1, SY_LOG_INFO = 2, SY_LOG_DEBUG = 3 };

/* prog is kept by pointer; level is the most verbose level printed. */
void log_init(const char *prog, int level);
void log_setlevel(int level);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
