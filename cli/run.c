/* run.c - `subproc run`: start one program, bound its time, report how it ended.
 *
 * Deadline handling follows timeout(1) with two differences that make it safe for programs that
 * start children of their own: the child leads a new process group (when there is a deadline)
 * and every signal goes to that group, and KILL follows --kill-after (default 2s) unless it is 0.
 * Signals that would end subproc itself (INT, TERM, HUP, QUIT) are blocked and relayed to the
 * child instead, so that subproc is never gone while its child runs on. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WAIT_SLICE_MS 50 /* how late a relayed signal may be */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* now + ms, saturating: a huge -t or -k means "far in the future", never a wrapped past. */
static long long deadline_after(long long ms)
{
    long long now = now_ms();
    return ms > LLONG_MAX - now ? LLONG_MAX : now + ms;
}

void cli_run_usage(FILE *f)
{
    fputs(
        "Usage: subproc run [OPTIONS] [--] PROGRAM [ARG]...\n"
        "       subproc run [OPTIONS] NAME=VALUE... [--] PROGRAM [ARG]...\n"
        "Run PROGRAM with ARGs (no shell involved) and exit with its status.\n"
        "Options stop at the first argument that is not one. As in env(1), NAME=VALUE\n"
        "operands before PROGRAM set variables (\"--\" before them makes the first one the\n"
        "program; so does a '/' in NAME).\n"
        "\n"
        "  -C, --chdir=DIR            run in DIR\n"
        "  -e, --env=NAME=VALUE       set a variable (repeatable)\n"
        "  -u, --unset=NAME           remove a variable (repeatable)\n"
        "  -i, --ignore-environment   start from an empty environment (-e still applies)\n"
        "      --stdin=FILE|null      read standard input from FILE or /dev/null\n"
        "      --stdout=FILE|null     write standard output to FILE or /dev/null\n"
        "      --stderr=FILE|null|stdout  standard error to FILE, /dev/null or standard output\n"
        "      --append               append to --stdout/--stderr files instead of truncating\n"
        "  -t, --timeout=DURATION     send the signal to the program and everything it started\n"
        "                             after DURATION (NUMBER[s|m|h|d] as timeout(1) takes it: 1.5,\n"
        "                             2.34e+5d, inf; 0: none)\n"
        "  -s, --signal=SIG           signal sent at the deadline (name or number; TERM;\n"
        "                             0 sends nothing, then KILL after -k)\n"
        "  -k, --kill-after=DURATION  then KILL them all after DURATION (2s; 0: never)\n"
        "                             (-k as in timeout(1); in subproc par, -k is --keep-order,\n"
        "                             as in GNU parallel)\n"
        "      --preserve-status      after the deadline, exit with the program's status\n"
        "                             (128+N when signal N ended it) instead of 124\n"
        "      --foreground           no process group or tree of its own: the program may read\n"
        "                             the terminal; the deadline's signals reach it, not its children\n"
        "  -v, --verbose              report each signal sent at the deadline on standard error\n"
        "      --no-contain           do not hold the program's process tree in a cgroup (or PID\n"
        "                             namespace, or process group): descendants that leave its\n"
        "                             process group escape the deadline\n"
        "      --leftovers=leave|kill|wait  descendants still running when the program exits:\n"
        "                             leave them (default, as timeout(1)), kill them, or wait\n"
        "                             for them (within -t)\n"
        "      --umask=MODE           set the umask (octal)\n"
        "      --rlimit=NAME=SOFT[:HARD]  set a resource limit, as prlimit(1) names it\n"
        "                             (as core cpu data fsize locks memlock msgqueue nice nofile\n"
        "                             nproc rss rtprio rttime sigpending stack; or unlimited)\n"
        "      --nice=N               set the niceness to N (-20 to 19)\n"
        "      --new-session          run in a new session (setsid)\n"
        "      --capture              keep stdout and stderr for the JSON report (they are still\n"
        "                             printed unless redirected)\n"
        "      --max-output=BYTES     keep at most BYTES of each (head and tail; K, M, G\n"
        "                             suffixes); implies --capture\n"
        "      --json=FILE|-          write a JSON report of how it ended to FILE or stdout\n"
        "      --pty                  run on a new pseudo-terminal (every stream not redirected);\n"
        "                             from a terminal: interactive, subproc's terminal raw\n"
        "                             meanwhile; else stdin is typed in, then the EOF character\n"
        "      --pty-size=ROWSxCOLS   its window size (default: subproc's terminal's, or 24x80)\n"
        "      --host=[USER@]HOST[:PORT]  run PROGRAM on HOST through ssh (argv arrives exactly;\n"
        "                             -e/-u change the host's environment; -i, --rlimit,\n"
        "                             --nice and --new-session are refused)\n"
        "      --ssh=COMMAND          the ssh command and its options (split at blanks; ssh)\n"
        "      --help                 show this help\n"
        "\n"
        "Exit status: the program's; 128+N when killed by signal N; 124 when the deadline\n"
        "passed; 125 when subproc itself failed; 126 when PROGRAM could not be run; 127 when\n"
        "it was not found.\n",
        f);
}

static int fail125(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail125(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s %s: ", cli_progname, cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_EXIT_FAILURE;
}

int cli_build_env(const char *cmd, int ignore_env, const cli_envop *ops, size_t nops,
                  subproc_env **out)
{
    *out = NULL;
    if (!ignore_env && nops == 0) return 0;
    subproc_env *env;
    int r = subproc_env_new(&env, ignore_env ? SUBPROC_ENV_EMPTY : SUBPROC_ENV_INHERIT);
    if (r < 0) {
        fprintf(stderr, "%s %s: environment: %s\n", cli_progname, cmd, subproc_strerror(r));
        return CLI_EXIT_FAILURE;
    }
    for (size_t i = 0; i < nops; i++) {
        const cli_envop *op = &ops[i];
        r = op->unset ? subproc_env_unset(env, op->arg) : subproc_env_put(env, op->arg);
        if (r < 0) {
            subproc_env_free(env);
            fprintf(stderr, "%s %s: %s %s: %s\n", cli_progname, cmd,
                    op->unset ? "-u/--unset" : "-e/--env", op->arg, subproc_strerror(r));
            return CLI_EXIT_FAILURE;
        }
    }
    *out = env;
    return 0;
}

/* Limits given as "SOFT:" or ":HARD" keep the other value as subproc has it, which is what the
 * child would inherit. */
int cli_build_rlimits(const char *cmd, const cli_run_opts *o, subproc_rlimit *rl)
{
    for (size_t i = 0; i < o->nrlimits; i++) {
        const cli_rlimit *c = &o->rlimits[i];
        struct rlimit cur = {0, 0};
        if ((!c->has_soft || !c->has_hard) && getrlimit(c->resource, &cur) < 0)
            return fail125(cmd, "--rlimit %s: %s", c->name, strerror(errno));
        rl[i].resource = c->resource;
        rl[i].soft = c->has_soft ? c->soft : cur.rlim_cur;
        rl[i].hard = c->has_hard ? c->hard : cur.rlim_max;
        if (rl[i].soft > rl[i].hard)
            return fail125(cmd, "--rlimit %s: the soft limit would be above the hard limit",
                           c->name);
    }
    return 0;
}

/* Exit status for a spawn that failed: 127 not found, 126 found but not runnable, 125 when a
 * setup step (chdir, open, rlimit, ...) failed, as env(1) does for -C. */
int cli_spawn_exit_status(const subproc_error *e)
{
    if (e->step == SUBPROC_STEP_RESOLVE || e->step == SUBPROC_STEP_EXEC)
        return e->err == ENOENT ? CLI_EXIT_NOT_FOUND : CLI_EXIT_CANNOT_RUN;
    return CLI_EXIT_FAILURE;
}

/* The deadline's signals: to the program's whole contained tree (or its process group), or with
 * --foreground to the program alone, as timeout(1) does; -v reports each one as timeout -v does.
 * Signal 0 sends nothing (it only checks). */
static void deadline_signal(subproc_proc *p, const cli_run_opts *o, int sig, int quiet)
{
    if (o->verbose && !quiet) {
        const char *name = sig ? subproc_signal_name(sig) : "SIGEXIT";
        fprintf(stderr, "%s run: sending signal %s to command '%s'\n", cli_progname,
                name ? name + 3 : "?", o->argv[0]);
    }
    if (o->foreground)
        subproc_proc_signal(p, sig);
    else
        cli_signal_all(p, sig);
}

typedef struct run_result {
    subproc_status st;
    int timed_out;
    int waited;                /* st is valid */
    const subproc_result *cap; /* --capture: the captured output */
    unsigned containment;      /* SUBPROC_CONTAIN_* the tree got */
} run_result;

/* Whether anything of the tree is still there once the child has exited (it is a zombie: the
 * group id is still ours). */
static int rest_alive(subproc_proc *p)
{
    if (subproc_proc_containment(p) != 0) return subproc_proc_wait_tree(p, 0) == -ETIMEDOUT;
    return subproc_proc_pgid(p) > 0 && subproc_proc_signal_group(p, 0) == 0;
}

/* Wait for the child, enforcing the deadline. Returns 0, or a negative errno from the wait.
 * The child is waited for without being reaped first (SUBPROC_WAIT_NOREAP), so that whatever
 * it leaves behind can still be reached through its handle: members of its group that outlive
 * it get the rest of the grace period, then KILL, as timeout(1) would give them, and the
 * --leftovers policy applies to a contained tree. */
static int supervise(subproc_proc *p, const cli_run_opts *o, run_result *res)
{
    enum { RUNNING, GRACE, KILLED } phase = RUNNING;
    long long deadline = o->timeout_ms ? deadline_after(o->timeout_ms) : -1;
    int r, child_gone = 0;
    for (;;) {
        long long slice = WAIT_SLICE_MS;
        if (deadline >= 0) {
            long long left = deadline - now_ms();
            if (left < slice) slice = left < 0 ? 0 : left;
        }
        if (!child_gone) {
            r = subproc_proc_wait_ex(p, (int)slice, SUBPROC_WAIT_NOREAP, NULL);
            if (r < 0 && r != -ETIMEDOUT) return r;
            if (r == 0) {
                child_gone = 1;
                /* Ended by itself: the leftovers policy; after a deadline: the grace rules. */
                if (phase == RUNNING && o->leftovers == SUBPROC_LEFTOVERS_KILL &&
                    subproc_proc_containment(p))
                    subproc_proc_kill_tree(p);
                int wait_rest = phase == GRACE ||
                                (phase == RUNNING && o->leftovers == SUBPROC_LEFTOVERS_WAIT &&
                                 subproc_proc_containment(p));
                if (!wait_rest || !rest_alive(p)) break;
                if (phase == GRACE && deadline < 0) break; /* -k 0: never KILL, wait for none */
            }
        } else {
            /* The child is gone; what it left runs on until it ends or the deadline. */
            if (!rest_alive(p)) break;
            struct timespec ts = {0, (long)(slice < 10 ? slice : 10) * 1000000L};
            nanosleep(&ts, NULL);
        }
        cli_relay_pending(cli_relay_to_proc, p);
        if (deadline < 0 || now_ms() < deadline) continue;
        if (phase == RUNNING) {
            res->timed_out = 1;
            deadline_signal(p, o, o->signal, 0);
            /* A stopped process acts on no signal but KILL until it is continued (as
             * timeout(1) does, follow with CONT). */
            if (o->signal != SIGKILL && o->signal != SIGCONT) deadline_signal(p, o, SIGCONT, 1);
            phase = GRACE;
            deadline = o->kill_after_ms ? deadline_after(o->kill_after_ms) : -1;
            if (child_gone && deadline < 0) break;
        } else if (phase == GRACE) {
            deadline_signal(p, o, SIGKILL, 0);
            phase = KILLED;
            deadline = -1;
            if (child_gone) break;
        }
    }
    r = subproc_proc_wait(p, &res->st);
    if (r < 0) return r;
    res->waited = 1;
    return 0;
}

void cli_json_capture(cli_json *j, const subproc_result *cap)
{
    static const subproc_capture none;
    const subproc_capture *c[2] = {cap ? &cap->out : &none, cap ? &cap->err : &none};
    /* Head and tail of a cut stream stay apart, with the size of the gap between them. */
    cli_json_output(j, "stdout", c[0]->data, c[0]->len, c[0]->head_len, c[0]->truncated,
                    c[0]->total);
    cli_json_output(j, "stderr", c[1]->data, c[1]->len, c[1]->head_len, c[1]->truncated,
                    c[1]->total);
    /* The program ended but something it started still held a pipe when the wait delay ran out:
     * output written after that is missing. */
    cli_json_bool(j, "output_incomplete", cap && cap->output_incomplete);
}

/* --capture: the library reads the pipes and enforces the deadline (a grandchild holding a pipe
 * is killed with the group then); tee.c passes the output on to our stdout and stderr. */
static int communicate(subproc_proc *p, const cli_run_opts *o, subproc_result *cap, run_result *res)
{
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.max_output = o->max_output;
    cli_tee tee;
    cli_tee_init(&tee, p);
    co.on_output = cli_tee_output;
    co.ud = &tee;
    co.timeout_ms = o->timeout_ms;
    co.kill_signal = o->signal;
    long long t0 = now_ms();
    if (o->signal == 0) { /* -s 0: nothing at the deadline, KILL once -k has passed too */
        co.timeout_ms = o->kill_after_ms ? o->timeout_ms + o->kill_after_ms : 0;
        co.kill_signal = SIGKILL;
    }
    /* -k 0 means never KILL: a grace period longer than anyone waits. */
    co.kill_grace_ms = o->kill_after_ms
                           ? (int)(o->kill_after_ms > 0x7fffffff ? 0x7fffffff : o->kill_after_ms)
                           : 0x7fffffff;
    cli_relay *relay = cli_relay_start(cli_relay_to_proc, p);
    int r = subproc_proc_communicate(p, &co, cap);
    cli_relay_stop(relay);
    res->cap = cap;
    res->timed_out =
        cap->timed_out || (o->signal == 0 && o->timeout_ms && now_ms() - t0 >= o->timeout_ms);
    /* The library sent the signals: -v can only say so afterwards. */
    if (o->verbose && cap->timed_out)
        fprintf(stderr, "%s run: signal %s was sent to command '%s' at the deadline\n",
                cli_progname,
                co.kill_signal == SIGKILL ? "KILL" : subproc_signal_name(co.kill_signal) + 3,
                o->argv[0]);
    if (r < 0 && r != -ETIMEDOUT) return r;
    res->st = cap->status;
    res->waited = 1;
    return 0;
}

/* --pty: ptyrun.c relays between subproc's stdin/stdout and the child's terminal. */
static int pty_run(subproc_proc *p, const cli_run_opts *o, subproc_result *cap, run_result *res)
{
    int r = cli_pty_session(p, o, cap);
    res->cap = cap;
    res->timed_out = cap->timed_out;
    if (r < 0) return r;
    res->st = cap->status;
    res->waited = 1;
    return 0;
}

static void write_json(FILE *f, const cli_run_opts *o, pid_t pid, const run_result *res,
                       long long wall_ms, const char *error)
{
    cli_json j;
    cli_json_begin(&j, f);
    if (o->host) cli_json_str(&j, "host", o->host);
    cli_json_begin_array(&j, "argv");
    for (int i = 0; i < o->argc; i++)
        cli_json_array_str(&j, o->argv[i]);
    cli_json_end_array(&j);
    if (pid > 0)
        cli_json_int(&j, "pid", pid);
    else
        cli_json_null(&j, "pid");
    const subproc_status *st = &res->st;
    if (res->waited && st->exited)
        cli_json_int(&j, "exit_code", st->code);
    else
        cli_json_null(&j, "exit_code");
    cli_json_str(&j, "signal",
                 res->waited && st->signaled ? subproc_signal_name(st->signal) : NULL);
    cli_json_bool(&j, "core_dumped", res->waited && st->core_dumped);
    cli_json_bool(&j, "timed_out", res->timed_out);
    cli_json_int(&j, "wall_ms", wall_ms);
    cli_json_int(&j, "user_ms", res->waited ? st->user_usec / 1000 : 0);
    cli_json_int(&j, "sys_ms", res->waited ? st->sys_usec / 1000 : 0);
    cli_json_int(&j, "max_rss_kb", res->waited ? st->max_rss_kb : 0);
    cli_json_str(&j, "containment", subproc_containment_name(res->containment));
    if (o->capture) cli_json_capture(&j, res->cap);
    if (error) cli_json_str(&j, "error", error);
    cli_json_end(&j);
}

int cli_run_main(int argc, char **argv)
{
    cli_run_opts o;
    char msg[1024];
    if (cli_run_parse(&o, argc, argv, msg, sizeof msg) != 0) {
        fprintf(stderr, "%s run: %s\nTry '%s run --help' for more information.\n", cli_progname,
                msg, cli_progname);
        cli_run_opts_free(&o);
        return CLI_EXIT_FAILURE;
    }
    if (o.help) {
        cli_run_usage(stdout);
        cli_run_opts_free(&o);
        return fflush(stdout) == 0 ? 0 : CLI_EXIT_FAILURE;
    }

    int rc = CLI_EXIT_FAILURE;
    subproc_env *env = NULL;
    cli_remote remote;
    memset(&remote, 0, sizeof remote);
    subproc_proc *p = NULL;
    FILE *json = NULL;
    subproc_rlimit rl[CLI_MAX_RLIMITS];
    sigset_t oldmask;
    cli_relay_block(&oldmask);

    /* Everything that can be checked before the start is, so a bad --json path or limit never
     * runs the program. */
    if (o.json) {
        json = strcmp(o.json, "-") ? fopen(o.json, "we") : stdout;
        if (!json) {
            fail125("run", "--json %s: %s", o.json, strerror(errno));
            goto out;
        }
    }
    if (o.host) {
        /* -e/-u change the host's login environment, not this one (see host.c). */
        if (cli_remote_setup(&remote, o.host, o.ssh, o.envops, o.nenvops) < 0) {
            fail125("run", "--host %s: out of memory", o.host);
            goto out;
        }
    } else if (cli_build_env("run", o.ignore_env, o.envops, o.nenvops, &env)) {
        goto out;
    }
    if (cli_build_rlimits("run", &o, rl)) goto out;

    subproc_opts so = SUBPROC_OPTS_INIT;
    so.argv = (const char *const *)o.argv;
    so.env = env;
    so.cwd = o.chdir;
    for (int i = 0; i < 3; i++) {
        subproc_io *io = &so.stdio[i];
        switch (o.stream[i]) {
        case CLI_STREAM_INHERIT:
            break;
        case CLI_STREAM_NULL:
            io->kind = SUBPROC_IO_NULL;
            break;
        case CLI_STREAM_STDOUT:
            io->kind = SUBPROC_IO_STDOUT;
            break;
        case CLI_STREAM_FILE:
            io->kind = SUBPROC_IO_FILE;
            io->path = o.path[i];
            if (i > 0) io->flags = O_WRONLY | O_CREAT | (o.append ? O_APPEND : O_TRUNC);
            break;
        }
    }
    subproc_pty_opts po = SUBPROC_PTY_OPTS_INIT;
    if (o.pty) cli_pty_setup(&o, &so, &po);
    if (o.capture)
        for (int i = 1; i <= 2; i++)
            if (so.stdio[i].kind == SUBPROC_IO_INHERIT) so.stdio[i].kind = SUBPROC_IO_PIPE;
    /* The same file for both: one open file description, or each would overwrite the other. */
    if (o.stream[1] == CLI_STREAM_FILE && o.stream[2] == CLI_STREAM_FILE &&
        !strcmp(o.path[1], o.path[2]))
        so.stdio[2] = (subproc_io){.kind = SUBPROC_IO_STDOUT};
    /* The whole tree is contained when the host allows it: a deadline or a relayed signal then
     * reaches every descendant, and the child stays in our process group (Ctrl-C reaches it as
     * any foreground program). Without containment a deadline needs a group of its own. */
    so.contain = o.foreground ? 0 : cli_contain_mask(o.no_contain);
    so.leftovers = o.leftovers;
    if (o.new_session)
        so.flags |= SUBPROC_NEW_SESSION;
    else if (o.timeout_ms && !so.contain && !o.foreground)
        so.flags |= SUBPROC_NEW_PGROUP;
    if (o.set_umask) so.flags |= SUBPROC_SET_UMASK, so.umask = (mode_t)o.umask;
    if (o.set_nice) so.flags |= SUBPROC_SET_NICE, so.nice = o.nice;
    so.rlimits = rl;
    so.nrlimits = o.nrlimits;
    /* The child gets the mask subproc started with, not the relay signals blocked. */
    so.flags |= SUBPROC_SET_SIGMASK;
    so.sigmask = oldmask;
    if (o.host) {
        so.remote = &remote.rm;
        /* The host's clean-up (when subproc lets go) ends with KILL too, after -k. */
        if (o.kill_after_ms > 0)
            remote.rm.kill_grace_ms = o.kill_after_ms > 0x7fffffff ? 0x7fffffff
                                                                   : (int)o.kill_after_ms;
    }

    run_result res;
    memset(&res, 0, sizeof res);
    subproc_error e;
    long long t0 = now_ms();
    int r = subproc_spawn(&p, &so, &e);
    if (r < 0) {
        char es[700];
        subproc_error_str(&e, es, sizeof es);
        fprintf(stderr, "%s run: cannot start %s: %s\n", cli_progname, o.argv[0], es);
        rc = cli_spawn_exit_status(&e);
        if (json) {
            snprintf(msg, sizeof msg, "cannot start %s: %s", o.argv[0], es);
            write_json(json, &o, 0, &res, now_ms() - t0, msg);
        }
        goto out;
    }
    subproc_result cap;
    memset(&cap, 0, sizeof cap);
    res.containment = subproc_proc_containment(p);
    /* A child in a process group of its own gets the terminal, as a shell's foreground job
     * would (a password prompt under -t works); a contained child is in ours already, and a
     * --pty child has a terminal of its own. */
    pid_t fg = -1;
    int tty = o.new_session || o.pty ? -1 : cli_take_terminal(subproc_proc_pgid(p), &fg);
    r = o.pty       ? pty_run(p, &o, &cap, &res)
        : o.capture ? communicate(p, &o, &cap, &res)
                    : supervise(p, &o, &res);
    if (tty >= 0) tcsetpgrp(tty, fg);
    long long wall = now_ms() - t0;
    if (r < 0) {
        fprintf(stderr, "%s run: waiting for %s (pid %d): %s\n", cli_progname, o.argv[0],
                (int)subproc_proc_pid(p), subproc_strerror(r));
        rc = CLI_EXIT_FAILURE;
    } else {
        rc = res.timed_out && !o.preserve_status ? CLI_EXIT_TIMEOUT : subproc_status_code(&res.st);
    }
    if (json)
        write_json(json, &o, subproc_proc_pid(p), &res, wall, r < 0 ? subproc_strerror(r) : NULL);
    subproc_result_free(&cap);

out:
    if (json) {
        int bad = ferror(json) | (json == stdout ? fflush(json) : fclose(json));
        if (bad) {
            fprintf(stderr, "%s run: writing --json %s: %s\n", cli_progname, o.json,
                    strerror(errno));
            rc = CLI_EXIT_FAILURE;
        }
    }
    subproc_proc_free(p);
    subproc_env_free(env);
    cli_remote_free(&remote);
    cli_run_opts_free(&o);
    /* The relay signals stay blocked: one that came in as the program ended was meant for the
     * program, and exiting discards it, so subproc's status stays the program's. */
    return rc;
}
