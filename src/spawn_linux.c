/*
 * spawn_linux.c - the Linux backend: clone(CLONE_VM | CLONE_VFORK) on a stack of our own.
 *
 * The child borrows the parent's address space until it calls execve or exits, so spawning costs
 * the same whatever the parent's size: no page tables are copied (glibc's spawni.c and CPython's
 * vfork path do the same). CLONE_VFORK suspends the calling thread until then, so the child can
 * report a failure by writing into the plan, with no pipe. CLONE_PIDFD gives a pidfd atomically.
 * Where clone3 can be called (x86-64), CLONE_CLEAR_SIGHAND has the kernel reset the child's
 * signal handlers, which child.c would otherwise do with one sigaction() per signal.
 */
#include "internal.h"

#ifdef __linux__

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

/* The child runs child.c only: a few frames of plain syscalls. 64 KiB leaves a wide margin. */
#define CHILD_STACK (64 * 1024)

/*
 * Whether clone(CLONE_VM | CLONE_VFORK) really shares memory here. The backend depends on it:
 * the child reports a failure by writing into the plan. Emulators do not always honour it:
 * valgrind (3.x) and qemu-user turn such a clone into a plain fork, so the child's report would
 * land in a copy and a failed exec would look like a success. One tiny child, once per process,
 * tells us; no environment sniffing is needed. With CLONE_VFORK honoured, the child has exited
 * before clone() returns, so its store is visible at once; without CLONE_VM it never is.
 */
int subproc__have_linux_backend(void)
{
#if defined(__SANITIZE_THREAD__)
    /* ThreadSanitizer intercepts clone() and the libc calls child.c makes (dup2, close, ...);
     * in a CLONE_VM child those interceptors update the parent's own TSan state (fork
     * bookkeeping, fd shadow), which then reports false races or aborts the next
     * pthread_create(). TSan builds therefore use the fork backend, where the child has its own
     * copy of that state. make tsan still checks everything above the backend. */
    return 0;
#endif
    char *stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return 1; /* cannot tell: keep the default, real spawns report */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    volatile int flag = 0;
    int saved_errno = errno;
    /* No exit signal: the caller's SIGCHLD handler never hears of the probe, and its
     * waitpid(-1) cannot take it from us (only __WALL waits for such a child). */
    pid_t pid = clone(subproc__probe_entry, stack + CHILD_STACK, CLONE_VM | CLONE_VFORK,
                      (void *)&flag);
    int shared = flag;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid > 0) {
        int ws;
        while (waitpid(pid, &ws, __WALL) < 0 && errno == EINTR) {
        }
    }
    munmap(stack, CHILD_STACK);
    errno = saved_errno;
    return pid < 0 || shared; /* a failed probe (EAGAIN) says nothing about the emulator */
}


static int pidfd_flag_works = 1; /* cleared once the kernel refuses CLONE_PIDFD (before 5.2) */

/*
 * clone3(2) (Linux 5.3) can start the child inside a cgroup (CLONE_INTO_CGROUP, 5.7), so that
 * not one instruction of it runs outside. It has no libc wrapper, and a child that shares our
 * memory must start on its own stack in a function, not return into the caller's frame: so a
 * few instructions of assembly call the syscall and, in the child, subproc__child_entry(plan).
 * Where there is no such stub (other architectures) the child joins the cgroup as its first
 * step instead (child.c), through an fd the parent opened.
 */
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CLONE_NEWPID
#define CLONE_NEWPID 0x20000000
#endif
#ifndef CLONE_NEWUSER
#define CLONE_NEWUSER 0x10000000
#endif
/* Linux 5.5: the child starts with every caught signal reset to SIG_DFL (ignored ones stay
 * ignored), done by the kernel while it copies the dispositions (kernel/fork.c, copy_sighand). */
#ifndef CLONE_CLEAR_SIGHAND
#define CLONE_CLEAR_SIGHAND 0x100000000ULL
#endif

struct clone_args_v2 {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
        set_tid_size, cgroup;
};

#if defined(__x86_64__)
#define HAVE_CLONE3_STUB 1
/* long subproc__clone3(struct clone_args_v2 *args, size_t size, int (*fn)(void *), void *arg):
 * returns what the syscall returns (pid, or -errno). The child calls fn(arg) on the stack
 * clone3 gave it and exits with its return value. */
long subproc__clone3(struct clone_args_v2 *args, size_t size, int (*fn)(void *), void *arg);
__asm__(".text\n"
        ".globl subproc__clone3\n"
        ".hidden subproc__clone3\n"
        ".type subproc__clone3,@function\n"
        "subproc__clone3:\n"
        "    mov %rcx, %r8\n" /* arg: r8 and r9 survive the syscall in both processes */
        "    mov %rdx, %r9\n" /* fn */
        "    mov $435, %eax\n" /* __NR_clone3 */
        "    syscall\n"
        "    test %rax, %rax\n"
        "    jnz 1f\n"
        "    xor %ebp, %ebp\n" /* child: a fresh stack, no frame to return to */
        "    mov %r8, %rdi\n"
        "    and $-16, %rsp\n"
        "    call *%r9\n"
        "    mov %eax, %edi\n"
        "    mov $60, %eax\n" /* __NR_exit */
        "    syscall\n"
        "    hlt\n"
        "1:  ret\n"
        ".size subproc__clone3,.-subproc__clone3\n");
#else
#define HAVE_CLONE3_STUB 0
#endif

static int clone3_works = HAVE_CLONE3_STUB;        /* cleared on ENOSYS */
static int clear_sighand_works = HAVE_CLONE3_STUB; /* cleared once the kernel refuses the flag */
int subproc__test_no_clear_sighand;

int subproc__clear_sighand_works(void)
{
    return !subproc__test_no_clear_sighand && __atomic_load_n(&clone3_works, __ATOMIC_RELAXED) &&
           __atomic_load_n(&clear_sighand_works, __ATOMIC_RELAXED);
}

/*
 * clone3 for every spawn where there is a stub: CLONE_INTO_CGROUP and/or CLONE_NEWPID when the
 * plan asks, CLONE_CLEAR_SIGHAND always. The flag spares the child its own look at all 64
 * dispositions (child.c, reset_signals), which is most of what it does before execve. A kernel
 * before 5.5 refuses the unknown flag with EINVAL: the call is made again without it, and only
 * if that one gets past EINVAL is the flag blamed and not asked for again (an EINVAL of the
 * cgroup's, say, must not switch it off). Returns the pid, -1 with errno, or -2 when clone3 is
 * not to be had (the caller then uses clone()).
 */
static pid_t clone3_child(struct subproc__plan *pl, char *stack, int *pidfd)
{
#if HAVE_CLONE3_STUB
    if (!__atomic_load_n(&clone3_works, __ATOMIC_RELAXED)) return -2;
    int clear = subproc__clear_sighand_works(), blame = 0;
    long r;
    for (;;) {
        struct clone_args_v2 a;
        memset(&a, 0, sizeof a);
        a.flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD | (clear ? CLONE_CLEAR_SIGHAND : 0);
        if (pl->cgroup_fd >= 0) {
            a.flags |= CLONE_INTO_CGROUP;
            a.cgroup = (uint64_t)pl->cgroup_fd;
        }
        if (pl->newpid) a.flags |= CLONE_NEWPID | (pl->newuser ? CLONE_NEWUSER : 0);
        a.pidfd = (uint64_t)(uintptr_t)pidfd;
        a.exit_signal = SIGCHLD;
        a.stack = (uint64_t)(uintptr_t)stack;
        a.stack_size = CHILD_STACK;
        /* Read by the child, which shares this memory: set before it can run. */
        pl->in_cgroup = pl->cgroup_fd >= 0;
        pl->sighand_cleared = clear;
        r = subproc__clone3(&a, sizeof a, subproc__child_entry, pl);
        if (r >= 0) break;
        pl->in_cgroup = 0;
        pl->sighand_cleared = 0;
        if (r == -EINVAL && clear) {
            clear = 0;
            blame = 1;
            continue;
        }
        break;
    }
    if (blame && r != -EINVAL) __atomic_store_n(&clear_sighand_works, 0, __ATOMIC_RELAXED);
    if (r >= 0) return (pid_t)r;
    if (r == -ENOSYS || r == -E2BIG) {
        __atomic_store_n(&clone3_works, 0, __ATOMIC_RELAXED);
        return -2;
    }
    errno = (int)-r;
    return -1;
#else
    (void)pl, (void)stack, (void)pidfd;
    return -2;
#endif
}

/*
 * Child stacks are reused: a fresh mmap/munmap per spawn costs two system calls and the page
 * faults of a new stack every time. A spawn takes a stack out of a small process-wide cache and
 * puts it back when the clone returns: CLONE_VFORK suspends the spawning thread until the child
 * has called execve or exited, and after that the child no longer runs on our memory. Each slot
 * is taken with an atomic exchange and refilled with a compare-and-swap, so there is no lock (a
 * fork() of the caller's can never inherit one held) and no ABA. Threads spawning at once use
 * different slots; beyond STACK_SLOTS of them the extra stacks are mapped and unmapped per
 * spawn. Nothing is registered per thread, so no destructor can outlive a dlclose() of the
 * library (the cached stacks then stay mapped: at most STACK_SLOTS x CHILD_STACK bytes).
 */
#define STACK_SLOTS 8
static char *stack_slots[STACK_SLOTS];

static char *stack_get(void)
{
    for (int i = 0; i < STACK_SLOTS; i++) {
        char *stack = __atomic_exchange_n(&stack_slots[i], NULL, __ATOMIC_ACQUIRE);
        if (stack) return stack;
    }
    char *stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    return stack == MAP_FAILED ? NULL : stack;
}

static void stack_put(char *stack)
{
    for (int i = 0; i < STACK_SLOTS; i++) {
        char *empty = NULL;
        if (__atomic_compare_exchange_n(&stack_slots[i], &empty, stack, 0, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED))
            return;
    }
    munmap(stack, CHILD_STACK);
}

int subproc__spawn_linux(struct subproc__plan *pl, pid_t *out_pid, int *out_pidfd,
                         subproc_error *err)
{
    if (subproc__alloc_fails()) return subproc__fail(err, SUBPROC_STEP_CLONE, ENOMEM, -1, NULL);
    char *stack = stack_get();
    if (!stack) return subproc__fail(err, SUBPROC_STEP_CLONE, errno, -1, NULL);

    /* Block every signal around the clone: a handler must never run in the child, which shares
     * our memory, before its dispositions are reset (by clone3 itself, or by child.c).
     * Cancellation is off for the same window. The child restores the caller's mask (or the
     * requested one) just before exec. */
    sigset_t all, old;
    int cancel_state, saved_errno = errno;
    sigfillset(&all);
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    if (!(pl->flags & SUBPROC_SET_SIGMASK)) pl->child_mask = old;

    int pidfd = -1;
    int flags = CLONE_VM | CLONE_VFORK | SIGCHLD;
    pid_t pid = -1;
    if (!(pl->cgroup_fd >= 0 || pl->newpid) && subproc__clear_sighand_works()) {
        /* Nothing but clone3 can clear the handlers. No fd left for the pidfd: clone() below
         * starts the child without one. */
        pid = clone3_child(pl, stack, &pidfd);
        if (pid >= 0 || (pid == -1 && errno != EMFILE && errno != ENFILE)) goto cloned;
        pid = -1;
    } else if (pl->cgroup_fd >= 0 || pl->newpid) {
        pid = clone3_child(pl, stack, &pidfd);
        if (pid != -2) goto cloned;
        pid = -1;
        if (pl->newpid) flags |= CLONE_NEWPID | (pl->newuser ? CLONE_NEWUSER : 0);
        /* No clone3 here: the child joins its cgroup by itself, first thing (child.c). */
        int jr = subproc__plan_join_fd(pl);
        if (jr < 0) {
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            pthread_setcancelstate(cancel_state, NULL);
            stack_put(stack);
            errno = saved_errno;
            return subproc__fail(err, SUBPROC_STEP_CGROUP, -jr, -1, "cgroup.procs");
        }
    }
    if (__atomic_load_n(&pidfd_flag_works, __ATOMIC_RELAXED)) {
        pid = clone(subproc__child_entry, stack + CHILD_STACK, flags | CLONE_PIDFD, pl, &pidfd);
        if (pid < 0 && errno == EINVAL) __atomic_store_n(&pidfd_flag_works, 0, __ATOMIC_RELAXED);
    }
    /* A kernel without CLONE_PIDFD (EINVAL), or no fd left for the pidfd (EMFILE, ENFILE): the
     * child can still be started and handled by PID, which the handle's lock keeps safe. */
    if (pid < 0 && (!__atomic_load_n(&pidfd_flag_works, __ATOMIC_RELAXED) || errno == EMFILE ||
                    errno == ENFILE)) {
        pidfd = -1;
        pid = clone(subproc__child_entry, stack + CHILD_STACK, flags, pl);
    }
cloned:;
    int clone_errno = errno;

    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_setcancelstate(cancel_state, NULL);
    stack_put(stack);
    errno = saved_errno;

    if (pid < 0) return subproc__fail(err, SUBPROC_STEP_CLONE, clone_errno, -1, NULL);

    if (pl->fail_step) {
        /* The child has exited (CLONE_VFORK resumed us); reap it so nothing is left. */
        subproc__close(pidfd);
        subproc__reap(pid);
        return -pl->fail_errno;
    }
    /* clone puts the pidfd on the lowest free number, which is 0-2 when the caller runs with
     * a standard fd closed; the next "inherit" child would get it as stdin. */
    if (pidfd >= 0) pidfd = subproc__fd_lift(pidfd);
    if (pidfd < 0) {
        int fd = subproc__pidfd_open(pid);
        pidfd = fd >= 0 ? fd : -1;
    }
    *out_pid = pid;
    *out_pidfd = pidfd;
    return 0;
}

#else /* !__linux__ */

int subproc__test_no_clear_sighand;

int subproc__clear_sighand_works(void)
{
    return 0;
}

int subproc__have_linux_backend(void)
{
    return 0;
}

int subproc__spawn_linux(struct subproc__plan *pl, pid_t *pid, int *pidfd, subproc_error *err)
{
    return subproc__spawn_posix(pl, pid, pidfd, err);
}

#endif
