/* test_spawn.c - starting children: exec and fork mode, program lookup, environment, cwd. */
#include "test.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

TEST(spawn_exit_code)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    subproc_status st = run_helper(&o, NULL, "exit", "42", NULL);
    ASSERT_EQ(st.exited, 1);
    ASSERT_EQ(st.code, 42);
    ASSERT_EQ(st.signaled, 0);
    char buf[64];
    ASSERT_STREQ(subproc_status_str(&st, buf, sizeof buf), "exited with 42");
    ASSERT_EQ(subproc_status_code(&st), 42);
}

TEST(spawn_args_bytes_exact)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    char *out;
    /* Shell metacharacters, spaces, quotes, an empty argument and high bytes pass untouched. */
    run_helper(&o, &out, "args", "a b", "", "$(echo hi); rm -rf /", "'\"*?", "\xff\xfe", NULL);
    const char want[] = "a b\0\0$(echo hi); rm -rf /\0'\"*?\0\xff\xfe";
    ASSERT(memcmp(out, want, sizeof want) == 0);
    free(out);
}

TEST(spawn_argv0_differs_from_program)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    const char *argv[] = {"not-the-program", "helper", "argv0", NULL};
    o.program = test_self;
    o.argv = argv;
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    char *out = read_all(subproc_proc_fd(p, 1), NULL);
    ASSERT_STREQ(out, "not-the-program");
    free(out);
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(st.code, 0);
    subproc_proc_free(p);
}

static int expect_spawn_error(subproc_opts *o, int want_err, subproc_step want_step,
                              const char *want_path)
{
    subproc_proc *p = NULL;
    subproc_error e;
    int r = subproc_spawn(&p, o, &e);
    ASSERT_EQ(r, -want_err);
    ASSERT(p == NULL);
    ASSERT_EQ(e.err, want_err);
    ASSERT_STREQ(subproc_step_name(e.step), subproc_step_name(want_step));
    if (want_path) ASSERT_STREQ(e.path, want_path);
    return r;
}

TEST(spawn_missing_program_absolute)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    const char *argv[] = {"/nonexistent/prog", NULL};
    o.argv = argv;
    expect_spawn_error(&o, ENOENT, SUBPROC_STEP_EXEC, "/nonexistent/prog");
    subproc_error e = {SUBPROC_STEP_EXEC, ENOENT, -1, "/nonexistent/prog"};
    char buf[256];
    ASSERT_STREQ(subproc_error_str(&e, buf, sizeof buf),
                 "exec /nonexistent/prog: No such file or directory");
}

TEST(spawn_missing_program_in_path)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    const char *argv[] = {"subproc-no-such-program-xyz", NULL};
    o.argv = argv;
    expect_spawn_error(&o, ENOENT, SUBPROC_STEP_RESOLVE, "subproc-no-such-program-xyz");
}

TEST(spawn_not_executable)
{
    char dir[] = "/tmp/subproc-test-XXXXXX";
    ASSERT(mkdtemp(dir));
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/plain", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    write_all(fd, "#!/bin/sh\necho hi\n", 18);
    close(fd);
    subproc_opts o = SUBPROC_OPTS_INIT;
    const char *argv[] = {path, NULL};
    o.argv = argv;
    if (geteuid() != 0) expect_spawn_error(&o, EACCES, SUBPROC_STEP_EXEC, path);
    /* Root may read anything, but exec still needs an x bit. */
    else expect_spawn_error(&o, EACCES, SUBPROC_STEP_EXEC, path);
    /* A file with an x bit and no valid format is ENOEXEC, never run through a shell. */
    fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    write_all(fd, "echo pwned\n", 11);
    close(fd);
    chmod(path, 0755);
    expect_spawn_error(&o, ENOEXEC, SUBPROC_STEP_EXEC, path);
    unlink(path);
    rmdir(dir);
}

TEST(spawn_path_search_uses_child_env)
{
    /* A program found only through the PATH given to the child, not the parent's PATH. */
    char dir[] = "/tmp/subproc-test-XXXXXX";
    ASSERT(mkdtemp(dir));
    char link[PATH_MAX];
    snprintf(link, sizeof link, "%s/my-helper", dir);
    ASSERT_OK(symlink(test_self, link));
    subproc_env *env;
    ASSERT_OK(subproc_env_new(&env, SUBPROC_ENV_EMPTY));
    char pathvar[PATH_MAX + 32];
    snprintf(pathvar, sizeof pathvar, "/nonexistent:%s", dir);
    ASSERT_OK(subproc_env_set(env, "PATH", pathvar));
    subproc_opts o = SUBPROC_OPTS_INIT;
    const char *argv[] = {"my-helper", "helper", "exit", "7", NULL};
    o.argv = argv;
    o.env = env;
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(st.code, 7);
    subproc_proc_free(p);
    /* The parent's environment did not change, and with the parent's PATH it is not found. */
    o.env = NULL;
    expect_spawn_error(&o, ENOENT, SUBPROC_STEP_RESOLVE, "my-helper");
    subproc_env_free(env);
    unlink(link);
    rmdir(dir);
}

TEST(spawn_path_empty_and_dot_entries_skip_cwd)
{
    char dir[] = "/tmp/subproc-test-XXXXXX";
    ASSERT(mkdtemp(dir));
    char link[PATH_MAX];
    snprintf(link, sizeof link, "%s/cwd-helper", dir);
    ASSERT_OK(symlink(test_self, link));
    subproc_env *env;
    ASSERT_OK(subproc_env_new(&env, SUBPROC_ENV_EMPTY));
    ASSERT_OK(subproc_env_set(env, "PATH", ":.::relative"));
    subproc_opts o = SUBPROC_OPTS_INIT;
    const char *argv[] = {"cwd-helper", "helper", "exit", "0", NULL};
    o.argv = argv;
    o.env = env;
    o.cwd = dir;
    /* The program sits in the child's cwd, but no PATH entry may match it implicitly. */
    expect_spawn_error(&o, ENOENT, SUBPROC_STEP_RESOLVE, "cwd-helper");
    /* "./cwd-helper" names it explicitly, relative to the child's cwd. */
    argv[0] = "./cwd-helper";
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(st.code, 0);
    subproc_proc_free(p);
    subproc_env_free(env);
    unlink(link);
    rmdir(dir);
}

TEST(spawn_path_unset_uses_default)
{
    subproc_env *env;
    ASSERT_OK(subproc_env_new(&env, SUBPROC_ENV_EMPTY));
    subproc_opts o = SUBPROC_OPTS_INIT;
    const char *argv[] = {"true", NULL}; /* in confstr(_CS_PATH): /bin:/usr/bin */
    o.argv = argv;
    o.env = env;
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(st.exited, 1);
    ASSERT_EQ(st.code, 0);
    subproc_proc_free(p);
    subproc_env_free(env);
}

static int child_fn(void *arg)
{
    int *v = arg;
    (*v)++; /* the child's copy only */
    char msg[64];
    int n = snprintf(msg, sizeof msg, "Hello from child %d\n", *v);
    write_all(1, msg, (size_t)n);
    return *v + 10;
}

TEST(spawn_fork_mode)
{
    int counter = 0;
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.fn = child_fn;
    o.fn_arg = &counter;
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    for (int i = 0; i < 3; i++) {
        subproc_proc *p;
        ASSERT_OK(subproc_spawn(&p, &o, NULL));
        char *out = read_all(subproc_proc_fd(p, 1), NULL);
        ASSERT_STREQ(out, "Hello from child 1\n");
        free(out);
        subproc_status st;
        ASSERT_OK(subproc_proc_wait(p, &st));
        ASSERT_EQ(st.code, 11);
        subproc_proc_free(p);
    }
    ASSERT_EQ(counter, 0);
}

TEST(spawn_fork_mode_setup_error)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    int counter = 0;
    o.fn = child_fn;
    o.fn_arg = &counter;
    o.cwd = "/nonexistent-dir";
    expect_spawn_error(&o, ENOENT, SUBPROC_STEP_CHDIR, "/nonexistent-dir");
}

TEST(spawn_bad_options)
{
    subproc_proc *p = (subproc_proc *)1;
    subproc_error e;
    subproc_opts o = SUBPROC_OPTS_INIT;
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -EINVAL); /* neither argv nor fn */
    ASSERT(p == NULL);
    ASSERT_EQ(e.step, SUBPROC_STEP_VALIDATE);
    const char *argv[] = {"true", NULL};
    o.argv = argv;
    o.fn = child_fn; /* both */
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -EINVAL);
    o.fn = NULL;
    o.version = 99;
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -EINVAL);
    o.version = SUBPROC_OPTS_VERSION;
    o.flags = 1u << 30;
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -EINVAL);
    o.flags = SUBPROC_NEW_PGROUP | SUBPROC_NEW_SESSION;
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -EINVAL);
    o.flags = 0;
    o.pdeathsig = 999;
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -EINVAL);
    o.pdeathsig = 0;
    const char *empty[] = {NULL};
    o.argv = empty;
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -EINVAL);
    ASSERT_EQ(subproc_spawn(NULL, &o, &e), -EINVAL);
    ASSERT_EQ(subproc_spawn(&p, NULL, NULL), -EINVAL);
}

TEST(spawn_nul_in_argument_refused)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    const char a1[] = "abc\0def";
    const char *argv[] = {"true", a1, NULL};
    size_t lens[] = {4, sizeof a1 - 1};
    o.argv = argv;
    o.argv_lens = lens;
    subproc_proc *p;
    subproc_error e;
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -EINVAL);
    ASSERT_EQ(e.step, SUBPROC_STEP_VALIDATE);
    lens[1] = 3; /* "abc": fine */
    ASSERT_OK(subproc_spawn(&p, &o, &e));
    subproc_proc_free(p);
}

TEST(spawn_bad_cwd)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    const char *argv[] = {"true", NULL};
    o.argv = argv;
    o.cwd = "/nonexistent/dir";
    expect_spawn_error(&o, ENOENT, SUBPROC_STEP_CHDIR, "/nonexistent/dir");
    o.cwd = "/etc/passwd";
    expect_spawn_error(&o, ENOTDIR, SUBPROC_STEP_CHDIR, "/etc/passwd");
}

TEST(spawn_cwd)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.cwd = "/tmp";
    char *out;
    run_helper(&o, &out, "pwd", NULL);
    ASSERT_STREQ(out, "/tmp");
    free(out);
    char here[PATH_MAX];
    ASSERT(getcwd(here, sizeof here));
    ASSERT(strcmp(here, "/tmp") != 0 || 1); /* the parent's cwd is untouched: */
    char again[PATH_MAX];
    ASSERT(getcwd(again, sizeof again));
    ASSERT_STREQ(here, again);
}

TEST(spawn_failure_leaves_nothing)
{
    /* Many failing spawns in a row: no zombie, no fd (the runner checks both after the test). */
    int before = count_fds();
    for (int i = 0; i < 200; i++) {
        subproc_opts o = SUBPROC_OPTS_INIT;
        const char *argv[] = {"/nonexistent", NULL};
        o.argv = argv;
        o.stdio[0].kind = SUBPROC_IO_PIPE;
        o.stdio[1].kind = SUBPROC_IO_PIPE;
        o.stdio[2].kind = SUBPROC_IO_NULL;
        subproc_proc *p;
        ASSERT_EQ(subproc_spawn(&p, &o, NULL), -ENOENT);
    }
    ASSERT_EQ(count_fds(), before);
    int ws;
    ASSERT_EQ(waitpid(-1, &ws, WNOHANG), -1);
}

TEST(backend_is_as_requested)
{
    const char *want = getenv("SUBPROC_BACKEND");
    /* Under valgrind (make valgrind sets SUBPROC_VALGRIND=1) CLONE_VM is not honoured, and the
     * library's probe must fall back to posix; see subproc__have_linux_backend(). */
    int emulated = getenv("SUBPROC_VALGRIND") != NULL;
#if defined(__SANITIZE_THREAD__)
    emulated = 1; /* TSan builds use the fork backend: see subproc__have_linux_backend() */
#endif
    ASSERT_STREQ(subproc_backend(),
                 emulated || (want && !strcmp(want, "posix")) ? "posix" : "linux");
}

static volatile sig_atomic_t sigchld_seen;
static void count_sigchld(int sig)
{
    (void)sig;
    sigchld_seen++;
}

TEST(spawn_caller_sigchld_sees_only_its_children)
{
    /* A fresh process (each test is one): its first spawn also sets the backend up. The caller's
     * SIGCHLD handler must hear of exactly the children it asked for. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = count_sigchld;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);
    subproc_opts o = SUBPROC_OPTS_INIT;
    subproc_status st = run_helper(&o, NULL, "exit", "3", NULL);
    ASSERT_EQ(st.code, 3);
    ASSERT_EQ(sigchld_seen, 1);
    signal(SIGCHLD, SIG_DFL);
}
