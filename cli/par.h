/* par.h - shared between the files of `subproc par` (par.c: scheduling, par_args.c: inputs and
 * replacement strings, par_out.c: buffering and spooling of the jobs' output). */
#ifndef SUBPROC_CLI_PAR_H
#define SUBPROC_CLI_PAR_H

#include "cli.h"

#include <signal.h>
#include <sys/types.h>
#include <stddef.h>

/* Bytes that may hold NULs: an input record, or a piece of one. */
typedef struct par_str {
    const char *s;
    size_t len;
} par_str;

/* A growable byte string; s is NUL-terminated when len > 0. */
typedef struct par_buf {
    char *s;
    size_t len, cap;
} par_buf;
int par_buf_add(par_buf *b, const char *s, size_t len); /* 0 or -ENOMEM */
void par_buf_free(par_buf *b);

/* ---- inputs (par_args.c) ---- */

typedef struct par_source {
    char *buf; /* the bytes the records point into */
    par_str *rec;
    size_t n;
} par_source;

typedef struct par_inputs {
    par_source *src;
    size_t nsrc;
    size_t *group_of; /* source -> its group (sources linked with :::+ share one) */
    size_t *glen;     /* per group: how many records it has (the shortest linked source) */
    size_t ngroups;
    size_t nrec; /* records in all: the product of glen */
    size_t *ix;  /* scratch for par_inputs_record() */
} par_inputs;

/* Read every source of o (standard input when there is none), split at o's delimiter.
 * Returns 0, or CLI_EXIT_FAILURE with a message in msg. */
int par_inputs_load(par_inputs *in, const cli_par_opts *o, char *msg, size_t msglen);
void par_inputs_free(par_inputs *in);
/* Record r (0-based, GNU parallel's order: the last source varies fastest), one value per
 * source, into out[0..nsrc). */
void par_inputs_record(const par_inputs *in, size_t r, par_str *out);

/* Whether the template holds any replacement string (if not, the inputs are appended). */
int par_template_has_rs(char *const *tmpl, int n);
/* A job's argv: tmpl with its replacement strings filled from args[0..nargs) (the job's
 * inputs, one record after the other), seq ({#}) and slot ({%}). One malloc'd block (free()
 * it) holding the NULL-terminated argv and, in *lens, the length of each argument (an input
 * may hold a NUL byte: the spawn then refuses it). NULL when out of memory. */
char **par_build_argv(char *const *tmpl, int n, int has_rs, const par_str *args, size_t nargs,
                      size_t seq, size_t slot, size_t **lens);
/* A word quoted for a POSIX shell as GNU parallel quotes it (nothing when it needs nothing). */
int par_quote(par_buf *b, const char *s, size_t len);
/* The command line of argv, each word quoted, separated by spaces (NUL-terminated). */
int par_command_line(par_buf *b, char *const *argv, const size_t *lens);
/* The --results directory of a job: DIR/1/ARG/2/ARG/... with '\' and '/' in each ARG escaped
 * as GNU parallel escapes them; the k-th input belongs to source k % nsrc + 1. */
int par_results_dir(par_buf *b, const char *dir, const par_str *args, size_t nargs, size_t nsrc);

/* ---- hosts (par_host.c) ---- */

/* A host that -S names: this machine (":") or another one reached with ssh. */
typedef struct par_host {
    char name[300];  /* [USER@]HOST[:PORT] as given, without N/; ":" for this machine */
    int local;
    unsigned slots;  /* N/: jobs at once there; 0: as many as -j says */
    cli_remote r;    /* the remote ones: the subproc_remote their jobs use */
    subproc_remote_conn *conn; /* the ControlMaster held while par runs */
    int down;        /* ssh failed there: no more jobs go to it */
    /* Opening the connection (par_hosts_connect), in a thread of its own: PAR_HOST_* (atomic),
     * and the error when it failed. Jobs go to a host once it is up. */
    int state;
    subproc_error conn_err;
    int wake_fd;     /* written to when the state changes */
    sigset_t sigmask; /* for the file copies' ssh: the mask par started with */
    mode_t umask;     /* par's, for the files --return makes */
} par_host;

/* The hosts of o's -S lists (comma-separated [N/][USER@]HOST[:PORT] or ":"), or this machine
 * alone without -S. Returns 0, or CLI_EXIT_FAILURE with a message in msg; *hosts is malloc'd
 * (par_hosts_free()). */
int par_hosts_parse(const cli_par_opts *o, par_host **hosts, size_t *n, char *msg,
                    size_t msglen);
enum { PAR_HOST_NEW, PAR_HOST_CONNECTING, PAR_HOST_UP, PAR_HOST_FAILED };
/* Start opening each remote host's connection (a ControlMaster, held until the end), each in a
 * thread of its own so that a host that does not answer holds up only its own jobs; wake_fd is
 * written to as each one is done. A host that needs none is up at once. */
void par_hosts_connect(par_host *hosts, size_t n, int wake_fd);
/* Whether host h can take a job now; reports a failed connection (once) and marks it down. */
int par_host_ready(par_host *h);
/* Frees the hosts and returns 1, unless a connection is still being opened (its thread still
 * uses them and their wake_fd): then they are left to the process's end, and it returns 0. */
int par_hosts_free(par_host *hosts, size_t n);
/* Report once that host h failed (err: the ssh failure) and take it out of use. */
void par_host_down(par_host *h, const subproc_error *err);

/* Where a file sent with --transfer lands on a host, relative to the job's directory there: the
 * part after "/./" when the path has one, else the path itself (absolute stays absolute). */
const char *par_remote_path(const char *local);
/* Where it lands here when fetched (--return): the name with its "/./" taken out (malloc'd). */
char *par_local_path(const char *name);
/* Copy the local file `local` to h as `remote` (its directory made when missing), the remote
 * side running in cwd (NULL: the login directory). 0, or < 0 with err set (err->path names
 * HOST:FILE, or ssh's message when err->step is SUBPROC_STEP_REMOTE). */
int par_host_send(par_host *h, const char *cwd, const char *local, const char *remote,
                  subproc_error *err);
/* The reverse: fetch `remote` from h into the local file `local` (its directory made). */
int par_host_fetch(par_host *h, const char *cwd, const char *remote, const char *local,
                   subproc_error *err);
/* rm -f the files[0..n) on h (failures are ignored: a file may never have been made). */
void par_host_remove(par_host *h, const char *cwd, char *const *files, size_t n);

#endif
