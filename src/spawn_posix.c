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

int subproc__spawn_posix(struct subproc__plan *pl, pid_t *out_pid, int *out_pidfd,
                         subproc_error *err)
{
    int ep[2], r;
    if ((r = subproc__pipe(ep)) < 0) return subproc__fail(err, SUBPROC_STEP_PIPE, -r, -1, NULL);
    pl->errfd = ep[1];

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
        subproc__child(pl);
    }
    int fork_errno = errno;
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
        subproc__reap(pid);
        pl->fail_fd = rep.fd;
        pl->fail_cand = rep.cand;
        pl->fail_errno = rep.err;
        pl->fail_step = rep.step ? rep.step : SUBPROC_STEP_EXEC;
        return -rep.err;
    }
    *out_pid = pid;
    *out_pidfd = -1;
    return 0;
}
