/*
 * pipeline.c - shell-free pipelines: stages connected child to child, one process group,
 * per-stage status and errors, pipefail.
 */
#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct subproc_pipeline {
    size_t n;
    unsigned flags;
    pid_t pgid;
    unsigned contain;          /* the mechanism that holds every stage's tree, or 0 */
    int leftovers;             /* SUBPROC_LEFTOVERS_* */
    struct subproc__cgroup cg; /* contain == SUBPROC_CONTAIN_CGROUP: one for all stages */
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

/*
 * sig to every stage: to the pipeline's cgroup when it has one, else to the process group of
 * the stages through the handle of a stage that is still unreaped (wait.c), once per group. A
 * group id is never used after the last stage in it has been reaped.
 */
static int group_signal(subproc_pipeline *pl, int sig)
{
    if (pl->contain == SUBPROC_CONTAIN_CGROUP) {
        if (sig == SIGKILL) return subproc__cgroup_kill(&pl->cg);
        if (sig == 0) return subproc__cgroup_populated(&pl->cg) == 1 ? 0 : -ESRCH;
        return subproc__cgroup_signal(&pl->cg, sig);
    }
    int r = -ESRCH;
    pid_t done[8];
    size_t ndone = 0;
    for (size_t i = 0; i < pl->n; i++) {
        subproc_proc *p = pl->procs[i];
        if (!p || p->pgid <= 0) continue;
        int seen = 0;
        for (size_t j = 0; j < ndone && !seen; j++) seen = done[j] == p->pgid;
        if (seen) continue;
        if (subproc__proc_send(p, sig, 1) != 0) continue; /* reaped: try another stage */
        r = 0;
        if (ndone < sizeof done / sizeof done[0]) done[ndone++] = p->pgid;
    }
    return r;
}

int subproc_pipeline_signal(subproc_pipeline *pl, int sig)
{
    if (!pl || (sig != 0 && !subproc__sig_valid(sig))) return -EINVAL;
    return group_signal(pl, sig);
}

unsigned subproc_pipeline_containment(const subproc_pipeline *pl)
{
    return pl ? pl->contain : 0;
}

static void kill_and_reap(subproc_pipeline *pl)
{
    group_signal(pl, SIGKILL);
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
    if (pl->contain == SUBPROC_CONTAIN_CGROUP)
        subproc__cgroup_release(&pl->cg, pl->leftovers != SUBPROC_LEFTOVERS_LEAVE);
    free(pl->procs);
    free(pl->errors);
    free(pl->status);
    free(pl);
}

/* Stage i of the caller's array, whose elements may be version-1 structs (a shorter stride):
 * copied into *o at the current version. */
static void stage_at(subproc_opts *o, const subproc_opts *stages, size_t i)
{
    size_t stride = subproc__opts_size(stages);
    subproc__opts_copy(o, (const subproc_opts *)(const void *)((const char *)stages + i * stride));
}

/* What is wrong with the stages, in words (for subproc_error.path), or NULL. */
static const char *stages_problem(const subproc_opts *stages, size_t n, unsigned flags,
                                  char *buf, size_t len)
{
    const unsigned groupish = SUBPROC_NEW_PGROUP | SUBPROC_JOIN_PGROUP | SUBPROC_NEW_SESSION;
    if (!stages || n == 0) return "no stages: stages is NULL or n is 0";
    if (flags & ~(SUBPROC_PIPELINE_NO_PIPEFAIL | SUBPROC_PIPELINE_ALL_OR_NOTHING))
        return "flags has unknown bits";
    subproc_opts first;
    stage_at(&first, stages, 0);
    for (size_t i = 0; i < n; i++) {
        subproc_opts st;
        stage_at(&st, stages, i);
        if (st.flags & groupish) {
            snprintf(buf, len, "stages[%zu].flags ask for a process group or session of its "
                               "own: the pipeline makes one group for all stages", i);
            return buf;
        }
        /* The inner ends are ours: the caller may only leave them at "inherit". */
        if ((i > 0 && st.stdio[0].kind != SUBPROC_IO_INHERIT) ||
            (i + 1 < n && st.stdio[1].kind != SUBPROC_IO_INHERIT)) {
            int k = i > 0 && st.stdio[0].kind != SUBPROC_IO_INHERIT ? 0 : 1;
            snprintf(buf, len, "stages[%zu].stdio[%d] is set, but it is the pipe %s stage %zu: "
                               "leave it at SUBPROC_IO_INHERIT", i, k, k ? "to" : "from",
                     k ? i + 1 : i - 1);
            return buf;
        }
        /* One tree for the whole pipeline: its containment is the first stage's. */
        if (i > 0 && (st.contain != first.contain || st.cgroup_parent != first.cgroup_parent ||
                      st.cgroup_limits != first.cgroup_limits || st.leftovers != first.leftovers)) {
            snprintf(buf, len, "stages[%zu].contain, cgroup_parent, cgroup_limits or leftovers "
                               "differ from stages[0]'s: one tree holds the whole pipeline", i);
            return buf;
        }
        /* A pseudo-terminal brings a session of its own, which the group cannot span. */
        for (int k = 0; k < 3; k++)
            if (st.stdio[k].kind == SUBPROC_IO_PTY) {
                snprintf(buf, len, "stages[%zu].stdio[%d] is a pty: a terminal brings a session "
                                   "of its own, which the pipeline's group cannot span", i, k);
                return buf;
            }
    }
    return NULL;
}

/* Whether the process group id pl->pgid is still held by one of our stages: a group exists
 * while any member, a zombie included, is unreaped. Asked through the stages' pidfds. */
static int group_alive(subproc_pipeline *pl, size_t upto)
{
    for (size_t j = 0; j < upto; j++)
        if (pl->procs[j] && pl->procs[j]->pgid == pl->pgid &&
            subproc__proc_send(pl->procs[j], 0, 0) == 0)
            return 1;
    return 0;
}

/* The pipeline's containment: a cgroup for all stages; a PID namespace per stage; or only the
 * pipeline's process group. */
static int contain_pipeline(subproc_pipeline *pl, subproc_opts *first, subproc_error *err)
{
    pl->leftovers = first->leftovers;
    if (!first->contain) return 0;
    int r = subproc__contain_cgroup(&pl->cg, first, err);
    if (r <= 0) {
        if (r == 0) pl->contain = SUBPROC_CONTAIN_CGROUP;
        return r;
    }
    /* Each stage gets its own PID namespace from its spawn, or nothing but the group. */
    pl->contain = (first->contain & SUBPROC_CONTAIN_PIDNS) ? SUBPROC_CONTAIN_PIDNS
                                                           : SUBPROC_CONTAIN_PGROUP;
    return 0;
}

int subproc_pipeline_spawn(subproc_pipeline **out, const subproc_opts *stages, size_t n,
                           unsigned flags, subproc_error *err, size_t *failed_stage)
{
    int r;
    char why[sizeof err->path];
    const char *bad = !out ? "out is NULL: pass where the pipeline goes"
                           : stages_problem(stages, n, flags, why, sizeof why);
    if (bad) return subproc__fail(err, SUBPROC_STEP_VALIDATE, EINVAL, -1, bad);
    *out = NULL;

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
    subproc__cgroup_init(&pl->cg);
    for (int i = 0; i < 3; i++) pl->fds[i] = -1;
    subproc_opts first;
    stage_at(&first, stages, 0);
    if ((r = contain_pipeline(pl, &first, err)) < 0) {
        if (failed_stage) *failed_stage = 0;
        subproc_pipeline_free(pl);
        return r;
    }

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
        subproc_opts o;
        stage_at(&o, stages, i);
        if (i > 0) o.stdio[0] = (subproc_io){.kind = SUBPROC_IO_FD, .fd = prev_read};
        if (i + 1 < n) o.stdio[1] = (subproc_io){.kind = SUBPROC_IO_FD, .fd = p[1]};
        /* The cgroup is the pipeline's; a PID namespace is each stage's own. */
        o.contain = pl->contain == SUBPROC_CONTAIN_PIDNS ? SUBPROC_CONTAIN_PIDNS : 0;
        o.cgroup_parent = NULL;
        o.cgroup_limits = NULL;
        const struct subproc__cgroup *into =
            pl->contain == SUBPROC_CONTAIN_CGROUP ? &pl->cg : NULL;
        /* Join the group while a stage still holds it; when every earlier stage has already
         * ended and been reaped (SIGCHLD ignored, or a foreign reaper), the group is gone and its
         * id may belong to someone else by now: this stage starts the group anew instead. */
        int join = pl->pgid > 0 && group_alive(pl, i);
        for (;;) {
            o.flags &= ~(SUBPROC_JOIN_PGROUP | SUBPROC_NEW_PGROUP);
            o.flags |= join ? SUBPROC_JOIN_PGROUP : SUBPROC_NEW_PGROUP;
            o.pgid = join ? pl->pgid : 0;
            r = subproc__spawn_into(&pl->procs[i], &o, &pl->errors[i], into);
            /* The last member left between our look and the child's setpgid(). */
            if (r == -EPERM && join && pl->errors[i].step == SUBPROC_STEP_SETPGID) {
                join = 0;
                continue;
            }
            break;
        }
        if (r == 0 && !join) pl->pgid = subproc_proc_pid(pl->procs[i]);
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
    int lost = 0;
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
        if (r < 0) {
            /* Reaped behind our back and the kernel cannot say how it ended: said, not faked. */
            memset(&pl->status[i], 0, sizeof pl->status[i]);
            lost = 1;
        }
    }
    return lost ? -ECHILD : 0;
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
static void signal_stop(subproc_pipeline *pl, int sig)
{
    group_signal(pl, sig);
    if (subproc__needs_cont(sig)) group_signal(pl, SIGCONT);
}

int subproc_pipeline_terminate(subproc_pipeline *pl, int sig, int grace_ms)
{
    if (!pl) return -EINVAL;
    if (sig == 0) sig = SIGTERM;
    if (!subproc__sig_valid(sig)) return -EINVAL;
    if (pl->pgid <= 0) return subproc_pipeline_wait(pl, -1);
    signal_stop(pl, sig);
    /* Give the group the grace period, then KILL whatever is left in it - stages that ignore
     * the signal and their descendants alike - while the stages are still unreaped. */
    wait_stages(pl, grace_ms < 0 ? 0 : grace_ms, SUBPROC_WAIT_NOREAP);
    group_signal(pl, SIGKILL);
    return subproc_pipeline_wait(pl, -1);
}

/* ---- talking to a pipeline ---- */

/* pump "done" check: every started stage has exited (reaped or not). */
static int all_exited(void *arg)
{
    subproc_pipeline *pl = arg;
    for (size_t i = 0; i < pl->n; i++)
        if (pl->procs[i] &&
            subproc_proc_wait_ex(pl->procs[i], 0, SUBPROC_WAIT_NOREAP, NULL) == -ETIMEDOUT)
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
    int v2 = subproc__result_v2(co);
    if (v2) out->output_incomplete = 0;
    if (!pl) return -EINVAL;
    if (!co) co = &subproc__default_comm;
    int r = subproc__comm_opts_check(co);
    if (r < 0) return r;
    if (co->input && pl->fds[0] < 0) return -EINVAL;
    int64_t t0 = subproc__now_ms();
    int64_t deadline = co->timeout_ms > 0 ? subproc__deadline_after(t0, co->timeout_ms) : 0;

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
    /* Once every stage has ended, a descendant holding the last stage's pipes holds the call
     * for the wait delay at most (io.c). */
    int incomplete = 0;
    r = subproc__pump_until_exit(&pm, deadline, subproc__wait_delay(co), -1, all_exited, pl,
                                 &incomplete);
    if (r == 0) {
        r = wait_stages(pl, deadline ? subproc__ms_left(deadline, subproc__now_ms()) : -1, 0);
    }
    int lost = r == -ECHILD;
    if (r == -ETIMEDOUT) out->timed_out = 1;
    if (r < 0 && pl->pgid > 0) {
        /* Deadline or cancel: the whole group gets the signal, output is read through the
         * grace period, then SIGKILL while the leader is still unreaped, then a bounded drain. */
        int grace = co->kill_grace_ms > 0 ? co->kill_grace_ms : SUBPROC__DEFAULT_GRACE_MS;
        signal_stop(pl, co->kill_signal ? co->kill_signal : SIGTERM);
        if (subproc__pump_run(&pm, subproc__now_ms() + grace, -1, all_exited, pl) != 1)
            wait_stages(pl, grace, SUBPROC_WAIT_NOREAP);
        group_signal(pl, SIGKILL);
        lost = wait_stages(pl, -1, 0) == -ECHILD;
        int drain = co->drain_ms == 0 ? SUBPROC__DEFAULT_DRAIN_MS : co->drain_ms;
        if (drain > 0 && subproc__pump_open(&pm))
            subproc__pump_run(&pm, subproc__now_ms() + drain, -1, NULL, NULL);
    }
    if (subproc__pump_open(&pm)) incomplete = 1;
    subproc__pump_finish(&pm);
    if (v2) out->output_incomplete = incomplete;
    pl->waited = !lost;
    out->status = pl->status[deciding_stage(pl)];
    if (lost && r >= 0) r = -ECHILD;
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
    const subproc_comm_opts *given = co; /* NULL stays NULL for communicate: see result_v2 */
    if (subproc__result_v2(co)) out->output_incomplete = 0;
    if (!co) co = &subproc__default_comm;
    const char *bad = subproc__comm_opts_problem(co);
    if (!bad && (!stages || n == 0)) bad = "no stages: stages is NULL or n is 0";
    if (bad) return subproc__fail(&out->error, SUBPROC_STEP_VALIDATE, EINVAL, -1, bad);
    int r;
    int64_t t0 = subproc__now_ms();
    /* The pipeline's own ends become pipes where the caller left them to us and we need them. */
    subproc_opts *st = subproc__malloc(n * sizeof *st);
    if (!st) return subproc__fail(&out->error, SUBPROC_STEP_ALLOC, ENOMEM, -1, NULL);
    for (size_t i = 0; i < n; i++) stage_at(&st[i], stages, i);
    subproc_opts first = st[0], last = st[n - 1];
    if (co->input && first.stdio[0].kind == SUBPROC_IO_INHERIT) st[0].stdio[0].kind = SUBPROC_IO_PIPE;
    for (int s = 1; s <= 2; s++)
        if (last.stdio[s].kind == SUBPROC_IO_INHERIT && subproc__comm_wants_output(co, s))
            st[n - 1].stdio[s].kind = SUBPROC_IO_PIPE;
    subproc_pipeline *pl;
    size_t failed;
    r = subproc_pipeline_spawn(&pl, st, n, flags, &out->error, &failed);
    free(st);
    if (r < 0) return r;
    r = subproc_pipeline_communicate(pl, given, out);
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
