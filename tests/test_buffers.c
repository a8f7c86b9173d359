/* test_buffers.c - reusable capture memory (subproc_buffers): a capture into a kept block gives
 * the same bytes, lengths and truncation as a one-shot capture; blocks go back and are reused;
 * limits hold; a version 1 subproc_comm_opts never reads the field it does not have. */
#include "test.h"

#include <pthread.h>
#include <stdint.h>

static char *pattern(size_t n, unsigned seed)
{
    char *b = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        b[i] = (char)(seed >> 16);
    }
    return b;
}

/* The helper's "tee2": stdin to stdout as is, and to stderr with every byte ^ 0xff. */
static int run_tee2(subproc_result *r, const char *in, size_t n, subproc_comm_opts *co)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("tee2", NULL);
    co->input = in;
    co->input_len = n;
    return subproc_run(r, &o, co);
}

static void check_tee2(const subproc_result *r, const char *in, size_t n)
{
    ASSERT_EQ(r->status.exited, 1);
    ASSERT_EQ(r->status.code, 0);
    ASSERT_EQ(r->out.len, n);
    ASSERT_EQ(r->err.len, n);
    ASSERT_EQ(r->out.total, n);
    ASSERT_EQ(r->out.head_len, n);
    ASSERT_EQ(r->out.truncated, 0);
    ASSERT(memcmp(r->out.data, in, n) == 0);
    for (size_t i = 0; i < n; i++) ASSERT_EQ((unsigned char)r->err.data[i], (unsigned char)(in[i] ^ 0xff));
    ASSERT_EQ(r->out.data[n], '\0');
    ASSERT_EQ(r->err.data[n], '\0');
}

TEST(buffers_reused_byte_exact)
{
    subproc_buffers *b;
    ASSERT_OK(subproc_buffers_new(&b, 0));
    ASSERT_EQ(subproc_buffers_kept(b), 0);
    /* Big, small, bigger than anything kept, empty, mid-sized: each byte-exact in whatever block
     * it got, with both streams writing. */
    size_t sizes[] = {3u << 20, 10, (5u << 20) + 17, 0, 100000, 3u << 20};
    char *gave[2] = {NULL, NULL};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t n = sizes[k];
        char *in = pattern(n, (unsigned)k + 1);
        subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
        co.buffers = b;
        subproc_result r;
        ASSERT_OK(run_tee2(&r, in, n, &co));
        check_tee2(&r, in, n);
        if (k == 1) {
            /* The 10-byte captures went into the two blocks the first run gave back. */
            ASSERT_EQ(subproc_buffers_kept(b), 0);
            ASSERT((r.out.data == gave[0] && r.err.data == gave[1]) ||
                   (r.out.data == gave[1] && r.err.data == gave[0]));
        }
        gave[0] = r.out.data;
        gave[1] = r.err.data;
        subproc_buffers_recycle(b, &r);
        ASSERT(r.out.data == NULL && r.err.data == NULL && r.out.len == 0);
        ASSERT(subproc_buffers_kept(b) >= 2 * n);
        free(in);
    }
    subproc_buffers_free(b);
}

/* A limit and its head/tail split are those of a one-shot capture, in a block far larger. */
TEST(buffers_truncation_matches_one_shot)
{
    size_t n = 200000;
    char *in = pattern(n, 42);
    subproc_buffers *b;
    ASSERT_OK(subproc_buffers_new(&b, 0));
    subproc_buffers_give(b, malloc(4u << 20));
    subproc_buffers_give(b, malloc(4u << 20));
    size_t limits[] = {1000, 65536 + 3, n, n + 1};
    for (size_t k = 0; k < sizeof limits / sizeof *limits; k++) {
        subproc_comm_opts one = SUBPROC_COMM_OPTS_INIT, re = SUBPROC_COMM_OPTS_INIT;
        one.max_output = re.max_output = limits[k];
        re.buffers = b;
        subproc_result a, c;
        ASSERT_OK(run_tee2(&a, in, n, &one));
        ASSERT_OK(run_tee2(&c, in, n, &re));
        ASSERT_EQ(c.out.len, a.out.len);
        ASSERT_EQ(c.out.head_len, a.out.head_len);
        ASSERT_EQ(c.out.truncated, a.out.truncated);
        ASSERT_EQ(c.out.total, n);
        ASSERT(memcmp(c.out.data, a.out.data, a.out.len + 1) == 0);
        ASSERT_EQ(c.err.len, a.err.len);
        ASSERT(memcmp(c.err.data, a.err.data, a.err.len + 1) == 0);
        subproc_result_free(&a);
        subproc_buffers_recycle(b, &c);
    }
    subproc_buffers_free(b);
    free(in);
}

/* max_bytes bounds what is kept; subproc_result_free() on a reused capture frees it (no leak
 * under ASan); a capture taken from b stays valid after subproc_buffers_free(b). */
TEST(buffers_limits_and_ownership)
{
    subproc_buffers *b;
    ASSERT_EQ(subproc_buffers_new(NULL, 0), -EINVAL);
    ASSERT_OK(subproc_buffers_new(&b, 1u << 20));
    subproc_buffers_give(b, malloc(2u << 20)); /* larger than the limit: freed */
    ASSERT_EQ(subproc_buffers_kept(b), 0);
    subproc_buffers_give(b, malloc(600000));
    ASSERT(subproc_buffers_kept(b) >= 600000 && subproc_buffers_kept(b) <= (1u << 20));
    subproc_buffers_give(b, malloc(700000)); /* room is made by letting the smaller one go */
    ASSERT(subproc_buffers_kept(b) >= 700000 && subproc_buffers_kept(b) < 1300000);
    subproc_buffers_give(b, NULL);

    char *in = pattern(5000, 3);
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.buffers = b;
    subproc_result r;
    ASSERT_OK(run_tee2(&r, in, 5000, &co));
    subproc_buffers_free(b);
    check_tee2(&r, in, 5000);
    subproc_result_free(&r);
    subproc_buffers_recycle(NULL, NULL);
    co.buffers = NULL;
    ASSERT_OK(run_tee2(&r, in, 5000, &co)); /* a capture without buffers, given back to none */
    check_tee2(&r, in, 5000);
    subproc_buffers_recycle(NULL, &r); /* = subproc_result_free() */
    ASSERT(r.out.data == NULL);
    free(in);
}

/* A caller built against version 1 has no buffers field: whatever follows its struct in memory
 * is never read as one. */
TEST(buffers_version1_opts_ignore_the_field)
{
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.version = 1;
    co.buffers = (subproc_buffers *)(uintptr_t)8; /* would crash if used */
    char *in = pattern(70000, 5);
    subproc_result r;
    ASSERT_OK(run_tee2(&r, in, 70000, &co));
    check_tee2(&r, in, 70000);
    subproc_result_free(&r);
    co.version = 3;
    ASSERT_EQ(run_tee2(&r, in, 10, &co), -EINVAL);
    subproc_result_free(&r);
    free(in);
}

struct worker {
    subproc_buffers *b;
    unsigned seed;
    int bad;
};

static void *worker(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 8 && !w->bad; i++) {
        size_t n = 1000 + (size_t)((w->seed * 7919u + (unsigned)i * 104729u) % (3u << 20));
        char *in = pattern(n, w->seed * 100 + (unsigned)i);
        subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
        co.buffers = w->b;
        subproc_result r;
        subproc_opts o = SUBPROC_OPTS_INIT;
        const char *argv[] = {test_self, "helper", "tee2", NULL};
        o.argv = argv;
        co.input = in;
        co.input_len = n;
        if (subproc_run(&r, &o, &co) != 0 || r.out.len != n || r.err.len != n ||
            memcmp(r.out.data, in, n) != 0 || r.out.data[n] != '\0')
            w->bad = 1;
        for (size_t k = 0; k < n && !w->bad; k++)
            if ((r.err.data[k] ^ in[k]) != (char)0xff) w->bad = 1;
        subproc_buffers_recycle(w->b, &r);
        free(in);
    }
    return NULL;
}

/* One subproc_buffers shared by four threads capturing at once: every capture byte-exact. */
TEST_T(buffers_shared_by_threads, 120)
{
    subproc_buffers *b;
    ASSERT_OK(subproc_buffers_new(&b, 0));
    pthread_t t[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){b, (unsigned)i + 1, 0};
        ASSERT_OK(pthread_create(&t[i], NULL, worker, &w[i]));
    }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++) ASSERT_EQ(w[i].bad, 0);
    ASSERT(subproc_buffers_kept(b) > 0);
    subproc_buffers_free(b);
}

/* The pool: captures of a second batch go into the blocks the first batch gave back, each one
 * byte-exact; a job that wrote nothing still has out == NULL. */
TEST_T(buffers_pool_reuse, 60)
{
    enum { N = 12 };
    subproc_buffers *b;
    ASSERT_OK(subproc_buffers_new(&b, 0));
    char counts[N][16];
    const char *argv[N][5];
    subproc_opts o[N];
    for (int i = 0; i < N; i++) {
        snprintf(counts[i], sizeof counts[i], "%d", i == 3 ? 0 : 1000 * i * i + 7);
        const char **h = helper_argv("count", counts[i], NULL);
        for (int k = 0; k < 5; k++) argv[i][k] = h[k];
        o[i] = (subproc_opts)SUBPROC_OPTS_INIT;
        o[i].argv = argv[i];
    }
    char *first[N];
    int reused = 0;
    for (int batch = 0; batch < 2; batch++) {
        subproc_job jobs[N];
        memset(jobs, 0, sizeof jobs);
        for (int i = 0; i < N; i++) jobs[i].opts = &o[i];
        subproc_pool_opts po = SUBPROC_POOL_OPTS_INIT;
        po.flags = SUBPROC_POOL_CAPTURE;
        po.jobs = 3;
        po.buffers = b;
        ASSERT_OK(subproc_pool_run(jobs, N, &po));
        for (int i = 0; i < N; i++) {
            long n = atol(counts[i]);
            ASSERT_EQ(jobs[i].status.code, 0);
            ASSERT_EQ(jobs[i].out_len, (size_t)n * 8);
            if (n == 0) ASSERT(jobs[i].out == NULL);
            char line[32];
            for (long k = 0; k < n; k++) {
                snprintf(line, sizeof line, "%07ld\n", k);
                if (memcmp(jobs[i].out + k * 8, line, 8) != 0)
                    test_failf(__FILE__, __LINE__, "job %d line %ld differs", i, k);
            }
            if (n) ASSERT_EQ(jobs[i].out[n * 8], '\0');
            if (batch == 0) {
                first[i] = jobs[i].out;
            } else if (n) {
                /* The first batch's blocks are still allocated (kept by b): malloc cannot hand
                 * them out again, only b can. A block that had to grow may have moved. */
                for (int k = 0; k < N; k++) reused += first[k] && first[k] == jobs[i].out;
            }
        }
        for (int i = 0; i < N; i++) subproc_buffers_recycle_job(b, &jobs[i]);
        ASSERT(subproc_buffers_kept(b) > 0);
    }
    ASSERT(reused > 0);
    /* A version 2 caller has no buffers field. */
    subproc_pool_opts v2 = SUBPROC_POOL_OPTS_INIT;
    v2.version = 2;
    v2.flags = SUBPROC_POOL_CAPTURE;
    v2.buffers = (subproc_buffers *)(uintptr_t)8;
    subproc_job j;
    memset(&j, 0, sizeof j);
    j.opts = &o[1];
    ASSERT_OK(subproc_pool_run(&j, 1, &v2));
    ASSERT_EQ(j.out_len, 1007u * 8);
    subproc_job_clear(&j);
    subproc_buffers_free(b);
}
