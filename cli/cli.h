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

/* A duration as timeout(1) takes it: a non-negative decimal number, fraction and exponent
 * allowed ("1.5", "2.34e+5"), or "inf"/"infinity", with an optional suffix s, m, h or d.
 * *out_ms is rounded up so that any non-zero duration stays non-zero (1e-5000 is 1 ms: it
 * expires at once), and saturates at CLI_DURATION_MAX_MS (about 285000 years: never). Returns
 * 0, or -1 when malformed (a sign, hex, nan, blanks, another suffix). */
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

/* A byte count: decimal, with an optional k/K, M or G suffix (powers of 1024). */
int cli_parse_size(const char *s, size_t *out);

/* Split words[0..n) into stages at each word that is exactly "|", which is replaced by NULL so
 * each stage is a NULL-terminated argv (words[n] must be NULL). stages needs room for n/2+1
 * entries. Returns 0, or -1 for an empty stage ("|" first, last, or twice in a row). */
int cli_split_stages(char **words, int n, char ***stages, size_t *nstages);

/* The argv of one `par` job: tmpl[0..n) with every "{}" replaced by input, or input appended
 * when no argument holds "{}". One malloc'd block (free() it), NULL-terminated; NULL when out of
 * memory. */
char **cli_par_expand(char *const *tmpl, int n, const char *input);

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
    const char *json;  /* NULL, "-" or a file */
    int capture;       /* --capture (or --max-output) */
    size_t max_output; /* 0: unlimited */
    int no_pipefail;   /* pipe */
    int help;
    char **argv; /* the command: points into the caller's argv, NULL-terminated */
    int argc;
    char ***stages; /* pipe: malloc'd; each a NULL-terminated argv inside argv */
    size_t nstages;
    int preserve_status; /* run: exit with the program's status even after the deadline */
    int foreground;      /* run: no process group of its own; signals go to the program only */
    int verbose;         /* run: report each signal sent at the deadline on stderr */
} cli_run_opts;

/*
 * Parse `run`'s arguments (argv[0] is "run"). Stops at the first non-option, or after "--".
 * As in env(1), NAME=VALUE operands before the program set variables (after the -e options);
 * "--", or a word whose NAME part holds a '/', ends them (that word is the program).
 * -s 0 (or EXIT) is accepted, as timeout(1) takes it: nothing is sent at the deadline.
 * Returns 0 with *o filled (o->help set when --help was given), or CLI_EXIT_FAILURE with a
 * one-line message in err, naming the option and the bad value. Writes nothing anywhere.
 * Not thread-safe (getopt_long).
 */
int cli_run_parse(cli_run_opts *o, int argc, char **argv, char *err, size_t errlen);
/* The same for `pipe` (argv[0] is "pipe"): also --no-pipefail, no --new-session, and the
 * command is split into o->stages at each "|" argument (which argv then holds as NULL). */
int cli_pipe_parse(cli_run_opts *o, int argc, char **argv, char *err, size_t errlen);
void cli_run_opts_free(cli_run_opts *o);

/* ---- options of `par` (opts.c) ---- */

typedef struct cli_par_opts {
    const char *chdir;
    int ignore_env;
    cli_envop *envops; /* malloc'd; cli_par_opts_free() */
    size_t nenvops;
    unsigned jobs; /* 0: the number of CPUs */
    int keep_order;
    int halt_on_error;
    long long timeout_ms;    /* per job; 0: none */
    int signal;              /* -s: sent at a job's deadline; 0: TERM */
    long long kill_after_ms; /* 0: the pool's default */
    int progress;            /* --progress: even when stderr is not a terminal */
    size_t max_output;       /* per job and stream; 0: unlimited */
    const char *json;
    int help;
    char **argv; /* the command template, NULL-terminated */
    int argc;
    char **inputs; /* after ":::", NULL-terminated; NULL: read lines from standard input */
    int ninputs;
} cli_par_opts;

/* Parse `par`'s arguments (argv[0] is "par"), as cli_run_parse(). */
int cli_par_parse(cli_par_opts *o, int argc, char **argv, char *err, size_t errlen);
void cli_par_opts_free(cli_par_opts *o);

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
/* The same for len bytes that may hold NULs (written as \u0000). */
void cli_json_write_stringn(FILE *f, const char *s, size_t len);
void cli_json_strn(cli_json *j, const char *key, const char *val, size_t len);
void cli_json_begin_object(cli_json *j, const char *key); /* key NULL inside an array */
void cli_json_end_object(cli_json *j);
void cli_json_array_int(cli_json *j, long long val);
void cli_json_begin_array(cli_json *j, const char *key);
void cli_json_array_str(cli_json *j, const char *val);
void cli_json_end_array(cli_json *j);

/* ---- commands ---- */

int cli_run_main(int argc, char **argv);
void cli_run_usage(FILE *f);
int cli_pipe_main(int argc, char **argv);
void cli_pipe_usage(FILE *f);
int cli_par_main(int argc, char **argv);
void cli_par_usage(FILE *f);

/* ---- shared by the commands (run.c, relay.c) ---- */

/* The environment -i/-e/-u describe, or *out = NULL for the parent's as it is. Prints the
 * error and returns CLI_EXIT_FAILURE on failure, else 0. `cmd` names the command in messages. */
int cli_build_env(const char *cmd, int ignore_env, const cli_envop *ops, size_t nops,
                  subproc_env **out);
/* --rlimit values for subproc_opts (rl has room for CLI_MAX_RLIMITS); 0 or CLI_EXIT_FAILURE. */
int cli_build_rlimits(const char *cmd, const cli_run_opts *o, subproc_rlimit *rl);
/* stdout, stderr and their truncation flags for --capture (cap NULL: empty). */
void cli_json_capture(cli_json *j, const subproc_result *cap);
/* The copy of captured output to subproc's stdout/stderr (tee.c): an on_output callback. When
 * a copy fails with EPIPE, p (the writer) gets SIGPIPE, as it would writing there itself.
 * cli_tee_init() blocks SIGPIPE in the calling thread. */
typedef struct cli_tee {
    subproc_proc *p;
    int broken[2];
} cli_tee;
void cli_tee_init(cli_tee *t, subproc_proc *p);
int cli_tee_output(void *ud, int stream, const char *data, size_t len);
/* 127 not found, 126 found but not runnable, 125 for a failed setup step. */
int cli_spawn_exit_status(const subproc_error *e);

/* Relaying INT, TERM, HUP and QUIT to a child's process group while the main thread is busy in
 * a library call: the signals are blocked in every thread and a relay thread takes them with
 * sigtimedwait(). */
typedef struct cli_relay cli_relay;
/* Block the relayed signals; *oldmask gets the mask from before (for the children). */
void cli_relay_block(sigset_t *oldmask);
/* Start relaying to process group pgid, or when it is <= 0 to process pid (only what did not
 * come from the terminal, which reached it already). NULL when it cannot. */
cli_relay *cli_relay_start(pid_t pgid, pid_t pid);
/* Stop the thread (before the group's last member is reaped, ideally: see relay.c). */
void cli_relay_stop(cli_relay *r);

extern const char *cli_progname; /* "subproc", for messages */

#endif
