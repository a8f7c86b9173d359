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

/* Whether fd is the src or dst of one of req[0, n) still pending (done[i] == 0), or any dst. */
static int fd_used(const struct subproc__move *req, const unsigned char *done, size_t n, int fd)
{
    for (size_t i = 0; i < n; i++)
        if (req[i].dst == fd || (!done[i] && req[i].src == fd)) return 1;
    return 0;
}

/*
 * Solve the fd plan in the parent, into an order of dup2 steps the child only has to run.
 * A move is ready when its target is no pending move's source: running it overwrites nothing
 * still to be read. When only cycles are left (3->4, 4->5, 5->3), one source is copied to a
 * temporary number, the lowest that is no target and no pending source: the cycle is then a
 * chain. One temporary per cycle, on the lowest numbers, so the plan fits under any fd limit its
 * targets fit under (with one number to spare per cycle; an RLIMIT_NOFILE lower than the
 * current one is set after the plan for that reason, see child.c). Temporaries are closed with
 * everything else that is not a target. req[].src are rewritten as temporaries are made.
 * keep receives the sorted targets >= 3, early the sorted, unique sources >= 3.
 * extra_fd is an fd of ours (the error pipe) that the child moves if the plan uses its number.
 */
int subproc__plan_fds(struct subproc__plan *pl, struct subproc__move *req, size_t n,
                      struct subproc__move *ops, int *keep, int *early, int extra_fd)
{
    int hi = extra_fd > 2 ? extra_fd : 2;
    size_t nkeep = 0, nearly = 0, nops = 0;
    unsigned char done_small[64], *done = done_small;
    if (n > sizeof done_small && !(done = subproc__calloc(n, 1))) return -ENOMEM;
    if (done == done_small) memset(done, 0, sizeof done_small);
    for (size_t i = 0; i < n; i++) {
        if (req[i].src > hi) hi = req[i].src;
        if (req[i].dst > hi) hi = req[i].dst;
        if (req[i].dst >= 3) keep[nkeep++] = req[i].dst;
        if (req[i].src >= 3) early[nearly++] = req[i].src;
        req[i].report = req[i].dst;
    }
    for (size_t left = n; left;) {
        size_t ready = n;
        for (size_t i = 0; i < n && ready == n; i++) {
            if (done[i]) continue;
            int blocked = 0;
            for (size_t j = 0; j < n && !blocked; j++)
                blocked = j != i && !done[j] && req[j].src == req[i].dst;
            if (!blocked) ready = i;
        }
        if (ready < n) {
            ops[nops++] = req[ready];
            done[ready] = 1;
            left--;
            continue;
        }
        /* Only cycles: copy the first pending move's source to a free number. */
        size_t i = 0;
        while (done[i]) i++;
        int tmp = 3;
        while (fd_used(req, done, n, tmp) || tmp == extra_fd) tmp++;
        if (tmp > hi) hi = tmp;
        int old = req[i].src;
        ops[nops++] = (struct subproc__move){old, tmp, req[i].dst};
        for (size_t j = 0; j < n; j++)
            if (!done[j] && req[j].src == old) req[j].src = tmp;
    }
    if (done != done_small) free(done);
    qsort(keep, nkeep, sizeof *keep, cmp_int);
    qsort(early, nearly, sizeof *early, cmp_int);
    size_t u = 0;
    for (size_t i = 0; i < nearly; i++)
        if (u == 0 || early[u - 1] != early[i]) early[u++] = early[i];
    pl->moves = ops;
    pl->nmoves = nops;
    pl->keep = keep;
    pl->nkeep = nkeep;
    pl->early = early;
    pl->nearly = u;
    pl->hi = hi + 1;
    return 0;
}
