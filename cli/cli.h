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

/* --leftovers: "leave", "kill" or "wait" to SUBPROC_LEFTOVERS_*; -1 otherwise. */
int cli_parse_leftovers(const char *s);
/* [USER@]HOST[:PORT], as ssh and GNU parallel's --sshlogin name a host; an IPv6 address bare
 * (no port) or in brackets: [USER@][ADDR][:PORT]. A HOST with a colon must be an IPv6 address
 * (inet_pton; a %zone after it is ssh's). USER and HOST must not be empty or start with '-',
 * and hold no blank; PORT is 1 to 65535 (0 in out->port when not given). Returns 0, or -1. */
typedef struct cli_host {
    char user[64];
    char host[256];
    int port;
} cli_host;
int cli_parse_host(const char *s, cli_host *out);

/* A byte count: decimal, with an optional k/K, M or G suffix (powers of 1024). */
int cli_parse_size(const char *s, size_t *out);

/* A terminal size ROWSxCOLS, each 1..65535 (e.g. "40x120"). */
int cli_parse_pty_size(const char *s, unsigned *rows, unsigned *cols);

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
    int no_contain;    /* --no-contain */
    int leftovers;     /* --leftovers: SUBPROC_LEFTOVERS_* */
    int help;
    char **argv; /* the command: points into the caller's argv, NULL-terminated */
    int argc;
    char ***stages; /* pipe: malloc'd; each a NULL-terminated argv inside argv */
    size_t nstages;
    int pty;                      /* run --pty */
    unsigned pty_rows, pty_cols;  /* --pty-size; 0: not given */
    const char *host; /* run --host=[USER@]HOST[:PORT] (checked with cli_parse_host) */
    const char *ssh;  /* run --ssh=COMMAND: ssh and its options, split at blanks */
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

/* ---- remote hosts (host.c) ---- */

/* A subproc_remote built from [USER@]HOST[:PORT], an ssh command line split at blanks (NULL:
 * ssh), and -e/-u operations (applied on the host in order, on top of its login environment). */
typedef struct cli_remote {
    subproc_remote rm; /* points into the fields below */
    cli_host host;
    char **ssh_argv;
    char *ssh_copy;
    const char **env;
} cli_remote;
/* Returns 0, or -1 for a bad host or out of memory. cli_remote_free() either way. */
int cli_remote_setup(cli_remote *r, const char *host, const char *ssh, const cli_envop *ops,
                     size_t nops);
void cli_remote_free(cli_remote *r);

/* ---- options of `par` (opts.c) ---- */

/* One input source of `par`: the words after ::: or the records of the file after ::::
 * ("-": standard input). linked: :::+ or ::::+, taken in step with the source before. */
typedef struct cli_par_source {
    char **words; /* ::: words (inside the caller's argv), nwords of them; NULL for a file */
    int nwords;
    const char *file;
    int linked;
} cli_par_source;

enum { CLI_PAR_GROUP, CLI_PAR_LINE_BUFFER, CLI_PAR_UNGROUP };
enum { CLI_HALT_NEVER, CLI_HALT_SOON, CLI_HALT_NOW };
enum { CLI_HALT_FAIL, CLI_HALT_SUCCESS, CLI_HALT_DONE };

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
    int no_contain;          /* --no-contain: jobs' trees not held (see run) */
    int progress;            /* --progress: even when stderr is not a terminal */
    size_t max_output;       /* per job and stream; 0: unlimited */
    const char *json;
    int help;
    char **argv; /* the command template, NULL-terminated */
    int argc;
    char **inputs; /* unused (NULL): see sources */
    int ninputs;
    /* GNU parallel's vocabulary */
    int jobs_all;           /* -j 0: as many at once as there are jobs */
    int jobs_pct;           /* -j N%: N percent of the CPUs (0: not given) */
    int jobs_add, jobs_rel; /* -j +N / -j -N: the CPUs plus jobs_add (jobs_rel set) */
    long long delay_ms;     /* --delay: between two starts */
    int output;             /* CLI_PAR_GROUP, _LINE_BUFFER or _UNGROUP */
    int tag;                /* --tag */
    const char *joblog;     /* --joblog FILE */
    int resume, resume_failed;
    long retries;           /* --retries N: N tries in all (0 and 1: one) */
    const char *results;    /* --results DIR */
    int halt_when;          /* CLI_HALT_NEVER, _SOON, _NOW */
    int halt_why;           /* CLI_HALT_FAIL, _SUCCESS, _DONE */
    long halt_count;        /* fail=N; 0 with halt_pct */
    int halt_pct;           /* fail=P%; 0 with halt_count */
    int dry_run, verbose;
    char delim[64];         /* -d/-0: the input record separator (may hold NUL) */
    size_t delim_len;
    long max_args;          /* -n N: inputs per job (1) */
    cli_par_source *sources; /* malloc'd; in command-line order */
    size_t nsources;
    /* other hosts (par_host.c) */
    const char **sshlogins; /* -S values as given (comma-separated lists); malloc'd */
    size_t nsshlogins;
    char **slf;             /* --sshloginfile FILE: each file's entries as one -S list; malloc'd */
    size_t nslf;
    const char *ssh;        /* --ssh COMMAND (split at blanks); NULL: ssh */
    int no_master;          /* --no-controlmaster: a connection of its own per job */
    const char **transfers; /* --transferfile FILE (--transfer: "{}"); malloc'd */
    size_t ntransfers;
    const char **returns;   /* --return FILE; malloc'd */
    size_t nreturns;
    int cleanup;            /* --cleanup */
} cli_par_opts;

/* Parse `par`'s arguments (argv[0] is "par"), as cli_run_parse(). The template ends at the
 * first :::, :::+, :::: or ::::+ (which argv then holds as NULL); the sources follow. */
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
/* One captured stream as NAME (everything kept, or the head when bytes were dropped),
 * NAME_tail (the most recent bytes after the gap; "" when nothing was dropped),
 * NAME_omitted_bytes (how many bytes the gap stands for) and NAME_truncated. */
void cli_json_output(cli_json *j, const char *name, const char *data, size_t len,
                     size_t head_len, int truncated, unsigned long long total);
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

/* Relaying INT, TERM, HUP and QUIT to what subproc runs while the main thread is busy in a
 * library call: the signals are blocked in every thread and a relay thread takes them with
 * sigtimedwait(), then calls send(arg, sig, from_terminal) - which signals through the
 * library's handles (a contained tree, or a process group through a live member), never by a
 * bare id. from_terminal: the terminal sent it (si_code SI_KERNEL), so whatever is in subproc's
 * own process group has it already. */
typedef struct cli_relay cli_relay;
typedef void (*cli_relay_fn)(void *arg, int sig, int from_terminal);
/* Block the relayed signals; *oldmask gets the mask from before (for the children). */
void cli_relay_block(sigset_t *oldmask);
/* Start relaying. NULL when it cannot. */
cli_relay *cli_relay_start(cli_relay_fn send, void *arg);
/* Take the signals that are pending now, in the calling thread, and relay them. */
void cli_relay_pending(cli_relay_fn send, void *arg);
/* Stop the thread. */
void cli_relay_stop(cli_relay *r);
/* A cli_relay_fn for one child: its contained tree, else its process group, else the child. */
void cli_relay_to_proc(void *proc, int sig, int from_terminal);
/* sig to everything a deadline must end: the contained tree, else the process group (through
 * the child's handle, only while it is unreaped), else the child. */
void cli_signal_all(subproc_proc *p, int sig);

/* Hand the terminal (the first of fds 0-2 that is one) to process group pgid, as a shell does for
 * a foreground job, when subproc itself is in the terminal's foreground. Returns the terminal's
 * fd (*fg: the group to give it back to with tcsetpgrp), or -1. */
int cli_take_terminal(pid_t pgid, pid_t *fg);

/* The containment subproc asks for (subproc_opts.contain): every mechanism, unless --no-contain;
 * the environment variable SUBPROC_CONTAIN (cgroup, pidns, pgroup or none) forces one, for
 * tests and for hosts where the automatic choice is not wanted. */
unsigned cli_contain_mask(int no_contain);

/* run --pty (ptyrun.c). cli_pty_setup() puts every stream that --stdin/--stdout/--stderr left
 * alone on the new terminal and fills *po: --pty-size, and when subproc's stdin is a terminal
 * its modes and size. cli_pty_session() then relays subproc's stdin to the terminal and the
 * terminal to subproc's stdout (stdin a terminal: in raw mode, restored on every way out; the
 * size followed on SIGWINCH; else the terminal's EOF character when stdin ends), relays INT,
 * TERM, HUP and QUIT to the child's session, enforces -t/-s/-k, and fills cap (status,
 * timed_out, the terminal's output as stdout with --capture). 0 or a negative errno. */
void cli_pty_setup(const cli_run_opts *o, subproc_opts *so, subproc_pty_opts *po);
int cli_pty_session(subproc_proc *p, const cli_run_opts *o, subproc_result *cap);

extern const char *cli_progname; /* "subproc", for messages */

#endif
