/* test_rel_hostile.c - hostile parent states: standard fds closed, SIGCHLD
 * ignored, SIGPIPE ignored or blocked, signals arriving during blocking calls, stopped and
 * ptraced children, a leaked fd above a lowered RLIMIT_NOFILE. */
#include "rel.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/wait.h>

static char ids[REL_MAXFD][48];

/* Runs fn in a forked copy of the test and asserts it passed: for states that must not leak
 * into the runner's own checks (closed standard fds). */
static void in_subprocess(void (*fn)(int), int arg)
{
    pid_t t = fork();
    ASSERT(t >= 0);
    if (t == 0) {
        fn(arg);
        _exit(0);
    }
    int ws;
    ASSERT_EQ(waitpid(t, &ws, 0), t);
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
        test_failf(__FILE__, __LINE__, "subprocess for case %d failed", arg);
}

/* A CLOEXEC pipe placed far from 0-2, for the test's own use. */
static void high_pipe(int p[2])
{
    int q[2];
    ASSERT_OK(pipe2(q, O_CLOEXEC));
    for (int i = 0; i < 2; i++) {
        p[i] = fcntl(q[i], F_DUPFD_CLOEXEC, 100);
        ASSERT(p[i] >= 100);
    }
    close(q[0]);
    close(q[1]);
}

static void closed_stdio_case(int mask)
{
    char want[3][48];
    for (int i = 0; i < 3; i++)
        if (mask & (1 << i)) close(i);
    for (int i = 0; i < 3; i++) rel_ident(i, want[i], sizeof want[i]);

    /* A: everything inherited: the child sees exactly our 0-2, closed ones closed. */
    int rp[2];
    high_pipe(rp);
    char rpid[48];
    rel_ident(rp[1], rpid, sizeof rpid);
    subproc_opts o = SUBPROC_OPTS_INIT;
    subproc_fdmap fm = {rp[1], 50};
    o.argv = helper_argv("fds-to", "50", NULL);
    o.fds = &fm;
    o.nfds = 1;
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    close(rp[1]);
    char *out = read_all(rp[0], NULL);
    close(rp[0]);
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(st.code, 0);
    subproc_proc_free(p);
    ASSERT_EQ(rel_parse_fds(out, ids), 3 - __builtin_popcount((unsigned)mask) + 1);
    for (int i = 0; i < 3; i++) {
        if (mask & (1 << i))
            ASSERT_STREQ(ids[i], "");
        else
            ASSERT_STREQ(ids[i], want[i]);
    }
    ASSERT_STREQ(ids[50], rpid);
    free(out);

    /* B: three pipes: each lands on its own number in the child, and none of our ends (nor
     * anything else of ours) sits on 0-2 afterwards. */
    subproc_opts o2 = SUBPROC_OPTS_INIT;
    o2.argv = helper_argv("fds", NULL);
    for (int i = 0; i < 3; i++) o2.stdio[i].kind = SUBPROC_IO_PIPE;
    ASSERT_OK(subproc_spawn(&p, &o2, NULL));
    char pend[3][48];
    for (int i = 0; i < 3; i++) {
        ASSERT(subproc_proc_fd(p, i) > 2);
        rel_ident(subproc_proc_fd(p, i), pend[i], sizeof pend[i]);
    }
    for (int i = 0; i < 3; i++)
        if (mask & (1 << i)) ASSERT_EQ(fcntl(i, F_GETFD), -1);
    subproc_proc_close_fd(p, 0);
    out = read_all(subproc_proc_fd(p, 1), NULL);
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(st.code, 0);
    subproc_proc_free(p);
    ASSERT_EQ(rel_parse_fds(out, ids), 3);
    for (int i = 0; i < 3; i++) ASSERT_STREQ(ids[i], pend[i]);
    free(out);

    /* C: stdout a pipe, stdin and stderr inherited. */
    subproc_opts o3 = SUBPROC_OPTS_INIT;
    o3.argv = helper_argv("fds", NULL);
    o3.stdio[1].kind = SUBPROC_IO_PIPE;
    ASSERT_OK(subproc_spawn(&p, &o3, NULL));
    rel_ident(subproc_proc_fd(p, 1), pend[1], sizeof pend[1]);
    out = read_all(subproc_proc_fd(p, 1), NULL);
    ASSERT_OK(subproc_proc_wait(p, &st));
    subproc_proc_free(p);
    rel_parse_fds(out, ids);
    ASSERT_STREQ(ids[1], pend[1]);
    for (int i = 0; i < 3; i += 2) ASSERT_STREQ(ids[i], (mask & (1 << i)) ? "" : want[i]);
    for (int fd = 3; fd < REL_MAXFD; fd++) ASSERT_STREQ(ids[fd], "");
    free(out);
    for (int i = 0; i < 3; i++)
        if (mask & (1 << i)) ASSERT_EQ(fcntl(i, F_GETFD), -1);
}

TEST(rel_closed_stdio_combinations)
{
    for (int mask = 0; mask < 8; mask++) in_subprocess(closed_stdio_case, mask);
}

TEST(rel_sigchld_ignored)
{
    /* POSIX: with SIGCHLD ignored, children are reaped by the kernel. The library still gets the
     * real status from the pidfd; signals to a child that is gone say -ESRCH. */
    signal(SIGCHLD, SIG_IGN);
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("exit", "3", NULL);
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT(st.exited);
    ASSERT_EQ(st.code, 3);
    ASSERT_OK(subproc_proc_wait_timeout(p, 100, &st));
    ASSERT_EQ(st.code, 3);
    ASSERT_EQ(subproc_proc_done(p), 1);
    ASSERT_EQ(subproc_proc_signal(p, SIGTERM), -ESRCH);
    ASSERT_EQ(subproc_proc_signal(p, 0), -ESRCH);
    subproc_proc_free(p);

    /* A failed spawn reaps only its own child: it returns while another child still runs. */
    o.argv = helper_argv("sleep", "20000", NULL);
    subproc_proc *sleeper;
    ASSERT_OK(subproc_spawn(&sleeper, &o, NULL));
    const char *bad[] = {"/nonexistent/rel", NULL};
    subproc_opts ob = SUBPROC_OPTS_INIT;
    ob.argv = bad;
    subproc_error e;
    ASSERT_EQ(subproc_spawn(&p, &ob, &e), -ENOENT);
    ASSERT_EQ(e.step, SUBPROC_STEP_EXEC);
    ASSERT_OK(subproc_proc_signal(sleeper, 0));
    ASSERT_OK(subproc_proc_terminate(sleeper, SIGKILL, 5000, 0, &st));
    ASSERT(st.signaled);
    ASSERT_EQ(st.signal, SIGKILL);
    subproc_proc_free(sleeper);
    signal(SIGCHLD, SIG_DFL);
}

/* "blocked: ... ignored: ..." from helper mode signals: whether sig is listed in part. */
static int listed(const char *out, const char *part, int sig)
{
    const char *s = strstr(out, part);
    ASSERT(s != NULL);
    s += strlen(part);
    const char *end = strchr(s, ':');
    char pat[16];
    snprintf(pat, sizeof pat, " %d", sig);
    for (const char *q = strstr(s, pat); q && (!end || q < end); q = strstr(q + 1, pat))
        if (q[strlen(pat)] == ' ' || q[strlen(pat)] == '\0') return 1;
    return 0;
}

TEST(rel_sigpipe_ignored_or_blocked)
{
    char *out;
    /* Ignored: inherited through exec (POSIX), unless the caller asks for a reset. */
    signal(SIGPIPE, SIG_IGN);
    subproc_opts o = SUBPROC_OPTS_INIT;
    run_helper(&o, &out, "signals", NULL);
    ASSERT(listed(out, "ignored:", SIGPIPE));
    free(out);
    subproc_opts o2 = SUBPROC_OPTS_INIT;
    o2.flags = SUBPROC_RESET_SIGNALS;
    run_helper(&o2, &out, "signals", NULL);
    ASSERT(!listed(out, "ignored:", SIGPIPE));
    free(out);
    /* Writing to a child that has gone: EPIPE, and we are still here. */
    subproc_opts o3 = SUBPROC_OPTS_INIT;
    o3.argv = helper_argv("exit", "0", NULL);
    o3.stdio[0].kind = SUBPROC_IO_PIPE;
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o3, NULL));
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(write(subproc_proc_fd(p, 0), "x", 1), -1);
    ASSERT_EQ(errno, EPIPE);
    subproc_proc_free(p);
    signal(SIGPIPE, SIG_DFL);

    /* Blocked: the child starts with the caller's mask, unless told otherwise. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    subproc_opts o4 = SUBPROC_OPTS_INIT;
    run_helper(&o4, &out, "signals", NULL);
    ASSERT(listed(out, "blocked:", SIGPIPE));
    free(out);
    subproc_opts o5 = SUBPROC_OPTS_INIT;
    o5.flags = SUBPROC_SET_SIGMASK;
    sigemptyset(&o5.sigmask);
    run_helper(&o5, &out, "signals", NULL);
    ASSERT(!listed(out, "blocked:", SIGPIPE));
    free(out);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static volatile sig_atomic_t kicks;
static volatile int storm_on;
static void on_usr1(int sig)
{
    (void)sig;
    kicks++;
}
static void *storm(void *arg)
{
    pthread_t target = *(pthread_t *)arg;
    struct timespec ts = {0, 200000};
    while (__atomic_load_n(&storm_on, __ATOMIC_RELAXED)) {
        pthread_kill(target, SIGUSR1);
        nanosleep(&ts, NULL);
    }
    return NULL;
}

TEST(rel_signals_during_blocking_calls)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1; /* no SA_RESTART: every blocking call gets EINTR */
    sigaction(SIGUSR1, &sa, NULL);
    pthread_t self = pthread_self(), th;
    storm_on = 1;
    ASSERT_OK(pthread_create(&th, NULL, storm, &self));

    subproc_status st;
    subproc_proc *p;
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("sleep", "300", NULL);
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    ASSERT_OK(subproc_proc_wait(p, &st)); /* forever */
    ASSERT_EQ(st.exited, 1);
    subproc_proc_free(p);

    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    ASSERT_OK(subproc_proc_wait_timeout(p, 20000, &st));
    ASSERT_EQ(st.exited, 1);
    subproc_proc_free(p);

    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    ASSERT_OK(subproc_proc_wait_ex(p, -1, SUBPROC_WAIT_STOPPED, &st));
    ASSERT_EQ(st.exited, 1);
    subproc_proc_free(p);

    /* terminate's grace period is a blocking wait too */
    o.argv = helper_argv("ignore-term", "20000", NULL);
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    char buf[8];
    ssize_t n;
    do
        n = read(subproc_proc_fd(p, 1), buf, 6);
    while (n < 0 && errno == EINTR);
    ASSERT_EQ(n, 6);
    ASSERT_OK(subproc_proc_terminate(p, SIGTERM, 200, 0, &st));
    ASSERT_EQ(st.signal, SIGKILL);
    subproc_proc_free(p);

    /* spawns (the posix backend reads its error pipe) and failed spawns under the storm */
    for (int i = 0; i < 50; i++) {
        subproc_opts oe = SUBPROC_OPTS_INIT;
        oe.argv = helper_argv("exit", "6", NULL);
        ASSERT_OK(subproc_spawn(&p, &oe, NULL));
        ASSERT_OK(subproc_proc_wait(p, &st));
        ASSERT_EQ(st.code, 6);
        subproc_proc_free(p);
        const char *bad[] = {"/nonexistent/rel", NULL};
        oe.argv = bad;
        ASSERT_EQ(subproc_spawn(&p, &oe, NULL), -ENOENT);
    }
    __atomic_store_n(&storm_on, 0, __ATOMIC_RELAXED);
    pthread_join(th, NULL);
    /* Signals arrived all along (200 us apart, each wait lasts 300 ms). Counted at the end:
     * TSan defers handlers to its next intercepted call. */
    ASSERT(kicks > 100);
    signal(SIGUSR1, SIG_DFL);
}

TEST(rel_stopped_child)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("stop", NULL);
    subproc_proc *p;
    subproc_status st;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    ASSERT_OK(subproc_proc_wait_ex(p, -1, SUBPROC_WAIT_STOPPED, &st));
    ASSERT_EQ(st.stopped, 1);
    ASSERT_EQ(st.signal, SIGSTOP);
    /* A stopped child has not ended: plain waits say so, they do not report the stop. */
    ASSERT_EQ(subproc_proc_wait_timeout(p, 100, &st), -ETIMEDOUT);
    ASSERT_EQ(subproc_proc_try_wait(p, &st), -EAGAIN);
    ASSERT_OK(subproc_proc_signal(p, SIGCONT));
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(st.exited, 1);
    ASSERT_EQ(st.code, 7);
    subproc_proc_free(p);

    /* terminate ends a stopped child by its signal: SIGCONT follows it (test_stopped.c has
     * the same for every deadline) */
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    ASSERT_OK(subproc_proc_wait_ex(p, -1, SUBPROC_WAIT_STOPPED, &st));
    ASSERT_OK(subproc_proc_terminate(p, SIGTERM, 200, 0, &st));
    ASSERT_EQ(st.signaled, 1);
    ASSERT_EQ(st.signal, SIGTERM);
    subproc_proc_free(p);

    /* free of a stopped child: killed and reaped (the runner checks for leftovers) */
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    ASSERT_OK(subproc_proc_wait_ex(p, -1, SUBPROC_WAIT_STOPPED, &st));
    subproc_proc_free(p);
}

TEST(rel_ptraced_child)
{
    /* The test attaches to its own child as a debugger would. The kernel reports ptrace stops
     * to the tracer's waits even without WUNTRACED; the library must neither report such a
     * stop as the child's end nor swallow it from the tracer. */
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("sleep", "300", NULL);
    subproc_proc *p;
    subproc_status st;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    pid_t pid = subproc_proc_pid(p);
    ASSERT_OK(ptrace(PTRACE_ATTACH, pid, NULL, NULL));
    /* wait for the attach stop without consuming it, so the library sees it first */
    siginfo_t si;
    memset(&si, 0, sizeof si);
    ASSERT_OK(waitid(P_PID, (id_t)pid, &si, WSTOPPED | WNOWAIT | __WALL));
    ASSERT_EQ(subproc_proc_wait_timeout(p, 200, &st), -ETIMEDOUT);
    ASSERT_EQ(subproc_proc_try_wait(p, &st), -EAGAIN);
    int ws;
    ASSERT_EQ(waitpid(pid, &ws, __WALL), pid); /* still there for the tracer */
    ASSERT(WIFSTOPPED(ws));
    ASSERT_OK(ptrace(PTRACE_DETACH, pid, NULL, NULL));
    /* The attach SIGSTOP can also have left a group stop behind (ptrace(2), "group-stop"):
     * a detached child may stay stopped, as after a debugger detaches. */
    ASSERT_OK(subproc_proc_signal(p, SIGCONT));
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(st.exited, 1);
    ASSERT_EQ(st.code, 0);
    subproc_proc_free(p);

    /* A traced child that is killed: the end is reported as it is. */
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    pid = subproc_proc_pid(p);
    ASSERT_OK(ptrace(PTRACE_ATTACH, pid, NULL, NULL));
    ASSERT_EQ(waitpid(pid, &ws, __WALL), pid);
    ASSERT_OK(subproc_proc_signal(p, SIGKILL));
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(st.signaled, 1);
    ASSERT_EQ(st.signal, SIGKILL);
    subproc_proc_free(p);
}

TEST(rel_fd_above_lowered_nofile)
{
    int leak = open("/dev/null", O_RDONLY); /* no CLOEXEC: a leak the child must not get */
    ASSERT(leak >= 0);
    ASSERT_EQ(dup2(leak, 1000), 1000);
    close(leak);
    struct rlimit old, rl;
    ASSERT_OK(getrlimit(RLIMIT_NOFILE, &old));
    rl = old;
    rl.rlim_cur = 64;
    ASSERT_OK(setrlimit(RLIMIT_NOFILE, &rl));
    for (int round = 0; round < 2; round++) {
        subproc_opts o = SUBPROC_OPTS_INIT;
        /* round 1: a swap, so the plan parks fds above its highest number */
        if (round == 1) {
            o.stdio[2].kind = SUBPROC_IO_FD;
            o.stdio[2].fd = 1;
            o.stdio[0].kind = SUBPROC_IO_NULL;
        }
        char *out;
        subproc_status st = run_helper(&o, &out, "fds", NULL);
        ASSERT_EQ(st.code, 0);
        rel_parse_fds(out, ids);
        ASSERT_STREQ(ids[1000], "");
        for (int fd = 3; fd < REL_MAXFD; fd++) ASSERT_STREQ(ids[fd], "");
        free(out);
    }
    ASSERT_OK(setrlimit(RLIMIT_NOFILE, &old));
    close(1000);
}
