/* test_attrs.c - process attributes the child starts with: groups, session, umask, rlimits,
 * nice, signal dispositions and mask, parent-death signal, no_new_privs, credentials. */
#include "test.h"
#include "internal.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>

struct ids {
    int pid, ppid, pgid, sid, uid, gid;
};

static struct ids child_ids(subproc_opts *o)
{
    char *out;
    subproc_status st = run_helper(o, &out, "ids", NULL);
    ASSERT_EQ(st.code, 0);
    struct ids i;
    ASSERT_EQ(sscanf(out, "%d %d %d %d %d %d", &i.pid, &i.ppid, &i.pgid, &i.sid, &i.uid, &i.gid),
              6);
    free(out);
    return i;
}

TEST(attr_default_group_and_session)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    struct ids i = child_ids(&o);
    ASSERT_EQ(i.ppid, getpid());
    ASSERT_EQ(i.pgid, getpgid(0));
    ASSERT_EQ(i.sid, getsid(0));
}

TEST(attr_new_process_group)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.flags = SUBPROC_NEW_PGROUP;
    struct ids i = child_ids(&o);
    ASSERT_EQ(i.pgid, i.pid);
    ASSERT_EQ(i.sid, getsid(0));
    ASSERT_EQ(getpgid(0), getpid()); /* ours did not change */
}

TEST(attr_join_process_group)
{
    subproc_opts lo = SUBPROC_OPTS_INIT;
    lo.flags = SUBPROC_NEW_PGROUP;
    lo.argv = helper_argv("sleep", "20000", NULL);
    subproc_proc *leader;
    ASSERT_OK(subproc_spawn(&leader, &lo, NULL));
    pid_t lp = subproc_proc_pid(leader);
    ASSERT_EQ(subproc_proc_pgid(leader), lp);
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.flags = SUBPROC_JOIN_PGROUP;
    o.pgid = lp;
    struct ids i = child_ids(&o);
    ASSERT_EQ(i.pgid, lp);
    ASSERT(i.pid != lp);
    /* Joining a group that does not exist fails in the child, at setpgid. */
    subproc_proc_free(leader);
    o.argv = helper_argv("exit", "0", NULL);
    subproc_proc *p;
    subproc_error e;
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -EPERM);
    ASSERT_EQ(e.step, SUBPROC_STEP_SETPGID);
    o.pgid = 0;
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -EINVAL);
}

TEST(attr_new_session)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.flags = SUBPROC_NEW_SESSION;
    struct ids i = child_ids(&o);
    ASSERT_EQ(i.sid, i.pid);
    ASSERT_EQ(i.pgid, i.pid);
    ASSERT(getsid(0) != i.pid);
}

TEST(attr_umask)
{
    mode_t old = umask(022);
    subproc_opts o = SUBPROC_OPTS_INIT;
    char *out;
    run_helper(&o, &out, "umask", NULL);
    ASSERT_STREQ(out, "022"); /* inherited */
    free(out);
    o.flags = SUBPROC_SET_UMASK;
    o.umask = 027;
    run_helper(&o, &out, "umask", NULL);
    ASSERT_STREQ(out, "027");
    free(out);
    o.umask = 0;
    run_helper(&o, &out, "umask", NULL);
    ASSERT_STREQ(out, "000");
    free(out);
    ASSERT_EQ(umask(old), 022); /* ours untouched */
}

TEST(attr_rlimits)
{
    if (UNDER_VALGRIND()) test_skip("valgrind keeps RLIMIT_NOFILE for itself: raising it fails with EPERM in its children");
    subproc_rlimit rl[] = {{RLIMIT_NOFILE, 100, 200}, {RLIMIT_CORE, 0, 0}};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.rlimits = rl;
    o.nrlimits = 2;
    char *out;
    run_helper(&o, &out, "nofile", NULL);
    ASSERT_STREQ(out, "100 200");
    free(out);
    struct rlimit mine;
    getrlimit(RLIMIT_NOFILE, &mine);
    ASSERT(mine.rlim_cur != 100); /* ours untouched */
    /* soft > hard is refused up front; raising the hard limit above ours fails in the child
     * for a non-root caller, so it is only checked there. */
    subproc_rlimit bad[] = {{RLIMIT_NOFILE, 300, 200}};
    o.rlimits = bad;
    o.nrlimits = 1;
    subproc_proc *p;
    subproc_error e;
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -EINVAL);
    ASSERT_EQ(e.step, SUBPROC_STEP_VALIDATE);
    subproc_rlimit bad2[] = {{-1, 1, 1}};
    o.rlimits = bad2;
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -EINVAL);
    /* A limit above the kernel's maximum fails at the rlimit step, in the child. */
    subproc_rlimit huge[] = {{RLIMIT_NOFILE, 1u << 30, 1u << 30}};
    o.rlimits = huge;
    o.argv = helper_argv("exit", "0", NULL);
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -EPERM);
    ASSERT_EQ(e.step, SUBPROC_STEP_RLIMIT);
}

TEST(attr_nice)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.flags = SUBPROC_SET_NICE;
    o.nice = 7;
    char *out;
    run_helper(&o, &out, "nice", NULL);
    ASSERT_STREQ(out, "7");
    free(out);
    errno = 0;
    ASSERT_EQ(getpriority(PRIO_PROCESS, 0), 0);
}

static void on_usr1(int sig)
{
    (void)sig;
}

/* "blocked: 10 ignored: 13" -> whether sig is listed in the given part. */
static int listed(const char *out, const char *part, int sig)
{
    const char *s = strstr(out, part);
    ASSERT(s);
    s += strlen(part);
    const char *end = strchr(s, ':');
    char want[16];
    snprintf(want, sizeof want, " %d", sig);
    for (const char *q = s; (q = strstr(q, want)) != NULL; q++) {
        if (end && q > end) break;
        char c = q[strlen(want)];
        if (c == ' ' || c == '\0' || c == 'i') return 1;
    }
    return 0;
}

TEST(attr_signal_dispositions)
{
    signal(SIGUSR1, on_usr1);  /* a handler: reset to default in the child */
    signal(SIGUSR2, SIG_IGN);  /* ignored: inherited as ignored */
    signal(SIGPIPE, SIG_IGN);
    /* Once with the kernel resetting the handlers (clone3's CLONE_CLEAR_SIGHAND, where the
     * backend uses it), once with the child's own scan (the fallback, forced). */
    for (int fallback = 0; fallback < 2; fallback++) {
        subproc__test_no_clear_sighand = fallback;
        subproc_opts o = SUBPROC_OPTS_INIT;
        char *out;
        run_helper(&o, &out, "signals", NULL);
        ASSERT(!listed(out, "ignored:", SIGUSR1));
        ASSERT(listed(out, "ignored:", SIGUSR2));
        ASSERT(listed(out, "ignored:", SIGPIPE));
        free(out);
        o.flags = SUBPROC_RESET_SIGNALS;
        run_helper(&o, &out, "signals", NULL);
        ASSERT(!listed(out, "ignored:", SIGUSR1));
        ASSERT(!listed(out, "ignored:", SIGUSR2));
        ASSERT(!listed(out, "ignored:", SIGPIPE));
        free(out);
    }
    subproc__test_no_clear_sighand = 0;
    /* Ours are untouched. */
    struct sigaction sa;
    sigaction(SIGUSR1, NULL, &sa);
    ASSERT(sa.sa_handler == on_usr1);
    sigaction(SIGUSR2, NULL, &sa);
    ASSERT(sa.sa_handler == SIG_IGN);
}

/* ---- a handler of ours never runs in the child ---- */

/* Where the handler ran (a PID), in memory shared with a forked child too (posix backend). */
static volatile pid_t *handler_ran;

static void note_handler(int sig)
{
    (void)sig;
    *handler_ran = (pid_t)syscall(SYS_getpid); /* the process it runs in, not a cached PID */
}

struct poker {
    pid_t tid;       /* the spawning thread: its children are listed under its task */
    int stop;        /* atomic */
    pid_t signalled; /* the child the signal went to, or 0; read after the join */
};

/* Find the spawning thread's child and send it SIGUSR1, once. */
static void *poke_child(void *arg)
{
    struct poker *k = arg;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)k->tid);
    while (!__atomic_load_n(&k->stop, __ATOMIC_RELAXED) && !k->signalled) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            char buf[64];
            ssize_t n = read(fd, buf, sizeof buf - 1);
            close(fd);
            if (n > 0) {
                buf[n] = 0;
                pid_t pid = (pid_t)atoi(buf);
                if (pid > 0 && kill(pid, SIGUSR1) == 0) k->signalled = pid;
            }
        }
        usleep(200);
    }
    return NULL;
}

TEST(attr_signal_handler_never_runs_in_child)
{
    /* With CLONE_VM the child runs on our memory: a handler of ours running there would act on
     * our data from a process that is not us. Hold the child between its setup and exec: the
     * program is a file we keep open for writing, so every execve fails with ETXTBSY and is
     * retried for 255 ms (child.c) - with the caller's signal mask restored, as it is just
     * before a real exec. A SIGUSR1 sent to the child then must find SIG_DFL there (and kill
     * it), never our handler. Both ways of resetting: the kernel's and the child's own scan. */
    handler_ran =
        mmap(NULL, sizeof *handler_ran, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT(handler_ran != MAP_FAILED);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = note_handler;
    sigemptyset(&sa.sa_mask);
    ASSERT_OK(sigaction(SIGUSR1, &sa, NULL));
    sigset_t unblock;
    sigemptyset(&unblock);
    sigaddset(&unblock, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &unblock, NULL);

    char dir[] = "/tmp/subproc-sighand-XXXXXX";
    ASSERT(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/prog", dir);
    int wfd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    ASSERT(wfd >= 0);
    write_all(wfd, "#!/bin/true\n", 12);
    /* The process's first spawn probes the backend with a child of its own (spawn_linux.c),
     * which must not be the one found below. */
    subproc_opts warm = SUBPROC_OPTS_INIT;
    ASSERT_EQ(run_helper(&warm, NULL, "exit", "0", NULL).code, 0);

    for (int fallback = 0; fallback < 2; fallback++) {
        subproc__test_no_clear_sighand = fallback;
        *handler_ran = 0;
        struct poker k = {.tid = (pid_t)syscall(SYS_gettid), .stop = 0, .signalled = 0};
        pthread_t th;
        ASSERT_OK(pthread_create(&th, NULL, poke_child, &k));
        const char *argv[] = {path, NULL};
        subproc_opts o = SUBPROC_OPTS_INIT;
        o.argv = argv;
        subproc_proc *p;
        subproc_error e;
        int r = subproc_spawn(&p, &o, &e);
        __atomic_store_n(&k.stop, 1, __ATOMIC_RELAXED);
        pthread_join(th, NULL);
        if (*handler_ran)
            test_failf(__FILE__, __LINE__, "our SIGUSR1 handler ran in process %d (we are %d)%s",
                       (int)*handler_ran, (int)getpid(), fallback ? ", fallback" : "");
        if (r < 0)
            test_failf(__FILE__, __LINE__, "the child lived to fail its exec (%s): signal %s%s",
                       subproc_strerror(r), k.signalled ? "sent, not delivered" : "never sent",
                       fallback ? ", fallback" : "");
        subproc_status st;
        ASSERT_OK(subproc_proc_wait(p, &st));
        subproc_proc_free(p);
        ASSERT_EQ(k.signalled > 0, 1);
        ASSERT(st.signaled && st.signal == SIGUSR1);
    }
    subproc__test_no_clear_sighand = 0;
    close(wfd);
    unlink(path);
    rmdir(dir);
    munmap((void *)handler_ran, sizeof *handler_ran);
}

TEST(attr_signal_reset_by_kernel_where_it_can)
{
    /* On x86-64 with Linux 5.5 or later the Linux backend has clone3 reset the handlers
     * (CLONE_CLEAR_SIGHAND) and the child skips its own scan; elsewhere the scan runs. After a
     * spawn, so that a refusal would have been noticed. (That the child then really makes no
     * sigaction calls is seen by strace: test_strace.c.) */
    struct utsname u;
    int major = 0, minor = 0;
    ASSERT_OK(uname(&u));
    sscanf(u.release, "%d.%d", &major, &minor);
    int want = 0;
#if defined(__x86_64__) && defined(__linux__)
    want = major > 5 || (major == 5 && minor >= 5);
#endif
    subproc_opts o = SUBPROC_OPTS_INIT;
    subproc_status st = run_helper(&o, NULL, "exit", "0", NULL);
    ASSERT(st.exited && st.code == 0);
    ASSERT_EQ(subproc__clear_sighand_works(), want);
    subproc__test_no_clear_sighand = 1;
    ASSERT_EQ(subproc__clear_sighand_works(), 0);
    subproc__test_no_clear_sighand = 0;
}

TEST(attr_signal_mask)
{
    sigset_t s, old;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigaddset(&s, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &s, &old);
    subproc_opts o = SUBPROC_OPTS_INIT;
    char *out;
    run_helper(&o, &out, "signals", NULL);
    /* The caller's mask, and nothing more (the library blocks everything around the clone). */
    ASSERT(listed(out, "blocked:", SIGUSR1));
    ASSERT(listed(out, "blocked:", SIGHUP));
    ASSERT(!listed(out, "blocked:", SIGTERM));
    ASSERT(!listed(out, "blocked:", SIGCHLD));
    free(out);
    o.flags = SUBPROC_SET_SIGMASK;
    sigemptyset(&o.sigmask);
    sigaddset(&o.sigmask, SIGUSR2);
    run_helper(&o, &out, "signals", NULL);
    if (strncmp(out, "blocked: 12 ignored:", 20) != 0) test_failf(__FILE__, __LINE__, "%s", out);
    free(out);
    sigemptyset(&o.sigmask);
    run_helper(&o, &out, "signals", NULL);
    ASSERT(strncmp(out, "blocked: ignored:", 17) == 0);
    free(out);
    sigset_t now;
    pthread_sigmask(SIG_SETMASK, NULL, &now);
    ASSERT(sigismember(&now, SIGUSR1) && !sigismember(&now, SIGUSR2));
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

struct spawner {
    subproc_proc *p;
    int r;
};

static void *spawn_and_exit(void *arg)
{
    struct spawner *s = arg;
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("sleep", "30000", NULL);
    o.pdeathsig = SIGKILL;
    s->r = subproc_spawn(&s->p, &o, NULL);
    return NULL; /* the spawning thread ends: the child gets SIGKILL */
}

TEST(attr_pdeathsig_on_thread_exit)
{
    struct spawner s = {NULL, -1};
    pthread_t t;
    ASSERT_OK(pthread_create(&t, NULL, spawn_and_exit, &s));
    ASSERT_OK(pthread_join(t, NULL));
    ASSERT_OK(s.r);
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(s.p, &st)); /* would take 30 s without the signal */
    ASSERT_EQ(st.signaled, 1);
    ASSERT_EQ(st.signal, SIGKILL);
    subproc_proc_free(s.p);

    /* Without pdeathsig the child outlives the thread. */
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("sleep", "30000", NULL);
    o.pdeathsig = SIGTERM;
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    ASSERT_EQ(subproc_proc_try_wait(p, &st), -EAGAIN);
    subproc_proc_free(p);
    o.pdeathsig = -1;
    subproc_error e;
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -EINVAL);
    ASSERT_EQ(e.step, SUBPROC_STEP_VALIDATE);
}

TEST(attr_no_new_privs)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    char *out;
    run_helper(&o, &out, "status", "NoNewPrivs", NULL);
    ASSERT_STREQ(out, "NoNewPrivs:\t0\n");
    free(out);
    o.flags = SUBPROC_NO_NEW_PRIVS;
    run_helper(&o, &out, "status", "NoNewPrivs", NULL);
    ASSERT_STREQ(out, "NoNewPrivs:\t1\n");
    free(out);
}

TEST(attr_uid_gid_groups_as_root)
{
    if (geteuid() != 0) {
        printf("    (not root: the setuid-to-nobody half is skipped; EPERM is tested below)\n");
        return;
    }
    gid_t groups[] = {65534, 100};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.flags = SUBPROC_SET_UID | SUBPROC_SET_GID | SUBPROC_SET_GROUPS;
    o.uid = 65534;
    o.gid = 65534;
    o.groups = groups;
    o.ngroups = 2;
    struct ids i = child_ids(&o);
    ASSERT_EQ(i.uid, 65534);
    ASSERT_EQ(i.gid, 65534);
    char *out;
    run_helper(&o, &out, "status", "Groups", NULL);
    ASSERT(strncmp(out, "Groups:\t65534 100", 17) == 0 || strncmp(out, "Groups:\t100 65534", 17) == 0);
    free(out);
    run_helper(&o, &out, "status", "Uid", NULL);
    ASSERT_STREQ(out, "Uid:\t65534\t65534\t65534\t65534\n"); /* real, effective, saved, fs */
    free(out);
    o.ngroups = 0; /* no supplementary groups at all */
    run_helper(&o, &out, "status", "Groups", NULL);
    ASSERT(strncmp(out, "Groups:\t\n", 8) == 0 && strspn(out + 8, " \n") == strlen(out + 8));
    free(out);
    ASSERT_EQ(getuid(), 0); /* ours untouched: raw syscalls in the child only */
}

static int drop_then_spawn(void *arg)
{
    (void)arg;
    /* Now an ordinary user (in a plain fork child, so this is ours to change)... */
    if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
        return 90;
    subproc_opts o = SUBPROC_OPTS_INIT;
    const char *argv[] = {"/bin/true", NULL};
    o.argv = argv;
    subproc_proc *p;
    subproc_error e;
    /* ...who may not become root again: a clear EPERM from the setuid step. */
    o.flags = SUBPROC_SET_UID;
    o.uid = 0;
    if (subproc_spawn(&p, &o, &e) != -EPERM) return 91;
    if (e.step != SUBPROC_STEP_SETUID || e.err != EPERM) return 92;
    o.flags = SUBPROC_SET_GID;
    o.gid = 0;
    if (subproc_spawn(&p, &o, &e) != -EPERM || e.step != SUBPROC_STEP_SETGID) return 93;
    gid_t g = 0;
    o.flags = SUBPROC_SET_GROUPS;
    o.groups = &g;
    o.ngroups = 1;
    if (subproc_spawn(&p, &o, &e) != -EPERM || e.step != SUBPROC_STEP_SETGROUPS) return 94;
    if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD) return 95; /* all reaped */
    return 0;
}

TEST(attr_credentials_eperm_when_not_permitted)
{
    if (geteuid() != 0) {
        ASSERT_EQ(drop_then_spawn(NULL), 0); /* already unprivileged: ask directly */
        return;
    }
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.fn = drop_then_spawn;
    subproc_proc *p;
    subproc_status st;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(st.exited, 1);
    ASSERT_EQ(st.code, 0);
    subproc_proc_free(p);
}
