/* test_errors.c - spawn failures come back as -errno plus step, errno, fd and path; the child
 * (if any) is reaped and nothing leaks (the runner checks fds and children after each test). */
#include "test.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

static void expect_fail(subproc_opts *o, int want, subproc_step step, int fd, const char *path)
{
    subproc_proc *p = (subproc_proc *)1;
    subproc_error e;
    int r = subproc_spawn(&p, o, &e);
    if (r != -want) {
        char buf[700];
        test_failf(__FILE__, __LINE__, "spawn gave %d (%s), want -%d", r,
                   subproc_error_str(&e, buf, sizeof buf), want);
    }
    ASSERT(p == NULL);
    ASSERT_EQ(e.err, want);
    ASSERT_STREQ(subproc_step_name(e.step), subproc_step_name(step));
    ASSERT_EQ(e.fd, fd);
    if (path) ASSERT_STREQ(e.path, path);
}

TEST(error_bad_fd)
{
    int f = open("/dev/null", O_RDONLY | O_CLOEXEC);
    close(f); /* f is now a closed fd number */
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("exit", "0", NULL);
    o.stdio[1] = (subproc_io){.kind = SUBPROC_IO_FD, .fd = f};
    expect_fail(&o, EBADF, SUBPROC_STEP_VALIDATE, 1, NULL); /* text: test_field.c */
    o.stdio[1] = (subproc_io){.kind = SUBPROC_IO_FD, .fd = -1};
    expect_fail(&o, EBADF, SUBPROC_STEP_VALIDATE, 1, NULL); /* text: test_field.c */
    o.stdio[1].kind = SUBPROC_IO_INHERIT;
    subproc_fdmap map[] = {{f, 5}};
    o.fds = map;
    o.nfds = 1;
    expect_fail(&o, EBADF, SUBPROC_STEP_VALIDATE, 5, NULL); /* text: test_field.c */
    /* Bad child fd numbers and duplicates are EINVAL. */
    subproc_fdmap m2[] = {{0, 2}};
    o.fds = m2;
    expect_fail(&o, EINVAL, SUBPROC_STEP_VALIDATE, 2, NULL); /* text: test_field.c */
    subproc_fdmap m3[] = {{0, 5}, {1, 5}};
    o.fds = m3;
    o.nfds = 2;
    expect_fail(&o, EINVAL, SUBPROC_STEP_VALIDATE, 5, NULL); /* text: test_field.c */
    o.nfds = 0;
    o.fds = NULL;
    /* stderr "into stdout" only for stderr; an unknown kind is refused. */
    o.stdio[1].kind = SUBPROC_IO_STDOUT;
    expect_fail(&o, EINVAL, SUBPROC_STEP_VALIDATE, 1, NULL); /* text: test_field.c */
    o.stdio[1].kind = (subproc_io_kind)77;
    expect_fail(&o, EINVAL, SUBPROC_STEP_VALIDATE, 1, NULL); /* text: test_field.c */
    o.stdio[1].kind = SUBPROC_IO_FILE; /* no path */
    expect_fail(&o, EINVAL, SUBPROC_STEP_VALIDATE, 1, NULL); /* text: test_field.c */
}

TEST(error_bad_fd_stderr_into_closed_stdout)
{
    /* stderr into an inherited stdout that is closed: nothing to point it at. */
    int saved = fcntl(1, F_DUPFD_CLOEXEC, 10);
    fflush(stdout);
    close(1);
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("exit", "0", NULL);
    o.stdio[2].kind = SUBPROC_IO_STDOUT;
    subproc_proc *p;
    subproc_error e;
    int r = subproc_spawn(&p, &o, &e);
    dup2(saved, 1);
    close(saved);
    ASSERT_EQ(r, -EBADF);
    ASSERT_EQ(e.fd, 2);
}

TEST(error_missing_and_not_executable_name_the_path)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    const char *a1[] = {"/nonexistent/prog", NULL};
    o.argv = a1;
    expect_fail(&o, ENOENT, SUBPROC_STEP_EXEC, -1, "/nonexistent/prog");
    const char *a2[] = {"/etc/passwd", NULL};
    o.argv = a2;
    expect_fail(&o, EACCES, SUBPROC_STEP_EXEC, -1, "/etc/passwd");
    const char *a3[] = {"/tmp", NULL}; /* a directory */
    o.argv = a3;
    expect_fail(&o, EACCES, SUBPROC_STEP_EXEC, -1, "/tmp");
    /* In PATH: only a non-executable match -> EACCES, naming the file found. */
    char dir[] = "/tmp/subproc-test-XXXXXX";
    ASSERT(mkdtemp(dir));
    char file[600];
    snprintf(file, sizeof file, "%s/noexec", dir);
    int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    close(fd);
    subproc_env *env;
    ASSERT_OK(subproc_env_new(&env, SUBPROC_ENV_EMPTY));
    char pv[700];
    snprintf(pv, sizeof pv, "/nonexistent:%s:/bin", dir);
    ASSERT_OK(subproc_env_set(env, "PATH", pv));
    const char *a4[] = {"noexec", NULL};
    o.argv = a4;
    o.env = env;
    expect_fail(&o, EACCES, SUBPROC_STEP_EXEC, -1, file);
    /* The same program through a given program path, and with no path search. */
    o.flags = SUBPROC_NO_PATH_SEARCH;
    expect_fail(&o, ENOENT, SUBPROC_STEP_EXEC, -1, "noexec");
    o.flags = 0;
    const char *a5[] = {"", NULL};
    o.argv = a5;
    expect_fail(&o, ENOENT, SUBPROC_STEP_RESOLVE, -1, "");
    subproc_env_free(env);
    unlink(file);
    rmdir(dir);
}

TEST(error_bad_cwd_all_steps)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("exit", "0", NULL);
    o.cwd = "/nonexistent/dir";
    expect_fail(&o, ENOENT, SUBPROC_STEP_CHDIR, -1, "/nonexistent/dir");
    o.cwd = "";
    expect_fail(&o, ENOENT, SUBPROC_STEP_CHDIR, -1, "");
    o.cwd = "/etc/hostname";
    expect_fail(&o, ENOTDIR, SUBPROC_STEP_CHDIR, -1, "/etc/hostname");
    char buf[200];
    subproc_error e = {SUBPROC_STEP_CHDIR, ENOENT, -1, "/x"};
    ASSERT_STREQ(subproc_error_str(&e, buf, sizeof buf), "chdir /x: No such file or directory");
    subproc_error e2 = {SUBPROC_STEP_FDMAP, EBADF, 7, ""};
    ASSERT_STREQ(subproc_error_str(&e2, buf, sizeof buf), "fd map (fd 7): Bad file descriptor");
    ASSERT_STREQ(subproc_error_str(&e2, buf, 5), "fd m");
    ASSERT_STREQ(subproc_step_name((subproc_step)999), "unknown");
}

TEST(error_nul_in_argv)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    const char a[] = "ab\0c";
    const char *argv[] = {test_self, "helper", a, NULL};
    size_t lens[] = {strlen(test_self), 6, sizeof a - 1};
    o.argv = argv;
    o.argv_lens = lens;
    expect_fail(&o, EINVAL, SUBPROC_STEP_VALIDATE, -1, NULL);
    /* In argv[0] (the program) too. */
    const char *argv2[] = {"/bin/tr\0ue", NULL};
    size_t lens2[] = {10};
    o.argv = argv2;
    o.argv_lens = lens2;
    expect_fail(&o, EINVAL, SUBPROC_STEP_VALIDATE, -1, NULL);
    /* A NUL in an environment entry cannot get in (see env_invalid_names_refused). */
    subproc_env *env;
    ASSERT_OK(subproc_env_new(&env, SUBPROC_ENV_EMPTY));
    ASSERT_EQ(subproc_env_setn(env, "X", 1, "a\0b", 3), -EINVAL);
    subproc_env_free(env);
}

TEST(error_invalid_signal)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("sleep", "20000", NULL);
    o.pdeathsig = NSIG + 5;
    expect_fail(&o, EINVAL, SUBPROC_STEP_VALIDATE, -1, NULL);
    o.pdeathsig = -3;
    expect_fail(&o, EINVAL, SUBPROC_STEP_VALIDATE, -1, NULL);
    o.pdeathsig = 0;
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    ASSERT_EQ(subproc_proc_signal(p, -1), -EINVAL);
    ASSERT_EQ(subproc_proc_signal(p, NSIG), -EINVAL);
    ASSERT_EQ(subproc_proc_signal(p, 1000), -EINVAL);
    ASSERT_EQ(subproc_proc_terminate(p, 1000, 10, 0, NULL), -EINVAL);
    ASSERT_EQ(subproc_proc_signal(p, 0), 0); /* still there: the bad calls sent nothing */
    ASSERT_EQ(subproc_signal_from_name("NOPE"), -EINVAL);
    ASSERT_EQ(subproc_signal_from_name("999"), -EINVAL);
    ASSERT_EQ(subproc_signal_from_name(""), -EINVAL);
    ASSERT_EQ(subproc_signal_from_name("term"), SIGTERM);
    ASSERT_EQ(subproc_signal_from_name("SIGKILL"), SIGKILL);
    ASSERT_EQ(subproc_signal_from_name("9"), SIGKILL);
    ASSERT_EQ(subproc_signal_from_name("RTMIN+3"), SIGRTMIN + 3);
    ASSERT_STREQ(subproc_signal_name(SIGSEGV), "SIGSEGV");
    ASSERT(subproc_signal_name(0) == NULL);
    ASSERT(subproc_signal_name(NSIG + 1) == NULL);
    subproc_proc_free(p);
}

/* Fill every free fd below the limit; returns how many were taken (fds lo..lo+n-1 style list). */
static int fill_fds(int *taken, int max)
{
    int n = 0;
    for (;;) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            ASSERT_EQ(errno, EMFILE);
            break;
        }
        ASSERT(n < max);
        taken[n++] = fd;
    }
    return n;
}

TEST(error_emfile)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = 64; /* only this forked test process */
    ASSERT_OK(setrlimit(RLIMIT_NOFILE, &rl));
    int taken[64];
    int n = fill_fds(taken, 64);
    ASSERT(n > 3);
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("out", "hi", NULL);
    o.stdio[0].kind = SUBPROC_IO_PIPE;
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    o.stdio[2].kind = SUBPROC_IO_PIPE;
    /* No fd free at all, then exactly one: a pipe needs two. */
    for (int freed = 0; freed <= 1; freed++) {
        if (freed) close(taken[--n]);
        subproc_proc *p = (subproc_proc *)1;
        subproc_error e;
        ASSERT_EQ(subproc_spawn(&p, &o, &e), -EMFILE);
        ASSERT(p == NULL);
        ASSERT_EQ(e.err, EMFILE);
        ASSERT_EQ(e.step, SUBPROC_STEP_PIPE);
        ASSERT_EQ(e.fd, 0);
        /* Nothing was left open: the freed slot is still the only free one. */
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (freed) {
            ASSERT(fd >= 0);
            close(fd);
        } else {
            ASSERT(fd < 0 && errno == EMFILE);
        }
    }
    /* Enough for the stdio pipes but not for what the backend needs next (the posix error
     * pipe, or the pidfd): still a clean -EMFILE, with a step that says where. */
    for (int i = 0; i < 5; i++) close(taken[--n]);
    subproc_proc *p;
    subproc_error e;
    int r = subproc_spawn(&p, &o, &e);
    if (r == 0) {
        subproc_proc_free(p); /* a backend needing no more fds: fine too */
    } else {
        ASSERT_EQ(r, -EMFILE);
        ASSERT(e.step == SUBPROC_STEP_PIPE || e.step == SUBPROC_STEP_CLONE);
    }
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC); /* the 6 are free again */
    ASSERT(fd >= 0);
    close(fd);
    /* Once fds are free again, the next spawn works. */
    while (n > 0) close(taken[--n]);
    ASSERT_OK(subproc_spawn(&p, &o, &e));
    subproc_proc_close_fd(p, 0);
    char *out = read_all(subproc_proc_fd(p, 1), NULL);
    ASSERT_STREQ(out, "hi");
    free(out);
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(st.code, 0);
    subproc_proc_free(p);
}

TEST(error_emfile_in_child_fd_plan)
{
    /* A child rlimit so low that the child cannot even park an fd: reported, not hung. */
    subproc_rlimit rl[] = {{RLIMIT_NOFILE, 3, 3}};
    int f = open("/dev/null", O_RDONLY | O_CLOEXEC);
    subproc_fdmap map[] = {{f, 10}};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("exit", "0", NULL);
    o.rlimits = rl;
    o.nrlimits = 1;
    o.fds = map;
    o.nfds = 1;
    subproc_proc *p;
    subproc_error e;
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -EBADF); /* dup2 onto 10 >= RLIMIT_NOFILE */
    ASSERT_EQ(e.step, SUBPROC_STEP_FDMAP);
    ASSERT_EQ(e.fd, 10);
    close(f);
}

TEST(error_child_reaped_after_each_failure)
{
    /* Failures in the child (not in the parent) for many steps; after each, no zombie. */
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("exit", "0", NULL);
    subproc_proc *p;
    subproc_error e;
    o.cwd = "/nonexistent";
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -ENOENT);
    ASSERT_EQ(e.step, SUBPROC_STEP_CHDIR);
    o.cwd = NULL;
    o.flags = SUBPROC_JOIN_PGROUP;
    o.pgid = 0x7ffffff0;
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -EPERM); /* no such group in our session */
    ASSERT_EQ(e.step, SUBPROC_STEP_SETPGID);
    o.flags = 0;
    const char *argv[] = {"/nonexistent", NULL};
    o.argv = argv;
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -ENOENT);
    ASSERT_EQ(e.step, SUBPROC_STEP_EXEC);
    int ws;
    ASSERT_EQ(waitpid(-1, &ws, WNOHANG), -1);
    ASSERT_EQ(errno, ECHILD);
}
