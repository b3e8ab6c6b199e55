/*
 * The control layer (control/): the control socket yardctl talks to
 * (control.c) and one file per family of commands (ctl_*.c), all of them
 * thin: they check what the client sent and call the state and serve
 * layers below. main.c starts it with control_listen() and hears from it
 * only through the hooks it gives.
 */
#ifndef SY_CONTROL_CONTROL_H
#define SY_CONTROL_CONTROL_H

#include <stddef.h>

#include "ev.h"
#include "state/config.h"

struct control_hooks {
	/* `yardctl shutdown` was answered: stop the platform. */
	void (*shutdown)(void);
};

/* Listens on conf's control_socket (mode 0660), replacing a stale socket;
 * conf (whose plans reload replaces) and hooks are kept. 0, or -1 with
 * err. */
int control_listen(struct ev_loop *loop, struct sup_config *conf,
                   const struct control_hooks *hooks, char *err,
                   size_t errlen);
/* Closes every control connection and unlinks the socket. */
void control_close(void);

/* SIGHUP: the configuration is read again and applied as by `yardctl
 * update`, logged, with RELOADING=1 and READY=1 sent to the service
 * manager around it (ctl_reload.c). */
void control_reload(void);

#endif
