/* harness.c - round-robin runner and shared plumbing for bench/ (see bench.h). */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

long long bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int set_why(bench_ctx *c, int rc, const char *fmt, va_list ap)
{
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    /* The reason goes into a tab-separated line. */
    for (char *p = c->why; *p; p++)
        if (*p == '\t' || *p == '\n')
            *p = ' ';
    return rc;
}

int bench_fail(bench_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = set_why(c, BENCH_FAIL, fmt, ap);
    va_end(ap);
    return rc;
}

int bench_skip(bench_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = set_why(c, BENCH_SKIP, fmt, ap);
    va_end(ap);
    return rc;
}

int bench_parse(int argc, char **argv, bench_limits *lim, bench_ctx *c)
{
    int opt;
    while ((opt = getopt(argc, argv, "r:m:t:g:p:S:")) != -1) {
        switch (opt) {
        case 'r': lim->max_rounds = atoi(optarg); break;
        case 'm': lim->min_rounds = atoi(optarg); break;
        case 't': lim->budget_s = atof(optarg); break;
        case 'g': c->gen = optarg; break;
        case 'p': c->peer = optarg; break;
        case 'S': c->serve = optarg; break;
        default:
            fprintf(stderr, "usage: %s [-r max_rounds] [-m min_rounds] [-t budget_s] "
                            "[-g gen] [-p peer.py] args...\n", argv[0]);
            exit(2);
        }
    }
    if (lim->min_rounds < 1)
        lim->min_rounds = 1;
    if (lim->max_rounds < lim->min_rounds)
        lim->max_rounds = lim->min_rounds;
    return optind;
}

void *bench_ballast(size_t bytes)
{
    if (!bytes)
        return NULL;
    char *p = malloc(bytes);
    if (!p) {
        fprintf(stderr, "bench: cannot allocate %zu MiB of ballast\n", bytes >> 20);
        exit(1);
    }
    /* A non-zero byte so no page stays shared with the zero page or is merged by KSM. */
    memset(p, 0x5a, bytes);
    return p;
}

enum { ST_OK, ST_PENDING, ST_SKIP, ST_FAIL };

typedef struct slot {
    void *state;
    int status;
    char why[256];
    long long *v;
    int n;
} slot;

static void mark(slot *s, int rc, const bench_ctx *c)
{
    s->status = rc == BENCH_PENDING ? ST_PENDING : rc == BENCH_SKIP ? ST_SKIP : ST_FAIL;
    snprintf(s->why, sizeof s->why, "%s", c->why);
}

/* One run, timed unless the contender reports its own number. BENCH_OK or the failure. */
static int one(const bench_comparison *cmp, const bench_contender *k, slot *s, bench_ctx *c,
               long long *value)
{
    c->why[0] = 0;
    c->reported = -1;
    /* An isolated contender's server process runs the hooks itself. */
    int hooks = !k->isolate || c->serve;
    if (hooks && cmp->pre && cmp->pre(c) != BENCH_OK)
        return BENCH_FAIL;
    long long t0 = bench_now_ns();
    int rc = k->isolate && !c->serve ? bench_coproc_go(c, s->state) : k->run(c, s->state);
    long long t1 = bench_now_ns();
    if (hooks && cmp->post && cmp->post(c) != BENCH_OK && rc == BENCH_OK)
        rc = BENCH_FAIL;
    *value = c->reported >= 0 ? c->reported : t1 - t0;
    return rc;
}

static int iso_setup(bench_ctx *c, const bench_contender *k, void **state)
{
    bench_coproc *cp = calloc(1, sizeof *cp);
    const char *argv[40] = {"/proc/self/exe", "-S", k->name, "-g", c->gen ? c->gen : "",
                            "-p", c->peer ? c->peer : ""};
    size_t n = 7;
    for (size_t i = 0; c->self_args && c->self_args[i] && n < 39; i++)
        argv[n++] = c->self_args[i];
    argv[n] = NULL;
    if (!cp)
        abort();
    int rc = bench_coproc_spawn(c, cp, argv);
    if (rc != BENCH_OK) {
        free(cp);
        return rc;
    }
    *state = cp;
    return BENCH_OK;
}

/* Server side of an isolated contender: "go" -> one run -> one line. */
static void serve(const bench_comparison *cmp, const bench_contender *cs, size_t n, bench_ctx *c)
{
    const bench_contender *k = NULL;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(cs[i].name, c->serve))
            k = &cs[i];
    slot s = {0};
    c->why[0] = 0;
    int rc = !k ? bench_fail(c, "no contender %s", c->serve)
                : k->setup ? k->setup(c, &s.state) : BENCH_OK;
    if (rc == BENCH_OK)
        printf("ready\n");
    else
        printf("%s%s\n", rc == BENCH_PENDING ? "pending" : rc == BENCH_SKIP ? "skipped: " : "error: ",
               rc == BENCH_PENDING ? "" : c->why);
    fflush(stdout);
    char line[64];
    while (rc == BENCH_OK && fgets(line, sizeof line, stdin) && !strcmp(line, "go\n")) {
        long long v;
        bench_contender plain = *k;
        plain.isolate = 0;
        int r = one(cmp, &plain, &s, c, &v);
        if (r == BENCH_OK)
            printf("%lld\n", v);
        else
            printf("%s%s\n", r == BENCH_PENDING ? "pending" : r == BENCH_SKIP ? "skipped: " : "error: ",
                   r == BENCH_PENDING ? "" : c->why);
        fflush(stdout);
    }
    if (k && k->teardown && s.state)
        k->teardown(s.state);
    exit(0);
}

void bench_compare(const bench_comparison *cmp, const bench_contender *cs, size_t n,
                   bench_ctx *c, const bench_limits *lim)
{
    if (c->serve)
        serve(cmp, cs, n, c);
    slot *sl = calloc(n, sizeof *sl);
    if (!sl)
        abort();
    for (size_t i = 0; i < n; i++) {
        sl[i].v = calloc((size_t)lim->max_rounds, sizeof *sl[i].v);
        if (!sl[i].v)
            abort();
        c->why[0] = 0;
        int rc = cs[i].isolate ? iso_setup(c, &cs[i], &sl[i].state)
                 : cs[i].setup ? cs[i].setup(c, &sl[i].state) : BENCH_OK;
        if (rc != BENCH_OK) {
            mark(&sl[i], rc, c);
            continue;
        }
        /* Warm-up run, not counted: page-cache, dynamic linking and first-touch costs. It
         * also finds the pending and broken contenders before any round. */
        long long dummy;
        c->warmup = 1;
        rc = one(cmp, &cs[i], &sl[i], c, &dummy);
        c->warmup = 0;
        if (rc != BENCH_OK)
            mark(&sl[i], rc, c);
    }

    /* Each round runs the contenders in a fresh random order (seeded: runs are replayable).
     * A fixed cyclic order, even with a rotating start, makes each contender follow the same
     * neighbour nearly every time, and what a contender leaves behind (a fork of a big parent
     * evicts caches and write-protects its pages) is then billed to one neighbour only: with
     * the list order of the spawn comparison, subproc always ran right after a fork-based peer
     * and posix_spawn almost never did. A random order spreads that carry-over over everyone. */
    size_t *order = calloc(n, sizeof *order);
    if (!order)
        abort();
    unsigned long long rng = 0x9e3779b97f4a7c15ull;
    long long start = bench_now_ns();
    for (int r = 0; r < lim->max_rounds; r++) {
        if (r >= lim->min_rounds && (bench_now_ns() - start) / 1e9 > lim->budget_s)
            break;
        for (size_t j = 0; j < n; j++)
            order[j] = j;
        for (size_t j = n; j > 1; j--) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17; /* xorshift64 */
            size_t k = (size_t)(rng % j), t = order[j - 1];
            order[j - 1] = order[k];
            order[k] = t;
        }
        for (size_t j = 0; j < n; j++) {
            size_t i = order[j];
            if (sl[i].status != ST_OK)
                continue;
            long long v;
            int rc = one(cmp, &cs[i], &sl[i], c, &v);
            if (rc != BENCH_OK)
                mark(&sl[i], rc, c);
            else
                sl[i].v[sl[i].n++] = v;
        }
    }

    for (size_t i = 0; i < n; i++) {
        if (cs[i].isolate && sl[i].state) {
            bench_coproc_stop(sl[i].state);
            free(sl[i].state);
        } else if (cs[i].teardown && sl[i].state) {
            cs[i].teardown(sl[i].state);
        }
        static const char *const names[] = {"ok", "pending", "skipped", "error"};
        printf("result\t%s\t%s\t%s\t%s\t%s\t%s", cmp->name, cmp->param, cs[i].name, cs[i].kind,
               cmp->unit, names[sl[i].status]);
        if (sl[i].status == ST_SKIP || sl[i].status == ST_FAIL)
            printf(": %s", sl[i].why);
        putchar('\t');
        for (int k = 0; sl[i].status == ST_OK && k < sl[i].n; k++)
            printf("%s%lld", k ? "," : "", sl[i].v[k]);
        putchar('\n');
        free(sl[i].v);
    }
    fflush(stdout);
    free(order);
    free(sl);
}

int bench_check_status(bench_ctx *c, int st, const char *what)
{
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return BENCH_OK;
    if (WIFEXITED(st))
        return bench_fail(c, "%s exited with %d", what, WEXITSTATUS(st));
    return bench_fail(c, "%s killed by signal %d", what, WTERMSIG(st));
}

int bench_wait_ok(bench_ctx *c, pid_t pid, const char *what)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return bench_fail(c, "waitpid %s: %s", what, strerror(errno));
    return bench_check_status(c, st, what);
}

long long bench_drain(int fd)
{
    static char buf[1 << 20];
    long long total = 0;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return total;
        total += r;
    }
}

long long bench_read_all(int fd, char **out)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    for (;;) {
        if (len == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return -ENOMEM;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            return -e;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    *out = buf;
    return (long long)len;
}

int bench_write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

int bench_spawn_fds(pid_t *pid, const char *const *argv, int in_fd, int out_fd)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (in_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    if (out_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    int rc = posix_spawn(pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return -rc;
}

int bench_pipe(int fds[2], int pipe_size)
{
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    if (pipe_size > 0 && fcntl(fds[0], F_SETPIPE_SZ, pipe_size) < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        return -e;
    }
    return 0;
}

size_t bench_rss_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    size_t kib = 0, flen = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, flen))
            kib = strtoull(line + flen, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

int bench_reset_hwm(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = bench_write_all(fd, "5", 1);
    close(fd);
    return rc;
}

int bench_payload_ok(const char *buf, size_t len)
{
    /* gen writes 'a' + (offset % 26): a shifted or lost chunk shows. Sample every 4 KiB. */
    for (size_t i = 0; i < len; i += 4093)
        if (buf[i] != (char)('a' + i % 26))
            return 0;
    return len == 0 || buf[len - 1] == (char)('a' + (len - 1) % 26);
}

static int read_line(bench_coproc *cp)
{
    size_t n = 0;
    while (n + 1 < sizeof cp->line) {
        ssize_t r = read(cp->from, cp->line + n, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (cp->line[n] == '\n')
            break;
        n++;
    }
    cp->line[n] = 0;
    return (int)n;
}

int bench_coproc_spawn(bench_ctx *c, bench_coproc *cp, const char *const *argv)
{
    int to[2], from[2];
    if (bench_pipe(to, 0) || bench_pipe(from, 0))
        return bench_fail(c, "pipe: %s", strerror(errno));
    int rc = bench_spawn_fds(&cp->pid, argv, to[0], from[1]);
    close(to[0]);
    close(from[1]);
    cp->to = to[1];
    cp->from = from[0];
    if (rc) {
        close(cp->to);
        close(cp->from);
        return bench_fail(c, "spawn %s: %s", argv[0], strerror(-rc));
    }
    /* The helper says "ready" once set up (holding its memory), or why it cannot run. */
    read_line(cp);
    if (strcmp(cp->line, "ready") == 0)
        return BENCH_OK;
    rc = !strcmp(cp->line, "pending") ? BENCH_PENDING
         : !strncmp(cp->line, "skipped: ", 9) ? bench_skip(c, "%s", cp->line + 9)
                                               : bench_fail(c, "helper: %s", cp->line[0] ? cp->line : "no answer");
    bench_coproc_stop(cp);
    return rc;
}

int bench_coproc_start(bench_ctx *c, bench_coproc *cp, const char *const *args)
{
    const char *argv[16] = {"/usr/bin/python3", c->peer};
    size_t n = 2;
    for (size_t i = 0; args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    if (access(argv[0], X_OK) != 0)
        return bench_skip(c, "python3 not installed");
    return bench_coproc_spawn(c, cp, argv);
}

int bench_peer_start(bench_ctx *c, bench_coproc *cp, const char *prog, const char *why_missing,
                     const char *const *args)
{
    char path[512];
    snprintf(path, sizeof path, "./%s", prog); /* built next to the programs (run.py's cwd) */
    if (access(path, X_OK) != 0)
        return bench_skip(c, "%s", why_missing);
    const char *argv[16] = {path};
    size_t n = 1;
    for (size_t i = 0; args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    return bench_coproc_spawn(c, cp, argv);
}

int bench_coproc_go(bench_ctx *c, bench_coproc *cp)
{
    if (bench_write_all(cp->to, "go\n", 3) < 0)
        return bench_fail(c, "helper gone");
    if (read_line(cp) == 0)
        return bench_fail(c, "helper said nothing");
    if (!strcmp(cp->line, "pending"))
        return BENCH_PENDING;
    if (!strncmp(cp->line, "skipped: ", 9))
        return bench_skip(c, "%s", cp->line + 9);
    char *end;
    long long v = strtoll(cp->line, &end, 10);
    if (*end || end == cp->line)
        return bench_fail(c, "helper: %s", cp->line);
    c->reported = v;
    return BENCH_OK;
}

void bench_coproc_stop(bench_coproc *cp)
{
    close(cp->to); /* EOF: peer.py exits */
    close(cp->from);
    int st;
    while (waitpid(cp->pid, &st, 0) < 0 && errno == EINTR)
        ;
}
