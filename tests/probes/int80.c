/*
 * Does this kernel run the i386 system call ABI? getpid through int $0x80,
 * unjailed and unfiltered: exit 0 when it ran. A kernel built or booted
 * without it (CONFIG_IA32_EMULATION off, ia32_emulation=0) answers the
 * instruction itself with SIGSEGV, before any seccomp filter sees a call,
 * and the jail's tests then check for that instead (test_jail.py).
 */
#include <stdio.h>

int main(void)
{
#ifdef __x86_64__
	long r;

	/* 20 is getpid in the i386 table */
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
	printf("i386 getpid: %ld\n", r);
	return r > 0 ? 0 : 1;
#else
	puts("not x86_64: no i386 ABI to probe");
	return 2;
#endif
}
