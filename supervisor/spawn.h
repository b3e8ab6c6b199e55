/*
 * Starting one worker process (spawn.c). The child's set-up is an ordered
 * list of steps; a step that fails reports "step N (name) failed: error"
 * back over a close-on-exec pipe before the child exits, so the parent knows
 * exactly what went wrong instead of guessing from an exit status.
 */
#ifndef SY_SPAWN_H
#define SY_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

struct spawn_req {
	const char *worker;   /* "ns/name", for SWITCHYARD_WORKER and errors */
	const char *exe;      /* absolute path of the executable */
	char *const *env;     /* "K=V" strings of the version */
	size_t nenv;
};

struct spawn_res {
	pid_t pid;
	int sock;             /* our end of the worker's fd 3 (cloexec) */
	int out, err;         /* read ends of its stdout and stderr (cloexec) */
};

/*
 * Starts the worker and waits until it has exec'd. Returns 0 and fills res,
 * or -1 with the reason in err ("step 5 (execve) failed: No such file or
 * directory"), not naming the worker; the failed child has been reaped.
 */
int spawn_worker(const struct spawn_req *req, struct spawn_res *res,
                 char *err, size_t errlen);

/* Resets signal dispositions and the mask a child inherits; used by the
 * router's start too. 0 or -1. */
int spawn_reset_signals(void);

#endif
