/*
 * The control protocol's result codes, which are yardctl's exit codes
 * (docs/DESIGN.md): the supervisor puts one in CtlResponse.code, yardctl
 * exits with it. Written once, here, so that the two cannot drift.
 */
#ifndef SY_CTL_CODES_H
#define SY_CTL_CODES_H

enum {
	CTL_OK = 0,
	CTL_FAIL = 1,           /* anything else: it could not be done */
	CTL_USAGE = 2,          /* unknown command, missing or extra argument */
	CTL_UNREACHABLE = 3,    /* yardctl's alone: no supervisor at the
	                         * socket; never in a CtlResponse */
	CTL_UNKNOWN_WORKER = 4, /* no such worker */
	CTL_BAD_INPUT = 5,      /* bad file, name, plan or environment */
	CTL_NOT_RUNNING = 6     /* status: a worker is STOPPED, STOPPING or
	                         * FATAL */
};

#endif
