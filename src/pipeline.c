/*
 * pipeline.c - shell-free pipelines: stages connected child to child, one process group,
 * per-stage status and errors, pipefail.
 */
#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct subproc_pipeline {
    size_t n;
    unsigned flags;
    pid_t pgid;
    int fds[3];
    subproc_proc **procs;   /* NULL for a stage that did not start */
    subproc_error *errors;  /* step NONE for a stage that started */
    subproc_status *status;
    int waited;
};

size_t subproc_pipeline_size(const subproc_pipeline *pl)
{
    return pl ? pl->n : 0;
}

subproc_proc *subproc_pipeline_proc(const subproc_pipeline *pl, size_t i)
{
    return pl && i < pl->n ? pl->procs[i] : NULL;
}

const subproc_error *subproc_pipeline_stage_error(const subproc_pipeline *pl, size_t i)
{
    if (!pl || i >= pl->n || pl->procs[i]) return NULL;
    return &pl->errors[i];
}

pid_t subproc_pipeline_pgid(const subproc_pipeline *pl)
{
    return pl ? pl->pgid : -1;
}

int subproc_pipeline_fd(const subproc_pipeline *pl, int stream)
{
    return pl && stream >= 0 && stream < 3 ? pl->fds[stream] : -1;
}

void subproc_pipeline_close_fd(subproc_pipeline *pl, int stream)
{
    if (!pl || stream < 0 || stream > 2) return;
    subproc__close(pl->fds[stream]);
    pl->fds[stream] = -1;
}

/* The status a stage that never ran reports, as a shell would: 127 not found, 126 otherwise. */
static void unstarted_status(subproc_status *st, const subproc_error *e)
{
    memset(st, 0, sizeof *st);
    st->exited = 1;
    st->code = (e->err == ENOENT || e->err == ENOTDIR) &&
                       (e->step == SUBPROC_STEP_RESOLVE || e->step == SUBPROC_STEP_EXEC)
                   ? 127
                   : 126;
}

static void kill_and_reap(subproc_pipeline *pl)
{
    if (pl->pgid > 0) kill(-pl->pgid, SIGKILL);
    for (size_t i = 0; i < pl->n; i++) {
        if (!pl->procs[i]) continue;
        subproc_proc_signal(pl->procs[i], SIGKILL);
        subproc_proc_wait(pl->procs[i], NULL);
    }
}

void subproc_pipeline_free(subproc_pipeline *pl)
{
    if (!pl) return;
    for (int i = 0; i < 3; i++) subproc__close(pl->fds[i]);
    int running = 0;
    for (size_t i = 0; i < pl->n; i++)
        if (pl->procs[i] && !pl->procs[i]->reaped) running = 1;
    if (running) kill_and_reap(pl);
    for (size_t i = 0; i < pl->n; i++) subproc_proc_free(pl->procs[i]);
    free(pl->procs);
    free(pl->errors);
    free(pl->status);
    free(pl);
}

static int check_stages(const subproc_opts *st, size_t n, unsigned flags)
{
    const unsigned groupish = SUBPROC_NEW_PGROUP | SUBPROC_JOIN_PGROUP | SUBPROC_NEW_SESSION;
    if (!st || n == 0 || (flags & ~(SUBPROC_PIPELINE_NO_PIPEFAIL | SUBPROC_PIPELINE_ALL_OR_NOTHING)))
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (st[i].flags & groupish) return -EINVAL;
        /* The inner ends are ours: the caller may only leave them at "inherit". */
        if (i > 0 && st[i].stdio[0].kind != SUBPROC_IO_INHERIT) return -EINVAL;
        if (i + 1 < n && st[i].stdio[1].kind != SUBPROC_IO_INHERIT) return -EINVAL;
        /* A pseudo-terminal brings a session of its own, which the group cannot span. */
        for (int k = 0; k < 3; k++)
            if (st[i].stdio[k].kind == SUBPROC_IO_PTY) return -EINVAL;
    }
    return 0;
}

int subproc_pipeline_spawn(subproc_pipeline **out, const subproc_opts *stages, size_t n,
                           unsigned flags, subproc_error *err, size_t *failed_stage)
{
    int r;
    if (!out) return subproc__fail(err, SUBPROC_STEP_VALIDATE, EINVAL, -1, NULL);
    *out = NULL;
    if ((r = check_stages(stages, n, flags)) < 0)
        return subproc__fail(err, SUBPROC_STEP_VALIDATE, -r, -1, NULL);

    subproc_pipeline *pl = subproc__calloc(1, sizeof *pl);
    if (pl) {
        pl->procs = subproc__calloc(n, sizeof *pl->procs);
        pl->errors = subproc__calloc(n, sizeof *pl->errors);
        pl->status = subproc__calloc(n, sizeof *pl->status);
    }
    if (!pl || !pl->procs || !pl->errors || !pl->status) {
        if (pl) {
            free(pl->procs);
            free(pl->errors);
            free(pl->status);
            free(pl);
        }
        return subproc__fail(err, SUBPROC_STEP_ALLOC, ENOMEM, -1, NULL);
    }
    pl->n = n;
    pl->flags = flags;
    pl->pgid = -1;
    for (int i = 0; i < 3; i++) pl->fds[i] = -1;

    int prev_read = -1; /* read end of the pipe from stage i-1 */
    for (size_t i = 0; i < n; i++) {
        int p[2] = {-1, -1};
        if (i + 1 < n && (r = subproc__pipe(p)) < 0) {
            subproc__close(prev_read);
            subproc__fail(err, SUBPROC_STEP_PIPE, -r, -1, NULL);
            if (failed_stage) *failed_stage = i;
            kill_and_reap(pl);
            subproc_pipeline_free(pl);
            return r;
        }
        subproc_opts o = stages[i];
        if (i > 0) o.stdio[0] = (subproc_io){.kind = SUBPROC_IO_FD, .fd = prev_read};
        if (i + 1 < n) o.stdio[1] = (subproc_io){.kind = SUBPROC_IO_FD, .fd = p[1]};
        if (pl->pgid > 0) {
            o.flags |= SUBPROC_JOIN_PGROUP;
            o.pgid = pl->pgid;
        } else {
            o.flags |= SUBPROC_NEW_PGROUP;
        }
        r = subproc_spawn(&pl->procs[i], &o, &pl->errors[i]);
        /* The child has its copies now (or never will); ours would keep neighbours from
         * seeing end-of-file. */
        subproc__close(prev_read);
        subproc__close(p[1]);
        prev_read = p[0];
        if (r < 0) {
            pl->procs[i] = NULL;
            unstarted_status(&pl->status[i], &pl->errors[i]);
            if (flags & SUBPROC_PIPELINE_ALL_OR_NOTHING) {
                subproc__close(prev_read);
                if (err) *err = pl->errors[i];
                if (failed_stage) *failed_stage = i;
                kill_and_reap(pl);
                subproc_pipeline_free(pl);
                return r;
            }
            continue;
        }
        if (pl->pgid < 0) pl->pgid = subproc_proc_pid(pl->procs[i]);
        if (i == 0) pl->fds[0] = subproc_proc_take_fd(pl->procs[i], 0);
        if (i + 1 == n) {
            pl->fds[1] = subproc_proc_take_fd(pl->procs[i], 1);
            pl->fds[2] = subproc_proc_take_fd(pl->procs[i], 2);
        }
    }
    if (err) subproc__fail(err, SUBPROC_STEP_NONE, 0, -1, NULL);
    *out = pl;
    return 0;
}

/* Wait for every started stage, ending (or only observing) them in an order that keeps the
 * process group id ours: the group's leader is reaped last, so while any stage remains the
 * leader is at least a zombie and its pgid cannot be recycled for someone else's group. */
static int wait_stages(subproc_pipeline *pl, int timeout_ms, unsigned flags)
{
    int64_t deadline = timeout_ms > 0 ? subproc__now_ms() + timeout_ms : 0;
    size_t leader = pl->n;
    for (size_t k = 0; k <= pl->n; k++) {
        size_t i = k < pl->n ? k : leader;
        if (i >= pl->n || !pl->procs[i]) continue;
        if (k < pl->n && subproc_proc_pid(pl->procs[i]) == pl->pgid) {
            leader = i;
            continue;
        }
        int left = timeout_ms < 0 ? -1 : 0;
        if (timeout_ms > 0) {
            int64_t now = subproc__now_ms();
            left = now >= deadline ? 0 : (int)(deadline - now);
        }
        int r = subproc_proc_wait_ex(pl->procs[i], left, flags, &pl->status[i]);
        if (r == -ETIMEDOUT) return r;
        if (r < 0) memset(&pl->status[i], 0, sizeof pl->status[i]); /* reaped behind our back */
    }
    return 0;
}

int subproc_pipeline_wait(subproc_pipeline *pl, int timeout_ms)
{
    if (!pl) return -EINVAL;
    int r = wait_stages(pl, timeout_ms, 0);
    if (r == 0) pl->waited = 1;
    return r;
}

const subproc_status *subproc_pipeline_status(const subproc_pipeline *pl, size_t i)
{
    if (!pl || i >= pl->n || !pl->waited) return NULL;
    return &pl->status[i];
}

void subproc_pipeline_pipestatus(const subproc_pipeline *pl, int *codes)
{
    if (!pl || !codes) return;
    for (size_t i = 0; i < pl->n; i++)
        codes[i] = pl->waited ? subproc_status_code(&pl->status[i]) : -1;
}

int subproc_pipeline_code(const subproc_pipeline *pl)
{
    if (!pl || !pl->waited) return -1;
    if (pl->flags & SUBPROC_PIPELINE_NO_PIPEFAIL) return subproc_status_code(&pl->status[pl->n - 1]);
    for (size_t i = pl->n; i-- > 0;) {
        int c = subproc_status_code(&pl->status[i]);
        if (c != 0) return c;
    }
    return 0;
}

/* The first signal of "signal, grace, KILL" to the group, and SIGCONT so that stopped stages act
 * on it. */
static void signal_stop(pid_t pgid, int sig)
{
    kill(-pgid, sig);
    if (subproc__needs_cont(sig)) kill(-pgid, SIGCONT);
}

int subproc_pipeline_terminate(subproc_pipeline *pl, int sig, int grace_ms)
{
    if (!pl) return -EINVAL;
    if (sig == 0) sig = SIGTERM;
    if (!subproc__sig_valid(sig)) return -EINVAL;
    if (pl->pgid <= 0) return subproc_pipeline_wait(pl, -1);
    signal_stop(pl->pgid, sig);
    /* Give the group the grace period, then KILL whatever is left in it - stages that ignore
     * the signal and their descendants alike - while the leader is still unreaped. */
    wait_stages(pl, grace_ms < 0 ? 0 : grace_ms, SUBPROC__WAIT_NOREAP);
    kill(-pl->pgid, SIGKILL);
    return subproc_pipeline_wait(pl, -1);
}

/* ---- talking to a pipeline ---- */

/* pump "done" check: every started stage has exited (reaped or not). */
static int all_exited(void *arg)
{
    subproc_pipeline *pl = arg;
    for (size_t i = 0; i < pl->n; i++)
        if (pl->procs[i] &&
            subproc_proc_wait_ex(pl->procs[i], 0, SUBPROC__WAIT_NOREAP, NULL) == -ETIMEDOUT)
            return 0;
    return 1;
}

/* The stage whose status stands for the pipeline (see subproc_pipeline_code). */
static size_t deciding_stage(const subproc_pipeline *pl)
{
    if (!(pl->flags & SUBPROC_PIPELINE_NO_PIPEFAIL))
        for (size_t i = pl->n; i-- > 0;)
            if (subproc_status_code(&pl->status[i]) != 0) return i;
    return pl->n - 1;
}

int subproc_pipeline_communicate(subproc_pipeline *pl, const subproc_comm_opts *co,
                                 subproc_result *out)
{
    if (!out) return -EINVAL;
    subproc__result_init(out);
    if (!pl) return -EINVAL;
    if (!co) co = &subproc__default_comm;
    int r = subproc__comm_opts_check(co);
    if (r < 0) return r;
    if (co->input && pl->fds[0] < 0) return -EINVAL;
    int64_t t0 = subproc__now_ms();
    int64_t deadline = co->timeout_ms > 0 ? t0 + co->timeout_ms : 0;

    int in_fd = -1;
    if (co->input) {
        in_fd = pl->fds[0];
        pl->fds[0] = -1;
    } else {
        subproc_pipeline_close_fd(pl, 0);
    }
    struct subproc__pump_out outs[2];
    size_t nout = 0;
    for (int s = 1; s <= 2; s++) {
        if (pl->fds[s] < 0) continue;
        outs[nout] = (struct subproc__pump_out){.fd = pl->fds[s], .stream = s,
                                                .cap = s == 1 ? &out->out : &out->err};
        pl->fds[s] = -1;
        nout++;
    }
    struct subproc__pump pm;
    subproc__pump_init(&pm, in_fd, co->input, co->input_len, outs, nout, co);
    r = subproc__pump_run(&pm, deadline, -1, NULL, NULL);
    if (r == 0) {
        int64_t left = deadline ? deadline - subproc__now_ms() : -1;
        if (deadline && left < 0) left = 0;
        r = wait_stages(pl, left > 0x7fffffff ? 0x7fffffff : (int)left, 0);
    }
    if (r == -ETIMEDOUT) out->timed_out = 1;
    if (r < 0 && pl->pgid > 0) {
        /* Deadline or cancel: the whole group gets the signal, output is read through the
         * grace period, then SIGKILL while the leader is still unreaped, then a bounded drain. */
        int grace = co->kill_grace_ms > 0 ? co->kill_grace_ms : SUBPROC__DEFAULT_GRACE_MS;
        signal_stop(pl->pgid, co->kill_signal ? co->kill_signal : SIGTERM);
        if (subproc__pump_run(&pm, subproc__now_ms() + grace, -1, all_exited, pl) != 1)
            wait_stages(pl, grace, SUBPROC__WAIT_NOREAP);
        kill(-pl->pgid, SIGKILL);
        wait_stages(pl, -1, 0);
        int drain = co->drain_ms == 0 ? SUBPROC__DEFAULT_DRAIN_MS : co->drain_ms;
        if (drain > 0 && subproc__pump_open(&pm))
            subproc__pump_run(&pm, subproc__now_ms() + drain, -1, NULL, NULL);
    }
    subproc__pump_finish(&pm);
    pl->waited = 1;
    out->status = pl->status[deciding_stage(pl)];
    r = subproc__result_captures(out, co, r);
    out->wall_usec = (subproc__now_ms() - t0) * 1000;
    return r;
}

int subproc_pipeline_run(subproc_pipeline **keep, subproc_result *out, const subproc_opts *stages,
                         size_t n, unsigned flags, const subproc_comm_opts *co)
{
    if (keep) *keep = NULL;
    if (!out) return -EINVAL;
    subproc__result_init(out);
    if (!co) co = &subproc__default_comm;
    int r = subproc__comm_opts_check(co);
    if (r < 0 || !stages || n == 0)
        return subproc__fail(&out->error, SUBPROC_STEP_VALIDATE, EINVAL, -1, NULL);
    int64_t t0 = subproc__now_ms();
    /* The pipeline's own ends become pipes where the caller left them to us and we need them. */
    subproc_opts first = stages[0], last = stages[n - 1];
    subproc_opts *st = subproc__malloc(n * sizeof *st);
    if (!st) return subproc__fail(&out->error, SUBPROC_STEP_ALLOC, ENOMEM, -1, NULL);
    memcpy(st, stages, n * sizeof *st);
    if (co->input && first.stdio[0].kind == SUBPROC_IO_INHERIT) st[0].stdio[0].kind = SUBPROC_IO_PIPE;
    for (int s = 1; s <= 2; s++)
        if (last.stdio[s].kind == SUBPROC_IO_INHERIT && subproc__comm_wants_output(co, s))
            st[n - 1].stdio[s].kind = SUBPROC_IO_PIPE;
    subproc_pipeline *pl;
    size_t failed;
    r = subproc_pipeline_spawn(&pl, st, n, flags, &out->error, &failed);
    free(st);
    if (r < 0) return r;
    r = subproc_pipeline_communicate(pl, co, out);
    for (size_t i = 0; i < n; i++)
        if (!pl->procs[i]) {
            out->error = pl->errors[i]; /* the first stage that did not start, for the record */
            break;
        }
    out->wall_usec = (subproc__now_ms() - t0) * 1000;
    if (r == 0 && (co->flags & SUBPROC_COMM_CHECK) && subproc_pipeline_code(pl) != 0) {
        char words[64];
        subproc_status_str(&out->status, words, sizeof words);
        r = subproc__fail(&out->error, SUBPROC_STEP_NONE, SUBPROC_ECHECK, -1, words);
    }
    if (keep)
        *keep = pl;
    else
        subproc_pipeline_free(pl);
    return r;
}
