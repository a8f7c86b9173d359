/* par.c - `subproc par`: one command per input, several at once, as GNU parallel runs them
 * (without a shell).
 *
 * The jobs are scheduled here on the public API: each is started by job_start() (the one place
 * that spawns, and job_signal() the one that signals), its pidfd and its output pipes sit in one
 * poll() set, and its output waits in memory or a spool file (par_out.c) until its turn.
 * Inputs and replacement strings are par_args.c's. */
#include "par.h"
#include "par_out.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>

#define PAR_MAX_STATUS 101 /* "more than 100 jobs failed", as GNU parallel has it */
#define BAR_WIDTH 30
#define DRAIN_MS 1000      /* after the reap, how long a grandchild may keep a pipe open */
#define JSON_HEAD 65536    /* --json keeps this much of each stream */
#define CUT_KEEP 96        /* the failure summary keeps this much of each end of an input */

void cli_par_usage(FILE *f)
{
    fputs("Usage: subproc par [OPTIONS] [--] PROGRAM [ARG]... [::: INPUT...] [:::: FILE...]\n"
          "Run PROGRAM once per input, several at once, as GNU parallel does (never through a\n"
          "shell). Inputs are the words after :::, the lines of each FILE after :::: (- for\n"
          "standard input), or else the lines of standard input. Several sources combine as\n"
          "all their combinations; :::+ and ::::+ take a source in step with the one before.\n"
          "Replacement strings in PROGRAM and the ARGs: {} the input, {.} without extension,\n"
          "{/} basename, {//} dirname, {/.} both, {#} job number, {%} job slot, {N} {N.} {N/}\n"
          "{N//} {N/.} for source N. Without any, the inputs are added as last arguments.\n"
          "\n"
          "  -j, --jobs=N               run at most N jobs at once (default: number of CPUs;\n"
          "                             0: as many as there are jobs; N%: of the CPUs; +N, -N)\n"
          "  -a, --arg-file=FILE        the lines of FILE as a source (before the others)\n"
          "  -n, --max-args=N           up to N inputs per job\n"
          "  -0, --null                 inputs end with NUL, not newline\n"
          "  -d, --delimiter=DELIM      inputs end with DELIM (\\n, \\t, \\0 understood)\n"
          "  -k, --keep-order           print the jobs' output in input order (-k as in GNU\n"
          "                             parallel; in run and pipe, -k is --kill-after)\n"
          "      --group                print each job's output whole when it ends (default)\n"
          "      --line-buffer, --lb    print whole lines as they come\n"
          "      --ungroup              print output as it comes (lines of jobs may mix)\n"
          "      --tag                  start each line of output with the job's inputs and TAB\n"
          "      --results=DIR          write output to DIR/1/INPUT/stdout, stderr, seq instead\n"
          "      --joblog=FILE          a line per job: GNU parallel's joblog\n"
          "      --resume               skip the jobs the joblog lists\n"
          "      --resume-failed        run again the jobs the joblog lists as failed\n"
          "      --retries=N            try a failing job up to N times in all\n"
          "      --delay=DURATION       wait DURATION between starting two jobs\n"
          "      --halt=WHEN,WHY=N      stop when N (or N%) jobs failed/succeeded/are done:\n"
          "                             WHEN soon (start no more) or now (kill the running)\n"
          "      --halt-on-error        the same as --halt=soon,fail=1\n"
          "      --dry-run              print the command lines, run nothing\n"
          "      --verbose              print each command line on stderr as it starts\n"
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
          "  -S, --sshlogin=LIST        run the jobs on these hosts through ssh: comma-separated\n"
          "                             [N/][USER@]HOST[:PORT] (N jobs at once there; else -j),\n"
          "                             : for this machine, or an ssh command ending in the host\n"
          "                             (\"ssh -p 2222 h\"); repeatable\n"
          "      --sshloginfile=FILE, --slf=FILE  the same, an entry per line of FILE (lines\n"
          "                             that are empty or start with # are skipped)\n"
          "      --ssh=COMMAND          the ssh command and its options (split at blanks; ssh)\n"
          "      --transferfile=FILE, --tf=FILE  send FILE to the job's host before it starts\n"
          "      --transfer             the same as --transferfile={}\n"
          "      --return=FILE          fetch FILE from the job's host after it ended\n"
          "      --cleanup              then remove the files sent and fetched on the host\n"
          "      --trc=FILE             --transfer --return=FILE --cleanup\n"
          "      --no-controlmaster     a connection per job, not one per host (-M: one per host,\n"
          "                             the default)\n"
          "  -q, --quote, --will-cite   accepted for GNU parallel's command lines; no effect\n"
          "      --help                 show this help\n"
          "\n"
          "-u, -t, -s, -C, -e and -i mean what they mean for run and pipe, not what they mean\n"
          "to GNU parallel (see subproc(1)). Failed jobs are listed on standard error at the end.\n"
          "Exit status: 0 when every job succeeded; else the number of failed jobs (101 for more\n"
          "than 100); with --halt, GNU parallel's status; 125 when subproc itself failed.\n"
          "Example: subproc par -j4 -k gzip -k {} ::: *.log\n",
          f);
}

enum { J_PENDING, J_RUNNING, J_DONE, J_PRINTED };

typedef struct job {
    int state;
    int slot;   /* 0-based while running, and the last one it ran in */
    int tries;
    int started, reaped, timed_out, halted, skipped_resume;
    int spawn_rc;
    int host;             /* index in par.hosts of where it runs or last ran; -1: nowhere */
    unsigned long long failed_on; /* bit k: it failed on host k (k < 64), for --retries */
    subproc_error *error; /* when spawn_rc < 0 */
    char *why;            /* a --return that failed, in words (the job counts as failed) */
    subproc_proc *p;
    subproc_status status;
    par_ostream os[2];
    long long start_ms, deadline, kill_at, drain_until;
    double start_real; /* seconds since the epoch */
    long long wall_usec;
    unsigned long long receive; /* stdout bytes, for the joblog */
} job;

typedef struct par {
    const cli_par_opts *o;
    par_inputs in;
    int has_rs;
    size_t njobs;
    job *jobs;
    size_t *slots; /* job index + 1 per slot, 0: free */
    unsigned nslots;          /* the jobs' slots, and one more for jobs no host is left for */
    size_t next;              /* next new job */
    size_t *retry;            /* jobs to try again, oldest first (each is in it at most once) */
    size_t nretry;
    par_host *hosts;          /* where jobs run (par_host.c): this machine alone without -S */
    size_t nhosts;
    size_t *slot_host;        /* slot -> its host */
    int remote;               /* some host is another machine */
    size_t head;              /* -k: first job not printed */
    unsigned running;
    int stop_starting, halting_now;
    int halt_status;          /* -1: not halted */
    size_t failed, completed, total_failed;
    long long next_start_ms;  /* --delay */
    subproc_env *env;
    subproc_rlimit child_nofile;
    int restore_nofile;
    unsigned char *already_run; /* --resume: by seq */
    size_t nalready;
    FILE *joblog;
    par_str *args; /* scratch: the inputs of one job */
    int bar;
    int write_err; /* the first error writing the jobs' output (errno), 0: none */
    int sigfd;     /* signalfd for INT/TERM/HUP/QUIT, relayed to every running job's tree */
    sigset_t oldmask; /* the mask par started with: the jobs get it */
    int relayed;   /* the last signal relayed: par exits 128+N once the jobs are gone */
    struct spawners *spawners; /* remote starts (job_prepare()); NULL until the first */
    int wake[2];   /* a host's connection is up or failed (par_hosts_connect) */
} par;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The inputs of job j, one record after the other, into p->args; returns how many. */
static size_t job_args(par *p, size_t j)
{
    size_t n = (size_t)p->o->max_args, first = j * n, k = 0;
    for (size_t r = first; r < first + n && r < p->in.nrec; r++, k += p->in.nsrc)
        par_inputs_record(&p->in, r, p->args + k);
    return k;
}

/* The inputs joined by spaces, as GNU parallel's --tag shows them. */
static int job_input_str(par *p, size_t j, par_buf *b)
{
    size_t n = job_args(p, j);
    int r = par_buf_add(b, "", 0);
    for (size_t k = 0; k < n && !r; k++) {
        if (k) r |= par_buf_add(b, " ", 1);
        r |= par_buf_add(b, p->args[k].s, p->args[k].len);
    }
    return r;
}

static char **job_argv(par *p, size_t j, size_t **lens)
{
    size_t n = job_args(p, j);
    return par_build_argv(p->o->argv, p->o->argc, p->has_rs, p->args, n, j + 1,
                          (size_t)p->jobs[j].slot + 1, lens);
}

static int job_failed(const job *jb)
{
    return !jb->started || jb->timed_out || !jb->status.exited || jb->status.code != 0 || jb->why;
}

/* ---- output ---- */

static void bar_clear(par *p)
{
    if (p->bar) fprintf(stderr, "\r%*s\r", BAR_WIDTH + 40, "");
}

static void bar_draw(par *p)
{
    if (!p->bar) return;
    size_t ndone = p->completed;
    int filled = p->njobs ? (int)(ndone * BAR_WIDTH / p->njobs) : BAR_WIDTH;
    if (filled > BAR_WIDTH) filled = BAR_WIDTH;
    char line[BAR_WIDTH + 1];
    memset(line, '#', (size_t)filled);
    memset(line + filled, '.', (size_t)(BAR_WIDTH - filled));
    line[BAR_WIDTH] = '\0';
    fprintf(stderr, "\r[%s] %zu/%zu done", line, ndone, p->njobs);
    if (p->failed) fprintf(stderr, ", %zu failed", p->failed);
    fflush(stderr);
}

/* Print what job j holds; all of it, or only whole lines when it still runs (--line-buffer). */
static void job_print(par *p, size_t j, int whole)
{
    job *jb = &p->jobs[j];
    par_buf tag = {0};
    if (p->o->tag && (job_input_str(p, j, &tag) || par_buf_add(&tag, "\t", 1))) {
        par_buf_free(&tag);
        return;
    }
    for (int k = 0; k < 2; k++) {
        par_ostream *os = &jb->os[k];
        size_t keep = whole ? 0 : par_ostream_partial(os);
        int r = par_ostream_flush(os, k + 1, keep, tag.s, tag.len);
        if (r < 0 && !p->write_err) p->write_err = -r;
    }
    par_buf_free(&tag);
}

/* A job may print as its output comes (--line-buffer): without -k any job, with -k the first
 * one not printed yet. */
static int job_live(par *p, size_t j)
{
    return p->o->output == CLI_PAR_LINE_BUFFER && (!p->o->keep_order || j == p->head);
}

static void read_stream(par *p, size_t j, int k)
{
    job *jb = &p->jobs[j];
    par_ostream *os = &jb->os[k];
    char buf[65536];
    for (int rounds = 0; os->fd >= 0 && rounds < 16; rounds++) {
        size_t max = p->o->max_output;
        int keep_bytes = !max || os->total < max;
        /* Straight into the spool file when nothing needs to see the bytes. */
        if (keep_bytes && os->spool >= 0 && !job_live(p, j) && !max) {
            ssize_t n = par_ostream_splice_in(os, os->fd, 1 << 20);
            if (n > 0) {
                os->total += (unsigned long long)n;
                continue;
            }
            if (n == -EAGAIN) return;
            if (n == 0) {
                close(os->fd);
                os->fd = -1;
                return;
            }
            /* else: splice cannot do it here; read below */
        }
        ssize_t n = read(os->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0) {
            close(os->fd);
            os->fd = -1;
            return;
        }
        size_t len = (size_t)n;
        if (max) {
            /* As run keeps a capture: the first half of the limit as the head, passed on as it
             * comes; past it, the most recent bytes in a ring, passed on when the job ends. */
            size_t head_cap = max / 2;
            size_t h = os->total >= head_cap ? 0 : (size_t)(head_cap - os->total);
            if (len > h) {
                if (par_ostream_tail_add(os, max - head_cap, buf + h, len - h) < 0 &&
                    !p->write_err)
                    p->write_err = ENOMEM;
                len = h;
            }
        }
        os->total += (unsigned long long)n;
        if (p->o->json && os->head.len < JSON_HEAD && len) {
            size_t h = JSON_HEAD - os->head.len;
            par_buf_add(&os->head, buf, len < h ? len : h);
        }
        if (!len) continue;
        if (job_live(p, j)) {
            const char *nl = memrchr(buf, '\n', len);
            if (nl) {
                par_buf tag = {0};
                if (p->o->tag) {
                    job_input_str(p, j, &tag);
                    par_buf_add(&tag, "\t", 1);
                }
                size_t upto = (size_t)(nl - buf) + 1;
                int r = par_ostream_flush(os, k + 1, 0, tag.s, tag.len);
                if (r == 0) r = par_ostream_write_direct(os, k + 1, buf, upto, tag.s, tag.len);
                if (r == 0) r = par_ostream_add(os, buf + upto, len - upto);
                if (r < 0 && !p->write_err) p->write_err = -r;
                par_buf_free(&tag);
                continue;
            }
        }
        int r = par_ostream_add(os, buf, len);
        if (r < 0 && !p->write_err) p->write_err = -r;
    }
}

/* ---- the joblog ---- */

/* --resume/--resume-failed: the jobs the joblog says need not run again. Then the joblog is
 * appended to when it had a header, and written new otherwise. */
static int joblog_open(par *p)
{
    const cli_par_opts *o = p->o;
    const char *path = o->joblog;
    int append = 0;
    if (path[0] == '+' && path[1]) { /* GNU parallel's +FILE: append, never a header */
        path++;
        append = 1;
    }
    if (o->resume || o->resume_failed) {
        FILE *f = fopen(path, "re");
        if (f) {
            char *line = NULL;
            size_t cap = 0;
            ssize_t len;
            if ((len = getline(&line, &cap, f)) > 0) append = 1; /* a header: go on after it */
            while ((len = getline(&line, &cap, f)) > 0) {
                char *e;
                unsigned long long seq = strtoull(line, &e, 10);
                if (e == line || *e != '\t' || seq == 0 || seq > p->njobs) continue;
                if (o->resume_failed) {
                    /* Seq Host Start Runtime Send Receive, then Exitval 0 and Signal 0 */
                    char *q = e;
                    int tabs = 0;
                    while (*q && tabs < 6)
                        if (*q++ == '\t') tabs++;
                    if (tabs < 6 || strncmp(q, "0\t0\t", 4) != 0) continue;
                }
                p->already_run[seq - 1] = 1;
            }
            free(line);
            fclose(f);
        }
    }
    if (o->dry_run) return 0; /* --resume still applies; nothing is logged */
    if (!strcmp(path, "-")) {
        p->joblog = stdout;
    } else {
        p->joblog = fopen(path, append ? "ae" : "we");
        if (!p->joblog) {
            fprintf(stderr, "%s par: --joblog %s: %s\n", cli_progname, path, strerror(errno));
            return CLI_EXIT_FAILURE;
        }
    }
    if (!append)
        fputs("Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n",
              p->joblog);
    fflush(p->joblog);
    return 0;
}

static void joblog_row(par *p, size_t j)
{
    job *jb = &p->jobs[j];
    size_t *lens;
    char **argv = job_argv(p, j, &lens);
    par_buf cmd = {0};
    if (!argv || par_command_line(&cmd, argv, lens) < 0) {
        free(argv);
        par_buf_free(&cmd);
        return;
    }
    int code = 0, sig = 0;
    if (!jb->started && jb->error)
        code = cli_spawn_exit_status(jb->error);
    else if (jb->status.exited)
        code = jb->status.code;
    else if (jb->status.signaled)
        sig = jb->status.signal;
    /* Host: as -S named it (":" for this machine), as GNU parallel writes it; "-" for a job
     * that found every host down and ran nowhere */
    fprintf(p->joblog, "%zu\t%s\t%.3f\t%10.3f\t0\t%llu\t%d\t%d\t%s\n", j + 1,
            jb->host >= 0 ? p->hosts[jb->host].name : "-", jb->start_real,
            (double)jb->wall_usec / 1e6, jb->receive, code, sig, cmd.s);
    fflush(p->joblog);
    free(argv);
    par_buf_free(&cmd);
}

/* ---- starting and stopping jobs ---- */

static void job_signal(job *jb, int sig);

/* INT, TERM, HUP or QUIT for par: start nothing more, pass it on to every running job's tree
 * (through their handles), and exit 128+N once they are gone, as run and pipe do. What the
 * terminal sent has reached the jobs in par's own process group already. */
static void relay_signals(par *p)
{
    struct signalfd_siginfo si;
    while (read(p->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        int sig = (int)si.ssi_signo;
        p->relayed = sig;
        p->stop_starting = 1;
        for (unsigned s = 0; s < p->nslots; s++) {
            if (!p->slots[s]) continue;
            job *jb = &p->jobs[p->slots[s] - 1];
            if (si.ssi_code != SI_KERNEL || !jb->p || subproc_proc_pgid(jb->p) > 0 ||
                subproc_proc_containment(jb->p) == SUBPROC_CONTAIN_PGROUP)
                job_signal(jb, sig);
        }
    }
}

/* The one place that signals a job: its contained tree, else its process group when it has one
 * (-t), else the child; always through the job's handle (relay.c). */
static void job_signal(job *jb, int sig)
{
    if (!jb->p || jb->reaped) return;
    cli_signal_all(jb->p, sig);
}

/* sig (and CONT, so a stopped job acts on it), then KILL after the grace period. */
static void job_kill(par *p, job *jb, int sig, long long now)
{
    if (jb->kill_at || jb->reaped) return;
    job_signal(jb, sig);
    if (sig != SIGKILL && sig != SIGCONT) job_signal(jb, SIGCONT);
    long long grace = p->o->kill_after_ms > 0 ? p->o->kill_after_ms : 2000;
    jb->kill_at = now + grace;
}

static int mkdirs(char *path)
{
    for (char *s = path + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        int r = mkdir(path, 0777);
        *s = '/';
        if (r < 0 && errno != EEXIST) return -errno;
    }
    if (mkdir(path, 0777) < 0 && errno != EEXIST) return -errno;
    return 0;
}

static void job_end(par *p, size_t j, long long now);

/* A --transferfile or --return name of job j, its replacement strings filled (malloc'd); NULL
 * when out of memory, or when an input holds a NUL byte (no file name can). */
static char *job_word(par *p, size_t j, const char *tmpl)
{
    size_t n = job_args(p, j), *lens;
    char *t = (char *)tmpl;
    char **w = par_build_argv(&t, 1, 1, p->args, n, j + 1, (size_t)p->jobs[j].slot + 1, &lens);
    char *r = w && strlen(w[0]) == lens[0] ? strdup(w[0]) : NULL;
    free(w);
    return r;
}

/* --return, then --cleanup: after job j ended on host h. A file that cannot be fetched makes
 * the job count as failed, with the reason in jb->why. */
static void job_fetch(par *p, size_t j, par_host *h)
{
    const cli_par_opts *o = p->o;
    job *jb = &p->jobs[j];
    size_t nfiles = 0;
    char **files = calloc(o->ntransfers + o->nreturns + 1, sizeof *files);
    if (!files) return;
    for (size_t i = 0; i < o->nreturns && jb->started; i++) {
        char *f = job_word(p, j, o->returns[i]);
        if (!f) continue;
        const char *remote = par_remote_path(f);
        char *local = par_local_path(f);
        subproc_error err;
        if (!local) {
            free(f);
            continue;
        }
        if (par_host_fetch(h, o->chdir, remote, local, &err) < 0) {
            char es[700], msg[800];
            if (err.step == SUBPROC_STEP_REMOTE) par_host_down(h, &err);
            /* a copy that ran and failed says why in err.path (its stderr) */
            snprintf(msg, sizeof msg, "--return %s: %s", f,
                     err.step == SUBPROC_STEP_OPEN && err.err == EIO
                         ? err.path
                         : subproc_error_str(&err, es, sizeof es));
            if (!jb->why) jb->why = strdup(msg);
        }
        if (o->cleanup) files[nfiles++] = strdup(remote);
        free(local);
        free(f);
    }
    for (size_t i = 0; i < o->ntransfers && o->cleanup; i++) {
        char *f = job_word(p, j, o->transfers[i]);
        if (f) files[nfiles++] = strdup(par_remote_path(f));
        free(f);
    }
    size_t k = 0;
    for (size_t i = 0; i < nfiles; i++)
        if (files[i]) files[k++] = files[i];
    if (!h->down) par_host_remove(h, o->chdir, files, k);
    for (size_t i = 0; i < k; i++) free(files[i]);
    free(files);
}

/* A job on its way to start: what job_prepare() made for it. The spawn itself may run in a
 * thread of its own: a remote spawn waits a round trip for the host to say that the program
 * started, so the jobs that start together wait for theirs at once. */
typedef struct start {
    size_t j;
    par_host *h; /* NULL: no host is left */
    int remote;
    subproc_opts so;
    char **argv;
    size_t *lens;
    par_buf dir, outp, errp;
    char **send; /* --transfer: the local names, NULL-terminated (NULL: none) */
    int rc;
    subproc_error err;
    subproc_proc *proc;
    int queued;
} start;

/* Threads that start remote jobs side by side, for as long as par runs: a child started with
 * a parent-death signal gets it when the thread that started it ends (PR_SET_PDEATHSIG follows
 * the thread, prctl(2)), so a thread of its own per start would kill the job on its way out. */
#define MAX_SPAWNERS 16
typedef struct spawners {
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    start *queue[MAX_SPAWNERS * 64];
    size_t nqueue, busy; /* queued, and being started */
    pthread_t thread[MAX_SPAWNERS];
    size_t nthreads;
    int quit;
} spawners;

/* The first of the three places that start a job (then start_spawn and job_started): it takes
 * the slot and prepares the spawn. */
static void job_prepare(par *p, size_t j, unsigned slot, long long now, start *st)
{
    const cli_par_opts *o = p->o;
    job *jb = &p->jobs[j];
    memset(st, 0, sizeof *st);
    st->j = j;
    jb->state = J_RUNNING;
    jb->slot = (int)slot;
    jb->tries++;
    /* The last slot is no host's: a job put there fails at once (every host is down). */
    jb->host = slot + 1 < p->nslots ? (int)p->slot_host[slot] : -1;
    par_host *h = st->h = jb->host >= 0 ? &p->hosts[jb->host] : NULL;
    int remote = st->remote = h && !h->local;
    free(jb->why);
    jb->why = NULL;
    jb->started = jb->reaped = jb->timed_out = jb->halted = 0;
    jb->kill_at = jb->drain_until = jb->deadline = 0;
    memset(&jb->status, 0, sizeof jb->status);
    for (int k = 0; k < 2; k++) {
        par_ostream_close(&jb->os[k]);
        par_ostream_init(&jb->os[k]);
    }
    p->slots[slot] = j + 1;
    p->running++;
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    jb->start_real = (double)rt.tv_sec + rt.tv_nsec / 1e9;
    jb->start_ms = now;

    char **argv = st->argv = job_argv(p, j, &st->lens);
    size_t *lens = st->lens;
    subproc_opts *so = &st->so;
    *so = (subproc_opts)SUBPROC_OPTS_INIT;
    par_buf *dir = &st->dir, *outp = &st->outp, *errp = &st->errp;
    int rc = argv ? 0 : -ENOMEM;
    if (rc == 0 && o->verbose) {
        par_buf cmd = {0};
        if (par_command_line(&cmd, argv, lens) == 0) fprintf(stderr, "%s\n", cmd.s);
        par_buf_free(&cmd);
    }
    so->argv = (const char *const *)argv;
    so->argv_lens = lens;
    so->env = remote ? NULL : p->env; /* -e/-u of a remote host are in its subproc_remote */
    so->remote = remote ? &h->r.rm : NULL;
    so->cwd = o->chdir;
    /* Jobs never read subproc's standard input (it may hold the inputs), as in GNU parallel. */
    so->stdio[0].kind = SUBPROC_IO_NULL;
    if (o->results && rc == 0) {
        size_t n = job_args(p, j);
        rc = par_results_dir(dir, o->results, p->args, n, p->in.nsrc);
        if (rc == 0) rc = mkdirs(dir->s);
        if (rc == 0) {
            par_buf seqp = {0};
            char num[32];
            int nl = snprintf(num, sizeof num, "%zu", j + 1);
            if (par_buf_add(&seqp, dir->s, dir->len) || par_buf_add(&seqp, "/seq", 4) ||
                par_buf_add(outp, dir->s, dir->len) || par_buf_add(outp, "/stdout", 7) ||
                par_buf_add(errp, dir->s, dir->len) || par_buf_add(errp, "/stderr", 7))
                rc = -ENOMEM;
            int fd = rc ? -1 : open(seqp.s, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
            if (fd < 0 && rc == 0) rc = -errno;
            if (fd >= 0) {
                if (write(fd, num, (size_t)nl) != nl) rc = -EIO;
                close(fd);
            }
            par_buf_free(&seqp);
        }
        so->stdio[1] = (subproc_io){.kind = SUBPROC_IO_FILE, .path = outp->s};
        so->stdio[2] = (subproc_io){.kind = SUBPROC_IO_FILE, .path = errp->s};
    } else if (o->output != CLI_PAR_UNGROUP) {
        so->stdio[1].kind = so->stdio[2].kind = SUBPROC_IO_PIPE;
    }
    if (p->restore_nofile && !remote) {
        so->rlimits = &p->child_nofile;
        so->nrlimits = 1;
    }
    /* Each job's whole tree is held (a cgroup where the host allows it), so a deadline or a
     * relayed signal reaches what it started; uncontained, a deadline signals the job's process
     * group, which must not be subproc's own. */
    so->contain = cli_contain_mask(o->no_contain);
    so->flags |= SUBPROC_SET_SIGMASK;
    so->sigmask = p->oldmask;
    if (o->timeout_ms > 0 && !so->contain) so->flags |= SUBPROC_NEW_PGROUP;
    /* Jobs must not outlive subproc (Ctrl-C, kill): nothing would reap them or print their
     * output. Linux only. */
    so->pdeathsig = SIGTERM;
    /* A failure before the spawn (--results directory, memory) reads as a setup step too. */
    st->err = (subproc_error){.step = SUBPROC_STEP_OPEN, .err = -rc, .fd = -1};
    if (rc < 0 && dir->s) snprintf(st->err.path, sizeof st->err.path, "%s", dir->s);
    if (rc == 0 && !h) {
        rc = -EHOSTUNREACH;
        st->err = (subproc_error){.step = SUBPROC_STEP_REMOTE, .err = EHOSTUNREACH, .fd = -1};
        snprintf(st->err.path, sizeof st->err.path, "every host in -S/--sshlogin failed");
    }
    if (rc == 0 && remote && o->ntransfers) {
        st->send = calloc(o->ntransfers + 1, sizeof *st->send); /* NULL-terminated */
        for (size_t i = 0; st->send && i < o->ntransfers; i++)
            if (!(st->send[i] = job_word(p, j, o->transfers[i]))) rc = -ENOMEM;
        if (!st->send) rc = -ENOMEM;
        if (rc < 0) st->err = (subproc_error){.step = SUBPROC_STEP_ALLOC, .err = ENOMEM, .fd = -1};
    }
    st->rc = rc;
}

/* The second: the files, then the spawn. Touches nothing of par's (it may run in a thread). */
static void *start_spawn(void *arg)
{
    start *st = arg;
    for (size_t i = 0; st->rc == 0 && st->send && st->send[i]; i++)
        st->rc = par_host_send(st->h, st->so.cwd, st->send[i], par_remote_path(st->send[i]),
                               &st->err);
    if (st->rc == 0) st->rc = subproc_spawn(&st->proc, &st->so, &st->err);
    return NULL;
}

/* The third: the job runs, or it ends here. */
static void job_started(par *p, start *st, long long now)
{
    job *jb = &p->jobs[st->j];
    int rc = st->rc;
    /* ssh could not reach or log in to the host: it gets no more jobs, and this one may be
     * tried again on another (--retries). */
    if (rc < 0 && st->remote && st->err.step == SUBPROC_STEP_REMOTE) par_host_down(st->h, &st->err);
    free(st->argv);
    par_buf_free(&st->dir);
    par_buf_free(&st->outp);
    par_buf_free(&st->errp);
    for (size_t i = 0; st->send && i < p->o->ntransfers; i++) free(st->send[i]);
    free(st->send);
    jb->spawn_rc = rc;
    jb->p = st->proc;
    if (rc < 0) {
        if (!jb->error) jb->error = malloc(sizeof *jb->error);
        if (jb->error) *jb->error = st->err;
        jb->p = NULL;
        jb->reaped = 1;
        job_end(p, st->j, now);
        return;
    }
    jb->started = 1;
    for (int k = 0; k < 2; k++) {
        int fd = subproc_proc_take_fd(jb->p, k + 1);
        if (fd >= 0) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        jb->os[k].fd = fd;
    }
    if (p->o->timeout_ms > 0) jb->deadline = now + p->o->timeout_ms;
    if (jb->kill_at) { /* --halt now came while it was starting */
        job_signal(jb, SIGTERM);
        job_signal(jb, SIGCONT);
    }
}

static void *spawner(void *arg)
{
    spawners *sp = arg;
    pthread_mutex_lock(&sp->lock);
    for (;;) {
        while (!sp->nqueue && !sp->quit) pthread_cond_wait(&sp->work, &sp->lock);
        if (!sp->nqueue) break;
        start *st = sp->queue[--sp->nqueue];
        sp->busy++;
        pthread_mutex_unlock(&sp->lock);
        start_spawn(st);
        pthread_mutex_lock(&sp->lock);
        if (--sp->busy == 0 && !sp->nqueue) pthread_cond_signal(&sp->done);
    }
    pthread_mutex_unlock(&sp->lock);
    return NULL;
}

/* Queue st for a spawner thread (one more is started while there are fewer than want);
 * 0, or -1 when none can take it (the caller starts it itself). */
static int spawners_add(par *p, start *st, size_t want)
{
    spawners *sp = p->spawners;
    if (!sp) {
        sp = p->spawners = calloc(1, sizeof *sp);
        if (!sp) return -1;
        pthread_mutex_init(&sp->lock, NULL);
        pthread_cond_init(&sp->work, NULL);
        pthread_cond_init(&sp->done, NULL);
    }
    if (want > MAX_SPAWNERS) want = MAX_SPAWNERS;
    while (sp->nthreads < want &&
           pthread_create(&sp->thread[sp->nthreads], NULL, spawner, sp) == 0)
        sp->nthreads++;
    if (!sp->nthreads) return -1;
    pthread_mutex_lock(&sp->lock);
    int full = sp->nqueue == sizeof sp->queue / sizeof sp->queue[0];
    if (!full) sp->queue[sp->nqueue++] = st;
    pthread_mutex_unlock(&sp->lock);
    if (full) return -1;
    pthread_cond_signal(&sp->work);
    return 0;
}

static void spawners_wait(spawners *sp)
{
    if (!sp) return;
    pthread_mutex_lock(&sp->lock);
    while (sp->nqueue || sp->busy) pthread_cond_wait(&sp->done, &sp->lock);
    pthread_mutex_unlock(&sp->lock);
}

/* At the end, when no job runs any more (their parent-death signal is moot). */
static void spawners_end(spawners *sp)
{
    if (!sp) return;
    pthread_mutex_lock(&sp->lock);
    sp->quit = 1;
    pthread_cond_broadcast(&sp->work);
    pthread_mutex_unlock(&sp->lock);
    for (size_t i = 0; i < sp->nthreads; i++) pthread_join(sp->thread[i], NULL);
    pthread_mutex_destroy(&sp->lock);
    pthread_cond_destroy(&sp->work);
    pthread_cond_destroy(&sp->done);
    free(sp);
}

/* Start the n prepared jobs: the remote ones side by side, in the spawner threads. */
static void start_all(par *p, start *sts, size_t n)
{
    size_t nremote = 0;
    for (size_t i = 0; i < n; i++) nremote += sts[i].remote && sts[i].rc == 0;
    for (size_t i = 0; i < n; i++) {
        start *st = &sts[i];
        st->queued = nremote > 1 && st->remote && st->rc == 0 && spawners_add(p, st, nremote) == 0;
    }
    for (size_t i = 0; i < n; i++)
        if (!sts[i].queued) start_spawn(&sts[i]);
    spawners_wait(p->spawners);
    long long now = now_ms();
    for (size_t i = 0; i < n; i++) job_started(p, &sts[i], now);
}

/* --halt: GNU parallel's rule, checked as each job ends. */
static void halt_check(par *p, job *jb, int failed, long long now)
{
    const cli_par_opts *o = p->o;
    if (o->halt_when == CLI_HALT_NEVER || p->halt_status >= 0) return;
    long long limit = -1;
    if (failed && o->halt_why == CLI_HALT_FAIL) limit = (long long)p->total_failed;
    if (!failed && o->halt_why == CLI_HALT_SUCCESS)
        limit = (long long)(p->completed - p->total_failed);
    if (o->halt_why == CLI_HALT_DONE) limit = (long long)p->completed;
    if (limit < 0) return;
    double count = o->halt_pct ? (double)p->njobs * o->halt_pct / 100.0 : (double)o->halt_count;
    if ((double)limit < count) return;
    if (o->halt_why == CLI_HALT_SUCCESS) {
        p->halt_status = 0;
    } else {
        if (o->halt_pct)
            p->halt_status = (int)((p->total_failed * 100 + p->njobs - 1) / p->njobs); /* ceil */
        else
            p->halt_status = p->total_failed > 101 ? 101 : (int)p->total_failed;
        if (count == 1.0) {
            if (!jb->started && jb->error)
                p->halt_status = cli_spawn_exit_status(jb->error);
            else
                p->halt_status = jb->status.exited ? jb->status.code
                                 : jb->status.signaled ? 128 + jb->status.signal
                                                       : 0;
        }
    }
    p->stop_starting = 1;
    if (o->halt_when == CLI_HALT_NOW) {
        p->halting_now = 1;
        for (unsigned s = 0; s < p->nslots; s++) {
            if (!p->slots[s]) continue;
            job *r = &p->jobs[p->slots[s] - 1];
            if (r == jb || r->reaped) continue;
            r->halted = 1;
            job_kill(p, r, SIGTERM, now);
        }
    }
}

/* A finished job's output and its joblog line, which GNU parallel writes together (so with -k
 * the joblog is in input order too). */
static void job_done_print(par *p, size_t j)
{
    job_print(p, j, 1);
    /* Not the jobs --halt now killed: GNU parallel leaves them out, so --resume runs them. */
    if (p->joblog && !p->jobs[j].skipped_resume && !p->jobs[j].halted) joblog_row(p, j);
    p->jobs[j].state = J_PRINTED;
}

/* Print what can be printed now that job j is done. */
static void advance_output(par *p, size_t j)
{
    if (!p->o->keep_order) {
        job_done_print(p, j);
        return;
    }
    while (p->head < p->njobs && p->jobs[p->head].state >= J_DONE) {
        if (p->jobs[p->head].state == J_DONE) job_done_print(p, p->head);
        p->jobs[p->head].state = J_PRINTED;
        p->head++;
    }
    /* the new first job may print what it has so far */
    if (p->head < p->njobs && p->jobs[p->head].state == J_RUNNING && job_live(p, p->head))
        job_print(p, p->head, 0);
}

/* Job j's child is reaped and its pipes are closed (or it never started). */
static void job_end(par *p, size_t j, long long now)
{
    job *jb = &p->jobs[j];
    par_host *h = jb->host >= 0 ? &p->hosts[jb->host] : NULL;
    if (h && !h->local && (p->o->nreturns || p->o->cleanup)) {
        job_fetch(p, j, h);
        now = now_ms(); /* the copies took their time */
    }
    jb->wall_usec = (now - jb->start_ms) * 1000;
    int failed = job_failed(jb);
    if (failed && jb->host >= 0 && jb->host < 64) jb->failed_on |= 1ull << jb->host;
    if (jb->p) subproc_proc_free(jb->p);
    jb->p = NULL;
    p->slots[jb->slot] = 0;
    p->running--;
    for (int k = 0; k < 2; k++)
        if (jb->os[k].fd >= 0) {
            close(jb->os[k].fd);
            jb->os[k].fd = -1;
        }
    if (failed && !jb->halted && !p->halting_now && jb->tries < p->o->retries) {
        /* Try again (GNU parallel's --retries): this try's output is dropped. */
        for (int k = 0; k < 2; k++) par_ostream_discard(&jb->os[k]);
        jb->state = J_PENDING;
        p->retry[p->nretry++] = j;
        return;
    }
    /* --max-output: the kept tail follows the head. */
    for (int k = 0; k < 2; k++) {
        par_ostream *os = &jb->os[k];
        if (!os->tail.len) continue;
        par_ostream_tail_order(os);
        int r = par_ostream_add(os, os->tail.s, os->tail.len);
        if (r < 0 && !p->write_err) p->write_err = -r;
    }
    if (p->o->results) {
        par_buf path = {0};
        size_t n = job_args(p, j);
        struct stat st;
        if (par_results_dir(&path, p->o->results, p->args, n, p->in.nsrc) == 0 &&
            par_buf_add(&path, "/stdout", 7) == 0 && stat(path.s, &st) == 0)
            jb->receive = (unsigned long long)st.st_size;
        par_buf_free(&path);
    } else {
        jb->receive = jb->os[0].total;
    }
    jb->state = J_DONE;
    if (!jb->halted) {
        p->completed++;
        if (failed) {
            p->failed++;
            p->total_failed++;
        }
    }
    bar_clear(p);
    advance_output(p, j);
    bar_draw(p);
    if (!jb->halted) halt_check(p, jb, failed, now);
}

/* Reap the child when it has ended. */
static void job_check_exit(par *p, size_t j, long long now)
{
    job *jb = &p->jobs[j];
    if (jb->reaped) return;
    int r = subproc_proc_try_wait(jb->p, &jb->status);
    if (r == -EAGAIN || r == -ETIMEDOUT) return;
    jb->reaped = 1;
    if (subproc_proc_remote_lost(jb->p)) {
        /* Its 255 is ssh's: the host or the way to it went away. The next job there finds out
         * whether it is back (a new connection), or takes the host out of use. */
        const char *name = p->hosts[jb->host].name;
        fprintf(stderr, "%s par: host %s: the connection was lost while job %zu ran\n",
                cli_progname, name, j + 1);
        char msg[400];
        snprintf(msg, sizeof msg, "the connection to host %s was lost", name);
        free(jb->why);
        jb->why = strdup(msg);
    }
    jb->drain_until = now + DRAIN_MS;
}

/* Whether job jb could go to a live host it has not failed on, other than host h. */
static int other_host(const par *p, const job *jb, size_t h)
{
    for (size_t k = 0; k < p->nhosts && k < 64; k++)
        if (k != h && !p->hosts[k].down && !(jb->failed_on & (1ull << k))) return 1;
    return 0;
}

/* The next job for a free slot on host h (p->nhosts: the slot of no host): a job to try again
 * first, unless it failed on h and another host could take it (GNU parallel's --retries tries
 * a failed job on another host when there is one); then the next new one. */
static int next_job(par *p, size_t h, size_t *out)
{
    for (size_t i = 0; i < p->nretry; i++) {
        const job *jb = &p->jobs[p->retry[i]];
        if (h < 64 && (jb->failed_on & (1ull << h)) && other_host(p, jb, h)) continue;
        *out = p->retry[i];
        memmove(p->retry + i, p->retry + i + 1, (p->nretry - i - 1) * sizeof *p->retry);
        p->nretry--;
        return 1;
    }
    while (p->next < p->njobs) {
        size_t j = p->next++;
        if (p->already_run && p->already_run[j]) {
            p->jobs[j].state = J_DONE;
            p->jobs[j].skipped_resume = 1;
            if (p->o->keep_order) advance_output(p, j);
            else p->jobs[j].state = J_PRINTED;
            continue;
        }
        *out = j;
        return 1;
    }
    return 0;
}

static int more_to_start(par *p)
{
    return p->nretry || p->next < p->njobs;
}

static void run_jobs(par *p)
{
    struct pollfd *pfd = calloc((size_t)p->nslots * 3 + 2, sizeof *pfd);
    size_t *who = calloc((size_t)p->nslots * 3 + 2, sizeof *who);
    start *batch = calloc(p->nslots, sizeof *batch);
    if (!pfd || !who || !batch) {
        free(pfd);
        free(who);
        free(batch);
        fprintf(stderr, "%s par: out of memory\n", cli_progname);
        p->stop_starting = 1;
        return;
    }
    int backoff = 1;
    for (;;) {
        long long now = now_ms();
        /* The last slot is for when every host is down: its jobs fail at once. */
        int alive = 0;
        for (size_t k = 0; k < p->nhosts; k++) {
            par_host_ready(&p->hosts[k]); /* a failed connection is reported here */
            alive |= !p->hosts[k].down;
        }
        unsigned first = alive ? 0 : p->nslots - 1, end = alive ? p->nslots - 1 : p->nslots;
        size_t nb = 0;
        for (unsigned s = first; s < end && !p->stop_starting && more_to_start(p); s++) {
            size_t h = s + 1 < p->nslots ? p->slot_host[s] : p->nhosts;
            if (p->slots[s] || (h < p->nhosts && !par_host_ready(&p->hosts[h]))) continue;
            if (p->o->delay_ms && now < p->next_start_ms) break;
            size_t j;
            if (!next_job(p, h, &j)) continue;
            job_prepare(p, j, s, now, &batch[nb++]);
            p->next_start_ms = now + p->o->delay_ms;
            if (p->o->delay_ms) break; /* one at a time */
        }
        if (nb) {
            unsigned before = p->running;
            start_all(p, batch, nb);
            /* Some could not start: their slots are free for the next jobs at once. */
            if (p->running < before && !p->stop_starting && more_to_start(p)) continue;
        }
        if (!p->running && (p->stop_starting || !more_to_start(p))) break;

        nfds_t n = 0;
        long long wake = -1;
        int polled = 0;
        for (unsigned s = 0; s < p->nslots; s++) {
            if (!p->slots[s]) continue;
            size_t j = p->slots[s] - 1;
            job *jb = &p->jobs[j];
            if (!jb->reaped) {
                int pidfd = subproc_proc_pidfd(jb->p);
                if (pidfd >= 0) {
                    pfd[n] = (struct pollfd){pidfd, POLLIN, 0};
                    who[n++] = j * 3;
                } else {
                    polled = 1;
                }
            }
            for (int k = 0; k < 2; k++)
                if (jb->os[k].fd >= 0) {
                    pfd[n] = (struct pollfd){jb->os[k].fd, POLLIN, 0};
                    who[n++] = j * 3 + 1 + (size_t)k;
                }
            long long t = !jb->reaped ? (jb->kill_at ? jb->kill_at : jb->deadline)
                                      : jb->drain_until;
            if (t && (wake < 0 || t < wake)) wake = t;
        }
        if (p->sigfd >= 0) {
            pfd[n] = (struct pollfd){p->sigfd, POLLIN, 0};
            who[n++] = (size_t)-1;
        }
        if (p->wake[0] >= 0) {
            pfd[n] = (struct pollfd){p->wake[0], POLLIN, 0};
            who[n++] = (size_t)-2;
        }
        if (p->o->delay_ms && !p->stop_starting && more_to_start(p) &&
            (wake < 0 || p->next_start_ms < wake))
            wake = p->next_start_ms;
        int ms = wake < 0 ? -1 : wake <= now ? 0 : (int)(wake - now > 1000000 ? 1000000 : wake - now);
        if (polled && (ms < 0 || ms > backoff)) ms = backoff;
        int r = poll(pfd, n, ms);
        now = now_ms();
        for (nfds_t i = 0; r > 0 && i < n; i++) {
            if (!pfd[i].revents) continue;
            if (who[i] == (size_t)-1) {
                relay_signals(p);
                continue;
            }
            if (who[i] == (size_t)-2) { /* the next round looks at the hosts */
                char b[64];
                while (read(p->wake[0], b, sizeof b) > 0) {
                }
                continue;
            }
            size_t j = who[i] / 3;
            int kind = (int)(who[i] % 3);
            if (p->jobs[j].state != J_RUNNING) continue;
            if (kind == 0)
                job_check_exit(p, j, now);
            else
                read_stream(p, j, kind - 1);
        }
        backoff = polled ? (backoff * 2 > 20 ? 20 : backoff * 2) : 1;
        for (unsigned s = 0; s < p->nslots; s++) {
            if (!p->slots[s]) continue;
            size_t j = p->slots[s] - 1;
            job *jb = &p->jobs[j];
            if (!jb->reaped && subproc_proc_pidfd(jb->p) < 0) job_check_exit(p, j, now);
            if (!jb->reaped && jb->deadline && now >= jb->deadline && !jb->kill_at) {
                jb->timed_out = 1;
                job_kill(p, jb, p->o->signal ? p->o->signal : SIGTERM, now);
            }
            if (!jb->reaped && jb->kill_at && now >= jb->kill_at) job_signal(jb, SIGKILL);
            if (jb->reaped && now >= jb->drain_until)
                for (int k = 0; k < 2; k++)
                    if (jb->os[k].fd >= 0) {
                        read_stream(p, j, k);
                        if (jb->os[k].fd >= 0) close(jb->os[k].fd);
                        jb->os[k].fd = -1;
                    }
            if (jb->reaped && jb->os[0].fd < 0 && jb->os[1].fd < 0) {
                backoff = 1;
                job_end(p, j, now);
            }
        }
    }
    free(pfd);
    free(who);
    free(batch);
}

/* ---- the jobs' number at once ---- */

static unsigned jobs_at_once(par *p)
{
    const cli_par_opts *o = p->o;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1) cpus = 1;
    long long j;
    if (o->jobs_all)
        j = (long long)p->njobs;
    else if (o->jobs_pct)
        j = cpus * o->jobs_pct / 100;
    else if (o->jobs_rel)
        j = cpus + o->jobs_add;
    else
        j = o->jobs ? o->jobs : cpus;
    if (j > (long long)p->njobs) j = (long long)p->njobs;
    if (j < 1) j = 1;
    if (o->jobs_all) {
        /* Each job holds up to 5 fds here (two pipes, a pidfd, two spool files): raise the
         * soft limit as far as the hard one allows, and give the jobs the old one back. */
        struct rlimit rl;
        long long fit = j;
        const char *what = NULL;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
            rlim_t old = rl.rlim_cur;
            if (rl.rlim_cur < rl.rlim_max) {
                rlim_t want = rl.rlim_max;
                if (want == RLIM_INFINITY || want > 1 << 20) want = 1 << 20;
                struct rlimit nr = {want, rl.rlim_max};
                if (want > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &nr) == 0) {
                    p->child_nofile = (subproc_rlimit){RLIMIT_NOFILE, old, rl.rlim_max};
                    p->restore_nofile = 1;
                    rl.rlim_cur = want;
                }
            }
            long long byfd = ((long long)rl.rlim_cur - 32) / 5;
            if (byfd < fit) {
                fit = byfd;
                what = "open files (RLIMIT_NOFILE)";
            }
        }
        if (getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
            long long byproc = (long long)rl.rlim_cur - 32;
            if (byproc < fit) {
                fit = byproc;
                what = "processes (RLIMIT_NPROC)";
            }
        }
        if (fit < 1) fit = 1;
        if (fit < j) {
            fprintf(stderr, "%s par: -j 0: the limit on %s allows %lld jobs at once, not %lld\n",
                    cli_progname, what, fit, j);
            j = fit;
        }
    }
    return (unsigned)(j > 1000000 ? 1000000 : j);
}

/* ---- the end ---- */

static void job_words(const job *jb, char *buf, size_t len)
{
    if (!jb->started && jb->error) {
        char es[700];
        snprintf(buf, len, "cannot start: %s", subproc_error_str(jb->error, es, sizeof es));
    } else if (!jb->started) {
        snprintf(buf, len, "not started");
    } else {
        char st[64];
        snprintf(buf, len, "%s%s%s%s%s", subproc_status_str(&jb->status, st, sizeof st),
                 jb->timed_out ? " (timed out)" : "", jb->halted ? " (--halt now)" : "",
                 jb->why ? "; " : "", jb->why ? jb->why : "");
    }
}

/* An input for the summary: a long one keeps its start and its end. */
static void print_cut(par_buf *b)
{
    if (b->len <= 2 * CUT_KEEP + 64) {
        fwrite(b->s, 1, b->len, stderr);
        return;
    }
    fwrite(b->s, 1, CUT_KEEP, stderr);
    fprintf(stderr, "...[%zu bytes left out]...", b->len - 2 * CUT_KEEP);
    fwrite(b->s + b->len - CUT_KEEP, 1, CUT_KEEP, stderr);
}

static void write_json(FILE *f, par *p, size_t skipped)
{
    cli_json js;
    cli_json_begin(&js, f);
    cli_json_begin_array(&js, "jobs");
    for (size_t i = 0; i < p->njobs; i++) {
        job *jb = &p->jobs[i];
        const subproc_status *st = &jb->status;
        par_buf in = {0};
        job_input_str(p, i, &in);
        cli_json_begin_object(&js, NULL);
        cli_json_int(&js, "seq", (long long)i + 1);
        if (p->remote) cli_json_str(&js, "host", jb->host >= 0 ? p->hosts[jb->host].name : NULL);
        cli_json_strn(&js, "input", in.s ? in.s : "", in.len);
        par_buf_free(&in);
        size_t *lens;
        char **argv = job_argv(p, i, &lens);
        cli_json_begin_array(&js, "argv");
        for (size_t k = 0; argv && argv[k]; k++)
            cli_json_array_str(&js, argv[k]);
        cli_json_end_array(&js);
        free(argv);
        cli_json_bool(&js, "started", jb->started);
        cli_json_int(&js, "tries", jb->tries);
        if (jb->started && st->exited)
            cli_json_int(&js, "exit_code", st->code);
        else
            cli_json_null(&js, "exit_code");
        cli_json_str(&js, "signal",
                     jb->started && st->signaled ? subproc_signal_name(st->signal) : NULL);
        cli_json_bool(&js, "core_dumped", jb->started && st->core_dumped);
        cli_json_bool(&js, "timed_out", jb->timed_out);
        cli_json_int(&js, "wall_ms", jb->wall_usec / 1000);
        for (int k = 0; k < 2; k++) {
            /* head and tail apart, with what was left out between them, as run reports */
            const par_ostream *os = &jb->os[k];
            par_buf both = {0};
            par_buf_add(&both, os->head.s ? os->head.s : "", os->head.len);
            if (os->tail.len) par_buf_add(&both, os->tail.s, os->tail.len);
            size_t kept = os->head.len + os->tail.len;
            cli_json_output(&js, k ? "stderr" : "stdout", both.s ? both.s : "", both.len,
                            os->head.len, os->total > kept, os->total);
            par_buf_free(&both);
        }
        if (!jb->skipped_resume && jb->state >= J_DONE && job_failed(jb)) {
            char w[800];
            job_words(jb, w, sizeof w);
            cli_json_str(&js, "error", w);
        }
        cli_json_end_object(&js);
    }
    cli_json_end_array(&js);
    cli_json_int(&js, "failed", (long long)p->failed);
    cli_json_int(&js, "skipped", (long long)skipped);
    cli_json_end(&js);
}

static int dry_run(par *p)
{
    for (size_t j = 0; j < p->njobs; j++) {
        if (p->already_run && p->already_run[j]) continue;
        p->jobs[j].slot = (int)(j % (p->nslots - 1));
        size_t *lens;
        char **argv = job_argv(p, j, &lens);
        par_buf cmd = {0};
        if (!argv || par_command_line(&cmd, argv, lens) < 0 || par_buf_add(&cmd, "\n", 1) < 0) {
            free(argv);
            par_buf_free(&cmd);
            fprintf(stderr, "%s par: out of memory\n", cli_progname);
            return CLI_EXIT_FAILURE;
        }
        fwrite(cmd.s, 1, cmd.len, stdout);
        free(argv);
        par_buf_free(&cmd);
    }
    return fflush(stdout) == 0 ? 0 : CLI_EXIT_FAILURE;
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
    par p = {.o = &o, .halt_status = -1, .sigfd = -1, .wake = {-1, -1}};
    FILE *json = NULL;
    if (par_inputs_load(&p.in, &o, msg, sizeof msg) != 0) {
        fprintf(stderr, "%s par: %s\n", cli_progname, msg);
        goto out;
    }
    p.has_rs = par_template_has_rs(o.argv, o.argc);
    p.njobs = (p.in.nrec + (size_t)o.max_args - 1) / (size_t)o.max_args;
    p.jobs = calloc(p.njobs ? p.njobs : 1, sizeof *p.jobs);
    p.retry = calloc(p.njobs ? p.njobs : 1, sizeof *p.retry);
    p.args = calloc((size_t)o.max_args * p.in.nsrc, sizeof *p.args);
    if (!p.jobs || !p.retry || !p.args) goto nomem;
    for (size_t j = 0; j < p.njobs; j++) {
        p.jobs[j].host = -1;
        for (int k = 0; k < 2; k++) par_ostream_init(&p.jobs[j].os[k]);
    }
    if (o.resume || o.resume_failed) {
        p.already_run = calloc(p.njobs ? p.njobs : 1, 1);
        if (!p.already_run) goto nomem;
    }
    if (o.joblog && joblog_open(&p) != 0) goto out;
    if (o.json) {
        json = strcmp(o.json, "-") ? fopen(o.json, "we") : stdout;
        if (!json) {
            fprintf(stderr, "%s par: --json %s: %s\n", cli_progname, o.json, strerror(errno));
            goto out;
        }
    }
    if (par_hosts_parse(&o, &p.hosts, &p.nhosts, msg, sizeof msg) != 0) {
        fprintf(stderr, "%s par: %s\n", cli_progname, msg);
        goto out;
    }
    /* -j is per host, N/ in -S overrides it for one (GNU parallel's rule). */
    unsigned per_host = jobs_at_once(&p);
    size_t nslots = 1;
    for (size_t k = 0; k < p.nhosts; k++) {
        nslots += p.hosts[k].slots ? p.hosts[k].slots : per_host;
        p.remote |= !p.hosts[k].local;
    }
    if (nslots > 1000001) nslots = 1000001;
    p.nslots = (unsigned)nslots;
    p.slots = calloc(p.nslots, sizeof *p.slots);
    p.slot_host = calloc(p.nslots, sizeof *p.slot_host);
    if (!p.slots || !p.slot_host) goto nomem;
    /* Slots take turns between the hosts, so that the first jobs go to every host (with -j 0,
     * or fewer jobs than slots, the first host would take them all otherwise). */
    for (size_t s = 0, round = 0; s + 1 < nslots; round++)
        for (size_t k = 0; k < p.nhosts && s + 1 < nslots; k++)
            if (round < (p.hosts[k].slots ? p.hosts[k].slots : per_host)) p.slot_host[s++] = k;
    if (o.dry_run) {
        rc = dry_run(&p);
        goto out;
    }
    if (cli_build_env("par", o.ignore_env, o.envops, o.nenvops, &p.env)) goto out;
    p.bar = o.progress || isatty(2);

    /* INT/TERM/HUP/QUIT are relayed to the jobs' trees (relay_signals), not the end of par
     * while its jobs run on; the jobs start with the mask par started with. */
    sigset_t relay;
    sigemptyset(&relay);
    sigaddset(&relay, SIGINT);
    sigaddset(&relay, SIGTERM);
    sigaddset(&relay, SIGHUP);
    sigaddset(&relay, SIGQUIT);
    pthread_sigmask(SIG_BLOCK, &relay, &p.oldmask);
    p.sigfd = signalfd(-1, &relay, SFD_NONBLOCK | SFD_CLOEXEC);
    for (size_t k = 0; k < p.nhosts; k++) p.hosts[k].sigmask = p.oldmask;
    if (pipe2(p.wake, O_CLOEXEC | O_NONBLOCK) < 0) p.wake[0] = p.wake[1] = -1;
    par_hosts_connect(p.hosts, p.nhosts, p.wake[1]);
    bar_draw(&p);
    run_jobs(&p);
    spawners_end(p.spawners);
    p.spawners = NULL;
    if (p.bar) fputc('\n', stderr); /* the final bar stays */
    /* With -k, jobs never started (--halt) leave gaps the others waited behind. */
    size_t skipped = 0;
    for (size_t j = 0; j < p.njobs; j++) {
        if (p.jobs[j].state == J_PENDING) skipped++;
        if (p.jobs[j].state == J_DONE) job_done_print(&p, j);
    }
    size_t killed = 0;
    for (size_t j = 0; j < p.njobs; j++) killed += p.jobs[j].halted;
    if (p.failed || skipped || killed) {
        for (size_t j = 0; j < p.njobs; j++) {
            job *jb = &p.jobs[j];
            if (jb->state == J_PENDING || jb->skipped_resume || !job_failed(jb)) continue;
            char w[800];
            job_words(jb, w, sizeof w);
            par_buf in = {0};
            job_input_str(&p, j, &in);
            fprintf(stderr, "%s par: failed: ", cli_progname);
            print_cut(&in);
            fprintf(stderr, ": %s\n", w);
            par_buf_free(&in);
        }
        fprintf(stderr, "%s par: %zu of %zu jobs failed", cli_progname, p.failed, p.njobs);
        if (killed) fprintf(stderr, ", %zu killed (--halt now)", killed);
        if (skipped)
            fprintf(stderr, ", %zu not started (%s)", skipped,
                    p.relayed ? subproc_signal_name(p.relayed) : "--halt");
        fputc('\n', stderr);
    }
    if (json) write_json(json, &p, skipped);
    if (p.relayed)
        rc = 128 + p.relayed;
    else if (p.halt_status >= 0)
        rc = p.halt_status;
    else
        rc = p.failed > PAR_MAX_STATUS ? PAR_MAX_STATUS : (int)p.failed;
    if (p.write_err) {
        /* Output was lost (a full disk, no room for a spool file): say so, and fail. */
        fprintf(stderr, "%s par: writing or spooling the jobs' output: %s\n", cli_progname,
                strerror(p.write_err));
        rc = CLI_EXIT_FAILURE;
    }
    goto out;

nomem:
    fprintf(stderr, "%s par: out of memory\n", cli_progname);
out:
    if (p.sigfd >= 0) close(p.sigfd);
    if (json) {
        int bad = ferror(json) | (json == stdout ? fflush(json) : fclose(json));
        if (bad) {
            fprintf(stderr, "%s par: writing --json %s: %s\n", cli_progname, o.json,
                    strerror(errno));
            rc = CLI_EXIT_FAILURE;
        }
    }
    if (p.joblog && p.joblog != stdout) fclose(p.joblog);
    for (size_t j = 0; p.jobs && j < p.njobs; j++) {
        for (int k = 0; k < 2; k++) par_ostream_close(&p.jobs[j].os[k]);
        subproc_proc_free(p.jobs[j].p);
        free(p.jobs[j].error);
        free(p.jobs[j].why);
    }
    free(p.jobs);
    free(p.retry);
    free(p.args);
    free(p.slots);
    free(p.slot_host);
    /* Both ends stay while a connection may still be opened (par_hosts_free): its thread
     * writes the write end when it ends, also when exit() ends its ssh, and with the read end
     * closed that write would raise SIGPIPE and kill par with it. */
    if (par_hosts_free(p.hosts, p.nhosts)) {
        if (p.wake[0] >= 0) close(p.wake[0]);
        if (p.wake[1] >= 0) close(p.wake[1]);
    }
    free(p.already_run);
    subproc_env_free(p.env);
    par_inputs_free(&p.in);
    cli_par_opts_free(&o);
    return rc;
}
