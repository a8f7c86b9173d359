/* test_remote.c - children on other hosts, against real OpenSSH servers on 127.0.0.2/.3 (the
 * "remote" side is this machine, so what runs there can be checked directly). */
#include "sshd.h"
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

/* ---- the quoting rule, locally: what a POSIX shell reads back ---- */

/* Run `SHELL -c "exec HELPER args QUOTED..."` and return what the helper got (NUL-separated). */
static char *through_shell(const char *shell, const char *const *args, const size_t *lens,
                           size_t n, size_t *outlen)
{
    size_t cap = 64 + strlen(test_self);
    for (size_t i = 0; i < n; i++) cap += 4 * lens[i] + 3;
    char *cmd = malloc(cap);
    size_t at = (size_t)snprintf(cmd, cap, "exec %s helper args", test_self);
    for (size_t i = 0; i < n; i++) {
        cmd[at++] = ' ';
        long q = subproc_shell_quote(cmd + at, cap - at, args[i], lens[i]);
        ASSERT(q > 0 && (size_t)q < cap - at);
        at += (size_t)q;
    }
    const char *argv[] = {shell, "-c", cmd, NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    subproc_result r;
    ASSERT_OK(subproc_run(&r, &o, NULL));
    ASSERT(r.status.exited && r.status.code == 0);
    free(cmd);
    char *out = r.out.data;
    *outlen = r.out.len;
    r.out.data = NULL;
    subproc_result_free(&r);
    return out;
}

/* Every byte 1-255: one argument per byte, each between two letters, and one with them all. */
static size_t every_byte_args(char store[256][4], char *all, const char **args, size_t *lens)
{
    size_t n = 0;
    for (int b = 1; b < 256; b++) {
        store[b][0] = 'a';
        store[b][1] = (char)b;
        store[b][2] = 'z';
        store[b][3] = '\0';
        args[n] = store[b];
        lens[n++] = 3;
        all[b - 1] = (char)b;
    }
    all[255] = '\0';
    args[n] = all;
    lens[n++] = 255;
    static const char *const meta[] = {"", " ", "'", "''", "\"", "\\", "$(touch /x)", "`id`",
                                       "*", "~", "a b\tc\nd", "${HOME}", "!", ";", "&", "|",
                                       "#", "-", "--", NULL};
    for (size_t i = 0; meta[i]; i++) {
        args[n] = meta[i];
        lens[n++] = strlen(meta[i]);
    }
    return n;
}

static void expect_args(const char *got, size_t len, const char *const *args, const size_t *lens,
                        size_t n)
{
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (at + lens[i] >= len + 1 || memcmp(got + at, args[i], lens[i]) != 0 ||
            got[at + lens[i]] != '\0')
            test_failf(__FILE__, __LINE__, "argument %zu (%zu bytes) did not arrive as it was", i,
                       lens[i]);
        at += lens[i] + 1;
    }
    ASSERT_EQ(at, len);
}

TEST(remote_quote_every_byte_local_shells)
{
    static char store[256][4];
    static char all[256];
    const char *args[300];
    size_t lens[300];
    size_t n = every_byte_args(store, all, args, lens);
    static const char *const shells[] = {"/bin/sh", "/bin/dash", "/bin/bash", NULL};
    int ran = 0;
    for (size_t s = 0; shells[s]; s++) {
        if (access(shells[s], X_OK) != 0) continue;
        size_t len;
        char *got = through_shell(shells[s], args, lens, n, &len);
        expect_args(got, len, args, lens, n);
        free(got);
        ran++;
    }
    ASSERT(ran > 0);
}

TEST(remote_quote_api)
{
    char buf[32];
    ASSERT_EQ(subproc_shell_quote(buf, sizeof buf, "", 0), 2);
    ASSERT_STREQ(buf, "''");
    ASSERT_EQ(subproc_shell_quote(buf, sizeof buf, "it's", 4), 9);
    ASSERT_STREQ(buf, "'it'\\''s'");
    /* Like snprintf: the full length, a cut but terminated text. */
    ASSERT_EQ(subproc_shell_quote(buf, 4, "abcdef", 6), 8);
    ASSERT_STREQ(buf, "'ab");
    ASSERT_EQ(subproc_shell_quote(NULL, 0, "abc", 3), 5);
    ASSERT_EQ(subproc_shell_quote(buf, sizeof buf, "a\0b", 3), -1);
}

/* ---- against sshd ---- */

static void remote_init(subproc_remote *rm, const struct test_sshd *s, int i)
{
    subproc_remote r = SUBPROC_REMOTE_INIT;
    r.host = s->addr[i];
    r.port = s->port[i];
    r.ssh_argv = s->ssh;
    *rm = r;
}

/* Run argv on host 0 with output captured; fails the test when the spawn fails. */
static subproc_result rrun(const struct test_sshd *s, const char *const *argv, const size_t *lens,
                           long long timeout_ms)
{
    subproc_remote rm;
    remote_init(&rm, s, 0);
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    o.argv_lens = lens;
    o.remote = &rm;
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.timeout_ms = timeout_ms;
    subproc_result r;
    int rc = subproc_run(&r, &o, &co);
    if (rc < 0 && rc != -ETIMEDOUT) {
        char buf[700];
        test_failf(__FILE__, __LINE__, "run: %s", subproc_result_str(&r, buf, sizeof buf));
    }
    return r;
}

TEST_T(remote_argv_every_byte, 60)
{
    struct test_sshd s;
    test_sshd_start(&s, 1);
    static char store[256][4];
    static char all[256];
    const char *args[300];
    size_t lens[300];
    size_t n = every_byte_args(store, all, args, lens);
    const char *argv[310];
    size_t alens[310];
    argv[0] = test_self;
    argv[1] = "helper";
    argv[2] = "args";
    for (size_t i = 0; i < 3; i++) alens[i] = strlen(argv[i]);
    for (size_t i = 0; i < n; i++) {
        argv[3 + i] = args[i];
        alens[3 + i] = lens[i];
    }
    argv[3 + n] = NULL;
    subproc_result r = rrun(&s, argv, alens, 0);
    ASSERT(r.status.exited && r.status.code == 0);
    expect_args(r.out.data, r.out.len, args, lens, n);
    subproc_result_free(&r);
    test_sshd_stop(&s);
}

TEST_T(remote_status_mapping, 60)
{
    struct test_sshd s;
    test_sshd_start(&s, 1);
    static const struct {
        const char *mode, *arg;
        int exited, code, sig;
    } cases[] = {
        {"exit", "0", 1, 0, 0},       {"exit", "1", 1, 1, 0},      {"exit", "255", 1, 255, 0},
        {"exit", "200", 1, 200, 0},   {"kill", "9", 0, 0, SIGKILL}, {"kill", "15", 0, 0, SIGTERM},
        {"kill", "11", 0, 0, SIGSEGV},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *argv[] = {test_self, "helper", cases[i].mode, cases[i].arg, NULL};
        subproc_result r = rrun(&s, argv, NULL, 0);
        if (cases[i].exited) {
            ASSERT(r.status.exited);
            ASSERT_EQ(r.status.code, cases[i].code);
        } else {
            ASSERT(r.status.signaled);
            ASSERT_EQ(r.status.signal, cases[i].sig);
        }
        /* Nothing but the program's own output: no shell's "Killed" on stderr. */
        ASSERT_EQ(r.err.len, 0);
        subproc_result_free(&r);
    }
    test_sshd_stop(&s);
}

TEST_T(remote_stdio_cwd_env_umask, 60)
{
    struct test_sshd s;
    test_sshd_start(&s, 1);
    subproc_remote rm;
    remote_init(&rm, &s, 0);
    const char *env[] = {"SUBPROC_T1=a b'c$(x)", "HOME", NULL};
    rm.env = env;
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.remote = &rm;
    subproc_result r;
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;

    const char *cat[] = {test_self, "helper", "cat", NULL};
    o.argv = cat;
    co.input = "line 1\n\377\001 two\n";
    co.input_len = strlen(co.input);
    ASSERT_OK(subproc_run(&r, &o, &co));
    ASSERT_STREQ(r.out.data, co.input);
    subproc_result_free(&r);
    co.input = NULL;
    co.input_len = 0;

    const char *pwd[] = {test_self, "helper", "pwd", NULL};
    o.argv = pwd;
    o.cwd = s.dir;
    ASSERT_OK(subproc_run(&r, &o, &co));
    ASSERT_STREQ(r.out.data, s.dir);
    subproc_result_free(&r);
    o.cwd = NULL;

    const char *get1[] = {test_self, "helper", "getenv", "SUBPROC_T1", NULL};
    o.argv = get1;
    ASSERT_OK(subproc_run(&r, &o, &co));
    ASSERT_STREQ(r.out.data, "a b'c$(x)");
    subproc_result_free(&r);
    const char *get2[] = {test_self, "helper", "getenv", "HOME", NULL};
    o.argv = get2;
    ASSERT_OK(subproc_run(&r, &o, &co));
    ASSERT_STREQ(r.out.data, "(unset)");
    subproc_result_free(&r);

    const char *um[] = {test_self, "helper", "umask", NULL};
    o.argv = um;
    o.flags = SUBPROC_SET_UMASK;
    o.umask = 027;
    ASSERT_OK(subproc_run(&r, &o, &co));
    ASSERT_STREQ(r.out.data, "027");
    subproc_result_free(&r);
    o.flags = 0;

    /* stdout to a file, stderr to stdout */
    char path[160];
    snprintf(path, sizeof path, "%s/out.txt", s.dir);
    const char *outerr[] = {test_self, "helper", "out", "to-out ", "to-err", NULL};
    o.argv = outerr;
    o.stdio[1] = (subproc_io){.kind = SUBPROC_IO_FILE, .path = path};
    o.stdio[2].kind = SUBPROC_IO_STDOUT;
    ASSERT_OK(subproc_run(&r, &o, &co));
    subproc_result_free(&r);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ASSERT(fd >= 0);
    char *text = read_all(fd, NULL);
    close(fd);
    ASSERT_STREQ(text, "to-out to-err");
    free(text);
    test_sshd_stop(&s);
}

TEST_T(remote_deadline_leaves_nothing, 60)
{
    struct test_sshd s;
    test_sshd_start(&s, 1);
    char token[64];
    snprintf(token, sizeof token, "subproc-remote-token-%d-a", (int)getpid());
    /* The parent sleeps; its child ignores TERM: only the KILL after the grace ends it. */
    const char *argv[] = {test_self, "helper", "fork-ignore-term", "60000", token, NULL};
    subproc_remote rm;
    remote_init(&rm, &s, 0);
    rm.kill_grace_ms = 300;
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    o.remote = &rm;
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.timeout_ms = 1500;
    co.kill_grace_ms = 300;
    subproc_result r;
    ASSERT_EQ(subproc_run(&r, &o, &co), -ETIMEDOUT);
    ASSERT(r.timed_out);
    ASSERT_STREQ(r.out.data, "ready\n"); /* it did run, there */
    /* The reap waited for the remote clean-up: nothing is left at once. */
    ASSERT_EQ(test_procs_with(token), 0);
    subproc_result_free(&r);
    test_sshd_stop(&s);
}

TEST_T(remote_signals_and_local_kill, 60)
{
    struct test_sshd s;
    test_sshd_start(&s, 1);
    char token[64];
    snprintf(token, sizeof token, "subproc-remote-token-%d-b", (int)getpid());
    const char *argv[] = {test_self, "helper", "ignore-term", "60000", token, NULL};
    subproc_remote rm;
    remote_init(&rm, &s, 0);
    rm.kill_grace_ms = 300;
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    o.remote = &rm;
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    subproc_proc *p;
    subproc_error e;
    ASSERT_OK(subproc_spawn(&p, &o, &e));
    test_await_ready(p, 20000);
    ASSERT_EQ(test_procs_with(token), 1);
    /* A signal goes to the remote program: USR1 ends it, and says so. */
    ASSERT_OK(subproc_proc_signal(p, SIGUSR1));
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT(st.signaled);
    ASSERT_EQ(st.signal, SIGUSR1);
    subproc_proc_free(p);
    ASSERT_EQ(test_procs_with(token), 0);

    /* Killing the local ssh (here: freeing the handle of a running child) ends the remote one,
     * which ignores TERM: KILL after the grace. */
    ASSERT_OK(subproc_spawn(&p, &o, &e));
    test_await_ready(p, 20000);
    ASSERT_EQ(test_procs_with(token), 1);
    subproc_proc_free(p);
    ASSERT_EQ(test_procs_with(token), 0);

    /* KILL goes to the remote program too, at once: not only to the local ssh, which would
     * leave the remote clean-up to send TERM (ignored here) and wait out a grace of a minute. */
    rm.kill_grace_ms = 60000;
    ASSERT_OK(subproc_spawn(&p, &o, &e));
    test_await_ready(p, 20000);
    ASSERT_OK(subproc_proc_signal(p, SIGKILL));
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT(st.signaled);
    ASSERT_EQ(st.signal, SIGKILL);
    ASSERT_EQ(test_procs_with(token), 0);
    subproc_proc_free(p);
    test_sshd_stop(&s);
}

TEST_T(remote_dropped_connection, 60)
{
    struct test_sshd s;
    test_sshd_start(&s, 1);
    char token[64];
    snprintf(token, sizeof token, "subproc-remote-token-%d-c", (int)getpid());
    const char *argv[] = {test_self, "helper", "sleep", "60000", token, NULL};
    subproc_remote rm;
    remote_init(&rm, &s, 0);
    rm.flags = SUBPROC_REMOTE_NO_MASTER; /* each session its own connection, cut below */
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    o.remote = &rm;
    o.stdio[1].kind = SUBPROC_IO_NULL;
    subproc_proc *p;
    subproc_error e;
    ASSERT_OK(subproc_spawn(&p, &o, &e));
    /* The program starts on the host a moment after the spawn returns. */
    for (int i = 0; i < 1000 && test_procs_with(token) < 1; i++) usleep(10000);
    ASSERT(test_procs_with(token) >= 1);
    /* Cut every connection: sshd's per-connection processes go (the listener stays). */
    char pat[96];
    snprintf(pat, sizeof pat, "sshd: root@notty");
    const char *pk[] = {"pkill", "-KILL", "-P", NULL, "-f", pat, NULL};
    char ppid[16];
    snprintf(ppid, sizeof ppid, "%d", (int)subproc_proc_pid(s.proc[0]));
    pk[3] = ppid;
    subproc_opts ko = SUBPROC_OPTS_INIT;
    ko.argv = pk;
    subproc_result kr;
    ASSERT_OK(subproc_run(&kr, &ko, NULL));
    subproc_result_free(&kr);
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    /* ssh's own status when the connection went before the report; when the control session's
     * connection outlived the program's for a moment, the clean-up's TERM is what ended it. */
    ASSERT((st.exited && st.code == 255) || (st.signaled && st.signal == SIGTERM));
    subproc_proc_free(p);
    ASSERT(test_procs_gone(token));
    test_sshd_stop(&s);
}

TEST_T(remote_spawn_errors, 60)
{
    struct test_sshd s;
    test_sshd_start(&s, 1);
    subproc_remote rm;
    remote_init(&rm, &s, 0);
    const char *argv[] = {"true", NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    o.remote = &rm;
    subproc_proc *p;
    subproc_error e;
    char buf[700];

    /* Nothing listens there. */
    rm.port = s.port[0] == 65535 ? 65534 : s.port[0] + 1;
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -ECONNREFUSED);
    ASSERT_EQ(e.step, SUBPROC_STEP_REMOTE);
    subproc_error_str(&e, buf, sizeof buf);
    ASSERT(strstr(buf, "remote: ") == buf);
    ASSERT(strstr(buf, "Connection refused") != NULL);
    rm.port = s.port[0];

    /* A key the server refuses. */
    const char *bad[16];
    memcpy(bad, s.ssh, sizeof bad);
    bad[4] = s.badkey;
    rm.ssh_argv = bad;
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -EACCES);
    ASSERT_EQ(e.step, SUBPROC_STEP_REMOTE);
    ASSERT(strstr(e.path, "Permission denied") != NULL);
    rm.ssh_argv = s.ssh;

    /* The same without a ControlMaster. */
    rm.flags = SUBPROC_REMOTE_NO_MASTER;
    rm.ssh_argv = bad;
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -EACCES);
    ASSERT_EQ(e.step, SUBPROC_STEP_REMOTE);
    rm.ssh_argv = s.ssh;
    rm.flags = 0;

    /* On the host: the directory, the program. */
    o.cwd = "/no/such/dir";
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -ENOENT);
    ASSERT_EQ(e.step, SUBPROC_STEP_CHDIR);
    ASSERT(strstr(e.path, "/no/such/dir") != NULL);
    o.cwd = NULL;
    const char *nosuch[] = {"subproc-no-such-program", NULL};
    o.argv = nosuch;
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -ENOENT);
    ASSERT_EQ(e.step, SUBPROC_STEP_RESOLVE);
    const char *notexec[] = {"/etc/passwd", NULL};
    o.argv = notexec;
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -EACCES);
    ASSERT_EQ(e.step, SUBPROC_STEP_EXEC);
    o.argv = argv;

    /* What makes no sense remotely is refused, naming the options. */
    subproc_env *env;
    ASSERT_OK(subproc_env_new(&env, SUBPROC_ENV_EMPTY));
    o.env = env;
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -EINVAL);
    ASSERT_EQ(e.step, SUBPROC_STEP_VALIDATE);
    o.env = NULL;
    subproc_env_free(env);
    rm.host = "-oProxyCommand=x";
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -EINVAL);
    rm.host = s.addr[0];
    const char *badenv[] = {"A-B=1", NULL};
    rm.env = badenv;
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -EINVAL);
    test_sshd_stop(&s);
}

TEST_T(remote_one_handshake_per_host, 90)
{
    struct test_sshd s;
    test_sshd_start(&s, 2);
    subproc_remote rm[2];
    remote_init(&rm[0], &s, 0);
    remote_init(&rm[1], &s, 1);
    const char *argv[] = {test_self, "helper", "exit", "7", NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    subproc_error e;
    /* Ten children on each host while the first one's handle is held. */
    subproc_proc *first[2];
    for (int h = 0; h < 2; h++) {
        o.remote = &rm[h];
        ASSERT_OK(subproc_spawn(&first[h], &o, &e));
    }
    for (int i = 0; i < 10; i++) {
        for (int h = 0; h < 2; h++) {
            subproc_proc *p;
            subproc_status st;
            o.remote = &rm[h];
            ASSERT_OK(subproc_spawn(&p, &o, &e));
            ASSERT_OK(subproc_proc_wait(p, &st));
            ASSERT(st.exited && st.code == 7);
            subproc_proc_free(p);
        }
    }
    for (int h = 0; h < 2; h++) {
        subproc_proc_free(first[h]);
        ASSERT_EQ(test_sshd_log_count(&s, h, "Accepted publickey"), 1);
    }
    /* The master went with the last handle (the runner also checks that no child is left). */
    o.remote = &rm[0];
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, &e));
    subproc_proc_free(p);
    ASSERT_EQ(test_sshd_log_count(&s, 0, "Accepted publickey"), 2);

    /* Without reuse every session logs in. */
    rm[1].flags = SUBPROC_REMOTE_NO_MASTER;
    o.remote = &rm[1];
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(subproc_spawn(&p, &o, &e));
        subproc_proc_free(p);
    }
    ASSERT_EQ(test_sshd_log_count(&s, 1, "Accepted publickey"), 1 + 3 * 2);
    test_sshd_stop(&s);
}

TEST_T(remote_pool_and_pipeline, 90)
{
    struct test_sshd s;
    test_sshd_start(&s, 2);
    subproc_remote rm[2];
    remote_init(&rm[0], &s, 0);
    remote_init(&rm[1], &s, 1);
    /* A pool over both hosts. */
    enum { N = 8 };
    subproc_opts jo[N];
    subproc_job jobs[N];
    char codes[N][16];
    const char *argvs[N][5];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < N; i++) {
        snprintf(codes[i], sizeof codes[i], "%d", i);
        const char *a[] = {test_self, "helper", "out", codes[i], NULL};
        memcpy(argvs[i], a, sizeof a);
        subproc_opts_init(&jo[i]);
        jo[i].argv = argvs[i];
        jo[i].remote = &rm[i % 2];
        jobs[i].opts = &jo[i];
    }
    subproc_pool_opts po = SUBPROC_POOL_OPTS_INIT;
    po.jobs = 4;
    po.flags = SUBPROC_POOL_CAPTURE;
    ASSERT_OK(subproc_pool_run(jobs, N, &po));
    for (int i = 0; i < N; i++) {
        ASSERT_EQ(jobs[i].spawn_rc, 0);
        ASSERT(jobs[i].status.exited && jobs[i].status.code == 0);
        ASSERT_STREQ(jobs[i].out, codes[i]);
        subproc_job_clear(&jobs[i]);
    }
    /* A pipeline from one host to the other, through this one. */
    const char *a1[] = {test_self, "helper", "out", "across\n", NULL};
    const char *a2[] = {test_self, "helper", "cat", NULL};
    subproc_opts st[2];
    subproc_opts_init(&st[0]);
    subproc_opts_init(&st[1]);
    st[0].argv = a1;
    st[0].remote = &rm[0];
    st[1].argv = a2;
    st[1].remote = &rm[1];
    subproc_result r;
    ASSERT_OK(subproc_pipeline_run(NULL, &r, st, 2, 0, NULL));
    ASSERT_STREQ(r.out.data, "across\n");
    subproc_result_free(&r);
    test_sshd_stop(&s);
}

/* ---- subproc run --host ---- */

typedef struct {
    int code;
    char *out, *err;
} cli_res;

/* subproc run --host=HOST --ssh=SSH ARGS... with stdin from /dev/null. */
static cli_res cli_host(const struct test_sshd *s, const char *host, const char *const *args)
{
    const char *v[64];
    char hostopt[300], sshopt[600];
    snprintf(hostopt, sizeof hostopt, "--host=%s", host);
    snprintf(sshopt, sizeof sshopt, "--ssh=%s", s->ssh_cmd);
    size_t n = 0;
    v[n++] = test_cli_path();
    v[n++] = "run";
    v[n++] = hostopt;
    v[n++] = sshopt;
    for (size_t i = 0; args[i] && n < 63; i++) v[n++] = args[i];
    v[n] = NULL;
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = v;
    o.stdio[0].kind = SUBPROC_IO_NULL;
    subproc_result r;
    ASSERT_OK(subproc_run(&r, &o, NULL));
    cli_res c = {subproc_status_code(&r.status), r.out.data, r.err.data};
    r.out.data = r.err.data = NULL;
    subproc_result_free(&r);
    return c;
}

static void cli_res_free(cli_res *c)
{
    free(c->out);
    free(c->err);
}

TEST_T(remote_cli_run_host, 90)
{
    struct test_sshd s;
    test_sshd_start(&s, 1);
    char host[64];
    snprintf(host, sizeof host, "root@%s:%d", s.addr[0], s.port[0]);
    const char *a1[] = {"-e", "SUBPROC_T2=x y", "--", test_self, "helper", "getenv", "SUBPROC_T2",
                        NULL};
    cli_res c = cli_host(&s, host, a1);
    ASSERT_EQ(c.code, 0);
    ASSERT_STREQ(c.out, "x y");
    cli_res_free(&c);
    const char *a2[] = {test_self, "helper", "out", "$(id) 'q' *", NULL};
    c = cli_host(&s, host, a2);
    ASSERT_STREQ(c.out, "$(id) 'q' *");
    cli_res_free(&c);
    const char *a3[] = {test_self, "helper", "exit", "255", NULL};
    c = cli_host(&s, host, a3);
    ASSERT_EQ(c.code, 255);
    cli_res_free(&c);
    const char *a4[] = {"--json=-", "--capture", test_self, "helper", "kill", "9", NULL};
    c = cli_host(&s, host, a4);
    ASSERT_EQ(c.code, 128 + 9);
    ASSERT(strstr(c.out, "\"signal\":\"SIGKILL\"") != NULL);
    ASSERT(strstr(c.out, "\"host\":") != NULL);
    cli_res_free(&c);

    /* A deadline: 124, and nothing left on the host. */
    char token[64];
    snprintf(token, sizeof token, "subproc-remote-token-%d-d", (int)getpid());
    const char *a5[] = {"-t", "1", "-k", "0.3", test_self, "helper", "fork-ignore-term", "60000",
                        token, NULL};
    c = cli_host(&s, host, a5);
    ASSERT_EQ(c.code, 124);
    cli_res_free(&c);
    ASSERT(test_procs_gone(token));

    /* Clear errors. */
    const char *a6[] = {"subproc-no-such-program", NULL};
    c = cli_host(&s, host, a6);
    ASSERT_EQ(c.code, 127);
    ASSERT(strstr(c.err, "subproc-no-such-program") != NULL);
    cli_res_free(&c);
    const char *a7[] = {"--nice=3", "true", NULL};
    c = cli_host(&s, host, a7);
    ASSERT_EQ(c.code, 125);
    ASSERT(strstr(c.err, "--nice is not available with --host") != NULL);
    cli_res_free(&c);
    char refused[64];
    snprintf(refused, sizeof refused, "%s:%d", s.addr[0], s.port[0] == 65535 ? 65534 : s.port[0] + 1);
    const char *a8[] = {"true", NULL};
    c = cli_host(&s, refused, a8);
    ASSERT_EQ(c.code, 125);
    ASSERT(strstr(c.err, "remote: ssh: connect to host") != NULL);
    ASSERT(strstr(c.err, "Connection refused") != NULL);
    cli_res_free(&c);
    c = cli_host(&s, "-oProxyCommand=x", a8);
    ASSERT_EQ(c.code, 125);
    ASSERT(strstr(c.err, "invalid host") != NULL);
    cli_res_free(&c);
    test_sshd_stop(&s);
}

TEST_T(remote_cli_killed_leaves_nothing, 60)
{
    struct test_sshd s;
    test_sshd_start(&s, 1);
    char host[64], sshopt[600], token[64];
    snprintf(host, sizeof host, "--host=%s:%d", s.addr[0], s.port[0]);
    snprintf(sshopt, sizeof sshopt, "--ssh=%s", s.ssh_cmd);
    snprintf(token, sizeof token, "subproc-remote-token-%d-e", (int)getpid());
    const char *v[] = {test_cli_path(), "run", host, sshopt, test_self, "helper", "ignore-term", "60000",
                       token, NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = v;
    o.stdio[0].kind = SUBPROC_IO_NULL;
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    subproc_proc *p;
    subproc_error e;
    ASSERT_OK(subproc_spawn(&p, &o, &e));
    test_await_ready(p, 20000);
    /* subproc itself dies at once: its pipes to ssh close, and the host cleans up. */
    subproc_proc_signal(p, SIGKILL);
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    subproc_proc_free(p);
    ASSERT(test_procs_gone(token));
    test_sshd_stop(&s);
}

/* ---- threads ---- */

#include <pthread.h>

struct thr_arg {
    const subproc_remote *rm;
    int ok;
};

static void *thr_run(void *arg)
{
    struct thr_arg *a = arg;
    const char *argv[] = {test_self, "helper", "out", "t", NULL};
    for (int i = 0; i < 3; i++) {
        subproc_opts o = SUBPROC_OPTS_INIT;
        o.argv = argv;
        o.remote = a->rm;
        subproc_result r;
        if (subproc_run(&r, &o, NULL) == 0 && r.status.exited && r.status.code == 0 &&
            strcmp(r.out.data, "t") == 0)
            a->ok++;
        subproc_result_free(&r);
    }
    return NULL;
}

TEST_T(remote_threads_share_one_master, 90)
{
    struct test_sshd s;
    test_sshd_start(&s, 1);
    subproc_remote rm;
    remote_init(&rm, &s, 0);
    /* A handle held across the threads' runs keeps the master up for all of them. */
    const char *argv[] = {test_self, "helper", "cat", NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    o.remote = &rm;
    o.stdio[0].kind = SUBPROC_IO_PIPE;
    subproc_proc *hold;
    subproc_error e;
    ASSERT_OK(subproc_spawn(&hold, &o, &e));
    enum { T = 3 }; /* with the held one, 4 at once: what one master carries */
    pthread_t t[T];
    struct thr_arg a[T];
    for (int i = 0; i < T; i++) {
        a[i] = (struct thr_arg){&rm, 0};
        ASSERT_EQ(pthread_create(&t[i], NULL, thr_run, &a[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(t[i], NULL);
        ASSERT_EQ(a[i].ok, 3);
    }
    subproc_proc_close_fd(hold, 0);
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(hold, &st));
    ASSERT(st.exited && st.code == 0);
    subproc_proc_free(hold);
    ASSERT_EQ(test_sshd_log_count(&s, 0, "Accepted publickey"), 1);
    test_sshd_stop(&s);
}

TEST_T(remote_callers_control_options_yield, 60)
{
    struct test_sshd s;
    test_sshd_start(&s, 1);
    subproc_remote rm;
    remote_init(&rm, &s, 0);
    /* The caller's own multiplexing settings come after the library's, which win (ssh keeps the
     * first value): no persistent master of the caller's is left behind, one handshake. */
    char cp[160];
    snprintf(cp, sizeof cp, "ControlPath=%s/mine-%%C", s.dir);
    const char *ssh[24];
    size_t n = 0;
    for (; s.ssh[n]; n++) ssh[n] = s.ssh[n];
    const char *more[] = {"-o", "ControlMaster=auto", "-o", cp, "-o", "ControlPersist=60", NULL};
    for (size_t i = 0; more[i]; i++) ssh[n++] = more[i];
    ssh[n] = NULL;
    rm.ssh_argv = ssh;
    const char *argv[] = {test_self, "helper", "exit", "5", NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    o.remote = &rm;
    subproc_proc *hold, *p;
    subproc_error e;
    subproc_status st;
    ASSERT_OK(subproc_spawn(&hold, &o, &e));
    ASSERT_OK(subproc_spawn(&p, &o, &e));
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT(st.exited && st.code == 5);
    subproc_proc_free(p);
    subproc_proc_free(hold);
    ASSERT_EQ(test_sshd_log_count(&s, 0, "Accepted publickey"), 1);
    DIR *d = opendir(s.dir);
    ASSERT(d != NULL);
    struct dirent *de;
    while ((de = readdir(d))) ASSERT(strncmp(de->d_name, "mine-", 5) != 0);
    closedir(d);
    test_sshd_stop(&s);
}

TEST_T(remote_connect_holds_the_master, 60)
{
    struct test_sshd s;
    test_sshd_start(&s, 1);
    subproc_remote rm;
    remote_init(&rm, &s, 0);
    const char *argv[] = {test_self, "helper", "exit", "0", NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    o.remote = &rm;
    subproc_result r;
    /* One after another without a hold: each has the master to itself. */
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(subproc_run(&r, &o, NULL));
        subproc_result_free(&r);
    }
    ASSERT_EQ(test_sshd_log_count(&s, 0, "Accepted publickey"), 3);
    /* With a hold: one more handshake for all of them. */
    subproc_remote_conn *c;
    subproc_error e;
    ASSERT_OK(subproc_remote_connect(&c, &rm, &e));
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(subproc_run(&r, &o, NULL));
        ASSERT(r.status.exited && r.status.code == 0);
        subproc_result_free(&r);
    }
    subproc_remote_conn_free(c);
    ASSERT_EQ(test_sshd_log_count(&s, 0, "Accepted publickey"), 4);
    /* Errors as a spawn's. */
    rm.port = s.port[0] == 65535 ? 65534 : s.port[0] + 1;
    ASSERT_EQ(subproc_remote_connect(&c, &rm, &e), -ECONNREFUSED);
    ASSERT_EQ(e.step, SUBPROC_STEP_REMOTE);
    rm.flags = SUBPROC_REMOTE_NO_MASTER;
    ASSERT_EQ(subproc_remote_connect(&c, &rm, &e), -EINVAL);
    subproc_remote_conn_free(NULL);
    test_sshd_stop(&s);
}
