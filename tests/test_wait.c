/* test_wait.c - the running child: wait, try-wait, wait with a timeout, the status struct and
 * its words, resource usage, signals, terminate with escalation, groups, and free. */
#include "test.h"
#include "internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

static subproc_proc *start(subproc_opts *o, const char **argv)
{
    o->argv = argv;
    subproc_proc *p;
    subproc_error e;
    int r = subproc_spawn(&p, o, &e);
    if (r < 0) {
        char buf[700];
        test_failf(__FILE__, __LINE__, "spawn: %s", subproc_error_str(&e, buf, sizeof buf));
    }
    return p;
}

TEST(wait_try_and_timeout)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.stdio[0].kind = SUBPROC_IO_PIPE; /* `cat` runs until we close its stdin */
    o.stdio[1].kind = SUBPROC_IO_NULL;
    subproc_proc *p = start(&o, helper_argv("cat", NULL));
    subproc_status st;
    memset(&st, 0x5a, sizeof st);
    ASSERT_EQ(subproc_proc_try_wait(p, &st), -EAGAIN);
    ASSERT_EQ(subproc_proc_wait_timeout(p, 0, &st), -ETIMEDOUT);
    ASSERT_EQ(subproc_proc_wait_timeout(p, 30, &st), -ETIMEDOUT);
    ASSERT_EQ(subproc_proc_done(p), 0);
    ASSERT_EQ(subproc_proc_signal(p, 0), 0);
    subproc_proc_close_fd(p, 0);
    ASSERT_OK(subproc_proc_wait_timeout(p, 20000, &st)); /* a "must not hang" bound only */
    ASSERT_EQ(st.exited, 1);
    ASSERT_EQ(st.code, 0);
    ASSERT_EQ(subproc_proc_done(p), 1);
    /* Reaped: the status is kept, every wait returns it again. */
    subproc_status again;
    ASSERT_OK(subproc_proc_try_wait(p, &again));
    ASSERT_EQ(again.exited, 1);
    ASSERT_OK(subproc_proc_wait(p, &again));
    ASSERT_OK(subproc_proc_wait(p, NULL));
    ASSERT_EQ(subproc_proc_wait_ex(p, -1, 1u << 9, NULL), -EINVAL);
    subproc_proc_free(p);
    ASSERT_EQ(subproc_proc_wait(NULL, &st), -EINVAL);
}

TEST(wait_status_exit_codes)
{
    int codes[] = {0, 1, 42, 255, 256 + 3};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        char c[16];
        snprintf(c, sizeof c, "%d", codes[i]);
        subproc_opts o = SUBPROC_OPTS_INIT;
        subproc_status st = run_helper(&o, NULL, "exit", c, NULL);
        ASSERT_EQ(st.exited, 1);
        ASSERT_EQ(st.code, codes[i] & 0xff);
        ASSERT_EQ(st.signaled, 0);
        ASSERT_EQ(st.stopped, 0);
        ASSERT_EQ(subproc_status_code(&st), codes[i] & 0xff);
    }
}

/* The kernel writes a core file for a plain core_pattern (no '|') named relative to the
 * crashing process's cwd: then whether one was dumped is known. */
static int core_pattern_is_plain_file(void)
{
    /* ASan and TSan set RLIMIT_CORE to 0 in every instrumented process (disable_coredump). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return 0;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    return 0;
#endif
#endif
    char buf[256] = "";
    int fd = open("/proc/sys/kernel/core_pattern", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    return buf[0] != '|' && buf[0] != '/' && buf[0] != '\n';
}

TEST(wait_status_signal_and_core)
{
    char dir[] = "/tmp/subproc-test-XXXXXX";
    ASSERT(mkdtemp(dir));
    char words[64];
    /* No core allowed: signaled, no core. */
    subproc_rlimit nocore[] = {{RLIMIT_CORE, 0, 0}};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.rlimits = nocore;
    o.nrlimits = 1;
    o.cwd = dir;
    subproc_status st = run_helper(&o, NULL, "kill", "11", NULL);
    ASSERT_EQ(st.exited, 0);
    ASSERT_EQ(st.signaled, 1);
    ASSERT_EQ(st.signal, SIGSEGV);
    ASSERT_EQ(st.core_dumped, 0);
    ASSERT_STREQ(subproc_status_str(&st, words, sizeof words), "killed by SIGSEGV");
    ASSERT_EQ(subproc_status_code(&st), 128 + SIGSEGV);

    subproc_rlimit core[] = {{RLIMIT_CORE, RLIM_INFINITY, RLIM_INFINITY}};
    o.rlimits = core;
    st = run_helper(&o, NULL, "kill", "11", NULL);
    ASSERT_EQ(st.signaled, 1);
    ASSERT_EQ(st.signal, SIGSEGV);
    if (core_pattern_is_plain_file()) {
        ASSERT_EQ(st.core_dumped, 1);
        ASSERT_STREQ(subproc_status_str(&st, words, sizeof words),
                     "killed by SIGSEGV (core dumped)");
    } else {
        printf("    (core_pattern pipes, is absolute, or a sanitizer: core_dumped not asserted)\n");
        ASSERT_STREQ(subproc_status_str(&st, words, sizeof words),
                     st.core_dumped ? "killed by SIGSEGV (core dumped)" : "killed by SIGSEGV");
    }
    /* Remove whatever core file landed in dir. */
    DIR *d = opendir(dir);
    ASSERT(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char f[PATH_MAX];
        snprintf(f, sizeof f, "%s/%s", dir, de->d_name);
        unlink(f);
    }
    closedir(d);
    ASSERT_OK(rmdir(dir));
}

TEST(wait_status_words)
{
    char b[64];
    subproc_status st;
    memset(&st, 0, sizeof st);
    ASSERT_STREQ(subproc_status_str(&st, b, sizeof b), "running");
    ASSERT_EQ(subproc_status_code(&st), -1);
    st.exited = 1;
    st.code = 3;
    ASSERT_STREQ(subproc_status_str(&st, b, sizeof b), "exited with 3");
    memset(&st, 0, sizeof st);
    st.signaled = 1;
    st.signal = SIGKILL;
    ASSERT_STREQ(subproc_status_str(&st, b, sizeof b), "killed by SIGKILL");
    st.signal = SIGABRT;
    st.core_dumped = 1;
    ASSERT_STREQ(subproc_status_str(&st, b, sizeof b), "killed by SIGABRT (core dumped)");
    st.signal = SIGRTMIN + 2;
    st.core_dumped = 0;
    ASSERT_STREQ(subproc_status_str(&st, b, sizeof b), "killed by SIGRTMIN+2");
    memset(&st, 0, sizeof st);
    st.stopped = 1;
    st.signal = SIGTSTP;
    ASSERT_STREQ(subproc_status_str(&st, b, sizeof b), "stopped by SIGTSTP");
    ASSERT_EQ(subproc_status_code(&st), 128 + SIGTSTP);
    /* A short buffer is cut and terminated. */
    ASSERT_STREQ(subproc_status_str(&st, b, 6), "stopp");
    ASSERT_STREQ(subproc_status_str(NULL, b, sizeof b), "unknown");
}

TEST(wait_stopped_then_continued)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    subproc_proc *p = start(&o, helper_argv("stop", NULL));
    subproc_status st;
    ASSERT_OK(subproc_proc_wait_ex(p, 20000, SUBPROC_WAIT_STOPPED, &st));
    ASSERT_EQ(st.stopped, 1);
    ASSERT_EQ(st.signal, SIGSTOP);
    ASSERT_EQ(st.exited, 0);
    char b[64];
    ASSERT_STREQ(subproc_status_str(&st, b, sizeof b), "stopped by SIGSTOP");
    ASSERT_EQ(subproc_proc_done(p), 0);
    /* Without the flag a stopped child is still "running". */
    ASSERT_EQ(subproc_proc_try_wait(p, &st), -EAGAIN);
    ASSERT_OK(subproc_proc_signal(p, SIGCONT));
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(st.exited, 1);
    ASSERT_EQ(st.code, 7);
    subproc_proc_free(p);
    /* The same with a blocking wait (no timeout). */
    p = start(&o, helper_argv("stop", NULL));
    ASSERT_OK(subproc_proc_wait_ex(p, -1, SUBPROC_WAIT_STOPPED, &st));
    ASSERT_EQ(st.stopped, 1);
    subproc_proc_free(p); /* kills a stopped child too */
}

TEST(wait_rusage)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    subproc_status st = run_helper(&o, NULL, "burn", "200", NULL);
    ASSERT_EQ(st.code, 0);
    if (st.user_usec + st.sys_usec <= 150000)
        test_failf(__FILE__, __LINE__, "cpu time %lld+%lld us", st.user_usec, st.sys_usec);
    ASSERT(st.user_usec > 100000);
    st = run_helper(&o, NULL, "alloc", "64", NULL);
    ASSERT_EQ(st.code, 0);
    if (st.max_rss_kb <= 60000) test_failf(__FILE__, __LINE__, "max rss %ld KiB", st.max_rss_kb);
}

TEST(wait_blocking_both_ways)
{
    /* A blocking wait reaps on the pidfd (waitid P_PIDFD, rusage from its fifth argument), or,
     * forced here as on kernels before 5.4, polls the pidfd and reaps by PID: the same status
     * either way. */
    for (int fallback = 0; fallback < 2; fallback++) {
        subproc__test_no_pidfd_wait = fallback;
        subproc_opts o = SUBPROC_OPTS_INIT;
        subproc_status st = run_helper(&o, NULL, "exit", "42", NULL);
        ASSERT(st.exited && st.code == 42 && !st.signaled);
        st = run_helper(&o, NULL, "kill", "9", NULL);
        ASSERT(st.signaled && st.signal == SIGKILL && !st.exited && !st.core_dumped);
        st = run_helper(&o, NULL, "burn", "100", NULL);
        ASSERT_EQ(st.code, 0);
        if (st.user_usec + st.sys_usec <= 50000)
            test_failf(__FILE__, __LINE__, "cpu time %lld+%lld us%s", st.user_usec, st.sys_usec,
                       fallback ? ", fallback" : "");
    }
    subproc__test_no_pidfd_wait = 0;
}

TEST(signal_child)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    subproc_proc *p = start(&o, helper_argv("sleep", "20000", NULL));
    /* Both backends hold a pidfd on Linux (and signal through it). */
    int pfd = subproc_proc_pidfd(p);
    ASSERT(pfd > 2);
    ASSERT(fcntl(pfd, F_GETFD) & FD_CLOEXEC);
    ASSERT_OK(subproc_proc_signal(p, 0));
    ASSERT_OK(subproc_proc_signal(p, SIGTERM));
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(st.signaled, 1);
    ASSERT_EQ(st.signal, SIGTERM);
    char b[64];
    ASSERT_STREQ(subproc_status_str(&st, b, sizeof b), "killed by SIGTERM");
    /* Reaped: its pid may belong to someone else now; never signalled again. */
    ASSERT_EQ(subproc_proc_signal(p, SIGKILL), -ESRCH);
    ASSERT_EQ(subproc_proc_signal(p, 0), -ESRCH);
    ASSERT_EQ(subproc_proc_signal(NULL, 0), -EINVAL);
    subproc_proc_free(p);
}

TEST(signal_exited_but_unreaped_child)
{
    /* A zombie is still ours to signal: 0, not an error, and the status is intact. */
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    subproc_proc *p = start(&o, helper_argv("exit", "5", NULL));
    char *out = read_all(subproc_proc_fd(p, 1), NULL); /* EOF: it has exited */
    free(out);
    siginfo_t si;
    ASSERT_OK(waitid(P_PID, (id_t)subproc_proc_pid(p), &si, WEXITED | WNOWAIT));
    ASSERT_OK(subproc_proc_signal(p, SIGTERM));
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(st.exited, 1);
    ASSERT_EQ(st.code, 5);
    subproc_proc_free(p);
}

TEST(terminate_escalates_to_kill)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    subproc_proc *p = start(&o, helper_argv("ignore-term", "20000", NULL));
    char ready[8] = "";
    ASSERT_EQ(read(subproc_proc_fd(p, 1), ready, 6), 6); /* SIGTERM is ignored from now on */
    ASSERT_STREQ(ready, "ready\n");
    subproc_status st;
    ASSERT_OK(subproc_proc_terminate(p, 0, 100, 0, &st));
    ASSERT_EQ(st.signaled, 1);
    ASSERT_EQ(st.signal, SIGKILL);
    ASSERT_EQ(subproc_proc_done(p), 1);
    subproc_proc_free(p);

    /* A child that obeys SIGTERM ends by it, and no KILL is needed. */
    subproc_opts q = SUBPROC_OPTS_INIT;
    p = start(&q, helper_argv("sleep", "20000", NULL));
    ASSERT_OK(subproc_proc_terminate(p, 0, 20000, 0, &st));
    ASSERT_EQ(st.signal, SIGTERM);
    /* Terminating a reaped child just returns its status. */
    ASSERT_OK(subproc_proc_terminate(p, SIGINT, 10, 0, &st));
    ASSERT_EQ(st.signal, SIGTERM);
    ASSERT_EQ(subproc_proc_terminate(p, 0, 10, SUBPROC_TERM_GROUP, &st), -EINVAL);
    subproc_proc_free(p);
}

TEST(signal_group)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    subproc_proc *nog = start(&o, helper_argv("sleep", "20000", NULL));
    ASSERT_EQ(subproc_proc_pgid(nog), -1);
    ASSERT_EQ(subproc_proc_signal_group(nog, SIGTERM), -EINVAL);
    ASSERT_EQ(subproc_proc_signal(nog, 0), 0); /* untouched */

    /* A leader and a member of its group: one call reaches both. */
    subproc_opts lo = SUBPROC_OPTS_INIT;
    lo.flags = SUBPROC_NEW_PGROUP;
    subproc_proc *leader = start(&lo, helper_argv("sleep", "20000", NULL));
    subproc_opts mo = SUBPROC_OPTS_INIT;
    mo.flags = SUBPROC_JOIN_PGROUP;
    mo.pgid = subproc_proc_pid(leader);
    subproc_proc *member = start(&mo, helper_argv("sleep", "20000", NULL));
    ASSERT_EQ(subproc_proc_pgid(member), subproc_proc_pid(leader));
    ASSERT_EQ(subproc_proc_signal_group(leader, 1000), -EINVAL);
    ASSERT_OK(subproc_proc_signal_group(leader, SIGUSR1));
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(leader, &st));
    ASSERT_EQ(st.signal, SIGUSR1);
    ASSERT_OK(subproc_proc_wait(member, &st));
    ASSERT_EQ(st.signal, SIGUSR1);
    ASSERT_OK(subproc_proc_try_wait(nog, NULL) == -EAGAIN ? 0 : -1);
    subproc_proc_free(leader);
    subproc_proc_free(member);

    /* terminate with SUBPROC_TERM_GROUP: escalation reaches the whole group. */
    lo.stdio[1].kind = SUBPROC_IO_PIPE;
    leader = start(&lo, helper_argv("ignore-term", "20000", NULL));
    mo.pgid = subproc_proc_pid(leader);
    mo.stdio[1].kind = SUBPROC_IO_PIPE;
    member = start(&mo, helper_argv("ignore-term", "20000", NULL));
    char r1[8], r2[8];
    ASSERT_EQ(read(subproc_proc_fd(leader, 1), r1, 6), 6);
    ASSERT_EQ(read(subproc_proc_fd(member, 1), r2, 6), 6);
    ASSERT_OK(subproc_proc_terminate(leader, SIGTERM, 50, SUBPROC_TERM_GROUP, &st));
    ASSERT_EQ(st.signal, SIGKILL);
    ASSERT_OK(subproc_proc_wait(member, &st));
    ASSERT_EQ(st.signal, SIGKILL);
    subproc_proc_free(leader);
    subproc_proc_free(member);
    subproc_proc_free(nog);
}

TEST(free_running_child_kills_and_reaps)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.stdio[0].kind = SUBPROC_IO_PIPE;
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    subproc_proc *p = start(&o, helper_argv("sleep", "20000", NULL));
    pid_t pid = subproc_proc_pid(p);
    ASSERT(pid > 0);
    subproc_proc_free(p);
    /* Reaped by free: no zombie of that pid remains ours. */
    int ws;
    ASSERT_EQ(waitpid(pid, &ws, WNOHANG), -1);
    ASSERT_EQ(errno, ECHILD);
    subproc_proc_free(NULL);
    /* A child that ignores SIGTERM goes too (free uses SIGKILL). */
    o.stdio[0].kind = SUBPROC_IO_INHERIT;
    p = start(&o, helper_argv("ignore-term", "20000", NULL));
    char r[8];
    ASSERT_EQ(read(subproc_proc_fd(p, 1), r, 6), 6);
    pid = subproc_proc_pid(p);
    subproc_proc_free(p);
    ASSERT_EQ(waitpid(pid, &ws, WNOHANG), -1);
    ASSERT_EQ(errno, ECHILD);
}

TEST(wait_lost_child_keeps_its_status)
{
    /* Someone else reaped it (here: we do, behind the handle's back). The pidfd still knows how
     * it ended (Linux 6.15); without that, -ECHILD, never an invented status. */
    subproc_opts o = SUBPROC_OPTS_INIT;
    subproc_proc *p = start(&o, helper_argv("exit", "7", NULL));
    int ws;
    ASSERT_EQ(waitpid(subproc_proc_pid(p), &ws, 0), subproc_proc_pid(p));
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT(st.exited);
    ASSERT_EQ(st.code, 7);
    ASSERT_EQ(subproc_proc_done(p), 1);
    ASSERT_EQ(subproc_proc_signal(p, SIGTERM), -ESRCH); /* never a recycled pid */
    subproc_proc_free(p);
}
