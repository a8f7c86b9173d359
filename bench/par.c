/*
 * bench_par [-r max] [-m min] [-t budget] SUBPROC echo N J
 * bench_par [-r max] [-m min] [-t budget] SUBPROC rss BYTES
 * bench_par [-r max] [-m min] [-t budget] SUBPROC remote N J SSH_COMMAND HOST,HOST
 *
 * Comparison "par": N jobs of `/bin/echo INPUT` (inputs 1..N, one line each on standard input),
 * at most J at once, by the command-line job runners: `SUBPROC par`, GNU parallel (--will-cite
 * -q, so it runs the same argv), xargs -P, and rush (shenwei356/rush) where it is installed.
 * The time of the whole batch; every run checks the exit status and the bytes printed.
 *
 * Comparison "par-remote" (SUBPROC remote N J SSH HOSTS): the same N jobs spread over the
 * comma-separated HOSTS (sshd on loopback addresses, started by bench/remote.sh), J at once on
 * each, by `SUBPROC par -S` with one connection per host and with a connection per job, and GNU
 * parallel -S with and without -M (its ControlMaster).
 *
 * Comparison "par-rss": four jobs write BYTES each at once, grouped (each job's output
 * printed whole); the peak resident set of the job runner (wait4's ru_maxrss, its VmHWM), in
 * KiB. Only the runners that group output take part: xargs and rush pass it through.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *subproc_bin;
static long long echo_bytes(int n);
static char jobs_arg[16];
static long long expect_bytes;

/* Lines 1..N in a memfd, for standard input. */
static int inputs_fd(bench_ctx *c)
{
    int fd = memfd_create("inputs", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    char line[32];
    for (int i = 1; i <= c->njobs; i++) {
        int n = snprintf(line, sizeof line, "%d\n", i);
        if (bench_write_all(fd, line, (size_t)n) < 0)
            break;
    }
    lseek(fd, 0, SEEK_SET);
    return fd;
}

/* Run argv with the inputs (or /dev/null) on stdin, count what it prints, reap it with its
 * rusage. */
static int run_tool(bench_ctx *c, const char *const *argv, int with_inputs, long long want,
                    long *maxrss_kib)
{
    int in = with_inputs ? inputs_fd(c) : -1;
    if (with_inputs && in < 0)
        return bench_fail(c, "memfd_create: %s", strerror(errno));
    int out[2];
    int e = bench_pipe(out, 0);
    if (e) {
        if (in >= 0)
            close(in);
        return bench_fail(c, "pipe: %s", strerror(-e));
    }
    pid_t pid;
    e = bench_spawn_fds(&pid, argv, in, out[1]);
    if (in >= 0)
        close(in);
    close(out[1]);
    if (e) {
        close(out[0]);
        return bench_fail(c, "posix_spawn %s: %s", argv[0], strerror(-e));
    }
    long long got = bench_drain(out[0]);
    close(out[0]);
    int st;
    struct rusage ru;
    while (wait4(pid, &st, 0, &ru) < 0)
        if (errno != EINTR)
            return bench_fail(c, "wait4 %s: %s", argv[0], strerror(errno));
    int rc = bench_check_status(c, st, argv[0]);
    if (rc != BENCH_OK)
        return rc;
    if (got != want)
        return bench_fail(c, "%s printed %lld bytes, not %lld", argv[0], got, want);
    if (maxrss_kib)
        *maxrss_kib = ru.ru_maxrss;
    return BENCH_OK;
}

static int gnu_parallel_setup(bench_ctx *c, void **state)
{
    (void)state;
    /* moreutils ships another program called parallel: only GNU parallel counts here. */
    FILE *f = popen("parallel --version 2>/dev/null", "r");
    char line[128] = "";
    if (f) {
        if (!fgets(line, sizeof line, f))
            line[0] = 0;
        pclose(f);
    }
    if (!strstr(line, "GNU parallel"))
        return bench_skip(c, "GNU parallel not installed");
    return BENCH_OK;
}

static int rush_setup(bench_ctx *c, void **state)
{
    (void)state;
    /* Debian's package "rush" is GNU Rush, a restricted login shell, not this job runner. */
    FILE *f = popen("rush --version 2>&1", "r");
    char line[128] = "";
    if (f) {
        if (!fgets(line, sizeof line, f))
            line[0] = 0;
        pclose(f);
    }
    if (strncmp(line, "rush v", 6) != 0)
        return bench_skip(c, "rush (shenwei356/rush) not installed; Debian's package rush is GNU "
                             "Rush, a restricted login shell, not this job runner");
    return BENCH_OK;
}

/* ---- echo ---- */

static int par_sp_echo(bench_ctx *c, void *state)
{
    (void)state;
    const char *argv[] = {subproc_bin, "par", "-j", jobs_arg, "/bin/echo", "{}", NULL};
    return run_tool(c, argv, 1, expect_bytes, NULL);
}
static int gnu_echo(bench_ctx *c, void *state)
{
    (void)state;
    const char *argv[] = {"/usr/bin/parallel", "--will-cite", "-q", "-j", jobs_arg,
                          "/bin/echo", "{}", NULL};
    return run_tool(c, argv, 1, expect_bytes, NULL);
}
static int xargs_echo(bench_ctx *c, void *state)
{
    (void)state;
    const char *argv[] = {"/usr/bin/xargs", "-P", jobs_arg, "-n", "1", "/bin/echo", NULL};
    if (access(argv[0], X_OK))
        return bench_skip(c, "xargs not installed");
    return run_tool(c, argv, 1, expect_bytes, NULL);
}
static int rush_echo(bench_ctx *c, void *state)
{
    (void)state;
    const char *argv[] = {"/usr/bin/env", "rush", "-j", jobs_arg, "/bin/echo {}", NULL};
    return run_tool(c, argv, 1, expect_bytes, NULL);
}

static const bench_contender echo_contenders[] = {
    {.name = "subproc par", .kind = "subproc", .run = par_sp_echo},
    {.name = "GNU parallel -q", .kind = "peer", .setup = gnu_parallel_setup, .run = gnu_echo},
    {.name = "xargs -P -n 1", .kind = "peer", .run = xargs_echo},
    {.name = "rush", .kind = "peer", .setup = rush_setup, .run = rush_echo},
};

/* ---- rss ---- */

static char bytes_arg[32];

static int sp_rss(bench_ctx *c, void *state)
{
    (void)state;
    long kib = 0;
    const char *argv[] = {subproc_bin, "par", "-j4", c->gen, "{}", ":::", bytes_arg, bytes_arg,
                          bytes_arg, bytes_arg, NULL};
    int rc = run_tool(c, argv, 0, 4 * expect_bytes, &kib);
    c->reported = kib;
    return rc;
}
static int gnu_rss(bench_ctx *c, void *state)
{
    (void)state;
    long kib = 0;
    const char *argv[] = {"/usr/bin/parallel", "--will-cite", "-q", "-j4", c->gen, "{}", ":::",
                          bytes_arg, bytes_arg, bytes_arg, bytes_arg, NULL};
    int rc = run_tool(c, argv, 0, 4 * expect_bytes, &kib);
    c->reported = kib;
    return rc;
}

static const bench_contender rss_contenders[] = {
    {.name = "subproc par", .kind = "subproc", .run = sp_rss},
    {.name = "GNU parallel -q", .kind = "peer", .setup = gnu_parallel_setup, .run = gnu_rss},
};

/* ---- remote ---- */

static const char *ssh_cmd, *hosts;

/* One batch over the hosts. The untimed warm-up need only open the connections and page the
 * programs in: a short batch (a whole one takes minutes with GNU parallel). */
static int remote_batch(bench_ctx *c, const char *const *argv)
{
    int all = c->njobs;
    if (c->warmup && c->njobs > 20)
        c->njobs = 20;
    int rc = run_tool(c, argv, 1, echo_bytes(c->njobs), NULL);
    c->njobs = all;
    return rc;
}

static int sp_remote(bench_ctx *c, int master)
{
    char sopt[600], sshopt[700];
    snprintf(sopt, sizeof sopt, "--sshlogin=%s", hosts);
    snprintf(sshopt, sizeof sshopt, "--ssh=%s", ssh_cmd);
    const char *argv[12];
    int n = 0;
    argv[n++] = subproc_bin, argv[n++] = "par", argv[n++] = "-j", argv[n++] = jobs_arg;
    argv[n++] = sopt, argv[n++] = sshopt;
    if (!master)
        argv[n++] = "--no-controlmaster";
    argv[n++] = "/bin/echo", argv[n++] = "{}", argv[n] = NULL;
    return remote_batch(c, argv);
}
static int sp_remote_master(bench_ctx *c, void *state) { (void)state; return sp_remote(c, 1); }
static int sp_remote_plain(bench_ctx *c, void *state) { (void)state; return sp_remote(c, 0); }

static int gnu_remote(bench_ctx *c, int master)
{
    const char *argv[14];
    int n = 0;
    argv[n++] = "/usr/bin/parallel", argv[n++] = "--will-cite", argv[n++] = "-q";
    argv[n++] = "-j", argv[n++] = jobs_arg, argv[n++] = "-S", argv[n++] = hosts;
    argv[n++] = "--ssh", argv[n++] = ssh_cmd;
    if (master)
        argv[n++] = "-M";
    argv[n++] = "/bin/echo", argv[n++] = "{}", argv[n] = NULL;
    return remote_batch(c, argv);
}
static int gnu_remote_master(bench_ctx *c, void *state) { (void)state; return gnu_remote(c, 1); }
static int gnu_remote_plain(bench_ctx *c, void *state) { (void)state; return gnu_remote(c, 0); }

static const bench_contender remote_contenders[] = {
    {.name = "subproc par -S (one connection per host)", .kind = "subproc", .run = sp_remote_master},
    {.name = "subproc par -S --no-controlmaster", .kind = "variant", .run = sp_remote_plain},
    {.name = "GNU parallel -S -M (ControlMaster)", .kind = "peer", .setup = gnu_parallel_setup,
     .run = gnu_remote_master},
    {.name = "GNU parallel -S (a connection per job)", .kind = "peer", .setup = gnu_parallel_setup,
     .run = gnu_remote_plain},
};

/* What N runs of `/bin/echo K` (K = 1..N) print. */
static long long echo_bytes(int n)
{
    long long b = 0;
    for (int k = 1; k <= n; k++)
        b += snprintf(NULL, 0, "%d\n", k);
    return b;
}

/* N and J from the command line into c (and jobs_arg); 0, or 2 when either is below 1. */
static int jobs_args(bench_ctx *c, const char *n, const char *j)
{
    c->njobs = atoi(n);
    c->jobs = atoi(j);
    if (c->njobs < 1 || c->jobs < 1) {
        fprintf(stderr, "bench_par: N and J must be at least 1\n");
        return 2;
    }
    snprintf(jobs_arg, sizeof jobs_arg, "%d", c->jobs);
    expect_bytes = echo_bytes(c->njobs);
    return 0;
}

int main(int argc, char **argv)
{
    bench_limits lim = {.min_rounds = 3, .max_rounds = 10, .budget_s = 60};
    bench_ctx c = {.in_fd = -1};
    int i = bench_parse(argc, argv, &lim, &c);
    if (argc - i >= 4 && !strcmp(argv[i + 1], "echo")) {
        subproc_bin = argv[i];
        if (jobs_args(&c, argv[i + 2], argv[i + 3]))
            return 2;
        char param[64];
        snprintf(param, sizeof param, "%d jobs, J=%d", c.njobs, c.jobs);
        bench_comparison cmp = {.name = "par", .param = param, .unit = "ns"};
        bench_compare(&cmp, echo_contenders, sizeof echo_contenders / sizeof *echo_contenders, &c,
                      &lim);
        return 0;
    }
    if (argc - i >= 3 && !strcmp(argv[i + 1], "rss") && c.gen) {
        subproc_bin = argv[i];
        expect_bytes = atoll(argv[i + 2]);
        if (expect_bytes < 1) {
            fprintf(stderr, "bench_par: BYTES must be at least 1\n");
            return 2;
        }
        snprintf(bytes_arg, sizeof bytes_arg, "%lld", expect_bytes);
        char param[64];
        snprintf(param, sizeof param, "4 jobs x %lld MB", expect_bytes / 1000000);
        bench_comparison cmp = {.name = "par-rss", .param = param, .unit = "KiB"};
        bench_compare(&cmp, rss_contenders, sizeof rss_contenders / sizeof *rss_contenders, &c,
                      &lim);
        return 0;
    }
    if (argc - i >= 6 && !strcmp(argv[i + 1], "remote")) {
        subproc_bin = argv[i];
        ssh_cmd = argv[i + 4];
        hosts = argv[i + 5];
        if (jobs_args(&c, argv[i + 2], argv[i + 3]))
            return 2;
        char param[64];
        snprintf(param, sizeof param, "%d jobs, 2 hosts, J=%d each", c.njobs, c.jobs);
        bench_comparison cmp = {.name = "par-remote", .param = param, .unit = "ns"};
        bench_compare(&cmp, remote_contenders, sizeof remote_contenders / sizeof *remote_contenders,
                      &c, &lim);
        return 0;
    }
    fprintf(stderr, "usage: bench_par [opts] SUBPROC echo N J\n"
                    "       bench_par [opts] SUBPROC remote N J SSH_COMMAND HOST,HOST\n"
                    "       bench_par [opts] -g GEN SUBPROC rss BYTES\n");
    return 2;
}
