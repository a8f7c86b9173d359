/*
 * subproc_contenders.c - subproc's side of every comparison, one function each.
 *
 * PENDING marks a contender whose API is still being written (I/O: subproc_run /
 * subproc_proc_communicate; pipelines; pools). Fill it in when the API lands: run the job
 * as the comment says, check the result like the peers in the same file do, and return
 * BENCH_OK, or bench_fail(c, ...) on a wrong result. Until then it returns BENCH_PENDING and
 * the comparison reports "pending", never a number.
 */
#include "bench.h"

#include <subproc.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int spawn_true(bench_ctx *c, unsigned contain)
{
    static const char *const argv[] = {"/bin/true", NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    o.contain = contain;
    subproc_proc *p;
    subproc_error e;
    int rc = subproc_spawn(&p, &o, &e);
    if (rc < 0) {
        char buf[600];
        return bench_fail(c, "subproc_spawn: %s", subproc_error_str(&e, buf, sizeof buf));
    }
    subproc_status st;
    rc = subproc_proc_wait(p, &st);
    subproc_proc_free(p);
    if (rc < 0)
        return bench_fail(c, "subproc_proc_wait: %s", subproc_strerror(rc));
    if (!st.exited || st.code != 0)
        return bench_fail(c, "/bin/true did not exit 0");
    return BENCH_OK;
}

int sp_spawn_true(bench_ctx *c, void *state)
{
    (void)state;
    return spawn_true(c, 0);
}

/* The same, the child started in a cgroup of its own (made, then removed at the free): what
 * tree containment costs per spawn. */
int sp_spawn_true_contained(bench_ctx *c, void *state)
{
    (void)state;
    return spawn_true(c, SUBPROC_CONTAIN_CGROUP);
}

static int check_result(bench_ctx *c, int rc, subproc_result *res, const char *what)
{
    char buf[700];
    if (rc < 0) {
        bench_fail(c, "%s: %s (%s)", what, subproc_strerror(rc),
                   subproc_result_str(res, buf, sizeof buf));
        subproc_result_free(res);
        return BENCH_FAIL;
    }
    if (!res->status.exited || res->status.code != 0) {
        bench_fail(c, "%s: %s", what, subproc_result_str(res, buf, sizeof buf));
        subproc_result_free(res);
        return BENCH_FAIL;
    }
    return BENCH_OK;
}

/* The generator's output, captured whole into memory by subproc_run(). */
static int capture_into_memory(bench_ctx *c, subproc_io_kind out_kind)
{
    char n[32];
    snprintf(n, sizeof n, "%zu", c->bytes);
    const char *argv[] = {c->gen, n, NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    o.stdio[1].kind = out_kind;
    subproc_result res;
    if (check_result(c, subproc_run(&res, &o, NULL), &res, "subproc_run") != BENCH_OK)
        return BENCH_FAIL;
    int ok = res.out.len == c->bytes && bench_payload_ok(res.out.data, res.out.len);
    subproc_result_free(&res);
    return ok ? BENCH_OK : bench_fail(c, "captured output is wrong");
}

/* The default: stdout becomes a pipe. */
int sp_capture(bench_ctx *c, void *state)
{
    (void)state;
    return capture_into_memory(c, SUBPROC_IO_INHERIT);
}

/* Opt-in: stdout is a stream socket (SUBPROC_IO_SOCKET), as libuv's UV_CREATE_PIPE makes it. */
int sp_capture_socket(bench_ctx *c, void *state)
{
    (void)state;
    return capture_into_memory(c, SUBPROC_IO_SOCKET);
}

/* The payload through cat, written and read at once by subproc_run(). */
int sp_cat(bench_ctx *c, void *state)
{
    (void)state;
    const char *argv[] = {"/bin/cat", NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.input = c->payload;
    co.input_len = c->bytes;
    subproc_result res;
    if (check_result(c, subproc_run(&res, &o, &co), &res, "subproc_run") != BENCH_OK)
        return BENCH_FAIL;
    int ok = res.out.len == c->bytes && memcmp(res.out.data, c->payload, c->bytes) == 0;
    subproc_result_free(&res);
    return ok ? BENCH_OK : bench_fail(c, "cat output differs from its input");
}

/* cat | cat | cat from c->in_fd, the last stdout drained by the parent. */
int sp_pipeline3(bench_ctx *c, void *state)
{
    (void)state;
    static const char *const argv[] = {"/bin/cat", NULL};
    subproc_opts st[3];
    for (int i = 0; i < 3; i++) {
        st[i] = (subproc_opts)SUBPROC_OPTS_INIT;
        st[i].argv = argv;
    }
    st[0].stdio[0] = (subproc_io){.kind = SUBPROC_IO_FD, .fd = c->in_fd};
    st[2].stdio[1].kind = SUBPROC_IO_PIPE;
    subproc_pipeline *pl;
    subproc_error e;
    if (subproc_pipeline_spawn(&pl, st, 3, 0, &e, NULL) < 0) {
        char buf[700];
        return bench_fail(c, "pipeline: %s", subproc_error_str(&e, buf, sizeof buf));
    }
    long long got = bench_drain(subproc_pipeline_fd(pl, 1));
    int rc = subproc_pipeline_wait(pl, -1);
    int code = subproc_pipeline_code(pl);
    subproc_pipeline_free(pl);
    if (rc < 0 || code != 0) return bench_fail(c, "pipeline ended with code %d", code);
    return got == (long long)c->bytes ? BENCH_OK : bench_fail(c, "pipeline moved %lld bytes", got);
}

/* c->njobs runs of /bin/true, c->jobs at once. */
int sp_pool(bench_ctx *c, void *state)
{
    (void)state;
    static const char *const argv[] = {"/bin/true", NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    subproc_job *jobs = calloc((size_t)c->njobs, sizeof *jobs);
    if (!jobs) return bench_fail(c, "out of memory");
    for (int i = 0; i < c->njobs; i++) jobs[i].opts = &o;
    subproc_pool_opts po = SUBPROC_POOL_OPTS_INIT;
    po.jobs = (unsigned)c->jobs;
    int rc = subproc_pool_run(jobs, (size_t)c->njobs, &po), bad = 0;
    for (int i = 0; i < c->njobs; i++) bad += !jobs[i].started || jobs[i].status.code != 0;
    free(jobs);
    if (rc < 0) return bench_fail(c, "subproc_pool_run: %s", subproc_strerror(rc));
    return bad ? bench_fail(c, "%d jobs failed", bad) : BENCH_OK;
}

/* The generator's output captured with a limit: head and tail kept, the middle dropped. */
int sp_capture_limited(bench_ctx *c, void *state)
{
    (void)state;
    char n[32];
    snprintf(n, sizeof n, "%zu", c->bytes);
    const char *argv[] = {c->gen, n, NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.max_output = c->limit;
    subproc_result res;
    if (check_result(c, subproc_run(&res, &o, &co), &res, "subproc_run") != BENCH_OK)
        return BENCH_FAIL;
    int ok = res.out.truncated && res.out.total == c->bytes && res.out.len <= c->limit &&
             bench_payload_ok(res.out.data, res.out.head_len);
    subproc_result_free(&res);
    return ok ? BENCH_OK : bench_fail(c, "limited capture is wrong");
}

/* The generator on a new pseudo-terminal (stdin, stdout and stderr), its output captured whole
 * through the master by subproc_run(). gen writes no newline, so the terminal's output
 * processing (ONLCR) changes no byte. */
int sp_pty_capture(bench_ctx *c, void *state)
{
    (void)state;
    char n[32];
    snprintf(n, sizeof n, "%zu", c->bytes);
    const char *argv[] = {c->gen, n, NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    for (int i = 0; i < 3; i++) o.stdio[i].kind = SUBPROC_IO_PTY;
    subproc_result res;
    if (check_result(c, subproc_run(&res, &o, NULL), &res, "subproc_run") != BENCH_OK)
        return BENCH_FAIL;
    int ok = res.out.len == c->bytes && bench_payload_ok(res.out.data, res.out.len);
    subproc_result_free(&res);
    return ok ? BENCH_OK : bench_fail(c, "captured output is wrong");
}

/* The generator's output captured into memory kept from earlier captures (subproc_buffers,
 * created by the setup): what a program that captures again and again does. */
int sp_capture_reuse_setup(bench_ctx *c, void **state)
{
    subproc_buffers *b;
    if (subproc_buffers_new(&b, 0) < 0) return bench_fail(c, "subproc_buffers_new failed");
    *state = b;
    return BENCH_OK;
}

void sp_capture_reuse_teardown(void *state)
{
    subproc_buffers_free(state);
}

int sp_capture_reuse(bench_ctx *c, void *state)
{
    subproc_buffers *b = state;
    char n[32];
    snprintf(n, sizeof n, "%zu", c->bytes);
    const char *argv[] = {c->gen, n, NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.buffers = b;
    subproc_result res;
    if (check_result(c, subproc_run(&res, &o, &co), &res, "subproc_run") != BENCH_OK)
        return BENCH_FAIL;
    int ok = res.out.len == c->bytes && bench_payload_ok(res.out.data, res.out.len);
    subproc_buffers_recycle(b, &res);
    return ok ? BENCH_OK : bench_fail(c, "captured output is wrong");
}

/* Run /bin/echo hi and capture its output: the smallest useful run. */
int sp_echo(bench_ctx *c, void *state)
{
    (void)state;
    static const char *const argv[] = {"/bin/echo", "hi", NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    subproc_result res;
    if (check_result(c, subproc_run(&res, &o, NULL), &res, "subproc_run") != BENCH_OK)
        return BENCH_FAIL;
    int ok = res.out.len == 3 && memcmp(res.out.data, "hi\n", 3) == 0;
    subproc_result_free(&res);
    return ok ? BENCH_OK : bench_fail(c, "echo output is wrong");
}

/* The generator's output captured and teed to c->out_path (created, truncated), with
 * SUBPROC_COMM_TEE_OUT; or, with capture off, only passed on to the file (spliced). */
static int tee_to_file(bench_ctx *c, int capture)
{
    int fd = open(c->out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return bench_fail(c, "open %s failed", c->out_path);
    char n[32];
    snprintf(n, sizeof n, "%zu", c->bytes);
    const char *argv[] = {c->gen, n, NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.flags = SUBPROC_COMM_TEE_OUT | (capture ? 0 : SUBPROC_COMM_NO_CAPTURE);
    co.tee_out_fd = fd;
    subproc_result res;
    int rc = subproc_run(&res, &o, &co);
    close(fd);
    if (check_result(c, rc, &res, "subproc_run") != BENCH_OK) return BENCH_FAIL;
    int ok = res.out.total == c->bytes &&
             (!capture || (res.out.len == c->bytes && bench_payload_ok(res.out.data, res.out.len)));
    subproc_result_free(&res);
    return ok ? BENCH_OK : bench_fail(c, "captured output is wrong");
}

int sp_tee_file(bench_ctx *c, void *state)
{
    (void)state;
    return tee_to_file(c, 1);
}

int sp_forward_file(bench_ctx *c, void *state)
{
    (void)state;
    return tee_to_file(c, 0);
}

static int spawn_prog_once(const char *prog)
{
    const char *argv[] = {prog, NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    subproc_proc *p;
    if (subproc_spawn(&p, &o, NULL) < 0) return -1;
    subproc_status st;
    int rc = subproc_proc_wait(p, &st);
    subproc_proc_free(p);
    return rc == 0 && st.exited && st.code == 0 ? 0 : -1;
}

int sp_spawn_prog(bench_ctx *c, void *state)
{
    (void)state;
    return spawn_prog_once(c->prog) == 0 ? BENCH_OK : bench_fail(c, "%s did not run", c->prog);
}

struct sp_thread {
    bench_ctx *c;
    int bad;
};

static void *spawn_thread(void *arg)
{
    struct sp_thread *t = arg;
    for (int i = 0; i < t->c->njobs; i++) t->bad += spawn_prog_once(t->c->prog) != 0;
    return NULL;
}

int sp_spawn_threads(bench_ctx *c, void *state)
{
    (void)state;
    pthread_t th[64];
    struct sp_thread t[64];
    int n = c->jobs < 64 ? c->jobs : 64, bad = 0;
    for (int i = 0; i < n; i++) {
        t[i] = (struct sp_thread){c, 0};
        if (pthread_create(&th[i], NULL, spawn_thread, &t[i]) != 0) return bench_fail(c, "pthread_create");
    }
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        bad += t[i].bad;
    }
    return bad ? bench_fail(c, "%d spawns failed", bad) : BENCH_OK;
}
