/*
 * forward.c - passing a child's output on to a file or pipe (SUBPROC_COMM_TEE_OUT/ERR) without
 * copying it through the parent's memory, when nothing else wants the bytes.
 *
 * splice(2) moves data from a pipe to a file or another pipe inside the kernel: from pipe to
 * pipe it hands over page references, to a file it copies once, from the pipe's pages into the
 * page cache. A read()/write() pair copies twice (into our buffer, then out of it) and costs two
 * system calls per chunk. The kernel refuses some pairs: a target opened with O_APPEND (EINVAL,
 * fs/splice.c), a file system or device without splice support (EINVAL), an input end that is
 * not a pipe or socket. The first refusal switches that stream to read()/write() for the rest
 * of the call, before any byte was moved, so nothing is lost or doubled and the caller never
 * sees it.
 *
 * Only when the stream is neither captured nor given to on_output: those need the bytes in
 * memory anyway, and the copy they make is the one the file would otherwise need.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#define SPLICE_MAX ((size_t)1 << 20) /* the capture pipes' size (io.c enlarges them to 1 MiB) */

/* Test switch: 1 forces the read()/write() path, as a refusing kernel would. */
static int no_splice;

void subproc__test_no_splice(int on)
{
    __atomic_store_n(&no_splice, on, __ATOMIC_RELAXED);
}

int subproc__forward_wanted(const struct subproc__pump *pm, const struct subproc__pump_out *o)
{
    return o->tee_fd >= 0 && !o->no_splice && !pm->co->on_output &&
           (!o->cap || (pm->co->flags & SUBPROC_COMM_NO_CAPTURE)) &&
           !__atomic_load_n(&no_splice, __ATOMIC_RELAXED);
}

/* Both ends of an EAGAIN: 1 when `to` cannot take more now (wait for it), 0 when `from` has
 * nothing after all (a spurious wake-up: come back when poll says so). */
static int target_full(int from, int to)
{
    struct pollfd pf[2] = {{from, POLLIN, 0}, {to, POLLOUT, 0}};
    while (poll(pf, 2, 0) < 0 && errno == EINTR) {
    }
    return !(pf[1].revents & (POLLOUT | POLLERR | POLLHUP)) && (pf[0].revents & (POLLIN | POLLHUP));
}

int subproc__forward(struct subproc__pump *pm, struct subproc__pump_out *o)
{
    for (;;) {
        /* SIGPIPE held for this call only, as for the library's write()s (io.c). */
        struct subproc__sigpipe g;
        subproc__sigpipe_hold(&g);
        ssize_t n = splice(o->fd, NULL, o->tee_fd, NULL, SPLICE_MAX, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        int se = errno;
        subproc__sigpipe_release(&g, n < 0 && se == EPIPE);
        errno = se;
        if (n > 0) {
            if (o->cap) o->cap->total += (size_t)n;
            return 0;
        }
        if (n == 0) return 1; /* the child's end is closed and the pipe empty: EOF */
        int e = errno;
        if (e == EINTR) continue;
        if (e == EAGAIN) {
            if (!target_full(o->fd, o->tee_fd)) return 0;
            struct pollfd pf = {o->tee_fd, POLLOUT, 0};
            poll(&pf, 1, -1); /* as tee_write(): the tee blocks until written */
            continue;
        }
        if (e == EINVAL || e == ENOSYS || e == EOPNOTSUPP || e == EBADF || e == ESPIPE) {
            /* Refused before anything moved: this pair does not splice. */
            o->no_splice = 1;
            return SUBPROC__FORWARD_FALLBACK;
        }
        /* A write error of the target (EPIPE, ENOSPC, EIO...): the tee stops, as a failed write()
         * would stop it, and the stream goes on being drained by read(). */
        if (e == EPIPE) pm->epipe = 1;
        o->tee_fd = -1;
        return SUBPROC__FORWARD_FALLBACK;
    }
}
