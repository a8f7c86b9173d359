/* test_handles.c - a child is its pidfd, a tree is its cgroup: statuses are never lost, signals
 * never reach a recycled id, and a deadline ends everything the child started. */
#include "test.h"
#include "internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

static void msleep(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* Whether process pid (a number in our PID namespace) is gone, waiting up to 5 s for it. */
static int gone(pid_t pid)
{
    for (int i = 0; i < 500; i++) {
        if (kill(pid, 0) < 0 && errno == ESRCH) return 1;
        msleep(10);
    }
    return 0;
}

/* Can this host give a cgroup? (a writable cgroup2 hierarchy) */
static int have_cgroup(void)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("exit", "0", NULL);
    o.contain = SUBPROC_CONTAIN_CGROUP;
    subproc_proc *p;
    if (subproc_spawn(&p, &o, NULL) < 0) return 0;
    subproc_proc_wait(p, NULL);
    subproc_proc_free(p);
    return 1;
}
#define NEED_CGROUP()                                                                            \
    do {                                                                                         \
        if (!have_cgroup()) test_skip("no writable cgroup2 hierarchy on this host");             \
        stale_cgroups_begin();                                                                   \
    } while (0)

/* The cgroups the library made under our own cgroup ("subproc-PID-N") that are there now and
 * were not when the test began (stale_cgroups_begin): none may be left once a test's handles
 * are freed. */
static char cg_before[64][NAME_MAX + 1];
static int cg_nbefore;

static DIR *own_cgroup_dir(void)
{
    char self[PATH_MAX + 8] = "/", path[2 * PATH_MAX + 16];
    FILE *f = fopen("/proc/self/cgroup", "re");
    char line[PATH_MAX + 8];
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "0::", 3)) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(self, sizeof self, "%s", line + 3);
        }
    if (f) fclose(f);
    snprintf(path, sizeof path, "%s%s", subproc__cgroup_mount(), strcmp(self, "/") ? self : "");
    return opendir(path);
}

static void stale_cgroups_begin(void)
{
    cg_nbefore = 0;
    DIR *d = own_cgroup_dir();
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (!strncmp(de->d_name, "subproc-", 8) && cg_nbefore < 64)
            snprintf(cg_before[cg_nbefore++], sizeof cg_before[0], "%s", de->d_name);
    if (d) closedir(d);
}

static int stale_cgroups(void)
{
    DIR *d = own_cgroup_dir();
    if (!d) return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        long maker;
        if (sscanf(de->d_name, "subproc-%ld-", &maker) != 1) continue;
        int old = 0;
        for (int i = 0; i < cg_nbefore && !old; i++) old = !strcmp(cg_before[i], de->d_name);
        /* ours (this process's), or made by a process that has ended since (the CLI's) */
        if (!old && (maker == getpid() || (kill((pid_t)maker, 0) < 0 && errno == ESRCH))) n++;
    }
    closedir(d);
    return n;
}

/* ---- statuses with SIGCHLD ignored, or a foreign reaper ---- */

static void every_api_real_status(void)
{
    subproc_status st;
    subproc_opts o = SUBPROC_OPTS_INIT;
    /* a single child */
    st = run_helper(&o, NULL, "exit", "3", NULL);
    ASSERT(st.exited);
    ASSERT_EQ(st.code, 3);
    /* run, with capture and a deadline */
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.timeout_ms = 20000;
    subproc_result res;
    o.argv = helper_argv("exit", "4", NULL);
    ASSERT_OK(subproc_run(&res, &o, &co));
    ASSERT(res.status.exited);
    ASSERT_EQ(res.status.code, 4);
    subproc_result_free(&res);
    /* popen */
    FILE *pf;
    ASSERT_OK(subproc_popen(&pf, helper_argv("exit", "5", NULL), "r", NULL, NULL));
    ASSERT_OK(subproc_pclose(pf, &st));
    ASSERT(st.exited);
    ASSERT_EQ(st.code, 5);
    /* a pipeline: `true | exit 3`, by every way of waiting */
    for (int way = 0; way < 3; way++) {
        subproc_opts stages[2] = {SUBPROC_OPTS_INIT, SUBPROC_OPTS_INIT};
        const char *a0[] = {test_self, "helper", "exit", "0", NULL};
        const char *a1[] = {test_self, "helper", "exit", "3", NULL};
        stages[0].argv = a0;
        stages[1].argv = a1;
        subproc_pipeline *pl = NULL;
        if (way == 0) {
            ASSERT_OK(subproc_pipeline_run(&pl, &res, stages, 2, 0, NULL));
            subproc_result_free(&res);
        } else {
            ASSERT_OK(subproc_pipeline_spawn(&pl, stages, 2, 0, NULL, NULL));
            if (way == 1) {
                ASSERT_OK(subproc_pipeline_wait(pl, -1));
            } else {
                ASSERT_OK(subproc_pipeline_communicate(pl, NULL, &res));
                subproc_result_free(&res);
            }
        }
        ASSERT_EQ(subproc_pipeline_code(pl), 3);
        ASSERT(subproc_pipeline_status(pl, 0)->exited);
        ASSERT_EQ(subproc_pipeline_status(pl, 1)->code, 3);
        subproc_pipeline_free(pl);
    }
    /* `true | true`, many times: every stage starts, in the pipeline's group */
    for (int i = 0; i < 30; i++) {
        subproc_opts stages[3] = {SUBPROC_OPTS_INIT, SUBPROC_OPTS_INIT, SUBPROC_OPTS_INIT};
        const char *a[] = {test_self, "helper", "exit", "0", NULL};
        for (int k = 0; k < 3; k++) stages[k].argv = a;
        subproc_pipeline *pl;
        ASSERT_OK(subproc_pipeline_spawn(&pl, stages, 3, 0, NULL, NULL));
        for (int k = 0; k < 3; k++) ASSERT(subproc_pipeline_stage_error(pl, (size_t)k) == NULL);
        ASSERT_OK(subproc_pipeline_wait(pl, -1));
        ASSERT_EQ(subproc_pipeline_code(pl), 0);
        subproc_pipeline_free(pl);
    }
    /* a pool */
    subproc_job jobs[4];
    subproc_opts jo[4];
    static char codes[4][16];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < 4; i++) {
        jo[i] = (subproc_opts)SUBPROC_OPTS_INIT;
        snprintf(codes[i], sizeof codes[i], "%d", 10 + i);
        static const char *av[4][5];
        av[i][0] = test_self, av[i][1] = "helper", av[i][2] = "exit", av[i][3] = codes[i];
        av[i][4] = NULL;
        jo[i].argv = av[i];
        jobs[i].opts = &jo[i];
    }
    subproc_pool_opts po = SUBPROC_POOL_OPTS_INIT;
    po.jobs = 2;
    ASSERT_OK(subproc_pool_run(jobs, 4, &po));
    for (int i = 0; i < 4; i++) {
        ASSERT(jobs[i].started);
        ASSERT(jobs[i].status.exited);
        ASSERT_EQ(jobs[i].status.code, 10 + i);
        subproc_job_clear(&jobs[i]);
    }
}

TEST(handles_sigchld_ignored_every_api)
{
    signal(SIGCHLD, SIG_IGN);
    every_api_real_status();
    signal(SIGCHLD, SIG_DFL);
}

static int reaper_stop; /* read and written with __atomic: the reaper thread polls it */
static void *reaper(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&reaper_stop, __ATOMIC_ACQUIRE)) {
        int ws;
        if (waitpid(-1, &ws, WNOHANG) <= 0) msleep(1);
    }
    return NULL;
}

TEST(handles_foreign_reaper_every_api)
{
    /* Another thread of the caller's reaps every child it can, as a careless SIGCHLD handler or
     * a second library would. */
    pthread_t t;
    __atomic_store_n(&reaper_stop, 0, __ATOMIC_RELEASE);
    ASSERT_OK(pthread_create(&t, NULL, reaper, NULL));
    every_api_real_status();
    __atomic_store_n(&reaper_stop, 1, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
}

TEST(handles_lost_status_is_reported_never_faked)
{
    /* Where the kernel cannot give the status (forced here), every API says so. */
    signal(SIGCHLD, SIG_IGN);
    subproc__test_no_pidfd_info = 1;
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("exit", "3", NULL);
    subproc_proc *p;
    subproc_status st;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    ASSERT_EQ(subproc_proc_wait(p, &st), -ECHILD);
    ASSERT_EQ(subproc_proc_done(p), 0);
    subproc_proc_free(p);
    subproc_result res;
    ASSERT_EQ(subproc_run(&res, &o, NULL), -ECHILD);
    subproc_result_free(&res);
    subproc_opts stages[2] = {SUBPROC_OPTS_INIT, SUBPROC_OPTS_INIT};
    const char *a[] = {test_self, "helper", "exit", "3", NULL};
    stages[0].argv = stages[1].argv = a;
    subproc_pipeline *pl;
    ASSERT_EQ(subproc_pipeline_run(&pl, &res, stages, 2, 0, NULL), -ECHILD);
    ASSERT_EQ(subproc_pipeline_code(pl), -1);
    subproc_pipeline_free(pl);
    subproc_result_free(&res);
    subproc_job job;
    memset(&job, 0, sizeof job);
    job.opts = &o;
    subproc_pool_opts po = SUBPROC_POOL_OPTS_INIT;
    ASSERT_OK(subproc_pool_run(&job, 1, &po));
    ASSERT(job.started);
    ASSERT(!job.status.exited && !job.status.signaled);
    ASSERT_EQ(job.error.err, ECHILD); /* said, not faked */
    subproc__test_no_pidfd_info = 0;
    signal(SIGCHLD, SIG_DFL);
}

/* ---- no signal to a recycled process group id ---- */

/* Run fn as init of a new PID namespace: pids are then ours alone to recycle (ns_last_pid). */
static void in_own_pidns(void (*fn)(void))
{
    if (geteuid() != 0) test_skip("needs root (a PID namespace and ns_last_pid)");
    if (unshare(CLONE_NEWPID) < 0) test_skip("no PID namespaces here");
    pid_t c = fork();
    ASSERT(c >= 0);
    if (c == 0) {
        fn();
        _exit(0);
    }
    int ws;
    ASSERT_EQ(waitpid(c, &ws, 0), c);
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
        test_failf(__FILE__, __LINE__, "in the PID namespace: status %#x", ws);
}

/* A stranger that gets pid `want` and leads a process group of that id. */
static pid_t stranger_with_pid(pid_t want)
{
    for (int tries = 0; tries < 20; tries++) {
        int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY);
        ASSERT(fd >= 0);
        char b[32];
        int n = snprintf(b, sizeof b, "%d", (int)want - 1);
        ASSERT_EQ(write(fd, b, (size_t)n), n);
        close(fd);
        pid_t c = fork();
        ASSERT(c >= 0);
        if (c == 0) {
            setpgid(0, 0);
            for (;;) pause();
        }
        if (c == want) return c;
        kill(c, SIGKILL);
        waitpid(c, NULL, 0);
    }
    test_failf(__FILE__, __LINE__, "could not recycle pid %d", (int)want);
}

static void stranger_survives(pid_t s)
{
    msleep(50);
    int ws;
    ASSERT_EQ(waitpid(s, &ws, WNOHANG), 0); /* not killed */
    kill(s, SIGKILL);
    waitpid(s, &ws, 0);
}

static void recycled_group_body(void)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.flags = SUBPROC_NEW_PGROUP;
    o.argv = helper_argv("exit", "0", NULL);
    subproc_proc *p;
    subproc_status st;
    /* subproc_proc_signal_group and terminate(GROUP) after the reap */
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    ASSERT_OK(subproc_proc_wait(p, &st));
    pid_t s = stranger_with_pid(subproc_proc_pgid(p));
    ASSERT_EQ(subproc_proc_signal_group(p, SIGKILL), -ESRCH);
    ASSERT_OK(subproc_proc_terminate(p, SIGKILL, 10, SUBPROC_TERM_GROUP, &st));
    ASSERT(st.exited);
    stranger_survives(s);
    subproc_proc_free(p);
    /* the same when the kernel reaped it (SIGCHLD ignored), and with the pre-6.9 fallback */
    for (int fallback = 0; fallback < 2; fallback++) {
        subproc__test_no_pgsig = fallback;
        signal(SIGCHLD, SIG_IGN);
        ASSERT_OK(subproc_spawn(&p, &o, NULL));
        int pfd = subproc_proc_pidfd(p);
        struct timespec ts = {0, 1000000};
        while (kill(subproc_proc_pid(p), 0) == 0) nanosleep(&ts, NULL); /* gone, not waited */
        (void)pfd;
        s = stranger_with_pid(subproc_proc_pgid(p));
        ASSERT_EQ(subproc_proc_signal_group(p, SIGKILL), -ESRCH);
        ASSERT_EQ(subproc_proc_signal(p, SIGKILL), -ESRCH);
        signal(SIGCHLD, SIG_DFL);
        stranger_survives(s);
        subproc_proc_free(p);
        subproc__test_no_pgsig = 0;
    }
    /* subproc_pipeline_terminate on a pipeline already waited for */
    subproc_opts stages[2] = {SUBPROC_OPTS_INIT, SUBPROC_OPTS_INIT};
    const char *a[] = {test_self, "helper", "exit", "0", NULL};
    stages[0].argv = stages[1].argv = a;
    subproc_pipeline *pl;
    ASSERT_OK(subproc_pipeline_spawn(&pl, stages, 2, 0, NULL, NULL));
    ASSERT_OK(subproc_pipeline_wait(pl, -1));
    s = stranger_with_pid(subproc_pipeline_pgid(pl));
    ASSERT_OK(subproc_pipeline_terminate(pl, SIGKILL, 10));
    ASSERT_EQ(subproc_pipeline_signal(pl, SIGKILL), -ESRCH);
    stranger_survives(s);
    subproc_pipeline_free(pl);
}

TEST(handles_no_signal_to_a_recycled_group)
{
    in_own_pidns(recycled_group_body);
}

/* The communicate deadline path: the child dies of the deadline's TERM and is reaped, a setsid'd
 * descendant keeps stdout open through a long drain, and meanwhile a stranger gets the child's
 * old pid as its group id. Nothing may be sent to that group after the reap. */
static pid_t recycle_target;
static pid_t recycled_stranger;
static void *recycle_later(void *arg)
{
    (void)arg;
    /* wait until the child is gone (the deadline killed it), then take its id */
    for (int i = 0; i < 1000 && kill(recycle_target, 0) == 0; i++) msleep(5);
    msleep(50);
    recycled_stranger = stranger_with_pid(recycle_target);
    return NULL;
}

static void recycled_group_communicate_body(void)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("escape", "setsid", "stay", NULL);
    o.flags = SUBPROC_NEW_PGROUP;
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    recycle_target = subproc_proc_pid(p);
    pthread_t t;
    ASSERT_OK(pthread_create(&t, NULL, recycle_later, NULL));
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.timeout_ms = 300;
    co.kill_grace_ms = 100;
    co.drain_ms = 1500; /* the escapee holds stdout: the drain runs out */
    subproc_result res;
    ASSERT_EQ(subproc_proc_communicate(p, &co, &res), -ETIMEDOUT);
    pthread_join(t, NULL);
    ASSERT(res.out.data && atol(res.out.data) > 0);
    subproc_result_free(&res);
    subproc_proc_free(p);
    stranger_survives(recycled_stranger);
    /* The escapee (not contained here) ends with this PID namespace, when this function's
     * process, its init, exits. */
}

TEST(handles_no_signal_to_a_recycled_group_after_a_deadline)
{
    in_own_pidns(recycled_group_communicate_body);
}

/* ---- the tree: nothing escapes a deadline ---- */

static const char *const kinds[] = {"setsid", "setpgid", "doublefork", "daemon"};

/* subproc_run of `helper escape KIND stay` with a deadline; returns the escapee's pid. */
static pid_t run_escape(unsigned contain, const char *kind, const char *after, long long timeout,
                        int leftovers, int *rc, subproc_status *st)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("escape", kind, after, NULL);
    o.contain = contain;
    o.leftovers = leftovers;
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.timeout_ms = timeout;
    co.kill_grace_ms = 200;
    subproc_result res;
    *rc = subproc_run(&res, &o, &co);
    if (st) *st = res.status;
    pid_t pid = (pid_t)atol(res.out.data ? res.out.data : "0");
    subproc_result_free(&res);
    ASSERT(pid > 0);
    return pid;
}

TEST_T(handles_deadline_ends_every_escapee, 60)
{
    NEED_CGROUP();
    for (int mech = 0; mech < 2; mech++) {
        unsigned contain = mech ? SUBPROC_CONTAIN_PIDNS : SUBPROC_CONTAIN_CGROUP;
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            int rc;
            pid_t e = run_escape(contain, kinds[k], "stay", 300, 0, &rc, NULL);
            ASSERT_EQ(rc, -ETIMEDOUT);
            if (!gone(e)) test_failf(__FILE__, __LINE__, "%s escaped %s", kinds[k],
                                     subproc_containment_name(contain));
        }
    }
    ASSERT_EQ(stale_cgroups(), 0);
    /* The last resort is a process group, which setsid() leaves: documented, shown here. */
    int rc;
    pid_t e = run_escape(SUBPROC_CONTAIN_PGROUP, "setsid", "stay", 300, 0, &rc, NULL);
    ASSERT_EQ(rc, -ETIMEDOUT);
    ASSERT_EQ(kill(e, 0), 0);
    kill(e, SIGKILL);
}

TEST_T(handles_leftovers, 60)
{
    NEED_CGROUP();
    subproc_status st;
    int rc;
    /* kill: the child's own exit ends the rest, and the output is read to its end */
    pid_t e = run_escape(SUBPROC_CONTAIN_CGROUP, "daemon", "exit", 20000,
                         SUBPROC_LEFTOVERS_KILL, &rc, &st);
    ASSERT_OK(rc);
    ASSERT(st.exited);
    ASSERT_EQ(st.code, 0);
    ASSERT(gone(e));
    e = run_escape(SUBPROC_CONTAIN_CGROUP, "setsid", "exit", 20000, SUBPROC_LEFTOVERS_KILL, &rc,
                   &st);
    ASSERT_OK(rc);
    ASSERT(gone(e));
    /* wait: within the deadline, which then ends them */
    e = run_escape(SUBPROC_CONTAIN_CGROUP, "daemon", "exit", 300, SUBPROC_LEFTOVERS_WAIT, &rc,
                   &st);
    ASSERT_EQ(rc, -ETIMEDOUT);
    ASSERT(gone(e));
    /* leave: they go on, moved out of the child's cgroup, which is removed */
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("escape", "daemon", "exit", NULL);
    o.contain = SUBPROC_CONTAIN_CGROUP;
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    char *out = read_all(subproc_proc_fd(p, 1), NULL);
    e = (pid_t)atol(out);
    free(out);
    ASSERT_OK(subproc_proc_wait(p, &st));
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", subproc_proc_cgroup_path(p));
    struct stat sb;
    ASSERT_EQ(stat(path, &sb), 0);
    subproc_proc_free(p);
    ASSERT_EQ(stat(path, &sb), -1);
    ASSERT_EQ(kill(e, 0), 0);
    kill(e, SIGKILL);
    ASSERT_EQ(stale_cgroups(), 0);
}

TEST_T(handles_tree_api, 60)
{
    NEED_CGROUP();
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("escape", "setsid", "stay", NULL);
    o.contain = SUBPROC_CONTAIN_ANY;
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    ASSERT_EQ(subproc_proc_containment(p), SUBPROC_CONTAIN_CGROUP);
    ASSERT_STREQ(subproc_containment_name(subproc_proc_containment(p)), "cgroup");
    const char *path = subproc_proc_cgroup_path(p);
    ASSERT(path != NULL);
    char events[PATH_MAX + 32];
    snprintf(events, sizeof events, "%s/cgroup.events", path);
    ASSERT(subproc_proc_tree_fd(p) > 2);
    char line[32] = {0};
    subproc_reader *r;
    ASSERT_OK(subproc_reader_new(&r, subproc_proc_fd(p, 1), 0, 0));
    const char *l;
    size_t len;
    ASSERT_EQ(subproc_reader_readline(r, &l, &len, 10000), 1);
    pid_t e = (pid_t)atol(l);
    subproc_reader_free(r);
    (void)line;
    /* freeze: both processes stop, the escapee included */
    ASSERT_OK(subproc_proc_freeze(p, 1));
    char buf[256];
    int fd = open(events, O_RDONLY);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    ASSERT(strstr(buf, "frozen 1"));
    ASSERT_OK(subproc_proc_freeze(p, 0));
    subproc_tree_stats ts;
    ASSERT_OK(subproc_proc_tree_stats(p, &ts));
    ASSERT(ts.usage_usec >= 0);
    ASSERT_EQ(subproc_proc_wait_tree(p, 0), -ETIMEDOUT);
    ASSERT_OK(subproc_proc_signal_tree(p, 0));
    ASSERT_OK(subproc_proc_kill_tree(p));
    ASSERT_OK(subproc_proc_wait_tree(p, 5000));
    ASSERT(gone(e));
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT(st.signaled);
    ASSERT_EQ(st.signal, SIGKILL);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    subproc_proc_free(p);
    struct stat sb;
    ASSERT_EQ(stat(dir, &sb), -1); /* no cgroup left behind */
    /* Limits need their controllers: refused clearly where they are not delegated. */
    subproc_cgroup_limits lim = {.memory_max = 64 << 20};
    o.argv = helper_argv("exit", "0", NULL);
    o.stdio[1].kind = SUBPROC_IO_INHERIT;
    o.contain = SUBPROC_CONTAIN_CGROUP;
    o.cgroup_limits = &lim;
    subproc_error err;
    int rc = subproc_spawn(&p, &o, &err);
    if (rc == 0) {
        subproc_proc_wait(p, NULL);
        subproc_proc_free(p);
    } else {
        ASSERT_EQ(rc, -EOPNOTSUPP);
        ASSERT_EQ(err.step, SUBPROC_STEP_CGROUP);
        ASSERT_STREQ(err.path, "memory.max");
        char es[600], want[600];
        snprintf(want, sizeof want, "cgroup memory.max: %s", subproc_strerror(EOPNOTSUPP));
        ASSERT_STREQ(subproc_error_str(&err, es, sizeof es), want);
    }
    /* Not contained: the tree calls say so. */
    o.contain = 0;
    o.cgroup_limits = NULL;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    ASSERT_EQ(subproc_proc_containment(p), 0);
    ASSERT_EQ(subproc_proc_kill_tree(p), -EINVAL);
    ASSERT_EQ(subproc_proc_freeze(p, 1), -EOPNOTSUPP);
    ASSERT_EQ(subproc_proc_tree_fd(p), -1);
    subproc_proc_wait(p, NULL);
    subproc_proc_free(p);
    ASSERT_EQ(stale_cgroups(), 0);
}

TEST(handles_fallbacks_forced)
{
    /* Each mechanism can be asked for alone; the handle says which it got. */
    static const unsigned m[] = {SUBPROC_CONTAIN_PIDNS, SUBPROC_CONTAIN_PGROUP};
    for (size_t i = 0; i < 2; i++) {
        subproc_opts o = SUBPROC_OPTS_INIT;
        o.argv = helper_argv("ids", NULL);
        o.contain = m[i];
        char *out;
        subproc_status st = run_helper(&o, &out, "ids", NULL);
        ASSERT_EQ(st.code, 0);
        long v[6];
        ASSERT_EQ(sscanf(out, "%ld %ld %ld %ld %ld %ld", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]),
                  6);
        if (m[i] == SUBPROC_CONTAIN_PIDNS) ASSERT_EQ(v[0], 1); /* init of its namespace */
        if (m[i] == SUBPROC_CONTAIN_PGROUP) ASSERT_EQ(v[2], v[0]); /* leads its group */
        free(out);
        subproc_proc *p;
        o.argv = helper_argv("exit", "0", NULL); /* run_helper's argv was its own */
        o.stdio[1].kind = SUBPROC_IO_INHERIT;
        ASSERT_OK(subproc_spawn(&p, &o, NULL));
        ASSERT_EQ(subproc_proc_containment(p), m[i]);
        subproc_proc_wait(p, NULL);
        subproc_proc_free(p);
    }
}

TEST(handles_ctrl_c_reaches_a_contained_child)
{
    /* With a deadline, a contained child stays in the caller's process group (so a terminal's
     * SIGINT reaches it, as with Python's subprocess.run(timeout=...)). */
    NEED_CGROUP();
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("ids", NULL);
    o.contain = SUBPROC_CONTAIN_CGROUP;
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.timeout_ms = 20000;
    subproc_result res;
    ASSERT_OK(subproc_run(&res, &o, &co));
    long v[6];
    ASSERT_EQ(sscanf(res.out.data, "%ld %ld %ld %ld %ld %ld", &v[0], &v[1], &v[2], &v[3], &v[4],
                     &v[5]),
              6);
    ASSERT_EQ(v[2], getpgrp());
    subproc_result_free(&res);
}

TEST_T(handles_pipeline_and_pool_deadlines_end_the_tree, 60)
{
    NEED_CGROUP();
    /* pipeline: the first stage leaves a setsid'd descendant behind */
    subproc_opts stages[2] = {SUBPROC_OPTS_INIT, SUBPROC_OPTS_INIT};
    const char *a0[] = {test_self, "helper", "escape", "setsid", "stay", NULL};
    const char *a1[] = {test_self, "helper", "cat", NULL};
    stages[0].argv = a0;
    stages[1].argv = a1;
    for (int k = 0; k < 2; k++) stages[k].contain = SUBPROC_CONTAIN_CGROUP;
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.timeout_ms = 300;
    co.kill_grace_ms = 200;
    subproc_result res;
    subproc_pipeline *pl;
    ASSERT_EQ(subproc_pipeline_run(&pl, &res, stages, 2, 0, &co), -ETIMEDOUT);
    ASSERT_EQ(subproc_pipeline_containment(pl), SUBPROC_CONTAIN_CGROUP);
    pid_t e = (pid_t)atol(res.out.data);
    ASSERT(e > 0);
    ASSERT(gone(e));
    subproc_pipeline_free(pl);
    subproc_result_free(&res);
    /* pool */
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("escape", "daemon", "stay", NULL);
    o.contain = SUBPROC_CONTAIN_CGROUP;
    subproc_job job;
    memset(&job, 0, sizeof job);
    job.opts = &o;
    subproc_pool_opts po = SUBPROC_POOL_OPTS_INIT;
    po.flags = SUBPROC_POOL_CAPTURE;
    po.timeout_ms = 300;
    po.kill_grace_ms = 200;
    ASSERT_OK(subproc_pool_run(&job, 1, &po));
    ASSERT(job.timed_out);
    ASSERT(job.out != NULL);
    e = (pid_t)atol(job.out);
    ASSERT(e > 0);
    ASSERT(gone(e));
    subproc_job_clear(&job);
    ASSERT_EQ(stale_cgroups(), 0);
}

/* ---- the command ---- */

/* `subproc ARGS...` ("@" stands for the test binary): exit code, stdout into *out. */
static int cli_run(char **out, const char *first, ...)
{
    const char *v[40];
    size_t n = 0;
    v[n++] = test_cli_path();
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && n < 39; a = va_arg(ap, const char *))
        v[n++] = strcmp(a, "@") ? a : test_self;
    va_end(ap);
    v[n] = NULL;
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = v;
    o.stdio[0].kind = SUBPROC_IO_NULL;
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    subproc_result res;
    ASSERT_OK(subproc_run(&res, &o, &co));
    int code = subproc_status_code(&res.status);
    if (out) {
        *out = res.out.data;
        res.out.data = NULL;
    }
    subproc_result_free(&res);
    return code;
}

TEST(handles_cli_with_sigchld_ignored)
{
    /* Whoever started subproc left SIGCHLD ignored: it resets it for itself, as timeout(1). */
    signal(SIGCHLD, SIG_IGN);
    ASSERT_EQ(cli_run(NULL, "run", "--", "@", "helper", "exit", "3", NULL), 3);
    ASSERT_EQ(cli_run(NULL, "run", "--capture", "--", "@", "helper", "exit", "3", NULL), 3);
    ASSERT_EQ(cli_run(NULL, "pipe", "--", "@", "helper", "exit", "0", "|", "@", "helper", "exit",
                      "3", NULL),
              3);
    signal(SIGCHLD, SIG_DFL);
}

TEST_T(handles_cli_deadline_ends_every_escapee, 120)
{
    NEED_CGROUP();
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        for (int cmd = 0; cmd < 3; cmd++) {
            char *out;
            int code;
            if (cmd == 0)
                code = cli_run(&out, "run", "-t", "0.3", "-k", "0.2", "--", "@", "helper",
                               "escape", kinds[k], "stay", NULL);
            else if (cmd == 1)
                code = cli_run(&out, "run", "--capture", "-t", "0.3", "-k", "0.2", "--", "@",
                               "helper", "escape", kinds[k], "stay", NULL);
            else
                code = cli_run(&out, "pipe", "-t", "0.3", "-k", "0.2", "--", "@", "helper",
                               "escape", kinds[k], "stay", "|", "@", "helper", "cat", NULL);
            ASSERT_EQ(code, 124);
            pid_t e = (pid_t)atol(out);
            free(out);
            ASSERT(e > 0);
            if (!gone(e)) test_failf(__FILE__, __LINE__, "%s escaped command %d", kinds[k], cmd);
        }
    }
    ASSERT_EQ(stale_cgroups(), 0);
}

TEST_T(handles_cli_containment_and_leftovers, 60)
{
    NEED_CGROUP();
    char *out;
    ASSERT_EQ(cli_run(&out, "run", "--json=-", "--stdout=null", "--", "@", "helper", "exit", "0",
                      NULL),
              0);
    ASSERT(strstr(out, "\"containment\":\"cgroup\""));
    free(out);
    ASSERT_EQ(cli_run(&out, "run", "--no-contain", "--json=-", "--stdout=null", "--", "@",
                      "helper", "exit", "0", NULL),
              0);
    ASSERT(strstr(out, "\"containment\":\"none\""));
    free(out);
    setenv("SUBPROC_CONTAIN", "pgroup", 1);
    ASSERT_EQ(cli_run(&out, "pipe", "--json=-", "--stdout=null", "--", "@", "helper", "exit", "0",
                      "|", "@", "helper", "cat", NULL),
              0);
    ASSERT(strstr(out, "\"containment\":\"pgroup\""));
    free(out);
    unsetenv("SUBPROC_CONTAIN");
    /* --leftovers=kill: the program's own exit ends the rest; leave (default) does not. */
    ASSERT_EQ(cli_run(&out, "run", "--leftovers=kill", "--", "@", "helper", "escape", "setsid",
                      "exit", NULL),
              0);
    ASSERT(gone((pid_t)atol(out)));
    free(out);
    ASSERT_EQ(cli_run(&out, "run", "--", "@", "helper", "escape", "daemon", "exit", NULL), 0);
    pid_t e = (pid_t)atol(out);
    free(out);
    ASSERT_EQ(kill(e, 0), 0);
    kill(e, SIGKILL);
    /* --leftovers=wait within -t: the deadline ends them, 124 */
    ASSERT_EQ(cli_run(&out, "run", "--leftovers=wait", "-t", "0.3", "-k", "0.2", "--", "@",
                      "helper", "escape", "daemon", "exit", NULL),
              124);
    ASSERT(gone((pid_t)atol(out)));
    free(out);
    ASSERT_EQ(cli_run(NULL, "run", "--leftovers=maybe", "--", "@", "helper", "exit", "0", NULL),
              125);
    /* Nested: the inner subproc's cgroup sits inside the outer's; the outer's deadline kills
     * both trees and removes both cgroups, inner first. */
    ASSERT_EQ(cli_run(&out, "run", "-t", "0.3", "-k", "0.2", "--", test_cli_path(), "run", "--", "@",
                      "helper", "escape", "setsid", "stay", NULL),
              124);
    ASSERT(gone((pid_t)atol(out)));
    free(out);
    ASSERT_EQ(stale_cgroups(), 0);
}

TEST_T(handles_cli_par_deadline_and_relay_end_every_tree, 120)
{
    NEED_CGROUP();
    /* par -t: each job's escapee ends with it */
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        char *out;
        int code = cli_run(&out, "par", "-t", "0.3", "--kill-after", "0.2", "--", "@", "helper",
                           "escape", kinds[k], "stay", ":::", "a", NULL);
        ASSERT_EQ(code, 1); /* one failed job */
        pid_t e = (pid_t)atol(out);
        free(out);
        ASSERT(e > 0);
        if (!gone(e)) test_failf(__FILE__, __LINE__, "%s escaped par -t", kinds[k]);
    }
    /* TERM to par goes to every running job's tree; par exits 128+15 once they are gone. */
    const char *v[] = {test_cli_path(), "par", "--ungroup", "-t", "60", "--", test_self, "helper",
                       "escape", "setsid", "stay", ":::", "a", "b", NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = v;
    o.stdio[0].kind = SUBPROC_IO_NULL;
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    subproc_reader *r;
    ASSERT_OK(subproc_reader_new(&r, subproc_proc_fd(p, 1), 0, 0));
    pid_t e[2];
    for (int i = 0; i < 2; i++) {
        const char *l;
        size_t len;
        ASSERT_EQ(subproc_reader_readline(r, &l, &len, 20000), 1);
        e[i] = (pid_t)atol(l);
        ASSERT(e[i] > 0);
    }
    subproc_reader_free(r);
    ASSERT_OK(subproc_proc_signal(p, SIGTERM));
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(subproc_status_code(&st), 143);
    subproc_proc_free(p);
    for (int i = 0; i < 2; i++) ASSERT(gone(e[i]));
    ASSERT_EQ(stale_cgroups(), 0);
}

TEST(handles_cgroups_of_killed_makers_are_swept)
{
    /* A process killed outright (SIGKILL) cannot remove its cgroups; the next process that makes
     * cgroups in the same place removes the empty ones of makers that no longer exist. */
    NEED_CGROUP(); /* this makes our first cgroup: the sweep has run; the next one is a child's */
    pid_t dead = fork();
    if (dead == 0) _exit(0);
    waitpid(dead, NULL, 0);
    char self[PATH_MAX + 8] = "/", dir[2 * PATH_MAX + 64];
    FILE *f = fopen("/proc/self/cgroup", "re");
    char line[PATH_MAX + 8];
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "0::", 3)) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(self, sizeof self, "%s", line + 3);
        }
    if (f) fclose(f);
    snprintf(dir, sizeof dir, "%s%s/subproc-%d-1", subproc__cgroup_mount(),
             strcmp(self, "/") ? self : "", (int)dead);
    ASSERT_EQ(mkdir(dir, 0755), 0);
    char sub[sizeof dir + 32];
    snprintf(sub, sizeof sub, "%s/subproc-%d-2", dir, (int)dead); /* a nested one too */
    ASSERT_EQ(mkdir(sub, 0755), 0);
    /* a fresh process (the sweep runs once per process) makes a cgroup there */
    ASSERT_EQ(cli_run(NULL, "run", "--", "@", "helper", "exit", "0", NULL), 0);
    struct stat sb;
    if (stat(dir, &sb) == 0) {
        rmdir(sub);
        rmdir(dir);
        test_failf(__FILE__, __LINE__, "the stale cgroup %s is still there", dir);
    }
}
