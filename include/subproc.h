/*
 * subproc.h - child processes for C, done right.
 *
 * One header for the whole library. Conventions:
 *  - Every function that can fail returns 0 or a negative errno value (-ENOENT, ...).
 *    subproc_strerror() turns that into words. EINTR never reaches the caller.
 *  - Output parameters come first and are named `out`.
 *  - Options are plain structs with a `version` field; start from the matching _INIT macro
 *    and set what you need. A zeroed field always means "the default".
 *  - Handles that own resources (subproc_proc, subproc_env, ...) have one _free function
 *    that never fails and never leaves a zombie behind.
 *  - Everything is thread-safe unless a comment says otherwise. See subproc(3).
 */
#ifndef SUBPROC_H
#define SUBPROC_H

#include <stddef.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/resource.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SUBPROC_VERSION_MAJOR 0
#define SUBPROC_VERSION_MINOR 1
#define SUBPROC_VERSION_PATCH 0
#define SUBPROC_VERSION_STRING "0.1.0"

/* Returns SUBPROC_VERSION_STRING of the library actually linked. */
const char *subproc_version(void);

/* ------------------------------------------------------------------------------------------ */
/* Errors                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/*
 * The step of a spawn that failed. Steps up to SUBPROC_STEP_CLONE happen in the parent;
 * the rest happen in the child, in this order (see subproc(3), "Child setup order").
 */
typedef enum subproc_step {
    SUBPROC_STEP_NONE = 0,
    SUBPROC_STEP_VALIDATE,    /* the options themselves are wrong (EINVAL, EBADF, ...) */
    SUBPROC_STEP_ALLOC,       /* out of memory in the parent */
    SUBPROC_STEP_RESOLVE,     /* looking the program up in PATH */
    SUBPROC_STEP_PIPE,        /* making a pipe in the parent */
    SUBPROC_STEP_OPEN,        /* opening a stdio file, or /dev/null, in the parent */
    SUBPROC_STEP_CLONE,       /* clone()/fork() itself (EAGAIN, ENOMEM) */
    SUBPROC_STEP_SIGNALS,     /* resetting signal dispositions in the child */
    SUBPROC_STEP_SETSID,      /* setsid() */
    SUBPROC_STEP_SETPGID,     /* setpgid() */
    SUBPROC_STEP_RLIMIT,      /* setrlimit() */
    SUBPROC_STEP_NICE,        /* setpriority() */
    SUBPROC_STEP_FDMAP,       /* moving fds into place (dup2/fcntl) */
    SUBPROC_STEP_CLOSEFDS,    /* closing every other fd */
    SUBPROC_STEP_CHDIR,       /* chdir() */
    SUBPROC_STEP_SETGROUPS,   /* setgroups() */
    SUBPROC_STEP_SETGID,      /* setgid() */
    SUBPROC_STEP_SETUID,      /* setuid() */
    SUBPROC_STEP_PDEATHSIG,   /* prctl(PR_SET_PDEATHSIG), or the parent already gone */
    SUBPROC_STEP_NO_NEW_PRIVS, /* prctl(PR_SET_NO_NEW_PRIVS) */
    SUBPROC_STEP_SIGMASK,     /* sigprocmask() */
    SUBPROC_STEP_EXEC,        /* execve() */
    SUBPROC_STEP__COUNT
} subproc_step;

/* Filled by a failed call that takes one (it may be NULL). */
typedef struct subproc_error {
    subproc_step step; /* where it failed */
    int err;           /* positive errno value, the same as -(return value) */
    int fd;            /* the fd concerned (a child fd number), or -1 */
    char path[512];    /* the path concerned (program, cwd, file), possibly cut, or "" */
} subproc_error;

/* Text for a negative (or positive) errno value returned by this library. Never NULL. */
const char *subproc_strerror(int err);
/* Short name of a step: "exec", "chdir", "fd map", ... Never NULL. */
const char *subproc_step_name(subproc_step step);
/*
 * Puts an error in words: "exec /no/such: No such file or directory", "chdir /x: Permission
 * denied", "fd map (fd 7): Bad file descriptor". Returns buf. Always NUL-terminates when len > 0.
 */
char *subproc_error_str(const subproc_error *e, char *buf, size_t len);

/* ------------------------------------------------------------------------------------------ */
/* Environments                                                                                */
/* ------------------------------------------------------------------------------------------ */

/* A built environment for children. Not thread-safe while being modified; once built it can be
 * used by any number of concurrent spawns. */
typedef struct subproc_env subproc_env;

#define SUBPROC_ENV_EMPTY 0u   /* start with no variables */
#define SUBPROC_ENV_INHERIT 1u /* start from a copy of the parent's environment, taken now */

/* Errors: -ENOMEM, -EINVAL (unknown flags). */
int subproc_env_new(subproc_env **out, unsigned flags);
/* Set NAME to VALUE, replacing it. -EINVAL when NAME is empty or holds '='. -ENOMEM. */
int subproc_env_set(subproc_env *env, const char *name, const char *value);
/* The same with explicit lengths: -EINVAL when either holds a NUL byte. */
int subproc_env_setn(subproc_env *env, const char *name, size_t name_len, const char *value,
                     size_t value_len);
/* Remove NAME (no error when absent). -EINVAL for a bad name. */
int subproc_env_unset(subproc_env *env, const char *name);
/* Add one "NAME=VALUE" string. -EINVAL when there is no '=' or NAME is empty. */
int subproc_env_put(subproc_env *env, const char *assignment);
/* Add a NULL-terminated array of "NAME=VALUE" strings. Every entry is checked first: on -EINVAL
 * env is unchanged. */
int subproc_env_put_array(subproc_env *env, const char *const *assignments);
/* The value of NAME, or NULL. Valid until the next change to env. */
const char *subproc_env_get(const subproc_env *env, const char *name);
/* Number of variables, and a NULL-terminated "NAME=VALUE" array valid until the next change. */
size_t subproc_env_count(const subproc_env *env);
const char *const *subproc_env_array(const subproc_env *env);
void subproc_env_free(subproc_env *env);

/* ------------------------------------------------------------------------------------------ */
/* Spawning                                                                                    */
/* ------------------------------------------------------------------------------------------ */

typedef struct subproc_proc subproc_proc;

/* What one of the child's standard streams is connected to. */
typedef enum subproc_io_kind {
    SUBPROC_IO_INHERIT = 0, /* the parent's fd 0/1/2 as it is (closed stays closed) */
    SUBPROC_IO_NULL,        /* /dev/null */
    SUBPROC_IO_PIPE,        /* a pipe; the parent's end is subproc_proc_fd(), O_CLOEXEC */
    SUBPROC_IO_FILE,        /* open(path, flags, mode) in the parent; errors name the file */
    SUBPROC_IO_FD,          /* a copy of the parent's fd `fd`; the caller keeps its fd */
    SUBPROC_IO_STDOUT       /* stderr only: the same file as the child's stdout */
} subproc_io_kind;

typedef struct subproc_io {
    subproc_io_kind kind;
    int fd;           /* SUBPROC_IO_FD */
    const char *path; /* SUBPROC_IO_FILE, relative to the parent's cwd */
    int flags;        /* SUBPROC_IO_FILE: open() flags; 0 means O_RDONLY for stdin and
                         O_WRONLY|O_CREAT|O_TRUNC for stdout/stderr. O_CLOEXEC is always added. */
    mode_t mode;      /* SUBPROC_IO_FILE with O_CREAT; 0 means 0666 (umask applies) */
} subproc_io;

/* One extra fd for the child: the parent's `parent_fd` appears as `child_fd` in the child. */
typedef struct subproc_fdmap {
    int parent_fd;
    int child_fd;
} subproc_fdmap;

/* One resource limit for the child (RLIMIT_NOFILE, ...). Values as in setrlimit(). */
typedef struct subproc_rlimit {
    int resource;
    rlim_t soft;
    rlim_t hard;
} subproc_rlimit;

/* Flags for subproc_opts.flags. */
#define SUBPROC_NEW_PGROUP (1u << 0)     /* child leads a new process group */
#define SUBPROC_JOIN_PGROUP (1u << 1)    /* child joins process group opts.pgid */
#define SUBPROC_NEW_SESSION (1u << 2)    /* setsid(): new session and group */
#define SUBPROC_SET_UMASK (1u << 3)      /* umask(opts.umask) */
#define SUBPROC_SET_NICE (1u << 4)       /* setpriority(opts.nice) */
#define SUBPROC_SET_SIGMASK (1u << 5)    /* child's mask = opts.sigmask (default: the caller's) */
#define SUBPROC_RESET_SIGNALS (1u << 6)  /* every disposition to SIG_DFL, ignored ones too */
#define SUBPROC_SET_UID (1u << 7)        /* setuid(opts.uid) */
#define SUBPROC_SET_GID (1u << 8)        /* setgid(opts.gid) */
#define SUBPROC_SET_GROUPS (1u << 9)     /* setgroups(opts.ngroups, opts.groups) */
#define SUBPROC_NO_NEW_PRIVS (1u << 10)  /* Linux PR_SET_NO_NEW_PRIVS */
#define SUBPROC_NO_PATH_SEARCH (1u << 11) /* never search PATH, even for a bare name */
#define SUBPROC_FORCE_FORK (1u << 12)    /* use the portable fork/exec backend for this spawn */

#define SUBPROC_OPTS_VERSION 1

/*
 * How to start a child. Exactly one of argv (exec mode) and fn (fork mode) is set.
 *
 * Exec mode: the program is opts.program, or argv[0] when program is NULL. A program name with
 * a '/' is used as given (relative to the child's cwd when opts.cwd is set). A bare name is
 * looked up in the PATH of the child's environment, or confstr(_CS_PATH) when it has none;
 * empty and relative PATH entries ("", ".", "bin") are skipped, so the current directory never
 * matches implicitly. No shell is ever involved.
 *
 * Fork mode: the child is a fork() of the caller; after the same setup it runs fn(fn_arg) and
 * exits with its return value (& 0xff). In a multi-threaded parent the child has only the
 * calling thread: locks held by other threads stay held, so fn should restrict itself to
 * async-signal-safe functions there (see subproc(3)).
 */
typedef struct subproc_opts {
    unsigned version; /* SUBPROC_OPTS_VERSION */
    unsigned flags;   /* SUBPROC_* flags above */

    const char *program;     /* exec mode: program to run; NULL means argv[0] */
    const char *const *argv; /* exec mode: NULL-terminated, argv[0] included */
    const size_t *argv_lens; /* optional: byte length of each argv[i]; a NUL within it is
                                refused with -EINVAL instead of silently cutting the argument */

    int (*fn)(void *arg); /* fork mode */
    void *fn_arg;

    const subproc_env *env; /* NULL: the parent's environment as it is at spawn time */
    const char *cwd;        /* NULL: the parent's */

    subproc_io stdio[3]; /* stdin, stdout, stderr */
    const subproc_fdmap *fds; /* extra fds, child_fd >= 3 */
    size_t nfds;

    pid_t pgid;                /* SUBPROC_JOIN_PGROUP */
    mode_t umask;              /* SUBPROC_SET_UMASK */
    int nice;                  /* SUBPROC_SET_NICE */
    const subproc_rlimit *rlimits;
    size_t nrlimits;
    sigset_t sigmask;          /* SUBPROC_SET_SIGMASK */
    int pdeathsig;             /* Linux: signal sent when the spawning *thread* dies; 0 = none */
    uid_t uid;                 /* SUBPROC_SET_UID */
    gid_t gid;                 /* SUBPROC_SET_GID */
    const gid_t *groups;       /* SUBPROC_SET_GROUPS */
    size_t ngroups;
} subproc_opts;

#ifdef __cplusplus
#define SUBPROC_OPTS_INIT {SUBPROC_OPTS_VERSION}
#else
#define SUBPROC_OPTS_INIT {.version = SUBPROC_OPTS_VERSION}
#endif
/* The same as assigning SUBPROC_OPTS_INIT (handy from C++). */
void subproc_opts_init(subproc_opts *opts);

/*
 * Start a child. On success *out is a handle that must be freed with subproc_proc_free().
 * On failure nothing is left behind (no child, no fd) and *err, when given, says which step
 * failed and why. The child gets fds 0-2 and opts.fds, nothing else.
 *
 * Errors: -EINVAL (bad options: no argv, NUL in an argument or environment entry, bad flags,
 * bad stdio kind, duplicate or negative child fd, bad signal), -EBADF (a given fd is not open),
 * -ENOENT/-EACCES/-ENOEXEC/... from the step named in *err, -EAGAIN/-ENOMEM (clone), -EMFILE.
 */
int subproc_spawn(subproc_proc **out, const subproc_opts *opts, subproc_error *err);

/* Which spawn backend a call would use: "linux" (clone CLONE_VM|CLONE_VFORK) or "posix"
 * (fork/exec). The environment variable SUBPROC_BACKEND=posix, read once, forces "posix". */
const char *subproc_backend(void);

/* ------------------------------------------------------------------------------------------ */
/* The running child                                                                           */
/* ------------------------------------------------------------------------------------------ */

typedef struct subproc_status {
    int exited;      /* ended with exit(code) */
    int code;        /* exit code when exited */
    int signaled;    /* killed by a signal */
    int signal;      /* the signal when signaled, or the stop signal when stopped */
    int core_dumped; /* signaled and dumped core */
    int stopped;     /* stopped (only from subproc_proc_wait_ex with SUBPROC_WAIT_STOPPED) */
    long long user_usec; /* CPU time of the child (and its reaped descendants) in user mode */
    long long sys_usec;  /* ... and in the kernel */
    long max_rss_kb;     /* peak resident set size in KiB */
} subproc_status;

/* "exited with 3", "killed by SIGKILL", "killed by SIGSEGV (core dumped)", "stopped by SIGSTOP",
 * "running". Returns buf; always NUL-terminates when len > 0. */
char *subproc_status_str(const subproc_status *st, char *buf, size_t len);
/* A shell-style code: exit code, or 128 + signal. */
int subproc_status_code(const subproc_status *st);

/* "SIGTERM" for 15, NULL when not a valid signal number. */
const char *subproc_signal_name(int sig);
/* "TERM", "SIGTERM", "sigterm" or "15" to 15; "RTMIN+3" too. -EINVAL when unknown. */
int subproc_signal_from_name(const char *name);

pid_t subproc_proc_pid(const subproc_proc *p);
/* The pidfd (Linux backend), or -1. Owned by the handle; do not close it. */
int subproc_proc_pidfd(const subproc_proc *p);
/* The child's process group when it leads or joined one, else -1. */
pid_t subproc_proc_pgid(const subproc_proc *p);
/* The parent end of the pipe for stream 0, 1 or 2 (SUBPROC_IO_PIPE), or -1. Owned by p. */
int subproc_proc_fd(const subproc_proc *p, int stream);
/* Take ownership of that fd (the handle forgets it); -1 when there is none. */
int subproc_proc_take_fd(subproc_proc *p, int stream);
/* Close that fd now (e.g. stdin, to send EOF). No error when there is none. */
void subproc_proc_close_fd(subproc_proc *p, int stream);

#define SUBPROC_WAIT_STOPPED (1u << 0) /* also return when the child stops */

/*
 * Wait for the child to end. timeout_ms < 0 waits forever; 0 only checks. On the Linux backend
 * the wait sleeps in poll() on the pidfd; on the portable one it re-checks with waitpid(WNOHANG)
 * at growing intervals (1 ms to 20 ms) - no SIGCHLD handler is ever installed.
 * Once the child is reaped its status is kept and returned again by later calls.
 * Errors: -ETIMEDOUT (still running), -ECHILD (someone else reaped it, e.g. SIGCHLD ignored:
 * the kernel then reaps children itself, so every wait returns -ECHILD at once, no status).
 * A stopped child has not ended: without SUBPROC_WAIT_STOPPED the wait goes on (or times out).
 * When the caller is also the child's ptrace tracer, ptrace stops are left for the caller's own
 * waitpid() (never consumed) unless SUBPROC_WAIT_STOPPED asks for stops.
 */
int subproc_proc_wait_ex(subproc_proc *p, int timeout_ms, unsigned flags, subproc_status *out);
int subproc_proc_wait(subproc_proc *p, subproc_status *out);                      /* forever */
int subproc_proc_wait_timeout(subproc_proc *p, int timeout_ms, subproc_status *out);
/* -EAGAIN when still running. */
int subproc_proc_try_wait(subproc_proc *p, subproc_status *out);
/* 1 when the child has been reaped by this handle, else 0. */
int subproc_proc_done(const subproc_proc *p);

/*
 * Send sig (0 only checks) to the child. Uses pidfd_send_signal where available; on every
 * backend a child already reaped gets -ESRCH, never a recycled PID. -EINVAL for a bad signal.
 */
int subproc_proc_signal(subproc_proc *p, int sig);
/* Send sig to the child's process group (needs SUBPROC_NEW_PGROUP, _NEW_SESSION or
 * _JOIN_PGROUP; -EINVAL otherwise). */
int subproc_proc_signal_group(subproc_proc *p, int sig);

#define SUBPROC_TERM_GROUP (1u << 0) /* signal the whole process group */
/*
 * Stop the child: sig (SIGTERM when 0), wait up to grace_ms, then SIGKILL, then reap.
 * With SUBPROC_TERM_GROUP both signals go to the process group. Fills *out when given.
 */
int subproc_proc_terminate(subproc_proc *p, int sig, int grace_ms, unsigned flags,
                           subproc_status *out);

/*
 * Release the handle: closes its pipe ends and pidfd. A child that has not been reaped yet is
 * killed with SIGKILL (the child only, not its group) and reaped first, so no zombie is left.
 * To let a child finish, wait for it before freeing. NULL is allowed.
 */
void subproc_proc_free(subproc_proc *p);

/* ---- I/O (io.c) -------------------------------------------------------------------------- */

/* ---- end of I/O ---- */

/* ---- Pipelines (pipeline.c) -------------------------------------------------------------- */

/* ---- end of pipelines ---- */

/* ---- Groups and pools (group.c, pool.c) --------------------------------------------------- */

/* ---- end of groups ---- */

#ifdef __cplusplus
}
#endif

#endif /* SUBPROC_H */
