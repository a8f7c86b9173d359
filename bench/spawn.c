/*
 * bench_spawn [-r max] [-m min] [-t budget] -p peer.py SIZE_MIB...
 *
 * Comparison "spawn": spawn+wait of /bin/true from a parent holding SIZE_MIB of touched
 * memory, for each size in turn. Every contender inherits stdio and the environment and runs
 * /bin/true by absolute path, so no one pays for a PATH search or /dev/null the others skip.
 */
#include "bench.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef HAVE_GLIB
#include <glib.h>
#endif
#ifdef HAVE_UV
#include <uv.h>
#endif
#ifdef HAVE_PIPELINE
#include <pipeline.h>
#endif

extern char **environ;
static char *true_argv[] = {"/bin/true", NULL};

static int raw_posix_spawn(bench_ctx *c, void *state)
{
    (void)state;
    pid_t pid;
    int rc = posix_spawn(&pid, true_argv[0], NULL, NULL, true_argv, environ);
    if (rc)
        return bench_fail(c, "posix_spawn: %s", strerror(rc));
    return bench_wait_ok(c, pid, "/bin/true");
}

static int raw_fork_exec(bench_ctx *c, void *state)
{
    (void)state;
    pid_t pid = fork();
    if (pid < 0)
        return bench_fail(c, "fork: %s", strerror(errno));
    if (pid == 0) {
        execve(true_argv[0], true_argv, environ);
        _exit(127);
    }
    return bench_wait_ok(c, pid, "/bin/true");
}

static int py_setup(bench_ctx *c, void **state)
{
    static bench_coproc cp;
    char mib[32];
    snprintf(mib, sizeof mib, "%zu", c->ballast >> 20);
    const char *args[] = {"spawn", mib, NULL};
    *state = &cp;
    int rc = bench_coproc_start(c, &cp, args);
    if (rc != BENCH_OK)
        *state = NULL;
    return rc;
}
static int py_run(bench_ctx *c, void *state) { return bench_coproc_go(c, state); }
static void py_teardown(void *state) { bench_coproc_stop(state); }

/* Go's os/exec and Rust's std::process, each in a long-running process of its own holding the
 * same memory, measuring inside (bench/peer.go, bench/peer.rs). Both start children without
 * copying the parent (Go: clone(CLONE_VM|CLONE_VFORK); Rust: posix_spawn where it can). */
static int lang_setup(bench_ctx *c, void **state, const char *prog, const char *why)
{
    bench_coproc *cp = calloc(1, sizeof *cp);
    char mib[32];
    snprintf(mib, sizeof mib, "%zu", c->ballast >> 20);
    const char *args[] = {"spawn", mib, NULL};
    int rc = cp ? bench_peer_start(c, cp, prog, why, args) : bench_fail(c, "no memory");
    if (rc != BENCH_OK)
        free(cp);
    else
        *state = cp;
    return rc;
}
static int go_setup(bench_ctx *c, void **s) { return lang_setup(c, s, "peer_go", "golang-go not installed"); }
static int rust_setup(bench_ctx *c, void **s) { return lang_setup(c, s, "peer_rust", "rustc not installed"); }
static void lang_teardown(void *state)
{
    bench_coproc_stop(state);
    free(state);
}

#ifdef HAVE_GLIB
static int glib_spawn(bench_ctx *c, void *state)
{
    (void)state;
    GError *err = NULL;
    int st;
    if (!g_spawn_sync(NULL, true_argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &st, &err)) {
        bench_fail(c, "g_spawn_sync: %s", err->message);
        g_error_free(err);
        return BENCH_FAIL;
    }
    return bench_check_status(c, st, "/bin/true");
}
#else
static int glib_spawn(bench_ctx *c, void *s) { (void)s; return bench_skip(c, "libglib2.0-dev not installed"); }
#endif

#ifdef HAVE_UV
/* One loop for all runs, as in a real libuv program. */
static int uv_setup(bench_ctx *c, void **state)
{
    uv_loop_t *loop = malloc(sizeof *loop);
    if (!loop || uv_loop_init(loop))
        return bench_fail(c, "uv_loop_init failed");
    *state = loop;
    return BENCH_OK;
}
static void uv_exited(uv_process_t *p, int64_t status, int sig)
{
    *(int *)p->data = sig ? 256 + sig : (int)status;
    uv_close((uv_handle_t *)p, NULL);
}
static int uv_spawn_true(bench_ctx *c, void *state)
{
    uv_loop_t *loop = state;
    uv_stdio_container_t io[3];
    for (int i = 0; i < 3; i++) {
        io[i].flags = UV_INHERIT_FD;
        io[i].data.fd = i;
    }
    uv_process_options_t o = {.file = true_argv[0], .args = true_argv, .exit_cb = uv_exited,
                              .stdio = io, .stdio_count = 3};
    uv_process_t proc;
    int result = -1;
    proc.data = &result;
    int rc = uv_spawn(loop, &proc, &o);
    if (rc) {
        uv_close((uv_handle_t *)&proc, NULL);
        uv_run(loop, UV_RUN_DEFAULT);
        return bench_fail(c, "uv_spawn: %s", uv_strerror(rc));
    }
    uv_run(loop, UV_RUN_DEFAULT);
    return result == 0 ? BENCH_OK : bench_fail(c, "/bin/true: uv status %d", result);
}
static void uv_teardown(void *state)
{
    uv_loop_close(state);
    free(state);
}
#else
static int uv_setup(bench_ctx *c, void **s) { (void)s; return bench_skip(c, "libuv1-dev not installed"); }
#define uv_spawn_true NULL
#define uv_teardown NULL
#endif

#ifdef HAVE_PIPELINE
static int pipeline_spawn(bench_ctx *c, void *state)
{
    (void)state;
    pipeline *p = pipeline_new_command_args(true_argv[0], (void *)NULL);
    int st = pipeline_run(p); /* start, wait, free */
    return st == 0 ? BENCH_OK : bench_fail(c, "/bin/true: pipeline status %d", st);
}
#else
static int pipeline_spawn(bench_ctx *c, void *s) { (void)s; return bench_skip(c, "libpipeline-dev not installed"); }
#endif

static const bench_contender contenders[] = {
    {.name = "subproc", .kind = "subproc", .run = sp_spawn_true},
    {.name = "posix_spawn", .kind = "raw", .run = raw_posix_spawn},
    {.name = "fork+exec", .kind = "raw", .run = raw_fork_exec},
    {.name = "python subprocess.run", .kind = "peer", .setup = py_setup, .run = py_run,
     .teardown = py_teardown},
    {.name = "glib g_spawn_sync", .kind = "peer", .run = glib_spawn},
    {.name = "libuv uv_spawn", .kind = "peer", .setup = uv_setup, .run = uv_spawn_true,
     .teardown = uv_teardown, .isolate = 1},
    {.name = "libpipeline", .kind = "peer", .run = pipeline_spawn, .isolate = 1},
};

/* The same spawn without the fork-based contenders in the rounds. Each fork of a large parent
 * copies, and at the child's exec frees, megabytes of page tables, which leaves the caches cold
 * for whoever runs next; this comparison shows the CLONE_VM contenders on warm caches. */
static const bench_contender vfork_contenders[] = {
    {.name = "subproc", .kind = "subproc", .run = sp_spawn_true},
    {.name = "subproc contained", .kind = "subproc", .run = sp_spawn_true_contained},
    {.name = "posix_spawn", .kind = "raw", .run = raw_posix_spawn},
    {.name = "python subprocess.run", .kind = "peer", .setup = py_setup, .run = py_run,
     .teardown = py_teardown},
    {.name = "go os/exec", .kind = "peer", .setup = go_setup, .run = py_run, .teardown = lang_teardown},
    {.name = "rust std::process", .kind = "peer", .setup = rust_setup, .run = py_run,
     .teardown = lang_teardown},
};

int main(int argc, char **argv)
{
    bench_limits lim = {.min_rounds = 5, .max_rounds = 200, .budget_s = 10};
    bench_ctx c = {.peer = "peer.py"};
    int i = bench_parse(argc, argv, &lim, &c);
    for (; i < argc; i++) {
        size_t mib = strtoull(argv[i], NULL, 10);
        char param[32];
        if (mib % 1024 == 0)
            snprintf(param, sizeof param, "%zuGiB", mib / 1024);
        else
            snprintf(param, sizeof param, "%zuMiB", mib);
        const char *self[] = {argv[i], NULL};
        c.self_args = self;
        c.ballast = mib << 20;
        void *ballast = bench_ballast(c.ballast);
        bench_comparison cmp = {.name = "spawn", .param = param, .unit = "ns"};
        bench_compare(&cmp, contenders, sizeof contenders / sizeof *contenders, &c, &lim);
        if (!c.serve) {
            bench_comparison vf = {.name = "spawn-vfork", .param = param, .unit = "ns"};
            bench_compare(&vf, vfork_contenders, sizeof vfork_contenders / sizeof *vfork_contenders,
                          &c, &lim);
        }
        free(ballast);
    }
    return 0;
}
