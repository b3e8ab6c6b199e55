/*
 * What main.c offers the supervisor's other modules (beyond supervisor.h).
 */
#ifndef SY_MAIN_H
#define SY_MAIN_H

#include <stddef.h>

/* Stops the platform and makes the supervisor exit with code once every
 * child is reaped. Safe to call more than once (the first code wins). */
void sup_shutdown(int code);
/* 1 once sup_shutdown() ran. */
int sup_stopping(void);
/* The end of every event callback: writes queued frames, recycles calls. */
void sup_settle(void);
/* Formats a wait status: "exited with status 3", "killed by signal 11
 * (SIGSEGV)". */
const char *sup_wait_reason(int status, char *buf, size_t size);

#endif
