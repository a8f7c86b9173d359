/* test_cli_pty.c - `subproc run --pty`: run as a user would, and under a real terminal made by
 * script(1) for the interactive passthrough (raw mode during, modes restored after every way
 * out, size followed on SIGWINCH). */
#include "test.h"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

/* Run argv (NULL-terminated) with stdin from in_path (NULL: /dev/null) and S=the subproc
 * command, T=this test binary in the environment; out and err captured. */
static int run(subproc_result *res, const char *in_path, const char *const *argv)
{
    subproc_env *env;
    ASSERT_OK(subproc_env_new(&env, SUBPROC_ENV_INHERIT));
    ASSERT_OK(subproc_env_set(env, "S", test_cli_path()));
    ASSERT_OK(subproc_env_set(env, "T", test_self));
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    o.env = env;
    o.stdio[0] = in_path ? (subproc_io){.kind = SUBPROC_IO_FILE, .path = in_path}
                         : (subproc_io){.kind = SUBPROC_IO_NULL};
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.timeout_ms = 60000;
    int r = subproc_run(res, &o, &co);
    subproc_env_free(env);
    ASSERT_OK(r);
    return subproc_status_code(&res->status);
}

TEST(cli_pty_streams_are_terminals)
{
    subproc_result res;
    const char *a[] = {
        test_cli_path(), "run", "--pty", "--", "sh", "-c", "test -t 0 && test -t 1 && test -t 2",
        NULL};
    ASSERT_EQ(run(&res, NULL, a), 0);
    subproc_result_free(&res);
    const char *b[] = {test_cli_path(), "run", "--", "sh", "-c", "test -t 0", NULL};
    ASSERT_EQ(run(&res, NULL, b), 1);
    subproc_result_free(&res);
    /* --stderr keeps its own kind. */
    const char *c[] = {test_cli_path(), "run", "--pty", "--stderr=/dev/null",
                       "--",          "sh",  "-c",    "test -t 0 && test -t 1 && ! test -t 2",
                       NULL};
    ASSERT_EQ(run(&res, NULL, c), 0);
    subproc_result_free(&res);
}

TEST(cli_pty_size)
{
    subproc_result res;
    const char *a[] = {test_cli_path(), "run",  "--pty", "--pty-size=40x120",
                       "--",          "stty", "size",  NULL};
    ASSERT_EQ(run(&res, NULL, a), 0);
    ASSERT_STREQ(res.out.data, "40 120\r\n");
    subproc_result_free(&res);
    const char *b[] = {test_cli_path(), "run", "--pty", "--", "stty", "size", NULL};
    ASSERT_EQ(run(&res, NULL, b), 0);
    ASSERT_STREQ(res.out.data, "24 80\r\n");
    subproc_result_free(&res);
    static const char *const bad[] = {
        "--pty-size=0x80",     "--pty-size=40",      "--pty-size=40x",   "--pty-size=x80",
        "--pty-size=40x120x3", "--pty-size=65536x1", "--pty-size=-1x80", NULL};
    for (int i = 0; bad[i]; i++) {
        const char *c[] = {test_cli_path(), "run", bad[i], "--", "true", NULL};
        ASSERT_EQ(run(&res, NULL, c), 125);
        ASSERT(strstr(res.err.data, "--pty-size") != NULL);
        subproc_result_free(&res);
    }
    const char *d[] = {test_cli_path(), "pipe", "--pty", "--", "true", NULL};
    ASSERT_EQ(run(&res, NULL, d), 125);
    ASSERT(strstr(res.err.data, "--pty") != NULL);
    subproc_result_free(&res);
}

TEST(cli_pty_capture_keeps_colour_codes)
{
    char dir[] = "/tmp/subproc-pty-XXXXXX";
    ASSERT(mkdtemp(dir) != NULL);
    char sub[64];
    snprintf(sub, sizeof sub, "%s/adir", dir);
    ASSERT_OK(mkdir(sub, 0755) == 0 ? 0 : -errno);
    subproc_result res;
    const char *a[] = {test_cli_path(), "run", "--pty",        "--capture", "--json=-",
                       "--",          "ls",  "--color=auto", dir,         NULL};
    ASSERT_EQ(run(&res, NULL, a), 0);
    /* The directory in colour: ESC [ ... m, in the printed output and in the report. */
    ASSERT(strstr(res.out.data, "\033[") != NULL);
    ASSERT(strstr(res.out.data, "\"stdout\":\"\\u001b[") != NULL);
    subproc_result_free(&res);
    /* Without a terminal, ls leaves colours out. */
    const char *b[] = {test_cli_path(), "run",          "--capture", "--json=-", "--",
                       "ls",          "--color=auto", dir,         NULL};
    ASSERT_EQ(run(&res, NULL, b), 0);
    ASSERT(strstr(res.out.data, "\033[") == NULL);
    subproc_result_free(&res);
    rmdir(sub);
    rmdir(dir);
}

TEST(cli_pty_stdin_typed_in_then_eof)
{
    char path[] = "/tmp/subproc-pty-in-XXXXXX";
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    write_all(fd, "one\ntwo", 7);
    close(fd);
    subproc_result res;
    /* cat ends only when it reads end-of-file: the EOF character after the partial line. */
    const char *a[] = {test_cli_path(), "run", "--pty", "-t", "30", "--", "cat", NULL};
    ASSERT_EQ(run(&res, path, a), 0);
    /* The terminal echoes what is typed, then cat writes it back. */
    ASSERT_STREQ(res.out.data, "one\r\ntwoone\r\ntwo");
    subproc_result_free(&res);
    unlink(path);
}

TEST(cli_pty_deadline)
{
    subproc_result res;
    const char *a[] = {test_cli_path(), "run", "--pty", "-t", "0.2", "--", "sleep", "30", NULL};
    ASSERT_EQ(run(&res, NULL, a), 124);
    subproc_result_free(&res);
}

/* The interactive passthrough under a real terminal: script(1) runs a shell on a new pty, and
 * that shell runs subproc with the terminal as its stdin. */
static void need_script(void)
{
    if (access("/usr/bin/script", X_OK) != 0) test_skip("no script(1) (util-linux bsdutils)");
}

static int under_script(subproc_result *res, const char *sh)
{
    const char *a[] = {"script", "-qec", sh, "/dev/null", NULL};
    return run(res, NULL, a);
}

TEST(cli_pty_interactive_raw_then_restored)
{
    need_script();
    subproc_result res;
    /* During: subproc's terminal is raw (checked from inside by name); after: as before. The
     * check would time out after 10 s and fail below if subproc never went raw. */
    ASSERT_EQ(under_script(&res, "stty -g > /tmp/subproc-pty-b.$$;"
                                 /* subproc goes raw just after the start: wait for it */
                                 "\"$S\" run --pty -- sh -c 'i=0; while [ $i -lt 1000 ] && "
                                 "! stty -a -F \"$1\" | grep -q -- -icanon; do sleep 0.01; "
                                 "i=$((i+1)); done; stty -a -F \"$1\"' sh \"$(tty)\";"
                                 "echo rc=$?;"
                                 "stty -g | cmp -s - /tmp/subproc-pty-b.$$ && echo restored;"
                                 "rm -f /tmp/subproc-pty-b.$$"),
              0);
    ASSERT(strstr(res.out.data, "-icanon") != NULL);
    ASSERT(strstr(res.out.data, "-echo ") != NULL);
    ASSERT(strstr(res.out.data, "-isig") != NULL);
    ASSERT(strstr(res.out.data, "rc=0") != NULL);
    ASSERT(strstr(res.out.data, "restored") != NULL);
    subproc_result_free(&res);
}

TEST(cli_pty_interactive_keys_reach_the_program)
{
    need_script();
    subproc_result res;
    /* What is typed at script's terminal goes through subproc to the program's terminal, whose
     * line discipline makes the line (Enter is \r, mapped by ICRNL there). */
    char path[] = "/tmp/subproc-pty-keys-XXXXXX";
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    write_all(fd, "hello\r", 6);
    close(fd);
    const char *a[] = {"script", "-qec",
                       "\"$S\" run --pty -- sh -c 'read l; echo \"got<$l>\"'; echo rc=$?",
                       "/dev/null", NULL};
    ASSERT_EQ(run(&res, path, a), 0);
    ASSERT(strstr(res.out.data, "got<hello>") != NULL);
    ASSERT(strstr(res.out.data, "rc=0") != NULL);
    subproc_result_free(&res);
    unlink(path);
}

TEST(cli_pty_interactive_sigterm_and_deadline_restore)
{
    need_script();
    subproc_result res;
    /* A non-interactive shell starts `cmd &` with stdin from /dev/null unless redirected. */
    ASSERT_EQ(under_script(&res,
                           "stty -g > /tmp/subproc-pty-b.$$;"
                           "\"$S\" run --pty -- sleep 30 < /dev/tty & pid=$!;"
                           "i=0; while ! stty -a | grep -q -- -icanon && [ $i -lt 1000 ]; do "
                           "sleep 0.01; i=$((i+1)); done; stty -a | grep -q -- -icanon && echo raw;"
                           "kill -TERM $pid; wait $pid; echo term=$?;"
                           "stty -g | cmp -s - /tmp/subproc-pty-b.$$ && echo restored1;"
                           "\"$S\" run --pty -t 0.2 -- sleep 30; echo deadline=$?;"
                           "stty -g | cmp -s - /tmp/subproc-pty-b.$$ && echo restored2;"
                           "rm -f /tmp/subproc-pty-b.$$"),
              0);
    ASSERT(strstr(res.out.data, "raw") != NULL);
    ASSERT(strstr(res.out.data, "term=143") != NULL);
    ASSERT(strstr(res.out.data, "restored1") != NULL);
    ASSERT(strstr(res.out.data, "deadline=124") != NULL);
    ASSERT(strstr(res.out.data, "restored2") != NULL);
    subproc_result_free(&res);
}

TEST(cli_pty_interactive_follows_window_size)
{
    need_script();
    subproc_result res;
    /* The program's terminal starts with script's size; `stty rows/cols` on script's terminal
     * sends SIGWINCH to its foreground group, subproc among it, and the program sees the size. */
    ASSERT_EQ(under_script(&res,
                           "stty rows 30 cols 90;"
                           "\"$S\" run --pty -- \"$T\" helper winsize > /tmp/subproc-pty-w.$$ "
                           "< /dev/tty & pid=$!;"
                           "i=0; while ! grep -q ready /tmp/subproc-pty-w.$$ && [ $i -lt 1000 ]; "
                           "do sleep 0.01; i=$((i+1)); done;"
                           "stty rows 50 cols 100; wait $pid; echo rc=$?;"
                           "cat /tmp/subproc-pty-w.$$; rm -f /tmp/subproc-pty-w.$$"),
              0);
    ASSERT(strstr(res.out.data, "30 90") != NULL);
    ASSERT(strstr(res.out.data, "winch 50 100") != NULL);
    ASSERT(strstr(res.out.data, "rc=0") != NULL);
    subproc_result_free(&res);
}
