/* test_rel_fault.c - fault injection: every allocation failing in turn, fd
 * exhaustion (EMFILE) and process exhaustion (EAGAIN from clone/fork under RLIMIT_NPROC).
 * After each fault: a clear error, nothing leaked (fds, children; memory under ASan), and the
 * next spawn works. */
#include "test.h"
#include "internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REL_LSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define REL_LSAN 1
#endif
#ifdef REL_LSAN
#include <sanitizer/lsan_interface.h>
#endif

/* Tests end with _exit(), which skips LeakSanitizer's exit-time check: run it by hand. */
static void assert_no_leaks(void)
{
#ifdef REL_LSAN
    ASSERT_EQ(__lsan_do_recoverable_leak_check(), 0);
#endif
}

static void assert_no_child(void)
{
    int ws;
    ASSERT_EQ(waitpid(-1, &ws, WNOHANG), -1);
    ASSERT_EQ(errno, ECHILD);
}

/* A spawn that is known to work: helper exits 5. */
static void spawn_works(void)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    subproc_status st = run_helper(&o, NULL, "exit", "5", NULL);
    ASSERT_EQ(st.exited, 1);
    ASSERT_EQ(st.code, 5);
}

/* The spawn under test touches every allocation site: a PATH search, a built environment,
 * three pipes and nine extra fds. */
static int spawn_everything(subproc_proc **p, const subproc_env *env, int extra, subproc_error *e)
{
    static const char *argv[] = {"test_subproc_rel", "helper", "exit", "9", NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    /* Nine extra fds: with the three pipes that is more moves than a spawn plans without
     * allocating (8), so the plan's arrays are allocated too. */
    subproc_fdmap fds[9];
    for (int i = 0; i < 9; i++) fds[i] = (subproc_fdmap){extra, 7 + i};
    o.program = strrchr(test_self, '/') + 1;
    o.argv = argv;
    o.env = env;
    for (int i = 0; i < 3; i++) o.stdio[i].kind = SUBPROC_IO_PIPE;
    o.fds = fds;
    o.nfds = 9;
    return subproc_spawn(p, &o, e);
}

TEST(rel_alloc_failure_every_site)
{
    char dir[4096];
    strcpy(dir, test_self);
    *strrchr(dir, '/') = '\0';
    subproc_env *env;
    ASSERT_OK(subproc_env_new(&env, SUBPROC_ENV_EMPTY));
    char path[4200];
    snprintf(path, sizeof path, "/nonexistent/a:/nonexistent/b:%s:/usr/bin", dir);
    ASSERT_OK(subproc_env_set(env, "PATH", path));
    int extra = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT(extra >= 0);
    int fds_before = count_fds();

    int failures = 0;
    for (unsigned long n = 1; n < 1000; n++) {
        subproc_proc *p = (subproc_proc *)1;
        subproc_error e;
        subproc__test_fail_alloc_after(n);
        int r = spawn_everything(&p, env, extra, &e);
        subproc__test_fail_alloc_after(0);
        if (r == 0) {
            subproc_status st;
            ASSERT_OK(subproc_proc_wait(p, &st));
            ASSERT_EQ(st.code, 9);
            subproc_proc_free(p);
            break;
        }
        failures++;
        ASSERT_EQ(r, -ENOMEM);
        ASSERT(p == NULL);
        ASSERT_EQ(e.err, ENOMEM);
        ASSERT(e.step == SUBPROC_STEP_ALLOC || e.step == SUBPROC_STEP_CLONE);
        ASSERT_EQ(count_fds(), fds_before);
        assert_no_child();
        spawn_works();
    }
    /* The handle, the PATH candidates (one block), 3 plan arrays, and on the Linux backend the
     * clone stack (kept per thread afterwards, but its allocation is a site like the others). */
    ASSERT(failures >= (strcmp(subproc_backend(), "linux") == 0 ? 6 : 5));
    close(extra);
    subproc_env_free(env);
    assert_no_leaks();
}

TEST(rel_alloc_failure_env)
{
    int failures = 0;
    for (unsigned long n = 1; n < 100000; n++) {
        subproc_env *env = (subproc_env *)1;
        subproc__test_fail_alloc_after(n);
        int r = subproc_env_new(&env, SUBPROC_ENV_INHERIT);
        if (r == 0) r = subproc_env_set(env, "REL_X", "1");
        subproc__test_fail_alloc_after(0);
        if (r == 0) {
            ASSERT_STREQ(subproc_env_get(env, "REL_X"), "1");
            subproc_env_free(env);
            break;
        }
        failures++;
        ASSERT_EQ(r, -ENOMEM);
        if (env) {
            /* subproc_env_set failed: the env is intact and still usable */
            ASSERT(subproc_env_get(env, "REL_X") == NULL);
            ASSERT_OK(subproc_env_set(env, "REL_X", "2"));
            ASSERT_STREQ(subproc_env_get(env, "REL_X"), "2");
            subproc_env_free(env);
        }
    }
    ASSERT(failures >= 3);
    /* Replacing a value must not lose the old one when the new copy cannot be made. */
    subproc_env *env;
    ASSERT_OK(subproc_env_new(&env, SUBPROC_ENV_EMPTY));
    ASSERT_OK(subproc_env_set(env, "A", "old"));
    subproc__test_fail_alloc_after(1);
    ASSERT_EQ(subproc_env_set(env, "A", "new"), -ENOMEM);
    subproc__test_fail_alloc_after(0);
    ASSERT_STREQ(subproc_env_get(env, "A"), "old");
    subproc_env_free(env);
    assert_no_leaks();
}

/* Open /dev/null until EMFILE; returns how many were opened into fds[]. */
static int fill_fds(int *fds, int max)
{
    int n = 0;
    while (n < max) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            ASSERT_EQ(errno, EMFILE);
            break;
        }
        fds[n++] = fd;
    }
    return n;
}

TEST(rel_emfile_spawn_with_pipes)
{
    struct rlimit old, rl;
    ASSERT_OK(getrlimit(RLIMIT_NOFILE, &old));
    rl = old;
    rl.rlim_cur = 64;
    ASSERT_OK(setrlimit(RLIMIT_NOFILE, &rl));
    int before = count_fds();
    int fds[64];
    int n = fill_fds(fds, 64);
    ASSERT(n > 0);
    int emfile = 0, ok = 0;
    /* Free 0..12 fds: a spawn with three pipes needs up to 11 (6 pipe ends; the fork backend's
     * error and go-ahead pipes; a /dev/null or parked copy; the pidfd), so every outcome from
     * "no room" to "room" is covered. */
    for (int round = 0; round < 3; round++) {
        for (int freed = 0; freed <= 12 && freed <= n; freed++) {
            for (int i = 0; i < freed; i++) close(fds[n - 1 - i]);
            int at = count_fds();
            subproc_opts o = SUBPROC_OPTS_INIT;
            o.argv = helper_argv("cat", NULL);
            for (int i = 0; i < 3; i++) o.stdio[i].kind = SUBPROC_IO_PIPE;
            subproc_proc *p;
            subproc_error e;
            int r = subproc_spawn(&p, &o, &e);
            if (r == 0) {
                ok++;
                subproc_proc_close_fd(p, 0);
                subproc_status st;
                ASSERT_OK(subproc_proc_wait(p, &st));
                ASSERT_EQ(st.code, 0);
                subproc_proc_free(p);
            } else {
                emfile++;
                ASSERT_EQ(r, -EMFILE);
                ASSERT_EQ(e.err, EMFILE);
                /* clone: CLONE_PIDFD needs an fd too (Linux backend) */
                if (e.step != SUBPROC_STEP_PIPE && e.step != SUBPROC_STEP_OPEN &&
                    e.step != SUBPROC_STEP_CLONE)
                    test_failf(__FILE__, __LINE__, "EMFILE from step %s", subproc_step_name(e.step));
            }
            ASSERT_EQ(count_fds(), at);
            assert_no_child();
            for (int i = 0; i < freed; i++) {
                fds[n - 1 - i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
                ASSERT(fds[n - 1 - i] >= 0);
            }
        }
    }
    ASSERT(emfile > 0);
    ASSERT(ok > 0);
    for (int i = 0; i < n; i++) close(fds[i]);
    ASSERT_EQ(count_fds(), before);
    ASSERT_OK(setrlimit(RLIMIT_NOFILE, &old));
    spawn_works();
}

/* Processes (threads, as the kernel counts for RLIMIT_NPROC) owned by real uid `uid`. */
static int count_uid_tasks(uid_t uid)
{
    DIR *d = opendir("/proc");
    ASSERT(d != NULL);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
        char path[300], line[256];
        snprintf(path, sizeof path, "/proc/%s/status", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        unsigned ruid = ~0u, threads = 1;
        while (fgets(line, sizeof line, f)) {
            sscanf(line, "Uid: %u", &ruid);
            sscanf(line, "Threads: %u", &threads);
        }
        fclose(f);
        if (ruid == uid) n += (int)threads;
    }
    closedir(d);
    return n;
}

TEST(rel_eagain_nproc_unprivileged)
{
    /* RLIMIT_NPROC does not bind root, so a forked copy of the test becomes nobody first. */
    pid_t t = fork();
    ASSERT(t >= 0);
    if (t == 0) {
        const uid_t nobody = 65534;
        if (setgroups(0, NULL) < 0 || setgid(nobody) < 0 || setuid(nobody) < 0)
            test_failf(__FILE__, __LINE__, "cannot become nobody: %s", strerror(errno));
        /* Under ASan, LeakSanitizer starts a thread at exit of each helper; at the process limit
         * it cannot, and the helper would fail for that reason alone. */
        setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
        struct rlimit rl;
        rl.rlim_cur = rl.rlim_max = (rlim_t)count_uid_tasks(nobody) + 3;
        ASSERT_OK(setrlimit(RLIMIT_NPROC, &rl));
        subproc_proc *kids[64];
        int n = 0, got_eagain = 0;
        subproc_error e;
        while (n < 64) {
            subproc_opts o = SUBPROC_OPTS_INIT;
            o.argv = helper_argv("sleep", "20000", NULL);
            int r = subproc_spawn(&kids[n], &o, &e);
            if (r < 0) {
                ASSERT_EQ(r, -EAGAIN);
                ASSERT_EQ(e.step, SUBPROC_STEP_CLONE);
                ASSERT_EQ(e.err, EAGAIN);
                got_eagain = 1;
                break;
            }
            n++;
        }
        ASSERT(got_eagain);
        ASSERT(n >= 1);
        /* Nothing half-started: every child we have is one we know of. */
        int ws;
        ASSERT_EQ(waitpid(-1, &ws, WNOHANG), 0);
        /* One child gone, one more spawn fits. */
        subproc_status st;
        ASSERT_OK(subproc_proc_terminate(kids[n - 1], SIGKILL, 0, 0, &st));
        ASSERT_EQ(st.signal, SIGKILL);
        subproc_proc_free(kids[n - 1]);
        subproc_opts o = SUBPROC_OPTS_INIT;
        o.argv = helper_argv("exit", "4", NULL);
        subproc_proc *p;
        ASSERT_OK(subproc_spawn(&p, &o, &e));
        ASSERT_OK(subproc_proc_wait(p, &st));
        ASSERT_EQ(st.code, 4);
        subproc_proc_free(p);
        for (int i = 0; i < n - 1; i++) subproc_proc_free(kids[i]);
        assert_no_child();
        _exit(0);
    }
    int ws;
    ASSERT_EQ(waitpid(t, &ws, 0), t);
    ASSERT(WIFEXITED(ws));
    ASSERT_EQ(WEXITSTATUS(ws), 0);
}

/* Allocation failure at every site of the I/O layer, pipelines and the pool, in turn: a clear
 * -ENOMEM (or, where one child of many could not start, that child's -ENOMEM), nothing left. */
static int lines_seen(void *ud, int stream, const char *data, size_t len)
{
    (void)stream, (void)data, (void)len;
    ++*(int *)ud;
    return 0;
}

TEST_T(rel_alloc_failure_run_pipeline_pool, 120)
{
    int fds_before = count_fds();
    static char input[300000];
    memset(input, 'a', sizeof input);
    int failures = 0;
    for (unsigned long n = 1; n < 1000; n++) {
        subproc_opts o = SUBPROC_OPTS_INIT;
        o.argv = helper_argv("tee2", NULL);
        subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
        int lines = 0;
        co.input = input;
        co.input_len = sizeof input;
        co.max_output = 100000;
        co.flags = SUBPROC_COMM_LINES;
        co.on_output = lines_seen;
        co.ud = &lines;
        subproc_result res;
        subproc__test_fail_alloc_after(n);
        int r = subproc_run(&res, &o, &co);
        subproc__test_fail_alloc_after(0);
        subproc_result_free(&res);
        if (r == 0) break;
        failures++;
        ASSERT_EQ(r, -ENOMEM);
        ASSERT_EQ(count_fds(), fds_before);
        assert_no_child();
    }
    ASSERT(failures >= 3);

    failures = 0;
    for (unsigned long n = 1; n < 1000; n++) {
        subproc_opts st[2] = {SUBPROC_OPTS_INIT, SUBPROC_OPTS_INIT};
        const char *a0[] = {test_self, "helper", "out", "hello", NULL};
        const char *a1[] = {test_self, "helper", "cat", NULL};
        st[0].argv = a0;
        st[1].argv = a1;
        subproc_result res;
        subproc__test_fail_alloc_after(n);
        int r = subproc_pipeline_run(NULL, &res, st, 2, 0, NULL);
        subproc__test_fail_alloc_after(0);
        int ok = r == 0 && res.error.err == 0;
        if (ok) ASSERT_STREQ(res.out.data, "hello");
        if (!ok) {
            failures++;
            /* The call failed, or one stage could not start: either way it says ENOMEM. */
            ASSERT(r == -ENOMEM || (r == 0 && res.error.err == ENOMEM));
        }
        subproc_result_free(&res);
        ASSERT_EQ(count_fds(), fds_before);
        assert_no_child();
        if (ok) break;
    }
    ASSERT(failures >= 3);

    failures = 0;
    for (unsigned long n = 1; n < 1000; n++) {
        subproc_opts o = SUBPROC_OPTS_INIT;
        o.argv = helper_argv("out", "pool-output", NULL);
        subproc_job jobs[3] = {{.opts = &o}, {.opts = &o}, {.opts = &o}};
        subproc_pool_opts po = SUBPROC_POOL_OPTS_INIT;
        po.jobs = 2;
        po.flags = SUBPROC_POOL_CAPTURE;
        subproc__test_fail_alloc_after(n);
        int r = subproc_pool_run(jobs, 3, &po);
        subproc__test_fail_alloc_after(0);
        int ok = r == 0;
        for (int i = 0; i < 3 && ok; i++) {
            if (jobs[i].spawn_rc == -ENOMEM || jobs[i].out_truncated)
                ok = 0; /* that job says what went wrong */
            else
                ASSERT_STREQ(jobs[i].out, "pool-output");
        }
        if (!ok) {
            failures++;
            ASSERT(r == -ENOMEM || r == 0);
        }
        for (int i = 0; i < 3; i++) subproc_job_clear(&jobs[i]);
        ASSERT_EQ(count_fds(), fds_before);
        assert_no_child();
        if (ok) break;
    }
    ASSERT(failures >= 3);
    assert_no_leaks();
}
