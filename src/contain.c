/*
 * contain.c - the child's whole process tree under a handle: which mechanism a spawn gets, and
 * what acting on "the tree" means for each (see subproc.h, Containment).
 *
 * The mechanisms, best first:
 *  - cgroup: cgroup.c. The child starts inside a cgroup of its own; the cgroup is the tree.
 *  - pidns: the child is init of a new PID namespace; when init ends, the kernel SIGKILLs every
 *    other process of the namespace and the namespace is empty before init can be reaped
 *    (pid_namespaces(7)). So the tree ends with the child: there are never leftovers.
 *  - pgroup: the child leads a new process group; group signals go through its pidfd
 *    (wait.c), only while it is unreaped. A descendant that calls setsid()/setpgid() escapes.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *subproc_containment_name(unsigned m)
{
    switch (m) {
    case SUBPROC_CONTAIN_CGROUP:
        return "cgroup";
    case SUBPROC_CONTAIN_PIDNS:
        return "pidns";
    case SUBPROC_CONTAIN_PGROUP:
        return "pgroup";
    default:
        return "none";
    }
}

/* Whether a new PID namespace can be had: CAP_SYS_ADMIN (we only check for root), or
 * unprivileged user namespaces (Debian's sysctl, and the general limit). */
static int pidns_possible(void)
{
#ifdef __linux__
    if (geteuid() == 0) return 1;
    static const char *const knobs[] = {"/proc/sys/kernel/unprivileged_userns_clone",
                                        "/proc/sys/user/max_user_namespaces"};
    for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++) {
        int fd = open(knobs[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        char b[32] = {0};
        ssize_t n = read(fd, b, sizeof b - 1);
        subproc__close(fd);
        if (n > 0 && atol(b) == 0) return 0;
    }
    return 1;
#else
    return 0;
#endif
}

int subproc__contain_cgroup(struct subproc__cgroup *cg, const subproc_opts *o,
                            subproc_error *err)
{
    if (!(o->contain & SUBPROC_CONTAIN_CGROUP)) return 1;
    subproc_error e;
    int r = subproc__cgroup_create(cg, o->cgroup_parent, o->cgroup_limits, &e);
    if (r == 0) return 0;
    /* A parent or limits the caller named are a requirement, not a wish: say why not. */
    if (o->cgroup_parent || o->cgroup_limits ||
        !(o->contain & (SUBPROC_CONTAIN_PIDNS | SUBPROC_CONTAIN_PGROUP))) {
        if (err) *err = e;
        return r;
    }
    return 1;
}

int subproc__contain_prepare(struct subproc__contain *ct, const subproc_opts *o,
                             struct subproc__plan *pl, const struct subproc__cgroup *join,
                             subproc_error *err)
{
    memset(ct, 0, sizeof *ct);
    subproc__cgroup_init(&ct->cg);
    if (join) {
        pl->cgroup_fd = join->dirfd;
        return 0;
    }
    if (!o->contain) return 0;
    int r = subproc__contain_cgroup(&ct->cg, o, err);
    if (r < 0) return r;
    if (r == 0) {
        /* The backend starts the child inside (clone3), or opens cgroup.procs for a child that
         * joins by itself (subproc__plan_join_fd). */
        pl->cgroup_fd = ct->cg.dirfd;
        ct->mech = SUBPROC_CONTAIN_CGROUP;
        return 0;
    }
    if ((o->contain & SUBPROC_CONTAIN_PIDNS) && pidns_possible()) {
        pl->newpid = 1;
        pl->newuser = geteuid() != 0;
        ct->mech = SUBPROC_CONTAIN_PIDNS;
        return 0;
    }
    if (o->contain & SUBPROC_CONTAIN_PGROUP) {
        if (o->flags & SUBPROC_JOIN_PGROUP)
            return subproc__fail(err, SUBPROC_STEP_VALIDATE, EINVAL, -1,
                                 "contain: a process group of its own conflicts with "
                                 "SUBPROC_JOIN_PGROUP");
        if (!(o->flags & SUBPROC_NEW_SESSION)) pl->flags |= SUBPROC_NEW_PGROUP;
        ct->mech = SUBPROC_CONTAIN_PGROUP;
        return 0;
    }
    return subproc__fail(err, SUBPROC_STEP_CGROUP, EOPNOTSUPP, -1,
                         "contain: no mechanism asked for is available here");
}

void subproc__contain_finish(struct subproc__contain *ct, struct subproc__plan *pl,
                             subproc_proc *p, int ok)
{
    subproc__close(pl->cgroup_procs_fd);
    pl->cgroup_procs_fd = -1;
    if (!ok || !p) {
        subproc__cgroup_destroy(&ct->cg);
        return;
    }
    p->contain = ct->mech;
    p->cg = ct->cg;
}

unsigned subproc_proc_containment(const subproc_proc *p)
{
    return p ? p->contain : 0;
}

const char *subproc_proc_cgroup_path(const subproc_proc *p)
{
    return p && p->contain == SUBPROC_CONTAIN_CGROUP ? p->cg.path : NULL;
}

int subproc_proc_signal_tree(subproc_proc *p, int sig)
{
    if (!p || (sig != 0 && !subproc__sig_valid(sig))) return -EINVAL;
    switch (p->contain) {
    case SUBPROC_CONTAIN_CGROUP:
        if (sig == SIGKILL) return subproc__cgroup_kill(&p->cg);
        if (sig == 0) return subproc__cgroup_populated(&p->cg) == 1 ? 0 : -ESRCH;
        return subproc__cgroup_signal(&p->cg, sig);
    case SUBPROC_CONTAIN_PIDNS:
        return subproc__proc_send(p, sig, 0);
    case SUBPROC_CONTAIN_PGROUP:
        return subproc__proc_send(p, sig, 1);
    default:
        return -EINVAL;
    }
}

int subproc_proc_kill_tree(subproc_proc *p)
{
    return subproc_proc_signal_tree(p, SIGKILL);
}

int subproc_proc_wait_tree(subproc_proc *p, int timeout_ms)
{
    if (!p || !p->contain) return -EINVAL;
    if (p->contain != SUBPROC_CONTAIN_CGROUP) {
        /* pidns: the namespace is empty once its init has exited. pgroup: nothing better can be
         * told safely than the child's own end. */
        int r = subproc_proc_wait_ex(p, timeout_ms, SUBPROC_WAIT_NOREAP, NULL);
        return r == -ECHILD ? 0 : r;
    }
    int64_t deadline = timeout_ms > 0 ? subproc__now_ms() + timeout_ms : 0;
    for (;;) {
        int pop = subproc__cgroup_populated(&p->cg);
        if (pop <= 0) return pop < 0 ? pop : 0;
        int left = -1;
        if (timeout_ms == 0) return -ETIMEDOUT;
        if (timeout_ms > 0) {
            int64_t now = subproc__now_ms();
            if (now >= deadline) return -ETIMEDOUT;
            left = deadline - now > 1000 ? 1000 : (int)(deadline - now);
        }
        /* cgroup.events signals POLLPRI on every change; the re-read above is the truth. */
        struct pollfd pfd = {subproc__cgroup_events(&p->cg), POLLPRI, 0};
        poll(&pfd, 1, left);
    }
}

int subproc_proc_tree_fd(const subproc_proc *p)
{
    if (!p || !p->contain) return -1;
    if (p->contain != SUBPROC_CONTAIN_CGROUP) return p->pidfd;
    int fd = subproc__cgroup_events((struct subproc__cgroup *)&p->cg); /* opened on first use */
    return fd < 0 ? -1 : fd;
}

int subproc_proc_freeze(subproc_proc *p, int frozen)
{
    if (!p) return -EINVAL;
    if (p->contain != SUBPROC_CONTAIN_CGROUP) return -EOPNOTSUPP;
    return subproc__cgroup_freeze(&p->cg, frozen);
}

int subproc_proc_tree_stats(const subproc_proc *p, subproc_tree_stats *out)
{
    if (!p || !out) return -EINVAL;
    if (p->contain != SUBPROC_CONTAIN_CGROUP) return -EOPNOTSUPP;
    return subproc__cgroup_stats(&p->cg, out);
}

void subproc__contain_child_ended(subproc_proc *p)
{
    if (p->contain && p->leftovers == SUBPROC_LEFTOVERS_KILL) subproc_proc_kill_tree(p);
}

int subproc__tree_terminate(subproc_proc *p, int sig, int grace_ms, subproc_status *out)
{
    subproc_proc_signal_tree(p, sig);
    if (subproc__needs_cont(sig)) subproc_proc_signal_tree(p, SIGCONT);
    /* A frozen tree would sit through the grace period and the KILL alike. */
    if (p->contain == SUBPROC_CONTAIN_CGROUP) subproc__cgroup_freeze(&p->cg, 0);
    if (subproc_proc_wait_tree(p, grace_ms < 0 ? 0 : grace_ms) != 0 ||
        p->contain != SUBPROC_CONTAIN_CGROUP)
        subproc_proc_kill_tree(p); /* pgroup: before the reap below, while the id is ours */
    int r = subproc_proc_wait(p, out);
    if (p->contain == SUBPROC_CONTAIN_CGROUP) subproc_proc_wait_tree(p, 5000);
    return r;
}

void subproc__contain_release(subproc_proc *p)
{
    if (p->contain == SUBPROC_CONTAIN_CGROUP)
        subproc__cgroup_release(&p->cg, p->leftovers != SUBPROC_LEFTOVERS_LEAVE);
}
