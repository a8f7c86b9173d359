/*
 * group.c - many children waited on as one.
 *
 * Linux: each member's pidfd is registered in one epoll instance with the member as its data;
 * epoll_wait says which member ended, so waiting never walks the members. A member leaves epoll
 * (EPOLL_CTL_DEL) before anything can close its pidfd, so a recycled fd number is never watched.
 * Members without a pidfd (portable backend) are re-checked at growing intervals.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/epoll.h>
#endif

struct subproc_group {
    int epfd;              /* -1 without epoll */
    subproc_proc **members;
    size_t n, cap;
    size_t npolled;        /* members without a pidfd */
};

int subproc_group_new(subproc_group **out)
{
    *out = NULL;
    subproc_group *g = subproc__calloc(1, sizeof *g);
    if (!g) return -ENOMEM;
    g->epfd = -1;
#ifdef __linux__
    if (strcmp(subproc_backend(), "linux") == 0) {
        g->epfd = subproc__fd_lift(epoll_create1(EPOLL_CLOEXEC));
        if (g->epfd < 0) {
            int e = errno;
            free(g);
            return -e;
        }
    }
#endif
    *out = g;
    return 0;
}

static long find(const subproc_group *g, const subproc_proc *p)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->members[i] == p) return (long)i;
    return -1;
}

int subproc_group_add(subproc_group *g, subproc_proc *p)
{
    if (!g || !p) return -EINVAL;
    if (find(g, p) >= 0) return -EEXIST;
    if (p->reaped) return -EINVAL;
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 16;
        subproc_proc **m = subproc__realloc(g->members, cap * sizeof *m);
        if (!m) return -ENOMEM;
        g->members = m;
        g->cap = cap;
    }
#ifdef __linux__
    if (g->epfd >= 0 && p->pidfd >= 0) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = p};
        if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, p->pidfd, &ev) < 0) return -errno;
    } else
#endif
        g->npolled++;
    g->members[g->n++] = p;
    return 0;
}

static void drop(subproc_group *g, size_t i)
{
    subproc_proc *p = g->members[i];
#ifdef __linux__
    if (g->epfd >= 0 && p->pidfd >= 0)
        epoll_ctl(g->epfd, EPOLL_CTL_DEL, p->pidfd, NULL);
    else
#endif
        g->npolled--;
    g->members[i] = g->members[--g->n];
}

int subproc_group_remove(subproc_group *g, subproc_proc *p)
{
    if (!g || !p) return -EINVAL;
    long i = find(g, p);
    if (i < 0) return -ENOENT;
    drop(g, (size_t)i);
    return 0;
}

size_t subproc_group_size(const subproc_group *g)
{
    return g ? g->n : 0;
}

int subproc_group_fd(const subproc_group *g)
{
    return g && g->npolled == 0 ? g->epfd : -1;
}

/* Reap the first member that has ended, without blocking. 1 when one was found. */
static int reap_one(subproc_group *g, subproc_proc *hint, subproc_proc **out, subproc_status *st)
{
    if (hint) {
        long i = find(g, hint);
        if (i >= 0 && subproc_proc_try_wait(hint, st) != -EAGAIN) {
            drop(g, (size_t)i);
            *out = hint;
            return 1;
        }
    }
    /* Only the pidfd-less members need a look; the rest are reported by epoll. */
    for (size_t i = 0; i < g->n && g->npolled; i++) {
        subproc_proc *p = g->members[i];
        if (p->pidfd >= 0 && g->epfd >= 0) continue;
        if (subproc_proc_try_wait(p, st) != -EAGAIN) {
            drop(g, i);
            *out = p;
            return 1;
        }
    }
    return 0;
}

int subproc_group_wait_any(subproc_group *g, int timeout_ms, subproc_proc **out,
                           subproc_status *status)
{
    if (!g || !out) return -EINVAL;
    *out = NULL;
    subproc_status tmp;
    if (!status) status = &tmp;
    if (g->n == 0) return -ECHILD;
    int64_t deadline = timeout_ms > 0 ? subproc__now_ms() + timeout_ms : 0;
    int backoff = 1;
    subproc_proc *hint = NULL;
    for (;;) {
        if (reap_one(g, hint, out, status)) return 0;
        hint = NULL;
        int left = -1;
        if (timeout_ms == 0) {
            left = 0;
        } else if (timeout_ms > 0) {
            int64_t now = subproc__now_ms();
            left = now >= deadline ? 0 : (int)(deadline - now);
        }
        if (g->npolled) {
            /* Some members can only be re-checked: sleep a little at a time. */
            if (left < 0 || left > backoff) left = backoff;
            backoff = backoff * 2 > 20 ? 20 : backoff * 2;
        }
#ifdef __linux__
        if (g->epfd >= 0) {
            struct epoll_event ev;
            int n = epoll_wait(g->epfd, &ev, 1, left);
            if (n == 1) {
                hint = ev.data.ptr;
                continue;
            }
        } else
#endif
            if (left > 0) {
            struct timespec ts = {left / 1000, (long)(left % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        if (timeout_ms >= 0 && subproc__now_ms() >= deadline && !reap_one(g, NULL, out, status))
            return -ETIMEDOUT;
        if (*out) return 0;
    }
}

int subproc_group_wait_all(subproc_group *g, int timeout_ms)
{
    if (!g) return -EINVAL;
    int64_t deadline = timeout_ms > 0 ? subproc__now_ms() + timeout_ms : 0;
    while (g->n) {
        int left = timeout_ms;
        if (timeout_ms > 0) {
            int64_t now = subproc__now_ms();
            left = now >= deadline ? 0 : (int)(deadline - now);
        }
        subproc_proc *p;
        int r = subproc_group_wait_any(g, left, &p, NULL);
        if (r < 0) return r;
    }
    return 0;
}

void subproc_group_free(subproc_group *g)
{
    if (!g) return;
    while (g->n) drop(g, g->n - 1);
    subproc__close(g->epfd);
    free(g->members);
    free(g);
}
