/* cli.h - shared between the files of the `subproc` command. Only the public header is used. */
#ifndef SUBPROC_CLI_H
#define SUBPROC_CLI_H

#include "subproc.h"

#include <stdio.h>

/* Exit statuses, as env(1) and timeout(1) use them. */
#define CLI_EXIT_TIMEOUT 124    /* the deadline passed */
#define CLI_EXIT_FAILURE 125    /* subproc itself failed: bad option, bad value, setup step */
#define CLI_EXIT_CANNOT_RUN 126 /* the program was found but could not be run */
#define CLI_EXIT_NOT_FOUND 127  /* the program was not found */

/* ---- value parsers (parse.c): pure functions, no output, fuzzed by fuzz/fuzz_cliargs.c ---- */

/* A duration: a non-negative decimal number, fractions allowed, with an optional suffix s, m, h
 * or d, as timeout(1) takes it. *out_ms is rounded up so that any non-zero duration stays
 * non-zero, and saturates at CLI_DURATION_MAX_MS. Returns 0, or -1 when malformed. */
#define CLI_DURATION_MAX_MS (1LL << 53)
int cli_parse_duration(const char *s, long long *out_ms);

/* A signal name (TERM, SIGTERM, term, RTMIN+1) or number, 1..NSIG-1. Returns the signal or -1. */
int cli_parse_signal(const char *s);

/* An octal mode 0..0777 (digits 0-7 only, at most 4 of them plus leading zeros). */
int cli_parse_umask(const char *s, unsigned *out);

/* A decimal int in [min, max], optional sign, nothing else. */
int cli_parse_int(const char *s, long min, long max, long *out);

/* NAME=SOFT[:HARD] with NAME as prlimit(1) spells it. SOFT alone sets both limits; "SOFT:" and
 * ":HARD" set one and leave the other as it is (has_soft/has_hard say which were given). A value
 * is a decimal number or "unlimited"/"infinity". */
typedef struct cli_rlimit {
    int resource;
    const char *name; /* canonical name, static */
    int has_soft, has_hard;
    rlim_t soft, hard;
} cli_rlimit;
int cli_parse_rlimit(const char *s, cli_rlimit *out);
/* The prlimit(1) name of a resource, or NULL. */
const char *cli_rlimit_name(int resource);

/* NAME=VALUE with a non-empty NAME: *name_len gets the length of NAME. */
int cli_parse_assignment(const char *s, size_t *name_len);
/* A variable name for --unset: non-empty, no '='. */
int cli_valid_env_name(const char *s);

/* ---- options of `run` (and later `pipe`) (opts.c) ---- */

/* Where a standard stream goes: inherit, /dev/null, a file, or (stderr) stdout. */
typedef enum cli_stream {
    CLI_STREAM_INHERIT,
    CLI_STREAM_NULL,
    CLI_STREAM_FILE,
    CLI_STREAM_STDOUT
} cli_stream;

/* One -e or -u, kept in command-line order so the last one for a name wins. */
typedef struct cli_envop {
    const char *arg; /* "NAME=VALUE" for -e, "NAME" for -u */
    int unset;
} cli_envop;

#define CLI_MAX_RLIMITS 16

typedef struct cli_run_opts {
    const char *chdir;
    int ignore_env;
    cli_envop *envops; /* malloc'd; cli_run_opts_free() */
    size_t nenvops;
    cli_stream stream[3];
    const char *path[3];
    int append;
    long long timeout_ms;    /* 0: none */
    int signal;              /* sent at the deadline */
    long long kill_after_ms; /* 0: never KILL */
    int set_umask;
    unsigned umask;
    int set_nice;
    int nice;
    cli_rlimit rlimits[CLI_MAX_RLIMITS];
    size_t nrlimits;
    int new_session;
    const char *json; /* NULL, "-" or a file */
    int help;
    char **argv; /* the command: points into the caller's argv, NULL-terminated */
    int argc;
} cli_run_opts;

/*
 * Parse `run`'s arguments (argv[0] is "run"). Stops at the first non-option, or after "--".
 * Returns 0 with *o filled (o->help set when --help was given), or CLI_EXIT_FAILURE with a
 * one-line message in err, naming the option and the bad value. Writes nothing anywhere.
 * Not thread-safe (getopt_long).
 */
int cli_run_parse(cli_run_opts *o, int argc, char **argv, char *err, size_t errlen);
void cli_run_opts_free(cli_run_opts *o);

/* ---- JSON writer (json.c) ---- */

typedef struct cli_json {
    FILE *f;
    int need_comma;
} cli_json;

void cli_json_begin(cli_json *j, FILE *f); /* "{" */
void cli_json_end(cli_json *j);            /* "}\n" */
void cli_json_key(cli_json *j, const char *key);
void cli_json_str(cli_json *j, const char *key, const char *val); /* NULL: null */
void cli_json_int(cli_json *j, const char *key, long long val);
void cli_json_bool(cli_json *j, const char *key, int val);
void cli_json_null(cli_json *j, const char *key);
/* A JSON string of s: invalid UTF-8 bytes become U+FFFD so the output is always valid JSON. */
void cli_json_write_string(FILE *f, const char *s);
void cli_json_begin_array(cli_json *j, const char *key);
void cli_json_array_str(cli_json *j, const char *val);
void cli_json_end_array(cli_json *j);

/* ---- commands ---- */

int cli_run_main(int argc, char **argv);
void cli_run_usage(FILE *f);

extern const char *cli_progname; /* "subproc", for messages */

#endif
