/*
 * bench_pool [-r max] [-m min] [-t budget] JOBS N
 *
 * Comparison "pool": N runs of /bin/true with at most JOBS at once; the time of the whole
 * batch. The raw contender is the loop a careful C programmer writes by hand: posix_spawn,
 * a pidfd per child, one epoll set, waitid(P_PIDFD) to reap.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

extern char **environ;

static int raw_pool(bench_ctx *c, void *state)
{
    (void)state;
    static const char *const argv[] = {"/bin/true", NULL};
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        return bench_fail(c, "epoll_create1: %s", strerror(errno));
    int started = 0, running = 0, rc = BENCH_OK;
    while ((started < c->njobs && rc == BENCH_OK) || running) {
        while (running < c->jobs && started < c->njobs && rc == BENCH_OK) {
            pid_t pid;
            int e = bench_spawn_fds(&pid, argv, -1, -1);
            if (e) {
                rc = bench_fail(c, "posix_spawn: %s", strerror(-e));
                break;
            }
            int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
            if (pfd < 0) {
                rc = bench_fail(c, "pidfd_open: %s", strerror(errno));
                bench_wait_ok(c, pid, "true");
                break;
            }
            struct epoll_event ev = {.events = EPOLLIN, .data.fd = pfd};
            epoll_ctl(ep, EPOLL_CTL_ADD, pfd, &ev);
            started++;
            running++;
        }
        if (!running)
            break;
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, -1);
        for (int i = 0; i < n; i++) {
            siginfo_t si = {0};
            int w;
            while ((w = waitid((idtype_t)P_PIDFD, (id_t)evs[i].data.fd, &si, WEXITED)) < 0 &&
                   errno == EINTR)
                ;
            if (w < 0)
                rc = bench_fail(c, "waitid: %s", strerror(errno));
            else if (si.si_code != CLD_EXITED || si.si_status != 0)
                rc = bench_fail(c, "/bin/true: si_code %d status %d", si.si_code, si.si_status);
            /* Explicitly: close() alone leaves the registration while any copy of the file
             * lives on (epoll(7), "Q6"), and it would fire again under a reused number. */
            epoll_ctl(ep, EPOLL_CTL_DEL, evs[i].data.fd, NULL);
            close(evs[i].data.fd);
            running--;
        }
    }
    close(ep);
    return rc;
}

/* xargs and parallel read one line per job from stdin: a memfd holding N lines. */
static int lines_fd(bench_ctx *c)
{
    int fd = memfd_create("jobs", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    for (int i = 0; i < c->njobs; i++)
        if (bench_write_all(fd, "x\n", 2) < 0)
            break;
    lseek(fd, 0, SEEK_SET);
    return fd;
}

static int run_tool(bench_ctx *c, const char *const *argv)
{
    int in = lines_fd(c);
    if (in < 0)
        return bench_fail(c, "memfd_create: %s", strerror(errno));
    pid_t pid;
    int e = bench_spawn_fds(&pid, argv, in, -1);
    close(in);
    if (e)
        return bench_fail(c, "posix_spawn %s: %s", argv[0], strerror(-e));
    return bench_wait_ok(c, pid, argv[0]);
}

static char jobs_arg[16];

static int xargs_pool(bench_ctx *c, void *state)
{
    (void)state;
    const char *argv[] = {"/usr/bin/xargs", "-P", jobs_arg, "-n", "1", "/bin/true", NULL};
    if (access(argv[0], X_OK))
        return bench_skip(c, "xargs not installed");
    return run_tool(c, argv);
}

static int parallel_setup(bench_ctx *c, void **state)
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
static int parallel_pool(bench_ctx *c, void *state)
{
    (void)state;
    const char *argv[] = {"/usr/bin/parallel", "--will-cite", "-j", jobs_arg, "/bin/true", NULL};
    return run_tool(c, argv);
}

static const bench_contender pool[] = {
    {.name = "subproc", .kind = "subproc", .run = sp_pool},
    {.name = "raw posix_spawn+pidfd+epoll", .kind = "raw", .run = raw_pool},
    {.name = "xargs -P", .kind = "peer", .run = xargs_pool},
    {.name = "GNU parallel", .kind = "peer", .setup = parallel_setup, .run = parallel_pool},
};

int main(int argc, char **argv)
{
    bench_limits lim = {.min_rounds = 3, .max_rounds = 30, .budget_s = 30};
    bench_ctx c = {.in_fd = -1};
    int i = bench_parse(argc, argv, &lim, &c);
    if (argc - i != 2) {
        fprintf(stderr, "usage: bench_pool [opts] JOBS N\n");
        return 2;
    }
    c.jobs = atoi(argv[i]);
    c.njobs = atoi(argv[i + 1]);
    if (c.jobs < 1 || c.jobs > 64 || c.njobs < 1) {
        fprintf(stderr, "bench_pool: JOBS must be 1..64, N at least 1\n");
        return 2;
    }
    snprintf(jobs_arg, sizeof jobs_arg, "%d", c.jobs);
    char param[64];
    snprintf(param, sizeof param, "J=%d, %d jobs", c.jobs, c.njobs);
    bench_comparison cmp = {.name = "pool", .param = param, .unit = "ns"};
    bench_compare(&cmp, pool, sizeof pool / sizeof *pool, &c, &lim);
    return 0;
}
