/*
 * pool.c - run many jobs, at most J at once, driven by one event loop.
 *
 * Linux: the pidfd and the capture pipes of every running job sit in one epoll instance, so the
 * loop wakes exactly when some job wrote or ended. Portable backend (no pidfds): the loop also
 * wakes at growing intervals (1 ms to 20 ms) to re-check the running jobs.
 * A job is finished when its child is reaped and its pipes reached end-of-file; a grandchild that
 * keeps a pipe open delays that by DRAIN_MS at most.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/epoll.h>
#endif

#define DRAIN_MS 1000

struct slot {
    subproc_job *job;
    subproc_proc *p;
    int fd[2];           /* capture pipes: stdout, stderr; -1 when closed */
    char *buf[2];
    size_t len[2], cap[2];
    int trunc[2];        /* output was dropped: over max_output, or out of memory */
    int ring[2];         /* the capture reached max_output: [head, max) is a ring */
    size_t head[2], wpos[2];
    unsigned long long total[2];
    int64_t start_ms;
    int64_t deadline;    /* job timeout, 0: none */
    int64_t kill_at;     /* SIGKILL time once SIGTERM went out, 0: not yet */
    int64_t drain_until; /* after the reap, when to give up on the pipes */
    int exited;
    int incomplete; /* a pipe was still open when the drain ended */
};

struct pool {
    const subproc_pool_opts *o;
    struct slot *slots;
    unsigned nslots;
    int epfd;
    unsigned running;
    unsigned polled; /* running jobs without a pidfd */
    int failed;      /* some job failed (for SUBPROC_POOL_HALT_ON_ERROR) */
    int v3;          /* the caller's subproc_job has the version 3 fields */
};

/* The caller's job i: its array's elements are as large as its version of the struct. */
static subproc_job *job_at(subproc_job *jobs, size_t i, int v3)
{
    size_t size = v3 ? sizeof(subproc_job) : offsetof(subproc_job, out_head_len);
    return (subproc_job *)((char *)jobs + i * size);
}

#define EV(slot, kind) (((uint64_t)(slot) << 2) | (kind))
enum { EV_PID = 0, EV_OUT = 1, EV_ERR = 2 };

static void watch(struct pool *pl, int fd, uint64_t data)
{
#ifdef __linux__
    if (pl->epfd >= 0) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = data};
        epoll_ctl(pl->epfd, EPOLL_CTL_ADD, fd, &ev);
    }
#else
    (void)pl, (void)fd, (void)data;
#endif
}

static void unwatch(struct pool *pl, int fd)
{
#ifdef __linux__
    if (pl->epfd >= 0) epoll_ctl(pl->epfd, EPOLL_CTL_DEL, fd, NULL);
#else
    (void)pl, (void)fd;
#endif
}

static void close_pipe(struct pool *pl, struct slot *s, int k)
{
    if (s->fd[k] < 0) return;
    unwatch(pl, s->fd[k]); /* before close: the number may be reused at once */
    subproc__close(s->fd[k]);
    s->fd[k] = -1;
}

/* With opts.buffers, a capture starts in a kept block (its pages already there). The pool's
 * cap excludes the NUL's byte. */
static void reuse_block(subproc_buffers *b, struct slot *s, int k)
{
    size_t size, faulted;
    char *data;
    if (!subproc__buffers_take(b, &data, &size, &faulted)) return;
    if (size < 2) {
        subproc_buffers_give(b, data);
        return;
    }
    s->buf[k] = data;
    s->cap[k] = size - 1;
}

/* Read what is there; close at end-of-file. Over max_output the first half is kept as the head
 * and [head, max) becomes a ring of the most recent bytes, put in order by finish(). */
static void drain(struct pool *pl, struct slot *s, int k)
{
    size_t max = pl->o->max_output;
    char scratch[16384];
    while (s->fd[k] >= 0) {
        char *dst = scratch;
        size_t room = sizeof scratch;
        if (max && s->len[k] == max) {
            if (!s->ring[k]) {
                s->ring[k] = 1;
                s->head[k] = s->wpos[k] = max / 2;
            }
            dst = s->buf[k] + s->wpos[k];
            room = max - s->wpos[k];
        } else if (!max || s->len[k] < max) {
            if (!s->buf[k] && pl->o->buffers) reuse_block(pl->o->buffers, s, k);
            if (s->cap[k] - s->len[k] < 4096) {
                size_t cap = s->cap[k] ? s->cap[k] * 2 : 16384;
                char *b = subproc__realloc(s->buf[k], cap + 1);
                if (b) {
                    s->buf[k] = b;
                    s->cap[k] = cap;
                }
            }
            if (s->buf[k] && s->cap[k] > s->len[k]) {
                dst = s->buf[k] + s->len[k];
                room = s->cap[k] - s->len[k];
                if (max && room > max - s->len[k]) room = max - s->len[k];
            }
        }
        ssize_t r = read(s->fd[k], dst, room);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) return;
        if (r <= 0) {
            close_pipe(pl, s, k);
            return;
        }
        s->total[k] += (size_t)r;
        if (dst == scratch) {
            s->trunc[k] = 1;
        } else if (s->ring[k]) {
            s->trunc[k] = 1;
            s->wpos[k] += (size_t)r;
            if (s->wpos[k] == max) s->wpos[k] = s->head[k];
        } else {
            s->len[k] += (size_t)r;
        }
    }
}

static void reverse(char *a, size_t n)
{
    for (size_t i = 0; i < n / 2; i++) {
        char t = a[i];
        a[i] = a[n - 1 - i];
        a[n - 1 - i] = t;
    }
}

/* The ring [head, len) starts at wpos: rotate it so the tail reads oldest to newest. */
static void unring(struct slot *s, int k)
{
    char *t = s->buf[k] + s->head[k];
    size_t n = s->len[k] - s->head[k], at = s->wpos[k] - s->head[k];
    if (at == 0 || at >= n) return;
    reverse(t, at);
    reverse(t + at, n - at);
    reverse(t, n);
}

/* sig to the job's whole tree: its contained tree, else its process group through the child's
 * handle (only while the child is unreaped: wait.c), else the child alone. */
static void group_kill(struct slot *s, int sig)
{
    if (subproc_proc_containment(s->p))
        subproc_proc_signal_tree(s->p, sig);
    else if (subproc_proc_pgid(s->p) > 0)
        subproc__proc_send(s->p, sig, 1);
    else
        subproc_proc_signal(s->p, sig);
}

/* Reap the child if it has ended. A timed-out job's group gets its SIGKILL while the child is
 * still a zombie, so the group id cannot have been recycled. */
static void check_exit(struct pool *pl, struct slot *s, int64_t now)
{
    if (s->exited) return;
    int r;
    if (s->job->timed_out || (s->p->contain && s->p->leftovers == SUBPROC_LEFTOVERS_KILL)) {
        if (subproc_proc_wait_ex(s->p, 0, SUBPROC_WAIT_NOREAP, NULL) != 0) return;
        group_kill(s, SIGKILL);
        r = subproc_proc_wait(s->p, &s->job->status);
    } else if ((r = subproc_proc_wait_ex(s->p, 0, 0, &s->job->status)) == -ETIMEDOUT) {
        return; /* still running: reaping at once saves the look without reaping */
    }
    if (r < 0) {
        /* Reaped behind our back and the kernel cannot say how it ended: the job says so. */
        memset(&s->job->status, 0, sizeof s->job->status);
        subproc__fail(&s->job->error, SUBPROC_STEP_NONE, -r, -1,
                      "wait: the status was lost (reaped by someone else)");
    }
    s->exited = 1;
    s->drain_until = subproc__deadline_after(now, DRAIN_MS);
    if (s->p->pidfd >= 0)
        unwatch(pl, s->p->pidfd);
    else
        pl->polled--;
}

static int job_failed(const subproc_job *j)
{
    return !j->started || j->timed_out || !j->status.exited || j->status.code != 0;
}

static void finish(struct pool *pl, struct slot *s, int64_t now, size_t *ndone, size_t total)
{
    for (int k = 0; k < 2; k++) {
        close_pipe(pl, s, k);
        if (s->ring[k]) unring(s, k);
        if (s->len[k] == 0) { /* documented: NULL for a stream the job wrote nothing to */
            free(s->buf[k]);
            s->buf[k] = NULL;
        }
    }
    subproc_job *j = s->job;
    j->out = s->buf[0];
    j->out_len = s->len[0];
    j->err = s->buf[1];
    j->err_len = s->len[1];
    for (int k = 0; k < 2 && pl->o->buffers; k++) {
        char **d = k ? &j->err : &j->out;
        if (*d && (k ? j->err_len : j->out_len) == 0) {
            subproc_buffers_give(pl->o->buffers, *d); /* wrote nothing: NULL, as always */
            *d = NULL;
        }
    }
    j->out_truncated = s->trunc[0];
    j->err_truncated = s->trunc[1];
    if (j->out) j->out[j->out_len] = '\0';
    if (j->err) j->err[j->err_len] = '\0';
    if (pl->v3) {
        /* A ring entered at the limit but never written to dropped nothing. */
        j->out_head_len = s->ring[0] && s->trunc[0] ? s->head[0] : s->len[0];
        j->err_head_len = s->ring[1] && s->trunc[1] ? s->head[1] : s->len[1];
        j->out_total = s->total[0];
        j->err_total = s->total[1];
        j->output_incomplete = s->incomplete;
    }
    j->wall_usec = (now - s->start_ms) * 1000;
    subproc_proc_free(s->p);
    memset(s, 0, sizeof *s);
    s->fd[0] = s->fd[1] = -1;
    pl->running--;
    if (job_failed(j)) pl->failed = 1;
    ++*ndone;
    if (pl->o->on_done) pl->o->on_done(pl->o->ud, j, *ndone, total);
}

static int start(struct pool *pl, struct slot *s, subproc_job *j, unsigned idx, int64_t now)
{
    subproc_opts o;
    subproc__opts_copy(&o, j->opts);
    const unsigned groupish = SUBPROC_NEW_PGROUP | SUBPROC_JOIN_PGROUP | SUBPROC_NEW_SESSION;
    /* A contained job's tree is its handle; otherwise a deadline needs a group to reach the
     * job's descendants. */
    if (pl->o->timeout_ms > 0 && !(o.flags & groupish) && !o.contain)
        o.flags |= SUBPROC_NEW_PGROUP;
    int capture = pl->o->flags & SUBPROC_POOL_CAPTURE;
    if (capture) o.stdio[1] = o.stdio[2] = (subproc_io){.kind = SUBPROC_IO_PIPE};
    memset(s, 0, sizeof *s);
    s->fd[0] = s->fd[1] = -1;
    j->started = 0;
    j->timed_out = 0;
    if (pl->v3) {
        j->out_head_len = j->err_head_len = 0;
        j->out_total = j->err_total = 0;
        j->output_incomplete = 0;
    }
    j->spawn_rc = subproc_spawn(&s->p, &o, &j->error);
    if (j->spawn_rc < 0) return j->spawn_rc;
    j->started = 1;
    s->job = j;
    s->start_ms = now;
    s->deadline = pl->o->timeout_ms > 0 ? subproc__deadline_after(now, pl->o->timeout_ms) : 0;
    for (int k = 0; capture && k < 2; k++) {
        s->fd[k] = subproc_proc_take_fd(s->p, k + 1);
        fcntl(s->fd[k], F_SETFL, fcntl(s->fd[k], F_GETFL) | O_NONBLOCK);
        watch(pl, s->fd[k], EV(idx, k ? EV_ERR : EV_OUT));
    }
    if (s->p->pidfd >= 0 && pl->epfd >= 0)
        watch(pl, s->p->pidfd, EV(idx, EV_PID));
    else
        pl->polled++;
    pl->running++;
    return 0;
}

/* Deadlines, exits, drains: everything that time alone can move. */
static void tick(struct pool *pl, int64_t now, size_t *ndone, size_t total)
{
    for (unsigned i = 0; i < pl->nslots; i++) {
        struct slot *s = &pl->slots[i];
        if (!s->job) continue;
        if (!s->exited && s->deadline && now >= s->deadline && !s->kill_at) {
            s->job->timed_out = 1;
            group_kill(s, pl->o->kill_signal);
            if (subproc__needs_cont(pl->o->kill_signal)) group_kill(s, SIGCONT);
            int grace = pl->o->kill_grace_ms > 0 ? pl->o->kill_grace_ms : SUBPROC__DEFAULT_GRACE_MS;
            s->kill_at = subproc__deadline_after(now, grace);
        }
        if (!s->exited && s->kill_at && now >= s->kill_at) group_kill(s, SIGKILL);
        if (!s->exited && (s->p->pidfd < 0 || pl->epfd < 0)) check_exit(pl, s, now);
        if (s->exited && s->drain_until && now >= s->drain_until) {
            if (s->fd[0] >= 0 || s->fd[1] >= 0) s->incomplete = 1;
            for (int k = 0; k < 2; k++) close_pipe(pl, s, k);
        }
        if (s->exited && s->fd[0] < 0 && s->fd[1] < 0) finish(pl, s, now, ndone, total);
    }
}

/* How long the loop may sleep: until the nearest deadline, or the re-check interval. */
static int sleep_ms(struct pool *pl, int64_t now, int backoff)
{
    int64_t next = -1;
    for (unsigned i = 0; i < pl->nslots; i++) {
        struct slot *s = &pl->slots[i];
        if (!s->job) continue;
        int64_t t[3] = {s->exited ? 0 : s->kill_at ? s->kill_at : s->deadline,
                        s->exited ? s->drain_until : 0, 0};
        for (int k = 0; k < 2; k++)
            if (t[k] && (next < 0 || t[k] < next)) next = t[k];
    }
    int ms = next < 0 ? -1 : subproc__ms_left(next, now);
    if (pl->polled && (ms < 0 || ms > backoff)) ms = backoff;
    return ms;
}

int subproc_pool_run(subproc_job *jobs, size_t n, const subproc_pool_opts *opts)
{
    if (!opts || opts->version < 1 || opts->version > SUBPROC_POOL_OPTS_VERSION) return -EINVAL;
    /* A version 1 caller's struct ends before kill_signal, a version 2 one before buffers: read
     * only what it has. */
    subproc_pool_opts local = {0};
    memcpy(&local, opts,
           opts->version == 1   ? offsetof(subproc_pool_opts, kill_signal)
           : opts->version == 2 ? offsetof(subproc_pool_opts, buffers)
                                : sizeof local);
    const subproc_pool_opts *o = &local;
    if ((n && !jobs) || (o->flags & ~(SUBPROC_POOL_CAPTURE | SUBPROC_POOL_HALT_ON_ERROR)) ||
        (o->kill_signal && !subproc__sig_valid(o->kill_signal)))
        return -EINVAL;
    if (!local.kill_signal) local.kill_signal = SIGTERM;
    int v3 = opts->version >= 3;
    for (size_t i = 0; i < n; i++)
        if (!job_at(jobs, i, v3)->opts) return -EINVAL;
    struct pool pl = {.o = o, .epfd = -1, .v3 = v3};
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    pl.nslots = o->jobs ? o->jobs : cpus > 0 ? (unsigned)cpus : 1;
    if (pl.nslots > n) pl.nslots = n ? (unsigned)n : 1;
    pl.slots = subproc__calloc(pl.nslots, sizeof *pl.slots);
    if (!pl.slots) return -ENOMEM;
    for (unsigned i = 0; i < pl.nslots; i++) pl.slots[i].fd[0] = pl.slots[i].fd[1] = -1;
#ifdef __linux__
    if (strcmp(subproc_backend(), "linux") == 0) {
        pl.epfd = subproc__fd_lift(epoll_create1(EPOLL_CLOEXEC));
        if (pl.epfd < 0) {
            int e = errno;
            free(pl.slots);
            return -e;
        }
    }
#endif
    size_t next = 0, ndone = 0;
    int halted = 0, backoff = 1;
    for (;;) {
        int64_t now = subproc__now_ms();
        for (unsigned i = 0; i < pl.nslots && next < n && !halted; i++) {
            if (pl.slots[i].job) continue;
            subproc_job *j = job_at(jobs, next++, v3);
            if (start(&pl, &pl.slots[i], j, i, now) < 0) {
                pl.failed = 1;
                ++ndone;
                if (o->on_done) o->on_done(o->ud, j, ndone, n);
                if (o->flags & SUBPROC_POOL_HALT_ON_ERROR) halted = 1;
                i--; /* the slot is still free */
            }
        }
        if (pl.running == 0) break;

        int ms = sleep_ms(&pl, now, backoff);
#ifdef __linux__
        if (pl.epfd >= 0) {
            struct epoll_event ev[64];
            int k = epoll_wait(pl.epfd, ev, 64, ms);
            now = subproc__now_ms();
            for (int e = 0; e < k; e++) {
                struct slot *s = &pl.slots[ev[e].data.u64 >> 2];
                int kind = (int)(ev[e].data.u64 & 3);
                if (!s->job) continue;
                if (kind == EV_PID)
                    check_exit(&pl, s, now);
                else
                    drain(&pl, s, kind == EV_OUT ? 0 : 1);
            }
        } else
#endif
        {
            /* Sleep in poll() on the capture pipes, so output never waits for the re-check. */
            struct pollfd pfd[2 * 64];
            nfds_t np = 0;
            for (unsigned i = 0; i < pl.nslots && np + 2 <= sizeof pfd / sizeof pfd[0]; i++)
                for (int k = 0; k < 2; k++)
                    if (pl.slots[i].job && pl.slots[i].fd[k] >= 0)
                        pfd[np++] = (struct pollfd){pl.slots[i].fd[k], POLLIN, 0};
            poll(pfd, np, ms);
            now = subproc__now_ms();
            for (unsigned i = 0; i < pl.nslots; i++)
                for (int k = 0; k < 2 && pl.slots[i].job; k++) drain(&pl, &pl.slots[i], k);
        }
        backoff = pl.polled ? (backoff * 2 > 20 ? 20 : backoff * 2) : 1;
        size_t before = ndone;
        tick(&pl, now, &ndone, n);
        if (ndone != before) backoff = 1;
        if ((o->flags & SUBPROC_POOL_HALT_ON_ERROR) && pl.failed) halted = 1;
    }
    subproc__close(pl.epfd);
    free(pl.slots);
    return 0;
}

void subproc_buffers_recycle_job(subproc_buffers *b, subproc_job *j)
{
    if (!j) return;
    if (b) {
        if (j->out) subproc_buffers_give(b, j->out);
        if (j->err) subproc_buffers_give(b, j->err);
        j->out = j->err = NULL;
    }
    subproc_job_clear(j);
}

void subproc_job_clear(subproc_job *j)
{
    if (!j) return;
    free(j->out);
    free(j->err);
    j->out = j->err = NULL;
    j->out_len = j->err_len = 0;
}
