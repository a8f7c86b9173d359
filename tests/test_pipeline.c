/* test_pipeline.c - pipelines, groups of children and the job pool. */
#include "test.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

static subproc_opts helper_stage(const char *mode, const char *arg)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    const char **v = calloc(5, sizeof *v);
    v[0] = test_self;
    v[1] = "helper";
    v[2] = mode;
    v[3] = arg;
    o.argv = v;
    return o;
}

static void free_stages(subproc_opts *st, size_t n)
{
    for (size_t i = 0; i < n; i++) free((void *)st[i].argv);
}

static unsigned char pattern(size_t i)
{
    return (unsigned char)(i * 31 + (i >> 12));
}

struct feeder {
    int fd;
    size_t total;
};

static void *feed(void *arg)
{
    struct feeder *f = arg;
    unsigned char buf[65536];
    for (size_t off = 0; off < f->total;) {
        size_t n = f->total - off < sizeof buf ? f->total - off : sizeof buf;
        for (size_t i = 0; i < n; i++) buf[i] = pattern(off + i);
        write_all(f->fd, buf, n);
        off += n;
    }
    close(f->fd);
    return NULL;
}

TEST_T(pipeline_three_cats_100MB_byte_exact, 120)
{
    subproc_opts st[3] = {helper_stage("cat", NULL), helper_stage("cat", NULL),
                          helper_stage("cat", NULL)};
    st[0].stdio[0].kind = SUBPROC_IO_PIPE;
    st[2].stdio[1].kind = SUBPROC_IO_PIPE;
    subproc_pipeline *pl;
    ASSERT_OK(subproc_pipeline_spawn(&pl, st, 3, 0, NULL, NULL));
    ASSERT(subproc_pipeline_pgid(pl) > 0);
    /* Every stage in the one group. */
    for (size_t i = 0; i < 3; i++)
        ASSERT_EQ(getpgid(subproc_proc_pid(subproc_pipeline_proc(pl, i))), subproc_pipeline_pgid(pl));
    struct feeder f = {dup(subproc_pipeline_fd(pl, 0)), 100u << 20};
    subproc_pipeline_close_fd(pl, 0);
    pthread_t th;
    pthread_create(&th, NULL, feed, &f);
    int rfd = subproc_pipeline_fd(pl, 1);
    static unsigned char buf[1 << 16];
    size_t got = 0, bad = (size_t)-1;
    for (;;) {
        ssize_t n = read(rfd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        for (ssize_t i = 0; i < n && bad == (size_t)-1; i++)
            if (buf[i] != pattern(got + (size_t)i)) bad = got + (size_t)i;
        got += (size_t)n;
    }
    pthread_join(th, NULL);
    ASSERT_EQ(got, 100u << 20);
    ASSERT_EQ(bad, (size_t)-1);
    ASSERT_OK(subproc_pipeline_wait(pl, -1));
    int codes[3];
    subproc_pipeline_pipestatus(pl, codes);
    ASSERT_EQ(codes[0] + codes[1] + codes[2], 0);
    ASSERT_EQ(subproc_pipeline_code(pl), 0);
    subproc_pipeline_free(pl);
    free_stages(st, 3);
}

TEST(pipeline_per_stage_status_and_pipefail)
{
    subproc_opts st[3] = {helper_stage("exit", "2"), helper_stage("exit", "3"),
                          helper_stage("cat", NULL)};
    st[2].stdio[1].kind = SUBPROC_IO_NULL;
    subproc_pipeline *pl;
    ASSERT_OK(subproc_pipeline_spawn(&pl, st, 3, 0, NULL, NULL));
    ASSERT(subproc_pipeline_status(pl, 0) == NULL); /* not before wait */
    ASSERT_EQ(subproc_pipeline_code(pl), -1);
    ASSERT_OK(subproc_pipeline_wait(pl, -1));
    int codes[3];
    subproc_pipeline_pipestatus(pl, codes);
    ASSERT_EQ(codes[0], 2);
    ASSERT_EQ(codes[1], 3);
    ASSERT_EQ(codes[2], 0);
    ASSERT_EQ(subproc_pipeline_status(pl, 1)->code, 3);
    ASSERT_EQ(subproc_pipeline_code(pl), 3); /* the rightmost failing stage */
    subproc_pipeline_free(pl);

    ASSERT_OK(subproc_pipeline_spawn(&pl, st, 3, SUBPROC_PIPELINE_NO_PIPEFAIL, NULL, NULL));
    ASSERT_OK(subproc_pipeline_wait(pl, -1));
    ASSERT_EQ(subproc_pipeline_code(pl), 0); /* the last stage decides */
    subproc_pipeline_free(pl);
    free_stages(st, 3);
}

TEST(pipeline_missing_middle_program)
{
    subproc_opts st[3] = {helper_stage("out", "hello"), SUBPROC_OPTS_INIT,
                          helper_stage("cat", NULL)};
    const char *missing[] = {"/nonexistent/prog", NULL};
    st[1].argv = missing;
    st[2].stdio[1].kind = SUBPROC_IO_PIPE;
    subproc_pipeline *pl;
    ASSERT_OK(subproc_pipeline_spawn(&pl, st, 3, 0, NULL, NULL));
    ASSERT(subproc_pipeline_proc(pl, 1) == NULL);
    const subproc_error *e = subproc_pipeline_stage_error(pl, 1);
    ASSERT(e != NULL);
    ASSERT_EQ(e->step, SUBPROC_STEP_EXEC);
    ASSERT_EQ(e->err, ENOENT);
    ASSERT_STREQ(e->path, "/nonexistent/prog");
    ASSERT(subproc_pipeline_stage_error(pl, 0) == NULL);
    /* The last stage is not stuck: it sees end-of-file at once. */
    char *out = read_all(subproc_pipeline_fd(pl, 1), NULL);
    ASSERT_STREQ(out, "");
    free(out);
    ASSERT_OK(subproc_pipeline_wait(pl, -1));
    int codes[3];
    subproc_pipeline_pipestatus(pl, codes);
    ASSERT(codes[0] == 0 || codes[0] == 128 + SIGPIPE); /* wrote before or after the close */
    ASSERT_EQ(codes[1], 127);
    ASSERT_EQ(codes[2], 0);
    ASSERT_EQ(subproc_pipeline_code(pl), 127);
    subproc_pipeline_free(pl);

    /* All or nothing: the error comes back from the call and nothing is left running. */
    size_t failed = 99;
    subproc_error err;
    st[2].stdio[1].kind = SUBPROC_IO_INHERIT;
    ASSERT_EQ(subproc_pipeline_spawn(&pl, st, 3, SUBPROC_PIPELINE_ALL_OR_NOTHING, &err, &failed),
              -ENOENT);
    ASSERT(pl == NULL);
    ASSERT_EQ(failed, 1);
    ASSERT_EQ(err.step, SUBPROC_STEP_EXEC);
    free((void *)st[0].argv);
    free((void *)st[2].argv);
}

TEST(pipeline_deadline_kills_every_stage)
{
    subproc_opts st[3] = {helper_stage("ignore-term", "100000"), helper_stage("cat", NULL),
                          helper_stage("cat", NULL)};
    st[2].stdio[1].kind = SUBPROC_IO_PIPE;
    subproc_pipeline *pl;
    ASSERT_OK(subproc_pipeline_spawn(&pl, st, 3, 0, NULL, NULL));
    char line[16] = {0};
    size_t n = 0;
    while (n < 6) {
        ssize_t r = read(subproc_pipeline_fd(pl, 1), line + n, 6 - n);
        ASSERT(r > 0);
        n += (size_t)r;
    }
    ASSERT_STREQ(line, "ready\n"); /* SIGTERM is ignored from here on */
    ASSERT_EQ(subproc_pipeline_wait(pl, 50), -ETIMEDOUT);
    ASSERT_OK(subproc_pipeline_terminate(pl, SIGTERM, 300));
    const subproc_status *s0 = subproc_pipeline_status(pl, 0);
    ASSERT_EQ(s0->signaled, 1);
    ASSERT_EQ(s0->signal, SIGKILL);
    ASSERT_EQ(subproc_pipeline_status(pl, 1)->signal, SIGTERM);
    ASSERT_EQ(subproc_pipeline_status(pl, 2)->signal, SIGTERM);
    ASSERT_EQ(subproc_pipeline_code(pl), 128 + SIGTERM);
    subproc_pipeline_free(pl);
    free_stages(st, 3);
}

TEST(pipeline_bad_arguments)
{
    subproc_pipeline *pl;
    subproc_opts st[2] = {helper_stage("exit", "0"), helper_stage("exit", "0")};
    ASSERT_EQ(subproc_pipeline_spawn(&pl, st, 0, 0, NULL, NULL), -EINVAL);
    st[1].flags = SUBPROC_NEW_SESSION;
    ASSERT_EQ(subproc_pipeline_spawn(&pl, st, 2, 0, NULL, NULL), -EINVAL);
    st[1].flags = 0;
    st[1].stdio[0].kind = SUBPROC_IO_NULL; /* an inner end belongs to the pipeline */
    ASSERT_EQ(subproc_pipeline_spawn(&pl, st, 2, 0, NULL, NULL), -EINVAL);
    st[1].stdio[0].kind = SUBPROC_IO_INHERIT;
    ASSERT_EQ(subproc_pipeline_spawn(&pl, st, 2, 1u << 9, NULL, NULL), -EINVAL);
    subproc_pipeline_free(NULL);
    free_stages(st, 2);
}

/* ---- groups ---- */

TEST(group_wait_any_is_event_driven)
{
    subproc_group *g;
    ASSERT_OK(subproc_group_new(&g));
    subproc_proc *p[3];
    for (int i = 0; i < 3; i++) {
        subproc_opts o = SUBPROC_OPTS_INIT;
        o.argv = helper_argv("cat", NULL);
        o.stdio[0].kind = SUBPROC_IO_PIPE; /* each child ends when its stdin is closed */
        o.stdio[1].kind = SUBPROC_IO_NULL;
        ASSERT_OK(subproc_spawn(&p[i], &o, NULL));
        ASSERT_OK(subproc_group_add(g, p[i]));
    }
    ASSERT_EQ(subproc_group_add(g, p[0]), -EEXIST);
    ASSERT_EQ(subproc_group_size(g), 3);
    subproc_proc *done;
    ASSERT_EQ(subproc_group_wait_any(g, 0, &done, NULL), -ETIMEDOUT);
    ASSERT_EQ(subproc_group_wait_any(g, 30, &done, NULL), -ETIMEDOUT);
    int gfd = subproc_group_fd(g);
    if (strcmp(subproc_backend(), "linux") == 0) {
        ASSERT(gfd >= 0);
        struct pollfd pfd = {gfd, POLLIN, 0};
        ASSERT_EQ(poll(&pfd, 1, 0), 0);
        subproc_proc_close_fd(p[1], 0);
        ASSERT_EQ(poll(&pfd, 1, 10000), 1); /* usable from the caller's own loop */
    } else {
        ASSERT_EQ(gfd, -1);
        subproc_proc_close_fd(p[1], 0);
    }
    subproc_status st;
    ASSERT_OK(subproc_group_wait_any(g, -1, &done, &st));
    ASSERT(done == p[1]);
    ASSERT_EQ(st.exited, 1);
    ASSERT_EQ(subproc_group_size(g), 2);
    ASSERT_EQ(subproc_group_remove(g, p[1]), -ENOENT);
    subproc_proc_close_fd(p[2], 0);
    ASSERT_OK(subproc_group_wait_any(g, 10000, &done, &st));
    ASSERT(done == p[2]);
    subproc_proc_close_fd(p[0], 0);
    ASSERT_OK(subproc_group_wait_all(g, 10000));
    ASSERT_EQ(subproc_group_size(g), 0);
    ASSERT_EQ(subproc_group_wait_any(g, 0, &done, NULL), -ECHILD);
    ASSERT_EQ(subproc_proc_done(p[0]), 1);
    subproc_group_free(g);
    for (int i = 0; i < 3; i++) subproc_proc_free(p[i]);
}

TEST(group_remove_then_free_member)
{
    subproc_group *g;
    ASSERT_OK(subproc_group_new(&g));
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("sleep", "100000", NULL);
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    ASSERT_OK(subproc_group_add(g, p));
    ASSERT_OK(subproc_group_remove(g, p)); /* its pidfd leaves epoll before it is closed */
    subproc_proc_free(p);                  /* kills and reaps */
    ASSERT_EQ(subproc_group_size(g), 0);
    subproc_group_free(g);
    subproc_group_free(NULL);
}

/* ---- the pool ---- */

static int *shared_counters(void)
{
    void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT(m != MAP_FAILED);
    return m;
}

static int concurrent_job(void *arg)
{
    int *c = arg; /* c[0]: running now, c[1]: the most seen at once */
    int now = __atomic_add_fetch(&c[0], 1, __ATOMIC_SEQ_CST);
    int max = __atomic_load_n(&c[1], __ATOMIC_SEQ_CST);
    while (now > max && !__atomic_compare_exchange_n(&c[1], &max, now, 0, __ATOMIC_SEQ_CST,
                                                     __ATOMIC_SEQ_CST)) {
    }
    struct timespec ts = {0, 2 * 1000000L};
    nanosleep(&ts, NULL);
    __atomic_sub_fetch(&c[0], 1, __ATOMIC_SEQ_CST);
    return 0;
}

static void count_done(void *ud, subproc_job *job, size_t ndone, size_t total)
{
    size_t *last = ud;
    ASSERT_EQ(ndone, *last + 1); /* one call per job, in order of completion */
    ASSERT(ndone <= total);
    ASSERT(job != NULL);
    *last = ndone;
}

TEST_T(pool_1000_children_at_most_8, 120)
{
    int *c = shared_counters();
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.fn = concurrent_job;
    o.fn_arg = c;
    size_t n = 1000, last = 0;
    /* Static: the fork-mode children exit holding it, and a leak checker following them (valgrind)
     * must see it reachable. */
    static subproc_job jobs[1000];
    for (size_t i = 0; i < n; i++) jobs[i].opts = &o;
    subproc_pool_opts po = SUBPROC_POOL_OPTS_INIT;
    po.jobs = 8;
    po.on_done = count_done;
    po.ud = &last;
    ASSERT_OK(subproc_pool_run(jobs, n, &po));
    ASSERT_EQ(last, n);
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ(jobs[i].started, 1);
        ASSERT_EQ(jobs[i].status.exited, 1);
        ASSERT_EQ(jobs[i].status.code, 0);
    }
    ASSERT(c[1] <= 8);
    ASSERT(c[1] >= 2); /* it did run jobs side by side */
    ASSERT_EQ(c[0], 0);
    munmap(c, 4096);
}

TEST_T(pool_captures_each_result, 60)
{
    size_t n = 200;
    subproc_opts *o = calloc(n, sizeof *o);
    subproc_job *jobs = calloc(n, sizeof *jobs);
    char (*num)[16] = calloc(n, sizeof *num);
    const char ***argvs = calloc(n, sizeof *argvs);
    for (size_t i = 0; i < n; i++) {
        snprintf(num[i], sizeof num[i], "%zu", i);
        argvs[i] = calloc(6, sizeof(char *));
        const char *v[] = {test_self, "helper", "out", num[i], i % 7 ? "" : "err!", NULL};
        memcpy(argvs[i], v, sizeof v);
        o[i] = (subproc_opts)SUBPROC_OPTS_INIT;
        o[i].argv = argvs[i];
        jobs[i].opts = &o[i];
        jobs[i].user = num[i];
    }
    subproc_pool_opts po = SUBPROC_POOL_OPTS_INIT;
    po.jobs = 16;
    po.flags = SUBPROC_POOL_CAPTURE;
    ASSERT_OK(subproc_pool_run(jobs, n, &po));
    for (size_t i = 0; i < n; i++) {
        ASSERT_STREQ(jobs[i].out, num[i]);
        ASSERT_STREQ(jobs[i].err ? jobs[i].err : "", i % 7 ? "" : "err!");
        ASSERT_EQ(jobs[i].status.code, 0);
        subproc_job_clear(&jobs[i]);
        free(argvs[i]);
    }
    free(argvs);
    free(num);
    free(jobs);
    free(o);
}

TEST(pool_timeout_failure_and_halt)
{
    subproc_opts slow = SUBPROC_OPTS_INIT, fail = SUBPROC_OPTS_INIT, missing = SUBPROC_OPTS_INIT,
                 ok = SUBPROC_OPTS_INIT;
    const char *a_slow[] = {test_self, "helper", "ignore-term", "100000", NULL};
    const char *a_fail[] = {test_self, "helper", "exit", "4", NULL};
    const char *a_missing[] = {"/nonexistent/job", NULL};
    const char *a_ok[] = {test_self, "helper", "exit", "0", NULL};
    slow.argv = a_slow;
    fail.argv = a_fail;
    missing.argv = a_missing;
    ok.argv = a_ok;
    slow.stdio[1].kind = SUBPROC_IO_NULL;
    subproc_job jobs[4] = {{.opts = &slow}, {.opts = &fail}, {.opts = &missing}, {.opts = &ok}};
    subproc_pool_opts po = SUBPROC_POOL_OPTS_INIT;
    po.jobs = 4;
    po.timeout_ms = 300;
    po.kill_grace_ms = 100;
    ASSERT_OK(subproc_pool_run(jobs, 4, &po));
    ASSERT_EQ(jobs[0].timed_out, 1);
    ASSERT_EQ(jobs[0].status.signaled, 1);
    ASSERT_EQ(jobs[0].status.signal, SIGKILL); /* it ignored SIGTERM */
    ASSERT_EQ(jobs[1].status.code, 4);
    ASSERT_EQ(jobs[2].started, 0);
    ASSERT_EQ(jobs[2].spawn_rc, -ENOENT);
    ASSERT_EQ(jobs[2].error.step, SUBPROC_STEP_EXEC);
    ASSERT_EQ(jobs[3].status.code, 0);

    /* Halt on error, one at a time: nothing starts after the failing job. */
    subproc_job seq[3] = {{.opts = &ok}, {.opts = &fail}, {.opts = &ok}};
    po = (subproc_pool_opts)SUBPROC_POOL_OPTS_INIT;
    po.jobs = 1;
    po.flags = SUBPROC_POOL_HALT_ON_ERROR;
    ASSERT_OK(subproc_pool_run(seq, 3, &po));
    ASSERT_EQ(seq[0].started, 1);
    ASSERT_EQ(seq[1].status.code, 4);
    ASSERT_EQ(seq[2].started, 0);
    po.version = 0;
    ASSERT_EQ(subproc_pool_run(seq, 3, &po), -EINVAL);
    po.version = SUBPROC_POOL_OPTS_VERSION + 1;
    ASSERT_EQ(subproc_pool_run(seq, 3, &po), -EINVAL);
    po = (subproc_pool_opts)SUBPROC_POOL_OPTS_INIT;
    po.kill_signal = 65;
    ASSERT_EQ(subproc_pool_run(seq, 3, &po), -EINVAL);
    ASSERT_EQ(seq[0].started, 1); /* untouched by the refused calls */
}

TEST(pool_kill_signal)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    const char *argv[] = {test_self, "helper", "sleep", "100000", NULL};
    o.argv = argv;
    subproc_job job = {.opts = &o};
    subproc_pool_opts po = SUBPROC_POOL_OPTS_INIT;
    po.timeout_ms = 100;
    po.kill_grace_ms = 600000; /* the test's time limit comes first: only SIGINT can end it */
    po.kill_signal = SIGINT;
    ASSERT_OK(subproc_pool_run(&job, 1, &po));
    ASSERT_EQ(job.timed_out, 1);
    ASSERT_EQ(job.status.signal, SIGINT);

    /* A caller built against version 1 of the struct (no kill_signal) gets SIGTERM. */
    struct {
        unsigned version, flags, jobs;
        long long timeout_ms;
        int kill_grace_ms;
        size_t max_output;
        void (*on_done)(void *, subproc_job *, size_t, size_t);
        void *ud;
    } v1 = {1, 0, 1, 100, 600000, 0, NULL, NULL};
    _Static_assert(sizeof v1 == offsetof(subproc_pool_opts, kill_signal), "version 1 layout");
    subproc_job job1 = {.opts = &o};
    ASSERT_OK(subproc_pool_run(&job1, 1, (const subproc_pool_opts *)(const void *)&v1));
    ASSERT_EQ(job1.status.signal, SIGTERM);
}

/* ---- pipelines with communicate and run ---- */

TEST_T(pipeline_run_feeds_and_captures, 60)
{
    subproc_opts st[3] = {helper_stage("cat", NULL), helper_stage("cat", NULL),
                          helper_stage("cat", NULL)};
    size_t n = 8u << 20;
    char *in = malloc(n);
    for (size_t i = 0; i < n; i++) in[i] = (char)pattern(i);
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.input = in;
    co.input_len = n;
    subproc_result res;
    subproc_pipeline *pl;
    ASSERT_OK(subproc_pipeline_run(&pl, &res, st, 3, 0, &co));
    ASSERT_EQ(res.out.len, n);
    ASSERT(memcmp(res.out.data, in, n) == 0);
    ASSERT_EQ(res.err.len, 0);
    ASSERT_EQ(res.status.exited, 1);
    ASSERT_EQ(subproc_pipeline_code(pl), 0);
    subproc_pipeline_free(pl);
    subproc_result_free(&res);

    /* Check mode turns a failing stage into an error naming how it ended. */
    subproc_opts st2[2] = {helper_stage("exit", "0"), helper_stage("exit", "6")};
    co = (subproc_comm_opts)SUBPROC_COMM_OPTS_INIT;
    co.flags = SUBPROC_COMM_CHECK;
    ASSERT_EQ(subproc_pipeline_run(NULL, &res, st2, 2, 0, &co), -SUBPROC_ECHECK);
    ASSERT_STREQ(res.error.path, "exited with 6");
    subproc_result_free(&res);
    free(in);
    free_stages(st, 3);
    free_stages(st2, 2);
}

TEST_T(pipeline_run_deadline_kills_group, 60)
{
    subproc_opts st[2] = {helper_stage("ignore-term", "100000"), helper_stage("cat", NULL)};
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.timeout_ms = 300;
    co.kill_grace_ms = 200;
    subproc_result res;
    subproc_pipeline *pl;
    ASSERT_EQ(subproc_pipeline_run(&pl, &res, st, 2, 0, &co), -ETIMEDOUT);
    ASSERT_EQ(res.timed_out, 1);
    ASSERT_STREQ(res.out.data, "ready\n"); /* what came through before the deadline */
    ASSERT_EQ(subproc_pipeline_status(pl, 0)->signal, SIGKILL);
    ASSERT_EQ(subproc_pipeline_status(pl, 1)->signal, SIGTERM);
    subproc_pipeline_free(pl);
    subproc_result_free(&res);
    free_stages(st, 2);
}

TEST(pipeline_run_stage_missing)
{
    subproc_opts st[2] = {SUBPROC_OPTS_INIT, helper_stage("cat", NULL)};
    const char *missing[] = {"no-such-program-for-subproc", NULL};
    st[0].argv = missing;
    subproc_result res;
    subproc_pipeline *pl;
    ASSERT_OK(subproc_pipeline_run(&pl, &res, st, 2, 0, NULL));
    ASSERT_EQ(res.error.step, SUBPROC_STEP_RESOLVE);
    ASSERT_STREQ(res.error.path, "no-such-program-for-subproc");
    ASSERT_STREQ(res.out.data, "");
    ASSERT_EQ(subproc_pipeline_code(pl), 127);
    ASSERT_EQ(res.status.code, 127);
    subproc_pipeline_free(pl);
    subproc_result_free(&res);
    free((void *)st[1].argv);
}
