/*
 * bench_threads [-r max] [-m min] [-t budget] NOOP 0
 * bench_threads [-r max] [-m min] [-t budget] NOOP SPAWNS_PER_THREAD THREADS...
 *
 * Comparison "spawn-static": spawn+wait of NOOP, a static program that only exits (built by the
 * bench, bench/noop.c): no dynamic loader, no libc start-up, so what is left is the spawn itself
 * and the library's own work around it. Against glibc's posix_spawn and the least a program can
 * do: clone3(CLONE_VM|CLONE_VFORK) onto a stack of its own, execve, waitid.
 *
 * Comparison "threads" (when THREADS are given): THREADS threads at once, each doing SPAWNS_PER_THREAD spawn+wait of
 * NOOP; the time for the whole batch (run.py turns it into spawns per second).
 */
#include "bench.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int posix_spawn_once(const char *prog)
{
    char *argv[] = {(char *)prog, NULL};
    pid_t pid;
    if (posix_spawn(&pid, prog, NULL, NULL, argv, environ) != 0)
        return -1;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int raw_posix_spawn(bench_ctx *c, void *state)
{
    (void)state;
    return posix_spawn_once(c->prog) == 0 ? BENCH_OK : bench_fail(c, "posix_spawn %s failed", c->prog);
}

#if defined(__x86_64__) && defined(__linux__)
/* struct clone_args of linux/sched.h (Linux 5.3), spelled out for older headers. */
struct clone3_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};
#define CLONE_VM_ 0x100
#define CLONE_VFORK_ 0x4000
#define NR_clone3 435

/* clone3 onto `stack`; the child runs three instructions' worth of code - execve, and exit(127)
 * if that fails - without touching the stack, so no C runs in it. Returns the child's pid. */
static long clone3_execve(struct clone3_args *ca, const char *path, char *const *argv, char *const *envp)
{
    long ret;
    __asm__ volatile("syscall\n\t"
                     "test %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     "mov $59, %%eax\n\t" /* execve */
                     "mov %[path], %%rdi\n\t"
                     "mov %[argv], %%rsi\n\t"
                     "mov %[envp], %%rdx\n\t"
                     "syscall\n\t"
                     "mov $60, %%eax\n\t" /* exit */
                     "mov $127, %%edi\n\t"
                     "syscall\n\t"
                     "1:\n\t"
                     : "=a"(ret)
                     : "a"((long)NR_clone3), "D"(ca), "S"(sizeof *ca), [path] "r"(path),
                       [argv] "r"(argv), [envp] "r"(envp)
                     : "rcx", "r11", "rdx", "memory");
    return ret;
}

static int raw_clone3(bench_ctx *c, void *state)
{
    (void)state;
    static char stack[64 << 10] __attribute__((aligned(16)));
    char *argv[] = {(char *)c->prog, NULL};
    struct clone3_args ca = {.flags = CLONE_VM_ | CLONE_VFORK_, .exit_signal = SIGCHLD,
                             .stack = (uintptr_t)stack, .stack_size = sizeof stack};
    long pid = clone3_execve(&ca, c->prog, argv, environ);
    if (pid < 0)
        return bench_fail(c, "clone3: %s", strerror((int)-pid));
    siginfo_t si;
    memset(&si, 0, sizeof si);
    while (waitid(P_PID, (id_t)pid, &si, WEXITED) < 0)
        if (errno != EINTR)
            return bench_fail(c, "waitid: %s", strerror(errno));
    return si.si_code == CLD_EXITED && si.si_status == 0 ? BENCH_OK
                                                          : bench_fail(c, "%s did not exit 0", c->prog);
}
#else
static int raw_clone3(bench_ctx *c, void *state)
{
    (void)state;
    return bench_skip(c, "the raw clone3 baseline is written for x86-64 Linux only");
}
#endif

struct px_thread {
    bench_ctx *c;
    int bad;
};

static void *px_thread(void *arg)
{
    struct px_thread *t = arg;
    for (int i = 0; i < t->c->njobs; i++)
        t->bad += posix_spawn_once(t->c->prog) != 0;
    return NULL;
}

static int raw_posix_spawn_threads(bench_ctx *c, void *state)
{
    (void)state;
    pthread_t th[64];
    struct px_thread t[64];
    int n = c->jobs < 64 ? c->jobs : 64, bad = 0;
    for (int i = 0; i < n; i++) {
        t[i] = (struct px_thread){c, 0};
        if (pthread_create(&th[i], NULL, px_thread, &t[i]) != 0)
            return bench_fail(c, "pthread_create failed");
    }
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        bad += t[i].bad;
    }
    return bad ? bench_fail(c, "%d spawns failed", bad) : BENCH_OK;
}

static const bench_contender statics[] = {
    {.name = "subproc", .kind = "subproc", .run = sp_spawn_prog},
    {.name = "clone3(CLONE_VM|CLONE_VFORK)+execve+waitid", .kind = "raw", .run = raw_clone3},
    {.name = "posix_spawn", .kind = "raw", .run = raw_posix_spawn},
};

static const bench_contender threaded[] = {
    {.name = "subproc", .kind = "subproc", .run = sp_spawn_threads},
    {.name = "posix_spawn", .kind = "raw", .run = raw_posix_spawn_threads},
};

int main(int argc, char **argv)
{
    bench_limits lim = {.min_rounds = 5, .max_rounds = 200, .budget_s = 10};
    bench_ctx c = {.peer = "peer.py"};
    int i = bench_parse(argc, argv, &lim, &c);
    if (argc - i < 2) {
        fprintf(stderr, "usage: bench_threads [opts] NOOP 0 | NOOP SPAWNS_PER_THREAD THREADS...\n");
        return 2;
    }
    c.prog = argv[i];
    c.njobs = atoi(argv[i + 1]);
    if (argc - i == 2) { /* no thread counts: the single spawn only */
        bench_comparison st = {.name = "spawn-static", .param = "static no-op", .unit = "ns"};
        bench_compare(&st, statics, sizeof statics / sizeof *statics, &c, &lim);
    }
    for (i += 2; i < argc; i++) {
        char param[32];
        c.jobs = atoi(argv[i]);
        snprintf(param, sizeof param, "T=%d, %d spawns", c.jobs, c.jobs * c.njobs);
        bench_comparison th = {.name = "threads", .param = param, .unit = "ns"};
        bench_compare(&th, threaded, sizeof threaded / sizeof *threaded, &c, &lim);
    }
    return 0;
}
