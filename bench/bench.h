/*
 * bench.h - the small harness shared by the benchmark programs in bench/.
 *
 * A comparison is a list of contenders (subproc, raw syscalls, peer libraries) that do the
 * same job. bench_compare() runs them round-robin, one run each per round, rotating the
 * starting contender every round, so machine drift hits all of them alike. It prints one
 * line per contender with every sample; bench/run.py turns those into medians and ratios.
 *
 * Output line (tab-separated):
 *   result  COMPARISON  PARAM  CONTENDER  KIND  UNIT  STATUS  v1,v2,...
 * STATUS is "ok", "pending" (the subproc API it needs has not landed), "skipped: why"
 * (a peer is not installed) or "error: why" (a run did the wrong thing: such numbers are
 * never reported).
 */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <sys/types.h>

/* What a contender's run() returns. */
#define BENCH_OK 0
#define BENCH_PENDING 1 /* subproc contender whose API is not there yet */
#define BENCH_SKIP 2    /* peer unavailable; why in ctx->why */
#define BENCH_FAIL (-1) /* wrong result; why in ctx->why */

typedef struct bench_ctx {
    /* Set by the program before bench_compare(). */
    const char *gen;  /* path of bench gen: writes N bytes to stdout */
    const char *peer; /* path of peer.py (Python contender) */
    size_t bytes;     /* payload of an I/O comparison */
    size_t limit;     /* capture limit (rss comparison) */
    size_t ballast;   /* parent memory in bytes (spawn comparison) */
    int jobs, njobs;  /* pool: concurrency and number of children */
    const char *payload; /* cat comparison: the bytes to send (bytes long) */
    int in_fd;        /* pipeline comparison: read end fed by gen, set by the pre hook */
    pid_t gen_pid;
    const char *serve;             /* -S NAME: this process serves one isolated contender */
    const char *const *self_args;  /* the program's arguments for the current parameter */
    const char *out_path; /* tee/forward comparisons: the file the output goes to */
    const char *prog;     /* spawn-static and threads comparisons: the no-op program */

    int warmup;         /* set by the harness during a contender's untimed warm-up run */

    /* Set by a run. */
    long long reported; /* a contender that measures itself (Python, RSS) sets this; else -1 */
    char why[256];
} bench_ctx;

typedef struct bench_contender {
    const char *name;
    const char *kind; /* "subproc", "raw" or "peer" */
    int (*setup)(bench_ctx *c, void **state); /* optional: once before the rounds */
    int (*run)(bench_ctx *c, void *state);
    void (*teardown)(void *state);            /* optional */
    /* Run in a process of its own (this program again, with -S NAME): for libraries that
     * install a SIGCHLD handler (libpipeline reaps with waitpid(-1) and would steal the
     * other contenders' children; libuv's handler would tax every other child's exit). */
    int isolate;
} bench_contender;

typedef struct bench_limits {
    int min_rounds, max_rounds;
    double budget_s; /* stop adding rounds after this, once min_rounds are done */
} bench_limits;

typedef struct bench_comparison {
    const char *name, *param, *unit; /* unit "ns" (time, taken by the harness) or "KiB" */
    /* Optional, around every run, outside the timed part. */
    int (*pre)(bench_ctx *c);
    int (*post)(bench_ctx *c);
} bench_comparison;

/* Parses -r MAX_ROUNDS -m MIN_ROUNDS -t BUDGET_SECONDS -g GEN -p PEER -S NAME; returns the
 * index of the first other argument. With -S, the program must call bench_compare() for one
 * parameter only: it then serves that contender to the parent and exits. */
int bench_parse(int argc, char **argv, bench_limits *lim, bench_ctx *c);
void bench_compare(const bench_comparison *cmp, const bench_contender *cs, size_t n,
                   bench_ctx *c, const bench_limits *lim);

long long bench_now_ns(void);
int bench_fail(bench_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int bench_skip(bench_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Memory the parent really holds: malloc'd and written, page by page. */
void *bench_ballast(size_t bytes);

/* Tools for the contenders. All retry EINTR. */
int bench_wait_ok(bench_ctx *c, pid_t pid, const char *what); /* reap; exit 0 or BENCH_FAIL */
int bench_check_status(bench_ctx *c, int wstatus, const char *what);
long long bench_drain(int fd); /* read to EOF and discard; bytes or -errno */
/* Read to EOF into a growing buffer; *out is malloc'd. Bytes or -errno. */
long long bench_read_all(int fd, char **out);
int bench_write_all(int fd, const char *buf, size_t len);
/* posix_spawn argv with stdin/stdout from the given fds (-1: inherit). */
int bench_spawn_fds(pid_t *pid, const char *const *argv, int in_fd, int out_fd);
int bench_pipe(int fds[2], int pipe_size); /* O_CLOEXEC; pipe_size 0 keeps the default */
size_t bench_rss_kib(const char *field);   /* "VmRSS:" / "VmHWM:" of this process */
int bench_reset_hwm(void);                 /* VmHWM := VmRSS (Linux clear_refs 5) */
int bench_payload_ok(const char *buf, size_t len); /* the pattern gen writes */

/* A Python helper process that runs one mode of peer.py; "go\n" -> one measured value. */
typedef struct bench_coproc {
    pid_t pid;
    int to, from;
    char line[512];
} bench_coproc;
int bench_coproc_start(bench_ctx *c, bench_coproc *cp, const char *const *args); /* peer.py */
int bench_coproc_spawn(bench_ctx *c, bench_coproc *cp, const char *const *argv);
/* The Go or Rust peer (peer_go, peer_rust, built in the bench directory), same protocol; skipped
 * with why_missing when it was not built. */
int bench_peer_start(bench_ctx *c, bench_coproc *cp, const char *prog, const char *why_missing,
                     const char *const *args);
int bench_coproc_go(bench_ctx *c, bench_coproc *cp); /* sets c->reported */
void bench_coproc_stop(bench_coproc *cp);

/*
 * The subproc contenders, one small function per comparison, all in subproc_contenders.c.
 * Those whose API has not landed yet return BENCH_PENDING and are reported as "pending".
 * Each must do exactly what its peers do and check the result (exit status, byte count).
 */
int sp_spawn_true(bench_ctx *c, void *state);    /* spawn+wait /bin/true */
int sp_spawn_true_contained(bench_ctx *c, void *state); /* the same in a cgroup of its own */
int sp_capture(bench_ctx *c, void *state);       /* all of `gen c->bytes` into memory */
int sp_capture_socket(bench_ctx *c, void *state); /* the same through SUBPROC_IO_SOCKET */
int sp_cat(bench_ctx *c, void *state);           /* c->payload through /bin/cat, captured */
int sp_pipeline3(bench_ctx *c, void *state);     /* cat|cat|cat, stdin c->in_fd, drain stdout */
int sp_pool(bench_ctx *c, void *state);          /* c->njobs /bin/true, at most c->jobs at once */
int sp_capture_limited(bench_ctx *c, void *state); /* `gen c->bytes`, keep at most c->limit */
int sp_pty_capture(bench_ctx *c, void *state);   /* all of `gen c->bytes` through a new pty */
/* `gen c->bytes` into memory kept from earlier captures (subproc_buffers in the state) */
int sp_capture_reuse_setup(bench_ctx *c, void **state);
int sp_capture_reuse(bench_ctx *c, void *state);
void sp_capture_reuse_teardown(void *state);
int sp_echo(bench_ctx *c, void *state);         /* run /bin/echo hi, capture "hi\n" */
int sp_tee_file(bench_ctx *c, void *state);     /* `gen c->bytes` captured and teed to c->out_path */
int sp_forward_file(bench_ctx *c, void *state); /* `gen c->bytes` only teed to c->out_path */
/* spawn+wait of c->prog (a static no-op); c->jobs threads doing c->njobs spawns each */
int sp_spawn_prog(bench_ctx *c, void *state);
int sp_spawn_threads(bench_ctx *c, void *state);

#endif
