/*
 * pidfd.c - acting on a process through its pidfd, the kernel's handle for it.
 *
 * A pidfd refers to one process for as long as the fd is open, whatever happens to its PID
 * number: signals sent through it reach that process or fail with ESRCH, never a stranger that
 * got the number later (pidfd_send_signal(2), Linux 5.1). Linux 6.9 added
 * PIDFD_SIGNAL_PROCESS_GROUP: the signal goes to the process group of the process the pidfd
 * refers to, so a group is reached through a live member instead of through a bare group id.
 * Linux 6.15 added PIDFD_GET_INFO with PIDFD_INFO_EXIT: the exit status of a process that has
 * been reaped, by anyone (the kernel itself when SIGCHLD is ignored, another thread's
 * waitpid(-1), a foreign SIGCHLD handler). Each is detected at run time, once; system headers
 * older than the kernel are covered by the definitions below (the kernel's ABI values).
 */
#include "internal.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/ioctl.h>
#include <sys/syscall.h>
#endif

#ifdef __linux__

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef PIDFD_SIGNAL_PROCESS_GROUP
#define PIDFD_SIGNAL_PROCESS_GROUP (1u << 2)
#endif

/* struct pidfd_info of <linux/pidfd.h>, as of its first version (64 bytes). The kernel takes
 * the size from the ioctl number and fills what both sides know. */
struct pidfd_info_v0 {
    uint64_t mask;
    uint64_t cgroupid;
    uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
    int32_t exit_code;
};
#define PIDFD_GET_INFO_V0 _IOWR(0xFF, 11, struct pidfd_info_v0)
#define PIDFD_INFO_CGROUPID_BIT (1ull << 2)
#define PIDFD_INFO_EXIT_BIT (1ull << 3)

static int pgsig_works = 1; /* cleared once the kernel refuses PIDFD_SIGNAL_PROCESS_GROUP */
static int info_works = 1;  /* cleared once the kernel refuses PIDFD_GET_INFO */

/* Test hooks: pretend the kernel lacks a feature, to exercise the fallbacks. */
int subproc__test_no_pgsig;
int subproc__test_no_pidfd_info;

int subproc__pidfd_signal(int pidfd, int sig)
{
    if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0) return -errno;
    return 0;
}

int subproc__pidfd_signal_group(int pidfd, int sig)
{
    if (subproc__test_no_pgsig || !__atomic_load_n(&pgsig_works, __ATOMIC_RELAXED))
        return -EOPNOTSUPP;
    if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, PIDFD_SIGNAL_PROCESS_GROUP) == 0) return 0;
    int e = errno;
    if (e == EINVAL) {
        /* An unknown flag (before 6.9); the signal number was checked by the caller. */
        __atomic_store_n(&pgsig_works, 0, __ATOMIC_RELAXED);
        return -EOPNOTSUPP;
    }
    return -e;
}

static int get_info(int pidfd, struct pidfd_info_v0 *in, uint64_t want)
{
    if (subproc__test_no_pidfd_info || !__atomic_load_n(&info_works, __ATOMIC_RELAXED))
        return -EOPNOTSUPP;
    memset(in, 0, sizeof *in);
    in->mask = want;
    if (ioctl(pidfd, PIDFD_GET_INFO_V0, in) == 0) return 0;
    int e = errno;
    if (e == ENOTTY || e == EINVAL) {
        __atomic_store_n(&info_works, 0, __ATOMIC_RELAXED);
        return -EOPNOTSUPP;
    }
    return -e;
}

int subproc__pidfd_exit_status(int pidfd, subproc_status *st)
{
    if (pidfd < 0) return -ECHILD;
    /* The kernel records the status while it releases the process; a waitid() that already
     * fails with ECHILD may run a little ahead of that. Look again for a bounded time (the gap
     * is microseconds; the bound is for a kernel that never records it). */
    long ns = 20000;
    for (int tries = 0; tries < 40; tries++) {
        struct pidfd_info_v0 in;
        int r = get_info(pidfd, &in, PIDFD_INFO_EXIT_BIT);
        if (r == -EOPNOTSUPP) return -ECHILD;
        if (r == 0 && (in.mask & PIDFD_INFO_EXIT_BIT)) {
            subproc__status_from_wait(st, in.exit_code, NULL);
            return 0;
        }
        struct timespec ts = {0, ns};
        nanosleep(&ts, NULL);
        if (ns < 5000000) ns *= 2;
    }
    return -ECHILD;
}

int subproc__pidfd_cgroupid(int pidfd, uint64_t *id)
{
    struct pidfd_info_v0 in;
    int r = get_info(pidfd, &in, PIDFD_INFO_CGROUPID_BIT);
    if (r < 0) return r;
    if (!(in.mask & PIDFD_INFO_CGROUPID_BIT)) return -EOPNOTSUPP;
    *id = in.cgroupid;
    return 0;
}

#else /* !__linux__ */

int subproc__pidfd_signal(int pidfd, int sig)
{
    (void)pidfd, (void)sig;
    return -ENOSYS;
}
int subproc__pidfd_signal_group(int pidfd, int sig)
{
    (void)pidfd, (void)sig;
    return -EOPNOTSUPP;
}
int subproc__pidfd_exit_status(int pidfd, subproc_status *st)
{
    (void)pidfd, (void)st;
    return -ECHILD;
}
int subproc__pidfd_cgroupid(int pidfd, uint64_t *id)
{
    (void)pidfd, (void)id;
    return -EOPNOTSUPP;
}

#endif
