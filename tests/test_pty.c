/* test_pty.c - children on a pseudo-terminal: session and controlling terminal, fd choices,
 * modes and window size, reading to the end, expect-style dialogue, EOF and interrupt, deadlines.
 */
#include "test.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

static void all_pty(subproc_opts *o, const subproc_pty_opts *po)
{
    for (int i = 0; i < 3; i++)
        o->stdio[i] = (subproc_io){.kind = SUBPROC_IO_PTY, .pty = po};
}

/* subproc_run of the helper in MODE with o's stdio. */
static int run_in(subproc_opts *o, subproc_result *res, const subproc_comm_opts *co,
                  const char *mode, const char *arg)
{
    o->argv = helper_argv(mode, arg, NULL);
    return subproc_run(res, o, co);
}

TEST(pty_session_and_controlling_terminal)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    all_pty(&o, NULL);
    subproc_result res;
    ASSERT_OK(run_in(&o, &res, NULL, "ttyinfo", NULL));
    ASSERT_EQ(res.status.exited, 1);
    ASSERT_EQ(subproc_status_code(&res.status), 0);
    /* Written to fd 2 and fd 1, both the terminal: twice, with the terminal's \r\n. */
    ASSERT_STREQ(res.out.data, "tty=111 leader=1 fg=1 ctty=1\r\ntty=111 leader=1 fg=1 ctty=1\r\n");
    ASSERT_EQ(res.err.len, 0);
    subproc_result_free(&res);
}

TEST(pty_every_fd_choice)
{
    for (int mask = 1; mask < 8; mask++) {
        subproc_opts o = SUBPROC_OPTS_INIT;
        for (int i = 0; i < 3; i++)
            o.stdio[i].kind = (mask >> i) & 1 ? SUBPROC_IO_PTY
                              : i == 0        ? SUBPROC_IO_NULL
                                              : SUBPROC_IO_PIPE;
        subproc_result res;
        ASSERT_OK(run_in(&o, &res, NULL, "ttyinfo", NULL));
        ASSERT_EQ(subproc_status_code(&res.status), 0);
        char want[64];
        snprintf(want, sizeof want, "tty=%d%d%d leader=1 fg=1 ctty=1", mask & 1, (mask >> 1) & 1,
                 (mask >> 2) & 1);
        /* fd 1's line: in the stdout pipe, or the terminal's output (stream 1, or 2 when only
         * stderr is on the terminal). */
        ASSERT(strstr(res.out.data, want) != NULL || strstr(res.err.data, want) != NULL);
        if (!(mask & 2)) ASSERT(strstr(res.out.data, want) == res.out.data); /* a pipe: as is */
        if (!(mask & 4) && (mask & 2)) ASSERT_STREQ(res.err.data, strcat(want, "\n"));
        subproc_result_free(&res);
    }
}

TEST(pty_stderr_stays_a_pipe)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    all_pty(&o, NULL);
    o.stdio[2].kind = SUBPROC_IO_PIPE;
    o.argv = helper_argv("out", "to the terminal\n", "to the pipe\n", NULL);
    subproc_result res;
    ASSERT_OK(subproc_run(&res, &o, NULL));
    ASSERT_STREQ(res.out.data, "to the terminal\r\n");
    ASSERT_STREQ(res.err.data, "to the pipe\n");
    subproc_result_free(&res);
}

TEST(pty_termios_defaults_raw_and_given)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    all_pty(&o, NULL);
    subproc_result res;
    ASSERT_OK(run_in(&o, &res, NULL, "termios", NULL));
    ASSERT_STREQ(res.out.data, "icanon=1 echo=1 isig=1 iexten=1 opost=1 onlcr=1 icrnl=1 ixon=1 "
                               "cs8=1 intr=3 quit=28 erase=127 kill=21 eof=4 susp=26 min=1 "
                               "time=0\r\n");
    subproc_result_free(&res);

    subproc_pty_opts po = SUBPROC_PTY_OPTS_INIT;
    po.flags = SUBPROC_PTY_RAW;
    all_pty(&o, &po);
    ASSERT_OK(run_in(&o, &res, NULL, "termios", NULL));
    /* Raw: no output processing either, so a bare \n. */
    ASSERT(strncmp(res.out.data, "icanon=0 echo=0 isig=0 iexten=0 opost=0 ", 40) == 0);
    ASSERT_EQ(res.out.data[res.out.len - 2] != '\r', 1);
    subproc_result_free(&res);

    struct termios t;
    memset(&t, 0, sizeof t);
    t.c_cflag = CS8 | CREAD;
    t.c_lflag = ICANON;
    t.c_cc[VEOF] = 1;
    t.c_cc[VINTR] = 7;
    cfsetispeed(&t, B38400);
    cfsetospeed(&t, B38400);
    po.flags = 0;
    po.termios = &t;
    ASSERT_OK(run_in(&o, &res, NULL, "termios", NULL));
    ASSERT(strncmp(res.out.data,
                   "icanon=1 echo=0 isig=0 iexten=0 opost=0 onlcr=0 icrnl=0 ixon=0 "
                   "cs8=1 intr=7 ",
                   strlen("icanon=1 echo=0 isig=0 iexten=0 opost=0 onlcr=0 icrnl=0 ixon=0 "
                          "cs8=1 intr=7 ")) == 0);
    ASSERT(strstr(res.out.data, " eof=1 ") != NULL);
    subproc_result_free(&res);
}

TEST(pty_copies_modes_and_size_from_a_terminal)
{
    /* A terminal of our own to copy from: the master of a child's pty works as well. */
    subproc_pty_opts src = SUBPROC_PTY_OPTS_INIT;
    src.rows = 33;
    src.cols = 99;
    src.flags = SUBPROC_PTY_RAW;
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.stdio[0] = (subproc_io){.kind = SUBPROC_IO_PTY, .pty = &src};
    o.argv = helper_argv("sleep", "10000", NULL);
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));

    subproc_pty_opts po = SUBPROC_PTY_OPTS_INIT;
    po.flags = SUBPROC_PTY_FROM_FD;
    po.term_fd = subproc_proc_pty(p);
    subproc_opts o2 = SUBPROC_OPTS_INIT;
    all_pty(&o2, &po);
    o2.argv = helper_argv("winsize", NULL);
    subproc_proc *q;
    ASSERT_OK(subproc_spawn(&q, &o2, NULL));
    subproc_expect *e;
    ASSERT_OK(subproc_expect_new(&e, subproc_proc_pty(q), -1, 0, 0));
    subproc_match mt;
    ASSERT_EQ(subproc_expect_match(e, "ready", 0, 10000, &mt), 1);
    /* The size, and raw modes: no \r added to the newline. */
    ASSERT_STREQ(mt.before, "33 99\n");
    subproc_expect_free(e);
    subproc_proc_free(q);
    subproc_proc_free(p);
}

TEST(pty_window_size_and_sigwinch)
{
    subproc_pty_opts po = SUBPROC_PTY_OPTS_INIT;
    po.rows = 40;
    po.cols = 120;
    subproc_opts o = SUBPROC_OPTS_INIT;
    all_pty(&o, &po);
    o.argv = helper_argv("winsize", NULL);
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    int m = subproc_proc_pty(p);
    ASSERT(m >= 3);
    subproc_expect *e;
    ASSERT_OK(subproc_expect_new(&e, m, m, 0, 0));
    subproc_match mt;
    ASSERT_EQ(subproc_expect_match(e, "ready", 0, 10000, &mt), 1);
    ASSERT_STREQ(mt.before, "40 120\r\n");
    unsigned r = 0, c = 0;
    ASSERT_OK(subproc_pty_get_size(m, &r, &c));
    ASSERT_EQ(r, 40);
    ASSERT_EQ(c, 120);
    ASSERT_OK(subproc_pty_set_size(m, 50, 132));
    ASSERT_EQ(subproc_expect_match(e, "winch [0-9]+ [0-9]+", SUBPROC_EXPECT_REGEX, 10000, &mt), 1);
    ASSERT_STREQ(mt.match, "winch 50 132");
    ASSERT_EQ(subproc_expect_match(e, NULL, 0, 10000, &mt), 0);
    ASSERT_STREQ(mt.before, "\r\n");
    ASSERT_EQ(subproc_pty_set_size(m, 0, 80), -EINVAL);
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(subproc_status_code(&st), 0);
    subproc_expect_free(e);
    subproc_proc_free(p);
}

/* The child writes 1 MiB without a newline and exits at once: every byte arrives, in order,
 * though Linux says EIO on the master as soon as the child's side is closed. */
TEST_T(pty_1mib_then_exit_byte_exact_200_runs, 300)
{
    const size_t n = 1u << 20;
    char *want = malloc(n);
    for (size_t i = 0; i < n; i++)
        want[i] = "0123456789abcdefghijklmnopqrstuv"[i % 32];
    for (int run = 0; run < 200; run++) {
        subproc_opts o = SUBPROC_OPTS_INIT;
        o.stdio[0].kind = SUBPROC_IO_NULL;
        o.stdio[1].kind = SUBPROC_IO_PTY;
        o.stdio[2].kind = SUBPROC_IO_PTY;
        subproc_result res;
        ASSERT_OK(run_in(&o, &res, NULL, "spew-exit", "1048576"));
        ASSERT_EQ(subproc_status_code(&res.status), 0);
        if (res.out.len != n || memcmp(res.out.data, want, n) != 0)
            test_failf(__FILE__, __LINE__, "run %d: %zu bytes, not the 1 MiB written", run,
                       res.out.len);
        subproc_result_free(&res);
    }
    /* The same through the expect reader, waiting for end-of-file. */
    for (int run = 0; run < 20; run++) {
        subproc_opts o = SUBPROC_OPTS_INIT;
        all_pty(&o, NULL);
        o.argv = helper_argv("spew-exit", "1048576", NULL);
        subproc_proc *p;
        ASSERT_OK(subproc_spawn(&p, &o, NULL));
        subproc_expect *e;
        ASSERT_OK(subproc_expect_new(&e, subproc_proc_pty(p), -1, 0, 0));
        subproc_match mt;
        ASSERT_EQ(subproc_expect_match(e, NULL, 0, 60000, &mt), 0);
        ASSERT_EQ(mt.before_len, n);
        ASSERT(memcmp(mt.before, want, n) == 0);
        subproc_expect_free(e);
        subproc_proc_free(p);
    }
    free(want);
}

TEST(pty_expect_literal_regex_deadline_and_eof)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    all_pty(&o, NULL);
    o.argv = helper_argv("prompt", NULL);
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    int m = subproc_proc_pty(p);
    subproc_expect *e;
    ASSERT_OK(subproc_expect_new(&e, m, m, 0, 0));
    subproc_match mt;
    ASSERT_EQ(subproc_expect_match(e, "name? ", 0, 10000, &mt), 1);
    ASSERT_STREQ(mt.before, "");
    ASSERT_STREQ(mt.match, "name? ");
    /* Nothing more comes until we type: the deadline passes and nothing is consumed. */
    ASSERT_EQ(subproc_expect_match(e, "hello", 0, 50, &mt), -ETIMEDOUT);
    ASSERT_OK(subproc_expect_send(e, "Bob\n", 4, 10000));
    ASSERT_EQ(subproc_expect_match(e, "hello ([A-Za-z]+)", SUBPROC_EXPECT_REGEX, 10000, &mt), 1);
    ASSERT_STREQ(mt.before, "Bob\r\n"); /* the terminal's echo of what we typed */
    ASSERT_STREQ(mt.match, "hello Bob");
    ASSERT_EQ(subproc_expect_match(e, "NAME\\? ", SUBPROC_EXPECT_REGEX | SUBPROC_EXPECT_ICASE,
                                   10000, &mt),
              1);
    ASSERT_STREQ(mt.before, "\r\n");
    ASSERT_EQ(subproc_expect_match(e, "(", SUBPROC_EXPECT_REGEX, 10, &mt), -EINVAL);
    ASSERT_EQ(subproc_expect_match(e, "", 0, 10, &mt), -EINVAL);
    /* Ctrl-D at the start of a line: the program's read returns 0. */
    ASSERT_OK(subproc_pty_send_eof(m));
    ASSERT_EQ(subproc_expect_match(e, "bye", 0, 10000, &mt), 1);
    ASSERT_EQ(subproc_expect_match(e, "never", 0, 10000, &mt), 0); /* end-of-file */
    ASSERT_STREQ(mt.before, "\r\n");
    ASSERT_STREQ(mt.match, "");
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(st.exited, 1);
    ASSERT_EQ(subproc_status_code(&st), 0);
    subproc_expect_free(e);
    subproc_proc_free(p);
}

TEST(pty_interrupt_character_signals_the_foreground_group)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    all_pty(&o, NULL);
    o.argv = helper_argv("prompt", NULL);
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    int m = subproc_proc_pty(p);
    subproc_expect *e;
    ASSERT_OK(subproc_expect_new(&e, m, m, 0, 0));
    subproc_match mt;
    ASSERT_EQ(subproc_expect_match(e, "name? ", 0, 10000, &mt), 1);
    ASSERT_OK(subproc_pty_send_intr(m));
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(st.signaled, 1);
    ASSERT_EQ(st.signal, SIGINT);
    /* The character is the terminal's current one: a program that moved VINTR is reached. */
    subproc_expect_free(e);
    subproc_proc_free(p);

    struct termios t;
    subproc_pty_opts po = SUBPROC_PTY_OPTS_INIT;
    all_pty(&o, &po);
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    m = subproc_proc_pty(p);
    ASSERT_OK(tcgetattr(m, &t) == 0 ? 0 : -errno);
    t.c_cc[VINTR] = 7; /* as `stty intr ^G` would */
    ASSERT_OK(tcsetattr(m, TCSANOW, &t) == 0 ? 0 : -errno);
    ASSERT_OK(subproc_expect_new(&e, m, m, 0, 0));
    ASSERT_EQ(subproc_expect_match(e, "name? ", 0, 10000, &mt), 1);
    ASSERT_OK(subproc_pty_send_intr(m));
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(st.signal, SIGINT);
    t.c_cc[VINTR] = _POSIX_VDISABLE;
    tcsetattr(m, TCSANOW, &t);
    ASSERT_EQ(subproc_pty_send_intr(m), -ENOTSUP);
    ASSERT_EQ(subproc_pty_send_cc(m, -1), -EINVAL);
    subproc_expect_free(e);
    subproc_proc_free(p);
}

TEST(pty_communicate_sends_eof_after_input)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    all_pty(&o, NULL);
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.input = "one\ntwo";
    co.input_len = 7;
    co.timeout_ms = 20000;
    subproc_result res;
    ASSERT_OK(run_in(&o, &res, &co, "cat", NULL));
    ASSERT_EQ(res.timed_out, 0);
    ASSERT_EQ(subproc_status_code(&res.status), 0);
    ASSERT(strstr(res.out.data, "one\r\n") != NULL);
    ASSERT(strstr(res.out.data, "two") != NULL);
    subproc_result_free(&res);
    /* No input: the EOF character at once, so cat ends. */
    co.input = NULL;
    co.input_len = 0;
    ASSERT_OK(run_in(&o, &res, &co, "cat", NULL));
    ASSERT_EQ(res.timed_out, 0);
    ASSERT_EQ(subproc_status_code(&res.status), 0);
    subproc_result_free(&res);
}

TEST(pty_deadline_kills_the_session)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    all_pty(&o, NULL);
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.timeout_ms = 300;
    co.kill_grace_ms = 200;
    subproc_result res;
    ASSERT_EQ(run_in(&o, &res, &co, "ignore-term", "20000"), -ETIMEDOUT);
    ASSERT_EQ(res.timed_out, 1);
    ASSERT_EQ(res.status.signaled, 1);
    ASSERT_EQ(res.status.signal, SIGKILL);
    ASSERT(strncmp(res.out.data, "ready\r\n", 7) == 0);
    subproc_result_free(&res);

    co.timeout_ms = 300;
    ASSERT_EQ(run_in(&o, &res, &co, "forever", NULL), -ETIMEDOUT);
    ASSERT_EQ(res.status.signal, SIGTERM);
    ASSERT(strncmp(res.out.data, "tick 0\r\n", 8) == 0);
    subproc_result_free(&res);
}

TEST(pty_child_gets_only_its_fds)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    all_pty(&o, NULL);
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    subproc_result res;
    ASSERT_OK(run_in(&o, &res, NULL, "fds", NULL));
    /* fds 0-2 and nothing else: no master, no second slave. */
    int lines = 0;
    for (const char *s = res.out.data; *s; s++)
        lines += *s == '\n';
    ASSERT_EQ(lines, 3);
    subproc_result_free(&res);
}

TEST(pty_bad_options)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    all_pty(&o, NULL);
    o.argv = helper_argv("exit", "0", NULL);
    o.flags = SUBPROC_JOIN_PGROUP;
    o.pgid = getpgrp();
    subproc_proc *p;
    subproc_error err;
    ASSERT_EQ(subproc_spawn(&p, &o, &err), -EINVAL);
    ASSERT_EQ(err.step, SUBPROC_STEP_VALIDATE);
    o.flags = 0;
    subproc_pty_opts po = {0};
    o.stdio[1].pty = &po; /* no version */
    ASSERT_EQ(subproc_spawn(&p, &o, &err), -EINVAL);
    ASSERT_EQ(err.fd, 1);
    po.version = SUBPROC_PTY_OPTS_VERSION;
    po.flags = SUBPROC_PTY_FROM_FD;
    po.term_fd = 1000;
    ASSERT_EQ(subproc_spawn(&p, &o, &err), -EBADF);
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    po.term_fd = devnull; /* not a terminal */
    ASSERT_EQ(subproc_spawn(&p, &o, &err), -ENOTTY);
    close(devnull);
    po.flags = 0;
    /* Two different descriptions of the one terminal. */
    subproc_pty_opts po2 = SUBPROC_PTY_OPTS_INIT;
    o.stdio[1].pty = &po2;
    o.stdio[2].pty = &po;
    ASSERT_EQ(subproc_spawn(&p, &o, &err), -EINVAL);
    /* NEW_PGROUP means the same as the implied new session. */
    all_pty(&o, NULL);
    o.flags = SUBPROC_NEW_PGROUP;
    ASSERT_OK(subproc_spawn(&p, &o, &err));
    ASSERT_EQ(subproc_proc_pgid(p), subproc_proc_pid(p));
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(subproc_status_code(&st), 0);
    subproc_proc_free(p);
    ASSERT_STREQ(subproc_step_name(SUBPROC_STEP_CTTY), "controlling terminal");
}

TEST(pty_refused_in_a_pipeline)
{
    /* Every stage shares one process group; a terminal's session cannot be part of it. */
    subproc_opts st[2] = {SUBPROC_OPTS_INIT, SUBPROC_OPTS_INIT};
    st[0].argv = helper_argv("exit", "0", NULL);
    st[1].argv = st[0].argv;
    st[0].stdio[2].kind = SUBPROC_IO_PTY;
    subproc_pipeline *pl;
    subproc_error err;
    ASSERT_EQ(subproc_pipeline_spawn(&pl, st, 2, 0, &err, NULL), -EINVAL);
}

TEST(expect_over_pipes_pending_and_buffer_limit)
{
    /* The reader is not tied to terminals: stdout and stdin pipes, no echo. */
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.stdio[0].kind = SUBPROC_IO_PIPE;
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    o.argv = helper_argv("prompt", NULL);
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    subproc_expect *e;
    int rfd = subproc_proc_take_fd(p, 1), wfd = subproc_proc_take_fd(p, 0);
    ASSERT_OK(subproc_expect_new(&e, rfd, wfd, 0, 0));
    subproc_match mt;
    ASSERT_EQ(subproc_expect_match(e, "name", 0, 10000, &mt), 1);
    size_t n;
    /* What came after the match stays for the next call (here "? ", or part of it so far). */
    const char *rest = subproc_expect_pending(e, &n);
    ASSERT(n <= 2 && strncmp(rest, "? ", n) == 0);
    ASSERT_OK(subproc_expect_send(e, "Ann\n", 4, 10000));
    ASSERT_EQ(subproc_expect_match(e, "hello [A-Z][a-z]+\n", SUBPROC_EXPECT_REGEX, 10000, &mt), 1);
    ASSERT_STREQ(mt.before, "? ");
    ASSERT_STREQ(mt.match, "hello Ann\n");
    close(wfd); /* a pipe's end of input: closing it */
    ASSERT_EQ(subproc_expect_match(e, "bye\n", 0, 10000, &mt), 1);
    ASSERT_STREQ(mt.before, "name? ");
    ASSERT_EQ(subproc_expect_match(e, NULL, 0, 10000, &mt), 0);
    subproc_expect_free(e);
    close(rfd);
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(st.exited, 1);
    ASSERT_EQ(subproc_status_code(&st), 0);
    subproc_proc_free(p);
    /* With SUBPROC_EXPECT_OWN_FDS the reader closes both. */
    int pp[2];
    ASSERT_OK(pipe2(pp, O_CLOEXEC) == 0 ? 0 : -errno);
    ASSERT_OK(subproc_expect_new(&e, pp[0], pp[1], 0, SUBPROC_EXPECT_OWN_FDS));
    subproc_expect_free(e);

    /* Output that never matches stops at max_buffer bytes. */
    o.stdio[0].kind = SUBPROC_IO_NULL;
    o.argv = helper_argv("spew", "100000", NULL);
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    ASSERT_OK(subproc_expect_new(&e, subproc_proc_fd(p, 1), -1, 1000, 0));
    ASSERT_EQ(subproc_expect_match(e, "y", 0, 10000, &mt), -ENOBUFS);
    ASSERT_EQ(subproc_expect_send(e, "x", 1, 0), -EBADF);
    ASSERT(subproc_expect_pending(e, &n) != NULL && n >= 1000);
    subproc_expect_free(e);
    subproc_proc_free(p);
    ASSERT_EQ(subproc_expect_new(&e, -1, -1, 0, 0), -EINVAL);
}

static void *pty_worker(void *arg)
{
    long id = (long)arg;
    for (int k = 0; k < 10; k++) {
        char word[32];
        snprintf(word, sizeof word, "t%ld-%d\n", id, k);
        subproc_opts o = SUBPROC_OPTS_INIT;
        all_pty(&o, NULL);
        /* Built here: helper_argv()'s static buffer is not for threads. */
        const char *argv[] = {test_self, "helper", "out", word, NULL};
        o.argv = argv;
        subproc_result res;
        if (subproc_run(&res, &o, NULL) != 0) return (void *)1;
        char want[40];
        snprintf(want, sizeof want, "t%ld-%d\r\n", id, k);
        int ok = strcmp(res.out.data, want) == 0;
        subproc_result_free(&res);
        if (!ok) return (void *)2;
    }
    return NULL;
}

TEST(pty_spawns_from_many_threads)
{
    /* Each spawn has a terminal of its own; nothing is shared between threads. */
    pthread_t t[4];
    for (long i = 0; i < 4; i++)
        ASSERT_OK(pthread_create(&t[i], NULL, pty_worker, (void *)i));
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        ASSERT(r == NULL);
    }
}
