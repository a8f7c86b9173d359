/* test_io.c - communicate, run, capture limits, deadlines, the line reader and popen. */
#include "test.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run the helper in MODE through subproc_run. */
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

static char *pattern(size_t n, unsigned seed)
{
    char *b = malloc(n);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        b[i] = (char)(seed >> 16);
    }
    return b;
}

TEST(io_2mib_in_while_2mib_out_and_err)
{
    size_t n = 2u << 20;
    char *in = pattern(n, 7);
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.input = in;
    co.input_len = n;
    subproc_result res;
    ASSERT_OK(run_mode(&res, &co, "tee2", NULL));
    ASSERT_EQ(res.status.exited, 1);
    ASSERT_EQ(res.status.code, 0);
    ASSERT_EQ(res.out.len, n);
    ASSERT_EQ(res.err.len, n);
    ASSERT_EQ(res.out.total, n);
    ASSERT_EQ(res.out.truncated, 0);
    ASSERT_EQ(res.out.head_len, n);
    ASSERT(memcmp(res.out.data, in, n) == 0);
    for (size_t i = 0; i < n; i++) in[i] = (char)(in[i] ^ 0xff);
    ASSERT(memcmp(res.err.data, in, n) == 0);
    ASSERT_EQ(res.out.data[n], '\0');
    ASSERT_EQ(res.timed_out, 0);
    ASSERT(res.wall_usec > 0);
    subproc_result_free(&res);
    ASSERT(res.out.data == NULL);
    free(in);
}

TEST(io_empty_input_gives_eof)
{
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.input = "";
    co.input_len = 0;
    co.timeout_ms = 20000; /* must not hang: cat only ends on EOF */
    subproc_result res;
    ASSERT_OK(run_mode(&res, &co, "cat", NULL));
    ASSERT_EQ(res.timed_out, 0);
    ASSERT_EQ(res.status.exited, 1);
    ASSERT_EQ(res.status.code, 0);
    ASSERT_EQ(res.out.len, 0);
    ASSERT_STREQ(res.out.data, "");
    subproc_result_free(&res);
}

TEST(io_child_exits_without_reading_10mib)
{
    struct sigaction before, after;
    sigaction(SIGPIPE, NULL, &before);
    sigset_t mask_before, mask_after, pend;
    pthread_sigmask(SIG_SETMASK, NULL, &mask_before);

    size_t n = 10u << 20;
    char *in = pattern(n, 3);
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.input = in;
    co.input_len = n;
    subproc_result res;
    ASSERT_OK(run_mode(&res, &co, "exit", "3", NULL));
    ASSERT_EQ(res.status.exited, 1);
    ASSERT_EQ(res.status.code, 3);
    subproc_result_free(&res);

    /* We are alive; nothing about SIGPIPE changed, and none is left pending. */
    sigaction(SIGPIPE, NULL, &after);
    ASSERT(after.sa_handler == before.sa_handler);
    ASSERT(after.sa_handler == SIG_DFL);
    pthread_sigmask(SIG_SETMASK, NULL, &mask_after);
    ASSERT_EQ(sigismember(&mask_after, SIGPIPE), sigismember(&mask_before, SIGPIPE));
    sigpending(&pend);
    ASSERT_EQ(sigismember(&pend, SIGPIPE), 0);
    free(in);
}

TEST(io_callers_pending_sigpipe_is_left_alone)
{
    sigset_t s, pend;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    raise(SIGPIPE);
    size_t n = 4u << 20;
    char *in = pattern(n, 5);
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.input = in;
    co.input_len = n;
    subproc_result res;
    ASSERT_OK(run_mode(&res, &co, "exit", "0", NULL));
    subproc_result_free(&res);
    sigpending(&pend);
    ASSERT_EQ(sigismember(&pend, SIGPIPE), 1);
    int sig;
    ASSERT_OK(sigwait(&s, &sig));
    ASSERT_EQ(sig, SIGPIPE);
    free(in);
}

TEST(io_timeout_returns_partial_output)
{
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.timeout_ms = 300;
    subproc_result res;
    ASSERT_EQ(run_mode(&res, &co, "forever", NULL), -ETIMEDOUT);
    ASSERT_EQ(res.timed_out, 1);
    ASSERT_EQ(res.status.signaled, 1);
    ASSERT_EQ(res.status.signal, SIGTERM);
    ASSERT(res.out.len > 0);
    ASSERT(strncmp(res.out.data, "tick 0\ntick 1\n", 14) == 0);
    ASSERT_EQ(res.out.total, res.out.len);
    char buf[80];
    ASSERT_STREQ(subproc_result_str(&res, buf, sizeof buf), "killed by SIGTERM (timed out)");
    subproc_result_free(&res);
}

TEST(io_timeout_kills_child_ignoring_term)
{
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.timeout_ms = 200;
    co.kill_grace_ms = 100;
    subproc_result res;
    ASSERT_EQ(run_mode(&res, &co, "ignore-term", "60000", NULL), -ETIMEDOUT);
    ASSERT_EQ(res.status.signaled, 1);
    ASSERT_EQ(res.status.signal, SIGKILL);
    ASSERT_STREQ(res.out.data, "ready\n");
    subproc_result_free(&res);
}

TEST(io_timeout_while_child_refuses_input)
{
    /* The child neither reads its stdin nor exits: the pump sits on a full pipe until the
     * deadline, and the handle has no process group, so only the child is signalled. */
    size_t n = 10u << 20;
    char *in = pattern(n, 9);
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("sleep", "60000", NULL);
    o.flags = SUBPROC_RESET_SIGNALS; /* whatever our own caller ignores */
    o.stdio[0].kind = o.stdio[1].kind = SUBPROC_IO_PIPE;
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.input = in;
    co.input_len = n;
    co.timeout_ms = 300;
    co.kill_signal = SIGUSR2;
    subproc_result res;
    ASSERT_EQ(subproc_proc_communicate(p, &co, &res), -ETIMEDOUT);
    ASSERT_EQ(res.timed_out, 1);
    ASSERT_EQ(res.status.signaled, 1);
    ASSERT_EQ(res.status.signal, SIGUSR2);
    ASSERT_STREQ(res.out.data, "");
    ASSERT_EQ(subproc_proc_fd(p, 0), -1); /* the pipe ends were consumed */
    ASSERT_EQ(subproc_proc_fd(p, 1), -1);
    ASSERT_EQ(subproc_proc_done(p), 1);
    subproc_result_free(&res);
    subproc_proc_free(p);
    free(in);
}

TEST(io_grandchild_holding_pipe_does_not_block_deadline)
{
    /* sh ends at once; its background sleep holds stdout. The call returns sh's real status
     * after the default wait delay, not a timeout, and says the output may be incomplete. */
    const char *argv[] = {"/bin/sh", "-c", "sleep 100 & echo hi; echo $! >&2", NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.timeout_ms = 1000;
    subproc_result res;
    long long t0 = mono_ms();
    int r = subproc_run(&res, &o, &co);
    long long took = mono_ms() - t0;
    /* The issue asks for this bound explicitly: a 1 s deadline returns within 2 s. */
    if (res.err.data && atoi(res.err.data) > 1) kill(atoi(res.err.data), SIGKILL);
    ASSERT(took < 2000 + SUBPROC_COMM_WAIT_DELAY_DEFAULT_MS);
    ASSERT_EQ(r, 0);
    ASSERT_EQ(res.timed_out, 0);
    ASSERT_EQ(res.output_incomplete, 1);
    ASSERT_STREQ(res.out.data, "hi\n");
    ASSERT_EQ(res.status.exited, 1); /* sh itself had finished */
    ASSERT_EQ(res.status.code, 0);
    subproc_result_free(&res);
}

static void expect_line(const char *d, long i)
{
    char want[32];
    snprintf(want, sizeof want, "%07ld\n", i);
    if (memcmp(d, want, 8) != 0) test_failf(__FILE__, __LINE__, "line %ld: %.8s", i, d);
}

TEST(io_capture_limit_keeps_head_and_tail)
{
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.max_output = 1000;
    subproc_result res;
    ASSERT_OK(run_mode(&res, &co, "count", "100000", NULL)); /* 800,000 bytes */
    ASSERT_EQ(res.out.truncated, 1);
    ASSERT_EQ(res.out.total, 800000);
    ASSERT_EQ(res.out.len, 1000);
    ASSERT_EQ(res.out.head_len, 500);
    ASSERT_EQ(strlen(res.out.data), 1000);
    for (long i = 0; i < 62; i++) expect_line(res.out.data + i * 8, i); /* 496 bytes of head */
    ASSERT(memcmp(res.out.data + 496, "0000", 4) == 0);                 /* start of line 62 */
    /* The tail: the last 500 bytes = 4 bytes of line 99937, then lines 99938..99999. */
    ASSERT(memcmp(res.out.data + 500, "937\n", 4) == 0);
    for (long i = 0; i < 62; i++) expect_line(res.out.data + 504 + i * 8, 99938 + i);
    subproc_result_free(&res);

    /* Exactly at the limit: nothing lost, not truncated. */
    co.max_output = 800;
    ASSERT_OK(run_mode(&res, &co, "count", "100", NULL));
    ASSERT_EQ(res.out.truncated, 0);
    ASSERT_EQ(res.out.len, 800);
    ASSERT_EQ(res.out.head_len, 800);
    for (long i = 0; i < 100; i++) expect_line(res.out.data + i * 8, i);
    subproc_result_free(&res);
}

/* Captures of many MiB grow their buffer many times and are prefaulted ahead of each read
 * (io.c): every byte must still land where it belongs, with and without a limit. */
TEST(io_large_capture_is_byte_exact)
{
    const long lines = 2000000; /* 16,000,000 bytes in writes of 100,003 bytes */
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    subproc_result res;
    ASSERT_OK(run_mode(&res, &co, "bigcount", "2000000", NULL));
    ASSERT_EQ(res.status.code, 0);
    ASSERT_EQ(res.out.len, (size_t)lines * 8);
    ASSERT_EQ(res.out.truncated, 0);
    for (long i = 0; i < lines; i++) expect_line(res.out.data + i * 8, i);
    ASSERT_EQ(res.out.data[res.out.len], '\0');
    subproc_result_free(&res);

    /* A limit of 5 MiB: head of 2.5 MiB (a multiple of 8), then the last 2.5 MiB. */
    co.max_output = 5u << 20;
    ASSERT_OK(run_mode(&res, &co, "bigcount", "2000000", NULL));
    ASSERT_EQ(res.out.truncated, 1);
    ASSERT_EQ(res.out.total, (unsigned long long)lines * 8);
    ASSERT_EQ(res.out.len, 5u << 20);
    size_t head = res.out.head_len;
    ASSERT_EQ(head, (5u << 20) / 2);
    for (long i = 0; i < (long)head / 8; i++) expect_line(res.out.data + i * 8, i);
    size_t tail = res.out.len - head;
    long first = lines - (long)(tail / 8);
    for (long i = first; i < lines; i++) expect_line(res.out.data + head + (size_t)(i - first) * 8, i);
    subproc_result_free(&res);
}

TEST(io_tee_copies_and_captures)
{
    int po[2], pe[2];
    ASSERT_OK(pipe(po));
    ASSERT_OK(pipe(pe));
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.flags = SUBPROC_COMM_TEE_OUT | SUBPROC_COMM_TEE_ERR;
    co.tee_out_fd = po[1];
    co.tee_err_fd = pe[1];
    subproc_result res;
    ASSERT_OK(run_mode(&res, &co, "out", "to stdout", "to stderr", NULL));
    close(po[1]);
    close(pe[1]);
    char *o = read_all(po[0], NULL), *e = read_all(pe[0], NULL);
    ASSERT_STREQ(o, "to stdout");
    ASSERT_STREQ(e, "to stderr");
    ASSERT_STREQ(res.out.data, "to stdout");
    ASSERT_STREQ(res.err.data, "to stderr");
    free(o);
    free(e);
    close(po[0]);
    close(pe[0]);
    subproc_result_free(&res);
}

struct lines {
    char got[8][32];
    int stream[8];
    int n;
    int stop_after;
};

static int on_line(void *ud, int stream, const char *d, size_t len)
{
    struct lines *l = ud;
    if (l->n < 8 && len < 32) {
        memcpy(l->got[l->n], d, len);
        l->got[l->n][len] = '\0';
        l->stream[l->n] = stream;
    }
    l->n++;
    return l->stop_after && l->n >= l->stop_after;
}

TEST(io_line_callback_across_chunk_boundaries)
{
    struct lines l;
    memset(&l, 0, sizeof l);
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.flags = SUBPROC_COMM_LINES | SUBPROC_COMM_NO_CAPTURE;
    co.on_output = on_line;
    co.ud = &l;
    subproc_result res;
    ASSERT_OK(run_mode(&res, &co, "chunks", "hel", "lo\nwor", "ld\n", "a\nb\n", "tail", NULL));
    ASSERT_EQ(l.n, 5);
    ASSERT_STREQ(l.got[0], "hello\n");
    ASSERT_STREQ(l.got[1], "world\n");
    ASSERT_STREQ(l.got[2], "a\n");
    ASSERT_STREQ(l.got[3], "b\n");
    ASSERT_STREQ(l.got[4], "tail");
    ASSERT_EQ(l.stream[0], 1);
    ASSERT(res.out.data == NULL); /* NO_CAPTURE */
    ASSERT_EQ(res.out.total, 20);
    subproc_result_free(&res);
}

TEST(io_callback_stop_cancels_and_kills)
{
    struct lines l;
    memset(&l, 0, sizeof l);
    l.stop_after = 3;
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.flags = SUBPROC_COMM_LINES;
    co.on_output = on_line;
    co.ud = &l;
    subproc_result res;
    ASSERT_EQ(run_mode(&res, &co, "forever", NULL), -ECANCELED);
    ASSERT_EQ(l.n, 3); /* never called again after asking to stop */
    ASSERT_STREQ(l.got[2], "tick 2\n");
    ASSERT_EQ(res.status.signaled, 1);
    ASSERT_EQ(res.timed_out, 0);
    subproc_result_free(&res);
}

TEST(io_reader_lines_across_chunk_boundaries)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("chunks", "hel", "lo\nwor", "ld\n\n", "a\nb\n", "tail", NULL);
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    subproc_reader *r;
    ASSERT_OK(subproc_reader_new(&r, subproc_proc_take_fd(p, 1), 0, SUBPROC_READER_OWN_FD));
    const char *want[] = {"hello\n", "world\n", "\n", "a\n", "b\n", "tail"};
    const char *line;
    size_t len;
    for (size_t i = 0; i < 6; i++) {
        ASSERT_EQ(subproc_reader_readline(r, &line, &len, 10000), 1);
        ASSERT_STREQ(line, want[i]);
        ASSERT_EQ(len, strlen(want[i]));
    }
    ASSERT_EQ(subproc_reader_readline(r, &line, &len, 10000), 0);
    ASSERT_EQ(subproc_reader_readline(r, &line, &len, -1), 0);
    subproc_reader_free(r);
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(st.code, 0);
    subproc_proc_free(p);
}

TEST(io_reader_timeout_and_long_records)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("chunks", "abcdefghij", "klm;n", NULL);
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    subproc_reader *r;
    int fd = subproc_proc_fd(p, 1);
    ASSERT_OK(subproc_reader_new(&r, fd, 4, 0));
    const char *d;
    size_t len;
    /* Records longer than max_record come in pieces; a timeout loses nothing. */
    ASSERT_EQ(subproc_reader_read_until(r, ';', &d, &len, 10000), 1);
    ASSERT_STREQ(d, "abcd");
    ASSERT_EQ(subproc_reader_read_until(r, ';', &d, &len, 10000), 1);
    ASSERT_STREQ(d, "efgh");
    ASSERT_EQ(subproc_reader_read_until(r, ';', &d, &len, 0), -ETIMEDOUT);
    ASSERT_EQ(subproc_reader_read_until(r, ';', &d, &len, 10000), 1);
    ASSERT_STREQ(d, "ijkl");
    ASSERT_EQ(subproc_reader_read_until(r, ';', &d, &len, 10000), 1);
    ASSERT_STREQ(d, "m;");
    ASSERT_EQ(subproc_reader_read_until(r, ';', &d, &len, 10000), 1);
    ASSERT_STREQ(d, "n");
    ASSERT_EQ(subproc_reader_read_until(r, ';', &d, &len, 10000), 0);
    subproc_reader_free(r);
    ASSERT(fcntl(fd, F_GETFD) != -1); /* not ours to close without OWN_FD */
    ASSERT_OK(subproc_proc_wait(p, NULL));
    subproc_proc_free(p);
}

TEST(io_check_mode)
{
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.flags = SUBPROC_COMM_CHECK;
    subproc_result res;
    ASSERT_EQ(run_mode(&res, &co, "exit", "3", NULL), -SUBPROC_ECHECK);
    ASSERT_EQ(res.status.code, 3);
    ASSERT_EQ(res.error.err, SUBPROC_ECHECK);
    ASSERT_STREQ(res.error.path, "exited with 3");
    ASSERT_STREQ(subproc_strerror(-SUBPROC_ECHECK), "Child process did not exit with 0");
    char buf[80];
    ASSERT_STREQ(subproc_result_str(&res, buf, sizeof buf), "exited with 3");
    subproc_result_free(&res);
    ASSERT_OK(run_mode(&res, &co, "exit", "0", NULL));
    subproc_result_free(&res);
}

TEST(io_child_killed_by_signal)
{
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    subproc_result res;
    ASSERT_OK(run_mode(&res, &co, "kill", "9", NULL));
    ASSERT_EQ(res.status.signaled, 1);
    ASSERT_EQ(res.status.signal, SIGKILL);
    subproc_result_free(&res);
    co.flags = SUBPROC_COMM_CHECK;
    ASSERT_EQ(run_mode(&res, &co, "kill", "15", NULL), -SUBPROC_ECHECK);
    ASSERT_STREQ(res.error.path, "killed by SIGTERM");
    subproc_result_free(&res);
}

static volatile sig_atomic_t usr1_count;
static void on_usr1(int sig)
{
    (void)sig;
    usr1_count++;
}

struct pester {
    pthread_t target;
    int stop; /* __atomic: read by the pester thread */
};

static void *pester_main(void *arg)
{
    struct pester *ps = arg;
    struct timespec ts = {0, 200000};
    while (!__atomic_load_n(&ps->stop, __ATOMIC_ACQUIRE)) {
        pthread_kill(ps->target, SIGUSR1);
        nanosleep(&ts, NULL);
    }
    return NULL;
}

TEST(io_eintr_during_communicate_never_surfaces)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1; /* no SA_RESTART: every blocking call sees EINTR */
    sigaction(SIGUSR1, &sa, NULL);
    struct pester ps = {pthread_self(), 0};
    pthread_t th;
    ASSERT_OK(pthread_create(&th, NULL, pester_main, &ps));

    size_t n = 1u << 20;
    char *in = pattern(n, 11);
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("tee2", NULL);
    o.stdio[0].kind = o.stdio[1].kind = o.stdio[2].kind = SUBPROC_IO_PIPE;
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.input = in;
    co.input_len = n;
    subproc_result res;
    ASSERT_OK(subproc_proc_communicate(p, &co, &res));
    ASSERT_EQ(res.out.len, n);
    ASSERT(memcmp(res.out.data, in, n) == 0);
    ASSERT_EQ(res.err.len, n);
    subproc_result_free(&res);
    subproc_proc_free(p);

    /* A slow child: communicate sleeps in poll while the signals arrive. */
    co = (subproc_comm_opts)SUBPROC_COMM_OPTS_INIT;
    co.timeout_ms = 20000;
    long before = usr1_count;
    ASSERT_OK(run_mode(&res, &co, "chunks", "a", "b", "c", "d", "e", "f", NULL));
    ASSERT_STREQ(res.out.data, "abcdef");
    ASSERT_EQ(res.timed_out, 0);
    subproc_result_free(&res);
    __atomic_store_n(&ps.stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    ASSERT(usr1_count > before);
    free(in);
}

TEST(io_communicate_errors)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("exit", "0", NULL);
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    subproc_result res;
    co.input = "x";
    co.input_len = 1;
    ASSERT_EQ(subproc_proc_communicate(p, &co, &res), -EINVAL); /* stdin is not a pipe */
    co = (subproc_comm_opts)SUBPROC_COMM_OPTS_INIT;
    co.version = 99;
    ASSERT_EQ(subproc_proc_communicate(p, &co, &res), -EINVAL);
    co = (subproc_comm_opts)SUBPROC_COMM_OPTS_INIT;
    co.flags = SUBPROC_COMM_TEE_OUT;
    co.tee_out_fd = -1;
    ASSERT_EQ(subproc_proc_communicate(p, &co, &res), -EINVAL);
    ASSERT_OK(subproc_proc_communicate(p, NULL, &res)); /* no pipes at all: just waits */
    ASSERT_EQ(res.status.exited, 1);
    subproc_result_free(&res);
    subproc_proc_free(p);

    /* A failed spawn in run fills the error detail. */
    const char *argv[] = {"/no/such/program", NULL};
    o.argv = argv;
    ASSERT_EQ(subproc_run(&res, &o, NULL), -ENOENT);
    ASSERT_EQ(res.error.step, SUBPROC_STEP_EXEC);
    ASSERT_STREQ(res.error.path, "/no/such/program");
    subproc_result_free(&res);
}

static long status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long kb = -1;
    size_t k = strlen(field);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, k) && line[k] == ':' && sscanf(line + k + 1, "%ld", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

TEST_T(io_capture_1gib_with_1mib_limit_keeps_rss_small, 120)
{
    /* Reset the peak to the current RSS where the kernel allows it (clear_refs "5"). */
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        write_all(fd, "5", 1);
        close(fd);
    }
    /* Compared with the resident size now, so an inherited peak cannot hide growth. */
    long start = status_kb("VmRSS");
    ASSERT(start > 0);
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.max_output = 1u << 20;
    subproc_result res;
    ASSERT_OK(run_mode(&res, &co, "spew", "1073741824", NULL));
    long peak = status_kb("VmHWM");
    ASSERT_EQ(res.out.total, 1ull << 30);
    ASSERT_EQ(res.out.truncated, 1);
    ASSERT_EQ(res.out.len, 1u << 20);
    ASSERT_EQ(res.status.code, 0);
    printf("    peak RSS grew by %ld KiB while capturing 1 GiB\n", peak - start);
    ASSERT(peak - start < 16 * 1024);
    subproc_result_free(&res);
}

TEST(io_popen_read_and_write)
{
    FILE *f;
    ASSERT_OK(subproc_popen(&f, helper_argv("out", "hello\nworld\n", NULL), "r", NULL, NULL));
    char line[64];
    ASSERT(fgets(line, sizeof line, f) != NULL);
    ASSERT_STREQ(line, "hello\n");
    ASSERT(fgets(line, sizeof line, f) != NULL);
    ASSERT_STREQ(line, "world\n");
    ASSERT(fgets(line, sizeof line, f) == NULL);
    subproc_status st;
    ASSERT_OK(subproc_pclose(f, &st));
    ASSERT_EQ(st.exited, 1);
    ASSERT_EQ(st.code, 0);

    /* "w" into a child that reads it all and reports on stdout (a file we read back). */
    char path[] = "/tmp/subproc-popen-XXXXXX";
    int tfd = mkstemp(path);
    ASSERT(tfd >= 0);
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.stdio[1] = (subproc_io){.kind = SUBPROC_IO_FD, .fd = tfd};
    ASSERT_OK(subproc_popen(&f, helper_argv("cat", NULL), "we", &o, NULL));
    fprintf(f, "via %s\n", "stdio");
    ASSERT_OK(subproc_pclose(f, &st));
    ASSERT_EQ(st.code, 0);
    lseek(tfd, 0, SEEK_SET);
    char *got = read_all(tfd, NULL);
    ASSERT_STREQ(got, "via stdio\n");
    free(got);
    close(tfd);
    unlink(path);

    /* Writing to a child that exited: EPIPE, not SIGPIPE; the status still comes back. */
    ASSERT_OK(subproc_popen(&f, helper_argv("exit", "4", NULL), "w", NULL, NULL));
    char *big = pattern(1u << 20, 1);
    size_t w = fwrite(big, 1, 1u << 20, f);
    int flushed = fflush(f);
    ASSERT(w < (1u << 20) || flushed != 0);
    ASSERT_EQ(subproc_pclose(f, &st), 0);
    ASSERT_EQ(st.code, 4);
    free(big);

    ASSERT_EQ(subproc_popen(&f, helper_argv("exit", "0", NULL), "rw", NULL, NULL), -EINVAL);
    ASSERT_EQ(subproc_pclose(stdout, NULL), -EINVAL);
}

struct chunks {
    size_t bytes[3];
};

static int on_chunk(void *ud, int stream, const char *d, size_t len)
{
    struct chunks *c = ud;
    (void)d;
    if (stream == 1 || stream == 2) c->bytes[stream] += len;
    return 0;
}

TEST(io_chunk_callback_tags_streams)
{
    size_t n = 300000;
    char *in = pattern(n, 13);
    struct chunks c = {{0, 0, 0}};
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.input = in;
    co.input_len = n;
    co.on_output = on_chunk;
    co.ud = &c;
    subproc_result res;
    ASSERT_OK(run_mode(&res, &co, "tee2", NULL));
    ASSERT_EQ(c.bytes[1], n);
    ASSERT_EQ(c.bytes[2], n);
    ASSERT_EQ(res.out.len, n); /* captured as well */
    ASSERT_EQ(res.err.total, n);
    subproc_result_free(&res);
    free(in);
}
