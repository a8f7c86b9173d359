/*
 * subproc_contenders.c - subproc's side of every comparison, one function each.
 *
 * PENDING marks a contender whose API is still being written (I/O: subproc_run /
 * subproc_proc_communicate; pipelines; pools). Fill it in when the API lands: run the job
 * as the comment says, check the result like the peers in the same file do, and return
 * BENCH_OK, or bench_fail(c, ...) on a wrong result. Until then it returns BENCH_PENDING and
 * the comparison reports "pending", never a number.
 */
#include "bench.h"

#include <subproc.h>

#include <string.h>

#define PENDING(c) ((void)(c), BENCH_PENDING)

int sp_spawn_true(bench_ctx *c, void *state)
{
    (void)state;
    static const char *const argv[] = {"/bin/true", NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    subproc_proc *p;
    subproc_error e;
    int rc = subproc_spawn(&p, &o, &e);
    if (rc < 0) {
        char buf[600];
        return bench_fail(c, "subproc_spawn: %s", subproc_error_str(&e, buf, sizeof buf));
    }
    subproc_status st;
    rc = subproc_proc_wait(p, &st);
    subproc_proc_free(p);
    if (rc < 0)
        return bench_fail(c, "subproc_proc_wait: %s", subproc_strerror(rc));
    if (!st.exited || st.code != 0)
        return bench_fail(c, "/bin/true did not exit 0");
    return BENCH_OK;
}

/* PENDING (I/O): run {c->gen, "<c->bytes>"} with stdout captured into memory (subproc_run or
 * spawn + subproc_proc_communicate); check exit 0, length == c->bytes and
 * bench_payload_ok(); free the buffer. */
int sp_capture(bench_ctx *c, void *state)
{
    (void)state;
    return PENDING(c);
}

/* PENDING (I/O): run {"/bin/cat"} with stdin = c->payload (c->bytes long) and stdout captured,
 * both at once (subproc_proc_communicate); check exit 0 and output == input. */
int sp_cat(bench_ctx *c, void *state)
{
    (void)state;
    return PENDING(c);
}

/* PENDING (pipelines): run /bin/cat | /bin/cat | /bin/cat with the first stdin = c->in_fd
 * (the caller keeps it) and the last stdout a pipe; drain it with bench_drain(), check it
 * gave c->bytes bytes and every stage exited 0. */
int sp_pipeline3(bench_ctx *c, void *state)
{
    (void)state;
    return PENDING(c);
}

/* PENDING (pools): run c->njobs times {"/bin/true"} through a pool of c->jobs, wait for all,
 * check every one exited 0. */
int sp_pool(bench_ctx *c, void *state)
{
    (void)state;
    return PENDING(c);
}

/* PENDING (I/O): capture {c->gen, "<c->bytes>"} with a capture limit of c->limit bytes
 * (whatever the API does past the limit: discard or stop, as long as the child is reaped).
 * The harness measures peak RSS around this call; check the kept part is
 * bench_payload_ok(). */
int sp_capture_limited(bench_ctx *c, void *state)
{
    (void)state;
    return PENDING(c);
}
