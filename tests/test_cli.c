/* test_cli.c - the `subproc` command, run as a user would run it: the built binary next to the
 * test binary, its stdout and stderr read through pipes, its exit status checked. */
#include "test.h"

#include <fcntl.h>
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>

typedef struct cli_out {
    int code;  /* shell-style exit status */
    char *out; /* stdout */
    char *err; /* stderr */
} cli_out;

static void cli_free(cli_out *r)
{
    free(r->out);
    free(r->err);
}

/* Read two pipes to EOF at once, so a full one never blocks the other. */
static void read_both(int fd1, int fd2, char **o1, char **o2)
{
    size_t cap[2] = {256, 256}, len[2] = {0, 0};
    char *buf[2] = {malloc(256), malloc(256)};
    struct pollfd pf[2] = {{fd1, POLLIN, 0}, {fd2, POLLIN, 0}};
    int open_ = 2;
    while (open_) {
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR) continue;
            test_failf(__FILE__, __LINE__, "poll: %s", strerror(errno));
        }
        for (int i = 0; i < 2; i++) {
            if (pf[i].fd < 0 || !pf[i].revents) continue;
            if (len[i] + 1 >= cap[i]) buf[i] = realloc(buf[i], cap[i] *= 2);
            ssize_t n = read(pf[i].fd, buf[i] + len[i], cap[i] - len[i] - 1);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                pf[i].fd = -1;
                open_--;
            } else {
                len[i] += (size_t)n;
            }
        }
    }
    buf[0][len[0]] = buf[1][len[1]] = '\0';
    *o1 = buf[0];
    *o2 = buf[1];
}

/* When set, cli() gives subproc this file as stdin instead of /dev/null. */
static const char *cli_stdin_path;

/* Run `subproc ARGS...` (NULL-terminated; "@" stands for the test binary) with stdin from
 * /dev/null, capturing stdout and stderr. */
static cli_out cli(const char *first, ...)
{
    const char *v[80];
    size_t n = 0;
    v[n++] = test_cli_path();
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && n < 79; a = va_arg(ap, const char *))
        v[n++] = strcmp(a, "@") ? a : test_self;
    va_end(ap);
    v[n] = NULL;
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = v;
    o.stdio[0].kind = SUBPROC_IO_NULL;
    if (cli_stdin_path) o.stdio[0] = (subproc_io){.kind = SUBPROC_IO_FILE, .path = cli_stdin_path};
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    o.stdio[2].kind = SUBPROC_IO_PIPE;
    subproc_proc *p;
    subproc_error e;
    char es[700];
    if (subproc_spawn(&p, &o, &e) < 0)
        test_failf(__FILE__, __LINE__, "spawn subproc: %s", subproc_error_str(&e, es, sizeof es));
    cli_out r;
    read_both(subproc_proc_fd(p, 1), subproc_proc_fd(p, 2), &r.out, &r.err);
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    subproc_proc_free(p);
    r.code = subproc_status_code(&st);
    return r;
}

/* A scratch directory, removed (with its files) by scratch_done(). */
static char scratch[64];
static void scratch_new(void)
{
    snprintf(scratch, sizeof scratch, "/tmp/subproc-cli-XXXXXX");
    ASSERT(mkdtemp(scratch) != NULL);
}
static const char *scratch_file(const char *name)
{
    static char paths[8][128];
    static int i;
    char *p = paths[i++ % 8];
    snprintf(p, 128, "%s/%s", scratch, name);
    return p;
}
static int remove_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)type, (void)ftw;
    return remove(path);
}
static void scratch_done(void)
{
    ASSERT_EQ(nftw(scratch, remove_one, 8, FTW_DEPTH | FTW_PHYS), 0);
}
static void put_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    ASSERT(fd >= 0);
    write_all(fd, text, strlen(text));
    close(fd);
    ASSERT_EQ(chmod(path, mode), 0);
}
/* Exit 125 with a message on stderr that contains `needle`. */
#define ASSERT_USAGE_ERROR(r, needle)                                                              \
    do {                                                                                           \
        ASSERT_EQ((r).code, 125);                                                                  \
        if (!strstr((r).err, needle))                                                              \
            test_failf(__FILE__, __LINE__, "stderr lacks \"%s\": %s", needle, (r).err);            \
        ASSERT_STREQ((r).out, "");                                                                 \
    } while (0)

/* ---- the command line ---- */

TEST(cli_help_and_version)
{
    cli_out r = cli("--help", NULL);
    ASSERT_EQ(r.code, 0);
    ASSERT(strstr(r.out, "Usage: subproc"));
    ASSERT(strstr(r.out, "run"));
    cli_free(&r);

    r = cli("--version", NULL);
    ASSERT_EQ(r.code, 0);
    ASSERT(strstr(r.out, "subproc " SUBPROC_VERSION_STRING));
    cli_free(&r);

    r = cli("run", "--help", NULL);
    ASSERT_EQ(r.code, 0);
    static const char *const opts[] = {
        "--chdir",
        "--env",
        "--unset",
        "--ignore-environment",
        "--stdin",
        "--stdout",
        "--stderr",
        "--append",
        "--timeout",
        "--signal",
        "--kill-after",
        "--umask",
        "--rlimit",
        "--nice",
        "--new-session",
        "--json",
        "-C",
        "-e",
        "-u",
        "-i",
        "-t",
        "-s",
        "-k",
        "124",
        "125",
        "126",
        "127",
    };
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        if (!strstr(r.out, opts[i])) test_failf(__FILE__, __LINE__, "run --help lacks %s", opts[i]);
    cli_free(&r);
}

TEST(cli_usage_errors)
{
    cli_out r = cli(NULL);
    ASSERT_EQ(r.code, 125);
    ASSERT(strstr(r.err, "Usage"));
    cli_free(&r);
    r = cli("frobnicate", NULL);
    ASSERT_USAGE_ERROR(r, "unknown command 'frobnicate'");
    cli_free(&r);
    r = cli("run", NULL);
    ASSERT_USAGE_ERROR(r, "no program");
    cli_free(&r);
    r = cli("run", "-t", "1", NULL);
    ASSERT_USAGE_ERROR(r, "no program");
    cli_free(&r);
    r = cli("run", "--frob", "@", "helper", "exit", "0", NULL);
    ASSERT_USAGE_ERROR(r, "--frob");
    cli_free(&r);
    r = cli("run", "-x", "@", "helper", "exit", "0", NULL);
    ASSERT_USAGE_ERROR(r, "-x");
    cli_free(&r);
    r = cli("run", "--append=yes", "@", "helper", "exit", "0", NULL);
    ASSERT_USAGE_ERROR(r, "takes no value");
    cli_free(&r);
    r = cli("run", "--timeout", NULL);
    ASSERT_USAGE_ERROR(r, "--timeout requires an argument");
    cli_free(&r);
    r = cli("run", "--append", "@", "helper", "exit", "0", NULL);
    ASSERT_USAGE_ERROR(r, "--append needs");
    cli_free(&r);
}

TEST(cli_exit_code_passes_through)
{
    cli_out r = cli("run", "@", "helper", "exit", "0", NULL);
    ASSERT_EQ(r.code, 0);
    cli_free(&r);
    r = cli("run", "@", "helper", "exit", "3", NULL);
    ASSERT_EQ(r.code, 3);
    cli_free(&r);
    r = cli("run", "--", "@", "helper", "exit", "42", NULL);
    ASSERT_EQ(r.code, 42);
    cli_free(&r);
}

TEST(cli_options_stop_at_program)
{
    /* Everything after PROGRAM is the program's, even what looks like subproc's options. */
    cli_out r = cli("run", "@", "helper", "args", "-t", "x", "--env=A", "--", "-i", NULL);
    ASSERT_EQ(r.code, 0);
    static const char want[] = "-t\0x\0--env=A\0--\0-i";
    ASSERT_EQ(memcmp(r.out, want, sizeof want), 0);
    cli_free(&r);
    /* "--" ends the options, so a program may start with '-'... or not. */
    r = cli("run", "-e", "A=1", "--", "@", "helper", "getenv", "A", NULL);
    ASSERT_STREQ(r.out, "1");
    cli_free(&r);
}

TEST(cli_signal_death_is_128_plus_n)
{
    cli_out r = cli("run", "@", "helper", "kill", "9", NULL);
    ASSERT_EQ(r.code, 128 + SIGKILL);
    cli_free(&r);
    r = cli("run", "@", "helper", "kill", "15", NULL);
    ASSERT_EQ(r.code, 128 + SIGTERM);
    cli_free(&r);
}

TEST(cli_not_found_is_127)
{
    cli_out r = cli("run", "no-such-program-for-subproc", NULL);
    ASSERT_EQ(r.code, 127);
    ASSERT(strstr(r.err, "no-such-program-for-subproc"));
    ASSERT(strstr(r.err, "No such file"));
    cli_free(&r);
    r = cli("run", "/no/such/dir/prog", NULL);
    ASSERT_EQ(r.code, 127);
    ASSERT(strstr(r.err, "/no/such/dir/prog"));
    ASSERT(strstr(r.err, "exec") || strstr(r.err, "resolve"));
    cli_free(&r);
    /* -i leaves no PATH: the default path is searched, not the current directory. */
    r = cli("run", "-i", "no-such-program-for-subproc", NULL);
    ASSERT_EQ(r.code, 127);
    cli_free(&r);
}

TEST(cli_cannot_run_is_126)
{
    scratch_new();
    put_file(scratch_file("data"), "just text\n", 0644);
    put_file(scratch_file("garbage"), "\x7f\x01\x02 not a program\n", 0755);
    cli_out r = cli("run", scratch_file("data"), NULL);
    ASSERT_EQ(r.code, 126);
    ASSERT(strstr(r.err, scratch_file("data")));
    ASSERT(strstr(r.err, "exec"));
    ASSERT(strstr(r.err, "Permission denied"));
    cli_free(&r);
    r = cli("run", scratch, NULL); /* a directory */
    ASSERT_EQ(r.code, 126);
    cli_free(&r);
    r = cli("run", scratch_file("garbage"), NULL); /* ENOEXEC: no shell fallback */
    ASSERT_EQ(r.code, 126);
    ASSERT(strstr(r.err, "exec"));
    cli_free(&r);
    scratch_done();
}

/* ---- environment ---- */

TEST(cli_env_set_unset_ignore)
{
    setenv("SUBPROC_CLI_T", "parent", 1);
    cli_out r = cli("run", "@", "helper", "getenv", "SUBPROC_CLI_T", NULL);
    ASSERT_STREQ(r.out, "parent");
    cli_free(&r);
    r = cli("run", "-e", "SUBPROC_CLI_T=a=b c", "@", "helper", "getenv", "SUBPROC_CLI_T", NULL);
    ASSERT_STREQ(r.out, "a=b c");
    cli_free(&r);
    r = cli("run", "--env=SUBPROC_CLI_T=", "@", "helper", "getenv", "SUBPROC_CLI_T", NULL);
    ASSERT_STREQ(r.out, "");
    cli_free(&r);
    r = cli("run", "-u", "SUBPROC_CLI_T", "@", "helper", "getenv", "SUBPROC_CLI_T", NULL);
    ASSERT_STREQ(r.out, "(unset)");
    cli_free(&r);
    /* Command-line order decides. */
    r = cli("run", "-e", "X=1", "--unset=X", "@", "helper", "getenv", "X", NULL);
    ASSERT_STREQ(r.out, "(unset)");
    cli_free(&r);
    r = cli("run", "-u", "X", "-e", "X=2", "-e", "X=3", "@", "helper", "getenv", "X", NULL);
    ASSERT_STREQ(r.out, "3");
    cli_free(&r);
    /* -i: nothing but the -e variables; short options combine as getopt does. */
    r = cli("run", "-i", "-e", "A=1", "-eB=2", "@", "helper", "env", NULL);
    ASSERT_EQ(r.code, 0);
    ASSERT_STREQ(r.out, "A=1\nB=2\n");
    cli_free(&r);
    r = cli("run", "-ieA=1", "@", "helper", "env", NULL);
    ASSERT_STREQ(r.out, "A=1\n");
    cli_free(&r);
    r = cli("run", "--ignore-environment", "@", "helper", "env", NULL);
    ASSERT_STREQ(r.out, "");
    cli_free(&r);
}

TEST(cli_env_malformed_is_125)
{
    static const char *const bad_e[] = {"NOEQUALS", "=value", ""};
    for (size_t i = 0; i < sizeof bad_e / sizeof bad_e[0]; i++) {
        cli_out r = cli("run", "-e", bad_e[i], "@", "helper", "exit", "0", NULL);
        ASSERT_USAGE_ERROR(r, "invalid assignment");
        char quoted[64];
        snprintf(quoted, sizeof quoted, "'%s'", bad_e[i]);
        ASSERT(strstr(r.err, quoted));
        ASSERT(strstr(r.err, "NAME=VALUE"));
        cli_free(&r);
    }
    cli_out r = cli("run", "-u", "A=B", "@", "helper", "exit", "0", NULL);
    ASSERT_USAGE_ERROR(r, "'A=B'");
    cli_free(&r);
    r = cli("run", "--unset=", "@", "helper", "exit", "0", NULL);
    ASSERT_USAGE_ERROR(r, "--unset");
    cli_free(&r);
}

/* ---- the child's setup ---- */

TEST(cli_chdir)
{
    scratch_new();
    char want[PATH_MAX];
    ASSERT(realpath(scratch, want));
    cli_out r = cli("run", "-C", scratch, "@", "helper", "pwd", NULL);
    ASSERT_EQ(r.code, 0);
    ASSERT_STREQ(r.out, want);
    cli_free(&r);
    r = cli("run", "--chdir=/", "@", "helper", "pwd", NULL);
    ASSERT_STREQ(r.out, "/");
    cli_free(&r);
    r = cli("run", "-C", scratch_file("missing"), "@", "helper", "pwd", NULL);
    ASSERT_USAGE_ERROR(r, "chdir");
    ASSERT(strstr(r.err, scratch_file("missing")));
    ASSERT(strstr(r.err, "No such file"));
    cli_free(&r);
    scratch_done();
}

TEST(cli_stdin)
{
    scratch_new();
    put_file(scratch_file("in"), "hello from a file", 0644);
    cli_out r = cli("run", "--stdin", scratch_file("in"), "@", "helper", "cat", NULL);
    ASSERT_EQ(r.code, 0);
    ASSERT_STREQ(r.out, "hello from a file");
    cli_free(&r);
    r = cli("run", "--stdin=null", "@", "helper", "cat", NULL);
    ASSERT_EQ(r.code, 0);
    ASSERT_STREQ(r.out, "");
    cli_free(&r);
    r = cli("run", "--stdin", scratch_file("missing"), "@", "helper", "cat", NULL);
    ASSERT_USAGE_ERROR(r, scratch_file("missing"));
    ASSERT(strstr(r.err, "open"));
    cli_free(&r);
    scratch_done();
}

TEST(cli_stdout_stderr)
{
    scratch_new();
    const char *o = scratch_file("out"), *e = scratch_file("err");
    cli_out r = cli("run", "--stdout", o, "@", "helper", "out", "OUT", "ERR", NULL);
    ASSERT_EQ(r.code, 0);
    ASSERT_STREQ(r.out, "");
    ASSERT_STREQ(r.err, "ERR");
    char *s = read_file(o);
    ASSERT_STREQ(s, "OUT");
    free(s);
    cli_free(&r);

    r = cli("run", "--stdout=null", "--stderr", e, "@", "helper", "out", "OUT", "ERR", NULL);
    ASSERT_STREQ(r.out, "");
    ASSERT_STREQ(r.err, "");
    s = read_file(e);
    ASSERT_STREQ(s, "ERR");
    free(s);
    cli_free(&r);

    r = cli("run", "--stderr=null", "@", "helper", "out", "OUT", "ERR", NULL);
    ASSERT_STREQ(r.out, "OUT");
    ASSERT_STREQ(r.err, "");
    cli_free(&r);

    r = cli("run", "--stderr=stdout", "@", "helper", "out", "OUT", "ERR", NULL);
    ASSERT_STREQ(r.out, "OUTERR");
    ASSERT_STREQ(r.err, "");
    cli_free(&r);

    /* The same file for both streams is one open file: neither overwrites the other. */
    r = cli("run", "--stdout", o, "--stderr", o, "@", "helper", "out", "OUT", "ERR", NULL);
    s = read_file(o);
    ASSERT_STREQ(s, "OUTERR");
    free(s);
    cli_free(&r);

    /* Without --append a file is truncated; with it, added to. */
    r = cli("run", "--stdout", o, "@", "helper", "out", "1", NULL);
    cli_free(&r);
    r = cli("run", "--stdout", o, "--append", "@", "helper", "out", "2", NULL);
    cli_free(&r);
    r = cli("run", "--append", "--stdout", o, "--stderr", e, "@", "helper", "out", "3", "E", NULL);
    ASSERT_EQ(r.code, 0);
    cli_free(&r);
    s = read_file(o);
    ASSERT_STREQ(s, "123");
    free(s);
    s = read_file(e);
    ASSERT_STREQ(s, "ERRE");
    free(s);

    r = cli("run", "--stdout", scratch_file("no/dir"), "@", "helper", "out", "x", NULL);
    ASSERT_USAGE_ERROR(r, scratch_file("no/dir"));
    cli_free(&r);
    scratch_done();
}

TEST(cli_umask)
{
    cli_out r = cli("run", "--umask=027", "@", "helper", "umask", NULL);
    ASSERT_EQ(r.code, 0);
    ASSERT_STREQ(r.out, "027");
    cli_free(&r);
    r = cli("run", "--umask", "0", "@", "helper", "umask", NULL);
    ASSERT_STREQ(r.out, "000");
    cli_free(&r);
    static const char *const bad[] = {"8", "0o22", "u=rwx", "1000", "-1", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = cli("run", "--umask", bad[i], "@", "helper", "umask", NULL);
        ASSERT_USAGE_ERROR(r, "invalid mode");
        cli_free(&r);
    }
}

TEST(cli_rlimit)
{
    if (UNDER_VALGRIND()) test_skip("valgrind reserves the top of RLIMIT_NOFILE and reports a lower hard limit");
    struct rlimit cur;
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &cur), 0);
    cli_out r = cli("run", "--rlimit=nofile=64", "@", "helper", "nofile", NULL);
    ASSERT_EQ(r.code, 0);
    ASSERT_STREQ(r.out, "64 64");
    cli_free(&r);
    r = cli("run", "--rlimit", "nofile=32:64", "@", "helper", "nofile", NULL);
    ASSERT_STREQ(r.out, "32 64");
    cli_free(&r);
    /* SOFT: keeps the hard limit as it is; the last --rlimit for a name wins. */
    char want[64];
    snprintf(want, sizeof want, "40 %llu", (unsigned long long)cur.rlim_max);
    r = cli("run", "--rlimit=nofile=10", "--rlimit=nofile=40:", "@", "helper", "nofile", NULL);
    ASSERT_STREQ(r.out, want);
    cli_free(&r);
    static const char *const bad[] = {"nofile",      "files=10", "nofile=",  "nofile=x",
                                      "nofile=10:5", "nofile=:", "NOFILE=1", "nofile=-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = cli("run", "--rlimit", bad[i], "@", "helper", "nofile", NULL);
        ASSERT_USAGE_ERROR(r, "invalid limit");
        cli_free(&r);
    }
    /* Soft above the hard limit only known at run time. */
    if (cur.rlim_max != RLIM_INFINITY) {
        r = cli("run", "--rlimit=nofile=unlimited:", "@", "helper", "nofile", NULL);
        ASSERT_USAGE_ERROR(r, "soft limit");
        cli_free(&r);
    }
}

TEST(cli_nice)
{
    errno = 0;
    int now = getpriority(PRIO_PROCESS, 0);
    int want = now + 3 > 19 ? 19 : now + 3;
    char arg[32], out[16];
    snprintf(arg, sizeof arg, "--nice=%d", want);
    snprintf(out, sizeof out, "%d", want);
    cli_out r = cli("run", arg, "@", "helper", "nice", NULL);
    ASSERT_EQ(r.code, 0);
    ASSERT_STREQ(r.out, out);
    cli_free(&r);
    r = cli("run", "--nice=20", "@", "helper", "nice", NULL);
    ASSERT_USAGE_ERROR(r, "invalid niceness");
    cli_free(&r);
    r = cli("run", "--nice=1x", "@", "helper", "nice", NULL);
    ASSERT_USAGE_ERROR(r, "invalid niceness");
    cli_free(&r);
}

/* "pid ppid pgid sid uid gid" */
static void ids(const char *s, long v[6])
{
    ASSERT_EQ(sscanf(s, "%ld %ld %ld %ld %ld %ld", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]), 6);
}

TEST(cli_process_group_and_session)
{
    long v[6];
    /* Without a deadline the program stays in subproc's group, so the terminal reaches it. */
    cli_out r = cli("run", "@", "helper", "ids", NULL);
    ids(r.out, v);
    ASSERT_NE(v[2], v[0]);
    ASSERT_EQ(v[2], getpgrp());
    cli_free(&r);
    /* With one, a contained program stays there too (the deadline reaches its tree through
     * the cgroup), so Ctrl-C from the terminal reaches it as it would without subproc. */
    r = cli("run", "-t", "1h", "@", "helper", "ids", NULL);
    ids(r.out, v);
    ASSERT_NE(v[2], v[0]);
    ASSERT_EQ(v[2], getpgrp());
    cli_free(&r);
    /* Uncontained, it leads its own group, which the deadline's signals go to. */
    r = cli("run", "--no-contain", "-t", "1h", "@", "helper", "ids", NULL);
    ids(r.out, v);
    ASSERT_EQ(v[2], v[0]);
    ASSERT_NE(v[3], v[0]);
    cli_free(&r);
    r = cli("run", "--new-session", "@", "helper", "ids", NULL);
    ids(r.out, v);
    ASSERT_EQ(v[3], v[0]);
    ASSERT_EQ(v[2], v[0]);
    cli_free(&r);
}

/* ---- deadlines ---- */

TEST(cli_timeout_is_124)
{
    cli_out r = cli("run", "-t", "0.2", "@", "helper", "sleep", "20000", NULL);
    ASSERT_EQ(r.code, 124);
    cli_free(&r);
    r = cli("run", "--timeout=0.1s", "--signal=KILL", "@", "helper", "sleep", "20000", NULL);
    ASSERT_EQ(r.code, 124);
    cli_free(&r);
    /* A program that ends in time keeps its own status; 0 means no deadline. */
    r = cli("run", "-t", "1d", "@", "helper", "exit", "5", NULL);
    ASSERT_EQ(r.code, 5);
    cli_free(&r);
    r = cli("run", "-t0", "@", "helper", "exit", "6", NULL);
    ASSERT_EQ(r.code, 6);
    cli_free(&r);
    r = cli("run", "-t", ".5m", "-k", "1h", "@", "helper", "exit", "7", NULL);
    ASSERT_EQ(r.code, 7);
    cli_free(&r);
}

TEST_T(cli_kill_after_for_term_ignorers, 20)
{
    /* ignore-term would sleep 20 s: only KILL, after -k, ends it sooner. */
    cli_out r = cli("run", "-t", "0.2", "-k", "0.3", "--json=-", "@", "helper", "ignore-term",
                    "20000", NULL);
    ASSERT_EQ(r.code, 124);
    ASSERT(strstr(r.out, "ready\n"));
    ASSERT(strstr(r.out, "\"signal\":\"SIGKILL\""));
    ASSERT(strstr(r.out, "\"timed_out\":true"));
    cli_free(&r);
    /* The default kill-after is 2 s. */
    r = cli("run", "-t", "0.1", "--json=-", "@", "helper", "ignore-term", "20000", NULL);
    ASSERT_EQ(r.code, 124);
    ASSERT(strstr(r.out, "\"signal\":\"SIGKILL\""));
    cli_free(&r);
    /* -k 0: never KILL; the program finishes its 1 s sleep and exits 0 - still a timeout. */
    r = cli("run", "-t", "0.1", "-k", "0", "--json=-", "@", "helper", "ignore-term", "1000", NULL);
    ASSERT_EQ(r.code, 124);
    ASSERT(strstr(r.out, "\"exit_code\":0"));
    ASSERT(strstr(r.out, "\"signal\":null"));
    cli_free(&r);
}

TEST_T(cli_timeout_wakes_a_stopped_program, 10)
{
    /* The program stops itself; with no KILL to fall back on, only the CONT that follows the
     * deadline's TERM lets TERM act. */
    cli_out r = cli("run", "-t", "0.2", "-k", "0", "--json=-", "@", "helper", "stop", NULL);
    ASSERT_EQ(r.code, 124);
    ASSERT(strstr(r.out, "\"signal\":\"SIGTERM\""));
    cli_free(&r);
}

TEST_T(cli_capture_and_pipe_timeouts_wake_stopped_programs, 20)
{
    /* As above, through the library's deadlines: run --capture and every stage of pipe. */
    cli_out r = cli("run", "--capture", "-t", "0.2", "-k", "0", "--json=-", "@", "helper", "stop",
                    NULL);
    ASSERT_EQ(r.code, 124);
    ASSERT(strstr(r.out, "\"signal\":\"SIGTERM\""));
    cli_free(&r);
    r = cli("pipe", "-t", "0.2", "-k", "0", "@", "helper", "stop", "|", "@", "helper", "stop",
            NULL);
    ASSERT_EQ(r.code, 124);
    cli_free(&r);
}

TEST_T(cli_timeout_reaches_the_whole_group, 10)
{
    /* The program dies of TERM but left a TERM-ignoring child holding our stdout: it gets KILL
     * after -k too, so stdout reaches EOF long before the 20 s sleep is over. */
    cli_out r =
        cli("run", "-t", "0.3", "-k", "0.3", "@", "helper", "fork-ignore-term", "20000", NULL);
    ASSERT_EQ(r.code, 124);
    ASSERT_STREQ(r.out, "ready\n");
    cli_free(&r);
    /* Nested: subproc under subproc shares the group, and both go. */
    r = cli("run", "-t", "0.3", "-k", "0.3", "--", test_cli_path(), "run", "--", "@", "helper",
            "ignore-term", "20000", NULL);
    ASSERT_EQ(r.code, 124);
    ASSERT_STREQ(r.out, "ready\n");
    cli_free(&r);
}

TEST(cli_signal_option)
{
    cli_out r =
        cli("run", "-t", "0.1", "-s", "USR1", "--json=-", "@", "helper", "sleep", "20000", NULL);
    ASSERT_EQ(r.code, 124);
    ASSERT(strstr(r.out, "\"signal\":\"SIGUSR1\""));
    cli_free(&r);
    r = cli("run", "-t", "0.1", "-s", "9", "--json=-", "@", "helper", "sleep", "20000", NULL);
    ASSERT(strstr(r.out, "\"signal\":\"SIGKILL\""));
    cli_free(&r);
    r = cli("run", "-t", "0.1", "--signal=sigint", "--json=-", "@", "helper", "sleep", "20000",
            NULL);
    ASSERT(strstr(r.out, "\"signal\":\"SIGINT\""));
    cli_free(&r);
    /* (0 is timeout(1)'s "send nothing": test_conventions.c) */
    static const char *const bad[] = {"BOGUS", "65", "999999999999", "-9", "SIG", "", "TERM "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = cli("run", "-t", "1", "-s", bad[i], "@", "helper", "exit", "0", NULL);
        ASSERT_USAGE_ERROR(r, "invalid signal");
        char quoted[64];
        snprintf(quoted, sizeof quoted, "'%s'", bad[i]);
        ASSERT(strstr(r.err, quoted));
        cli_free(&r);
    }
}

TEST(cli_bad_durations_are_125)
{
    /* (exponents and inf are timeout(1)'s: test_conventions.c) */
    static const char *const bad[] = {"",    "abc", "1x",   "-1", "+1", "1.5.5", "1s2", " 1", "1 ",
                                      "nan", "1e",  "0x10", ".",  "s",  "1ss",   "1,5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cli_out r = cli("run", "-t", bad[i], "@", "helper", "exit", "0", NULL);
        ASSERT_USAGE_ERROR(r, "invalid duration");
        char quoted[64];
        snprintf(quoted, sizeof quoted, "'%s'", bad[i]);
        ASSERT(strstr(r.err, quoted));
        ASSERT(strstr(r.err, "--timeout"));
        cli_free(&r);
        r = cli("run", "-k", bad[i], "@", "helper", "exit", "0", NULL);
        ASSERT_USAGE_ERROR(r, "--kill-after");
        cli_free(&r);
    }
}

/* Start `subproc ARGS` with stdout piped; wait for the program to print "ready". */
static subproc_proc *cli_start(const char *const *argv)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    char buf[6];
    size_t got = 0;
    while (got < sizeof buf) {
        ssize_t n = read(subproc_proc_fd(p, 1), buf + got, sizeof buf - got);
        if (n < 0 && errno == EINTR) continue;
        ASSERT(n > 0);
        got += (size_t)n;
    }
    ASSERT_EQ(memcmp(buf, "ready\n", 6), 0);
    return p;
}

TEST(cli_relays_signals_to_the_program)
{
    /* INT sent to subproc reaches the program (which ignores only TERM), with or without a
     * process group of its own, and subproc reports how the program ended. */
    const char *with_group[] = {test_cli_path(), "run",         "-t",    "1h", test_self,
                                "helper",   "ignore-term", "20000", NULL};
    const char *without[] = {test_cli_path(), "run", test_self, "helper", "ignore-term", "20000", NULL};
    const char *const *cases[] = {with_group, without};
    for (int i = 0; i < 2; i++) {
        subproc_proc *p = cli_start(cases[i]);
        ASSERT_OK(subproc_proc_signal(p, SIGINT));
        subproc_status st;
        ASSERT_OK(subproc_proc_wait(p, &st));
        ASSERT_EQ(subproc_status_code(&st), 128 + SIGINT);
        subproc_proc_free(p);
    }
}

/* ---- --json ---- */

/* Run python3 on the JSON in `path`: it must parse, and `expr` (a Python expression over d)
 * is printed with json.dumps. Returns what python printed (malloc'd). */
static char *py_json(const char *path, const char *expr)
{
    char code[1024];
    snprintf(
        code, sizeof code,
        "import json,sys\nd=json.load(sys.stdin)\nprint(json.dumps(%s,ensure_ascii=True),end='')",
        expr);
    const char *argv[] = {"python3", "-c", code, NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    o.stdio[0] = (subproc_io){.kind = SUBPROC_IO_FILE, .path = path};
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    subproc_proc *p;
    subproc_error e;
    char es[700];
    if (subproc_spawn(&p, &o, &e) < 0)
        test_failf(__FILE__, __LINE__, "python3: %s", subproc_error_str(&e, es, sizeof es));
    char *out = read_all(subproc_proc_fd(p, 1), NULL);
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    subproc_proc_free(p);
    if (subproc_status_code(&st) != 0) {
        char *text = read_file(path);
        test_failf(__FILE__, __LINE__, "not valid JSON (python3 said %d): %s",
                   subproc_status_code(&st), text ? text : "(unreadable)");
    }
    return out;
}

#define FIELDS                                                                                     \
    "[sorted(d.keys()),d['exit_code'],d['signal'],d['core_dumped'],d['timed_out'],"                \
    "all(isinstance(d[k],int) and d[k]>=0 for k in ('pid','wall_ms','user_ms','sys_ms',"           \
    "'max_rss_kb')),d['argv'][1:]]"

TEST(cli_json_report_parses)
{
    scratch_new();
    const char *j = scratch_file("report.json");
    cli_out r = cli("run", "--json", j, "@", "helper", "exit", "3", NULL);
    ASSERT_EQ(r.code, 3);
    ASSERT_STREQ(r.out, "");
    cli_free(&r);
    char *s = py_json(j, FIELDS);
    ASSERT_STREQ(
        s, "[[\"argv\", \"containment\", \"core_dumped\", \"exit_code\", \"max_rss_kb\", \"pid\", "
           "\"signal\", \"sys_ms\", \"timed_out\", \"user_ms\", \"wall_ms\"], 3, null, false, false, "
           "true, [\"helper\", \"exit\", \"3\"]]");
    free(s);

    /* Killed by a signal: exit_code null, the signal's name. */
    r = cli("run", "--json", j, "@", "helper", "kill", "9", NULL);
    ASSERT_EQ(r.code, 137);
    cli_free(&r);
    s = py_json(j, "[d['exit_code'],d['signal'],d['timed_out']]");
    ASSERT_STREQ(s, "[null, \"SIGKILL\", false]");
    free(s);

    /* Timed out. */
    r = cli("run", "-t", "0.1", "--json", j, "@", "helper", "sleep", "20000", NULL);
    ASSERT_EQ(r.code, 124);
    cli_free(&r);
    s = py_json(j, "[d['exit_code'],d['signal'],d['timed_out'],d['wall_ms']>=100]");
    ASSERT_STREQ(s, "[null, \"SIGTERM\", true, true]");
    free(s);

    /* Arguments that need escaping, and bytes that are not UTF-8, still make valid JSON. */
    r = cli("run", "--json", j, "@", "helper", "args", "q\"uote", "back\\slash", "nl\n\ttab",
            "\x01\x1f\x7f", "caf\xc3\xa9", "bad\xff\xc3(", "\xed\xa0\x80", NULL);
    ASSERT_EQ(r.code, 0);
    cli_free(&r);
    s = py_json(j, "d['argv'][3:]");
    ASSERT_STREQ(s,
                 "[\"q\\\"uote\", \"back\\\\slash\", \"nl\\n\\ttab\", \"\\u0001\\u001f\\u007f\", "
                 "\"caf\\u00e9\", \"bad\\ufffd\\ufffd(\", \"\\ufffd\\ufffd\\ufffd\"]");
    free(s);

    /* To standard output with -; the report follows the program's own output. */
    r = cli("run", "--json=-", "@", "helper", "out", "hello\n", NULL);
    ASSERT_EQ(r.code, 0);
    ASSERT_EQ(strncmp(r.out, "hello\n{\"argv\":[", 15), 0);
    put_file(j, r.out + 6, 0644);
    cli_free(&r);
    free(py_json(j, "d['pid']"));

    /* A program that cannot start still gets a report, saying why. */
    r = cli("run", "--json", j, "no-such-program-for-subproc", NULL);
    ASSERT_EQ(r.code, 127);
    cli_free(&r);
    s = py_json(j, "[d['pid'],d['exit_code'],'no-such-program-for-subproc' in d['error']]");
    ASSERT_STREQ(s, "[null, null, true]");
    free(s);

    /* A report that cannot be written stops the program from being run at all. */
    r = cli("run", "--json", scratch_file("no/dir.json"), "--stdout", scratch_file("ran"), "@",
            "helper", "out", "x", NULL);
    ASSERT_USAGE_ERROR(r, scratch_file("no/dir.json"));
    ASSERT(access(scratch_file("ran"), F_OK) != 0);
    cli_free(&r);
    scratch_done();
}

/* helper signals lists the ignored ones in ascending order: SIGHUP (1) would come first. */
static int ignores_hup(const char *out)
{
    const char *ig = strstr(out, "ignored:");
    return ig && !strncmp(ig + 8, " 1", 2) && (ig[10] == ' ' || ig[10] == '\0');
}

TEST(cli_program_gets_subprocs_signal_state)
{
    /* subproc blocks the signals it relays; the program must not inherit that mask. What was
     * ignored when subproc started stays ignored (nohup). */
    signal(SIGHUP, SIG_IGN);
    cli_out r = cli("run", "-t", "1h", "@", "helper", "signals", NULL);
    ASSERT_EQ(r.code, 0);
    ASSERT_EQ(strncmp(r.out, "blocked: ignored:", 17), 0);
    ASSERT(ignores_hup(r.out));
    cli_free(&r);
    signal(SIGHUP, SIG_DFL);
    r = cli("run", "@", "helper", "signals", NULL);
    ASSERT_EQ(strncmp(r.out, "blocked: ignored:", 17), 0);
    ASSERT(!ignores_hup(r.out));
    cli_free(&r);
}

/* ---- run --capture ---- */

TEST(cli_capture_tees_and_reports)
{
    scratch_new();
    const char *j = scratch_file("r.json");
    /* Captured for the report and still printed. */
    cli_out r =
        cli("run", "--capture", "--json", j, "@", "helper", "out", "hello\n", "oops\n", NULL);
    ASSERT_EQ(r.code, 0);
    ASSERT_STREQ(r.out, "hello\n");
    ASSERT_STREQ(r.err, "oops\n");
    cli_free(&r);
    char *s = py_json(j, "[d['stdout'],d['stderr'],d['stdout_truncated'],d['stderr_truncated'],"
                         "d['exit_code']]");
    ASSERT_STREQ(s, "[\"hello\\n\", \"oops\\n\", false, false, 0]");
    free(s);
    /* A redirected stream goes where it was sent, and is not captured. */
    r = cli("run", "--capture", "--stdout", scratch_file("o"), "--json", j, "@", "helper", "out",
            "to-file", "err", NULL);
    ASSERT_EQ(r.code, 0);
    ASSERT_STREQ(r.out, "");
    ASSERT_STREQ(r.err, "err");
    cli_free(&r);
    s = read_file(scratch_file("o"));
    ASSERT_STREQ(s, "to-file");
    free(s);
    s = py_json(j, "[d['stdout'],d['stderr']]");
    ASSERT_STREQ(s, "[\"\", \"err\"]");
    free(s);
    /* NUL bytes and a non-zero exit are reported as they are. */
    r = cli("run", "--capture", "--json", j, "@", "helper", "args", "a", "b", NULL);
    ASSERT_EQ(r.code, 0);
    cli_free(&r);
    s = py_json(j, "d['stdout']");
    ASSERT_STREQ(s, "\"a\\u0000b\\u0000\"");
    free(s);
    /* Without --capture the report has no output fields. */
    r = cli("run", "--json", j, "@", "helper", "out", "x", NULL);
    cli_free(&r);
    s = py_json(j, "'stdout' in d");
    ASSERT_STREQ(s, "false");
    free(s);
    scratch_done();
}

TEST(cli_max_output_bounds_what_is_kept)
{
    scratch_new();
    const char *j = scratch_file("r.json");
    /* All 10000 bytes are printed; 100 are kept (head and tail), and the report says so. */
    cli_out r = cli("run", "--max-output=100", "--json", j, "@", "helper", "spew", "10000", NULL);
    ASSERT_EQ(r.code, 0);
    ASSERT_EQ(strlen(r.out), 10000);
    cli_free(&r);
    char *s = py_json(j, "[len(d['stdout']),len(d['stdout_tail']),d['stdout_omitted_bytes'],"
                         "d['stdout_truncated'],d['stderr_truncated']]");
    ASSERT_STREQ(s, "[50, 50, 9900, true, false]");
    free(s);
    r = cli("run", "--capture", "--max-output=1K", "--json", j, "@", "helper", "spew", "1024",
            NULL);
    ASSERT_EQ(r.code, 0);
    cli_free(&r);
    s = py_json(j, "[len(d['stdout']),d['stdout_truncated']]");
    ASSERT_STREQ(s, "[1024, false]");
    free(s);
    static const char *const bad[] = {"", "0", "-1", "1x", "1KB", "k", "99999999999999999999G"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char opt[64];
        snprintf(opt, sizeof opt, "--max-output=%s", bad[i]);
        r = cli("run", opt, "@", "helper", "exit", "0", NULL);
        ASSERT_USAGE_ERROR(r, "--max-output");
        cli_free(&r);
    }
    scratch_done();
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

TEST_T(cli_capture_grandchild_does_not_hold_the_deadline, 30)
{
    /* sh exits at once, but its background sleep keeps the output pipe open: after the wait
     * delay subproc exits with sh's status (not 124: sh did not run at the deadline), keeps what
     * was written, and the JSON says the output may be incomplete. The bound is generous (5 s)
     * against a 100 s hang. */
    scratch_new();
    const char *j = scratch_file("r.json");
    double t0 = mono_s();
    cli_out r = cli("run", "--capture", "--timeout=1", "--json", j, "--", "sh", "-c",
                    "sleep 100 & echo hi; echo $! >&2", NULL);
    double took = mono_s() - t0;
    if (atoi(r.err) > 1) kill(atoi(r.err), SIGKILL);
    ASSERT_EQ(r.code, 0);
    ASSERT_STREQ(r.out, "hi\n");
    ASSERT(took < 5.0);
    cli_free(&r);
    char *s = py_json(j, "[d['stdout'],d['timed_out'],d['output_incomplete']]");
    ASSERT_STREQ(s, "[\"hi\\n\", false, true]");
    free(s);
    scratch_done();
}

TEST_T(cli_capture_kill_after_and_exit_codes, 20)
{
    cli_out r = cli("run", "--capture", "-t", "0.2", "-k", "0.3", "--json=-", "@", "helper",
                    "ignore-term", "20000", NULL);
    ASSERT_EQ(r.code, 124);
    ASSERT(strstr(r.out, "\"signal\":\"SIGKILL\""));
    ASSERT(strstr(r.out, "\"stdout\":\"ready\\n\""));
    cli_free(&r);
    r = cli("run", "--capture", "@", "helper", "exit", "7", NULL);
    ASSERT_EQ(r.code, 7);
    cli_free(&r);
    r = cli("run", "--capture", "@", "helper", "kill", "9", NULL);
    ASSERT_EQ(r.code, 137);
    cli_free(&r);
    r = cli("run", "--capture", "no-such-program-for-subproc", NULL);
    ASSERT_EQ(r.code, 127);
    cli_free(&r);
}

TEST(cli_capture_and_pipe_relay_signals)
{
    /* While the library reads the output, INT sent to subproc still reaches the program, or
     * every stage of a pipeline, and the status says so. */
    const char *with_group[] = {test_cli_path(), "run",    "--capture",   "-t",    "1h",
                                test_self,  "helper", "ignore-term", "20000", NULL};
    const char *without[] = {test_cli_path(), "run",         "--capture", test_self,
                             "helper",   "ignore-term", "20000",     NULL};
    const char *pipe[] = {test_cli_path(), "pipe", "--",      test_self, "helper", "ignore-term",
                          "20000",    "|",    test_self, "helper",  "cat",    NULL};
    const char *const *cases[] = {with_group, without, pipe};
    for (int i = 0; i < 3; i++) {
        subproc_proc *p = cli_start(cases[i]);
        ASSERT_OK(subproc_proc_signal(p, SIGINT));
        subproc_status st;
        ASSERT_OK(subproc_proc_wait(p, &st));
        ASSERT_EQ(subproc_status_code(&st), 128 + SIGINT);
        subproc_proc_free(p);
    }
}

/* Start subproc with stdout a pipe, read a little, close our end, and wait. */
static subproc_status cli_reader_goes_away(const char *const *argv)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    o.stdio[0].kind = SUBPROC_IO_NULL;
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    char buf[64];
    ssize_t n;
    while ((n = read(subproc_proc_fd(p, 1), buf, sizeof buf)) < 0 && errno == EINTR) {
    }
    ASSERT(n > 0);
    subproc_proc_close_fd(p, 1);
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    subproc_proc_free(p);
    return st;
}

TEST(cli_capture_passes_sigpipe_on)
{
    /* A program that writes forever ends by SIGPIPE when subproc's reader goes away, as it
     * would without subproc in between - the capture does not swallow its output forever. */
    scratch_new();
    const char *j = scratch_file("r.json");
    const char *run[] = {test_cli_path(), "run",    "--capture", "--json", j,
                         test_self,  "helper", "forever",   NULL};
    subproc_status st = cli_reader_goes_away(run);
    ASSERT_EQ(subproc_status_code(&st), 128 + SIGPIPE);
    char *s = py_json(j, "[d['signal'],d['stdout'].startswith('tick 0\\n')]");
    ASSERT_STREQ(s, "[\"SIGPIPE\", true]");
    free(s);
    const char *pipe[] = {test_cli_path(), "pipe", "--capture", "--",     test_self, "helper",
                          "forever",  "|",    test_self,   "helper", "cat",     NULL};
    st = cli_reader_goes_away(pipe);
    ASSERT_EQ(subproc_status_code(&st), 128 + SIGPIPE);
    scratch_done();
}

/* ---- pipe ---- */

TEST(cli_pipe_connects_stages)
{
    cli_out r = cli("pipe", "@", "helper", "out", "one\ntwo\n", "|", "@", "helper", "cat", "|", "@",
                    "helper", "cat", NULL);
    ASSERT_EQ(r.code, 0);
    ASSERT_STREQ(r.out, "one\ntwo\n");
    cli_free(&r);
    /* A single stage is a pipeline too; "|" inside an argument is just a character. */
    r = cli("pipe", "--", "@", "helper", "out", "a|b", NULL);
    ASSERT_EQ(r.code, 0);
    ASSERT_STREQ(r.out, "a|b");
    cli_free(&r);
}

TEST(cli_pipe_status_and_pipefail)
{
    scratch_new();
    const char *j = scratch_file("p.json");
    cli_out r = cli("pipe", "--json", j, "@", "helper", "exit", "2", "|", "@", "helper", "exit",
                    "3", "|", "@", "helper", "exit", "0", NULL);
    ASSERT_EQ(r.code, 3); /* the rightmost failing stage */
    cli_free(&r);
    char *s = py_json(j, "[d['pipestatus'],d['exit_code'],[x['exit_code'] for x in d['stages']],"
                         "[x['argv'][1:] for x in d['stages']],d['timed_out'],"
                         "all(isinstance(x['pid'],int) for x in d['stages'])]");
    ASSERT_STREQ(s, "[[2, 3, 0], 3, [2, 3, 0], [[\"helper\", \"exit\", \"2\"], [\"helper\", "
                    "\"exit\", \"3\"], [\"helper\", \"exit\", \"0\"]], false, true]");
    free(s);
    r = cli("pipe", "--no-pipefail", "@", "helper", "exit", "2", "|", "@", "helper", "exit", "0",
            NULL);
    ASSERT_EQ(r.code, 0);
    cli_free(&r);
    r = cli("pipe", "--no-pipefail", "@", "helper", "exit", "0", "|", "@", "helper", "exit", "4",
            NULL);
    ASSERT_EQ(r.code, 4);
    cli_free(&r);
    /* A stage killed by a signal: 128+N, and its name in the report. */
    r = cli("pipe", "--json", j, "@", "helper", "exit", "0", "|", "@", "helper", "kill", "15",
            NULL);
    ASSERT_EQ(r.code, 143);
    cli_free(&r);
    s = py_json(j, "[d['pipestatus'],d['stages'][1]['signal'],d['stages'][1]['exit_code']]");
    ASSERT_STREQ(s, "[[0, 143], \"SIGTERM\", null]");
    free(s);
    scratch_done();
}

TEST(cli_pipe_missing_stage_is_127)
{
    scratch_new();
    const char *j = scratch_file("p.json");
    cli_out r = cli("pipe", "--json", j, "@", "helper", "out", "x", "|",
                    "no-such-program-for-subproc", "|", "@", "helper", "cat", NULL);
    ASSERT_EQ(r.code, 127);
    ASSERT(strstr(r.err, "stage 2"));
    ASSERT(strstr(r.err, "no-such-program-for-subproc"));
    cli_free(&r);
    char *s = py_json(j, "[d['pipestatus'][1:],d['stages'][1]['pid'],"
                         "'no-such-program-for-subproc' in d['stages'][1]['error'],"
                         "'error' in d['stages'][2]]");
    ASSERT_STREQ(s, "[[127, 0], null, true, false]");
    free(s);
    /* Found but not runnable: 126. */
    put_file(scratch_file("noexec"), "#!/bin/sh\n", 0644);
    r = cli("pipe", "@", "helper", "exit", "0", "|", scratch_file("noexec"), NULL);
    ASSERT_EQ(r.code, 126);
    cli_free(&r);
    /* A stage whose setup step fails (chdir) exits 125, as run does; a --stdin file that
     * cannot be opened stops everything before any stage starts: the output file is
     * untouched. */
    r = cli("pipe", "-C", scratch_file("no-dir"), "@", "helper", "exit", "0", "|", "@", "helper",
            "exit", "0", NULL);
    ASSERT_EQ(r.code, 125);
    ASSERT(strstr(r.err, "chdir"));
    cli_free(&r);
    put_file(scratch_file("out"), "old", 0644);
    r = cli("pipe", "--stdin", scratch_file("no-file"), "--stdout", scratch_file("out"), "@",
            "helper", "out", "new", NULL);
    ASSERT_USAGE_ERROR(r, "no-file");
    cli_free(&r);
    char *old = read_file(scratch_file("out"));
    ASSERT_STREQ(old, "old");
    free(old);
    /* With --no-pipefail a missing last stage still decides. */
    r = cli("pipe", "--no-pipefail", "@", "helper", "exit", "0", "|", "no-such-program-for-subproc",
            NULL);
    ASSERT_EQ(r.code, 127);
    cli_free(&r);
    scratch_done();
}

TEST_T(cli_pipe_deadline_kills_every_stage, 30)
{
    /* Every stage would run 20 s; two ignore TERM. One deadline ends them all: TERM to the
     * group, KILL after -k. */
    scratch_new();
    const char *j = scratch_file("p.json");
    cli_out r =
        cli("pipe", "-t", "0.3", "-k", "0.3", "--json", j, "@", "helper", "ignore-term", "20000",
            "|", "@", "helper", "sleep", "20000", "|", "@", "helper", "ignore-term", "20000", NULL);
    ASSERT_EQ(r.code, 124);
    cli_free(&r);
    char *s = py_json(j, "[[x['signal'] for x in d['stages']],d['timed_out']]");
    ASSERT_STREQ(s, "[[\"SIGKILL\", \"SIGTERM\", \"SIGKILL\"], true]");
    free(s);
    /* -s picks the signal. */
    r = cli("pipe", "-t", "0.2", "-s", "INT", "--json", j, "@", "helper", "sleep", "20000", "|",
            "@", "helper", "sleep", "20000", NULL);
    ASSERT_EQ(r.code, 124);
    cli_free(&r);
    s = py_json(j, "[x['signal'] for x in d['stages']]");
    ASSERT_STREQ(s, "[\"SIGINT\", \"SIGINT\"]");
    free(s);
    scratch_done();
}

TEST(cli_pipe_redirections_env_and_dir)
{
    scratch_new();
    put_file(scratch_file("in"), "from-file\n", 0644);
    cli_out r = cli("pipe", "--stdin", scratch_file("in"), "--stdout", scratch_file("out"), "@",
                    "helper", "cat", "|", "@", "helper", "cat", NULL);
    ASSERT_EQ(r.code, 0);
    ASSERT_STREQ(r.out, "");
    cli_free(&r);
    char *s = read_file(scratch_file("out"));
    ASSERT_STREQ(s, "from-file\n");
    free(s);
    /* --append keeps what was there. */
    r = cli("pipe", "--stdin=null", "--append", "--stdout", scratch_file("out"), "@", "helper",
            "out", "more\n", NULL);
    ASSERT_EQ(r.code, 0);
    cli_free(&r);
    s = read_file(scratch_file("out"));
    ASSERT_STREQ(s, "from-file\nmore\n");
    free(s);
    /* Every stage's stderr goes to the one file, neither overwriting the other. */
    r = cli("pipe", "--stderr", scratch_file("err"), "@", "helper", "out", "", "E1\n", "|", "@",
            "helper", "out", "", "E2\n", NULL);
    ASSERT_EQ(r.code, 0);
    ASSERT_STREQ(r.err, "");
    cli_free(&r);
    s = read_file(scratch_file("err"));
    ASSERT(s && strlen(s) == 6 && strstr(s, "E1\n") && strstr(s, "E2\n"));
    free(s);
    /* --stderr=stdout: the last stage's stderr joins the pipeline's output; null drops it. */
    r = cli("pipe", "--stderr=stdout", "@", "helper", "exit", "0", "|", "@", "helper", "out", "o",
            "e", NULL);
    ASSERT_STREQ(r.out, "oe");
    ASSERT_STREQ(r.err, "");
    cli_free(&r);
    r = cli("pipe", "--stderr=null", "@", "helper", "out", "", "e1", "|", "@", "helper", "out", "o",
            "e2", NULL);
    ASSERT_STREQ(r.out, "o");
    ASSERT_STREQ(r.err, "");
    cli_free(&r);
    /* Environment and directory apply to every stage. */
    r = cli("pipe", "-i", "-e", "A=1", "@", "helper", "getenv", "A", "|", "@", "helper", "cat",
            NULL);
    ASSERT_STREQ(r.out, "1");
    cli_free(&r);
    r = cli("pipe", "-C", scratch, "@", "helper", "exit", "0", "|", "@", "helper", "pwd", NULL);
    char real[PATH_MAX];
    ASSERT(realpath(scratch, real));
    ASSERT_STREQ(r.out, real);
    cli_free(&r);
    r = cli("pipe", "--umask=027", "@", "helper", "exit", "0", "|", "@", "helper", "umask", NULL);
    ASSERT_STREQ(r.out, "027");
    cli_free(&r);
    r = cli("pipe", "--rlimit=nofile=32:64", "--nice=19", "@", "helper", "nofile", "|", "@",
            "helper", "cat", NULL);
    ASSERT_STREQ(r.out, "32 64");
    cli_free(&r);
    r = cli("pipe", "--nice=19", "@", "helper", "exit", "0", "|", "@", "helper", "nice", NULL);
    ASSERT_STREQ(r.out, "19");
    cli_free(&r);
    scratch_done();
}

TEST(cli_pipe_capture_json)
{
    scratch_new();
    const char *j = scratch_file("p.json");
    /* Nothing flows into the last stage, which does not read: no stage can die of SIGPIPE. */
    cli_out r = cli("pipe", "--capture", "--json", j, "@", "helper", "out", "", "|", "@",
                    "helper", "cat", "|", "@", "helper", "out", "", "last-err", NULL);
    ASSERT_EQ(r.code, 0);
    ASSERT_STREQ(r.err, "last-err");
    cli_free(&r);
    char *s = py_json(j, "[d['stdout'],d['stderr'],d['stdout_truncated']]");
    ASSERT_STREQ(s, "[\"\", \"last-err\", false]");
    free(s);
    r = cli("pipe", "--max-output=4", "--json", j, "@", "helper", "spew", "100", "|", "@", "helper",
            "cat", NULL);
    ASSERT_EQ(r.code, 0);
    ASSERT_EQ(strlen(r.out), 100);
    cli_free(&r);
    s = py_json(j, "[d['stdout'],d['stdout_tail'],d['stdout_omitted_bytes'],d['stdout_truncated']]");
    ASSERT_STREQ(s, "[\"xx\", \"xx\", 96, true]");
    free(s);
    scratch_done();
}

TEST(cli_pipe_usage_errors)
{
    cli_out r = cli("pipe", "|", "@", "helper", "exit", "0", NULL);
    ASSERT_USAGE_ERROR(r, "empty stage");
    cli_free(&r);
    r = cli("pipe", "@", "helper", "exit", "0", "|", NULL);
    ASSERT_USAGE_ERROR(r, "empty stage");
    cli_free(&r);
    r = cli("pipe", "@", "helper", "exit", "0", "|", "|", "@", "helper", "exit", "0", NULL);
    ASSERT_USAGE_ERROR(r, "empty stage");
    cli_free(&r);
    r = cli("pipe", NULL);
    ASSERT_USAGE_ERROR(r, "no program");
    cli_free(&r);
    r = cli("pipe", "--new-session", "@", "helper", "exit", "0", NULL);
    ASSERT_USAGE_ERROR(r, "--new-session");
    cli_free(&r);
    r = cli("pipe", "-t", "soon", "@", "helper", "exit", "0", NULL);
    ASSERT_USAGE_ERROR(r, "invalid duration 'soon'");
    cli_free(&r);
    r = cli("run", "--no-pipefail", "@", "helper", "exit", "0", NULL);
    ASSERT_USAGE_ERROR(r, "--no-pipefail");
    cli_free(&r);
}

/* ---- par ---- */

TEST(cli_par_substitutes_inputs)
{
    cli_out r = cli("par", "-k", "@", "helper", "out", "<{}>\n", ":::", "a", "b c", "", NULL);
    ASSERT_EQ(r.code, 0);
    ASSERT_STREQ(r.out, "<a>\n<b c>\n<>\n");
    cli_free(&r);
    /* Several {} in one argument, and in several. */
    r = cli("par", "-k", "@", "helper", "out", "{}{}", "{}!", ":::", "x", NULL);
    ASSERT_STREQ(r.out, "xx");
    ASSERT_STREQ(r.err, "x!");
    cli_free(&r);
    /* Without {} the input is the last argument. */
    r = cli("par", "-k", "--", "@", "helper", "args", ":::", "p", "q", NULL);
    ASSERT_EQ(r.code, 0);
    ASSERT_EQ(memcmp(r.out, "p\0q\0", 4), 0);
    cli_free(&r);
    /* No inputs: nothing to do. */
    r = cli("par", "@", "helper", "exit", "1", ":::", NULL);
    ASSERT_EQ(r.code, 0);
    ASSERT_STREQ(r.out, "");
    cli_free(&r);
}

TEST(cli_par_reads_inputs_from_stdin)
{
    scratch_new();
    put_file(scratch_file("in"), "a\nb b\n\nlast", 0644);
    cli_stdin_path = scratch_file("in");
    cli_out r = cli("par", "-k", "@", "helper", "out", "[{}]", NULL);
    cli_stdin_path = NULL;
    ASSERT_EQ(r.code, 0);
    ASSERT_STREQ(r.out, "[a][b b][][last]");
    cli_free(&r);
    scratch_done();
}

/* Each job writes 4 lines 30 ms apart: running 4 at once, their writes overlap in time. */
#define SLOW_JOB "@", "helper", "chunks", "{}1\n", "{}2\n", "{}3\n", "{}4\n"

TEST(cli_par_output_is_never_interleaved)
{
    cli_out r = cli("par", "-j4", SLOW_JOB, ":::", "A", "B", "C", "D", "E", "F", "G", "H", NULL);
    ASSERT_EQ(r.code, 0);
    ASSERT_EQ(strlen(r.out), 8 * 12);
    for (char c = 'A'; c <= 'H'; c++) {
        char block[16];
        snprintf(block, sizeof block, "%c1\n%c2\n%c3\n%c4\n", c, c, c, c);
        if (!strstr(r.out, block)) test_failf(__FILE__, __LINE__, "no block %c: %s", c, r.out);
    }
    cli_free(&r);
}

TEST(cli_par_keep_order)
{
    /* The first input sleeps longest, so it ends last; -k still prints it first. */
    cli_out r =
        cli("par", "-j3", "-k", "-0", "@", "helper", "chunks", "{}", ":::", "3\n", "2\n", "1\n", NULL);
    ASSERT_EQ(r.code, 0);
    ASSERT_STREQ(r.out, "3\n2\n1\n");
    cli_free(&r);
    r = cli("par", "-j4", "--keep-order", SLOW_JOB, ":::", "A", "B", "C", "D", "E", "F", NULL);
    ASSERT_STREQ(r.out, "A1\nA2\nA3\nA4\nB1\nB2\nB3\nB4\nC1\nC2\nC3\nC4\nD1\nD2\nD3\nD4\n"
                        "E1\nE2\nE3\nE4\nF1\nF2\nF3\nF4\n");
    cli_free(&r);
    /* Without -k, a job that ends sooner is printed sooner. */
    /* The input picks the helper mode: "chunks" writes 1..5 over 120 ms, "out" writes "1\n"
     * (and "2\n" to stderr) at once. */
    r = cli("par", "-j2", "--", "@", "helper", "{}", "1\n", "2\n", "3\n", "4\n", "5\n",
            ":::", "chunks", "out", NULL);
    ASSERT_STREQ(r.out, "1\n1\n2\n3\n4\n5\n");
    cli_free(&r);
    r = cli("par", "-j2", "-k", "--", "@", "helper", "{}", "1\n", "2\n", "3\n", "4\n", "5\n",
            ":::", "chunks", "out", NULL);
    ASSERT_STREQ(r.out, "1\n2\n3\n4\n5\n1\n");
    cli_free(&r);
}

TEST(cli_par_failed_count_and_summary)
{
    cli_out r = cli("par", "@", "helper", "exit", ":::", "0", "3", "0", "5", NULL);
    ASSERT_EQ(r.code, 2);
    ASSERT(strstr(r.err, "failed: 3: exited with 3"));
    ASSERT(strstr(r.err, "failed: 5: exited with 5"));
    ASSERT(strstr(r.err, "2 of 4 jobs failed"));
    cli_free(&r);
    /* Killed by a signal, or not started at all: failed too. */
    r = cli("par", "-k", "--", "{}", "helper", "exit", "0", ":::", "@",
            "no-such-program-for-subproc", NULL);
    ASSERT_EQ(r.code, 1);
    ASSERT(strstr(r.err, "no-such-program-for-subproc: cannot start"));
    cli_free(&r);
    r = cli("par", "@", "helper", "kill", ":::", "9", NULL);
    ASSERT_EQ(r.code, 1);
    ASSERT(strstr(r.err, "failed: 9: killed by SIGKILL"));
    cli_free(&r);
    /* The status is capped at 101 (102 inputs, from standard input). */
    scratch_new();
    char lines[102 * 2 + 1];
    for (int i = 0; i < 102; i++)
        lines[2 * i] = '1', lines[2 * i + 1] = '\n';
    lines[204] = '\0';
    put_file(scratch_file("in"), lines, 0644);
    cli_stdin_path = scratch_file("in");
    r = cli("par", "-j16", "@", "helper", "exit", NULL);
    cli_stdin_path = NULL;
    ASSERT_EQ(r.code, 101);
    ASSERT(strstr(r.err, "102 of 102 jobs failed"));
    cli_free(&r);
    scratch_done();
}

TEST(cli_par_halt_on_error)
{
    scratch_new();
    const char *j = scratch_file("p.json");
    cli_out r = cli("par", "-j1", "--halt-on-error", "--json", j, "@", "helper", "exit", ":::", "0",
                    "4", "0", "0", NULL);
    ASSERT_EQ(r.code, 4); /* soon,fail=1: the failed job's status, as GNU parallel */
    ASSERT(strstr(r.err, "2 not started"));
    cli_free(&r);
    char *s = py_json(j, "[[x['started'] for x in d['jobs']],d['failed'],d['skipped']]");
    ASSERT_STREQ(s, "[[true, true, false, false], 1, 2]");
    free(s);
    /* Without it, every job runs. */
    r = cli("par", "-j1", "--json", j, "@", "helper", "exit", ":::", "0", "4", "0", "0", NULL);
    ASSERT_EQ(r.code, 1);
    cli_free(&r);
    s = py_json(j, "[[x['started'] for x in d['jobs']],d['skipped']]");
    ASSERT_STREQ(s, "[[true, true, true, true], 0]");
    free(s);
    scratch_done();
}

TEST_T(cli_par_timeout_per_job, 30)
{
    scratch_new();
    const char *j = scratch_file("p.json");
    cli_out r =
        cli("par", "-t", "0.3", "--json", j, "@", "helper", "sleep", ":::", "20000", "0", NULL);
    ASSERT_EQ(r.code, 1);
    ASSERT(strstr(r.err, "failed: 20000: killed by SIGTERM (timed out)"));
    cli_free(&r);
    char *s = py_json(j, "[[x['timed_out'] for x in d['jobs']],[x['signal'] for x in d['jobs']]]");
    ASSERT_STREQ(s, "[[true, false], [\"SIGTERM\", null]]");
    free(s);
    /* A job that ignores TERM gets KILL after --kill-after. */
    r = cli("par", "-t", "0.2", "--kill-after=0.2", "--json", j, "@", "helper", "ignore-term",
            ":::", "20000", NULL);
    ASSERT_EQ(r.code, 1);
    cli_free(&r);
    s = py_json(j, "[d['jobs'][0]['signal'],d['jobs'][0]['stdout']]");
    ASSERT_STREQ(s, "[\"SIGKILL\", \"ready\\n\"]");
    free(s);
    /* -s: another signal at the deadline. */
    r = cli("par", "-t", "0.2", "-s", "INT", "--json", j, "@", "helper", "sleep",
            ":::", "20000", NULL);
    ASSERT_EQ(r.code, 1);
    cli_free(&r);
    s = py_json(j, "d['jobs'][0]['signal']");
    ASSERT_STREQ(s, "\"SIGINT\"");
    free(s);
    r = cli("par", "-s", "BOGUS", "@", ":::", "a", NULL);
    ASSERT_USAGE_ERROR(r, "invalid signal 'BOGUS'");
    cli_free(&r);
    scratch_done();
}

TEST(cli_par_json_env_dir_progress)
{
    scratch_new();
    const char *j = scratch_file("p.json");
    cli_out r = cli("par", "-k", "-e", "V=v", "--json", j, "@", "helper", "getenv", ":::", "V",
                    "HOME_NOT_SET_HERE", NULL);
    ASSERT_EQ(r.code, 0);
    ASSERT_STREQ(r.out, "v(unset)");
    cli_free(&r);
    char *s = py_json(j, "[[x['input'],x['stdout'],x['exit_code'],x['argv'][1:]] for x in "
                         "d['jobs']]+[d['failed']]");
    ASSERT_STREQ(s, "[[\"V\", \"v\", 0, [\"helper\", \"getenv\", \"V\"]], [\"HOME_NOT_SET_HERE\", "
                    "\"(unset)\", 0, [\"helper\", \"getenv\", \"HOME_NOT_SET_HERE\"]], 0]");
    free(s);
    r = cli("par", "-C", scratch, "@", "helper", "pwd", ":::", "x", NULL);
    char real[PATH_MAX];
    ASSERT(realpath(scratch, real));
    ASSERT_STREQ(r.out, real);
    cli_free(&r);
    /* The bar is drawn when asked for, and not on a stderr that is no terminal otherwise. */
    r = cli("par", "--progress", "@", "helper", "exit", "0", ":::", "1", "2", "3", NULL);
    ASSERT_EQ(r.code, 0);
    ASSERT(strstr(r.err, "3/3 done"));
    cli_free(&r);
    r = cli("par", "@", "helper", "exit", "0", ":::", "1", "2", "3", NULL);
    ASSERT_STREQ(r.err, "");
    cli_free(&r);
    scratch_done();
}

TEST(cli_par_usage_errors)
{
    cli_out r = cli("par", "-j", "x", "@", "helper", "exit", "0", ":::", "a", NULL);
    ASSERT_USAGE_ERROR(r, "-j/--jobs");
    cli_free(&r);
    r = cli("par", ":::", "a", NULL);
    ASSERT_USAGE_ERROR(r, "no program");
    cli_free(&r);
    r = cli("par", "@", ":::+", "a", NULL);
    ASSERT_USAGE_ERROR(r, "cannot come first");
    cli_free(&r);
    r = cli("par", "--halt", "later,fail=1", "@", ":::", "a", NULL);
    ASSERT_USAGE_ERROR(r, "--halt");
    cli_free(&r);
    r = cli("par", "-n", "0", "@", ":::", "a", NULL);
    ASSERT_USAGE_ERROR(r, "-n/--max-args");
    cli_free(&r);
    r = cli("par", "--resume", "@", ":::", "a", NULL);
    ASSERT_USAGE_ERROR(r, "--joblog");
    cli_free(&r);
    r = cli("par", "@", "::::", NULL);
    ASSERT_USAGE_ERROR(r, ":::: needs a file");
    cli_free(&r);
    r = cli("par", "-t", "x", "@", ":::", "a", NULL);
    ASSERT_USAGE_ERROR(r, "invalid duration 'x'");
    cli_free(&r);
    r = cli("par", "--keep-order=1", "@", ":::", "a", NULL);
    ASSERT_USAGE_ERROR(r, "takes no value");
    cli_free(&r);
    r = cli("par", "-e", "=x", "@", ":::", "a", NULL);
    ASSERT_USAGE_ERROR(r, "-e/--env");
    cli_free(&r);
}

TEST(cli_help_for_pipe_and_par)
{
    cli_out r = cli("--help", NULL);
    ASSERT(strstr(r.out, "pipe") && strstr(r.out, "par"));
    cli_free(&r);
    static const char *const pipe_opts[] = {
        "--chdir",      "--env",    "--unset",       "--ignore-environment",
        "--stdin",      "--stdout", "--stderr",      "--append",
        "--timeout",    "--signal", "--kill-after",  "--umask",
        "--rlimit",     "--nice",   "--no-pipefail", "--capture",
        "--max-output", "--json",   "124",           "125",
        "126",          "127"};
    r = cli("pipe", "--help", NULL);
    ASSERT_EQ(r.code, 0);
    for (size_t i = 0; i < sizeof pipe_opts / sizeof pipe_opts[0]; i++)
        if (!strstr(r.out, pipe_opts[i]))
            test_failf(__FILE__, __LINE__, "pipe --help lacks %s", pipe_opts[i]);
    cli_free(&r);
    static const char *const par_opts[] = {"--jobs",
                                           "--keep-order",
                                           "--halt-on-error",
                                           "--timeout",
                                           "--kill-after",
                                           "--max-output",
                                           "--progress",
                                           "--chdir",
                                           "--env",
                                           "--unset",
                                           "--ignore-environment",
                                           "--json",
                                           ":::",
                                           "{}",
                                           "101"};
    r = cli("par", "--help", NULL);
    ASSERT_EQ(r.code, 0);
    for (size_t i = 0; i < sizeof par_opts / sizeof par_opts[0]; i++)
        if (!strstr(r.out, par_opts[i]))
            test_failf(__FILE__, __LINE__, "par --help lacks %s", par_opts[i]);
    cli_free(&r);
    r = cli("run", "--help", NULL);
    ASSERT(strstr(r.out, "--capture") && strstr(r.out, "--max-output"));
    cli_free(&r);
}

/* ---- make demo ---- */

TEST_T(cli_demo_script_runs, 60)
{
    /* examples/demo.sh of the source tree next to the build directory, with that build. */
    char build[PATH_MAX], script[PATH_MAX + 32];
    snprintf(build, sizeof build, "%s", test_self);
    char *slash = strrchr(build, '/');
    ASSERT(slash);
    *slash = '\0';
    snprintf(script, sizeof script, "%s/../examples/demo.sh", build);
    if (access(script, R_OK) != 0) test_failf(__FILE__, __LINE__, "no %s", script);
    const char *argv[] = {"sh", script, build, NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    o.stdio[0].kind = SUBPROC_IO_NULL;
    o.stdio[2].kind = SUBPROC_IO_STDOUT;
    subproc_result res;
    ASSERT_OK(subproc_run(&res, &o, NULL));
    const char *out = res.out.data;
    if (!res.status.exited || res.status.code != 0)
        test_failf(__FILE__, __LINE__, "demo.sh failed: %s", out);
    ASSERT(strstr(out, "=== subproc pipe"));
    ASSERT(strstr(out, "\"pipestatus\":[0,0,0]"));
    ASSERT(strstr(out, "demo: done"));
    /* Each command is shown before its output, so a status says whose it is; the SIGPIPE
     * death of the pipes example is explained. */
    ASSERT(strstr(out, "$ ") && strstr(out, "/subproc pipe -- seq 3 '|' sh -c 'cat >/dev/null; "
                                            "exit 3' '|' cat\n(exit status 3)\n"));
    ASSERT(strstr(out, "/examples/pipes 5 both\n"));
    ASSERT(strstr(out, "'killed by SIGPIPE' is expected"));
    subproc_result_free(&res);
}

/* Whether a process whose command line holds `marker` as an argument exists. */
static int process_with_arg(const char *marker)
{
    DIR *d = opendir("/proc");
    ASSERT(d);
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        char path[300], buf[4096];
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0) continue;
        buf[n] = '\0';
        for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1)
            if (!strcmp(buf + i, marker)) found = 1;
    }
    closedir(d);
    return found;
}

TEST_T(cli_par_jobs_do_not_outlive_subproc, 30)
{
#ifdef __linux__
    /* The job is in a process group of its own (-t); subproc is killed outright. The job
     * (which would sleep 20 s) must end soon after: 10 s is a must-not-hang bound. */
    char marker[64];
    snprintf(marker, sizeof marker, "par-orphan-marker-%d", (int)getpid());
    /* Only the job has "MARKER-job" in its arguments (subproc has "{}-job" and MARKER). */
    const char *argv[] = {test_cli_path(), "par",   "-t",     "1h",  "--",   test_self, "helper",
                          "sleep",    "20000", "{}-job", ":::", marker, NULL};
    char job[80];
    snprintf(job, sizeof job, "%s-job", marker);
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    int i;
    for (i = 0; i < 1000 && !process_with_arg(job); i++)
        usleep(10000);
    ASSERT(i < 1000); /* the job started */
    ASSERT_OK(subproc_proc_signal(p, SIGKILL));
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    subproc_proc_free(p);
    for (i = 0; i < 1000 && process_with_arg(job); i++)
        usleep(10000);
    ASSERT(i < 1000);
#endif
}

TEST_T(cli_pipe_takes_the_terminal, 30)
{
    /* Run in a pseudo-terminal (python3's pty.fork makes subproc a session leader on it, in the
     * foreground), a pipeline gets the terminal as a shell would give it, so a stage that uses
     * the terminal is not stopped in a background process group; subproc takes it back after. */
    static const char prog[] = "import os,pty,sys\n"
                               "pid,fd=pty.fork()\n"
                               "if pid==0:\n"
                               "    os.execv(sys.argv[1],sys.argv[1:])\n"
                               "out=b''\n"
                               "while True:\n"
                               "    try:\n"
                               "        d=os.read(fd,1024)\n"
                               "    except OSError:\n"
                               "        break\n"
                               "    if not d:\n"
                               "        break\n"
                               "    out+=d\n"
                               "_,st=os.waitpid(pid,0)\n"
                               "sys.stdout.write(out.decode(errors='replace'))\n"
                               "sys.exit(st>>8)\n";
    const char *argv[] = {"python3", "-c",      prog,     test_cli_path(), "pipe",
                          "--",      test_self, "helper", "exit",     "0",
                          "|",       test_self, "helper", "tty-fg",   NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    o.stdio[0].kind = SUBPROC_IO_NULL;
    subproc_result res;
    ASSERT_OK(subproc_run(&res, &o, NULL));
    if (!strstr(res.out.data, "fg"))
        test_failf(__FILE__, __LINE__, "not in the foreground: %s", res.out.data);
    ASSERT_EQ(res.status.exited, 1);
    ASSERT_EQ(res.status.code, 0);
    subproc_result_free(&res);
}
