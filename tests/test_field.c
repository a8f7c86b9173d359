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
