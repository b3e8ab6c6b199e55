#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "log.h"
#include "router.h"

/* Fails unless every uid and gid of the process is the expected one. */
static void privdrop_verify(uid_t uid, gid_t gid)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		fatal("privdrop: getresuid");
	if (ru != uid || eu != uid || su != uid || rg != gid || eg != gid ||
	    sg != gid)
		fatalx("privdrop: ids did not change as asked");
	if (setuid(0) == 0 || seteuid(0) == 0)
		fatalx("privdrop: could regain root after dropping privileges");
}

void privdrop(const char *user)
{
	struct passwd *pw;
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0 && getuid() != 0) {
		/* Started unprivileged: nothing to drop. */
		log_debug("running as uid %u, no privileges to drop",
		          (unsigned)getuid());
		goto done;
	}
	if (user == NULL)
		fatalx("refusing to run as root: no --user given");
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		if (errno != 0)
			fatal("privdrop: getpwnam %s", user);
		fatalx("privdrop: unknown user %s", user);
	}
	if (pw->pw_uid == 0)
		fatalx("privdrop: user %s is root", user);
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (setgroups(1, &gid) < 0)
		fatal("privdrop: setgroups %u for %s", (unsigned)gid, user);
	if (setresgid(gid, gid, gid) < 0)
		fatal("privdrop: setresgid %u for %s", (unsigned)gid, user);
	if (setresuid(uid, uid, uid) < 0)
		fatal("privdrop: setresuid %u for %s", (unsigned)uid, user);
	privdrop_verify(uid, gid);
	log_debug("dropped privileges to %s (uid %u)", user, (unsigned)uid);
done:
	if (geteuid() == 0 || getuid() == 0)
		fatalx("still root after dropping privileges");
	/* No exec of ours may gain privileges (setuid binaries). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fatal("prctl PR_SET_NO_NEW_PRIVS");
}
