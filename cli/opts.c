/* opts.c - the options of `subproc run` (and, later, `pipe`) into a cli_run_opts.
 * Parsing writes nothing and exits nowhere, so the fuzzer can drive it; main.c reports. */
#include "cli.h"

#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

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
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};
/* '+': stop at the first non-option, as env(1) and timeout(1) do, so `run ls -l` works.
 * ':': report a missing argument as ':' rather than '?'. */
static const char run_shortopts[] = "+:C:e:u:it:s:k:";

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
static void opt_name(int val, char *buf, size_t len)
{
    for (const struct option *lo = run_longopts; lo->name; lo++)
        if (lo->val == val) {
            if (val < 256)
                snprintf(buf, len, "-%c/--%s", val, lo->name);
            else
                snprintf(buf, len, "--%s", lo->name);
            return;
        }
    snprintf(buf, len, "-%c", val > 0 && val < 256 ? val : '?');
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
}

int cli_run_parse(cli_run_opts *o, int argc, char **argv, char *err, size_t errlen)
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
    while ((c = getopt_long(argc, argv, run_shortopts, run_longopts, NULL)) != -1) {
        const char *a = optarg;
        switch (c) {
        case 'C':
            if (!*a) return fail(err, errlen, "empty directory for -C/--chdir");
            o->chdir = a;
            break;
        case 'e': {
            size_t n;
            if (cli_parse_assignment(a, &n) < 0)
                return fail(err, errlen,
                            "invalid assignment '%s' for -e/--env (expected NAME=VALUE)", a);
            o->envops[o->nenvops++] = (cli_envop){a, 0};
            break;
        }
        case 'u':
            if (!cli_valid_env_name(a))
                return fail(err, errlen,
                            "invalid variable name '%s' for -u/--unset (must be non-empty, no '=')",
                            a);
            o->envops[o->nenvops++] = (cli_envop){a, 1};
            break;
        case 'i':
            o->ignore_env = 1;
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
            if ((o->signal = cli_parse_signal(a)) < 0)
                return fail(err, errlen,
                            "invalid signal '%s' for -s/--signal (expected a name like TERM or "
                            "SIGKILL, or a number)",
                            a);
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
        case OPT_JSON:
            if (!*a)
                return fail(err, errlen, "empty file name for --json (use - for standard output)");
            o->json = a;
            break;
        case OPT_HELP:
            o->help = 1;
            return 0;
        case ':':
            opt_name(optopt, name, sizeof name);
            return fail(err, errlen, "option %s requires an argument", name);
        default:
            /* glibc: optopt is the unknown short option, the value of a long option given a
             * value it does not take, or 0 for an unknown or ambiguous long option. 'i' is the
             * one known short option that takes no value, so it can only mean the long form. */
            if (optopt >= 256 || optopt == 'i')
                return fail(err, errlen, "option '%s' takes no value", argv[optind - 1]);
            if (optopt > 32 && optopt < 127)
                return fail(err, errlen, "unknown option '-%c'", optopt);
            return fail(err, errlen, "unknown or ambiguous option '%s'", argv[optind - 1]);
        }
    }
    if (o->append && o->stream[1] != CLI_STREAM_FILE && o->stream[2] != CLI_STREAM_FILE)
        return fail(err, errlen, "--append needs --stdout=FILE or --stderr=FILE");
    if (optind >= argc) return fail(err, errlen, "no program given");
    o->argv = argv + optind;
    o->argc = argc - optind;
    return 0;
}
