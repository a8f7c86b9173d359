/*
 * child.c - the code that runs in the child between clone/fork and exec, and nothing else.
 *
 * What may be called here, and why:
 *  - With the Linux backend the child shares the parent's memory (CLONE_VM|CLONE_VFORK) and runs
 *    on a small stack of its own while the parent thread is suspended. Any lock it took could be
 *    held by another parent thread, any heap it touched is the parent's heap. So: no malloc, no
 *    stdio, no locks, no TLS except errno (the parent saves and restores its own errno).
 *  - With the fork backend a multi-threaded parent leaves the child with locks that may be held
 *    forever. The same rule applies.
 *  - Allowed: async-signal-safe system calls (POSIX.1-2017 2.4.3) and raw syscalls, on data the
 *    parent prepared in struct subproc__plan. Credential changes use raw syscalls on Linux:
 *    glibc's setuid() would try to signal every thread of the parent (setxid broadcast).
 *  - The file is built without sanitizer instrumentation: a sanitizer runtime is not safe here.
 *
 * Setup order (documented in subproc(3)):
 *  0 into the contained tree's cgroup (when clone3 could not start the child there), then
 *    close every fd >= 3 the fd plan does not read
 *  1 signal handlers to SIG_DFL (clone3 may have done it)
 *  2 setsid (+ a pty's TIOCSCTTY)/setpgid   3 rlimits, nice, umask
 *  4 fd plan (dup2)               5 close every other fd, then a lower RLIMIT_NOFILE   6 chdir
 *  7 setgroups, setgid, setuid    8 parent-death signal    9 no_new_privs
 *  10 pending job-control stops dropped, signal mask
 *  11 exec (or, in fork mode, the caller's function)
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#if defined(__has_include)
#if __has_include(<stdio_ext.h>)
#include <stdio_ext.h>
#endif
#endif
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/syscall.h>
#else
#include <grp.h>
#endif

extern char **environ;

#ifndef _NSIG
#define _NSIG NSIG
#endif

_Noreturn static void fail(struct subproc__plan *pl, int step, int e, int fd, int cand)
{
    if (pl->errfd >= 0) {
        struct subproc__report r = {step, e, fd, cand};
        ssize_t n;
        do
            n = write(pl->errfd, &r, sizeof r);
        while (n < 0 && errno == EINTR);
    } else {
        pl->fail_fd = fd;
        pl->fail_cand = cand;
        pl->fail_errno = e;
        pl->fail_step = step; /* last: the parent tests this one */
    }
    _exit(127);
}

static void reset_signals(struct subproc__plan *pl)
{
    /* Handlers belong to the parent's code and data; with CLONE_VM a handler running here would
     * run on the parent's memory. Every signal is blocked until step 10, so resetting them in any
     * order is safe. Signals the libc reserves (glibc's 32, 33) fail with EINVAL and are skipped:
     * they target the parent's thread ids only.
     * When clone3 was given CLONE_CLEAR_SIGHAND (spawn_linux.c), the kernel has already set every
     * caught signal to SIG_DFL and left the ignored ones ignored - what the loop below does
     * without SUBPROC_RESET_SIGNALS - so there is nothing to look at, and the 64 sigaction()
     * queries, most of the child's time before execve, are saved. SUBPROC_RESET_SIGNALS also
     * wants the ignored ones back to SIG_DFL: the loop still runs for it. */
    if (pl->sighand_cleared && !(pl->flags & SUBPROC_RESET_SIGNALS)) return;
    for (int sig = 1; sig < _NSIG; sig++) {
        struct sigaction sa;
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        if (sigaction(sig, NULL, &sa) != 0) continue;
        if (sa.sa_handler == SIG_DFL) continue;
        if (sa.sa_handler == SIG_IGN && !(pl->flags & SUBPROC_RESET_SIGNALS)) continue;
        sa.sa_handler = SIG_DFL;
        sa.sa_flags = 0;
        sigemptyset(&sa.sa_mask);
        if (sigaction(sig, &sa, NULL) != 0) fail(pl, SUBPROC_STEP_SIGNALS, errno, -1, -1);
    }
}

/* Close [lo, hi] except errfd. close_range(2) first; without it, one close() per number. */
static void close_span(struct subproc__plan *pl, unsigned lo, unsigned hi, int errfd)
{
    if (lo > hi) return;
    if (errfd >= 0 && (unsigned)errfd >= lo && (unsigned)errfd <= hi) {
        if ((unsigned)errfd > lo) close_span(pl, lo, (unsigned)errfd - 1, -1);
        if ((unsigned)errfd < hi) close_span(pl, (unsigned)errfd + 1, hi, -1);
        return;
    }
#if defined(__linux__) && defined(SYS_close_range)
    if (syscall(SYS_close_range, lo, hi, 0) == 0) return;
#endif
    unsigned top = pl->maxfd < 0 ? 0 : (unsigned)pl->maxfd;
    if (hi > top) hi = top;
    for (unsigned fd = lo; fd <= hi; fd++) close((int)fd);
}

/* Whether the plan reads or writes fd (as a source, a target or a temporary). */
static int plan_uses(const struct subproc__plan *pl, int fd)
{
    for (size_t i = 0; i < pl->nmoves; i++)
        if (pl->moves[i].src == fd || pl->moves[i].dst == fd) return 1;
    return 0;
}

/* Close every fd >= 3 outside the sorted list keep[0, n) (errfd spared too). */
static void close_all_but(struct subproc__plan *pl, const int *keep, size_t n, int errfd)
{
    unsigned lo = 3;
    for (size_t i = 0; i < n; i++) {
        unsigned k = (unsigned)keep[i];
        if (k > lo) close_span(pl, lo, k - 1, errfd);
        if (k + 1 > lo) lo = k + 1;
    }
    close_span(pl, lo, ~0u, errfd);
}

static void apply_fd_plan(struct subproc__plan *pl)
{
    int errfd = pl->errfd;

    /* If the plan uses the error pipe's number, move the pipe to the lowest number the plan does
     * not use first (it stays CLOEXEC): low, so that it fits under a tight fd limit too. */
    if (errfd >= 0 && plan_uses(pl, errfd)) {
        int n = 3;
        while (n == errfd || plan_uses(pl, n)) n++;
        if (dup2(errfd, n) < 0 || fcntl(n, F_SETFD, FD_CLOEXEC) < 0)
            fail(pl, SUBPROC_STEP_FDMAP, errno, errfd, -1);
        errfd = pl->errfd = n;
    }
    /* The parent ordered the steps so that none overwrites an fd still to be read (fdmap.c). */
    for (size_t i = 0; i < pl->nmoves; i++) {
        int src = pl->moves[i].src, dst = pl->moves[i].dst;
        if (src == dst) {
            /* dup2 onto itself keeps FD_CLOEXEC; clear it by hand. */
            int fl = fcntl(dst, F_GETFD);
            if (fl < 0 || fcntl(dst, F_SETFD, fl & ~FD_CLOEXEC) < 0)
                fail(pl, SUBPROC_STEP_FDMAP, errno, pl->moves[i].report, -1);
        } else if (dup2(src, dst) < 0) {
            fail(pl, SUBPROC_STEP_FDMAP, errno, pl->moves[i].report, -1);
        }
    }
    /* Every fd >= 3 not in keep goes, whatever the parent leaked (temporaries included). A plan
     * with no moves keeps nothing >= 3 and read nothing: the early close (subproc__child) has
     * left exactly that, and no step since opens an fd. A second close_range() with nothing
     * left to close still costs a few microseconds in a fresh child (2-3 us on Linux 6.18),
     * 1-2% of a spawn of a static program. */
    if (pl->nmoves == 0 && pl->nkeep == 0 && pl->nearly == 0) return;
    close_all_but(pl, pl->keep, pl->nkeep, errfd);
}

/*
 * An execve() that fails with ETXTBSY is retried, up to EXEC_TXTBSY_RETRIES times, sleeping
 * 1, 2, 4 ... 128 ms in between (255 ms in all). The file was just written through an fd that
 * another thread's child still holds a copy of - until that child closes its fds or execs, which
 * takes microseconds (this library closes them first thing) - or that a fork()ed process of
 * another library holds longer. A file that stays open for writing fails with ETXTBSY after that.
 */
#define EXEC_TXTBSY_RETRIES 8

static void exec_retrying(const char *path, char *const *argv, char *const *envp)
{
    for (int attempt = 0;; attempt++) {
        execve(path, argv, envp);
        if (errno != ETXTBSY || attempt == EXEC_TXTBSY_RETRIES) return;
        struct timespec ts = {0, 1000000L << attempt};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
        }
        errno = ETXTBSY;
    }
}

#ifdef __linux__
#if defined(SYS_setuid32)
#define SYS_SETUID SYS_setuid32
#define SYS_SETGID SYS_setgid32
#define SYS_SETGROUPS SYS_setgroups32
#else
#define SYS_SETUID SYS_setuid
#define SYS_SETGID SYS_setgid
#define SYS_SETGROUPS SYS_setgroups
#endif
#define do_setgroups(n, g) syscall(SYS_SETGROUPS, (n), (g))
#define do_setgid(g) syscall(SYS_SETGID, (g))
#define do_setuid(u) syscall(SYS_SETUID, (u))
#else
#define do_setgroups(n, g) setgroups((int)(n), (g))
#define do_setgid(g) setgid(g)
#define do_setuid(u) setuid(u)
#endif

/*
 * Fork mode only (a real fork(), never the shared-memory clone): the caller's function is the
 * documented escape hatch from the rules above, and so is the stdio it uses. What fn writes to
 * stdout and stderr through stdio must reach them when it returns, though the process ends with
 * _exit() (exit() would run the parent's atexit handlers and flush its streams twice). Bytes the
 * parent had buffered when it forked are the parent's, which writes them itself: they are
 * dropped here first (__fpurge, in glibc and musl), or they would come out twice.
 */
_Noreturn static void fork_mode_run(struct subproc__plan *pl)
{
#if defined(__has_include)
#if __has_include(<stdio_ext.h>)
    __fpurge(stdout);
    __fpurge(stderr);
#endif
#endif
    int code = pl->fn(pl->fn_arg) & 0xff;
    fflush(stdout);
    fflush(stderr);
    _exit(code);
}

/*
 * SUBPROC_DETACH: become the intermediate. Fork once more (the raw system call: no atfork
 * handler of the caller's runs, none may), hand the program's PID to the parent through shared
 * memory and exit at once; the parent reaps us, and the kernel re-parents the program. The
 * program goes on with the setup; the error pipe reaches it too, so a failed step or exec is
 * reported as always, and end-of-file on it still means the exec succeeded.
 */
static void detach(struct subproc__plan *pl)
{
#if defined(__linux__) && defined(SYS_fork)
    pid_t pid = (pid_t)syscall(SYS_fork);
#elif defined(__linux__)
    pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
#else
    pid_t pid = fork();
#endif
    if (pid < 0) fail(pl, SUBPROC_STEP_CLONE, errno, -1, -1);
    if (pid > 0) {
        *pl->detached_pid = pid;
        _exit(0);
    }
}

_Noreturn void subproc__child(struct subproc__plan *pl)
{
    unsigned f = pl->flags;

    /* Fork backend: wait until the parent holds our pidfd (a byte on gofd), so that our status
     * can be read from it even if the kernel reaps us (SIGCHLD ignored). */
    if (pl->gofd >= 0) {
        char c;
        while (read(pl->gofd, &c, 1) < 0 && errno == EINTR) {
        }
    }
    /* Step 0: into the cgroup that holds the tree, before anything can fork. Unless clone3
     * already started us inside it. */
    if (pl->cgroup_procs_fd >= 0 && !pl->in_cgroup) {
        ssize_t n;
        do
            n = write(pl->cgroup_procs_fd, "0", 1);
        while (n < 0 && errno == EINTR);
        if (n < 0) fail(pl, SUBPROC_STEP_CGROUP, errno, -1, -1);
    }

    /* Then, before the slower steps: drop every fd the plan does not read. Until then this
     * child holds copies of all the parent's fds - among them, maybe, a file another thread
     * has just written through an O_CLOEXEC fd and closed, which then cannot be executed
     * (ETXTBSY) while a copy of that fd stays open anywhere. */
    close_all_but(pl, pl->early, pl->nearly, pl->errfd);

    if (f & SUBPROC_DETACH) detach(pl);

    reset_signals(pl);

    if ((f & SUBPROC_NEW_SESSION) && setsid() < 0) fail(pl, SUBPROC_STEP_SETSID, errno, -1, -1);
    /* A session leader without a controlling terminal acquires the pty (prepared in pty.c). */
    if (pl->ctty_fd >= 0 && ioctl(pl->ctty_fd, TIOCSCTTY, 0) < 0)
        fail(pl, SUBPROC_STEP_CTTY, errno, -1, -1);
    if ((f & SUBPROC_NEW_PGROUP) && setpgid(0, 0) < 0)
        fail(pl, SUBPROC_STEP_SETPGID, errno, -1, -1);
    if ((f & SUBPROC_JOIN_PGROUP) && setpgid(0, pl->pgid) < 0)
        fail(pl, SUBPROC_STEP_SETPGID, errno, -1, -1);

    /* An RLIMIT_NOFILE below the current soft limit waits until the fd plan has run: the plan
     * may need a number or two above its targets for a moment (a cycle's temporary, the error
     * pipe), and setrlimit() leaves fds that are already open alone. A higher one is set now,
     * so that targets above the parent's own limit can be made. */
    int nofile_later = -1;
    for (size_t i = 0; i < pl->nrlimits; i++) {
        struct rlimit rl = {pl->rlimits[i].soft, pl->rlimits[i].hard}, cur;
        if (pl->rlimits[i].resource == RLIMIT_NOFILE && getrlimit(RLIMIT_NOFILE, &cur) == 0 &&
            rl.rlim_cur < cur.rlim_cur) {
            nofile_later = (int)i;
            continue;
        }
        if (setrlimit(pl->rlimits[i].resource, &rl) < 0)
            fail(pl, SUBPROC_STEP_RLIMIT, errno, -1, -1);
    }
    if (f & SUBPROC_SET_NICE) {
        if (setpriority(PRIO_PROCESS, 0, pl->nice) < 0) fail(pl, SUBPROC_STEP_NICE, errno, -1, -1);
    }
    if (f & SUBPROC_SET_UMASK) umask(pl->umask);

    apply_fd_plan(pl);
    if (nofile_later >= 0) {
        const subproc_rlimit *r = &pl->rlimits[nofile_later];
        struct rlimit rl = {r->soft, r->hard};
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) fail(pl, SUBPROC_STEP_RLIMIT, errno, -1, -1);
    }

    if (pl->cwd && chdir(pl->cwd) < 0) fail(pl, SUBPROC_STEP_CHDIR, errno, -1, -1);

    if ((f & SUBPROC_SET_GROUPS) && do_setgroups(pl->ngroups, pl->groups) < 0)
        fail(pl, SUBPROC_STEP_SETGROUPS, errno, -1, -1);
    if ((f & SUBPROC_SET_GID) && do_setgid(pl->gid) < 0)
        fail(pl, SUBPROC_STEP_SETGID, errno, -1, -1);
    if ((f & SUBPROC_SET_UID) && do_setuid(pl->uid) < 0)
        fail(pl, SUBPROC_STEP_SETUID, errno, -1, -1);

#ifdef __linux__
    /* After the credential changes: they clear the parent-death signal. */
    if (pl->pdeathsig) {
        if (prctl(PR_SET_PDEATHSIG, (unsigned long)pl->pdeathsig, 0, 0, 0) < 0)
            fail(pl, SUBPROC_STEP_PDEATHSIG, errno, -1, -1);
        if (getppid() != pl->parent_pid) fail(pl, SUBPROC_STEP_PDEATHSIG, ESRCH, -1, -1);
    }
    if ((f & SUBPROC_NO_NEW_PRIVS) && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        fail(pl, SUBPROC_STEP_NO_NEW_PRIVS, errno, -1, -1);
#endif

    /* A job-control stop sent to our new process group while everything was blocked (a first
     * pipeline stage reading the terminal from the background draws SIGTTIN on the whole group)
     * would stop this child before exec - and, with CLONE_VFORK, the spawning thread with it.
     * The program has not touched the terminal yet: drop such a pending stop (POSIX: setting
     * SIG_IGN discards pending instances), then restore the default. */
    sigset_t pend;
    if (sigpending(&pend) == 0) {
        static const int stops[] = {SIGTTIN, SIGTTOU, SIGTSTP};
        for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++) {
            struct sigaction sa;
            if (sigismember(&pend, stops[i]) != 1 || sigaction(stops[i], NULL, &sa) != 0 ||
                sa.sa_handler != SIG_DFL)
                continue;
            sa.sa_handler = SIG_IGN;
            sigaction(stops[i], &sa, NULL);
            sa.sa_handler = SIG_DFL;
            sigaction(stops[i], &sa, NULL);
        }
    }

    if (sigprocmask(SIG_SETMASK, &pl->child_mask, NULL) < 0)
        fail(pl, SUBPROC_STEP_SIGMASK, errno, -1, -1);

    if (pl->fn) {
        /* Fork mode: setup succeeded; EOF on the error pipe tells the parent so. The built
         * environment becomes the function's: a plain store into our own copy of environ. */
        if (pl->envp) environ = (char **)pl->envp;
        close(pl->errfd);
        fork_mode_run(pl);
    }

    /* Like execvp: a candidate that is missing lets the search go on, EACCES is remembered and
     * the search goes on, any other error ends it. ENOEXEC is reported, never retried through a
     * shell. Nothing found at all is a "resolve" failure. */
    int err = ENOENT, cand = -1;
    for (size_t i = 0; i < pl->ncands; i++) {
        exec_retrying(pl->cands[i], pl->argv, pl->envp);
        int e = errno;
        if (!pl->searched) {
            err = e;
            cand = (int)i;
            break;
        }
        if (e == EACCES) {
            if (err != EACCES) cand = (int)i;
            err = EACCES;
            continue;
        }
        if (e == ENOENT || e == ENOTDIR || e == ENAMETOOLONG || e == ELOOP) continue;
        err = e;
        cand = (int)i;
        break;
    }
    if (cand < 0) fail(pl, SUBPROC_STEP_RESOLVE, err, -1, -1);
    fail(pl, SUBPROC_STEP_EXEC, err, -1, cand);
}

int subproc__child_entry(void *plan)
{
    subproc__child(plan);
}

int subproc__probe_entry(void *flag)
{
    /* The backend probe (spawn_linux.c): a store the parent can see only if the memory is
     * really shared. */
    *(volatile int *)flag = 1;
    _exit(0);
}
