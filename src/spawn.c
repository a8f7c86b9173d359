/* spawn.c - the parent side of subproc_spawn(): check the options, prepare everything the child
 * needs (see child.c), start it through a backend, and clean up whatever happens. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

extern char **environ;

#define STDIO_FLAGS_OUT (O_WRONLY | O_CREAT | O_TRUNC)

static pthread_once_t backend_once = PTHREAD_ONCE_INIT;
static int force_posix;
static int have_close_range;

static void backend_init(void)
{
    const char *b = getenv("SUBPROC_BACKEND");
#ifdef SUBPROC_FORCE_POSIX
    force_posix = 1;
#endif
    if (b && strcmp(b, "posix") == 0) force_posix = 1;
    if (!force_posix && !subproc__have_linux_backend()) force_posix = 1;
#if defined(__linux__) && defined(SYS_close_range)
    /* An empty, out-of-range span: 0 where close_range(2) exists, ENOSYS where it does not. */
    have_close_range = syscall(SYS_close_range, ~0u, ~0u, 0) == 0;
#endif
}

const char *subproc_backend(void)
{
    pthread_once(&backend_once, backend_init);
    return force_posix ? "posix" : "linux";
}

/* Fd plans up to this many moves (stdio plus 5 extra fds) need no allocation. */
#define SMALL_PLAN 8

/* Everything a spawn allocates or opens, so one cleanup path releases it all. */
struct spawn_ctx {
    struct subproc__plan pl;
    struct subproc__move *mv; /* all moves: stdio then extra fds; then room for the plan */
    int *keep;
    int *tmp;                 /* the plan's early list (sources to keep until the plan) */
    struct subproc__move mv_small[3 * SMALL_PLAN];
    int keep_small[SMALL_PLAN], tmp_small[SMALL_PLAN];
    char **cands;  /* cand_one, or one allocation: the pointers, then the strings */
    char *cand_one[1]; /* a program with a '/' is its only candidate, used as given */
    size_t ncands;
    int opened[3];  /* fds we opened for stdio (files, /dev/null, child ends of pipes) */
    int parent[3];  /* parent ends of pipes */
    int nullfd;
    struct subproc__pty pty; /* the child's terminal (pty.c) */
};

static void ctx_release(struct spawn_ctx *c, int keep_parent_ends)
{
    for (int i = 0; i < 3; i++) {
        subproc__close(c->opened[i]);
        if (!keep_parent_ends) subproc__close(c->parent[i]);
    }
    subproc__close(c->nullfd);
    subproc__pty_release(&c->pty, keep_parent_ends);
    if (c->cands != c->cand_one) free(c->cands);
    if (c->mv != c->mv_small) free(c->mv);
    if (c->keep != c->keep_small) free(c->keep);
    if (c->tmp != c->tmp_small) free(c->tmp);
}

/* A validation failure: what is wrong with which field, in words, as err->path. */
__attribute__((format(printf, 4, 5))) static int bad(subproc_error *err, int e, int fd,
                                                     const char *fmt, ...)
{
    char msg[sizeof err->path];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return subproc__fail(err, SUBPROC_STEP_VALIDATE, e, fd, msg);
}

static const char *const stream_names[3] = {"stdin", "stdout", "stderr"};

static int check_opts(const subproc_opts *o, subproc_error *err)
{
    if (!o) return bad(err, EINVAL, -1, "opts is NULL");
    if (o->version == 0)
        return bad(err, EINVAL, -1, "version is 0: start from SUBPROC_OPTS_INIT or "
                                    "subproc_opts_init()");
    if (o->version != SUBPROC_OPTS_VERSION)
        return bad(err, EINVAL, -1, "version is %u, this library takes %d: start from "
                                    "SUBPROC_OPTS_INIT", o->version, SUBPROC_OPTS_VERSION);
    const unsigned known = ((SUBPROC_FORCE_FORK << 1) - 1) | SUBPROC_DETACH;
    if (o->flags & ~known)
        return bad(err, EINVAL, -1, "flags has unknown bits 0x%x", o->flags & ~known);
    if (o->argv && o->fn)
        return bad(err, EINVAL, -1, "argv and fn are both set: give argv (exec mode) or fn "
                                    "(fork mode), not both");
    if (!o->argv && !o->fn)
        return bad(err, EINVAL, -1, "argv is NULL: give the program and its arguments as a "
                                    "NULL-terminated array (or fn for fork mode)");
    if (o->argv) {
        if (!o->argv[0]) return bad(err, EINVAL, -1, "argv is empty: argv[0] is NULL");
        for (size_t i = 0; o->argv_lens && o->argv[i]; i++) {
            const char *nul = memchr(o->argv[i], '\0', o->argv_lens[i]);
            if (nul)
                return bad(err, EINVAL, -1, "argv[%zu] holds a NUL byte at offset %zu of its "
                                            "%zu bytes (argv_lens)",
                           i, (size_t)(nul - o->argv[i]), o->argv_lens[i]);
        }
    }
    int sessions = !!(o->flags & SUBPROC_NEW_PGROUP) + !!(o->flags & SUBPROC_JOIN_PGROUP) +
                   !!(o->flags & SUBPROC_NEW_SESSION);
    if (sessions > 1)
        return bad(err, EINVAL, -1, "flags: SUBPROC_NEW_PGROUP, SUBPROC_JOIN_PGROUP and "
                                    "SUBPROC_NEW_SESSION exclude each other");
    if ((o->flags & SUBPROC_JOIN_PGROUP) && o->pgid <= 0)
        return bad(err, EINVAL, -1, "SUBPROC_JOIN_PGROUP needs pgid > 0, not %d", (int)o->pgid);
    if (o->pdeathsig && !subproc__sig_valid(o->pdeathsig))
        return bad(err, EINVAL, -1, "pdeathsig %d is not a signal number", o->pdeathsig);
    if (o->pdeathsig && (o->flags & SUBPROC_DETACH))
        return bad(err, EINVAL, -1, "pdeathsig and SUBPROC_DETACH exclude each other: a "
                                    "detached child's parent is not this process");
    if ((o->flags & SUBPROC_SET_GROUPS) && o->ngroups && !o->groups)
        return bad(err, EINVAL, -1, "SUBPROC_SET_GROUPS: ngroups is %zu but groups is NULL",
                   o->ngroups);
    if (o->nrlimits && !o->rlimits)
        return bad(err, EINVAL, -1, "nrlimits is %zu but rlimits is NULL", o->nrlimits);
    for (size_t i = 0; i < o->nrlimits; i++) {
        if (o->rlimits[i].resource < 0 || o->rlimits[i].resource >= RLIM_NLIMITS)
            return bad(err, EINVAL, -1, "rlimits[%zu].resource %d is not an RLIMIT_ value", i,
                       o->rlimits[i].resource);
        if (o->rlimits[i].hard != RLIM_INFINITY && o->rlimits[i].soft > o->rlimits[i].hard)
            return bad(err, EINVAL, -1, "rlimits[%zu]: soft limit %llu is above the hard limit "
                                        "%llu", i, (unsigned long long)o->rlimits[i].soft,
                       (unsigned long long)o->rlimits[i].hard);
    }
    for (int i = 0; i < 3; i++) {
        const subproc_io *io = &o->stdio[i];
        if ((unsigned)io->kind > SUBPROC_IO_PTY)
            return bad(err, EINVAL, i, "stdio[%d].kind %d is not a subproc_io_kind (%s)", i,
                       (int)io->kind, stream_names[i]);
        if (io->kind == SUBPROC_IO_STDOUT && i != 2)
            return bad(err, EINVAL, i, "stdio[%d] is SUBPROC_IO_STDOUT, which only stderr "
                                       "(stdio[2]) takes", i);
        if (io->kind == SUBPROC_IO_FILE && !io->path)
            return bad(err, EINVAL, i, "stdio[%d] is SUBPROC_IO_FILE but its path is NULL (%s)",
                       i, stream_names[i]);
        if (io->kind == SUBPROC_IO_FD && !subproc__fd_valid(io->fd))
            return bad(err, EBADF, i, "stdio[%d].fd %d is not an open fd (%s)", i, io->fd,
                       stream_names[i]);
    }
    if (o->nfds && !o->fds)
        return bad(err, EINVAL, -1, "nfds is %zu but fds is NULL", o->nfds);
    for (size_t i = 0; i < o->nfds; i++) {
        int dst = o->fds[i].child_fd;
        if (dst < 3)
            return bad(err, EINVAL, dst, "fds[%zu].child_fd is %d: extra fds start at 3 (0-2 are "
                                         "set with stdio)", i, dst);
        if (!subproc__fd_valid(o->fds[i].parent_fd))
            return bad(err, EBADF, dst, "fds[%zu].parent_fd %d is not an open fd", i,
                       o->fds[i].parent_fd);
        for (size_t j = 0; j < i; j++)
            if (o->fds[j].child_fd == dst)
                return bad(err, EINVAL, dst, "fds[%zu].child_fd %d is also fds[%zu].child_fd: "
                                             "each child fd takes one source", i, dst, j);
    }
    if (o->nfds) {
        /* A target at or above the child's own fd limit is refused before anything starts,
         * naming it: the child's RLIMIT_NOFILE is its program's world, where such an fd could
         * not exist (a lower limit is only set after the plan, for the plan's temporaries). */
        struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
        getrlimit(RLIMIT_NOFILE, &rl);
        for (size_t i = 0; i < o->nrlimits; i++)
            if (o->rlimits[i].resource == RLIMIT_NOFILE) rl.rlim_cur = o->rlimits[i].soft;
        for (size_t i = 0; i < o->nfds; i++)
            if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)o->fds[i].child_fd >= rl.rlim_cur)
                return subproc__fail(err, SUBPROC_STEP_FDMAP, EBADF, o->fds[i].child_fd, NULL);
    }
    for (int i = 0; i < 3; i++)
        if (o->stdio[i].kind == SUBPROC_IO_PTY && (o->flags & SUBPROC_JOIN_PGROUP))
            return subproc__fail(err, SUBPROC_STEP_VALIDATE, EINVAL, i, NULL);
    if (o->cwd && !*o->cwd) return subproc__fail(err, SUBPROC_STEP_CHDIR, ENOENT, -1, o->cwd);
    if (o->contain & ~SUBPROC_CONTAIN_ANY)
        return subproc__fail(err, SUBPROC_STEP_VALIDATE, EINVAL, -1, "contain");
    if (o->leftovers < SUBPROC_LEFTOVERS_LEAVE || o->leftovers > SUBPROC_LEFTOVERS_WAIT)
        return subproc__fail(err, SUBPROC_STEP_VALIDATE, EINVAL, -1, "leftovers");
    if (o->contain && (o->flags & SUBPROC_DETACH))
        return subproc__fail(err, SUBPROC_STEP_VALIDATE, EINVAL, -1,
                             "contain and SUBPROC_DETACH exclude each other: a detached program "
                             "is let go, a contained one is held");
    if (!o->contain && (o->cgroup_parent || o->cgroup_limits))
        return subproc__fail(err, SUBPROC_STEP_VALIDATE, EINVAL, -1,
                             "cgroup_parent/cgroup_limits without contain");
    return 0;
}

/* The size of a version-1 subproc_opts: everything before the fields version 2 added. */
#define OPTS_V1_SIZE offsetof(subproc_opts, contain)

size_t subproc__opts_size(const subproc_opts *o)
{
    return o && o->version == 1 ? OPTS_V1_SIZE : sizeof(subproc_opts);
}

void subproc__opts_copy(subproc_opts *dst, const subproc_opts *src)
{
    memset(dst, 0, sizeof *dst);
    memcpy(dst, src, subproc__opts_size(src));
    dst->version = src->version == 1 ? SUBPROC_OPTS_VERSION : src->version;
}

/* The PATH the child will see. */
static const char *child_path(const subproc_opts *o)
{
    if (o->env) return subproc_env_get(o->env, "PATH");
    for (char **p = environ; p && *p; p++)
        if (strncmp(*p, "PATH=", 5) == 0) return *p + 5;
    return NULL;
}

/* Append dir/prog at *at (room was reserved by resolve()). */
static void add_cand(struct spawn_ctx *c, char **at, const char *dir, size_t dlen,
                     const char *prog, size_t plen)
{
    char *s = *at;
    memcpy(s, dir, dlen);
    size_t n = dlen;
    if (dir[dlen - 1] != '/') s[n++] = '/';
    memcpy(s + n, prog, plen + 1);
    c->cands[c->ncands++] = s;
    *at = s + n + plen + 1;
}

/* The exec candidates, as execvp would try them, minus implicit current-directory matches. */
static int resolve(struct spawn_ctx *c, const subproc_opts *o, subproc_error *err)
{
    const char *prog = o->program ? o->program : o->argv[0];
    size_t plen = strlen(prog);
    if (plen == 0) return subproc__fail(err, SUBPROC_STEP_RESOLVE, ENOENT, -1, prog);
    if (strchr(prog, '/') || (o->flags & SUBPROC_NO_PATH_SEARCH)) {
        /* The caller's string lives until subproc_spawn() returns, which outlasts the child's
         * use of it (the exec, or its failure, happens before the backend returns). */
        c->cand_one[0] = (char *)prog;
        c->cands = c->cand_one;
        c->ncands = 1;
        return 0;
    }
    char defpath[256];
    const char *path = child_path(o);
    if (!path) {
        size_t n = confstr(_CS_PATH, defpath, sizeof defpath);
        path = n > 0 && n <= sizeof defpath ? defpath : "/bin:/usr/bin";
    }
    size_t max = 1, pathlen = 0;
    for (const char *p = path; *p; p++, pathlen++) max += *p == ':';
    /* Each entry's text plus '/', the program and a NUL: at most pathlen + max * (plen + 2). */
    c->cands = subproc__malloc(max * sizeof *c->cands + pathlen + max * (plen + 2));
    if (!c->cands) return subproc__fail(err, SUBPROC_STEP_ALLOC, ENOMEM, -1, NULL);
    char *at = (char *)(c->cands + max);
    for (const char *p = path;;) {
        const char *end = strchr(p, ':');
        size_t dlen = end ? (size_t)(end - p) : strlen(p);
        /* Only absolute entries: "", "." and "bin" would all match relative to the cwd. */
        if (dlen > 0 && p[0] == '/' && dlen + plen + 2 <= PATH_MAX)
            add_cand(c, &at, p, dlen, prog, plen);
        if (!end) break;
        p = end + 1;
    }
    if (c->ncands == 0) return subproc__fail(err, SUBPROC_STEP_RESOLVE, ENOENT, -1, prog);
    c->pl.searched = 1;
    return 0;
}

/* Open what stdio slot i needs and return the parent fd that becomes the child's fd i,
 * or -1 for "leave the slot alone". */
static int stdio_source(struct spawn_ctx *c, const subproc_opts *o, int i, subproc_error *err)
{
    const subproc_io *io = &o->stdio[i];
    int fd, r;
    switch (io->kind) {
    case SUBPROC_IO_INHERIT:
        return -1;
    case SUBPROC_IO_NULL:
        if (c->nullfd < 0) {
            fd = open("/dev/null", O_RDWR | O_CLOEXEC);
            if (fd < 0) return subproc__fail(err, SUBPROC_STEP_OPEN, errno, i, "/dev/null");
            c->nullfd = subproc__fd_lift(fd);
            if (c->nullfd < 0)
                return subproc__fail(err, SUBPROC_STEP_OPEN, -c->nullfd, i, "/dev/null");
        }
        return c->nullfd;
    case SUBPROC_IO_PIPE:
    case SUBPROC_IO_SOCKET: {
        int p[2];
        r = io->kind == SUBPROC_IO_PIPE ? subproc__pipe(p) : subproc__socketpair(p);
        if (r < 0) return subproc__fail(err, SUBPROC_STEP_PIPE, -r, i, NULL);
        c->opened[i] = i == 0 ? p[0] : p[1];
        c->parent[i] = i == 0 ? p[1] : p[0];
        return c->opened[i];
    }
    case SUBPROC_IO_FILE: {
        int flags = io->flags ? io->flags : i == 0 ? O_RDONLY : STDIO_FLAGS_OUT;
        fd = open(io->path, flags | O_CLOEXEC, io->mode ? io->mode : 0666);
        if (fd < 0) return subproc__fail(err, SUBPROC_STEP_OPEN, errno, i, io->path);
        c->opened[i] = subproc__fd_lift(fd);
        if (c->opened[i] < 0)
            return subproc__fail(err, SUBPROC_STEP_OPEN, -c->opened[i], i, io->path);
        return c->opened[i];
    }
    case SUBPROC_IO_FD:
        return io->fd;
    case SUBPROC_IO_PTY:
        return subproc__pty_stream(&c->pty, o->stdio, i, &c->parent[i], err);
    case SUBPROC_IO_STDOUT:
        break;
    }
    return -1;
}

static int build_fd_plan(struct spawn_ctx *c, const subproc_opts *o, subproc_error *err)
{
    size_t n = 0, cap = 3 + o->nfds;
    if (cap <= SMALL_PLAN) {
        c->mv = c->mv_small;
        c->keep = c->keep_small;
        c->tmp = c->tmp_small;
    } else {
        c->mv = subproc__calloc(3 * cap, sizeof *c->mv);
        c->keep = subproc__calloc(cap, sizeof *c->keep);
        c->tmp = subproc__calloc(cap, sizeof *c->tmp);
        if (!c->mv || !c->keep || !c->tmp)
            return subproc__fail(err, SUBPROC_STEP_ALLOC, ENOMEM, -1, NULL);
    }
    int src[3];
    for (int i = 0; i < 3; i++) {
        if (o->stdio[i].kind == SUBPROC_IO_STDOUT) {
            /* The child's stdout, whatever it is: its source, or the inherited fd 1. */
            src[i] = src[1] >= 0 ? src[1] : 1;
            if (src[1] < 0 && !subproc__fd_valid(1))
                return bad(err, EBADF, 2, "stdio[2] is SUBPROC_IO_STDOUT and stdout is "
                                          "inherited, but this process has no fd 1");
        } else {
            src[i] = stdio_source(c, o, i, err);
            if (src[i] < -1) return src[i];
        }
        if (src[i] >= 0) c->mv[n++] = (struct subproc__move){src[i], i, 0};
    }
    for (size_t i = 0; i < o->nfds; i++)
        c->mv[n++] = (struct subproc__move){o->fds[i].parent_fd, o->fds[i].child_fd, 0};
    /* The requested moves, then the solved plan (at most one extra step per cycle). */
    if (subproc__plan_fds(&c->pl, c->mv, n, c->mv + cap, c->keep, c->tmp, c->pl.errfd) < 0)
        return subproc__fail(err, SUBPROC_STEP_ALLOC, ENOMEM, -1, NULL);
    if (!have_close_range) {
        int m = subproc__max_open_fd();
        c->pl.maxfd = m > c->pl.hi + (int)n + 8 ? m : c->pl.hi + (int)n + 8;
    }
    return 0;
}

/* SUBPROC_DETACH: the portable backend starts the intermediate (child.c), which is reaped here
 * whatever happened; *pid becomes the program's. */
static int spawn_detached(struct subproc__plan *pl, pid_t *pid, int *pidfd, subproc_error *err)
{
    volatile pid_t *shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE,
                                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) return subproc__fail(err, SUBPROC_STEP_CLONE, errno, -1, NULL);
    *shared = 0;
    pl->detached_pid = shared;
    pid_t mid = -1;
    int r = subproc__spawn_posix(pl, &mid, pidfd, err);
    if (r == 0) {
        subproc__reap(mid); /* it exited right after its fork */
        subproc__close(*pidfd); /* the intermediate's, if the backend took one */
        *pid = *shared;
        *pidfd = -1;
    }
    munmap((void *)shared, sizeof *shared);
    return r;
}

static void fill_exec_error(const struct spawn_ctx *c, const subproc_opts *o, subproc_error *err,
                            int step, int e, int fd, int cand)
{
    const char *path = NULL;
    if (step == SUBPROC_STEP_EXEC && cand >= 0 && (size_t)cand < c->ncands)
        path = c->cands[cand];
    else if (step == SUBPROC_STEP_RESOLVE)
        path = o->program ? o->program : o->argv[0];
    else if (step == SUBPROC_STEP_CHDIR)
        path = o->cwd;
    subproc__fail(err, (subproc_step)step, e, fd, path);
}

int subproc_spawn(subproc_proc **out, const subproc_opts *o, subproc_error *err)
{
    return subproc__spawn_into(out, o, err, NULL);
}

int subproc__spawn_into(subproc_proc **out, const subproc_opts *o, subproc_error *err,
                        const struct subproc__cgroup *join)
{
    int r;
    if (err) subproc__fail(err, SUBPROC_STEP_NONE, 0, -1, NULL);
    if (!out) return bad(err, EINVAL, -1, "out is NULL: pass where the handle goes");
    *out = NULL;
    /* A version-1 caller's struct ends before the version-2 fields: read only what it has. */
    subproc_opts local;
    if (o && o->version == 1) {
        subproc__opts_copy(&local, o);
        o = &local;
    }
    /* A remote child is a local ssh client that remote.c describes and starts through here. */
    if (o && o->version >= 2 && o->remote) return subproc__remote_spawn(out, o, err);
    if ((r = check_opts(o, err)) < 0) return r;
    pthread_once(&backend_once, backend_init);

    struct spawn_ctx c;
    memset(&c, 0, sizeof c);
    c.nullfd = -1;
    subproc__pty_init(&c.pty);
    for (int i = 0; i < 3; i++) c.opened[i] = c.parent[i] = -1;

    subproc_proc *p = subproc__calloc(1, sizeof *p);
    if (!p) return subproc__fail(err, SUBPROC_STEP_ALLOC, ENOMEM, -1, NULL);

    struct subproc__plan *pl = &c.pl;
    pl->errfd = -1;
    pl->gofd = -1;
    pl->cgroup_fd = pl->cgroup_procs_fd = -1;
    pl->ctty_fd = -1;
    pl->fail_cand = -1;
    pl->flags = o->flags;
    pl->cwd = o->cwd;
    pl->pgid = o->pgid;
    pl->umask = o->umask;
    pl->nice = o->nice;
    pl->rlimits = o->rlimits;
    pl->nrlimits = o->nrlimits;
    pl->pdeathsig = o->pdeathsig;
    pl->child_mask = o->sigmask; /* used with SUBPROC_SET_SIGMASK; else the backend sets it */
    /* Only the parent-death check needs it, and getpid() is a system call (glibc caches no
     * PID since 2.25). */
    pl->parent_pid = o->pdeathsig ? getpid() : 0;
    pl->uid = o->uid;
    pl->gid = o->gid;
    pl->groups = o->groups;
    pl->ngroups = o->ngroups;
    pl->maxfd = -1;
    pl->fn = o->fn;
    pl->fn_arg = o->fn_arg;
    if (o->fn && o->env) pl->envp = o->env->vars; /* fork mode: child.c installs it */
    if (o->argv) {
        pl->argv = (char *const *)o->argv;
        pl->envp = o->env ? o->env->vars : environ;
        if ((r = resolve(&c, o, err)) < 0) goto fail;
        pl->cands = (const char *const *)c.cands;
        pl->ncands = c.ncands;
    }
    if ((r = build_fd_plan(&c, o, err)) < 0) goto fail;
    struct subproc__contain ct;
    if ((r = subproc__contain_prepare(&ct, o, pl, join, err)) < 0) goto fail;
    if (c.pty.slave >= 0) {
        /* The terminal becomes the controlling terminal of a new session (child.c). */
        pl->ctty_fd = c.pty.slave;
        pl->flags = (pl->flags & ~SUBPROC_NEW_PGROUP) | SUBPROC_NEW_SESSION;
    }

    pid_t pid = -1;
    int pidfd = -1;
    if (o->flags & SUBPROC_DETACH)
        r = spawn_detached(pl, &pid, &pidfd, err);
    else if (o->fn || force_posix || (o->flags & SUBPROC_FORCE_FORK))
        r = subproc__spawn_posix(pl, &pid, &pidfd, err);
    else
        r = subproc__spawn_linux(pl, &pid, &pidfd, err);
    if (r < 0) {
        if (pl->fail_step) fill_exec_error(&c, o, err, pl->fail_step, pl->fail_errno,
                                           pl->fail_fd, pl->fail_cand);
        subproc__contain_finish(&ct, pl, NULL, 0);
        goto fail;
    }
    if (pidfd < -1) pidfd = -1;

    p->pid = pid;
    p->pidfd = pidfd;
    p->pgid = (pl->flags & (SUBPROC_NEW_PGROUP | SUBPROC_NEW_SESSION)) ? pid
              : (pl->flags & SUBPROC_JOIN_PGROUP)                      ? o->pgid
                                                                       : -1;
    p->leftovers = o->leftovers;
    subproc__contain_finish(&ct, pl, p, 1);
    if (o->flags & SUBPROC_DETACH) {
        /* Not ours: nothing to wait for, signal or kill (see SUBPROC_DETACH). */
        p->pgid = -1;
        p->reaped = p->lost = 1;
    }
    for (int i = 0; i < 3; i++) p->fds[i] = c.parent[i];
    p->pty = c.pty.master;
    pthread_mutex_init(&p->lock, NULL);
    ctx_release(&c, 1);
    *out = p;
    return 0;

fail:
    ctx_release(&c, 0);
    free(p);
    return r;
}

void subproc_opts_init(subproc_opts *o)
{
    memset(o, 0, sizeof *o);
    o->version = SUBPROC_OPTS_VERSION;
}
