/* The worker's uid/gid switch (see ids.h). */
#include <errno.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "jail/ids.h"

static int ids_check(uid_t uid, gid_t gid)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (syscall(SYS_getresuid, &ru, &eu, &su) < 0 ||
	    syscall(SYS_getresgid, &rg, &eg, &sg) < 0)
		return -1;
	if (ru != uid || eu != uid || su != uid || rg != gid || eg != gid ||
	    sg != gid || syscall(SYS_getgroups, 0, NULL) != 0) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

int ids_switch(uid_t uid, gid_t gid)
{
	if (uid == 0 || gid == 0 || uid == (uid_t)-1 || gid == (gid_t)-1) {
		errno = EINVAL;
		return -1;
	}
	if (syscall(SYS_setgroups, 0, NULL) < 0)
		return -1;
	if (syscall(SYS_setresgid, gid, gid, gid) < 0)
		return -1;
	if (syscall(SYS_setresuid, uid, uid, uid) < 0)
		return -1;
	return ids_check(uid, gid);
}
