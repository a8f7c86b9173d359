/* pipe.c - `subproc pipe`: a shell-free pipeline, its per-stage status and a group deadline.
 *
 * Every stage runs in one process group (the library's pipeline), so the deadline's signal, and
 * the INT/TERM/HUP/QUIT relayed from subproc, reach them all. The library waits and reads; a
 * relay thread passes signals on meanwhile (relay.c). */
#include "cli.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void cli_pipe_usage(FILE *f)
{
    fputs(
        "Usage: subproc pipe [OPTIONS] [--] PROGRAM [ARG]... [ '|' PROGRAM [ARG]... ]...\n"
        "Run a pipeline without a shell: each argument that is exactly | separates two stages\n"
        "(quote it: '|'), stage N's standard output feeding stage N+1's standard input.\n"
        "\n"
        "  -C, --chdir=DIR            run every stage in DIR\n"
        "  -e, --env=NAME=VALUE       set a variable (repeatable)\n"
        "  -u, --unset=NAME           remove a variable (repeatable)\n"
        "  -i, --ignore-environment   start from an empty environment (-e still applies)\n"
        "      --stdin=FILE|null      the first stage reads FILE or /dev/null\n"
        "      --stdout=FILE|null     the last stage writes to FILE or /dev/null\n"
        "      --stderr=FILE|null|stdout  every stage's standard error to FILE, /dev/null or\n"
        "                             where the pipeline's standard output goes\n"
        "      --append               append to --stdout/--stderr files instead of truncating\n"
        "  -t, --timeout=DURATION     signal the whole pipeline after DURATION\n"
        "                             (NUMBER[s|m|h|d], fractions allowed; 0: none)\n"
        "  -s, --signal=SIG           signal sent at the deadline (name or number; TERM)\n"
        "  -k, --kill-after=DURATION  then KILL every stage after DURATION (2s; 0: never)\n"
        "                             (-k as in timeout(1); in subproc par, -k is --keep-order)\n"
        "      --umask=MODE           set the umask (octal)\n"
        "      --rlimit=NAME=SOFT[:HARD]  set a resource limit, as prlimit(1) names it\n"
        "      --nice=N               set the niceness to N (-20 to 19)\n"
        "      --no-pipefail          the last stage decides the status (default: the\n"
        "                             rightmost stage that failed)\n"
        "      --capture              keep the last stage's stdout and stderr for the report\n"
        "                             (still printed unless redirected)\n"
        "      --max-output=BYTES     keep at most BYTES of each (implies --capture)\n"
        "      --json=FILE|-          write a JSON report (stages, pipestatus) to FILE or stdout\n"
        "      --help                 show this help\n"
        "\n"
        "Exit status: the pipeline's (the rightmost failing stage's code, or the last stage's\n"
        "with --no-pipefail; 128+N for a stage killed by signal N; 127 for a stage not found,\n"
        "126 for one that could not be run); 124 when the deadline passed; 125 when subproc\n"
        "itself failed.\n"
        "Example: subproc pipe --json=- -- seq 100 '|' grep 7 '|' wc -l\n",
        f);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void stage_json(cli_json *j, char *const *argv, subproc_pipeline *pl, size_t i, int waited)
{
    cli_json_begin_object(j, NULL);
    cli_json_begin_array(j, "argv");
    for (char *const *a = argv; *a; a++)
        cli_json_array_str(j, *a);
    cli_json_end_array(j);
    subproc_proc *p = pl ? subproc_pipeline_proc(pl, i) : NULL;
    const subproc_status *st = pl && waited ? subproc_pipeline_status(pl, i) : NULL;
    const subproc_error *e = pl ? subproc_pipeline_stage_error(pl, i) : NULL;
    if (p)
        cli_json_int(j, "pid", subproc_proc_pid(p));
    else
        cli_json_null(j, "pid");
    if (st && st->exited)
        cli_json_int(j, "exit_code", st->code);
    else
        cli_json_null(j, "exit_code");
    cli_json_str(j, "signal", st && st->signaled ? subproc_signal_name(st->signal) : NULL);
    cli_json_bool(j, "core_dumped", st && st->core_dumped);
    cli_json_int(j, "user_ms", st ? st->user_usec / 1000 : 0);
    cli_json_int(j, "sys_ms", st ? st->sys_usec / 1000 : 0);
    cli_json_int(j, "max_rss_kb", st ? st->max_rss_kb : 0);
    if (e) {
        char es[700];
        cli_json_str(j, "error", subproc_error_str(e, es, sizeof es));
    }
    cli_json_end_object(j);
}

static void write_json(FILE *f, const cli_run_opts *o, subproc_pipeline *pl, int waited,
                       const subproc_result *res, long long wall_ms, const char *error)
{
    cli_json j;
    cli_json_begin(&j, f);
    cli_json_begin_array(&j, "stages");
    for (size_t i = 0; i < o->nstages; i++)
        stage_json(&j, o->stages[i], pl, i, waited);
    cli_json_end_array(&j);
    cli_json_begin_array(&j, "pipestatus");
    if (pl && waited) {
        int codes[o->nstages];
        subproc_pipeline_pipestatus(pl, codes);
        for (size_t i = 0; i < o->nstages; i++)
            cli_json_array_int(&j, codes[i]);
    }
    cli_json_end_array(&j);
    if (pl && waited)
        cli_json_int(&j, "exit_code", subproc_pipeline_code(pl));
    else
        cli_json_null(&j, "exit_code");
    cli_json_bool(&j, "pipefail", !o->no_pipefail);
    cli_json_bool(&j, "timed_out", res && res->timed_out);
    cli_json_int(&j, "wall_ms", wall_ms);
    cli_json_str(&j, "containment", subproc_containment_name(pl ? subproc_pipeline_containment(pl) : 0));
    if (o->capture) cli_json_capture(&j, res);
    if (error) cli_json_str(&j, "error", error);
    cli_json_end(&j);
}

/* The files are opened here, before any stage starts, so that a bad one runs nothing (as with
 * `run`) rather than leaving one stage without its input or output. */
static int open_file(const cli_run_opts *o, int i)
{
    static const char *const opt[3] = {"--stdin", "--stdout", "--stderr"};
    int flags = i == 0 ? O_RDONLY : O_WRONLY | O_CREAT | (o->append ? O_APPEND : O_TRUNC);
    int fd = open(o->path[i], flags | O_CLOEXEC, 0666);
    if (fd < 0)
        fprintf(stderr, "%s pipe: cannot open %s %s: %s\n", cli_progname, opt[i], o->path[i],
                strerror(errno));
    return fd;
}

/* A cli_relay_fn: every stage's tree (its cgroup), or the stages' process group through a live
 * stage. */
static void relay_to_pipeline(void *pl, int sig, int from_terminal)
{
    (void)from_terminal; /* the stages are never in our process group */
    subproc_pipeline_signal(pl, sig);
}

/* The stage whose code is the pipeline's: the rightmost failing one, or the last. */
static size_t deciding_stage(subproc_pipeline *pl, size_t n, int pipefail)
{
    int codes[n];
    subproc_pipeline_pipestatus(pl, codes);
    if (pipefail)
        for (size_t i = n; i-- > 0;)
            if (codes[i] != 0) return i;
    return n - 1;
}

int cli_pipe_main(int argc, char **argv)
{
    cli_run_opts o;
    char msg[1024];
    if (cli_pipe_parse(&o, argc, argv, msg, sizeof msg) != 0) {
        fprintf(stderr, "%s pipe: %s\nTry '%s pipe --help' for more information.\n", cli_progname,
                msg, cli_progname);
        cli_run_opts_free(&o);
        return CLI_EXIT_FAILURE;
    }
    if (o.help) {
        cli_pipe_usage(stdout);
        cli_run_opts_free(&o);
        return fflush(stdout) == 0 ? 0 : CLI_EXIT_FAILURE;
    }

    int rc = CLI_EXIT_FAILURE, infd = -1, outfd = -1, errfd = -1, waited = 0;
    subproc_env *env = NULL;
    subproc_pipeline *pl = NULL;
    subproc_opts *st = NULL;
    FILE *json = NULL;
    subproc_rlimit rl[CLI_MAX_RLIMITS];
    subproc_result res;
    memset(&res, 0, sizeof res);
    sigset_t oldmask;
    cli_relay_block(&oldmask);

    if (o.json) {
        json = strcmp(o.json, "-") ? fopen(o.json, "we") : stdout;
        if (!json) {
            fprintf(stderr, "%s pipe: --json %s: %s\n", cli_progname, o.json, strerror(errno));
            goto out;
        }
    }
    if (cli_build_env("pipe", o.ignore_env, o.envops, o.nenvops, &env) ||
        cli_build_rlimits("pipe", &o, rl))
        goto out;
    /* Every stage's stderr shares one open file description, as `2>f` on a whole pipeline
     * would; stdout and stderr naming one file share it too. */
    if (o.stream[0] == CLI_STREAM_FILE && (infd = open_file(&o, 0)) < 0) goto out;
    if (o.stream[1] == CLI_STREAM_FILE && (outfd = open_file(&o, 1)) < 0) goto out;
    if (o.stream[2] == CLI_STREAM_FILE) {
        if (outfd >= 0 && !strcmp(o.path[1], o.path[2]))
            errfd = outfd;
        else if ((errfd = open_file(&o, 2)) < 0)
            goto out;
    }

    size_t n = o.nstages;
    st = calloc(n, sizeof *st);
    if (!st) {
        fprintf(stderr, "%s pipe: out of memory\n", cli_progname);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        subproc_opts *so = &st[i];
        subproc_opts_init(so);
        so->argv = (const char *const *)o.stages[i];
        so->env = env;
        so->cwd = o.chdir;
        if (o.set_umask) so->flags |= SUBPROC_SET_UMASK, so->umask = (mode_t)o.umask;
        if (o.set_nice) so->flags |= SUBPROC_SET_NICE, so->nice = o.nice;
        so->rlimits = rl;
        so->nrlimits = o.nrlimits;
        so->flags |= SUBPROC_SET_SIGMASK;
        so->sigmask = oldmask;
        so->contain = cli_contain_mask(o.no_contain);
        so->leftovers = o.leftovers;
        subproc_io *err = &so->stdio[2];
        switch (o.stream[2]) {
        case CLI_STREAM_INHERIT:
            if (i == n - 1 && o.capture) err->kind = SUBPROC_IO_PIPE;
            break;
        case CLI_STREAM_NULL:
            err->kind = SUBPROC_IO_NULL;
            break;
        case CLI_STREAM_FILE:
            *err = (subproc_io){.kind = SUBPROC_IO_FD, .fd = errfd};
            break;
        case CLI_STREAM_STDOUT:
            /* Where the pipeline's output goes: the last stage's stdout, whatever it is. */
            if (i == n - 1)
                err->kind = SUBPROC_IO_STDOUT;
            else if (o.stream[1] == CLI_STREAM_NULL)
                err->kind = SUBPROC_IO_NULL;
            else
                *err = (subproc_io){.kind = SUBPROC_IO_FD, .fd = outfd >= 0 ? outfd : 1};
            break;
        }
    }
    if (o.stream[0] == CLI_STREAM_NULL) st[0].stdio[0].kind = SUBPROC_IO_NULL;
    if (o.stream[0] == CLI_STREAM_FILE)
        st[0].stdio[0] = (subproc_io){.kind = SUBPROC_IO_FD, .fd = infd};
    subproc_io *out = &st[n - 1].stdio[1];
    if (o.stream[1] == CLI_STREAM_NULL)
        out->kind = SUBPROC_IO_NULL;
    else if (o.stream[1] == CLI_STREAM_FILE)
        *out = (subproc_io){.kind = SUBPROC_IO_FD, .fd = outfd};
    else if (o.capture)
        out->kind = SUBPROC_IO_PIPE;

    long long t0 = now_ms();
    subproc_error e;
    size_t bad = 0;
    int r = subproc_pipeline_spawn(&pl, st, n, o.no_pipefail ? SUBPROC_PIPELINE_NO_PIPEFAIL : 0, &e,
                                   &bad);
    if (r < 0) {
        char es[700];
        subproc_error_str(&e, es, sizeof es);
        fprintf(stderr, "%s pipe: cannot start the pipeline: %s\n", cli_progname, es);
        rc = e.step == SUBPROC_STEP_VALIDATE ? CLI_EXIT_FAILURE : cli_spawn_exit_status(&e);
        pl = NULL;
        if (json) {
            snprintf(msg, sizeof msg, "cannot start the pipeline: %s", es);
            write_json(json, &o, NULL, 0, NULL, now_ms() - t0, msg);
        }
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const subproc_error *se = subproc_pipeline_stage_error(pl, i);
        if (!se) continue;
        char es[700];
        fprintf(stderr, "%s pipe: stage %zu: cannot start %s: %s\n", cli_progname, i + 1,
                o.stages[i][0], subproc_error_str(se, es, sizeof es));
    }

    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    if (!o.capture) co.flags |= SUBPROC_COMM_NO_CAPTURE;
    co.max_output = o.max_output;
    cli_tee tee;
    if (o.capture) {
        cli_tee_init(&tee, subproc_pipeline_proc(pl, n - 1));
        co.on_output = cli_tee_output;
        co.ud = &tee;
    }
    co.timeout_ms = o.timeout_ms;
    co.kill_signal = o.signal;
    co.kill_grace_ms = o.kill_after_ms
                           ? (int)(o.kill_after_ms > 0x7fffffff ? 0x7fffffff : o.kill_after_ms)
                           : 0x7fffffff;
    pid_t fg = -1;
    int tty = cli_take_terminal(subproc_pipeline_pgid(pl), &fg);
    cli_relay *relay = cli_relay_start(relay_to_pipeline, pl);
    r = subproc_pipeline_communicate(pl, &co, &res);
    cli_relay_stop(relay);
    if (tty >= 0) tcsetpgrp(tty, fg);
    long long wall = now_ms() - t0;
    waited = r == 0 || r == -ETIMEDOUT;
    if (!waited) {
        fprintf(stderr, "%s pipe: waiting for the pipeline: %s\n", cli_progname,
                subproc_strerror(r));
        rc = CLI_EXIT_FAILURE;
    } else {
        rc = res.timed_out ? CLI_EXIT_TIMEOUT : subproc_pipeline_code(pl);
        /* A deciding stage that did not start: 127/126 as the library says, but 125 when a
         * setup step (chdir, a limit...) failed, as `run` has it. */
        const subproc_error *se =
            subproc_pipeline_stage_error(pl, deciding_stage(pl, n, !o.no_pipefail));
        if (!res.timed_out && se) rc = cli_spawn_exit_status(se);
    }
    if (json) write_json(json, &o, pl, waited, &res, wall, waited ? NULL : subproc_strerror(r));

out:
    if (json) {
        int badw = ferror(json) | (json == stdout ? fflush(json) : fclose(json));
        if (badw) {
            fprintf(stderr, "%s pipe: writing --json %s: %s\n", cli_progname, o.json,
                    strerror(errno));
            rc = CLI_EXIT_FAILURE;
        }
    }
    subproc_result_free(&res);
    subproc_pipeline_free(pl);
    free(st);
    if (errfd >= 0 && errfd != outfd) close(errfd);
    if (outfd >= 0) close(outfd);
    if (infd >= 0) close(infd);
    subproc_env_free(env);
    cli_run_opts_free(&o);
    return rc;
}
