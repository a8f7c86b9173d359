/* test_field.c - faults reported from the field, each with the rest of its kind: signal state
 * seen by callbacks and their children, output held by a daemonizing child, documented result
 * fields, deadline arithmetic, fd plans under a tight fd limit, ETXTBSY, error texts, detached
 * children, fork-mode stdio and truncated captures. */
#include "test.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* Run the helper in MODE through subproc_run with co. */
static int run_mode(subproc_result *res, const subproc_comm_opts *co, const char *mode, ...)
{
    static const char *v[32];
    va_list ap;
    va_start(ap, mode);
    helper_argv_va(v, 32, mode, ap);
    va_end(ap);
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = v;
    return subproc_run(res, &o, co);
}

/* Whether signal sig is listed after "blocked:" in the helper's "signals" output. */
static int listed_blocked(const char *sigs, int sig)
{
    const char *b = strstr(sigs, "blocked:"), *e = strstr(sigs, " ignored:");
    if (!b || !e) return -1;
    char want[16];
    snprintf(want, sizeof want, " %d ", sig);
    for (const char *s = b + 8; s < e; s++)
        if (!strncmp(s, want, strlen(want) - (s + strlen(want) - 1 == e ? 1 : 0))) return 1;
    return 0;
}

/* ---- signal state inside callbacks ---- */

static char inner_sigs[512];

static int start_inner(void *ud, int stream, const char *data, size_t len)
{
    (void)ud, (void)stream, (void)data, (void)len;
    subproc_result r;
    int rc = run_mode(&r, NULL, "signals", NULL);
    snprintf(inner_sigs, sizeof inner_sigs, "%s ", rc == 0 && r.out.data ? r.out.data : "failed");
    subproc_result_free(&r);
    return 0;
}

TEST(field_callback_child_sees_caller_mask)
{
    /* A child started from inside on_output starts with the caller's mask: no SIGPIPE blocked
     * that the caller never blocked ("yes | head -n1" would print "Broken pipe" otherwise). */
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.on_output = start_inner;
    co.input = "x";
    co.input_len = 1;
    subproc_result r;
    inner_sigs[0] = 0;
    ASSERT_OK(run_mode(&r, &co, "out", "line\n", NULL));
    subproc_result_free(&r);
    ASSERT(strstr(inner_sigs, "blocked:"));
    ASSERT_EQ(listed_blocked(inner_sigs, SIGPIPE), 0);
}

TEST(field_pipeline_callback_child_sees_caller_mask)
{
    subproc_opts st[2] = {SUBPROC_OPTS_INIT, SUBPROC_OPTS_INIT};
    const char *a[8], *b[8];
    memcpy(a, helper_argv("out", "line\n", NULL), sizeof a);
    memcpy(b, helper_argv("cat", NULL), sizeof b);
    st[0].argv = a;
    st[1].argv = b;
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.on_output = start_inner;
    subproc_result r;
    inner_sigs[0] = 0;
    ASSERT_OK(subproc_pipeline_run(NULL, &r, st, 2, 0, &co));
    subproc_result_free(&r);
    ASSERT(strstr(inner_sigs, "blocked:"));
    ASSERT_EQ(listed_blocked(inner_sigs, SIGPIPE), 0);
}

static int dead_pipe[2];

static int write_to_dead_pipe(void *ud, int stream, const char *data, size_t len)
{
    (void)ud, (void)stream, (void)data, (void)len;
    /* The caller's own write: its SIGPIPE is the caller's and must stay pending. */
    ssize_t w = write(dead_pipe[1], "y", 1);
    (void)w;
    return 0;
}

TEST(field_caller_sigpipe_in_callback_kept)
{
    /* The caller blocks SIGPIPE itself; its write in the callback raises one, and the library's
     * own stdin write gets EPIPE too (the child exits without reading 8 MiB). Only the
     * library's SIGPIPE is consumed. */
    sigset_t pipe_set, old, pend;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    ASSERT_OK(pipe(dead_pipe));
    close(dead_pipe[0]);
    size_t n = 8u << 20;
    char *in = calloc(1, n);
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.on_output = write_to_dead_pipe;
    co.input = in;
    co.input_len = n;
    subproc_result r;
    ASSERT_OK(run_mode(&r, &co, "out", "x", NULL));
    ASSERT(r.status.exited && r.status.code == 0);
    subproc_result_free(&r);
    free(in);
    close(dead_pipe[1]);
    sigemptyset(&pend);
    sigpending(&pend);
    ASSERT_EQ(sigismember(&pend, SIGPIPE), 1);
    static const struct timespec zero = {0, 0};
    ASSERT_EQ(sigtimedwait(&pipe_set, NULL, &zero), SIGPIPE);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

TEST(field_library_sigpipe_consumed)
{
    /* The sibling: with no write of the caller's, the library's EPIPE leaves nothing pending
     * and the caller's mask exactly as it was. */
    sigset_t before, after, pend;
    pthread_sigmask(SIG_SETMASK, NULL, &before);
    size_t n = 8u << 20;
    char *in = calloc(1, n);
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.input = in;
    co.input_len = n;
    subproc_result r;
    ASSERT_OK(run_mode(&r, &co, "out", "x", NULL));
    subproc_result_free(&r);
    free(in);
    sigpending(&pend);
    ASSERT_EQ(sigismember(&pend, SIGPIPE), 0);
    pthread_sigmask(SIG_SETMASK, NULL, &after);
    ASSERT_EQ(sigismember(&after, SIGPIPE), sigismember(&before, SIGPIPE));
}

/* ---- the CLI, run through subproc_run ---- */

/* `subproc ARGS...` ("@" is the test binary); stdout/stderr captured in *r; returns the
 * shell-style exit code. */
static int cli_run(subproc_result *r, const char *first, ...)
{
    const char *v[64];
    size_t n = 0;
    v[n++] = test_cli_path();
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && n < 63; a = va_arg(ap, const char *))
        v[n++] = strcmp(a, "@") ? a : test_self;
    va_end(ap);
    v[n] = NULL;
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = v;
    o.stdio[0].kind = SUBPROC_IO_NULL;
    ASSERT_OK(subproc_run(r, &o, NULL));
    return subproc_status_code(&r->status);
}

/* ---- documented result fields ---- */

TEST(field_pool_capture_null_for_silent_stream)
{
    /* subproc.h: out/err are NULL when the job wrote nothing to that stream. */
    subproc_opts o[2] = {SUBPROC_OPTS_INIT, SUBPROC_OPTS_INIT};
    const char *a[8], *b[8];
    memcpy(a, helper_argv("out", "hello", NULL), sizeof a);
    memcpy(b, helper_argv("exit", "0", NULL), sizeof b);
    o[0].argv = a;
    o[1].argv = b;
    subproc_job jobs[2] = {{.opts = &o[0]}, {.opts = &o[1]}};
    subproc_pool_opts po = SUBPROC_POOL_OPTS_INIT;
    po.flags = SUBPROC_POOL_CAPTURE;
    ASSERT_OK(subproc_pool_run(jobs, 2, &po));
    ASSERT_STREQ(jobs[0].out, "hello");
    ASSERT_EQ(jobs[0].out_len, 5);
    ASSERT(jobs[0].err == NULL);
    ASSERT_EQ(jobs[0].err_len, 0);
    ASSERT(jobs[1].out == NULL && jobs[1].err == NULL);
    ASSERT_EQ(jobs[1].out_truncated + jobs[1].err_truncated, 0);
    ASSERT(jobs[0].started && jobs[0].spawn_rc == 0 && !jobs[0].timed_out);
    ASSERT(jobs[0].status.exited && jobs[0].status.code == 0);
    for (int i = 0; i < 2; i++) subproc_job_clear(&jobs[i]);
}

TEST(field_pool_unstarted_job_fields)
{
    /* A job that failed to start: started 0, spawn_rc and error set, no captures. */
    subproc_opts o = SUBPROC_OPTS_INIT;
    const char *a[] = {"/nonexistent/prog", NULL};
    o.argv = a;
    subproc_job job = {.opts = &o};
    subproc_pool_opts po = SUBPROC_POOL_OPTS_INIT;
    po.flags = SUBPROC_POOL_CAPTURE;
    ASSERT_OK(subproc_pool_run(&job, 1, &po));
    ASSERT_EQ(job.started, 0);
    ASSERT_EQ(job.spawn_rc, -ENOENT);
    ASSERT_EQ(job.error.err, ENOENT);
    ASSERT_EQ(job.error.step, SUBPROC_STEP_EXEC);
    ASSERT(job.out == NULL && job.err == NULL);
    subproc_job_clear(&job);
}

TEST(field_result_fields_as_documented)
{
    /* subproc_result: captures never NULL with capture on, head_len == len when not truncated,
     * total counts every byte, error.fd -1 when there is no error, status valid. */
    subproc_result r;
    ASSERT_OK(run_mode(&r, NULL, "exit", "0", NULL));
    ASSERT(r.out.data && r.err.data);
    ASSERT_EQ(r.out.len, 0);
    ASSERT_EQ(r.out.head_len, 0);
    ASSERT_EQ(r.error.fd, -1);
    ASSERT_EQ(r.error.err, 0);
    ASSERT(r.status.exited);
    ASSERT_EQ(r.timed_out, 0);
    subproc_result_free(&r);
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.max_output = 100;
    ASSERT_OK(run_mode(&r, &co, "count", "100", NULL));
    ASSERT_EQ(r.out.truncated, 1);
    ASSERT_EQ(r.out.len, 100);
    ASSERT_EQ(r.out.head_len, 50);
    ASSERT_EQ(r.out.total, 800);
    ASSERT(!memcmp(r.out.data, "0000000\n0000001\n", 16));
    ASSERT(!memcmp(r.out.data + 92, "0000099\n", 8));
    subproc_result_free(&r);
    co.flags = SUBPROC_COMM_NO_CAPTURE;
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("count", "3", NULL);
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    ASSERT_OK(subproc_proc_communicate(p, &co, &r));
    subproc_proc_free(p);
    ASSERT(r.out.data == NULL && r.err.data == NULL);
    ASSERT_EQ(r.out.total, 24); /* counted, though not kept */
    subproc_result_free(&r);
}

/* ---- deadline arithmetic saturates ---- */

TEST(field_pool_huge_timeout_not_killed)
{
    /* timeout_ms = LLONG_MAX is "far away", never a few ms. */
    static const long long huge[] = {LLONG_MAX, LLONG_MAX - 1, LLONG_MAX / 2};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        subproc_opts o = SUBPROC_OPTS_INIT;
        o.argv = helper_argv("sleep", "300", NULL);
        subproc_job job = {.opts = &o};
        subproc_pool_opts po = SUBPROC_POOL_OPTS_INIT;
        po.timeout_ms = huge[i];
        ASSERT_OK(subproc_pool_run(&job, 1, &po));
        ASSERT_EQ(job.timed_out, 0);
        ASSERT(job.status.exited && job.status.code == 0);
        subproc_job_clear(&job);
    }
}

TEST(field_pool_tiny_timeout_fires)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("sleep", "20000", NULL);
    subproc_job job = {.opts = &o};
    subproc_pool_opts po = SUBPROC_POOL_OPTS_INIT;
    po.timeout_ms = 1;
    ASSERT_OK(subproc_pool_run(&job, 1, &po));
    ASSERT_EQ(job.timed_out, 1);
    ASSERT(job.status.signaled);
}

TEST(field_run_huge_timeout_not_killed)
{
    static const long long huge[] = {LLONG_MAX, LLONG_MAX - 1};
    for (size_t i = 0; i < 2; i++) {
        subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
        co.timeout_ms = huge[i];
        co.kill_grace_ms = 0x7fffffff;
        co.drain_ms = 0x7fffffff;
        subproc_result r;
        ASSERT_OK(run_mode(&r, &co, "sleep", "300", NULL));
        ASSERT_EQ(r.timed_out, 0);
        ASSERT(r.status.exited && r.status.code == 0);
        subproc_result_free(&r);
    }
}

TEST(field_pipeline_huge_timeout_not_killed)
{
    subproc_opts st[2] = {SUBPROC_OPTS_INIT, SUBPROC_OPTS_INIT};
    const char *a[8], *b[8];
    memcpy(a, helper_argv("sleep", "300", NULL), sizeof a);
    memcpy(b, helper_argv("cat", NULL), sizeof b);
    st[0].argv = a;
    st[1].argv = b;
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.timeout_ms = LLONG_MAX;
    subproc_result r;
    ASSERT_OK(subproc_pipeline_run(NULL, &r, st, 2, 0, &co));
    ASSERT_EQ(r.timed_out, 0);
    ASSERT(r.status.exited && r.status.code == 0);
    subproc_result_free(&r);
}

TEST(field_waits_with_int_max)
{
    /* The int-millisecond waits take INT_MAX as "a long time", not as an overflow. */
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("exit", "4", NULL);
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    subproc_status st;
    ASSERT_OK(subproc_proc_wait_timeout(p, INT_MAX, &st));
    ASSERT_EQ(st.code, 4);
    subproc_proc_free(p);
    subproc_group *g;
    ASSERT_OK(subproc_group_new(&g));
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    ASSERT_OK(subproc_group_add(g, p));
    ASSERT_OK(subproc_group_wait_all(g, INT_MAX));
    subproc_group_free(g);
    subproc_proc_free(p);
}

TEST(field_cli_huge_durations)
{
    /* -t and -k far beyond any clock: the program runs to its end, with and without
     * --capture. */
    static const char *const durs[] = {"9223372036854775", "99999999999d", "106751991167d"};
    for (size_t i = 0; i < sizeof durs / sizeof durs[0]; i++) {
        subproc_result r;
        ASSERT_EQ(cli_run(&r, "run", "-t", durs[i], "-k", durs[i], "--", "@", "helper", "exit",
                          "3", NULL),
                  3);
        subproc_result_free(&r);
        ASSERT_EQ(cli_run(&r, "run", "--capture", "-t", durs[i], "-k", durs[i], "--", "@",
                          "helper", "exit", "3", NULL),
                  3);
        subproc_result_free(&r);
        ASSERT_EQ(cli_run(&r, "par", "-t", durs[i], "--", "@", "helper", "exit", ":::", "0", NULL),
                  0);
        subproc_result_free(&r);
    }
}

/* ---- a daemonizing child under capture ---- */

/* The PID in "started PID" (helper daemonize), killed: it is no child of ours. */
static void kill_started(const char *out)
{
    const char *s = out ? strstr(out, "started ") : NULL;
    int pid = s ? atoi(s + 8) : 0;
    if (pid > 1) kill(pid, SIGKILL);
}

TEST(field_daemonizing_child_deadline_real_status)
{
    /* The child exits 0 at once; the process it forked holds stdout for 20 s. With a 3 s
     * deadline the call returns the child's real status, not timed out, with the flag. */
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.timeout_ms = 3000;
    subproc_result r;
    ASSERT_OK(run_mode(&r, &co, "daemonize", "20000", NULL));
    kill_started(r.out.data);
    ASSERT_EQ(r.timed_out, 0);
    ASSERT(r.status.exited && r.status.code == 0);
    ASSERT_EQ(r.output_incomplete, 1);
    ASSERT(!strncmp(r.out.data, "started ", 8));
    subproc_result_free(&r);
}

TEST(field_wait_delay_without_deadline)
{
    /* A caller-set bound works without a deadline too (Go's Cmd.WaitDelay). */
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.wait_delay_ms = 200;
    subproc_result r;
    ASSERT_OK(run_mode(&r, &co, "daemonize", "20000", NULL));
    kill_started(r.out.data);
    ASSERT_EQ(r.timed_out, 0);
    ASSERT(r.status.exited && r.status.code == 0);
    ASSERT_EQ(r.output_incomplete, 1);
    subproc_result_free(&r);
}

TEST(field_wait_delay_reads_late_output)
{
    /* A descendant that ends within the delay: everything it wrote is kept, nothing missing. */
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.wait_delay_ms = 20000;
    co.timeout_ms = 20000;
    subproc_result r;
    ASSERT_OK(run_mode(&r, &co, "daemonize", "100", "late\n", NULL));
    ASSERT(r.status.exited && r.status.code == 0);
    ASSERT_EQ(r.output_incomplete, 0);
    ASSERT_EQ(r.timed_out, 0);
    ASSERT(strstr(r.out.data, "late\n"));
    subproc_result_free(&r);
}

TEST(field_wait_delay_negative_keeps_deadline)
{
    /* wait_delay_ms < 0: no bound; the holder keeps the call until the deadline. */
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("daemonize", "20000", NULL);
    o.flags = SUBPROC_NEW_PGROUP;
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.wait_delay_ms = -1;
    co.timeout_ms = 300;
    subproc_result r;
    ASSERT_EQ(subproc_run(&r, &o, &co), -ETIMEDOUT);
    kill_started(r.out.data);
    ASSERT_EQ(r.timed_out, 1);
    ASSERT(r.status.exited && r.status.code == 0);
    subproc_result_free(&r);
}

TEST(field_comm_opts_version1_result_untouched)
{
    /* A caller built with version 1 has a shorter subproc_result: the library must not write
     * past it. The word after its end stays as the caller left it. */
    struct {
        subproc_result r;
        int canary;
    } box;
    memset(&box, 0, sizeof box);
    size_t end = offsetof(subproc_result, output_incomplete);
    unsigned char *raw = (unsigned char *)&box.r;
    memset(raw + end, 0x5a, sizeof box.r - end);
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.version = 1;
    co.timeout_ms = 3000;
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("daemonize", "20000", NULL);
    ASSERT_OK(subproc_run(&box.r, &o, &co));
    kill_started(box.r.out.data);
    ASSERT_EQ(box.r.timed_out, 0);
    for (size_t i = end; i < sizeof box.r; i++) ASSERT_EQ(raw[i], 0x5a);
    subproc_result_free(&box.r);
    for (size_t i = end; i < sizeof box.r; i++) ASSERT_EQ(raw[i], 0x5a);
    ASSERT_OK(subproc_run(&box.r, &o, NULL)); /* NULL co: maybe an old caller too */
    kill_started(box.r.out.data);
    for (size_t i = end; i < sizeof box.r; i++) ASSERT_EQ(raw[i], 0x5a);
    subproc_result_free(&box.r);
}

TEST(field_pipeline_daemonizing_last_stage)
{
    subproc_opts st[2] = {SUBPROC_OPTS_INIT, SUBPROC_OPTS_INIT};
    const char *a[8], *b[8];
    memcpy(a, helper_argv("exit", "0", NULL), sizeof a);
    memcpy(b, helper_argv("daemonize", "20000", NULL), sizeof b);
    st[0].argv = a;
    st[1].argv = b;
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.timeout_ms = 3000;
    subproc_result r;
    ASSERT_OK(subproc_pipeline_run(NULL, &r, st, 2, 0, &co));
    kill_started(r.out.data);
    ASSERT_EQ(r.timed_out, 0);
    ASSERT(r.status.exited && r.status.code == 0);
    ASSERT_EQ(r.output_incomplete, 1);
    subproc_result_free(&r);
}

TEST(field_cli_daemonizing_child_exit_status)
{
    /* run --capture -t: the child's status, not 124; the JSON says the output may be
     * incomplete. pipe likewise. */
    subproc_result r;
    ASSERT_EQ(cli_run(&r, "run", "--capture", "-t", "3", "--json=-", "--", "@", "helper",
                      "daemonize", "20000", NULL),
              0);
    kill_started(r.out.data);
    ASSERT(strstr(r.out.data, "\"output_incomplete\":true"));
    ASSERT(strstr(r.out.data, "\"timed_out\":false"));
    subproc_result_free(&r);
    ASSERT_EQ(cli_run(&r, "pipe", "--capture", "-t", "3", "--json=-", "--", "@", "helper",
                      "exit", "0", "|", "@", "helper", "daemonize", "20000", NULL),
              0);
    kill_started(r.out.data);
    ASSERT(strstr(r.out.data, "\"output_incomplete\":true"));
    subproc_result_free(&r);
    ASSERT_EQ(cli_run(&r, "run", "--capture", "-t", "3", "--json=-", "--", "@", "helper", "exit",
                      "5", NULL),
              5);
    ASSERT(strstr(r.out.data, "\"output_incomplete\":false"));
    subproc_result_free(&r);
}

/* ---- truncated captures stay distinguishable ---- */

TEST(field_cli_truncated_json_head_and_tail)
{
    /* seq 1 1000 with --max-output=10: head "1\n2\n3", tail "1000\n", and the gap's size,
     * in separate fields; for run, pipe and par alike. */
    static const char *want =
        "\"stdout\":\"1\\n2\\n3\",\"stdout_tail\":\"1000\\n\",\"stdout_omitted_bytes\":3883,"
        "\"stdout_truncated\":true";
    subproc_result r;
    ASSERT_EQ(cli_run(&r, "run", "--max-output=10", "--capture", "--json=-", "--", "seq", "1",
                      "1000", NULL),
              0);
    ASSERT(strstr(r.out.data, want));
    subproc_result_free(&r);
    ASSERT_EQ(cli_run(&r, "pipe", "--max-output=10", "--capture", "--json=-", "--", "seq", "1",
                      "1000", "|", "cat", NULL),
              0);
    ASSERT(strstr(r.out.data, want));
    subproc_result_free(&r);
    ASSERT_EQ(cli_run(&r, "par", "--max-output=10", "--json=-", "--", "seq", "1", ":::", "1000",
                      NULL),
              0);
    ASSERT(strstr(r.out.data, want));
    subproc_result_free(&r);
    /* Not truncated: everything in "stdout", an empty tail, nothing omitted. */
    ASSERT_EQ(cli_run(&r, "par", "--max-output=10", "--json=-", "--", "seq", "1", ":::", "3",
                      NULL),
              0);
    ASSERT(strstr(r.out.data, "\"stdout\":\"1\\n2\\n3\\n\",\"stdout_tail\":\"\","
                              "\"stdout_omitted_bytes\":0,\"stdout_truncated\":false"));
    subproc_result_free(&r);
}

TEST(field_pool_max_output_head_and_tail)
{
    /* The pool keeps head and tail like communicate: 100 lines of 8 bytes, limit 100. */
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("count", "100", NULL);
    subproc_job job = {.opts = &o};
    subproc_pool_opts po = SUBPROC_POOL_OPTS_INIT;
    po.flags = SUBPROC_POOL_CAPTURE;
    po.max_output = 100;
    ASSERT_OK(subproc_pool_run(&job, 1, &po));
    ASSERT_EQ(job.out_truncated, 1);
    ASSERT_EQ(job.out_len, 100);
    ASSERT_EQ(job.out_head_len, 50);
    ASSERT_EQ(job.out_total, 800);
    ASSERT(!memcmp(job.out, "0000000\n0000001\n", 16));
    ASSERT(!memcmp(job.out + 92, "0000099\n", 8));
    subproc_job_clear(&job);
    /* Exactly at the limit: nothing dropped, head_len == len. */
    o.argv = helper_argv("count", "10", NULL);
    po.max_output = 80;
    ASSERT_OK(subproc_pool_run(&job, 1, &po));
    ASSERT_EQ(job.out_truncated, 0);
    ASSERT_EQ(job.out_len, 80);
    ASSERT_EQ(job.out_head_len, 80);
    subproc_job_clear(&job);
}

/* A version 2 caller's subproc_job, as its header had it. */
struct job_v2 {
    const subproc_opts *opts;
    void *user;
    int started, spawn_rc;
    subproc_error error;
    subproc_status status;
    int timed_out;
    char *out;
    size_t out_len;
    char *err;
    size_t err_len;
    int out_truncated, err_truncated;
    long long wall_usec;
};

TEST(field_pool_version2_job_array)
{
    /* Older callers' arrays have shorter elements: the pool must step through them at that size
     * and write nothing past each one. */
    ASSERT_EQ(sizeof(struct job_v2), offsetof(subproc_job, out_head_len));
    subproc_opts o[3] = {SUBPROC_OPTS_INIT, SUBPROC_OPTS_INIT, SUBPROC_OPTS_INIT};
    const char *a[3][8];
    static const char *const codes[] = {"1", "2", "3"};
    for (int i = 0; i < 3; i++) {
        memcpy(a[i], helper_argv("exit", codes[i], NULL), sizeof a[i]);
        o[i].argv = a[i];
    }
    struct {
        struct job_v2 jobs[3];
        char canary[64];
    } box;
    memset(&box, 0, sizeof box);
    memset(box.canary, 0x5a, sizeof box.canary);
    for (int i = 0; i < 3; i++) box.jobs[i].opts = &o[i];
    subproc_pool_opts po = SUBPROC_POOL_OPTS_INIT;
    po.version = 2;
    po.flags = SUBPROC_POOL_CAPTURE;
    ASSERT_OK(subproc_pool_run((subproc_job *)box.jobs, 3, &po));
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(box.jobs[i].started, 1);
        ASSERT_EQ(box.jobs[i].status.code, i + 1);
    }
    for (size_t i = 0; i < sizeof box.canary; i++) ASSERT_EQ(box.canary[i], 0x5a);
}

/* ---- fork mode stdio ---- */

static int printf_and_return(void *arg)
{
    (void)arg;
    printf("from fn %d", 42); /* stdout is a pipe: fully buffered, never flushed by fn */
    fputs("to stderr", stderr);
    return 3;
}

TEST(field_fork_mode_stdio_reaches_pipe)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.fn = printf_and_return;
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    subproc_result r;
    ASSERT_OK(subproc_run(&r, &o, &co));
    ASSERT(r.status.exited);
    ASSERT_EQ(r.status.code, 3);
    ASSERT_STREQ(r.out.data, "from fn 42");
    ASSERT_STREQ(r.err.data, "to stderr");
    subproc_result_free(&r);
}

static int print_child(void *arg)
{
    (void)arg;
    printf("child;");
    return 0;
}

TEST(field_fork_mode_parent_buffer_not_duplicated)
{
    /* The parent has "pending;" buffered in stdout at the fork: it must come out once (from the
     * parent), and the child's own text once. */
    int p[2];
    ASSERT_OK(pipe(p));
    fflush(stdout);
    int saved = dup(1);
    dup2(p[1], 1);
    close(p[1]);
    char vbuf[256];
    setvbuf(stdout, vbuf, _IOFBF, sizeof vbuf);
    printf("pending;");
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.fn = print_child;
    subproc_proc *pr;
    ASSERT_OK(subproc_spawn(&pr, &o, NULL));
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(pr, &st));
    subproc_proc_free(pr);
    fflush(stdout);
    setvbuf(stdout, NULL, _IOLBF, 0);
    dup2(saved, 1);
    close(saved);
    char *got = read_all(p[0], NULL);
    close(p[0]);
    ASSERT_STREQ(got, "child;pending;");
    free(got);
}

/* ---- error texts ---- */

/* subproc_spawn(o) must fail with -e, and subproc_error_str() must read want. */
static void spawn_says(const subproc_opts *o, int e, const char *want, int line)
{
    subproc_proc *p = NULL;
    subproc_error er;
    char buf[700];
    int r = subproc_spawn(&p, o, &er);
    if (r != -e || p)
        test_failf(__FILE__, line, "spawn gave %d, want %d (%s)", r, -e,
                   subproc_error_str(&er, buf, sizeof buf));
    subproc_error_str(&er, buf, sizeof buf);
    if (strcmp(buf, want) != 0) test_failf(__FILE__, line, "\"%s\" != \"%s\"", buf, want);
}
#define SPAWN_SAYS(o, e, want) spawn_says(o, e, want, __LINE__)

TEST(field_error_text_validation)
{
    char want[600];
    subproc_opts z;
    memset(&z, 0, sizeof z);
    SPAWN_SAYS(&z, EINVAL, "options: version is 0: start from SUBPROC_OPTS_INIT or subproc_opts_init()");
    z.version = 99;
    snprintf(want, sizeof want,
             "options: version is 99, this library takes %d: start from SUBPROC_OPTS_INIT",
             SUBPROC_OPTS_VERSION);
    SPAWN_SAYS(&z, EINVAL, want);
    SPAWN_SAYS(NULL, EINVAL, "options: opts is NULL");
    subproc_opts o = SUBPROC_OPTS_INIT;
    SPAWN_SAYS(&o, EINVAL, "options: argv is NULL: give the program and its arguments as a "
                           "NULL-terminated array (or fn for fork mode)");
    const char *empty[] = {NULL};
    o.argv = empty;
    SPAWN_SAYS(&o, EINVAL, "options: argv is empty: argv[0] is NULL");
    const char *av[] = {"/bin/true", "a\0b", NULL};
    size_t lens[] = {9, 3};
    o.argv = av;
    o.argv_lens = lens;
    SPAWN_SAYS(&o, EINVAL, "options: argv[1] holds a NUL byte at offset 1 of its 3 bytes (argv_lens)");
    o.argv_lens = NULL;
    o.fn = (int (*)(void *))1;
    SPAWN_SAYS(&o, EINVAL, "options: argv and fn are both set: give argv (exec mode) or fn (fork "
                           "mode), not both");
    o.fn = NULL;
    o.flags = 1u << 30;
    SPAWN_SAYS(&o, EINVAL, "options: flags has unknown bits 0x40000000");
    o.flags = SUBPROC_NEW_PGROUP | SUBPROC_NEW_SESSION;
    SPAWN_SAYS(&o, EINVAL, "options: flags: SUBPROC_NEW_PGROUP, SUBPROC_JOIN_PGROUP and "
                           "SUBPROC_NEW_SESSION exclude each other");
    o.flags = SUBPROC_JOIN_PGROUP;
    SPAWN_SAYS(&o, EINVAL, "options: SUBPROC_JOIN_PGROUP needs pgid > 0, not 0");
    o.flags = SUBPROC_SET_GROUPS;
    o.ngroups = 2;
    SPAWN_SAYS(&o, EINVAL, "options: SUBPROC_SET_GROUPS: ngroups is 2 but groups is NULL");
    o.flags = 0;
    o.ngroups = 0;
    o.pdeathsig = 1000;
    SPAWN_SAYS(&o, EINVAL, "options: pdeathsig 1000 is not a signal number");
    o.pdeathsig = 0;
    o.nrlimits = 1;
    SPAWN_SAYS(&o, EINVAL, "options: nrlimits is 1 but rlimits is NULL");
    subproc_rlimit rl = {-1, 1, 1};
    o.rlimits = &rl;
    SPAWN_SAYS(&o, EINVAL, "options: rlimits[0].resource -1 is not an RLIMIT_ value");
    rl = (subproc_rlimit){RLIMIT_NOFILE, 10, 5};
    SPAWN_SAYS(&o, EINVAL, "options: rlimits[0]: soft limit 10 is above the hard limit 5");
    o.nrlimits = 0;
    o.rlimits = NULL;
    o.stdio[1].kind = (subproc_io_kind)77;
    SPAWN_SAYS(&o, EINVAL, "options: stdio[1].kind 77 is not a subproc_io_kind (stdout)");
    o.stdio[1].kind = SUBPROC_IO_STDOUT;
    SPAWN_SAYS(&o, EINVAL, "options: stdio[1] is SUBPROC_IO_STDOUT, which only stderr (stdio[2]) takes");
    o.stdio[1].kind = SUBPROC_IO_FILE;
    SPAWN_SAYS(&o, EINVAL, "options: stdio[1] is SUBPROC_IO_FILE but its path is NULL (stdout)");
    o.stdio[1] = (subproc_io){.kind = SUBPROC_IO_FD, .fd = -1};
    SPAWN_SAYS(&o, EBADF, "options: stdio[1].fd -1 is not an open fd (stdout)");
    o.stdio[1].kind = SUBPROC_IO_INHERIT;
    o.nfds = 1;
    SPAWN_SAYS(&o, EINVAL, "options: nfds is 1 but fds is NULL");
    subproc_fdmap m[2] = {{0, 2}, {0, 5}};
    o.fds = m;
    SPAWN_SAYS(&o, EINVAL, "options: fds[0].child_fd is 2: extra fds start at 3 (0-2 are set with stdio)");
    m[0] = (subproc_fdmap){-1, 5};
    SPAWN_SAYS(&o, EBADF, "options: fds[0].parent_fd -1 is not an open fd");
    m[0] = (subproc_fdmap){0, 5};
    o.nfds = 2;
    SPAWN_SAYS(&o, EINVAL, "options: fds[1].child_fd 5 is also fds[0].child_fd: each child fd "
                           "takes one source");
    subproc_error er;
    ASSERT_EQ(subproc_spawn(NULL, &o, &er), -EINVAL);
    char buf[600];
    ASSERT_STREQ(subproc_error_str(&er, buf, sizeof buf), "options: out is NULL: pass where the handle goes");
}

TEST(field_error_text_comm_and_pipeline)
{
    /* subproc_run: a zeroed subproc_comm_opts, and a missing argv, each named. */
    subproc_comm_opts zc;
    memset(&zc, 0, sizeof zc);
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("exit", "0", NULL);
    subproc_result r;
    char buf[600];
    ASSERT_EQ(subproc_run(&r, &o, &zc), -EINVAL);
    ASSERT_STREQ(subproc_result_str(&r, buf, sizeof buf),
                 "options: co.version is 0: start from SUBPROC_COMM_OPTS_INIT");
    subproc_result_free(&r);
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.flags = SUBPROC_COMM_TEE_OUT;
    co.tee_out_fd = -1;
    ASSERT_EQ(subproc_run(&r, &o, &co), -EINVAL);
    ASSERT_STREQ(subproc_result_str(&r, buf, sizeof buf),
                 "options: SUBPROC_COMM_TEE_OUT needs co.tee_out_fd >= 0");
    subproc_result_free(&r);
    co.flags = 0;
    co.kill_signal = 999;
    ASSERT_EQ(subproc_run(&r, &o, &co), -EINVAL);
    ASSERT_STREQ(subproc_result_str(&r, buf, sizeof buf),
                 "options: co.kill_signal is not a signal number");
    subproc_result_free(&r);
    co.kill_signal = 0;
    co.input_len = 3;
    ASSERT_EQ(subproc_run(&r, &o, &co), -EINVAL);
    ASSERT_STREQ(subproc_result_str(&r, buf, sizeof buf),
                 "options: co.input_len is set but co.input is NULL");
    subproc_result_free(&r);
    subproc_opts none = SUBPROC_OPTS_INIT;
    ASSERT_EQ(subproc_run(&r, &none, NULL), -EINVAL);
    ASSERT_STREQ(subproc_result_str(&r, buf, sizeof buf),
                 "options: argv is NULL: give the program and its arguments as a "
                 "NULL-terminated array (or fn for fork mode)");
    subproc_result_free(&r);
    /* SUBPROC_COMM_CHECK: the status in words, as a sentence. */
    co = (subproc_comm_opts)SUBPROC_COMM_OPTS_INIT;
    co.flags = SUBPROC_COMM_CHECK;
    o.argv = helper_argv("exit", "1", NULL);
    ASSERT_EQ(subproc_run(&r, &o, &co), -SUBPROC_ECHECK);
    ASSERT_STREQ(subproc_error_str(&r.error, buf, sizeof buf),
                 "check failed: the child exited with 1, not 0");
    subproc_result_free(&r);
    o.argv = helper_argv("kill", "15", NULL);
    ASSERT_EQ(subproc_run(&r, &o, &co), -SUBPROC_ECHECK);
    ASSERT_STREQ(subproc_error_str(&r.error, buf, sizeof buf),
                 "check failed: the child was killed by SIGTERM");
    subproc_result_free(&r);
    /* Pipelines. */
    subproc_opts st[2] = {SUBPROC_OPTS_INIT, SUBPROC_OPTS_INIT};
    st[0].argv = st[1].argv = helper_argv("exit", "0", NULL);
    st[1].flags = SUBPROC_NEW_SESSION;
    subproc_pipeline *pl;
    subproc_error er;
    ASSERT_EQ(subproc_pipeline_spawn(&pl, st, 2, 0, &er, NULL), -EINVAL);
    ASSERT_STREQ(subproc_error_str(&er, buf, sizeof buf),
                 "options: stages[1].flags ask for a process group or session of its own: the "
                 "pipeline makes one group for all stages");
    st[1].flags = 0;
    st[1].stdio[0].kind = SUBPROC_IO_NULL;
    ASSERT_EQ(subproc_pipeline_spawn(&pl, st, 2, 0, &er, NULL), -EINVAL);
    ASSERT_STREQ(subproc_error_str(&er, buf, sizeof buf),
                 "options: stages[1].stdio[0] is set, but it is the pipe from stage 0: leave it "
                 "at SUBPROC_IO_INHERIT");
    ASSERT_EQ(subproc_pipeline_spawn(&pl, st, 0, 0, &er, NULL), -EINVAL);
    ASSERT_STREQ(subproc_error_str(&er, buf, sizeof buf),
                 "options: no stages: stages is NULL or n is 0");
    FILE *f;
    ASSERT_EQ(subproc_popen(&f, NULL, "x", NULL, &er), -EINVAL);
    ASSERT_STREQ(subproc_error_str(&er, buf, sizeof buf),
                 "options: mode must be \"r\", \"w\", \"re\" or \"we\"");
}

TEST(field_error_text_every_step)
{
    /* Every step reads as "STEP [PATH] [(fd N)]: what the errno says". */
    static const struct {
        subproc_step step;
        int err, fd;
        const char *path, *want;
    } cases[] = {
        {SUBPROC_STEP_NONE, EIO, -1, "", "Input/output error"},
        {SUBPROC_STEP_ALLOC, ENOMEM, -1, "", "alloc: Cannot allocate memory"},
        {SUBPROC_STEP_RESOLVE, ENOENT, -1, "nosuch", "resolve nosuch: not found in PATH (No such file or directory)"},
        {SUBPROC_STEP_RESOLVE, EACCES, -1, "prog", "resolve prog: Permission denied"},
        {SUBPROC_STEP_RESOLVE, ENOENT, -1, "", "resolve: the program name is empty"},
        {SUBPROC_STEP_PIPE, EMFILE, 1, "", "pipe (fd 1): Too many open files"},
        {SUBPROC_STEP_OPEN, ENOENT, 0, "/in", "open /in (fd 0): No such file or directory"},
        {SUBPROC_STEP_CLONE, EAGAIN, -1, "", "clone: Resource temporarily unavailable"},
        {SUBPROC_STEP_SIGNALS, EINVAL, -1, "", "signals: Invalid argument"},
        {SUBPROC_STEP_SETSID, EPERM, -1, "", "setsid: Operation not permitted"},
        {SUBPROC_STEP_SETPGID, EPERM, -1, "", "setpgid: Operation not permitted"},
        {SUBPROC_STEP_RLIMIT, EPERM, -1, "", "rlimit: Operation not permitted"},
        {SUBPROC_STEP_NICE, EACCES, -1, "", "nice: Permission denied"},
        {SUBPROC_STEP_FDMAP, EBADF, 7, "", "fd map (fd 7): Bad file descriptor"},
        {SUBPROC_STEP_CLOSEFDS, EIO, -1, "", "close fds: Input/output error"},
        {SUBPROC_STEP_CHDIR, ENOENT, -1, "/x", "chdir /x: No such file or directory"},
        {SUBPROC_STEP_SETGROUPS, EPERM, -1, "", "setgroups: Operation not permitted"},
        {SUBPROC_STEP_SETGID, EPERM, -1, "", "setgid: Operation not permitted"},
        {SUBPROC_STEP_SETUID, EPERM, -1, "", "setuid: Operation not permitted"},
        {SUBPROC_STEP_PDEATHSIG, ESRCH, -1, "", "pdeathsig: No such process"},
        {SUBPROC_STEP_NO_NEW_PRIVS, EINVAL, -1, "", "no_new_privs: Invalid argument"},
        {SUBPROC_STEP_SIGMASK, EINVAL, -1, "", "sigmask: Invalid argument"},
        {SUBPROC_STEP_EXEC, ENOEXEC, -1, "/p", "exec /p: Exec format error"},
        {SUBPROC_STEP_VALIDATE, EINVAL, -1, "", "options: Invalid argument"},
        {SUBPROC_STEP_NONE, SUBPROC_ECHECK, -1, "exited with 2", "check failed: the child exited with 2, not 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        subproc_error e = {cases[i].step, cases[i].err, cases[i].fd, ""};
        snprintf(e.path, sizeof e.path, "%s", cases[i].path);
        char buf[700];
#ifdef __GLIBC__
        ASSERT_STREQ(subproc_error_str(&e, buf, sizeof buf), cases[i].want);
#else
        /* Other C libraries word errno values their own way ("I/O error"): what comes before
         * the errno's words is the same. */
        const char *cut = strrchr(cases[i].want, ':');
        size_t k = cut ? (size_t)(cut - cases[i].want) : 0; /* no colon: the words alone */
        ASSERT(strncmp(subproc_error_str(&e, buf, sizeof buf), cases[i].want, k) == 0);
#endif
    }
    /* And from real failures. */
    subproc_opts o = SUBPROC_OPTS_INIT;
    const char *missing[] = {"no-such-program-for-subproc", NULL};
    o.argv = missing;
    SPAWN_SAYS(&o, ENOENT, "resolve no-such-program-for-subproc: not found in PATH (No such file "
                           "or directory)");
    o.argv = helper_argv("exit", "0", NULL);
    o.cwd = "/nonexistent/dir";
    SPAWN_SAYS(&o, ENOENT, "chdir /nonexistent/dir: No such file or directory");
    o.cwd = NULL;
    o.stdio[0] = (subproc_io){.kind = SUBPROC_IO_FILE, .path = "/nonexistent/in"};
    SPAWN_SAYS(&o, ENOENT, "open /nonexistent/in (fd 0): No such file or directory");
}

/* ---- ETXTBSY from a concurrent spawn ---- */

static int txt_stop; /* atomic */

static void *spawn_true_loop(void *arg)
{
    (void)arg;
    const char *argv[] = {"/bin/true", NULL};
    while (!__atomic_load_n(&txt_stop, __ATOMIC_RELAXED)) {
        subproc_opts o = SUBPROC_OPTS_INIT;
        o.argv = argv;
        subproc_proc *p;
        if (subproc_spawn(&p, &o, NULL) == 0) {
            subproc_proc_wait(p, NULL);
            subproc_proc_free(p);
        }
    }
    return NULL;
}

TEST_T(field_etxtbsy_concurrent_spawn, 120)
{
    /* Two threads spawn /bin/true in a loop while this one writes a script through an
     * O_CLOEXEC fd, closes it and runs it: another thread's child may hold a copy of the write
     * fd until it closes its fds or execs. 2000 rounds, no failure. */
    char dir[] = "/tmp/subproc-txtbsy-XXXXXX";
    ASSERT(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/script", dir);
    pthread_t th[2];
    __atomic_store_n(&txt_stop, 0, __ATOMIC_RELAXED);
    for (int i = 0; i < 2; i++) ASSERT_OK(pthread_create(&th[i], NULL, spawn_true_loop, NULL));
    int failures = 0, first_err = 0;
    for (int round = 0; round < 2000; round++) {
        unlink(path);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
        ASSERT(fd >= 0);
        write_all(fd, "#!/bin/true\n", 12);
        close(fd);
        const char *argv[] = {path, NULL};
        subproc_opts o = SUBPROC_OPTS_INIT;
        o.argv = argv;
        subproc_proc *p;
        subproc_error e;
        int r = subproc_spawn(&p, &o, &e);
        if (r < 0) {
            failures++;
            if (!first_err) first_err = r;
            continue;
        }
        subproc_status st;
        ASSERT_OK(subproc_proc_wait(p, &st));
        subproc_proc_free(p);
        ASSERT(st.exited && st.code == 0);
    }
    __atomic_store_n(&txt_stop, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    unlink(path);
    rmdir(dir);
    if (failures)
        test_failf(__FILE__, __LINE__, "%d of 2000 spawns failed, first: %s", failures,
                   subproc_strerror(first_err));
}

/* ---- fd plans under a tight child fd limit ---- */

#include "rel.h"
#include <sys/mman.h>

static char plan_ids[REL_MAXFD][48];

/* Fork mode's "fds": no new fd is needed to look (fstat by number), so it works under any
 * limit, where even the dynamic loader of an exec'd program could not open its libraries. */
static int list_fds_fn(void *arg)
{
    (void)arg;
    char line[96];
    for (int fd = 0; fd < 256; fd++) {
        struct stat st;
        if (fstat(fd, &st) < 0) continue;
        int k = snprintf(line, sizeof line, "%d %llu:%llu\n", fd, (unsigned long long)st.st_dev,
                         (unsigned long long)st.st_ino);
        if (write(1, line, (size_t)k) < 0) return 1;
    }
    return 0;
}

/* Spawn the helper "fds" (fork mode's list_fds_fn when fork_mode) with map[0, n) and the
 * child's RLIMIT_NOFILE at limit; check that each target holds its source's file and nothing
 * else is open above 2. */
static void check_plan_mode(const subproc_fdmap *map, size_t n, rlim_t limit, int fork_mode,
                            int line)
{
    char want[8][48];
    for (size_t i = 0; i < n; i++) rel_ident(map[i].parent_fd, want[i], sizeof want[i]);
    subproc_opts o = SUBPROC_OPTS_INIT;
    if (fork_mode)
        o.fn = list_fds_fn;
    else
        o.argv = helper_argv("fds", NULL);
    o.fds = map;
    o.nfds = n;
    struct rlimit cur;
    getrlimit(RLIMIT_NOFILE, &cur);
    subproc_rlimit rl = {RLIMIT_NOFILE, limit, cur.rlim_max}; /* the helper may raise it */
    o.rlimits = &rl;
    o.nrlimits = 1;
    subproc_result r;
    char buf[700];
    int rc = subproc_run(&r, &o, NULL);
    if (rc != 0)
        test_failf(__FILE__, line, "limit %llu: %s", (unsigned long long)limit,
                   subproc_result_str(&r, buf, sizeof buf));
    if (!r.status.exited || r.status.code != 0)
        test_failf(__FILE__, line, "limit %llu: helper %s", (unsigned long long)limit,
                   subproc_result_str(&r, buf, sizeof buf));
    rel_parse_fds(r.out.data, plan_ids);
    for (size_t i = 0; i < n; i++)
        if (strcmp(plan_ids[map[i].child_fd], want[i]) != 0)
            test_failf(__FILE__, line, "limit %llu: child fd %d is \"%s\", want \"%s\"",
                       (unsigned long long)limit, map[i].child_fd, plan_ids[map[i].child_fd],
                       want[i]);
    for (int fd = 3; fd < REL_MAXFD; fd++) {
        int wanted = 0;
        for (size_t i = 0; i < n; i++) wanted |= map[i].child_fd == fd;
        if (!wanted && plan_ids[fd][0])
            test_failf(__FILE__, line, "limit %llu: fd %d open in the child",
                       (unsigned long long)limit, fd);
    }
    subproc_result_free(&r);
}
#define check_plan(map, n, limit, line) check_plan_mode(map, n, limit, 0, line)

TEST(field_fd_cycle_under_tight_limit)
{
    if (UNDER_VALGRIND())
        test_skip("valgrind keeps the top of RLIMIT_NOFILE for itself (fork-mode children too)");
    /* Parent fds 3, 4, 5 as the cycle 3->4, 4->5, 5->3 with the child's limit at 7 (the field
     * report), and at every limit down to the smallest the targets fit under. */
    int saved[3];
    for (int i = 0; i < 3; i++) saved[i] = fcntl(3 + i, F_DUPFD_CLOEXEC, 200);
    for (int i = 0; i < 3; i++) {
        int m = memfd_create("plan", MFD_CLOEXEC);
        ASSERT(m >= 0);
        if (m != 3 + i) {
            ASSERT_EQ(dup3(m, 3 + i, O_CLOEXEC), 3 + i);
            close(m);
        }
    }
    subproc_fdmap cycle[3] = {{3, 4}, {4, 5}, {5, 3}};
    /* An exec'd program needs one number to spare (its loader opens its libraries). */
    for (rlim_t lim = 7; lim <= 12; lim++) check_plan(cycle, 3, lim, __LINE__);
    /* Fork mode needs none: the limit is exactly the targets' 0-5. */
    check_plan_mode(cycle, 3, 6, 1, __LINE__);
    subproc_fdmap ident[3] = {{3, 3}, {4, 4}, {5, 5}};
    check_plan(ident, 3, 7, __LINE__);
    check_plan_mode(ident, 3, 6, 1, __LINE__);
    subproc_fdmap swap[3] = {{3, 4}, {4, 3}, {5, 5}};
    check_plan(swap, 3, 7, __LINE__);
    check_plan_mode(swap, 3, 6, 1, __LINE__);
    subproc_fdmap chain[3] = {{3, 4}, {4, 5}, {5, 6}};
    check_plan(chain, 3, 8, __LINE__);
    check_plan_mode(chain, 3, 7, 1, __LINE__);
    for (int i = 0; i < 3; i++) {
        close(3 + i);
        if (saved[i] >= 0) {
            dup3(saved[i], 3 + i, 0);
            close(saved[i]);
        }
    }
}

TEST(field_fd_two_cycles_under_tight_limit)
{
    if (UNDER_VALGRIND())
        test_skip("valgrind keeps the top of RLIMIT_NOFILE for itself (fork-mode children too)");
    /* Two cycles (3<->4, 5->6->7->5): a temporary for each; targets below 8, limits 8 and 9. */
    int saved[5];
    for (int i = 0; i < 5; i++) saved[i] = fcntl(3 + i, F_DUPFD_CLOEXEC, 200);
    for (int i = 0; i < 5; i++) {
        int m = memfd_create("plan", MFD_CLOEXEC);
        ASSERT(m >= 0);
        if (m != 3 + i) {
            ASSERT_EQ(dup3(m, 3 + i, O_CLOEXEC), 3 + i);
            close(m);
        }
    }
    subproc_fdmap map[5] = {{3, 4}, {4, 3}, {5, 6}, {6, 7}, {7, 5}};
    check_plan(map, 5, 9, __LINE__);
    check_plan_mode(map, 5, 8, 1, __LINE__);
    for (int i = 0; i < 5; i++) {
        close(3 + i);
        if (saved[i] >= 0) {
            dup3(saved[i], 3 + i, 0);
            close(saved[i]);
        }
    }
}

/* ---- detached children ---- */

/* No child of this process exists (no zombie either). */
static int no_children(void)
{
    int ws;
    return waitpid(-1, &ws, WNOHANG) == -1 && errno == ECHILD;
}

/* The parent PID of pid, from /proc, or -1. */
static int ppid_of(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    int ppid = -1;
    char state;
    if (!rp || sscanf(rp + 1, " %c %d", &state, &ppid) != 2) return -1;
    return ppid;
}

TEST(field_detach_outlives_handle)
{
    /* A detached program runs on after subproc_proc_free(), is never our child, and its output
     * still arrives through the pipe the handle gave. */
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("chunks", "one ", "two", NULL);
    o.flags = SUBPROC_DETACH;
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    pid_t pid = subproc_proc_pid(p);
    ASSERT(pid > 0);
    int fd = subproc_proc_take_fd(p, 1);
    ASSERT(no_children()); /* the intermediate was reaped, the program is not ours */
    ASSERT(ppid_of(pid) != getpid());
    ASSERT_EQ(subproc_proc_pgid(p), -1);
    ASSERT_EQ(subproc_proc_wait(p, NULL), -ECHILD);
    ASSERT_EQ(subproc_proc_signal(p, SIGTERM), -ESRCH);
    ASSERT_EQ(subproc_proc_done(p), 0);
    subproc_proc_free(p); /* kills nothing */
    char *out = read_all(fd, NULL);
    close(fd);
    ASSERT_STREQ(out, "one two");
    free(out);
    ASSERT(no_children());
}

TEST(field_detach_exec_and_setup_errors_reported)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    const char *missing[] = {"/nonexistent/prog", NULL};
    o.argv = missing;
    o.flags = SUBPROC_DETACH;
    subproc_proc *p = NULL;
    subproc_error e;
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -ENOENT);
    ASSERT(p == NULL);
    ASSERT_EQ(e.step, SUBPROC_STEP_EXEC);
    ASSERT_STREQ(e.path, "/nonexistent/prog");
    o.argv = helper_argv("exit", "0", NULL);
    o.cwd = "/nonexistent/dir";
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -ENOENT);
    ASSERT_EQ(e.step, SUBPROC_STEP_CHDIR);
    o.cwd = NULL;
    o.pdeathsig = SIGTERM;
    SPAWN_SAYS(&o, EINVAL, "options: pdeathsig and SUBPROC_DETACH exclude each other: a detached "
                           "child's parent is not this process");
    ASSERT(no_children());
}

static int spawn_detached_sleeper(void *arg)
{
    (void)arg;
    /* A program that detaches a sleeper and ends: the sleeper must outlive it. */
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("sleep", "20000", NULL);
    o.flags = SUBPROC_DETACH | SUBPROC_NEW_SESSION;
    o.stdio[0].kind = o.stdio[1].kind = o.stdio[2].kind = SUBPROC_IO_NULL;
    subproc_proc *p;
    if (subproc_spawn(&p, &o, NULL) < 0) return 1;
    char line[32];
    int n = snprintf(line, sizeof line, "%d", (int)subproc_proc_pid(p));
    subproc_proc_free(p);
    return write(1, line, (size_t)n) == n ? 0 : 2;
}

TEST(field_detach_outlives_caller)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.fn = spawn_detached_sleeper;
    subproc_result r;
    ASSERT_OK(subproc_run(&r, &o, NULL));
    ASSERT(r.status.exited && r.status.code == 0);
    pid_t pid = atoi(r.out.data);
    subproc_result_free(&r);
    ASSERT(pid > 1);
    ASSERT_EQ(kill(pid, 0), 0); /* still running, though who started it is gone */
    ASSERT(ppid_of(pid) != getpid());
    kill(pid, SIGKILL);
    ASSERT(no_children());
}

static int fn_says_hi(void *arg)
{
    (void)arg;
    printf("hi from a detached fn");
    return 0;
}

TEST(field_detach_fork_mode)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.fn = fn_says_hi;
    o.flags = SUBPROC_DETACH;
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    ASSERT_EQ(subproc_proc_pidfd(p), -1);
    int fd = subproc_proc_take_fd(p, 1);
    subproc_proc_free(p);
    char *out = read_all(fd, NULL);
    close(fd);
    ASSERT_STREQ(out, "hi from a detached fn");
    free(out);
    ASSERT(no_children());
}

/* ---- more of the same kinds ---- */

static char pool_inner_sigs[512];

static void on_done_starts_child(void *ud, subproc_job *job, size_t ndone, size_t total)
{
    (void)ud, (void)job, (void)ndone, (void)total;
    start_inner(NULL, 1, NULL, 0);
    snprintf(pool_inner_sigs, sizeof pool_inner_sigs, "%s", inner_sigs);
}

TEST(field_pool_on_done_child_sees_caller_mask)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("out", "x", NULL);
    subproc_job job = {.opts = &o};
    subproc_pool_opts po = SUBPROC_POOL_OPTS_INIT;
    po.flags = SUBPROC_POOL_CAPTURE;
    po.on_done = on_done_starts_child;
    ASSERT_OK(subproc_pool_run(&job, 1, &po));
    subproc_job_clear(&job);
    ASSERT(strstr(pool_inner_sigs, "blocked:"));
    ASSERT_EQ(listed_blocked(pool_inner_sigs, SIGPIPE), 0);
}

TEST(field_pool_daemonizing_job)
{
    /* A job whose child exits at once while what it forked holds the capture pipe: the job's
     * real status, not timed out (even with a deadline), and the flag. */
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("daemonize", "20000", NULL);
    subproc_job job = {.opts = &o};
    subproc_pool_opts po = SUBPROC_POOL_OPTS_INIT;
    po.flags = SUBPROC_POOL_CAPTURE;
    po.timeout_ms = 3000;
    ASSERT_OK(subproc_pool_run(&job, 1, &po));
    kill_started(job.out);
    ASSERT_EQ(job.timed_out, 0);
    ASSERT(job.status.exited && job.status.code == 0);
    ASSERT_EQ(job.output_incomplete, 1);
    subproc_job_clear(&job);
}

TEST(field_cli_tiny_durations)
{
    /* The other end: a 1 ms deadline fires (124), -k 1 ms kills a TERM-ignoring program. */
    subproc_result r;
    ASSERT_EQ(cli_run(&r, "run", "-t", "0.001", "--", "@", "helper", "sleep", "20000", NULL), 124);
    subproc_result_free(&r);
    ASSERT_EQ(cli_run(&r, "run", "--capture", "-t", "0.001", "-k", "0.001", "--", "@", "helper",
                      "ignore-term", "20000", NULL),
              124);
    subproc_result_free(&r);
    ASSERT_EQ(cli_run(&r, "par", "-t", "0.001", "--", "@", "helper", "sleep", ":::", "20000",
                      NULL),
              1);
    subproc_result_free(&r);
}

TEST(field_pipeline_and_handle_fields_as_documented)
{
    /* subproc.h: statuses NULL and code -1 before the wait; pgid -1 without a group;
     * a pipeline's per-stage results after it. */
    subproc_opts st[2] = {SUBPROC_OPTS_INIT, SUBPROC_OPTS_INIT};
    const char *a[8], *b[8];
    memcpy(a, helper_argv("exit", "3", NULL), sizeof a);
    memcpy(b, helper_argv("exit", "0", NULL), sizeof b);
    st[0].argv = a;
    st[1].argv = b;
    subproc_pipeline *pl;
    ASSERT_OK(subproc_pipeline_spawn(&pl, st, 2, 0, NULL, NULL));
    ASSERT(subproc_pipeline_status(pl, 0) == NULL);
    ASSERT_EQ(subproc_pipeline_code(pl), -1);
    ASSERT(subproc_pipeline_stage_error(pl, 0) == NULL);
    ASSERT_EQ(subproc_pipeline_size(pl), 2);
    ASSERT_OK(subproc_pipeline_wait(pl, -1));
    ASSERT_EQ(subproc_pipeline_status(pl, 0)->code, 3);
    ASSERT_EQ(subproc_pipeline_code(pl), 3); /* pipefail: the rightmost failing stage */
    int codes[2];
    subproc_pipeline_pipestatus(pl, codes);
    ASSERT(codes[0] == 3 && codes[1] == 0);
    subproc_pipeline_free(pl);
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("exit", "0", NULL);
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    ASSERT_EQ(subproc_proc_pgid(p), -1);
    ASSERT_EQ(subproc_proc_fd(p, 1), -1);
    ASSERT_EQ(subproc_proc_done(p), 0);
    ASSERT_OK(subproc_proc_wait(p, NULL));
    ASSERT_EQ(subproc_proc_done(p), 1);
    subproc_proc_free(p);
}
