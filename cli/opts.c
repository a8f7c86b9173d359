/* opts.c - the options of `subproc run` and `pipe` into a cli_run_opts, and of `par` into a
 * cli_par_opts.
 * Parsing writes nothing and exits nowhere, so the fuzzer can drive it; main.c reports. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
    OPT_STDIN = 256,
    OPT_STDOUT,
    OPT_STDERR,
    OPT_APPEND,
    OPT_UMASK,
    OPT_RLIMIT,
    OPT_NICE,
    OPT_NEW_SESSION,
    OPT_JSON,
    OPT_HELP,
    OPT_CAPTURE,
    OPT_MAX_OUTPUT,
    OPT_NO_PIPEFAIL,
    OPT_HALT,
    OPT_PROGRESS,
    OPT_KILL_AFTER,
    OPT_NO_CONTAIN,
    OPT_LEFTOVERS,
    OPT_PTY,
    OPT_PTY_SIZE,
    OPT_HOST,
    OPT_SSH,
    OPT_DELAY,
    OPT_LINE_BUFFER,
    OPT_UNGROUP,
    OPT_GROUP,
    OPT_TAG,
    OPT_JOBLOG,
    OPT_RESUME,
    OPT_RESUME_FAILED,
    OPT_RETRIES,
    OPT_RESULTS,
    OPT_HALT_SPEC,
    OPT_DRY_RUN,
    OPT_VERBOSE,
    OPT_WILL_CITE,
    OPT_PRESERVE_STATUS,
    OPT_FOREGROUND,
    OPT_TRANSFER,
    OPT_TRANSFERFILE,
    OPT_RETURN,
    OPT_CLEANUP,
    OPT_TRC,
    OPT_CONTROLMASTER,
    OPT_NO_CONTROLMASTER,
    OPT_SSHLOGINFILE,
};

static const struct option run_longopts[] = {
    {"chdir", required_argument, NULL, 'C'},
    {"env", required_argument, NULL, 'e'},
    {"unset", required_argument, NULL, 'u'},
    {"ignore-environment", no_argument, NULL, 'i'},
    {"stdin", required_argument, NULL, OPT_STDIN},
    {"stdout", required_argument, NULL, OPT_STDOUT},
    {"stderr", required_argument, NULL, OPT_STDERR},
    {"append", no_argument, NULL, OPT_APPEND},
    {"timeout", required_argument, NULL, 't'},
    {"signal", required_argument, NULL, 's'},
    {"kill-after", required_argument, NULL, 'k'},
    {"umask", required_argument, NULL, OPT_UMASK},
    {"rlimit", required_argument, NULL, OPT_RLIMIT},
    {"nice", required_argument, NULL, OPT_NICE},
    {"new-session", no_argument, NULL, OPT_NEW_SESSION},
    {"json", required_argument, NULL, OPT_JSON},
    {"capture", no_argument, NULL, OPT_CAPTURE},
    {"max-output", required_argument, NULL, OPT_MAX_OUTPUT},
    {"no-pipefail", no_argument, NULL, OPT_NO_PIPEFAIL},
    {"no-contain", no_argument, NULL, OPT_NO_CONTAIN},
    {"leftovers", required_argument, NULL, OPT_LEFTOVERS},
    {"host", required_argument, NULL, OPT_HOST},
    {"ssh", required_argument, NULL, OPT_SSH},
    {"preserve-status", no_argument, NULL, OPT_PRESERVE_STATUS},
    {"foreground", no_argument, NULL, OPT_FOREGROUND},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, OPT_HELP},
    {"pty", no_argument, NULL, OPT_PTY},
    {"pty-size", required_argument, NULL, OPT_PTY_SIZE},
    {NULL, 0, NULL, 0},
};
/* '+': stop at the first non-option, as env(1) and timeout(1) do, so `run ls -l` works.
 * ':': report a missing argument as ':' rather than '?'. */
static const char run_shortopts[] = "+:C:e:u:it:s:k:v";

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (errlen) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return CLI_EXIT_FAILURE;
}

/* "-t/--timeout" or "--stdin", for messages. */
static void opt_name(const struct option *longopts, int val, char *buf, size_t len)
{
    for (const struct option *lo = longopts; lo->name; lo++)
        if (lo->val == val) {
            if (val < 256)
                snprintf(buf, len, "-%c/--%s", val, lo->name);
            else
                snprintf(buf, len, "--%s", lo->name);
            return;
        }
    snprintf(buf, len, "-%c", val > 0 && val < 256 ? val : '?');
}

/* The options run, pipe and par share: -C, -e, -u, -i and --json. Returns 0, or
 * CLI_EXIT_FAILURE with err set. */
/* -s/--signal of run, pipe and par. */
static int signal_opt(const char *a, int *sig, char *err, size_t errlen)
{
    if ((*sig = cli_parse_signal(a)) >= 0) return 0;
    fail(err, errlen, "invalid signal '%s' for -s/--signal (expected a name like TERM or SIGKILL, "
                      "or a number)", a);
    return -1;
}

static int common_opt(int c, const char *a, const char **chdir, cli_envop *envops, size_t *nenvops,
                      int *ignore_env, const char **json, char *err, size_t errlen)
{
    size_t n;
    switch (c) {
    case 'C':
        if (!*a) return fail(err, errlen, "empty directory for -C/--chdir");
        *chdir = a;
        return 0;
    case 'e':
        if (cli_parse_assignment(a, &n) < 0)
            return fail(err, errlen, "invalid assignment '%s' for -e/--env (expected NAME=VALUE)",
                        a);
        envops[(*nenvops)++] = (cli_envop){a, 0};
        return 0;
    case 'u':
        if (!cli_valid_env_name(a))
            return fail(err, errlen,
                        "invalid variable name '%s' for -u/--unset (must be non-empty, no '=')", a);
        envops[(*nenvops)++] = (cli_envop){a, 1};
        return 0;
    case 'i':
        *ignore_env = 1;
        return 0;
    default: /* OPT_JSON */
        if (!*a) return fail(err, errlen, "empty file name for --json (use - for standard output)");
        *json = a;
        return 0;
    }
}

static int set_stream(cli_run_opts *o, int i, const char *arg)
{
    if (!*arg) return -1;
    o->path[i] = NULL;
    if (!strcmp(arg, "null")) {
        o->stream[i] = CLI_STREAM_NULL;
    } else if (i == 2 && !strcmp(arg, "stdout")) {
        o->stream[i] = CLI_STREAM_STDOUT;
    } else {
        o->stream[i] = CLI_STREAM_FILE;
        o->path[i] = arg;
    }
    return 0;
}

void cli_run_opts_free(cli_run_opts *o)
{
    free(o->envops);
    o->envops = NULL;
    o->nenvops = 0;
    free(o->stages);
    o->stages = NULL;
    o->nstages = 0;
}

/* Edit distance between a and the first blen bytes of b, capped at 3 (enough to tell a typo). */
static int near(const char *a, const char *b, size_t blen)
{
    size_t alen = strlen(a);
    if (alen > 40 || blen > 40) return 3;
    int d[41][41];
    for (size_t i = 0; i <= alen; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= blen; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= alen; i++)
        for (size_t j = 1; j <= blen; j++) {
            int v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < v) v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            d[i][j] = v;
        }
    return d[alen][blen] < 3 ? d[alen][blen] : 3;
}

/* " (did you mean --a, --b?)" for an unknown or ambiguous "--name[=value]": the options that
 * begin with name (what made it ambiguous), else those within two edits of it. */
static void candidates(const struct option *longopts, const char *opt, char *buf, size_t len)
{
    buf[0] = '\0';
    if (strncmp(opt, "--", 2) != 0 || !opt[2]) return;
    const char *name = opt + 2;
    size_t n = strcspn(name, "=");
    size_t used = 0;
    for (int pass = 0; pass < 2 && used == 0; pass++)
        for (const struct option *lo = longopts; lo->name; lo++) {
            int hit = pass == 0 ? strncmp(lo->name, name, n) == 0 : near(lo->name, name, n) <= 2;
            if (!hit || used + strlen(lo->name) + 24 > len) continue;
            used += (size_t)snprintf(buf + used, len - used, "%s--%s",
                                     used ? ", " : " (did you mean ", lo->name);
        }
    if (used) snprintf(buf + used, len - used, "?)");
}

/* The message for getopt's '?', worded for people. */
static int bad_option(int argc, char **argv, const struct option *longopts,
                      const char *noarg_shorts, char *err, size_t errlen)
{
    /* glibc: optopt is the unknown short option, the value of a long option given a value it
     * does not take, or 0 for an unknown or ambiguous long option. A known short option that
     * takes no value can only mean its long form was given one. */
    const char *opt = optind - 1 < argc ? argv[optind - 1] : "?";
    if (optopt >= 256 || (optopt > 0 && strchr(noarg_shorts, optopt)))
        return fail(err, errlen, "option '%s' takes no value", opt);
    if (optopt > 32 && optopt < 127) return fail(err, errlen, "unknown option '-%c'", optopt);
    char cand[512];
    candidates(longopts, opt, cand, sizeof cand);
    return fail(err, errlen, "unknown or ambiguous option '%s'%s", opt, cand);
}

static int cmd_parse(cli_run_opts *o, int is_pipe, int argc, char **argv, char *err, size_t errlen)
{
    static const char *const stream_opt[3] = {"--stdin", "--stdout", "--stderr"};
    memset(o, 0, sizeof *o);
    o->signal = SIGTERM;
    o->kill_after_ms = 2000;
    if (errlen) err[0] = '\0';
    if (argc < 1) return fail(err, errlen, "no arguments");
    o->envops = calloc((size_t)argc, sizeof *o->envops);
    if (!o->envops) return fail(err, errlen, "out of memory");

    optind = 0; /* glibc: 0 re-initialises getopt completely, so parsing can run again */
    opterr = 0; /* we word the messages ourselves */
    int c;
    char name[64];
    const char *last_arg = NULL; /* the value of the last option */
    while ((c = getopt_long(argc, argv, run_shortopts, run_longopts, NULL)) != -1) {
        const char *a = last_arg = optarg;
        switch (c) {
        case 'C':
        case 'e':
        case 'u':
        case 'i':
        case OPT_JSON:
            if (common_opt(c, a, &o->chdir, o->envops, &o->nenvops, &o->ignore_env, &o->json, err,
                           errlen) != 0)
                return CLI_EXIT_FAILURE;
            break;
        case OPT_STDIN:
        case OPT_STDOUT:
        case OPT_STDERR: {
            int i = c - OPT_STDIN;
            if (set_stream(o, i, a) < 0)
                return fail(err, errlen, "empty file name for %s", stream_opt[i]);
            break;
        }
        case OPT_APPEND:
            o->append = 1;
            break;
        case 't':
            if (cli_parse_duration(a, &o->timeout_ms) < 0)
                return fail(err, errlen,
                            "invalid duration '%s' for -t/--timeout (expected a number with an "
                            "optional s, m, h or d suffix, e.g. 1.5s)",
                            a);
            break;
        case 'k':
            if (cli_parse_duration(a, &o->kill_after_ms) < 0)
                return fail(err, errlen,
                            "invalid duration '%s' for -k/--kill-after (expected a number with an "
                            "optional s, m, h or d suffix, e.g. 1.5s)",
                            a);
            break;
        case 's':
            /* timeout(1) takes signal 0 (EXIT): nothing at the deadline, KILL after -k. */
            if (!is_pipe &&
                (!strcmp(a, "0") || !strcasecmp(a, "EXIT") || !strcasecmp(a, "SIGEXIT"))) {
                o->signal = 0;
                break;
            }
            if (signal_opt(a, &o->signal, err, errlen) < 0) return CLI_EXIT_FAILURE;
            break;
        case OPT_PRESERVE_STATUS:
        case OPT_FOREGROUND:
        case 'v':
            opt_name(run_longopts, c, name, sizeof name);
            if (is_pipe) return fail(err, errlen, "%s is an option of run only", name);
            if (c == 'v')
                o->verbose = 1;
            else if (c == OPT_FOREGROUND)
                o->foreground = 1;
            else
                o->preserve_status = 1;
            break;
        case OPT_UMASK:
            if (cli_parse_umask(a, &o->umask) < 0)
                return fail(err, errlen,
                            "invalid mode '%s' for --umask (expected octal, 0 to 0777)", a);
            o->set_umask = 1;
            break;
        case OPT_NICE: {
            long v;
            if (cli_parse_int(a, -20, 19, &v) < 0)
                return fail(err, errlen, "invalid niceness '%s' for --nice (expected -20 to 19)",
                            a);
            o->nice = (int)v;
            o->set_nice = 1;
            break;
        }
        case OPT_RLIMIT: {
            cli_rlimit rl;
            if (cli_parse_rlimit(a, &rl) < 0)
                return fail(err, errlen,
                            "invalid limit '%s' for --rlimit (expected NAME=SOFT[:HARD] with NAME "
                            "one of as, core, cpu, data, fsize, locks, memlock, msgqueue, nice, "
                            "nofile, nproc, rss, rtprio, rttime, sigpending, stack; values a "
                            "number or unlimited, SOFT <= HARD)",
                            a);
            size_t k = 0;
            while (k < o->nrlimits && o->rlimits[k].resource != rl.resource)
                k++;
            if (k == CLI_MAX_RLIMITS) return fail(err, errlen, "too many --rlimit options");
            o->rlimits[k] = rl; /* the last one for a resource wins */
            if (k == o->nrlimits) o->nrlimits++;
            break;
        }
        case OPT_NEW_SESSION:
            o->new_session = 1;
            break;
        case OPT_CAPTURE:
            o->capture = 1;
            break;
        case OPT_MAX_OUTPUT:
            if (cli_parse_size(a, &o->max_output) < 0 || o->max_output == 0)
                return fail(err, errlen,
                            "invalid size '%s' for --max-output (expected a positive number of "
                            "bytes with an optional K, M or G suffix)",
                            a);
            o->capture = 1; /* a bound on what is kept means keeping it */
            break;
        case OPT_NO_PIPEFAIL:
            if (!is_pipe) return fail(err, errlen, "--no-pipefail is an option of pipe only");
            o->no_pipefail = 1;
            break;
        case OPT_NO_CONTAIN:
            o->no_contain = 1;
            break;
        case OPT_LEFTOVERS:
            if ((o->leftovers = cli_parse_leftovers(a)) < 0)
                return fail(err, errlen,
                            "invalid value '%s' for --leftovers (expected leave, kill or wait)", a);
            break;
        case OPT_PTY:
        case OPT_PTY_SIZE:
            if (is_pipe) return fail(err, errlen, "--pty is an option of run only");
            o->pty = 1;
            if (c == OPT_PTY_SIZE && cli_parse_pty_size(a, &o->pty_rows, &o->pty_cols) < 0)
                return fail(err, errlen,
                            "invalid size '%s' for --pty-size (expected ROWSxCOLS, each 1 to "
                            "65535, e.g. 40x120)",
                            a);
            break;
        case OPT_HOST:
        case OPT_SSH: {
            const char *what = c == OPT_HOST ? "--host" : "--ssh";
            if (is_pipe) return fail(err, errlen, "%s is an option of run only", what);
            if (c == OPT_SSH) {
                if (!a[0] || !a[strspn(a, " \t")])
                    return fail(err, errlen, "empty command for --ssh");
                o->ssh = a;
            } else {
                cli_host h;
                if (cli_parse_host(a, &h) < 0)
                    return fail(err, errlen,
                                "invalid host '%s' for --host (expected [USER@]HOST[:PORT], "
                                "[USER@][ADDRESS]:PORT for IPv6)",
                                a);
                o->host = a;
            }
            break;
        }
        case OPT_HELP:
            o->help = 1;
            return 0;
        case ':':
            opt_name(run_longopts, optopt, name, sizeof name);
            return fail(err, errlen, "option %s requires an argument", name);
        default:
            return bad_option(argc, argv, run_longopts, "iv", err, errlen);
        }
    }
    /* A pipeline already is a process group of its own, led by a stage. */
    if (is_pipe && o->new_session)
        return fail(err, errlen, "--new-session is not available for pipe");
    if (o->append && o->stream[1] != CLI_STREAM_FILE && o->stream[2] != CLI_STREAM_FILE)
        return fail(err, errlen, "--append needs --stdout=FILE or --stderr=FILE");
    /* env(1)-style NAME=VALUE operands, unless "--" ended the options (and is not the value of
     * the last one, as in -C --). */
    int dashdash = optind > 1 && !strcmp(argv[optind - 1], "--") && last_arg != argv[optind - 1];
    for (size_t k; !is_pipe && !dashdash && optind < argc; optind++) {
        const char *w = argv[optind];
        if (cli_parse_assignment(w, &k) < 0 || memchr(w, '/', k)) break;
        o->envops[o->nenvops++] = (cli_envop){w, 0};
    }
    if (o->ssh && !o->host) return fail(err, errlen, "--ssh needs --host");
    if (o->host) {
        /* What describes this machine's side of the child has no meaning on another host. */
        const char *bad = o->ignore_env    ? "-i/--ignore-environment"
                          : o->nrlimits    ? "--rlimit"
                          : o->set_nice    ? "--nice"
                          : o->new_session ? "--new-session"
                                           : NULL;
        if (bad) return fail(err, errlen, "%s is not available with --host", bad);
    }
    if (optind >= argc) return fail(err, errlen, "no program given");
    o->argv = argv + optind;
    o->argc = argc - optind;
    if (is_pipe) {
        o->stages = calloc((size_t)o->argc / 2 + 1, sizeof *o->stages);
        if (!o->stages) return fail(err, errlen, "out of memory");
        if (cli_split_stages(o->argv, o->argc, o->stages, &o->nstages) < 0)
            return fail(err, errlen, "empty stage: '|' must separate two commands");
    }
    return 0;
}

int cli_run_parse(cli_run_opts *o, int argc, char **argv, char *err, size_t errlen)
{
    return cmd_parse(o, 0, argc, argv, err, errlen);
}

int cli_pipe_parse(cli_run_opts *o, int argc, char **argv, char *err, size_t errlen)
{
    return cmd_parse(o, 1, argc, argv, err, errlen);
}

/* ---- par ---- */

/* par keeps run's and pipe's letters (-C -e -u -i -t -s); GNU parallel's other options are
 * here under their GNU names, and its letters where they mean nothing else in subproc. */
static const struct option par_longopts[] = {
    {"jobs", required_argument, NULL, 'j'},
    {"keep-order", no_argument, NULL, 'k'},
    {"halt-on-error", no_argument, NULL, OPT_HALT},
    {"halt", required_argument, NULL, OPT_HALT_SPEC},
    {"timeout", required_argument, NULL, 't'},
    {"signal", required_argument, NULL, 's'},
    {"kill-after", required_argument, NULL, OPT_KILL_AFTER},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"max-output", required_argument, NULL, OPT_MAX_OUTPUT},
    {"chdir", required_argument, NULL, 'C'},
    {"env", required_argument, NULL, 'e'},
    {"unset", required_argument, NULL, 'u'},
    {"ignore-environment", no_argument, NULL, 'i'},
    {"json", required_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, OPT_HELP},
    {"delay", required_argument, NULL, OPT_DELAY},
    {"line-buffer", no_argument, NULL, OPT_LINE_BUFFER},
    {"lb", no_argument, NULL, OPT_LINE_BUFFER},
    {"ungroup", no_argument, NULL, OPT_UNGROUP},
    {"group", no_argument, NULL, OPT_GROUP},
    {"tag", no_argument, NULL, OPT_TAG},
    {"joblog", required_argument, NULL, OPT_JOBLOG},
    {"resume", no_argument, NULL, OPT_RESUME},
    {"resume-failed", no_argument, NULL, OPT_RESUME_FAILED},
    {"retries", required_argument, NULL, OPT_RETRIES},
    {"results", required_argument, NULL, OPT_RESULTS},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"null", no_argument, NULL, '0'},
    {"delimiter", required_argument, NULL, 'd'},
    {"max-args", required_argument, NULL, 'n'},
    {"arg-file", required_argument, NULL, 'a'},
    {"quote", no_argument, NULL, 'q'},
    {"will-cite", no_argument, NULL, OPT_WILL_CITE},
    {"no-contain", no_argument, NULL, OPT_NO_CONTAIN},
    {"sshlogin", required_argument, NULL, 'S'},
    {"ssh", required_argument, NULL, OPT_SSH},
    {"transfer", no_argument, NULL, OPT_TRANSFER},
    {"transferfile", required_argument, NULL, OPT_TRANSFERFILE},
    {"tf", required_argument, NULL, OPT_TRANSFERFILE},
    {"return", required_argument, NULL, OPT_RETURN},
    {"cleanup", no_argument, NULL, OPT_CLEANUP},
    {"trc", required_argument, NULL, OPT_TRC},
    {"controlmaster", no_argument, NULL, OPT_CONTROLMASTER},
    {"no-controlmaster", no_argument, NULL, OPT_NO_CONTROLMASTER},
    {"sshloginfile", required_argument, NULL, OPT_SSHLOGINFILE},
    {"slf", required_argument, NULL, OPT_SSHLOGINFILE},
    {NULL, 0, NULL, 0},
};
static const char par_shortopts[] = "+:j:kt:s:C:e:u:i0d:n:qa:S:M";

void cli_par_opts_free(cli_par_opts *o)
{
    free(o->envops);
    o->envops = NULL;
    o->nenvops = 0;
    free(o->sources);
    o->sources = NULL;
    o->nsources = 0;
    free(o->sshlogins);
    for (size_t i = 0; i < o->nslf; i++) free(o->slf[i]);
    free(o->slf);
    o->slf = NULL;
    o->nslf = 0;
    free(o->transfers);
    free(o->returns);
    o->sshlogins = o->transfers = o->returns = NULL;
    o->nsshlogins = o->ntransfers = o->nreturns = 0;
}

/* GNU parallel's --sshloginfile: a -S entry per line; empty lines and lines that start with #
 * are skipped. *list gets them as one comma-separated -S list (malloc'd), NULL when there are
 * none. Returns 0 or -errno. */
static int read_sshloginfile(const char *path, char **list)
{
    *list = NULL;
    FILE *f = fopen(path, "re");
    if (!f) return -errno;
    char *line = NULL, *out = NULL;
    size_t cap = 0, len = 0;
    ssize_t n;
    int r = 0;
    errno = 0;
    while (r == 0 && (n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && strchr(" \t\r\n", line[n - 1])) n--;
        size_t lead = strspn(line, " \t");
        if ((size_t)n <= lead || line[lead] == '#') continue;
        char *grown = realloc(out, len + (size_t)n - lead + 2);
        if (!grown) {
            r = -ENOMEM;
            break;
        }
        out = grown;
        if (len) out[len++] = ',';
        memcpy(out + len, line + lead, (size_t)n - lead);
        len += (size_t)n - lead;
        out[len] = '\0';
    }
    if (r == 0 && ferror(f)) r = errno ? -errno : -EIO; /* EISDIR for a directory */
    free(line);
    fclose(f);
    if (r < 0) {
        free(out);
        return r;
    }
    *list = out;
    return 0;
}

/* -d as GNU parallel reads it: \t \n \r, \NNN and \N (octal) become the byte; the rest is
 * taken as it is. Returns the length, or -1 when empty or too long. */
static int par_delimiter(const char *a, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *s = a; *s;) {
        int c = (unsigned char)*s;
        if (s[0] == '\\' && (s[1] == 't' || s[1] == 'n' || s[1] == 'r')) {
            c = s[1] == 't' ? '\t' : s[1] == 'n' ? '\n' : '\r';
            s += 2;
        } else if (s[0] == '\\' && s[1] >= '0' && s[1] <= '9') {
            int k = s[2] >= '0' && s[2] <= '9' && s[3] >= '0' && s[3] <= '9' ? 3 : 1;
            c = 0;
            for (int i = 1; i <= k; i++)
                c = c * 8 + (s[i] - '0');
            c &= 0xff;
            s += 1 + k;
        } else {
            s++;
        }
        if (n == cap) return -1;
        out[n++] = (char)c;
    }
    return n ? (int)n : -1;
}

/* --halt as GNU parallel takes it: 0, 1, 2, -1, -2, P%, or WHEN,WHY=N[%] with WHEN never, soon
 * or now and WHY fail, success or done. */
static int par_halt(cli_par_opts *o, const char *a)
{
    static const char *const short_forms[][2] = {{"0", "never"},
                                                 {"1", "soon,fail=1"},
                                                 {"2", "now,fail=1"},
                                                 {"-1", "soon,success=1"},
                                                 {"-2", "now,success=1"}};
    char buf[64];
    for (size_t i = 0; i < sizeof short_forms / sizeof short_forms[0]; i++)
        if (!strcmp(a, short_forms[i][0])) a = short_forms[i][1];
    size_t alen = strlen(a);
    if (alen >= sizeof buf - 16) return -1;
    if (alen > 1 && a[alen - 1] == '%' && strspn(a, "0123456789") == alen - 1) {
        snprintf(buf, sizeof buf, "soon,fail=%s", a);
        a = buf;
    }
    o->halt_count = o->halt_pct = 0;
    if (!strcmp(a, "never")) {
        o->halt_when = CLI_HALT_NEVER;
        return 0;
    }
    const char *comma = strchr(a, ','), *eq = comma ? strchr(comma, '=') : NULL;
    if (!comma || !eq) return -1;
    size_t wl = (size_t)(comma - a), yl = (size_t)(eq - comma - 1);
    if (wl == 4 && !strncmp(a, "soon", 4))
        o->halt_when = CLI_HALT_SOON;
    else if (wl == 3 && !strncmp(a, "now", 3))
        o->halt_when = CLI_HALT_NOW;
    else
        return -1;
    if (yl == 4 && !strncmp(comma + 1, "fail", 4))
        o->halt_why = CLI_HALT_FAIL;
    else if (yl == 7 && !strncmp(comma + 1, "success", 7))
        o->halt_why = CLI_HALT_SUCCESS;
    else if (yl == 4 && !strncmp(comma + 1, "done", 4))
        o->halt_why = CLI_HALT_DONE;
    else
        return -1;
    const char *v = eq + 1;
    size_t digits = strspn(v, "0123456789");
    if (!digits || digits > 9) return -1;
    long n = strtol(v, NULL, 10);
    if (v[digits] == '%' && !v[digits + 1]) {
        if (n > 100) return -1;
        o->halt_pct = (int)n;
        if (!n) o->halt_when = CLI_HALT_NEVER;
    } else if (!v[digits]) {
        o->halt_count = n;
        if (!n) o->halt_when = CLI_HALT_NEVER;
    } else {
        return -1;
    }
    return 0;
}

/* -j as GNU parallel takes it: N, 0 (as many as there are jobs), N% of the CPUs, +N or -N. */
static int par_jobs(cli_par_opts *o, const char *a)
{
    long v;
    size_t len = strlen(a);
    o->jobs = 0;
    o->jobs_all = o->jobs_pct = o->jobs_rel = o->jobs_add = 0;
    if (len > 1 && a[len - 1] == '%') {
        char num[24];
        if (len - 1 >= sizeof num) return -1;
        memcpy(num, a, len - 1);
        num[len - 1] = '\0';
        if (cli_parse_int(num, 1, 100000, &v) < 0 || num[0] == '+') return -1;
        o->jobs_pct = (int)v;
        return 0;
    }
    if (a[0] == '+' || a[0] == '-') {
        if (cli_parse_int(a, -100000, 100000, &v) < 0) return -1;
        o->jobs_rel = 1;
        o->jobs_add = (int)v;
        return 0;
    }
    if (cli_parse_int(a, 0, 100000, &v) < 0) return -1;
    if (v == 0)
        o->jobs_all = 1;
    else
        o->jobs = (unsigned)v;
    return 0;
}

static int is_source_sep(const char *w)
{
    return !strcmp(w, ":::") || !strcmp(w, ":::+") || !strcmp(w, "::::") || !strcmp(w, "::::+");
}

int cli_par_parse(cli_par_opts *o, int argc, char **argv, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    o->delim[0] = '\n';
    o->delim_len = 1;
    o->max_args = 1;
    if (errlen) err[0] = '\0';
    if (argc < 1) return fail(err, errlen, "no arguments");
    o->envops = calloc((size_t)argc, sizeof *o->envops);
    o->sources = calloc((size_t)argc, sizeof *o->sources);
    o->sshlogins = calloc((size_t)argc, sizeof *o->sshlogins);
    o->slf = calloc((size_t)argc, sizeof *o->slf);
    o->transfers = calloc((size_t)argc, sizeof *o->transfers);
    o->returns = calloc((size_t)argc, sizeof *o->returns);
    if (!o->envops || !o->sources || !o->sshlogins || !o->slf || !o->transfers || !o->returns)
        return fail(err, errlen, "out of memory");

    optind = 0;
    opterr = 0;
    int c;
    char name[64];
    while ((c = getopt_long(argc, argv, par_shortopts, par_longopts, NULL)) != -1) {
        const char *a = optarg;
        switch (c) {
        case 'j':
            if (par_jobs(o, a) < 0)
                return fail(err, errlen,
                            "invalid count '%s' for -j/--jobs (expected 0 to 100000, N%% of the "
                            "CPUs, or +N/-N more or fewer than the CPUs)",
                            a);
            break;
        case 'k':
            o->keep_order = 1;
            break;
        case OPT_HALT:
            o->halt_on_error = 1;
            o->halt_when = CLI_HALT_SOON;
            o->halt_why = CLI_HALT_FAIL;
            o->halt_count = 1;
            o->halt_pct = 0;
            break;
        case OPT_HALT_SPEC:
            if (par_halt(o, a) < 0)
                return fail(err, errlen,
                            "invalid value '%s' for --halt (expected WHEN,WHY=N or WHEN,WHY=N%% "
                            "with WHEN now or soon and WHY fail, success or done; or never, 0, 1, "
                            "2, -1, -2, P%%)",
                            a);
            o->halt_on_error = 0;
            break;
        case 't':
        case OPT_KILL_AFTER:
        case OPT_DELAY: {
            long long *ms = c == 't' ? &o->timeout_ms
                            : c == OPT_DELAY ? &o->delay_ms
                                             : &o->kill_after_ms;
            if (cli_parse_duration(a, ms) < 0)
                return fail(err, errlen,
                            "invalid duration '%s' for %s (expected a number with an optional s, "
                            "m, h or d suffix, e.g. 1.5s)",
                            a,
                            c == 't' ? "-t/--timeout" : c == OPT_DELAY ? "--delay" : "--kill-after");
            break;
        }
        case 's':
            if (signal_opt(a, &o->signal, err, errlen) < 0) return CLI_EXIT_FAILURE;
            break;
        case OPT_PROGRESS:
            o->progress = 1;
            break;
        case OPT_MAX_OUTPUT:
            if (cli_parse_size(a, &o->max_output) < 0 || o->max_output == 0)
                return fail(err, errlen,
                            "invalid size '%s' for --max-output (expected a positive number of "
                            "bytes with an optional K, M or G suffix)",
                            a);
            break;
        case 'C':
        case 'e':
        case 'u':
        case 'i':
        case OPT_JSON:
            if (common_opt(c, a, &o->chdir, o->envops, &o->nenvops, &o->ignore_env, &o->json, err,
                           errlen) != 0)
                return CLI_EXIT_FAILURE;
            break;
        case OPT_LINE_BUFFER:
            o->output = CLI_PAR_LINE_BUFFER;
            break;
        case OPT_UNGROUP:
            o->output = CLI_PAR_UNGROUP;
            break;
        case OPT_GROUP:
            o->output = CLI_PAR_GROUP;
            break;
        case OPT_TAG:
            o->tag = 1;
            break;
        case OPT_JOBLOG:
            if (!*a) return fail(err, errlen, "empty file name for --joblog");
            o->joblog = a;
            break;
        case OPT_RESUME:
            o->resume = 1;
            break;
        case OPT_RESUME_FAILED:
            o->resume_failed = 1;
            break;
        case OPT_RETRIES:
            if (cli_parse_int(a, 0, 1000000, &o->retries) < 0)
                return fail(err, errlen,
                            "invalid count '%s' for --retries (expected 0 to 1000000)", a);
            break;
        case OPT_RESULTS:
            if (!*a) return fail(err, errlen, "empty directory for --results");
            o->results = a;
            break;
        case OPT_DRY_RUN:
            o->dry_run = 1;
            break;
        case OPT_VERBOSE:
            o->verbose = 1;
            break;
        case '0':
            o->delim[0] = '\0';
            o->delim_len = 1;
            break;
        case 'd': {
            int n = par_delimiter(a, o->delim, sizeof o->delim);
            if (n < 0)
                return fail(err, errlen,
                            "invalid delimiter '%s' for -d/--delimiter (expected 1 to %zu bytes; "
                            "\\n, \\t, \\r and octal \\NNN are understood)",
                            a, sizeof o->delim);
            o->delim_len = (size_t)n;
            break;
        }
        case 'n':
            if (cli_parse_int(a, 1, 100000, &o->max_args) < 0)
                return fail(err, errlen, "invalid count '%s' for -n/--max-args (expected 1 to "
                                         "100000)", a);
            break;
        case 'a': /* an input source before those after the command, as in GNU parallel */
            if (!*a) return fail(err, errlen, "empty file name for -a/--arg-file");
            o->sources[o->nsources++] = (cli_par_source){.file = a};
            break;
        case 'q':          /* GNU parallel's --quote: subproc never uses a shell, so always */
        case OPT_WILL_CITE: /* GNU parallel's citation notice: subproc has none */
            break;
        case OPT_NO_CONTAIN:
            o->no_contain = 1;
            break;
        case 'S': /* checked word by word with the hosts (par_host.c) */
            if (!*a) return fail(err, errlen, "empty list for -S/--sshlogin");
            o->sshlogins[o->nsshlogins++] = a;
            break;
        case OPT_SSH:
            if (!a[strspn(a, " \t\n")]) return fail(err, errlen, "empty command for --ssh");
            o->ssh = a;
            break;
        case OPT_TRANSFER: /* GNU parallel: --transferfile {} */
            o->transfers[o->ntransfers++] = "{}";
            break;
        case OPT_TRANSFERFILE:
        case OPT_RETURN:
        case OPT_TRC:
            if (!*a)
                return fail(err, errlen, "empty file name for %s",
                            c == OPT_TRC ? "--trc" : c == OPT_RETURN ? "--return" : "--transferfile");
            if (c == OPT_TRANSFERFILE)
                o->transfers[o->ntransfers++] = a;
            else
                o->returns[o->nreturns++] = a;
            if (c == OPT_TRC) { /* --transfer --return FILE --cleanup */
                o->transfers[o->ntransfers++] = "{}";
                o->cleanup = 1;
            }
            break;
        case OPT_CLEANUP:
            o->cleanup = 1;
            break;
        case 'M': /* GNU parallel's --controlmaster: subproc's default */
        case OPT_CONTROLMASTER:
            o->no_master = 0;
            break;
        case OPT_NO_CONTROLMASTER:
            o->no_master = 1;
            break;
        case OPT_SSHLOGINFILE: {
            char *list = NULL;
            int r = read_sshloginfile(a, &list);
            if (r < 0) return fail(err, errlen, "--sshloginfile %s: %s", a, strerror(-r));
            if (!list) return fail(err, errlen, "no host in --sshloginfile %s", a);
            o->slf[o->nslf++] = list;
            o->sshlogins[o->nsshlogins++] = list;
            break;
        }
        case OPT_HELP:
            o->help = 1;
            return 0;
        case ':':
            opt_name(par_longopts, optopt, name, sizeof name);
            return fail(err, errlen, "option %s requires an argument", name);
        default:
            return bad_option(argc, argv, par_longopts, "ki0qM", err, errlen);
        }
    }
    if ((o->resume || o->resume_failed) && !o->joblog)
        return fail(err, errlen, "--resume and --resume-failed need --joblog");
    if (!o->nsshlogins) {
        const char *bad = o->ssh ? "--ssh"
                          : o->ntransfers ? "--transfer"
                          : o->nreturns ? "--return"
                          : o->cleanup ? "--cleanup"
                          : o->no_master ? "--no-controlmaster"
                                         : NULL;
        if (bad) return fail(err, errlen, "%s needs -S/--sshlogin", bad);
    }
    int end = optind;
    while (end < argc && !is_source_sep(argv[end]))
        end++;
    if (end == optind) return fail(err, errlen, "no program given");
    o->argv = argv + optind;
    o->argc = end - optind;
    for (int i = end; i < argc;) {
        const char *sep = argv[i++];
        int files = sep[3] == ':', linked = sep[files ? 4 : 3] == '+';
        int first = i;
        while (i < argc && !is_source_sep(argv[i]))
            i++;
        if (files) {
            if (i == first) return fail(err, errlen, "%s needs a file name (- for standard input)",
                                        sep);
            for (int k = first; k < i; k++)
                o->sources[o->nsources++] =
                    (cli_par_source){.file = argv[k], .linked = linked && k == first};
        } else {
            o->sources[o->nsources++] = (cli_par_source){
                .words = argv + first, .nwords = i - first, .linked = linked};
        }
    }
    if (o->nsources && o->sources[0].linked)
        return fail(err, errlen, "%s links a source to the one before it: it cannot come first",
                    argv[end]);
    argv[end] = NULL; /* ends the template; the sources keep their own counts */
    return 0;
}
