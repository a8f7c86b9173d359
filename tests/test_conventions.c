/* test_conventions.c - `subproc run` held to the conventions of coreutils: the scenarios of
 * coreutils' own timeout tests (the scripts in tests/timeout/), each run through the real
 * timeout(1) and through `subproc run`; env(1)-style NAME=VALUE operands compared with env(1);
 * the options' did-you-mean messages. Where subproc means something else than timeout, the
 * test asserts subproc's documented meaning (the table in subproc(1)). */
#include "test.h"

#include <limits.h>
#include <signal.h>
#include <unistd.h>

typedef struct out {
    int code;
    char *out, *err;
} out;

/* Run argv (stdin /dev/null), capturing stdout and stderr. */
static out run_argv(const char *const *argv)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    o.stdio[0].kind = SUBPROC_IO_NULL;
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    o.stdio[2].kind = SUBPROC_IO_PIPE;
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    subproc_result res;
    int r = subproc_run(&res, &o, &co);
    if (r < 0) test_failf(__FILE__, __LINE__, "run %s: %s", argv[0], subproc_strerror(r));
    out x = {subproc_status_code(&res.status), strdup(res.out.data ? res.out.data : ""),
             strdup(res.err.data ? res.err.data : "")};
    subproc_result_free(&res);
    return x;
}

static void out_free(out *x)
{
    free(x->out);
    free(x->err);
}

/* timeout(1)'s arguments as `subproc run` takes them: the options as they are, the DURATION
 * operand as -t DURATION, then "--" and the command. */
static out as_subproc(const char *const *targs)
{
    const char *v[64];
    size_t n = 0, i = 0;
    v[n++] = test_cli_path();
    v[n++] = "run";
    for (; targs[i] && targs[i][0] == '-' && strcmp(targs[i], "--") != 0; i++) {
        v[n++] = targs[i];
        if (!strcmp(targs[i], "-s") || !strcmp(targs[i], "-k")) v[n++] = targs[++i];
    }
    if (targs[i] && !strcmp(targs[i], "--")) i++;
    v[n++] = "-t";
    v[n++] = targs[i++];
    v[n++] = "--";
    for (; targs[i]; i++)
        v[n++] = targs[i];
    v[n] = NULL;
    return run_argv(v);
}

static out as_timeout(const char *const *targs)
{
    const char *v[64];
    size_t n = 0;
    v[n++] = "timeout";
    for (size_t i = 0; targs[i]; i++)
        v[n++] = targs[i];
    v[n] = NULL;
    return run_argv(v);
}

/* One scenario: timeout's arguments, the status subproc must give, and timeout's (-1: not run,
 * e.g. when the installed timeout is older than the behaviour). */
typedef struct scenario {
    const char *args[12];
    int want;
    int want_timeout;
} scenario;

static void check_scenarios(const scenario *sc, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out s = as_subproc(sc[i].args);
        if (s.code != sc[i].want)
            test_failf(__FILE__, __LINE__, "subproc run (timeout %s %s %s ...): %d, want %d: %s",
                       sc[i].args[0], sc[i].args[1] ? sc[i].args[1] : "",
                       sc[i].args[1] && sc[i].args[2] ? sc[i].args[2] : "", s.code, sc[i].want,
                       s.err);
        out_free(&s);
        if (sc[i].want_timeout < 0) continue;
        out t = as_timeout(sc[i].args);
        if (t.code != sc[i].want_timeout)
            test_failf(__FILE__, __LINE__, "timeout %s %s ...: %d, expected %d", sc[i].args[0],
                       sc[i].args[1] ? sc[i].args[1] : "", t.code, sc[i].want_timeout);
        out_free(&t);
    }
}

/* tests/timeout/timeout-parameters.sh: what the arguments may be. */
TEST_T(conv_timeout_parameters, 60)
{
    static const scenario sc[] = {
        /* internal errors are 125, distinct from the command's failures */
        {{"invalid", "sleep", "0"}, 125, 125},
        {{"--kill-after=invalid", "1", "sleep", "0"}, 125, 125},
        {{"42D", "sleep", "0"}, 125, 125},
        {{"--", "-1", "sleep", "0"}, 125, 125},
        {{"1e", "sleep", "0"}, 125, 125},
        {{"nan", "sleep", "0"}, 125, 125},
        {{"10,34", "sleep", "0"}, 125, 125},
        {{"--signal=invalid", "1", "sleep", "0"}, 125, 125},
        /* fractions, exponents, nanoseconds */
        {{"10.34", "sleep", "0"}, 0, 0},
        {{"2.34e+5d", "sleep", "0"}, 0, 0},
        {{"9.999999999", "sleep", "0"}, 0, 0},
        /* beyond any clock: saturates, never fires */
        {{"1e300", "sleep", "0"}, 0, 0},
        {{"1.2e+4932", "sleep", "0"}, 0, 0},
        {{"999999999999999999999999999999999999999999999999999999999999d", "sleep", "0"}, 0, 0},
        {{"9223372036854775807", "sleep", "0"}, 0, 0},
        {{"2147483647", "sleep", "0"}, 0, 0},
        {{"infinity", "sleep", "0"}, 0, 0},
        /* below the resolution: rounds up and expires at once (coreutils 9.1 still reads it
         * as 0, no deadline, so timeout is not asked here) */
        {{"1e-10000", "sleep", "10"}, 124, -1},
        {{"1e-5000", "sleep", "10"}, 124, -1},
        /* the command cannot run / is not found */
        {{"10", "."}, 126, 126},
        {{"10", "no_such_command_for_subproc"}, 127, 127},
    };
    check_scenarios(sc, sizeof sc / sizeof sc[0]);
}

/* tests/timeout/timeout.sh: statuses at and around the deadline. */
TEST_T(conv_timeout_statuses, 60)
{
    static const scenario sc[] = {
        {{"10", "true"}, 0, 0},                   /* no timeout */
        {{"1d", "true"}, 0, 0},                   /* suffix */
        {{"0", "true"}, 0, 0},                    /* disabled */
        {{"10", "sh", "-c", "exit 2"}, 2, 2},     /* exit status propagation */
        {{".1", "sleep", "10"}, 124, 124},        /* timeout */
        {{"--preserve-status", ".1", "sleep", "10"}, 128 + SIGTERM, 128 + SIGTERM},
        {{"--preserve-status", "-s", "KILL", ".1", "sleep", "10"}, 137, 137},
        /* once the deadline passed the status is 124, even when the program ends by itself
         * (signal 0 sends nothing; KILL would only come after 10 s) */
        {{"-s0", "-k10", ".1", "sleep", "0.5"}, 124, 124},
        /* KILL sent: timeout says 137, subproc 124 (the deadline passed; see subproc(1)) */
        {{"-s0", "-k.1", ".1", "sleep", "10"}, 124, 137},
        {{"-s", "KILL", ".1", "sleep", "10"}, 124, 137},
        {{"--preserve-status", "-s0", "-k.1", ".1", "sleep", "10"}, 137, 137},
        /* --foreground: the program alone gets the signals */
        {{"--foreground", ".1", "sleep", "10"}, 124, 124},
        {{"--foreground", "--preserve-status", ".1", "sleep", "10"}, 143, 143},
    };
    check_scenarios(sc, sizeof sc / sizeof sc[0]);
}

/* timeout.sh: --verbose reports each signal, by timeout's names (signal 0 is EXIT). */
TEST_T(conv_timeout_verbose, 30)
{
    static const char *const opts[] = {"-v", "--verbose"};
    for (int i = 0; i < 2; i++) {
        const char *args[] = {opts[i], "-s0", "-k", ".1", ".1", "sleep", "10", NULL};
        out s = as_subproc(args);
        ASSERT_EQ(s.code, 124);
        ASSERT_STREQ(s.err, "subproc run: sending signal EXIT to command 'sleep'\n"
                            "subproc run: sending signal KILL to command 'sleep'\n");
        out_free(&s);
        out t = as_timeout(args);
        ASSERT(strstr(t.err, "sending signal EXIT to command"));
        ASSERT(strstr(t.err, "sending signal KILL to command"));
        out_free(&t);
    }
    /* Without -v nothing is said. */
    const char *quiet[] = {"-s0", "-k", ".1", ".1", "sleep", "10", NULL};
    out s = as_subproc(quiet);
    ASSERT_EQ(s.code, 124);
    ASSERT_STREQ(s.err, "");
    out_free(&s);
}

/* timeout.sh: "Don't be confused when starting off with a child", a parent that ignores
 * SIGCHLD, and one that ignores SIGALRM (timeout-blocked.sh): none changes the outcome. */
TEST_T(conv_timeout_inherited_state, 30)
{
    char script[PATH_MAX + 128];
    snprintf(script, sizeof script, "sleep .1 & exec %s run -t .5 sh -c 'sleep 10; echo foo'",
             test_cli_path());
    const char *a1[] = {"sh", "-c", script, NULL};
    out s = run_argv(a1);
    ASSERT_EQ(s.code, 124);
    ASSERT_STREQ(s.out, "");
    out_free(&s);
    /* "Ensure timeout is immune to parent's SIGCHLD handler": started with SIGCHLD ignored. */
    snprintf(script, sizeof script, "trap '' CHLD; exec %s run -t 10 sh -c 'exit 3'",
             test_cli_path());
    const char *a0[] = {"sh", "-c", script, NULL};
    s = run_argv(a0);
    ASSERT_EQ(s.code, 3);
    out_free(&s);
    snprintf(script, sizeof script, "trap '' ALRM; exec %s run -t .1 sleep 10", test_cli_path());
    const char *a2[] = {"sh", "-c", script, NULL};
    s = run_argv(a2);
    ASSERT_EQ(s.code, 124);
    out_free(&s);
}

/* --foreground: no process group of its own (as timeout --foreground), else a group. */
TEST(conv_foreground_keeps_the_group)
{
    const char *fg[] = {test_cli_path(), "run", "--foreground", "-t", "10", "--", test_self,
                        "helper", "ids", NULL};
    /* Uncontained, a deadline gives the program a group of its own (contained, it stays in
     * ours: see test_handles.c). */
    const char *bg[] = {test_cli_path(), "run", "--no-contain", "-t", "10", "--", test_self,
                        "helper", "ids", NULL};
    long v[6];
    out s = run_argv(fg);
    ASSERT_EQ(s.code, 0);
    ASSERT_EQ(sscanf(s.out, "%ld %ld %ld %ld", &v[0], &v[1], &v[2], &v[3]), 4);
    ASSERT_NE(v[2], v[0]); /* not the leader of a group */
    ASSERT_EQ(v[2], getpgrp());
    out_free(&s);
    s = run_argv(bg);
    ASSERT_EQ(s.code, 0);
    ASSERT_EQ(sscanf(s.out, "%ld %ld %ld %ld", &v[0], &v[1], &v[2], &v[3]), 4);
    ASSERT_EQ(v[2], v[0]);
    out_free(&s);
}

/* -s 0 with --capture: the library keeps reading; KILL after -k, status 124. */
TEST_T(conv_signal_zero_with_capture, 30)
{
    const char *a[] = {test_cli_path(), "run", "--capture", "-s", "0", "-k", ".1", "-t", ".1",
                       "--json=-", "--", "sleep", "10", NULL};
    out s = run_argv(a);
    ASSERT_EQ(s.code, 124);
    ASSERT(strstr(s.out, "\"signal\":\"SIGKILL\""));
    out_free(&s);
}

/* env(1): leading NAME=VALUE operands set variables; compared with env itself. */
TEST(conv_env_style_operands)
{
    const char *sub[] = {test_cli_path(), "run", "-i", "-e", "X=1", "FOO=bar", "X=2",
                         "printenv", "X", "FOO", NULL};
    const char *ref[] = {"env", "-i", "X=1", "FOO=bar", "X=2", "printenv", "X", "FOO", NULL};
    out s = run_argv(sub), e = run_argv(ref);
    ASSERT_EQ(s.code, 0);
    ASSERT_STREQ(s.out, "2\nbar\n");
    ASSERT_STREQ(s.out, e.out);
    out_free(&s);
    out_free(&e);
    /* With the deadline options too, and the variable reaches the program. */
    const char *sub2[] = {test_cli_path(), "run", "-t", "10", "A_B=x y", "printenv", "A_B", NULL};
    s = run_argv(sub2);
    ASSERT_EQ(s.code, 0);
    ASSERT_STREQ(s.out, "x y\n");
    out_free(&s);
    /* "--" ends them: the word is the program, which is not found. */
    const char *dd[] = {test_cli_path(), "run", "--", "FOO=bar", "env", NULL};
    s = run_argv(dd);
    ASSERT_EQ(s.code, 127);
    ASSERT(strstr(s.err, "FOO=bar"));
    out_free(&s);
    /* A '/' in NAME makes it a program path. */
    const char *path[] = {test_cli_path(), "run", "./no/such=prog", NULL};
    s = run_argv(path);
    ASSERT_EQ(s.code, 127);
    ASSERT(strstr(s.err, "./no/such=prog"));
    out_free(&s);
    /* Only assignments: no program, as env would print the environment but run needs one. */
    const char *none[] = {test_cli_path(), "run", "FOO=bar", NULL};
    s = run_argv(none);
    ASSERT_EQ(s.code, 125);
    ASSERT(strstr(s.err, "no program"));
    out_free(&s);
    /* The value of -C is not taken for "--". */
    const char *cdash[] = {test_cli_path(), "run", "-C", "--", "FOO=bar", "true", NULL};
    s = run_argv(cdash);
    ASSERT_EQ(s.code, 125); /* chdir to "--" fails: FOO=bar was an assignment, true the program */
    ASSERT(strstr(s.err, "--"));
    ASSERT(!strstr(s.err, "FOO=bar"));
    out_free(&s);
}

/* An unknown or ambiguous long option lists the candidates. */
TEST(conv_did_you_mean)
{
    const char *a[] = {test_cli_path(), "run", "--s", "true", NULL};
    out s = run_argv(a);
    ASSERT_EQ(s.code, 125);
    static const char *const want[] = {"--signal", "--stdin", "--stdout", "--stderr",
                                       "did you mean"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(s.err, want[i])) test_failf(__FILE__, __LINE__, "lacks %s: %s", want[i], s.err);
    out_free(&s);
    const char *b[] = {test_cli_path(), "run", "--stdot=x", "true", NULL};
    s = run_argv(b);
    ASSERT_EQ(s.code, 125);
    ASSERT(strstr(s.err, "did you mean") && strstr(s.err, "--stdout"));
    out_free(&s);
    const char *c[] = {test_cli_path(), "par", "--k", "true", ":::", "a", NULL};
    s = run_argv(c);
    ASSERT_EQ(s.code, 125);
    ASSERT(strstr(s.err, "--keep-order") && strstr(s.err, "--kill-after"));
    out_free(&s);
    /* Nothing near: no list. */
    const char *d[] = {test_cli_path(), "run", "--frobnicate", "true", NULL};
    s = run_argv(d);
    ASSERT_EQ(s.code, 125);
    ASSERT(!strstr(s.err, "did you mean"));
    out_free(&s);
}

/* -k: --kill-after in run and pipe, --keep-order in par; each help text says so. */
TEST(conv_k_explained_in_help)
{
    const char *r[] = {test_cli_path(), "run", "--help", NULL};
    const char *p[] = {test_cli_path(), "par", "--help", NULL};
    out s = run_argv(r);
    ASSERT(strstr(s.out, "--kill-after") && strstr(s.out, "--keep-order"));
    ASSERT(strstr(s.out, "--preserve-status") && strstr(s.out, "--foreground") &&
           strstr(s.out, "--verbose"));
    out_free(&s);
    s = run_argv(p);
    ASSERT(strstr(s.out, "--kill-after") && strstr(s.out, "--keep-order"));
    ASSERT(strstr(s.out, "in run and pipe, -k is --kill-after"));
    out_free(&s);
}
