/* par.c - `subproc par`: one command per input, several at once, on the library's job pool.
 *
 * Each job's stdout and stderr are captured by the pool and printed in one piece when the job
 * ends (or, with --keep-order, once every earlier job has been printed), so the output of two
 * jobs never interleaves - the price is that nothing of a job shows before it ends. */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAR_MAX_STATUS 101 /* "more than 100 jobs failed", as GNU parallel has it */
#define BAR_WIDTH 30

void cli_par_usage(FILE *f)
{
    fputs("Usage: subproc par [OPTIONS] [--] PROGRAM [ARG]... [::: INPUT...]\n"
          "Run PROGRAM once per INPUT, several at once (no shell involved). INPUTs are the\n"
          "arguments after :::, or else the lines of standard input. Each {} in PROGRAM and\n"
          "the ARGs is replaced by the input; without any {} the input is added as the last\n"
          "argument. Each job's output is printed whole when it ends, never mixed with another's.\n"
          "\n"
          "  -j, --jobs=N               run at most N jobs at once (default: number of CPUs)\n"
          "  -k, --keep-order           print the jobs' output in input order (-k as in GNU\n"
          "                             parallel; in run and pipe, -k is --kill-after)\n"
          "      --halt-on-error        start no new job once one has failed\n"
          "  -t, --timeout=DURATION     per job: TERM its process group after DURATION\n"
          "                             (NUMBER[s|m|h|d], fractions allowed; 0: none)\n"
          "  -s, --signal=SIG           send SIG instead of TERM at the deadline\n"
          "      --kill-after=DURATION  then KILL it after DURATION (default 2s)\n"
          "      --max-output=BYTES     keep at most BYTES of each job's stdout and of its\n"
          "                             stderr (K, M, G suffixes); the rest is dropped\n"
          "      --progress             show a progress bar on standard error (the default when\n"
          "                             it is a terminal)\n"
          "  -C, --chdir=DIR            run the jobs in DIR\n"
          "  -e, --env=NAME=VALUE       set a variable (repeatable)\n"
          "  -u, --unset=NAME           remove a variable (repeatable)\n"
          "  -i, --ignore-environment   start from an empty environment (-e still applies)\n"
          "      --json=FILE|-          write a JSON report of every job to FILE or stdout\n"
          "      --help                 show this help\n"
          "\n"
          "Failed jobs (not started, timed out, killed, or a non-zero exit) are listed on\n"
          "standard error at the end.\n"
          "Exit status: 0 when every job succeeded; else the number of failed jobs (101 for more\n"
          "than 100); 125 when subproc itself failed.\n"
          "Example: subproc par -j4 -k gzip -k {} ::: *.log\n",
          f);
}

typedef struct par {
    const cli_par_opts *o;
    subproc_job *jobs;
    char **inputs;
    size_t n;
    unsigned char *done;
    size_t next_print; /* --keep-order: first job not printed yet */
    size_t failed;
    int bar; /* drawing a progress bar */
} par;

static int job_failed(const subproc_job *j)
{
    return !j->started || j->timed_out || !j->status.exited || j->status.code != 0;
}

static void print_job(const subproc_job *j)
{
    if (j->out_len) fwrite(j->out, 1, j->out_len, stdout);
    fflush(stdout);
    if (j->err_len) fwrite(j->err, 1, j->err_len, stderr);
    fflush(stderr);
}

static void bar_clear(par *p)
{
    if (p->bar) fprintf(stderr, "\r%*s\r", BAR_WIDTH + 40, "");
}

static void bar_draw(par *p, size_t ndone)
{
    if (!p->bar) return;
    int filled = p->n ? (int)(ndone * BAR_WIDTH / p->n) : BAR_WIDTH;
    char line[BAR_WIDTH + 1];
    memset(line, '#', (size_t)filled);
    memset(line + filled, '.', (size_t)(BAR_WIDTH - filled));
    line[BAR_WIDTH] = '\0';
    fprintf(stderr, "\r[%s] %zu/%zu done", line, ndone, p->n);
    if (p->failed) fprintf(stderr, ", %zu failed", p->failed);
    fflush(stderr);
}

static void on_done(void *ud, subproc_job *job, size_t ndone, size_t total)
{
    (void)total;
    par *p = ud;
    size_t i = (size_t)(job - p->jobs);
    p->done[i] = 1;
    if (job_failed(job)) p->failed++;
    bar_clear(p);
    if (!p->o->keep_order)
        print_job(job);
    else
        while (p->next_print < p->n && p->done[p->next_print])
            print_job(&p->jobs[p->next_print++]);
    bar_draw(p, ndone);
}

/* How a failed job ended, in words. */
static void job_words(const subproc_job *j, char *buf, size_t len)
{
    if (!j->started && j->spawn_rc < 0) {
        char es[700];
        snprintf(buf, len, "cannot start: %s", subproc_error_str(&j->error, es, sizeof es));
    } else if (!j->started) {
        snprintf(buf, len, "not started (--halt-on-error)");
    } else {
        char st[64];
        snprintf(buf, len, "%s%s", subproc_status_str(&j->status, st, sizeof st),
                 j->timed_out ? " (timed out)" : "");
    }
}

static void write_json(FILE *f, const par *p, size_t skipped)
{
    cli_json j;
    cli_json_begin(&j, f);
    cli_json_begin_array(&j, "jobs");
    for (size_t i = 0; i < p->n; i++) {
        const subproc_job *jb = &p->jobs[i];
        const subproc_status *st = &jb->status;
        cli_json_begin_object(&j, NULL);
        cli_json_str(&j, "input", p->inputs[i]);
        cli_json_begin_array(&j, "argv");
        for (const char *const *a = jb->opts->argv; *a; a++)
            cli_json_array_str(&j, *a);
        cli_json_end_array(&j);
        cli_json_bool(&j, "started", jb->started);
        if (jb->started && st->exited)
            cli_json_int(&j, "exit_code", st->code);
        else
            cli_json_null(&j, "exit_code");
        cli_json_str(&j, "signal",
                     jb->started && st->signaled ? subproc_signal_name(st->signal) : NULL);
        cli_json_bool(&j, "core_dumped", jb->started && st->core_dumped);
        cli_json_bool(&j, "timed_out", jb->timed_out);
        cli_json_int(&j, "wall_ms", jb->wall_usec / 1000);
        cli_json_strn(&j, "stdout", jb->out, jb->out_len);
        cli_json_strn(&j, "stderr", jb->err, jb->err_len);
        if (job_failed(jb)) {
            char w[800];
            job_words(jb, w, sizeof w);
            cli_json_str(&j, "error", w);
        }
        cli_json_end_object(&j);
    }
    cli_json_end_array(&j);
    cli_json_int(&j, "failed", (long long)p->failed);
    cli_json_int(&j, "skipped", (long long)skipped);
    cli_json_end(&j);
}

/* Lines of standard input, without their '\n'. */
static int read_inputs(char ***out, size_t *n)
{
    size_t cap = 64, k = 0;
    char **v = malloc(cap * sizeof *v);
    char *line = NULL;
    size_t linecap = 0;
    ssize_t len;
    if (!v) return -ENOMEM;
    while ((len = getline(&line, &linecap, stdin)) >= 0) {
        if (len > 0 && line[len - 1] == '\n') line[len - 1] = '\0';
        if (k == cap) {
            char **nv = realloc(v, (cap *= 2) * sizeof *v);
            if (!nv) goto nomem;
            v = nv;
        }
        if (!(v[k] = strdup(line))) goto nomem;
        k++;
    }
    free(line);
    if (ferror(stdin)) {
        int e = errno;
        for (size_t i = 0; i < k; i++)
            free(v[i]);
        free(v);
        return -e;
    }
    *out = v;
    *n = k;
    return 0;
nomem:
    for (size_t i = 0; i < k; i++)
        free(v[i]);
    free(v);
    free(line);
    return -ENOMEM;
}

int cli_par_main(int argc, char **argv)
{
    cli_par_opts o;
    char msg[1024];
    if (cli_par_parse(&o, argc, argv, msg, sizeof msg) != 0) {
        fprintf(stderr, "%s par: %s\nTry '%s par --help' for more information.\n", cli_progname,
                msg, cli_progname);
        cli_par_opts_free(&o);
        return CLI_EXIT_FAILURE;
    }
    if (o.help) {
        cli_par_usage(stdout);
        cli_par_opts_free(&o);
        return fflush(stdout) == 0 ? 0 : CLI_EXIT_FAILURE;
    }

    int rc = CLI_EXIT_FAILURE;
    par p = {.o = &o};
    char **inputs = o.inputs, **owned = NULL;
    size_t n = (size_t)o.ninputs;
    subproc_env *env = NULL;
    subproc_opts *opts = NULL;
    char ***argvs = NULL;
    FILE *json = NULL;

    if (o.json) {
        json = strcmp(o.json, "-") ? fopen(o.json, "we") : stdout;
        if (!json) {
            fprintf(stderr, "%s par: --json %s: %s\n", cli_progname, o.json, strerror(errno));
            goto out;
        }
    }
    if (!inputs) {
        int r = read_inputs(&owned, &n);
        if (r < 0) {
            fprintf(stderr, "%s par: reading inputs from standard input: %s\n", cli_progname,
                    subproc_strerror(r));
            goto out;
        }
        inputs = owned;
    }
    if (cli_build_env("par", o.ignore_env, o.envops, o.nenvops, &env)) goto out;

    opts = calloc(n ? n : 1, sizeof *opts);
    argvs = calloc(n ? n : 1, sizeof *argvs);
    p.jobs = calloc(n ? n : 1, sizeof *p.jobs);
    p.done = calloc(n ? n : 1, 1);
    if (!opts || !argvs || !p.jobs || !p.done) goto nomem;
    for (size_t i = 0; i < n; i++) {
        if (!(argvs[i] = cli_par_expand(o.argv, o.argc, inputs[i]))) goto nomem;
        subproc_opts_init(&opts[i]);
        opts[i].argv = (const char *const *)argvs[i];
        opts[i].env = env;
        opts[i].cwd = o.chdir;
        /* The jobs must not compete for subproc's standard input (it may hold the inputs). */
        opts[i].stdio[0].kind = SUBPROC_IO_NULL;
        /* Jobs must not outlive subproc (Ctrl-C, kill): the pool that would reap them and
         * print their output is gone. With -t they are not in subproc's process group, so
         * the terminal's signals do not reach them either. Linux only. */
        opts[i].pdeathsig = SIGTERM;
        p.jobs[i].opts = &opts[i];
    }
    p.inputs = inputs;
    p.n = n;
    p.bar = o.progress || isatty(2);

    subproc_pool_opts po = SUBPROC_POOL_OPTS_INIT;
    po.flags = SUBPROC_POOL_CAPTURE | (o.halt_on_error ? SUBPROC_POOL_HALT_ON_ERROR : 0);
    po.jobs = o.jobs;
    po.timeout_ms = o.timeout_ms;
    po.kill_signal = o.signal;
    if (o.kill_after_ms)
        po.kill_grace_ms = o.kill_after_ms > 0x7fffffff ? 0x7fffffff : (int)o.kill_after_ms;
    po.max_output = o.max_output;
    po.on_done = on_done;
    po.ud = &p;
    bar_draw(&p, 0);
    int r = subproc_pool_run(p.jobs, n, &po);
    if (p.bar) fputc('\n', stderr); /* the final bar stays */
    if (r < 0) {
        fprintf(stderr, "%s par: running the jobs: %s\n", cli_progname, subproc_strerror(r));
        goto out;
    }
    /* With --keep-order a job that was never started leaves a gap the others wait behind. */
    size_t skipped = 0;
    for (size_t i = 0; i < n; i++) {
        if (!p.jobs[i].started && p.jobs[i].spawn_rc == 0) {
            skipped++;
            continue;
        }
        if (o.keep_order && i >= p.next_print && p.done[i]) print_job(&p.jobs[i]);
    }
    if (p.failed || skipped) {
        for (size_t i = 0; i < n; i++) {
            if (!job_failed(&p.jobs[i]) || (!p.jobs[i].started && p.jobs[i].spawn_rc == 0))
                continue;
            char w[800];
            job_words(&p.jobs[i], w, sizeof w);
            fprintf(stderr, "%s par: failed: %s: %s\n", cli_progname, inputs[i], w);
        }
        fprintf(stderr, "%s par: %zu of %zu jobs failed", cli_progname, p.failed, n);
        if (skipped) fprintf(stderr, ", %zu not started (--halt-on-error)", skipped);
        fputc('\n', stderr);
    }
    if (json) write_json(json, &p, skipped);
    rc = p.failed > PAR_MAX_STATUS ? PAR_MAX_STATUS : (int)p.failed;
    goto out;

nomem:
    fprintf(stderr, "%s par: out of memory\n", cli_progname);
out:
    if (json) {
        int bad = ferror(json) | (json == stdout ? fflush(json) : fclose(json));
        if (bad) {
            fprintf(stderr, "%s par: writing --json %s: %s\n", cli_progname, o.json,
                    strerror(errno));
            rc = CLI_EXIT_FAILURE;
        }
    }
    for (size_t i = 0; p.jobs && i < n; i++)
        subproc_job_clear(&p.jobs[i]);
    for (size_t i = 0; argvs && i < n; i++)
        free(argvs[i]);
    for (size_t i = 0; owned && i < n; i++)
        free(owned[i]);
    free(owned);
    free(argvs);
    free(opts);
    free(p.jobs);
    free(p.done);
    subproc_env_free(env);
    cli_par_opts_free(&o);
    return rc;
}
