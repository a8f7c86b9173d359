/* noop - a static program that only exits 0: no dynamic loader, no libc start-up. What a spawn
 * of it costs is the spawn itself (bench_threads). Built with -static -nostdlib where the
 * architecture's exit system call is spelled out below, as a plain static program elsewhere. */
#if defined(__x86_64__) && defined(__linux__)
__attribute__((noreturn)) void _start(void)
{
    __asm__ volatile("mov $231, %eax\n\t" /* exit_group(0) */
                     "xor %edi, %edi\n\t"
                     "syscall\n\t");
    __builtin_unreachable();
}
#else
int main(void)
{
    return 0;
}
#endif
