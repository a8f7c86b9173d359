/*
 * spawn_posix.c - the portable backend: fork() and an error pipe.
 *
 * Used on systems without the Linux backend, for fork mode (a caller's function must run in a
 * real copy of the process), and on Linux when SUBPROC_BACKEND=posix or SUBPROC_FORCE_FORK.
 * The child reports a failed step through a CLOEXEC pipe; end-of-file means exec (or, in fork
 * mode, the setup) succeeded. Cost grows with the parent's memory, unlike the Linux backend.
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <fcntl.h>
#include <sched.h>
#include <sys/syscall.h>

/* pidfd_open(2) exists (Linux 5.3): asked once with an invalid flag, which fails with EINVAL
 * where the call exists and ENOSYS where it does not. */
static int have_pidfd_open(void)
{
    static int known = -1;
    int k = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (k < 0) {
#ifdef SYS_pidfd_open
        int saved = errno;
        k = !(syscall(SYS_pidfd_open, getpid(), ~0u) < 0 && errno == ENOSYS);
        errno = saved;
#else
        k = 0;
#endif
        __atomic_store_n(&known, k, __ATOMIC_RELAXED);
    }
    return k;
}
#endif

int subproc__spawn_posix(struct subproc__plan *pl, pid_t *out_pid, int *out_pidfd,
                         subproc_error *err)
{
    int ep[2], gp[2] = {-1, -1}, r;
    /* A contained child joins its cgroup by itself, first thing (child.c). */
    if ((r = subproc__plan_join_fd(pl)) < 0)
        return subproc__fail(err, SUBPROC_STEP_CGROUP, -r, -1, "cgroup.procs");
    if ((r = subproc__pipe(ep)) < 0) return subproc__fail(err, SUBPROC_STEP_PIPE, -r, -1, NULL);
    pl->errfd = ep[1];
#ifdef __linux__
    /* The child waits on gp until we hold its pidfd: see child.c. Without pidfd_open (before
     * Linux 5.3) there is nothing to wait for. */
    if (have_pidfd_open() && (r = subproc__pipe(gp)) < 0) {
        subproc__close(ep[0]);
        subproc__close(ep[1]);
        return subproc__fail(err, SUBPROC_STEP_PIPE, -r, -1, NULL);
    }
    pl->gofd = gp[0];
    /* A new PID namespace for the child: unshare() sets the namespace of the calling thread's
     * future children only, and setns() back to our own afterwards undoes it. */
    int own_ns = -1;
    if (pl->newpid) {
        own_ns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
        if (own_ns < 0 || unshare(CLONE_NEWPID | (pl->newuser ? CLONE_NEWUSER : 0)) < 0) {
            int e = errno;
            subproc__close(own_ns);
            subproc__close(ep[0]);
            subproc__close(ep[1]);
            subproc__close(gp[0]);
            subproc__close(gp[1]);
            pl->gofd = -1;
            return subproc__fail(err, SUBPROC_STEP_CLONE, e, -1, NULL);
        }
    }
#endif

    /* Signals stay blocked from fork until child.c has reset the dispositions: the caller's
     * handlers must not run in the child. */
    sigset_t all, old;
    int cancel_state;
    sigfillset(&all);
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    if (!(pl->flags & SUBPROC_SET_SIGMASK)) pl->child_mask = old;

    pid_t pid = fork();
    if (pid == 0) {
        subproc__close(ep[0]);
        subproc__close(gp[1]);
        subproc__child(pl);
    }
    int fork_errno = errno;
#ifdef __linux__
    if (own_ns >= 0) {
        setns(own_ns, CLONE_NEWPID);
        subproc__close(own_ns);
    }
#endif
    /* Before the child can exit: a pidfd taken now is still of our child. Then one byte lets it
     * go on (not end-of-file: children other threads fork meanwhile hold copies of gp[1] until
     * their exec, and they may be waiting on us in turn). */
    int pidfd = pid > 0 && gp[1] >= 0 ? subproc__pidfd_open(pid) : -1;
    if (pidfd < -1) pidfd = -1;
    if (pid > 0 && gp[1] >= 0) {
        ssize_t w;
        do
            w = write(gp[1], "g", 1);
        while (w < 0 && errno == EINTR);
    }
    subproc__close(gp[1]);
    subproc__close(gp[0]);
    pl->gofd = -1;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_setcancelstate(cancel_state, NULL);
    subproc__close(ep[1]);
    pl->errfd = -1;

    if (pid < 0) {
        subproc__close(ep[0]);
        return subproc__fail(err, SUBPROC_STEP_CLONE, fork_errno, -1, NULL);
    }

    struct subproc__report rep;
    size_t got = 0;
    while (got < sizeof rep) {
        ssize_t n = read(ep[0], (char *)&rep + got, sizeof rep - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    subproc__close(ep[0]);

    if (got == sizeof rep) {
        subproc__close(pidfd);
        subproc__reap(pid);
        pl->fail_fd = rep.fd;
        pl->fail_cand = rep.cand;
        pl->fail_errno = rep.err;
        pl->fail_step = rep.step ? rep.step : SUBPROC_STEP_EXEC;
        return -rep.err;
    }
    *out_pid = pid;
    *out_pidfd = pidfd;
    return 0;
}
