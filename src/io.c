/*
 * io.c - talking to children: the pump (poll over non-blocking pipe ends), communicate, run.
 *
 * Why one thread and poll(): a child that fills its stdout pipe while we block writing its stdin
 * (or the reverse) deadlocks any sequential scheme; poll on every pipe end at once, with each end
 * non-blocking, makes progress on whichever side is ready, for any sizes.
 *
 * SIGPIPE: CPython ignores SIGPIPE for the whole process at start-up, which a library may not do.
 * Instead SIGPIPE is blocked in the calling thread (pthread_sigmask) around each write() of ours
 * and nothing else: the caller's callbacks (on_output), and any child they start, see the
 * caller's own mask. A write to a closed pipe then fails with EPIPE and leaves a SIGPIPE pending
 * on this thread (the kernel directs it at the writing thread); it is taken back at once with a
 * zero-timeout sigtimedwait() - unless SIGPIPE was already pending before that write, in which
 * case the kernel merged ours into it and it belongs to the caller. Dispositions are never
 * touched.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define SCRATCH_SIZE (256u << 10)
#define MIN_READ (64u << 10)      /* grow a capture buffer when less than this is free */
#define PIPE_WANT (1 << 20)       /* F_SETPIPE_SZ target */
#define WRITE_MAX ((size_t)1 << 20)
#define PREFAULT ((size_t)PIPE_WANT) /* pages made ready ahead of a bulk capture's reads */

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK)) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void enlarge_pipe(int fd)
{
#ifdef F_SETPIPE_SZ
    /* Fewer, larger reads. Beyond /proc/sys/fs/pipe-max-size or the per-user page budget the
     * kernel says EPERM/EINVAL; the pipe then keeps its size, which is only slower. */
    int size = fcntl(fd, F_GETPIPE_SZ); /* fails on a socket (SUBPROC_IO_SOCKET): left alone */
    if (size >= 0 && size < PIPE_WANT) fcntl(fd, F_SETPIPE_SZ, PIPE_WANT);
#else
    (void)fd;
#endif
}

static size_t out_limit(const struct subproc__pump *pm)
{
    return pm->co->max_output ? pm->co->max_output : (size_t)-1 / 2;
}

static int capturing(const struct subproc__pump *pm, const struct subproc__pump_out *o)
{
    return o->cap && !(pm->co->flags & SUBPROC_COMM_NO_CAPTURE);
}

int subproc__pump_init(struct subproc__pump *pm, int in_fd, const void *in, size_t in_len,
                       const struct subproc__pump_out *outs, size_t nout,
                       const subproc_comm_opts *co)
{
    memset(pm, 0, sizeof *pm);
    pm->co = co;
    pm->in_fd = in_fd;
    pm->in = in;
    pm->in_len = in ? in_len : 0;
    if (nout > SUBPROC__PUMP_MAX_OUT) nout = SUBPROC__PUMP_MAX_OUT;
    pm->nout = nout;
    for (size_t i = 0; i < nout; i++) {
        struct subproc__pump_out *o = &pm->out[i];
        o->fd = outs[i].fd;
        o->stream = outs[i].stream;
        o->cap = outs[i].cap;
        o->tee_fd = -1;
        if (o->stream == 1 && (co->flags & SUBPROC_COMM_TEE_OUT)) o->tee_fd = co->tee_out_fd;
        if (o->stream == 2 && (co->flags & SUBPROC_COMM_TEE_ERR)) o->tee_fd = co->tee_err_fd;
        if (o->cap) memset(o->cap, 0, sizeof *o->cap);
        if (o->fd >= 0) {
            set_nonblock(o->fd);
            enlarge_pipe(o->fd);
        }
    }
    if (pm->in_fd >= 0) {
        if (pm->in_len == 0) {
            subproc__close(pm->in_fd); /* nothing to say: EOF now */
            pm->in_fd = -1;
        } else {
            set_nonblock(pm->in_fd);
            if (pm->in_len > 65536) enlarge_pipe(pm->in_fd);
        }
    }
    return 0;
}

int subproc__pump_open(const struct subproc__pump *pm)
{
    int n = pm->in_fd >= 0;
    for (size_t i = 0; i < pm->nout; i++) n += pm->out[i].fd >= 0;
    return n;
}

/* Blocking write of all of buf to a tee fd that may be non-blocking. */
/* write() with SIGPIPE held for its duration only (see the top of this file). */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t len)
{
    struct subproc__sigpipe g;
    subproc__sigpipe_hold(&g);
    ssize_t w = write(fd, buf, len);
    int e = errno;
    subproc__sigpipe_release(&g, w < 0 && e == EPIPE);
    errno = e;
    return w;
}

static int tee_write(struct subproc__pump *pm, int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t w = write_nosigpipe(fd, buf, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                struct pollfd pf = {fd, POLLOUT, 0};
                poll(&pf, 1, -1);
                continue;
            }
            if (errno == EPIPE) pm->epipe = 1;
            return -errno;
        }
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

static int emit(struct subproc__pump *pm, struct subproc__pump_out *o, const char *d, size_t n)
{
    if (n == 0 || pm->cancelled) return 0;
    if (pm->co->on_output(pm->co->ud, o->stream, d, n) == 0) return 0;
    pm->cancelled = 1;
    return -ECANCELED;
}

static int line_append(struct subproc__pump_out *o, const char *d, size_t n)
{
    if (o->line_len + n > o->line_size) {
        size_t sz = o->line_size ? o->line_size : 256;
        while (sz < o->line_len + n) sz *= 2;
        char *nl = subproc__realloc(o->line, sz);
        if (!nl) return -ENOMEM;
        o->line = nl;
        o->line_size = sz;
    }
    memcpy(o->line + o->line_len, d, n);
    o->line_len += n;
    return 0;
}

/* Whole lines to the callback; the unfinished end is kept for the next chunk. Lines are passed
 * straight from the read buffer when they do not straddle two reads. */
static int emit_lines(struct subproc__pump *pm, struct subproc__pump_out *o, const char *d,
                      size_t n)
{
    int r;
    while (n) {
        size_t room = SUBPROC_COMM_LINE_MAX - o->line_len;
        size_t look = n < room ? n : room;
        const char *nl = memchr(d, '\n', look);
        size_t take = nl ? (size_t)(nl - d) + 1 : look;
        if (o->line_len == 0 && nl) {
            if ((r = emit(pm, o, d, take)) < 0) return r;
        } else {
            if ((r = line_append(o, d, take)) < 0) return r;
            if (nl || o->line_len == SUBPROC_COMM_LINE_MAX) {
                r = emit(pm, o, o->line, o->line_len);
                o->line_len = 0;
                if (r < 0) return r;
            }
        }
        d += take;
        n -= take;
    }
    return 0;
}

/*
 * Back the next PREFAULT bytes of a growing capture with pages before reading into them.
 *
 * read() from a pipe copies into our buffer while holding the pipe's mutex; when that buffer is
 * fresh memory, every 4 KiB page faults inside the copy, and the writer - blocked on the same
 * mutex - waits for each fault (libpipeline, which reads into a reused buffer and copies out
 * afterwards, was faster for that reason). MADV_POPULATE_WRITE (Linux 5.14) takes those faults
 * in one call, before the read, while the child goes on filling the pipe: capturing 1 GiB went
 * from 1.10x to about 1.5x the speed of a plain 64 KiB read loop (docs/BENCHMARKS.md). It
 * changes no byte: a hint whose failure costs only speed.
 * Small captures never get here (below MIN_READ the faults are few).
 */
static void prefault(struct subproc__pump_out *o)
{
#if defined(__linux__)
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
    static int unsupported; /* EINVAL once: this kernel has no MADV_POPULATE_WRITE */
    subproc_capture *c = o->cap;
    if (c->len < MIN_READ || __atomic_load_n(&unsupported, __ATOMIC_RELAXED)) return;
    size_t want = c->len + PREFAULT < o->cap_size ? c->len + PREFAULT : o->cap_size;
    if (o->faulted >= want) return;
    /* Whole pages inside [faulted, want) only: the buffer's edges are left to ordinary faults. */
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t from = ((uintptr_t)c->data + o->faulted + pg - 1) & ~(uintptr_t)(pg - 1);
    uintptr_t to = ((uintptr_t)c->data + want) & ~(uintptr_t)(pg - 1);
    if (to > from && madvise((void *)from, to - from, MADV_POPULATE_WRITE) < 0 && errno == EINVAL)
        __atomic_store_n(&unsupported, 1, __ATOMIC_RELAXED);
    o->faulted = want;
#else
    (void)o;
#endif
}

/* A capture with co->buffers starts in a kept block, whose pages are already there. */
static void reuse_block(struct subproc__pump *pm, struct subproc__pump_out *o)
{
    subproc_buffers *b = subproc__comm_buffers(pm->co);
    if (b) subproc__buffers_take(b, &o->cap->data, &o->cap_size, &o->faulted);
}

/* Where the next read of o goes, and how much may be read. */
static int read_target(struct subproc__pump *pm, struct subproc__pump_out *o, char **buf,
                       size_t *n)
{
    if (!capturing(pm, o)) {
        if (!pm->scratch && !(pm->scratch = subproc__malloc(SCRATCH_SIZE))) return -ENOMEM;
        *buf = pm->scratch;
        *n = SCRATCH_SIZE;
        return 0;
    }
    subproc_capture *c = o->cap;
    size_t lim = out_limit(pm);
    if (!o->ring && c->len == lim) {
        /* Full: from now on [head_len, lim) is a ring holding the most recent bytes. */
        o->ring = 1;
        c->head_len = lim / 2;
        o->wpos = c->head_len;
    }
    if (o->ring) {
        *buf = c->data + o->wpos;
        *n = lim - o->wpos;
        return 0;
    }
    if (!c->data) reuse_block(pm, o);
    size_t free_ = o->cap_size ? o->cap_size - c->len - 1 : 0;
    if (free_ < MIN_READ && o->cap_size < lim + 1) {
        size_t sz = o->cap_size ? o->cap_size * 2 : MIN_READ + 1;
        if (sz < c->len + MIN_READ + 1) sz = c->len + MIN_READ + 1;
        if (sz > lim + 1) sz = lim + 1;
        char *nd = subproc__realloc(c->data, sz);
        if (!nd) return -ENOMEM;
        c->data = nd;
        o->cap_size = sz;
        free_ = sz - c->len - 1;
    }
    prefault(o);
    *buf = c->data + c->len;
    *n = free_ < lim - c->len ? free_ : lim - c->len;
    return 0;
}

/* One read from o. 0: data or nothing yet; 1: EOF; < 0: error. */
static int pump_read(struct subproc__pump *pm, struct subproc__pump_out *o)
{
    if (subproc__forward_wanted(pm, o)) {
        int f = subproc__forward(pm, o);
        if (f != SUBPROC__FORWARD_FALLBACK) return f;
    }
    char *buf;
    size_t n;
    int r = read_target(pm, o, &buf, &n);
    if (r < 0) return r;
    ssize_t got;
    do
        got = read(o->fd, buf, n);
    while (got < 0 && errno == EINTR);
    /* A pty master says EIO once every slave fd is closed (Linux), after the last byte: its
     * end-of-file. Pipes and sockets never say EIO. */
    if (got < 0 && errno == EIO) return 1;
    if (got < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
    if (got == 0) return 1;
    size_t g = (size_t)got;
    if (o->cap) o->cap->total += g;
    if (capturing(pm, o)) {
        if (o->ring) {
            o->cap->truncated = 1;
            o->wpos += g;
            if (o->wpos == out_limit(pm)) o->wpos = o->cap->head_len;
        } else {
            o->cap->len += g;
        }
    }
    if (o->tee_fd >= 0 && tee_write(pm, o->tee_fd, buf, g) < 0) o->tee_fd = -1;
    if (pm->co->on_output) {
        r = (pm->co->flags & SUBPROC_COMM_LINES) ? emit_lines(pm, o, buf, g) : emit(pm, o, buf, g);
        if (r < 0) return r;
    }
    return 0;
}

static void pump_write(struct subproc__pump *pm)
{
    size_t left = pm->in_len - pm->in_off;
    ssize_t w;
    do
        w = write_nosigpipe(pm->in_fd, pm->in + pm->in_off, left < WRITE_MAX ? left : WRITE_MAX);
    while (w < 0 && errno == EINTR);
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (w < 0) {
        /* EPIPE: the child closed its stdin or exited; it does not want the rest. Any other
         * error ends the input the same way: the child's status will say how it took it. */
        if (errno == EPIPE) pm->epipe = 1;
        pm->in_off = pm->in_len;
    } else {
        pm->in_off += (size_t)w;
    }
    if (pm->in_off == pm->in_len) {
        subproc__close(pm->in_fd);
        pm->in_fd = -1;
    }
}

static int pump_loop(struct subproc__pump *pm, int64_t deadline, int wake_fd, int (*done)(void *),
                     void *arg)
{
    struct pollfd pf[SUBPROC__PUMP_MAX_OUT + 2];
    struct subproc__pump_out *who[SUBPROC__PUMP_MAX_OUT + 2];
    int look = 1; /* ask done(): at first, then only when wake_fd (if any) fired */
    for (;;) {
        if (done && look && done(arg)) return 1;
        size_t n = 0;
        if (pm->in_fd >= 0) {
            pf[n] = (struct pollfd){pm->in_fd, POLLOUT, 0};
            who[n++] = NULL;
        }
        for (size_t i = 0; i < pm->nout; i++)
            if (pm->out[i].fd >= 0) {
                pf[n] = (struct pollfd){pm->out[i].fd, POLLIN, 0};
                who[n++] = &pm->out[i];
            }
        if (n == 0 && !done) return 0;
        int timeout = -1;
        if (deadline) {
            int64_t left = deadline - subproc__now_ms();
            if (left <= 0) return -ETIMEDOUT;
            timeout = left > 1000000 ? 1000000 : (int)left;
        }
        size_t nfd = n;
        if (done && wake_fd >= 0) {
            pf[nfd] = (struct pollfd){wake_fd, POLLIN, 0};
            who[nfd++] = NULL;
        } else if (done && (timeout < 0 || timeout > 10)) {
            timeout = 10; /* no fd tells us when the child ends: look again soon */
        }
        int pr = poll(pf, (nfds_t)nfd, timeout);
        if (pr < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return -errno;
        }
        look = nfd == n || pf[n].revents;
        for (size_t i = 0; i < n; i++) {
            if (!pf[i].revents) continue;
            if (!who[i]) {
                pump_write(pm);
                continue;
            }
            struct subproc__pump_out *o = who[i];
            int r = pump_read(pm, o);
            if (r == 1 || (r < 0 && r != -ECANCELED)) {
                subproc__close(o->fd);
                o->fd = -1;
            }
            if (r < 0) return r;
        }
    }
}

void subproc__sigpipe_hold(struct subproc__sigpipe *g)
{
    sigset_t pend;
    sigemptyset(&g->set);
    sigaddset(&g->set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &g->set, &g->old);
    sigemptyset(&pend);
    sigpending(&pend);
    g->was_pending = sigismember(&pend, SIGPIPE) == 1;
}

void subproc__sigpipe_release(struct subproc__sigpipe *g, int epipe)
{
    if (epipe && !g->was_pending) {
        static const struct timespec zero = {0, 0};
        while (sigtimedwait(&g->set, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

int subproc__pump_run(struct subproc__pump *pm, int64_t deadline_ms, int wake_fd,
                      int (*done)(void *), void *arg)
{
    pm->epipe = 0;
    return pump_loop(pm, deadline_ms, wake_fd, done, arg);
}

/* Rotate buf[0..n) left by k, in place (three reversals): no second buffer at the limit. */
static void reverse(char *a, size_t n)
{
    for (size_t i = 0; i < n / 2; i++) {
        char t = a[i];
        a[i] = a[n - 1 - i];
        a[n - 1 - i] = t;
    }
}

static void rotate_left(char *buf, size_t n, size_t k)
{
    if (k == 0 || k >= n) return;
    reverse(buf, k);
    reverse(buf + k, n - k);
    reverse(buf, n);
}

void subproc__pump_finish(struct subproc__pump *pm)
{
    subproc__close(pm->in_fd);
    pm->in_fd = -1;
    for (size_t i = 0; i < pm->nout; i++) {
        struct subproc__pump_out *o = &pm->out[i];
        subproc__close(o->fd);
        o->fd = -1;
        if (o->line_len && pm->co->on_output) emit(pm, o, o->line, o->line_len);
        free(o->line);
        o->line = NULL;
        o->line_len = o->line_size = 0;
        if (!capturing(pm, o)) continue;
        subproc_capture *c = o->cap;
        if (o->ring) {
            rotate_left(c->data + c->head_len, c->len - c->head_len, o->wpos - c->head_len);
            if (!c->truncated) c->head_len = c->len; /* exactly at the limit, nothing lost */
        } else {
            c->head_len = c->len;
        }
        if (!c->data) c->data = subproc__malloc(1);
        if (c->data) c->data[c->len] = '\0';
    }
    free(pm->scratch);
    pm->scratch = NULL;
}

/* ---- communicate and run ---- */

/* sig to what the deadline must end: the contained tree, or the process group and the child
 * (it may have left its group), through the child's handle while it is unreaped. */
static void signal_child(subproc_proc *p, int sig)
{
    if (subproc_proc_containment(p)) {
        subproc_proc_signal_tree(p, sig);
        if (subproc_proc_containment(p) != SUBPROC_CONTAIN_PGROUP) return;
    } else if (subproc_proc_pgid(p) > 0) {
        subproc_proc_signal_group(p, sig);
    }
    subproc_proc_signal(p, sig);
}

/* pump "done": the child has exited, and (for a cgroup) its whole tree is gone. Not reaped:
 * the group id stays ours for the SIGKILL that follows. */
static int tree_exited(void *arg)
{
    subproc_proc *p = arg;
    if (subproc_proc_wait_ex(p, 0, SUBPROC_WAIT_NOREAP, NULL) == -ETIMEDOUT) return 0;
    return subproc_proc_containment(p) != SUBPROC_CONTAIN_CGROUP ||
           subproc_proc_wait_tree(p, 0) == 0;
}

/* The deadline/cancel path: kill_signal, keep reading through the grace period, SIGKILL to
 * everything that is left (while the child is still unreaped), reap, then drain what is left
 * for a bounded time. */
static int stop_child(subproc_proc *p, struct subproc__pump *pm, const subproc_comm_opts *co)
{
    int sig = co->kill_signal ? co->kill_signal : SIGTERM;
    int grace = co->kill_grace_ms > 0 ? co->kill_grace_ms : SUBPROC__DEFAULT_GRACE_MS;
    signal_child(p, sig);
    if (subproc__needs_cont(sig)) signal_child(p, SIGCONT);
    int64_t until = subproc__deadline_after(subproc__now_ms(), grace);
    subproc__pump_run(pm, until, -1, tree_exited, p);
    signal_child(p, SIGKILL);
    int r = subproc_proc_wait(p, NULL);
    /* A cgroup still holds whatever the child left; the kill above reached it all. */
    if (subproc_proc_containment(p) == SUBPROC_CONTAIN_CGROUP) subproc_proc_wait_tree(p, 5000);
    int drain = co->drain_ms == 0 ? SUBPROC__DEFAULT_DRAIN_MS : co->drain_ms;
    if (drain > 0 && subproc__pump_open(pm)) {
        int dr = subproc__pump_run(pm, subproc__deadline_after(subproc__now_ms(), drain), -1,
                                   NULL, NULL);
        (void)dr; /* a read error here only cuts the output short */
    }
    return r;
}

/* pump "done": the child has exited (not reaped: see stop_child). */
static int child_exited(void *arg)
{
    return subproc_proc_wait_ex(arg, 0, SUBPROC_WAIT_NOREAP, NULL) != -ETIMEDOUT;
}

/* pump "done" for a contained child with SUBPROC_LEFTOVERS_KILL: once the child has exited, kill
 * the rest of its tree, so that the pipes they hold reach end-of-file (1: done that). */
static int kill_leftovers(void *arg)
{
    subproc_proc *p = arg;
    if (subproc_proc_wait_ex(p, 0, SUBPROC_WAIT_NOREAP, NULL) == -ETIMEDOUT) return 0;
    subproc__contain_child_ended(p);
    return 1;
}

/* After the direct child ended on its own: read what descendants left in the pipes, for a
 * bounded time. Kept apart from stop_child (the deadline path), and the one place where a
 * contained process tree would have its leftovers killed and the output read to the end. */
int subproc__pump_until_exit(struct subproc__pump *pm, int64_t deadline, long long delay,
                             int wake_fd, int (*done)(void *), void *arg, int *incomplete)
{
    if (delay < 0) return subproc__pump_run(pm, deadline, -1, NULL, NULL);
    int r = subproc__pump_run(pm, deadline, wake_fd, done, arg);
    if (r != 1) return r;
    if (!subproc__pump_open(pm)) return 0;
    r = subproc__pump_run(pm, subproc__deadline_after(subproc__now_ms(), delay), -1, NULL, NULL);
    if (r == -ETIMEDOUT) {
        *incomplete = 1;
        r = 0;
    }
    return r;
}

long long subproc__wait_delay(const subproc_comm_opts *co)
{
    long long d = co->version >= 2 ? co->wait_delay_ms : 0;
    if (d > 0) return d;
    if (d == 0 && co->timeout_ms > 0) return SUBPROC_COMM_WAIT_DELAY_DEFAULT_MS;
    return -1;
}

const char *subproc__comm_opts_problem(const subproc_comm_opts *co)
{
    const unsigned known = (SUBPROC_COMM_CHECK << 1) - 1;
    if (co->version == 0) return "co.version is 0: start from SUBPROC_COMM_OPTS_INIT";
    if (co->version > SUBPROC_COMM_OPTS_VERSION)
        return "co.version is newer than this library: start from SUBPROC_COMM_OPTS_INIT";
    if (co->flags & ~known) return "co.flags has unknown bits";
    if (!co->input && co->input_len) return "co.input_len is set but co.input is NULL";
    if ((co->flags & SUBPROC_COMM_TEE_OUT) && co->tee_out_fd < 0)
        return "SUBPROC_COMM_TEE_OUT needs co.tee_out_fd >= 0";
    if ((co->flags & SUBPROC_COMM_TEE_ERR) && co->tee_err_fd < 0)
        return "SUBPROC_COMM_TEE_ERR needs co.tee_err_fd >= 0";
    if (co->kill_signal && !subproc__sig_valid(co->kill_signal))
        return "co.kill_signal is not a signal number";
    return NULL;
}

int subproc__comm_opts_check(const subproc_comm_opts *co)
{
    return subproc__comm_opts_problem(co) ? -EINVAL : 0;
}

const subproc_comm_opts subproc__default_comm = SUBPROC_COMM_OPTS_INIT;

/* Only the fields every version of the struct has: a version 1 caller's ends before
 * output_incomplete. */
void subproc__result_init(subproc_result *out)
{
    memset(out, 0, offsetof(subproc_result, output_incomplete));
    out->error.fd = -1;
}

int subproc_proc_communicate(subproc_proc *p, const subproc_comm_opts *co, subproc_result *out)
{
    if (!out) return -EINVAL;
    subproc__result_init(out);
    int v2 = subproc__result_v2(co);
    if (v2) out->output_incomplete = 0;
    if (!p) return -EINVAL;
    if (!co) co = &subproc__default_comm;
    int r = subproc__comm_opts_check(co);
    if (r < 0) return r;
    if (co->input && subproc_proc_fd(p, 0) < 0) return -EINVAL;
    int64_t t0 = now_us();
    int64_t deadline =
        co->timeout_ms > 0 ? subproc__deadline_after(subproc__now_ms(), co->timeout_ms) : 0;

    /* A terminal's input ends with its EOF character, not by closing (pty.c). */
    const void *in = co->input;
    size_t in_len = co->input_len;
    char *in_buf;
    if ((r = subproc__pty_input(p, &in, &in_len, &in_buf)) < 0) return r;
    int in_fd = -1;
    if (in)
        in_fd = subproc_proc_take_fd(p, 0);
    else
        subproc_proc_close_fd(p, 0);
    struct subproc__pump_out outs[2];
    size_t nout = 0;
    for (int s = 1; s <= 2; s++) {
        int fd = subproc_proc_take_fd(p, s);
        if (fd < 0) continue;
        outs[nout].fd = fd;
        outs[nout].stream = s;
        outs[nout].cap = s == 1 ? &out->out : &out->err;
        nout++;
    }
    struct subproc__pump pm;
    subproc__pump_init(&pm, in_fd, in, in_len, outs, nout, co);
    /* Once the child has ended: a contained tree's leftovers are killed (read to the end then)
     * or waited for (within the deadline); otherwise whoever still holds the pipes gets the
     * wait delay at most, and the output is flagged as possibly incomplete. */
    int incomplete = 0;
    int kill_rest = p->contain && p->leftovers == SUBPROC_LEFTOVERS_KILL;
    int wait_rest = p->contain && p->leftovers == SUBPROC_LEFTOVERS_WAIT;
    if (kill_rest) {
        r = subproc__pump_run(&pm, deadline, -1, kill_leftovers, p);
        if (r == 1) r = subproc__pump_run(&pm, deadline, -1, NULL, NULL); /* to the end */
    } else if (wait_rest) {
        r = subproc__pump_run(&pm, deadline, -1, NULL, NULL);
    } else {
        r = subproc__pump_until_exit(&pm, deadline, subproc__wait_delay(co),
                                     subproc_proc_pidfd(p), child_exited, p, &incomplete);
    }
    if (r == 0) {
        /* Every pipe is at EOF (or the child ended and the wait delay is over); the deadline
         * still bounds the wait (0 left: just look). Not reaped yet: a group stays ours. */
        int left = deadline ? subproc__ms_left(deadline, subproc__now_ms()) : -1;
        int w = subproc_proc_wait_ex(p, left, SUBPROC_WAIT_NOREAP, NULL);
        if (w == 0 && kill_rest) subproc__contain_child_ended(p);
        if (w == 0 && wait_rest)
            w = subproc_proc_wait_tree(p,
                                       deadline ? subproc__ms_left(deadline, subproc__now_ms())
                                                : -1);
        if (w == 0) w = subproc_proc_wait_timeout(p, 0, NULL);
        r = w == -ETIMEDOUT ? -ETIMEDOUT : w == -ECHILD ? -ECHILD : 0;
    }
    if (r == -ETIMEDOUT) out->timed_out = 1;
    if (r < 0 && r != -ECHILD) {
        int w = stop_child(p, &pm, co);
        if (w == -ECHILD) r = -ECHILD;
    }
    /* A pipe still open after the deadline path's drain: its holder may have written more. */
    if (subproc__pump_open(&pm)) incomplete = 1;
    subproc__pump_finish(&pm);
    if (v2) out->output_incomplete = incomplete;
    free(in_buf);
    if (subproc_proc_wait_timeout(p, 0, &out->status) == -ECHILD && r == 0) r = -ECHILD;
    r = subproc__result_captures(out, co, r);
    out->wall_usec = now_us() - t0;
    return r;
}

/* Captures are never NULL after a call that captures, even for a stream that was not a pipe. */
int subproc__result_captures(subproc_result *out, const subproc_comm_opts *co, int r)
{
    for (int s = 0; s < 2; s++) {
        subproc_capture *c = s ? &out->err : &out->out;
        if ((co->flags & SUBPROC_COMM_NO_CAPTURE) || c->data) continue;
        if (!(c->data = subproc__calloc(1, 1)) && r == 0) r = -ENOMEM;
    }
    return r;
}

int subproc__comm_wants_output(const subproc_comm_opts *co, int stream)
{
    unsigned tee = stream == 1 ? SUBPROC_COMM_TEE_OUT : SUBPROC_COMM_TEE_ERR;
    return !(co->flags & SUBPROC_COMM_NO_CAPTURE) || co->on_output || (co->flags & tee);
}

int subproc_run(subproc_result *out, const subproc_opts *opts, const subproc_comm_opts *co)
{
    if (!out) return -EINVAL;
    subproc__result_init(out);
    const subproc_comm_opts *given = co; /* NULL stays NULL for communicate: see result_v2 */
    if (subproc__result_v2(co)) out->output_incomplete = 0;
    if (!co) co = &subproc__default_comm;
    const char *bad = subproc__comm_opts_problem(co);
    if (!bad && !opts) bad = "opts is NULL";
    if (bad) return subproc__fail(&out->error, SUBPROC_STEP_VALIDATE, EINVAL, -1, bad);
    int r;
    int64_t t0 = now_us();
    subproc_opts o;
    subproc__opts_copy(&o, opts);
    if (co->input && o.stdio[0].kind == SUBPROC_IO_INHERIT) o.stdio[0].kind = SUBPROC_IO_PIPE;
    for (int s = 1; s <= 2; s++)
        if (o.stdio[s].kind == SUBPROC_IO_INHERIT && subproc__comm_wants_output(co, s))
            o.stdio[s].kind = SUBPROC_IO_PIPE;
    /* A contained child's tree is reached through its handle: it stays in the caller's process
     * group, so that Ctrl-C from a terminal reaches it. Otherwise the deadline needs a group of
     * its own to reach the child's descendants (and never the caller's group). */
    if (co->timeout_ms > 0 && !o.contain &&
        !(o.flags & (SUBPROC_NEW_PGROUP | SUBPROC_JOIN_PGROUP | SUBPROC_NEW_SESSION)))
        o.flags |= SUBPROC_NEW_PGROUP;
    subproc_proc *p;
    subproc_error err;
    r = subproc_spawn(&p, &o, &err);
    if (r < 0) {
        out->error = err;
        return r;
    }
    r = subproc_proc_communicate(p, given, out);
    subproc_proc_free(p);
    out->wall_usec = now_us() - t0;
    if (r == 0 && (co->flags & SUBPROC_COMM_CHECK) &&
        !(out->status.exited && out->status.code == 0)) {
        char words[64];
        subproc_status_str(&out->status, words, sizeof words);
        r = subproc__fail(&out->error, SUBPROC_STEP_NONE, SUBPROC_ECHECK, -1, words);
    }
    return r;
}

char *subproc_result_str(const subproc_result *r, char *buf, size_t len)
{
    if (!buf || len == 0) return buf;
    if (!r) {
        snprintf(buf, len, "no result");
        return buf;
    }
    if (r->error.err && r->error.err != SUBPROC_ECHECK) return subproc_error_str(&r->error, buf, len);
    char st[64];
    if (r->status.exited || r->status.signaled)
        subproc_status_str(&r->status, st, sizeof st);
    else
        snprintf(st, sizeof st, "not finished");
    snprintf(buf, len, "%s%s", st, r->timed_out ? " (timed out)" : "");
    return buf;
}

void subproc_result_free(subproc_result *r)
{
    if (!r) return;
    free(r->out.data);
    free(r->err.data);
    subproc__result_init(r);
}
