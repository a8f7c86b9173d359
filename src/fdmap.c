/* fdmap.c - fd helpers and the parent-side solver for the child's fd plan. */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/socket.h>
#include <sys/syscall.h>
#endif

int subproc__fd_valid(int fd)
{
    return fd >= 0 && fcntl(fd, F_GETFD) != -1;
}

void subproc__close(int fd)
{
    if (fd < 0) return;
    int saved = errno;
    /* Linux and POSIX.1-2024: the fd is gone even when close() reports EINTR; never retry. */
    close(fd);
    errno = saved;
}

/*
 * Our fds must never sit on 0, 1 or 2: when the caller runs with a standard fd closed, a pipe of
 * ours would land there and an "inherit" stream of the child would silently become our pipe.
 */
int subproc__fd_lift(int fd)
{
    if (fd < 0 || fd > 2) return fd;
    int n = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int e = errno;
    subproc__close(fd);
    if (n < 0) return -e;
    return n;
}

static int lift_pair(int fds[2])
{
    for (int i = 0; i < 2; i++) {
        int n = subproc__fd_lift(fds[i]);
        if (n < 0) {
            /* fd_lift closed fds[i] already: closing it again could close another thread's. */
            subproc__close(fds[1 - i]);
            fds[0] = fds[1] = -1;
            return n;
        }
        fds[i] = n;
    }
    return 0;
}

int subproc__pipe(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC) < 0) return -errno;
    return lift_pair(fds);
}

int subproc__socketpair(int fds[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) return -errno;
    return lift_pair(fds);
}

int subproc__pidfd_open(pid_t pid)
{
#if defined(__linux__) && defined(SYS_pidfd_open)
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0) return -errno;
    /* pidfds are always O_CLOEXEC; like every fd of ours, keep it off 0-2. */
    return subproc__fd_lift(fd);
#else
    (void)pid;
    return -ENOSYS;
#endif
}

/* The highest open fd, read from /proc/self/fd (or /dev/fd); RLIMIT_NOFILE as a last resort.
 * Only needed where close_range(2) is missing, so the child can close by number. */
int subproc__max_open_fd(void)
{
    static const char *const dirs[] = {"/proc/self/fd", "/dev/fd"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        DIR *d = opendir(dirs[i]);
        if (!d) continue;
        int max = -1;
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            char *end;
            long v = strtol(de->d_name, &end, 10);
            if (*end == '\0' && end != de->d_name && v > max) max = (int)v;
        }
        closedir(d);
        if (max >= 0) return max;
    }
    long m = sysconf(_SC_OPEN_MAX);
    return m > 0 && m < (1L << 20) ? (int)m : 65535;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/*
 * Solve the fd plan. moves[i].dst are unique (the caller checked). A move's source must be
 * parked when it is the target of another move: after parking, the dup2s commute, so swaps
 * (1<->2), cycles and chains (5->9 with 3->5) all come out right whatever the order.
 * keep receives the sorted targets >= 3 and must have room for nmoves entries.
 * extra_fd is an fd of ours (the error pipe) that the child moves if a target hits it.
 */
int subproc__plan_fds(struct subproc__plan *pl, struct subproc__move *moves, size_t nmoves,
                      int *keep, int extra_fd)
{
    int hi = extra_fd > 2 ? extra_fd : 2;
    size_t nkeep = 0;
    for (size_t i = 0; i < nmoves; i++) {
        moves[i].via_tmp = 0;
        for (size_t j = 0; j < nmoves; j++) {
            if (j != i && moves[j].dst == moves[i].src) {
                moves[i].via_tmp = 1;
                break;
            }
        }
        if (moves[i].src > hi) hi = moves[i].src;
        if (moves[i].dst > hi) hi = moves[i].dst;
        if (moves[i].dst >= 3) keep[nkeep++] = moves[i].dst;
    }
    qsort(keep, nkeep, sizeof *keep, cmp_int);
    pl->moves = moves;
    pl->nmoves = nmoves;
    pl->keep = keep;
    pl->nkeep = nkeep;
    pl->hi = hi + 1;
    return 0;
}
