/*
 * wait.c - waiting for, signalling and releasing a child.
 *
 * The PID-reuse rule: a PID can only be recycled after its process has been reaped, and only this
 * handle reaps its child. Reaping and signalling both happen under p->lock, so a signal is sent
 * either before the reap (the PID is still ours) or not at all (-ESRCH). Blocking waits sleep
 * without the lock (poll on the pidfd, or waitid with WNOWAIT) and take it only to reap.
 */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

int64_t subproc__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int subproc__sig_valid(int sig)
{
    return sig > 0 && sig < NSIG;
}

void subproc__status_from_wait(subproc_status *st, int ws, const struct rusage *ru)
{
    memset(st, 0, sizeof *st);
    if (WIFEXITED(ws)) {
        st->exited = 1;
        st->code = WEXITSTATUS(ws);
    } else if (WIFSIGNALED(ws)) {
        st->signaled = 1;
        st->signal = WTERMSIG(ws);
#ifdef WCOREDUMP
        st->core_dumped = WCOREDUMP(ws) ? 1 : 0;
#endif
    } else if (WIFSTOPPED(ws)) {
        st->stopped = 1;
        st->signal = WSTOPSIG(ws);
    }
    if (ru) {
        st->user_usec = (long long)ru->ru_utime.tv_sec * 1000000 + ru->ru_utime.tv_usec;
        st->sys_usec = (long long)ru->ru_stime.tv_sec * 1000000 + ru->ru_stime.tv_usec;
        st->max_rss_kb = ru->ru_maxrss;
    }
}

void subproc__reap(pid_t pid)
{
    int ws;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
    }
}

/*
 * Someone else reaped our child: the kernel itself (SIGCHLD ignored), another thread's
 * waitpid(-1), a foreign SIGCHLD handler. Its pidfd still knows how it ended (Linux 6.15); without
 * that the status is lost, and every wait says so (-ECHILD) instead of inventing one. The
 * resource usage went to whoever reaped it: those fields stay 0. Called with p->lock held.
 */
static void lost_child(subproc_proc *p)
{
    p->reaped = 1;
    p->lost = subproc__pidfd_exit_status(p->pidfd, &p->status) < 0;
}

/*
 * Reap without blocking. 1 when the child is (now) reaped or lost, 2 when it stopped and the
 * caller asked for stops, 0 when still running. The state is peeked first (WNOWAIT) and consumed
 * only when it is ours to report: when the caller is also the child's ptrace tracer the kernel
 * reports ptrace stops to every wait, and such a stop is neither the child's end nor ours to take
 * from the tracer. *traced is set when one was seen (waitid would then not block).
 */
static int reap_nohang(subproc_proc *p, unsigned flags, subproc_status *stopped, int *traced)
{
    int done = 0;
    int want_stops = (flags & SUBPROC_WAIT_STOPPED) != 0;
    pthread_mutex_lock(&p->lock);
    if (p->reaped) {
        done = 1;
    } else if (flags & SUBPROC_WAIT_NOREAP) {
        /* Exited but left a zombie: its PID (and a group it leads) stays ours. */
        siginfo_t si;
        memset(&si, 0, sizeof si);
        int r;
        do
            r = waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT);
        while (r < 0 && errno == EINTR);
        if ((r == 0 && si.si_pid != 0) || (r < 0 && errno == ECHILD)) done = 3;
    } else {
        siginfo_t si;
        int r;
        memset(&si, 0, sizeof si);
        do
            r = waitid(P_PID, (id_t)p->pid, &si,
                       WEXITED | WNOHANG | WNOWAIT | (want_stops ? WSTOPPED : 0));
        while (r < 0 && errno == EINTR);
        int stop = si.si_code == CLD_STOPPED || si.si_code == CLD_TRAPPED;
        if (r < 0 && errno == ECHILD) {
            lost_child(p);
            done = 1;
        } else if (r == 0 && si.si_pid == p->pid && stop && !want_stops) {
            *traced = 1;
        } else if (r == 0 && si.si_pid == p->pid) {
            int ws;
            struct rusage ru;
            pid_t w;
            do
                w = wait4(p->pid, &ws, WNOHANG | (stop ? WUNTRACED : 0), &ru);
            while (w < 0 && errno == EINTR);
            if (w == p->pid && WIFSTOPPED(ws)) {
                subproc__status_from_wait(stopped, ws, NULL);
                done = 2;
            } else if (w == p->pid) {
                subproc__status_from_wait(&p->status, ws, &ru);
                p->reaped = 1;
                done = 1;
            } else if (w < 0 && errno == ECHILD) {
                lost_child(p);
                done = 1;
            }
        }
    }
    pthread_mutex_unlock(&p->lock);
    return done;
}

#if defined(__linux__) && defined(SYS_waitid)
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef W_EXITCODE
#define W_EXITCODE(code, sig) ((code) << 8 | (sig))
#endif
#ifndef WCOREFLAG
#define WCOREFLAG 0x80
#endif

static int pidfd_wait_works = 1; /* cleared once waitid refuses P_PIDFD (before Linux 5.4) */
int subproc__test_no_pidfd_wait;

/*
 * A blocking wait with no deadline, in two system calls instead of poll, a peek and wait4: sleep
 * in waitid(P_PIDFD, WEXITED | WNOWAIT), which leaves the zombie (its PID, and a group it leads,
 * stay ours), then reap under the lock with a second waitid on the pidfd; the raw system call's
 * fifth argument fills the rusage that wait4 would give. 1 when the child is reaped (or lost),
 * 0 when the caller's loop has to decide: a ptrace stop reported to us as the tracer (not ours
 * to consume), EINTR, a kernel without P_PIDFD.
 * The sleep cannot reap as well (one call): a tracer's waitid(WEXITED) consumes ptrace stops;
 * a signal by number (no pidfd signal, or no PIDFD_SIGNAL_PROCESS_GROUP before 6.9) may
 * only go to a child that is unreaped under p->lock (send_locked); and another thread's wait
 * would find the child gone before p->status holds its status.
 */
static int reap_on_pidfd(subproc_proc *p)
{
    if (subproc__test_no_pidfd_wait || !__atomic_load_n(&pidfd_wait_works, __ATOMIC_RELAXED))
        return 0;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (syscall(SYS_waitid, P_PIDFD, p->pidfd, &si, WEXITED | WNOWAIT, NULL) < 0) {
        if (errno == EINVAL) __atomic_store_n(&pidfd_wait_works, 0, __ATOMIC_RELAXED);
        return 0;
    }
    if (si.si_code != CLD_EXITED && si.si_code != CLD_KILLED && si.si_code != CLD_DUMPED) return 0;
    pthread_mutex_lock(&p->lock);
    if (!p->reaped) {
        struct rusage ru;
        long r;
        memset(&si, 0, sizeof si);
        do
            r = syscall(SYS_waitid, P_PIDFD, p->pidfd, &si, WEXITED | WNOHANG, &ru);
        while (r < 0 && errno == EINTR);
        if (r == 0 && si.si_pid == p->pid) {
            int ws = si.si_code == CLD_EXITED
                         ? W_EXITCODE(si.si_status & 0xff, 0)
                         : (si.si_status & 0x7f) | (si.si_code == CLD_DUMPED ? WCOREFLAG : 0);
            subproc__status_from_wait(&p->status, ws, &ru);
            p->reaped = 1;
        } else if (r < 0 && errno == ECHILD) {
            lost_child(p);
        }
    }
    int done = p->reaped;
    pthread_mutex_unlock(&p->lock);
    return done;
}
#else
int subproc__test_no_pidfd_wait;

static int reap_on_pidfd(subproc_proc *p)
{
    (void)p;
    return 0;
}
#endif

/* Sleep until the child may have changed state, at most ms (< 0: no limit). */
static void sleep_on_child(subproc_proc *p, int ms, unsigned flags, int traced, int *backoff)
{
    if (p->pidfd >= 0 && !(flags & SUBPROC_WAIT_STOPPED)) {
        struct pollfd pfd = {p->pidfd, POLLIN, 0};
        poll(&pfd, 1, ms); /* EINTR: the caller re-checks and re-computes the time left */
        return;
    }
    if (ms < 0 && !traced) {
        /* No deadline: block in the kernel without reaping, then reap under the lock. */
        siginfo_t si;
        int wf = WEXITED | WNOWAIT | ((flags & SUBPROC_WAIT_STOPPED) ? WSTOPPED : 0);
        waitid(P_PID, (id_t)p->pid, &si, wf);
        return;
    }
    /* Portable timed wait: no SIGCHLD handler is ours to install, so re-check at growing
     * intervals, 1 ms doubling to 20 ms. Also used, without a deadline, while the caller holds
     * the child in a ptrace stop (a blocking waitid would return at once, again and again). */
    int step = *backoff;
    if (ms >= 0 && step > ms) step = ms;
    struct timespec ts = {step / 1000, (long)(step % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    *backoff = *backoff * 2 > 20 ? 20 : *backoff * 2;
}

int subproc_proc_wait_ex(subproc_proc *p, int timeout_ms, unsigned flags, subproc_status *out)
{
    if (!p || (flags & ~(SUBPROC_WAIT_STOPPED | SUBPROC_WAIT_NOREAP))) return -EINVAL;
    int64_t deadline = timeout_ms > 0 ? subproc__now_ms() + timeout_ms : 0;
    int backoff = 1, traced = 0;
    subproc_status stopped;
    /* A blocking wait on a pidfd sleeps first: poll() returns at once for a child that has
     * already exited or been reaped, so a reap attempt before it would only cost a call. Where
     * waitid takes a pidfd, reap_on_pidfd sleeps in it instead and reaps (reap_nohang then only
     * finds p->reaped). */
    if (timeout_ms < 0 && p->pidfd >= 0 && !(flags & SUBPROC_WAIT_STOPPED) &&
        ((flags & SUBPROC_WAIT_NOREAP) || !reap_on_pidfd(p)))
        sleep_on_child(p, -1, flags, 0, &backoff);
    for (;;) {
        int done = reap_nohang(p, flags, &stopped, &traced);
        if (done == 2) {
            if (out) *out = stopped;
            return 0;
        }
        if (done == 3) return 0;
        if (done) break;
        int left = -1;
        if (timeout_ms == 0) return -ETIMEDOUT;
        if (timeout_ms > 0) {
            int64_t now = subproc__now_ms();
            if (now >= deadline) return -ETIMEDOUT;
            left = (int)(deadline - now);
        }
        sleep_on_child(p, left, flags, traced, &backoff);
    }
    if (p->remote) subproc__remote_reaped(p);
    if (p->lost) return -ECHILD;
    if (out) *out = p->status;
    return 0;
}

int subproc_proc_wait(subproc_proc *p, subproc_status *out)
{
    return subproc_proc_wait_ex(p, -1, 0, out);
}

int subproc_proc_wait_timeout(subproc_proc *p, int timeout_ms, subproc_status *out)
{
    return subproc_proc_wait_ex(p, timeout_ms < 0 ? -1 : timeout_ms, 0, out);
}

int subproc_proc_try_wait(subproc_proc *p, subproc_status *out)
{
    int r = subproc_proc_wait_ex(p, 0, 0, out);
    return r == -ETIMEDOUT ? -EAGAIN : r;
}

int subproc_proc_done(const subproc_proc *p)
{
    return p && p->reaped && !p->lost;
}

/*
 * Whether p may still be signalled by number: it is unreaped (by anyone) as far as the kernel
 * says now. Only the fallbacks without pidfds use it; with SIGCHLD ignored the kernel may still
 * reap it between this look and the kill(), which is why pidfds come first. p->lock held.
 */
static int unreaped_locked(subproc_proc *p)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int r;
    do
        r = waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT);
    while (r < 0 && errno == EINTR);
    return !(r < 0 && errno == ECHILD);
}

/*
 * The one place that sends a signal to the child or to its process group (group != 0), called
 * with p->lock held: every path of the library (signal, terminate, deadlines, pipelines, the
 * pool) comes through here. Through the pidfd when there is one; by number only while the child
 * is known to be unreaped, so that neither its PID nor a group it belongs to can have been
 * recycled (a process group exists while any member, a zombie included, is unreaped).
 */
static int send_locked(subproc_proc *p, int sig, int group)
{
    if (p->reaped) return -ESRCH;
    if (p->pidfd >= 0) {
        int r = group ? subproc__pidfd_signal_group(p->pidfd, sig)
                      : subproc__pidfd_signal(p->pidfd, sig);
        if (r != -EOPNOTSUPP && r != -ENOSYS) return r;
    }
    if (!unreaped_locked(p)) return -ESRCH;
    if (kill(group ? -p->pgid : p->pid, sig) < 0) return -errno;
    return 0;
}

int subproc__proc_send(subproc_proc *p, int sig, int group)
{
    /* A remote child's KILL also goes to its remote group at once (before p->lock: the remote
     * side's lock comes first, see subproc__remote_reaped); otherwise only the local ssh would
     * die, and the remote clean-up would first send TERM and wait out the grace again. */
    if (p->remote && sig == SIGKILL) subproc__remote_signal(p, SIGKILL);
    pthread_mutex_lock(&p->lock);
    int r = send_locked(p, sig, group);
    pthread_mutex_unlock(&p->lock);
    return r;
}

int subproc_proc_signal(subproc_proc *p, int sig)
{
    if (!p || (sig != 0 && !subproc__sig_valid(sig))) return -EINVAL;
    if (p->remote && sig != 0 && sig != SIGKILL) return subproc__remote_signal(p, sig);
    return subproc__proc_send(p, sig, 0);
}

int subproc_proc_signal_group(subproc_proc *p, int sig)
{
    if (!p || (sig != 0 && !subproc__sig_valid(sig)) || p->pgid <= 0) return -EINVAL;
    if (p->remote && sig != 0 && sig != SIGKILL) return subproc__remote_signal(p, sig);
    return subproc__proc_send(p, sig, 1);
}

int subproc_proc_terminate(subproc_proc *p, int sig, int grace_ms, unsigned flags,
                           subproc_status *out)
{
    if (!p || (flags & ~(SUBPROC_TERM_GROUP | SUBPROC_TERM_TREE))) return -EINVAL;
    if (sig == 0) sig = SIGTERM;
    if (!subproc__sig_valid(sig)) return -EINVAL;
    if ((flags & SUBPROC_TERM_GROUP) && p->pgid <= 0) return -EINVAL;
    if ((flags & SUBPROC_TERM_TREE) && subproc_proc_containment(p) == 0)
        return -EINVAL;
    if (flags & SUBPROC_TERM_TREE) return subproc__tree_terminate(p, sig, grace_ms, out);
    int group = (flags & SUBPROC_TERM_GROUP) != 0;
    subproc__proc_send(p, sig, group);
    if (subproc__needs_cont(sig)) subproc__proc_send(p, SIGCONT, group);
    /* The grace period ends when the child has exited, but it is not reaped yet: with a group,
     * members may outlive the leader, and they get their SIGKILL while the child (a member) is
     * still a zombie, so the group id is still ours. */
    int r = subproc_proc_wait_ex(p, grace_ms < 0 ? 0 : grace_ms, SUBPROC_WAIT_NOREAP, NULL);
    if (group) subproc__proc_send(p, SIGKILL, 1);
    if (r == -ETIMEDOUT) subproc__proc_send(p, SIGKILL, 0);
    return subproc_proc_wait(p, out);
}

pid_t subproc_proc_pid(const subproc_proc *p)
{
    return p ? p->pid : -1;
}

int subproc_proc_pidfd(const subproc_proc *p)
{
    return p ? p->pidfd : -1;
}

pid_t subproc_proc_pgid(const subproc_proc *p)
{
    return p ? p->pgid : -1;
}

int subproc_proc_fd(const subproc_proc *p, int stream)
{
    return p && stream >= 0 && stream < 3 ? p->fds[stream] : -1;
}

int subproc_proc_take_fd(subproc_proc *p, int stream)
{
    int fd = subproc_proc_fd(p, stream);
    if (fd >= 0) p->fds[stream] = -1;
    return fd;
}

void subproc_proc_close_fd(subproc_proc *p, int stream)
{
    subproc__close(subproc_proc_take_fd(p, stream));
}

void subproc_proc_free(subproc_proc *p)
{
    if (!p) return;
    for (int i = 0; i < 3; i++) subproc_proc_close_fd(p, i);
    if (!p->reaped) {
        /* A contained child goes with its whole tree (before the reap: a process group is
         * signalled only while the child is unreaped). */
        if (p->contain) subproc_proc_kill_tree(p);
        subproc_proc_signal(p, SIGKILL);
        subproc_proc_wait(p, NULL);
    }
    subproc__contain_release(p);
    subproc__remote_free(p);
    subproc__close(p->pidfd);
    subproc__close(p->pty);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* ---- words ---- */

static const struct {
    int sig;
    const char *name;
} signames[] = {
    {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},     {SIGQUIT, "SIGQUIT"},   {SIGILL, "SIGILL"},
    {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"},   {SIGBUS, "SIGBUS"},     {SIGFPE, "SIGFPE"},
    {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"},   {SIGSEGV, "SIGSEGV"},   {SIGUSR2, "SIGUSR2"},
    {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"},   {SIGTERM, "SIGTERM"},   {SIGCHLD, "SIGCHLD"},
    {SIGCONT, "SIGCONT"}, {SIGSTOP, "SIGSTOP"},   {SIGTSTP, "SIGTSTP"},   {SIGTTIN, "SIGTTIN"},
    {SIGTTOU, "SIGTTOU"}, {SIGURG, "SIGURG"},     {SIGXCPU, "SIGXCPU"},   {SIGXFSZ, "SIGXFSZ"},
    {SIGVTALRM, "SIGVTALRM"}, {SIGPROF, "SIGPROF"}, {SIGWINCH, "SIGWINCH"}, {SIGIO, "SIGIO"},
    {SIGSYS, "SIGSYS"},
#ifdef SIGSTKFLT
    {SIGSTKFLT, "SIGSTKFLT"},
#endif
#ifdef SIGPWR
    {SIGPWR, "SIGPWR"},
#endif
};

const char *subproc_signal_name(int sig)
{
    for (size_t i = 0; i < sizeof signames / sizeof signames[0]; i++)
        if (signames[i].sig == sig) return signames[i].name;
#ifdef SIGRTMIN
    static const char *const rt[] = {
        "SIGRTMIN",
        "SIGRTMIN+1",
        "SIGRTMIN+2",
        "SIGRTMIN+3",
        "SIGRTMIN+4",
        "SIGRTMIN+5",
        "SIGRTMIN+6",
        "SIGRTMIN+7",
        "SIGRTMIN+8",
        "SIGRTMIN+9",
        "SIGRTMIN+10",
        "SIGRTMIN+11",
        "SIGRTMIN+12",
        "SIGRTMIN+13",
        "SIGRTMIN+14",
        "SIGRTMIN+15",
        "SIGRTMIN+16",
        "SIGRTMIN+17",
        "SIGRTMIN+18",
        "SIGRTMIN+19",
        "SIGRTMIN+20",
        "SIGRTMIN+21",
        "SIGRTMIN+22",
        "SIGRTMIN+23",
        "SIGRTMIN+24",
        "SIGRTMIN+25",
        "SIGRTMIN+26",
        "SIGRTMIN+27",
        "SIGRTMIN+28",
        "SIGRTMIN+29",
        "SIGRTMIN+30",
        "SIGRTMIN+31",
        "SIGRTMIN+32"};
    if (sig >= SIGRTMIN && sig <= SIGRTMAX && sig - SIGRTMIN < (int)(sizeof rt / sizeof rt[0]))
        return rt[sig - SIGRTMIN];
#endif
    return NULL;
}

static int ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'a' && *a <= 'z' ? (char)(*a - 32) : *a;
        if (x != *b) return 0;
    }
    return *a == *b;
}

int subproc_signal_from_name(const char *name)
{
    if (!name || !*name) return -EINVAL;
    if (*name >= '0' && *name <= '9') {
        int v = 0;
        for (const char *s = name; *s; s++) {
            if (*s < '0' || *s > '9' || v > NSIG) return -EINVAL;
            v = v * 10 + (*s - '0');
        }
        return subproc__sig_valid(v) ? v : -EINVAL;
    }
    const char *n = (name[0] == 's' || name[0] == 'S') && (name[1] == 'i' || name[1] == 'I') &&
                            (name[2] == 'g' || name[2] == 'G')
                        ? name + 3
                        : name;
    for (size_t i = 0; i < sizeof signames / sizeof signames[0]; i++)
        if (ieq(n, signames[i].name + 3)) return signames[i].sig;
#ifdef SIGRTMIN
    if (ieq(n, "RTMIN")) return SIGRTMIN;
    if (ieq(n, "RTMAX")) return SIGRTMAX;
    char up[8] = {0};
    for (int i = 0; i < 6 && n[i]; i++) up[i] = n[i] >= 'a' && n[i] <= 'z' ? (char)(n[i] - 32) : n[i];
    if (strncmp(up, "RTMIN+", 6) == 0 || strncmp(up, "RTMAX-", 6) == 0) {
        const char *d = n + 6;
        int v = 0;
        if (!*d) return -EINVAL;
        for (; *d; d++) {
            if (*d < '0' || *d > '9' || v > NSIG) return -EINVAL;
            v = v * 10 + (*d - '0');
        }
        int s = up[5] == '+' ? SIGRTMIN + v : SIGRTMAX - v;
        return s >= SIGRTMIN && s <= SIGRTMAX ? s : -EINVAL;
    }
#endif
    return -EINVAL;
}

char *subproc_status_str(const subproc_status *st, char *buf, size_t len)
{
    if (!buf || len == 0) return buf;
    const char *sn = st ? subproc_signal_name(st->signal) : NULL;
    char num[16];
    if (!sn && st) {
        snprintf(num, sizeof num, "signal %d", st->signal);
        sn = num;
    }
    if (!st)
        snprintf(buf, len, "unknown");
    else if (st->exited)
        snprintf(buf, len, "exited with %d", st->code);
    else if (st->signaled)
        snprintf(buf, len, "killed by %s%s", sn, st->core_dumped ? " (core dumped)" : "");
    else if (st->stopped)
        snprintf(buf, len, "stopped by %s", sn);
    else
        snprintf(buf, len, "running");
    return buf;
}

int subproc_status_code(const subproc_status *st)
{
    if (!st) return -1;
    if (st->exited) return st->code;
    if (st->signaled || st->stopped) return 128 + st->signal;
    return -1;
}
