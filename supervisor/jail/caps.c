/*
 * Capability drop for the worker's child side (see caps.h). The kernel
 * capability ABI (version 3: two 32-bit words per set) is used directly,
 * so the child never touches libcap's allocator.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <linux/securebits.h>
#include <sys/capability.h>

#include "jail/caps.h"

#define CAP_V3 0x20080522 /* _LINUX_CAPABILITY_VERSION_3 */

struct cap_hdr {
	uint32_t version;
	int pid;
};

struct cap_data {
	uint32_t effective, permitted, inheritable;
};

#define JAIL_SECUREBITS                                                    \
	(SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |   \
	 SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |         \
	 SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED)

int caps_last_cap(void)
{
	char buf[16];
	ssize_t n;
	long v;
	char *end;
	int fd;

	fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			v = strtol(buf, &end, 10);
			if (end != buf && (*end == '\n' || *end == '\0') &&
			    v >= 0 && v < 64)
				return (int)v;
		}
	}
	/* No /proc: libcap probes the bounding set instead. */
	v = cap_max_bits();
	if (v <= 0 || v > 64) {
		errno = ENOTSUP;
		return -1;
	}
	return (int)v - 1;
}

int caps_jail_missing(char *buf, size_t size)
{
	static const cap_value_t need[] = { CAP_SYS_ADMIN, CAP_SETUID,
		                            CAP_SETGID, CAP_SETPCAP, CAP_KILL };
	cap_flag_value_t v;
	size_t i, off = 0;
	char *name, *p;
	cap_t c;

	buf[0] = '\0';
	if ((c = cap_get_proc()) == NULL) {
		snprintf(buf, size, "cap_get_proc: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (cap_get_flag(c, need[i], CAP_EFFECTIVE, &v) == 0 &&
		    v == CAP_SET)
			continue;
		name = cap_to_name(need[i]);
		for (p = name; p != NULL && *p != '\0'; p++)
			*p = (char)toupper((unsigned char)*p);
		if (off < size)
			off += (size_t)snprintf(buf + off, size - off, "%s%s",
			                        off ? " " : "",
			                        name ? name : "?");
		cap_free(name);
	}
	cap_free(c);
	return buf[0] == '\0' ? 0 : -1;
}

static int cap_get(struct cap_data d[2])
{
	struct cap_hdr h = { .version = CAP_V3, .pid = 0 };

	return (int)syscall(SYS_capget, &h, d);
}

static int cap_set(const struct cap_data d[2])
{
	struct cap_hdr h = { .version = CAP_V3, .pid = 0 };

	return (int)syscall(SYS_capset, &h, d);
}

int caps_drop_all(int last_cap)
{
	struct cap_data d[2];
	int c;

	if (last_cap < 0 || last_cap >= 64) {
		errno = EINVAL;
		return -1;
	}
	for (c = 0; c <= last_cap; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
			return -1;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return -1;
	if (cap_get(d) < 0)
		return -1;
	d[0].inheritable = d[1].inheritable = 0;
	if (cap_set(d) < 0)
		return -1;
	return prctl(PR_SET_SECUREBITS, JAIL_SECUREBITS, 0, 0, 0) < 0 ? -1 : 0;
}

int caps_clear(void)
{
	struct cap_data d[2];

	memset(d, 0, sizeof(d));
	return cap_set(d);
}

int caps_verify_none(void)
{
	struct cap_data d[2];
	int i;

	if (cap_get(d) < 0)
		return -1;
	for (i = 0; i < 2; i++) {
		if (d[i].effective || d[i].permitted || d[i].inheritable) {
			errno = EPERM;
			return -1;
		}
	}
	return 0;
}
