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
#include <stdio.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/select.h> /* sigset_t, also under strict -std=c99 (POSIX puts it here too) */

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
    /* Later additions (numbered after the ones above so that existing values never change): */
    SUBPROC_STEP_CGROUP,      /* parent: making the child's cgroup, or applying a limit to it;
                                 child: joining it (where clone3 cannot start it inside) */
    SUBPROC_STEP_CTTY,        /* making the pty the controlling terminal (TIOCSCTTY), right
                                 after setsid() */
    SUBPROC_STEP_REMOTE,      /* ssh could not reach or log in to the host (path: ssh's message) */
    SUBPROC_STEP__COUNT
} subproc_step;

/* Filled by a failed call that takes one (it may be NULL). */
typedef struct subproc_error {
    subproc_step step; /* where it failed */
    int err;           /* positive errno value, the same as -(return value) */
    int fd;            /* the fd concerned (a child fd number), or -1 */
    char path[512];    /* the path concerned (program, cwd, file), possibly cut, or "";
                          for SUBPROC_STEP_VALIDATE, which field is wrong and why, in words
                          ("version is 0: start from SUBPROC_OPTS_INIT ..."); for
                          SUBPROC_ECHECK, how the child ended ("exited with 3") */
} subproc_error;

/* Text for a negative (or positive) errno value returned by this library. Never NULL. */
const char *subproc_strerror(int err);
/* Short name of a step: "exec", "chdir", "fd map", ... Never NULL. */
const char *subproc_step_name(subproc_step step);
/*
 * Puts an error in words, naming the step or the field: "exec /no/such: No such file or
 * directory", "chdir /x: Permission denied", "fd map (fd 7): Bad file descriptor", "resolve
 * prog: not found in PATH (No such file or directory)", "options: version is 0: start from
 * SUBPROC_OPTS_INIT or subproc_opts_init()", "check failed: the child exited with 1, not 0".
 * Returns buf. Always NUL-terminates when len > 0.
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

/* Free env and its strings. NULL is allowed. */
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
    SUBPROC_IO_STDOUT,      /* stderr only: the same file as the child's stdout */
    /* A connected stream socket, socketpair(AF_UNIX, SOCK_STREAM), used like SUBPROC_IO_PIPE
     * (the parent's end is subproc_proc_fd(), O_CLOEXEC). What libuv's UV_CREATE_PIPE makes:
     * reader and writer do not take turns on a pipe's mutex, so bulk output is captured faster
     * (docs/BENCHMARKS.md). Opt-in because a socket is not a pipe: a child that opens
     * /dev/stdout or /proc/self/fd/1 gets ENXIO, and lseek/splice rules differ. */
    SUBPROC_IO_SOCKET,
    /* The slave side of a new pseudo-terminal (see "Terminals" below). Every stream of one
     * spawn that asks for it gets the same terminal, which also becomes the child's controlling
     * terminal in a session of its own (SUBPROC_NEW_SESSION is implied). The parent keeps the
     * master end: subproc_proc_pty(). subproc_io.pty gives its size and modes (NULL: 24x80, a
     * sane cooked terminal). */
    SUBPROC_IO_PTY
} subproc_io_kind;

struct subproc_pty_opts;

typedef struct subproc_io {
    subproc_io_kind kind;
    int fd;           /* SUBPROC_IO_FD */
#if defined(__GNUC__) || defined(__cplusplus)
    __extension__ union {
#else
    union {
#endif
        const char *path; /* SUBPROC_IO_FILE, relative to the parent's cwd */
        const struct subproc_pty_opts *pty; /* SUBPROC_IO_PTY: NULL means the defaults */
    };
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
/*
 * Start the child detached: it is never this process's child, so it can outlive the handle and
 * the calling process and is never this process's zombie. The library forks an intermediate
 * process that forks the program and exits at once; the intermediate is reaped inside
 * subproc_spawn(), and the program is re-parented by the kernel to init (or to the nearest
 * ancestor that set PR_SET_CHILD_SUBREAPER - when that is the caller itself, the program is its
 * child again and the caller must reap it). Every setup step and the exec are still checked:
 * a failure comes back from subproc_spawn() as usual. The handle then only holds the program's
 * PID, as it was at the start (it may be recycled once the program ends: the library never
 * signals it), and the parent ends of its pipes: waits give -ECHILD, signals -ESRCH,
 * subproc_proc_pgid() -1, subproc_proc_free() kills nothing. Uses the portable backend (a real
 * fork). Not with pdeathsig (the intermediate would be the parent that dies).
 */
#define SUBPROC_DETACH (1u << 16)

/*
 * Tree containment (subproc_opts.contain, version 2): keep the child's whole process tree under a
 * handle, so that a deadline, subproc_proc_kill_tree() or freeing the handle reaches every
 * descendant, also those that called setsid()/setpgid(), double-forked or closed their fds.
 * Give the mechanisms you accept; the first that this host allows, in this order, is used and
 * subproc_proc_containment() says which:
 *  - SUBPROC_CONTAIN_CGROUP: a cgroup v2 of its own, made for the child, which is started inside
 *    it (clone3 CLONE_INTO_CGROUP, Linux 5.7). Nothing can leave it without write access to the
 *    cgroup tree. Needs a writable cgroup2 hierarchy (see subproc(3), "Containment").
 *  - SUBPROC_CONTAIN_PIDNS: a new PID namespace with the child as its init; when the child ends
 *    the kernel kills every process left in it. Needs CAP_SYS_ADMIN, or unprivileged user
 *    namespaces (then a user namespace is made too). Caveat: as init, the child ignores signals
 *    it has no handler for, except SIGKILL (pid_namespaces(7)).
 *  - SUBPROC_CONTAIN_PGROUP: the child leads a new process group. The last resort: a descendant
 *    that calls setsid() or setpgid() escapes it.
 * With SUBPROC_CONTAIN_CGROUP or _PIDNS the child stays in the caller's process group (Ctrl-C
 * from a terminal reaches it, as it reaches any child).
 */
#define SUBPROC_CONTAIN_CGROUP (1u << 0)
#define SUBPROC_CONTAIN_PIDNS (1u << 1)
#define SUBPROC_CONTAIN_PGROUP (1u << 2)
#define SUBPROC_CONTAIN_ANY (SUBPROC_CONTAIN_CGROUP | SUBPROC_CONTAIN_PIDNS | SUBPROC_CONTAIN_PGROUP)

/* What happens to descendants still alive in a contained tree once the child itself has ended
 * (subproc_opts.leftovers, version 2), in subproc_proc_communicate()/subproc_run(), pipelines,
 * the pool, and when the handle is freed:
 *  - LEAVE (0, the default, as timeout(1)): they go on. A cgroup is not left behind: when the
 *    handle is freed they are moved back to the cgroup the calling process is in, and the
 *    child's cgroup is removed. Under a PID namespace nothing can be left: the kernel ends them
 *    with the child. In a process group they simply go on.
 *  - KILL: the whole tree is killed as soon as the child has ended (and on free); communicate
 *    then reads the pipes to their end, since no one is left to hold them.
 *  - WAIT: communicate/run wait (within the deadline) until the tree is empty; on free, as KILL. */
#define SUBPROC_LEFTOVERS_LEAVE 0
#define SUBPROC_LEFTOVERS_KILL 1
#define SUBPROC_LEFTOVERS_WAIT 2

/* Limits for a contained child's cgroup (subproc_opts.cgroup_limits, version 2). 0 = no limit.
 * Each needs its controller enabled in the parent cgroup's cgroup.subtree_control; where it is
 * not, the spawn fails with -EOPNOTSUPP, step SUBPROC_STEP_CGROUP and the file in error.path. */
typedef struct subproc_cgroup_limits {
    long long memory_max;    /* bytes: memory.max */
    long long pids_max;      /* processes: pids.max */
    long long cpu_max_us;    /* cpu.max: this many microseconds of CPU ... */
    long long cpu_period_us; /* ... per period (0: 100000) */
} subproc_cgroup_limits;

/* 2 added contain, cgroup_parent, cgroup_limits, leftovers and remote; a caller built with
 * version 1 (without them) is still accepted, and so are arrays of version-1 structs
 * (pipelines). */
#define SUBPROC_OPTS_VERSION 2

typedef struct subproc_remote subproc_remote; /* see "Remote children" below */

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
 * exits with its return value (& 0xff) through _exit() (the parent's atexit handlers never run
 * in it). What fn wrote to stdout and stderr through stdio is flushed when it returns; what the
 * parent had buffered in them at the fork is dropped in the child (the parent writes it
 * itself). Other streams fn opens it must fclose() itself. In a multi-threaded parent the child
 * has only the calling thread: locks held by other threads stay held (glibc resets stdio's own
 * locks at fork, other libcs may not), so fn should restrict itself to async-signal-safe
 * functions there, write(2) rather than stdio (see subproc(3)).
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

    /* Version 2 and later: */
    unsigned contain;          /* SUBPROC_CONTAIN_* mechanisms accepted; 0: no containment */
    const char *cgroup_parent; /* cgroup2 directory (absolute path) to make the child's cgroup
                                  in, e.g. one delegated by systemd; NULL: the caller's own */
    const subproc_cgroup_limits *cgroup_limits; /* NULL: none */
    int leftovers;             /* SUBPROC_LEFTOVERS_* */
    const subproc_remote *remote; /* run argv on another host through ssh (see below); NULL: here */
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
 * -ETXTBSY only when the program stayed open for writing through 8 retries of execve() with
 * growing sleeps (1 ms to 128 ms, 255 ms in all): a copy of a just-closed write fd in another
 * thread's starting child goes away by itself. The child closes every fd the fd plan does not
 * read before any other step, to keep such copies short-lived for others too.
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

/* The child's process ID (it stays the child's until the handle reaps it). */
pid_t subproc_proc_pid(const subproc_proc *p);
/* The pidfd (Linux 5.3 and later, either backend), or -1. Owned by the handle; do not close
 * it. Signals and statuses go through it: it refers to this child whatever happens to its PID. */
int subproc_proc_pidfd(const subproc_proc *p);
/* The child's process group when it leads or joined one, else -1. */
pid_t subproc_proc_pgid(const subproc_proc *p);
/* The parent end of the pipe (or socket) for stream 0, 1 or 2 (SUBPROC_IO_PIPE or _SOCKET), or
 * -1. Owned by p. For SUBPROC_IO_PTY streams: a copy of the terminal's master end for stdin, and
 * one for the first output stream on the terminal (-1 for stderr when stdout has it). */
int subproc_proc_fd(const subproc_proc *p, int stream);
/* Take ownership of that fd (the handle forgets it); -1 when there is none. */
int subproc_proc_take_fd(subproc_proc *p, int stream);
/* Close that fd now (e.g. stdin, to send EOF). No error when there is none. */
void subproc_proc_close_fd(subproc_proc *p, int stream);

#define SUBPROC_WAIT_STOPPED (1u << 0) /* also return when the child stops */
/* Return once the child has exited but leave it unreaped (waitid WNOWAIT): while it is a zombie
 * its PID and a process group it belongs to cannot be recycled, so group signals stay safe.
 * *out is not filled; a later wait reaps it and gives the status. */
#define SUBPROC_WAIT_NOREAP (1u << 1)

/*
 * Wait for the child to end. timeout_ms < 0 waits forever; 0 only checks. On the Linux backend
 * the wait sleeps in poll() on the pidfd; on the portable one it re-checks with waitpid(WNOHANG)
 * at growing intervals (1 ms to 20 ms) - no SIGCHLD handler is ever installed.
 * Once the child is reaped its status is kept and returned again by later calls.
 * Errors: -ETIMEDOUT (still running), -ECHILD (someone else reaped it and the kernel could not
 * say how it ended). A child reaped by someone else - the kernel itself when SIGCHLD is ignored,
 * another thread's waitpid(-1), a foreign SIGCHLD handler - still gets its real exit status from
 * its pidfd (PIDFD_GET_INFO with PIDFD_INFO_EXIT, Linux 6.15; both backends hold a pidfd on
 * Linux 5.3 and later); only its resource usage (user_usec, sys_usec, max_rss_kb) is lost then
 * (0). Before Linux 6.15 such a wait returns -ECHILD, and so does every API built on it: never
 * 0 with a status that was not read.
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
 * _JOIN_PGROUP; -EINVAL otherwise), only through a live handle: with
 * pidfd_send_signal(PIDFD_SIGNAL_PROCESS_GROUP) (Linux 6.9: the group the child is in now),
 * else kill(-pgid) after checking (waitid WNOWAIT) that the child is unreaped. Once the child
 * has been reaped (by anyone) the group id may belong to strangers: -ESRCH, nothing is sent.
 * To reach members that outlive the child, wait with SUBPROC_WAIT_NOREAP first, or contain the
 * tree (subproc_opts.contain). */
int subproc_proc_signal_group(subproc_proc *p, int sig);

#define SUBPROC_TERM_GROUP (1u << 0) /* signal the whole process group */
#define SUBPROC_TERM_TREE (1u << 1)  /* signal the whole contained tree (see Containment) */
/*
 * Stop the child: sig (SIGTERM when 0), wait up to grace_ms, then SIGKILL, then reap.
 * With SUBPROC_TERM_GROUP both signals go to the process group. Fills *out when given.
 * Every "sig, grace, SIGKILL" sequence in the library (this, deadlines of communicate/run,
 * pipelines and the pool) sends SIGCONT right after sig, unless sig is SIGKILL or SIGCONT: a
 * stopped process acts on a signal only once it is continued, as timeout(1) knows.
 */
int subproc_proc_terminate(subproc_proc *p, int sig, int grace_ms, unsigned flags,
                           subproc_status *out);

/*
 * Release the handle: closes its pipe ends and pidfd. A child that has not been reaped yet is
 * killed with SIGKILL (the child only, not its group) and reaped first, so no zombie is left.
 * To let a child finish, wait for it before freeing. To start a program that outlives the
 * handle and this process, start it with SUBPROC_DETACH: a child of this process that is let go
 * unreaped would stay a zombie until this process reaps it or exits, which is why there is no
 * call to let a running child go. NULL is allowed.
 */
void subproc_proc_free(subproc_proc *p);

/* ---- Containment (contain.c, cgroup.c): the child's whole process tree --------------------- */

/* Which mechanism holds the child's tree: SUBPROC_CONTAIN_CGROUP, _PIDNS or _PGROUP, or 0 when
 * the child was not contained. */
unsigned subproc_proc_containment(const subproc_proc *p);
/* "cgroup", "pidns", "pgroup" or "none" for such a value. Never NULL. */
const char *subproc_containment_name(unsigned mechanism);
/*
 * Send sig (0 only checks) to every process of the tree. cgroup: each process listed in
 * cgroup.procs, pinned by a pidfd and checked to be still in the cgroup before it is signalled;
 * pidns: the child (the namespace's init: see the caveat above); pgroup: the process group,
 * through the child's pidfd (only while the child is unreaped). Returns 0, -EINVAL (bad signal,
 * not contained), -ESRCH (pidns/pgroup: the child has been reaped).
 */
int subproc_proc_signal_tree(subproc_proc *p, int sig);
/* SIGKILL to the whole tree: cgroup.kill (atomic against forks); pidns: SIGKILL to its init;
 * pgroup: SIGKILL to the group while the child is unreaped. Errors as subproc_proc_signal_tree. */
int subproc_proc_kill_tree(subproc_proc *p);
/*
 * Wait until no process of the tree is left (the child included; it is not reaped by this).
 * timeout_ms < 0 waits forever, 0 only checks. cgroup: "populated 0" in cgroup.events; pidns:
 * the child's exit (the kernel has emptied the namespace by then); pgroup: the group is gone,
 * as far as can be told while the child is unreaped. Returns 0, -ETIMEDOUT, -EINVAL.
 */
int subproc_proc_wait_tree(subproc_proc *p, int timeout_ms);
/* An fd for the caller's poll/epoll: cgroup.events (wait for POLLPRI, then call
 * subproc_proc_wait_tree(p, 0)); for pidns/pgroup the pidfd (POLLIN). -1 when not contained.
 * Owned by the handle. */
int subproc_proc_tree_fd(const subproc_proc *p);
/* Freeze (frozen = 1) or thaw (0) the whole tree (cgroup.freeze; returns once "frozen 1" is
 * reported, at most 5 s: -ETIMEDOUT). -EOPNOTSUPP unless the tree is a cgroup. */
int subproc_proc_freeze(subproc_proc *p, int frozen);

/* Usage of the whole tree, from the cgroup's files; -1 where the kernel does not report it
 * (memory.peak and pids.peak need their controllers enabled; cpu.stat is always there). */
typedef struct subproc_tree_stats {
    long long usage_usec;  /* CPU time, user + system, in microseconds (cpu.stat) */
    long long user_usec;
    long long system_usec;
    long long memory_peak; /* bytes (memory.peak) */
    long long pids_peak;   /* processes (pids.peak) */
} subproc_tree_stats;
/* Fill *out. -EOPNOTSUPP unless the tree is a cgroup. */
int subproc_proc_tree_stats(const subproc_proc *p, subproc_tree_stats *out);
/* The path of the child's cgroup directory (under the cgroup2 mount), or NULL when the tree is
 * not a cgroup. Valid until the handle is freed. */
const char *subproc_proc_cgroup_path(const subproc_proc *p);

/* ---- I/O (io.c) -------------------------------------------------------------------------- */

/*
 * Talking to a child: feed its stdin, capture or stream its stdout and stderr, all at once in the
 * calling thread (poll() on non-blocking pipe ends), for any sizes, with an optional deadline.
 *
 * SIGPIPE: writing to a child that has exited raises SIGPIPE. The library never changes a signal
 * disposition; around each of its own write() calls, and nothing else, it blocks SIGPIPE in the
 * calling thread only (pthread_sigmask), and when such a write fails with EPIPE it consumes the
 * SIGPIPE that write raised (sigtimedwait with a zero timeout), unless one was already pending
 * before - that one belongs to the caller and stays pending. The write then counts as "the child
 * did not want more input". Caller code the library calls (on_output, the pool's on_done) runs
 * with the caller's own signal mask, so a child it starts, and a SIGPIPE its own writes raise,
 * are exactly what they would be outside the library.
 */

/*
 * A captured stream. data is malloc'd, NUL-terminated, and never NULL after a successful
 * communicate with capture on. When the per-stream limit was reached, truncated is 1 and data
 * holds the first head_len bytes the child wrote followed directly by the last
 * (len - head_len) bytes; otherwise head_len == len. total counts every byte the child wrote to
 * the stream, kept or not.
 */
typedef struct subproc_capture {
    char *data;
    size_t len;
    unsigned long long total;
    int truncated;
    size_t head_len;
} subproc_capture;

/* Flags for subproc_comm_opts.flags. */
#define SUBPROC_COMM_LINES (1u << 0)      /* on_output gets whole lines (see on_output) */
#define SUBPROC_COMM_TEE_OUT (1u << 1)    /* also copy stdout to tee_out_fd */
#define SUBPROC_COMM_TEE_ERR (1u << 2)    /* also copy stderr to tee_err_fd */
#define SUBPROC_COMM_NO_CAPTURE (1u << 3) /* do not keep output in memory (out.data stays NULL) */
#define SUBPROC_COMM_CHECK (1u << 4)      /* a non-zero exit or a signal is an error:
                                             -SUBPROC_ECHECK */

/* Returned (negated) by subproc_run() with SUBPROC_COMM_CHECK when the child exited non-zero or
 * was killed by a signal. Outside the errno range; subproc_strerror() knows it. */
#define SUBPROC_ECHECK 4200

/* Lines longer than this reach a SUBPROC_COMM_LINES callback in pieces of this size. */
#define SUBPROC_COMM_LINE_MAX (1u << 20)

/* Reusable capture memory (subproc_buffers_new() below); declared here for subproc_comm_opts. */
typedef struct subproc_buffers subproc_buffers;

/* 2 added wait_delay_ms and buffers (and, in subproc_result, output_incomplete); a caller built
 * with version 1 (without them) is still accepted: the library then reads neither field and
 * does not write output_incomplete. */
#define SUBPROC_COMM_OPTS_VERSION 2

/* The bound on reading leftover output after the direct child ended, when a deadline is set and
 * wait_delay_ms is 0 (see subproc_comm_opts). */
#define SUBPROC_COMM_WAIT_DELAY_DEFAULT_MS 1000

/*
 * How to talk to a child. Zero fields mean the default.
 *
 * input/input_len: written to the child's stdin, which is then closed (EOF). input == NULL
 *   means "no input": stdin is closed at once when it is a pipe. A child that exits without
 *   reading everything is fine (see SIGPIPE above).
 * max_output: per-stream capture limit in bytes; 0 means no limit. Over it, the first half is
 *   kept as the head and the most recent bytes as the tail (subproc_capture).
 * on_output: called with each chunk read (stream 1 = stdout, 2 = stderr), or with each whole
 *   line including its '\n' when SUBPROC_COMM_LINES is set (a final line without '\n' is
 *   delivered at EOF; longer lines than SUBPROC_COMM_LINE_MAX in pieces). data is not
 *   NUL-terminated. Returning non-zero stops: the child is terminated as on a deadline and the
 *   call returns -ECANCELED. Called in the calling thread, never concurrently.
 * tee_out_fd/tee_err_fd: with SUBPROC_COMM_TEE_OUT/ERR, output is also written there (blocking
 *   until written; a write error stops that tee and nothing else).
 *   A stream that is only teed (SUBPROC_COMM_NO_CAPTURE, no on_output) moves from the child's
 *   pipe to the tee fd with splice(2), inside the kernel, never copied through the caller's
 *   memory; where the kernel refuses splice for that fd (a file opened with O_APPEND, a file
 *   system or device without splice support) the stream silently falls back to read()/write().
 * timeout_ms: deadline for the whole call; 0 or < 0 means none. Any size is taken: a deadline
 *   beyond the clock's range saturates (LLONG_MAX never passes, in effect). When it passes, kill_signal
 *   (0 = SIGTERM) goes to the child's process group (to the child alone when it has none),
 *   followed by SIGCONT (see subproc_proc_terminate), then SIGKILL after kill_grace_ms (0 = 2000); output keeps being read meanwhile. Once the direct
 *   child is reaped, what is left in the pipes is read for at most drain_ms (0 = 100 ms, < 0 =
 *   not at all), so a grandchild that holds a pipe open cannot keep the call from returning.
 * wait_delay_ms (version 2): once the direct child has ended on its own, how long what is left
 *   in the pipes is still read (the idea of Go's Cmd.WaitDelay). A descendant that inherited a
 *   pipe - a daemon started with "cmd &" - can hold it open long after the child exited. After
 *   the delay the call returns the child's real status (not timed out, even when the deadline
 *   passes meanwhile), the output read so far, and out->output_incomplete = 1 when a pipe was
 *   still open. > 0: that bound, with or without a deadline. 0: the default, which is
 *   SUBPROC_COMM_WAIT_DELAY_DEFAULT_MS when a deadline is set, and no bound (read to end-of-file,
 *   as without a deadline) otherwise. < 0: no bound at all; a descendant holding a pipe then
 *   keeps the call waiting until the deadline, which ends it as a timeout. The descendant itself
 *   is left running.
 *   Noticing that the child ended costs nothing on the Linux backend (its pidfd is polled with
 *   the pipes); the portable backend re-checks every 10 ms while a bound applies.
 */
typedef struct subproc_comm_opts {
    unsigned version; /* SUBPROC_COMM_OPTS_VERSION */
    unsigned flags;   /* SUBPROC_COMM_* */
    const void *input;
    size_t input_len;
    size_t max_output;
    int (*on_output)(void *ud, int stream, const char *data, size_t len);
    void *ud;
    int tee_out_fd;
    int tee_err_fd;
    long long timeout_ms;
    int kill_signal;
    int kill_grace_ms;
    int drain_ms;
    /* Version 2 and later: */
    long long wait_delay_ms;
    subproc_buffers *buffers; /* capture into memory kept from earlier calls (see below); NULL:
                                 fresh memory for every capture */
} subproc_comm_opts;

#ifdef __cplusplus
#define SUBPROC_COMM_OPTS_INIT {SUBPROC_COMM_OPTS_VERSION}
#else
#define SUBPROC_COMM_OPTS_INIT {.version = SUBPROC_COMM_OPTS_VERSION}
#endif

/*
 * The outcome of a communicate or run. Free with subproc_result_free() whatever the call
 * returned (it is always initialised when out != NULL).
 * status: how the child ended (with CPU time and max RSS), valid when status.exited or
 *   status.signaled is set. timed_out: the deadline passed. wall_usec: from the start of the
 *   call (run: from before the spawn) to the reap. error: a spawn failure (run), or for
 *   -SUBPROC_ECHECK err = SUBPROC_ECHECK and path = the status in words ("exited with 3").
 * output_incomplete: the child ended, but a descendant still held one of its output pipes when
 *   the wait delay ran out (see wait_delay_ms), so the captures may lack what it wrote later.
 *   Written only by calls given a subproc_comm_opts of version 2 or later (the field does not
 *   exist in a version 1 caller's struct); subproc_result_free() leaves it alone.
 */
typedef struct subproc_result {
    subproc_status status;
    subproc_capture out, err;
    int timed_out;
    long long wall_usec;
    subproc_error error;
    /* With a subproc_comm_opts of version 2 and later: */
    int output_incomplete;
} subproc_result;

/*
 * Feed, read and reap a child started with subproc_spawn(). Uses the handle's pipe ends: stdin
 * (stream 0) gets co->input and is then closed; stdout and stderr, when they are pipes, are read
 * to EOF and captured/streamed/teed per co; streams that are not pipes are left alone. The pipe
 * ends are consumed (closed) by the call. Then the child is waited for. co may be NULL (defaults).
 * The pipe ends are made non-blocking, and capture pipes are enlarged to 1 MiB when the
 * per-user pipe limit allows (F_SETPIPE_SZ; silently kept as they are otherwise).
 *
 * Without a deadline the call returns when every pipe reached EOF and the child was reaped: a
 * grandchild that keeps a pipe open keeps the call waiting - set wait_delay_ms, or a deadline
 * (which brings a default wait delay), when that matters. A child that ended before the
 * deadline is never reported as timed out, whoever still holds its pipes (output_incomplete
 * says so instead).
 *
 * Returns 0, or: -ETIMEDOUT (the deadline passed; *out holds all output read and the status of
 * the killed child), -ECANCELED (on_output asked to stop; child terminated likewise), -EINVAL
 * (p or out NULL, bad version/flags/kill_signal, tee flag with a negative fd, input_len with no
 * input, input given but stdin is not a pipe), -ENOMEM, -ECHILD (the child was reaped by
 * someone else), or a read error from a pipe (-EIO, ...). EINTR never surfaces.
 */
int subproc_proc_communicate(subproc_proc *p, const subproc_comm_opts *co, subproc_result *out);

/*
 * Spawn, feed, capture, wait: one call. opts is used as given, except that
 *  - stdin becomes a pipe when co->input != NULL and opts->stdio[0] is SUBPROC_IO_INHERIT,
 *  - stdout and stderr become pipes when they are SUBPROC_IO_INHERIT and output is wanted
 *    (capture, i.e. no SUBPROC_COMM_NO_CAPTURE, or on_output, or the stream's tee flag),
 *  - with a deadline and none of SUBPROC_NEW_PGROUP/_JOIN_PGROUP/_NEW_SESSION in opts, the child
 *    gets SUBPROC_NEW_PGROUP, so that the deadline's group kill reaches its descendants and can
 *    never hit the caller's own group.
 * co may be NULL. *out is always initialised; a failed spawn fills out->error.
 * Errors: those of subproc_spawn() and subproc_proc_communicate(), and -SUBPROC_ECHECK with
 * SUBPROC_COMM_CHECK when the child did not exit with 0 (out->error.path says how it ended).
 */
int subproc_run(subproc_result *out, const subproc_opts *opts, const subproc_comm_opts *co);

/* "exited with 0", "killed by SIGTERM (timed out)", or the spawn error in words. Returns buf. */
char *subproc_result_str(const subproc_result *r, char *buf, size_t len);

/* Frees the captures and zeroes *r. NULL is allowed. */
void subproc_result_free(subproc_result *r);

/*
 * Reusable capture memory. Every page of a fresh capture buffer costs the kernel a page fault
 * (zeroing and a memory-cgroup charge): about 65,500 of them for a 256 MiB capture, most of its
 * time. A program that captures again and again (a build tool, a test runner, a server) can keep
 * the buffers, pages and all, from one capture to the next:
 *
 *     subproc_buffers *bufs;
 *     subproc_buffers_new(&bufs, 0);
 *     subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
 *     co.buffers = bufs;
 *     for (...) {
 *         subproc_run(&r, &opts, &co);
 *         ... use r.out.data ...
 *         subproc_buffers_recycle(bufs, &r); // instead of subproc_result_free(&r)
 *     }
 *     subproc_buffers_free(bufs);
 *
 * A capture made with co.buffers starts in the largest block given back so far (or in fresh
 * memory when there is none), and grows with realloc() as any capture does. Its data is still an
 * ordinary malloc'd block owned by the result: subproc_result_free() works on it as always (the
 * block is then freed, not kept). Nothing else changes: contents, NUL terminator, limits and
 * truncation are those of a one-shot capture. The memory a subproc_buffers keeps is the caller's
 * to bound (max_bytes). Thread-safe: one subproc_buffers may serve concurrent calls in several
 * threads; each capture takes a block of its own.
 */

/* max_bytes: the most memory (sum of the blocks' sizes, in bytes) kept for reuse; a block given
 * back beyond that is freed. 0: no limit. Errors: -EINVAL (out NULL), -ENOMEM. */
int subproc_buffers_new(subproc_buffers **out, size_t max_bytes);
/* Take r's capture blocks (r->out.data, r->err.data, malloc'd by a communicate or run, with or
 * without buffers) back for reuse, and clear *r as subproc_result_free() does. NULL r is allowed. */
void subproc_buffers_recycle(subproc_buffers *b, subproc_result *r);
/* The same for one block of the caller's: data must come from malloc() (NULL is allowed); b
 * owns it afterwards. */
void subproc_buffers_give(subproc_buffers *b, void *data);
/* Bytes currently kept for reuse. */
size_t subproc_buffers_kept(const subproc_buffers *b);
/* Frees every block kept. NULL is allowed. Captures taken from b and not given back stay valid
 * (they belong to their results). */
void subproc_buffers_free(subproc_buffers *b);

/*
 * A buffered reader over a pipe from a child, for line- and message-oriented protocols. Handles
 * short reads, records split across reads, and a last record without a delimiter. The fd is not
 * made non-blocking; with a timeout the reader polls before each read.
 */
typedef struct subproc_reader subproc_reader;

#define SUBPROC_READER_OWN_FD (1u << 0) /* subproc_reader_free() closes the fd */

/*
 * New reader on fd (e.g. subproc_proc_take_fd(p, 1)). max_record: longest record returned in
 * one piece (0 = SUBPROC_COMM_LINE_MAX); a longer one comes back in max_record-sized pieces
 * without a delimiter. Errors: -EINVAL (fd < 0, unknown flags), -ENOMEM.
 */
int subproc_reader_new(subproc_reader **out, int fd, size_t max_record, unsigned flags);
/*
 * Next record ending with delim (included), or the final bytes before EOF without it.
 * *data is NUL-terminated and stays valid until the next call on r. timeout_ms < 0 waits
 * forever; the deadline covers the whole record. Returns 1 with a record, 0 at EOF (nothing
 * left), -ETIMEDOUT (nothing consumed is lost: the next call continues the same record), or a
 * read error (-EIO, -EBADF, ...). EINTR never surfaces.
 */
int subproc_reader_read_until(subproc_reader *r, int delim, const char **data, size_t *len,
                              int timeout_ms);
/* The same with delim '\n'. */
int subproc_reader_readline(subproc_reader *r, const char **line, size_t *len, int timeout_ms);
/* Closes the fd with SUBPROC_READER_OWN_FD. NULL is allowed. */
void subproc_reader_free(subproc_reader *r);

/*
 * popen() without a shell: start argv (or opts->argv when argv is NULL; opts may be NULL) with
 * its stdout ("r") or stdin ("w") connected to the returned stdio stream; "re"/"we" are accepted
 * too (the stream's fd is always O_CLOEXEC). The other streams follow opts (default: inherit).
 * Reads and writes on the stream retry EINTR; a write to a child that has exited fails with
 * EPIPE instead of raising SIGPIPE. Errors: -EINVAL (bad mode, no argv), those of
 * subproc_spawn() (err filled when given), -ENOMEM.
 */
int subproc_popen(FILE **out, const char *const *argv, const char *mode, const subproc_opts *opts,
                  subproc_error *err);
/*
 * Close a stream from subproc_popen() (flushing it, which sends EOF to a "w" child), wait for
 * the child and fill *status when given. Returns 0 or -EINVAL (f is not from subproc_popen),
 * -ECHILD. Works for a child that exited early too.
 */
int subproc_pclose(FILE *f, subproc_status *status);

/* ---- end of I/O ---- */

/* ---- Pipelines (pipeline.c) -------------------------------------------------------------- */

/*
 * A shell-free pipeline: stage i's stdout feeds stage i+1's stdin through a pipe made by the
 * library; the parent never copies the data. Each stage is a full subproc_opts (argv or fn, env,
 * cwd, stderr, extra fds, limits...). The pipeline's own stdin is stages[0].stdio[0] and its own
 * stdout is stages[n-1].stdio[1], in any form a single child takes (inherit, null, file, fd,
 * pipe); the stdin of later stages and the stdout of earlier ones are the library's.
 * All stages share one process group (led by the first stage that starts), so one signal reaches
 * them all. Stage options must not ask for process groups or sessions of their own, nor for
 * SUBPROC_IO_PTY, which brings one (-EINVAL).
 */
typedef struct subproc_pipeline subproc_pipeline;

#define SUBPROC_PIPELINE_NO_PIPEFAIL (1u << 0) /* the last stage decides the result (sh default) */
#define SUBPROC_PIPELINE_ALL_OR_NOTHING (1u << 1) /* a stage that fails to start fails it all */

/*
 * Start every stage. A stage that fails to start does not stop the others, as in a shell: its
 * neighbours see end-of-file or EPIPE, its status reads as exit code 127 (not found) or 126
 * (found, could not run), and subproc_pipeline_stage_error() says which step failed and why.
 * With SUBPROC_PIPELINE_ALL_OR_NOTHING the started stages are killed and reaped instead, and
 * the call fails with that stage's error (*failed_stage, when given, is its index).
 * Errors: -EINVAL (n == 0, bad flags, a stage asks for its own group/session, stdio of an inner
 * end set by the caller to something other than inherit), -ENOMEM, -EMFILE, a stage's error
 * under ALL_OR_NOTHING.
 */
int subproc_pipeline_spawn(subproc_pipeline **out, const subproc_opts *stages, size_t n,
                           unsigned flags, subproc_error *err, size_t *failed_stage);
/* The number of stages. */
size_t subproc_pipeline_size(const subproc_pipeline *pl);
/* Stage i's process, or NULL when it failed to start. Owned by the pipeline. */
subproc_proc *subproc_pipeline_proc(const subproc_pipeline *pl, size_t i);
/* Why stage i failed to start, or NULL when it started. */
const subproc_error *subproc_pipeline_stage_error(const subproc_pipeline *pl, size_t i);
/* The process group of all stages (-1 when no stage started). */
pid_t subproc_pipeline_pgid(const subproc_pipeline *pl);
/* The parent's end of the first stage's stdin (stream 0) or of the last stage's stdout (1) or
 * stderr (2), when those are SUBPROC_IO_PIPE; else -1. Owned by the pipeline. */
int subproc_pipeline_fd(const subproc_pipeline *pl, int stream);
/* Close that fd now (e.g. the first stage's stdin, to send EOF). No error when there is none. */
void subproc_pipeline_close_fd(subproc_pipeline *pl, int stream);

/*
 * Wait for every stage (timeout_ms < 0: forever). -ETIMEDOUT leaves the rest running.
 * Afterwards the per-stage results below are valid.
 */
int subproc_pipeline_wait(subproc_pipeline *pl, int timeout_ms);
/* Stage i's status (a stage that did not start: exited with 127 or 126). NULL before wait. */
const subproc_status *subproc_pipeline_status(const subproc_pipeline *pl, size_t i);
/* PIPESTATUS: codes[i] = stage i's shell-style code (exit code, or 128 + signal). */
void subproc_pipeline_pipestatus(const subproc_pipeline *pl, int *codes);
/* The pipeline's code: the rightmost non-zero stage code (pipefail), or the last stage's with
 * SUBPROC_PIPELINE_NO_PIPEFAIL. -1 before wait. */
int subproc_pipeline_code(const subproc_pipeline *pl);
/* sig (SIGTERM when 0) and SIGCONT to the whole group, up to grace_ms for it to end, then
 * SIGKILL to the group, and every stage reaped. */
int subproc_pipeline_terminate(subproc_pipeline *pl, int sig, int grace_ms);
/* Send sig (0 only checks) to every stage: to the pipeline's cgroup when it is contained in one
 * (every process of every stage's tree), else to the stages' process group through the handle of
 * a stage that is still unreaped (never by a bare group id: see subproc_proc_signal_group).
 * Returns 0, -EINVAL (bad signal), -ESRCH (nothing left to signal). */
int subproc_pipeline_signal(subproc_pipeline *pl, int sig);
/* The containment of the pipeline's stages (see Containment): SUBPROC_CONTAIN_CGROUP (one
 * cgroup for all stages), _PIDNS (one namespace per stage), _PGROUP, or 0. The first stage's
 * subproc_opts.contain, cgroup_parent, cgroup_limits and leftovers apply to the whole pipeline
 * (the other stages must give the same, or -EINVAL). */
unsigned subproc_pipeline_containment(const subproc_pipeline *pl);
/* Kill (SIGKILL to the group) and reap whatever still runs, close every fd, free. NULL ok. */
void subproc_pipeline_free(subproc_pipeline *pl);

/*
 * subproc_proc_communicate() for a pipeline: co->input goes to the first stage's stdin pipe, the
 * last stage's stdout and stderr pipes are captured/streamed/teed, every stage is waited for.
 * A deadline (or a callback that asks to stop) sends co->kill_signal to the whole group, then
 * SIGKILL after the grace period, so stages that ignore the signal end too. Afterwards the
 * per-stage results above are valid, and out->status is the status of the stage that decides
 * the pipeline's code (the rightmost failing one, or the last with NO_PIPEFAIL). Once every
 * stage has ended, the wait delay (co->wait_delay_ms) bounds reading what descendants still
 * hold open, as for a single child, and out->output_incomplete says when it ran out.
 * Errors: as subproc_proc_communicate().
 */
int subproc_pipeline_communicate(subproc_pipeline *pl, const subproc_comm_opts *co,
                                 subproc_result *out);
/*
 * Spawn, feed, capture, wait: subproc_run() for a pipeline. stages[0].stdin becomes a pipe when
 * co->input is given and it was left at inherit; the last stage's stdout/stderr likewise when
 * output is wanted. When keep is not NULL it receives the finished pipeline, for PIPESTATUS and
 * per-stage errors (free it with subproc_pipeline_free()). out->error names the first stage that
 * failed to start, if any. With SUBPROC_COMM_CHECK a non-zero pipeline code gives -SUBPROC_ECHECK.
 */
int subproc_pipeline_run(subproc_pipeline **keep, subproc_result *out, const subproc_opts *stages,
                         size_t n, unsigned flags, const subproc_comm_opts *co);

/* ---- end of pipelines ---- */

/* ---- Groups and pools (group.c, pool.c) --------------------------------------------------- */

/*
 * A set of running children waited on as one. Event-driven: on Linux the members' pidfds sit in
 * an epoll instance, so waiting costs nothing per member; on the portable backend (no pidfds)
 * the members are re-checked at growing intervals (1 ms to 20 ms). The group does not own its
 * members: subproc_proc_free() them yourself, after they leave the group.
 */
typedef struct subproc_group subproc_group;

/* Errors: -ENOMEM, -EMFILE (epoll_create1). */
int subproc_group_new(subproc_group **out);
/* Add a child. -EEXIST when already a member, -EINVAL when already reaped, -ENOMEM. */
int subproc_group_add(subproc_group *g, subproc_proc *p);
/* Take a child out (its pidfd leaves epoll first). -ENOENT when not a member. */
int subproc_group_remove(subproc_group *g, subproc_proc *p);
/* Members not yet returned by wait_any. */
size_t subproc_group_size(const subproc_group *g);
/*
 * Reap one member that has ended, remove it from the group, and return it in *out with its
 * status. timeout_ms < 0 waits forever, 0 only checks. -ETIMEDOUT when none ended in time,
 * -ECHILD when the group is empty.
 */
int subproc_group_wait_any(subproc_group *g, int timeout_ms, subproc_proc **out,
                           subproc_status *status);
/* Reap every member (each is removed; statuses stay readable from the procs). -ETIMEDOUT. */
int subproc_group_wait_all(subproc_group *g, int timeout_ms);
/* An fd that polls readable when wait_any would not block: for the caller's own event loop
 * (epoll, poll, libuv uv_poll). -1 when the group cannot offer one (portable backend). */
int subproc_group_fd(const subproc_group *g);
/* Free the group (not its members). NULL is allowed. */
void subproc_group_free(subproc_group *g);

/*
 * A job pool: run many commands with at most `jobs` at once, collect each result.
 * Each job names how to start it; the pool fills in the result fields.
 */
typedef struct subproc_job {
    const subproc_opts *opts; /* how to start it (stdout/stderr become pipes when capturing) */
    void *user;               /* yours */

    /* results, filled by subproc_pool_run() */
    int started;           /* 0: never started (halted, or spawn failed) */
    int spawn_rc;          /* 0, or the negative errno of a failed spawn (see error) */
    subproc_error error;   /* when spawn_rc < 0; or, for a started job, err = ECHILD when its
                              status was lost (reaped by someone else before Linux 6.15) */
    subproc_status status; /* when started */
    int timed_out;         /* the job's deadline passed and it was killed */
    char *out;             /* captured stdout (SUBPROC_POOL_CAPTURE), malloc'd, NUL-terminated;
                              NULL when the job wrote nothing to it or did not start */
    size_t out_len;
    char *err;             /* captured stderr, likewise */
    size_t err_len;
    int out_truncated;     /* bytes were dropped: past max_output, or no memory to keep them */
    int err_truncated;
    long long wall_usec;
    /* Filled only when subproc_pool_opts.version is 3 or later (the fields do not exist in an
     * older caller's array, whose elements the pool then steps through at their old size): */
    size_t out_head_len;   /* out[0, out_head_len) is the head of the output and the rest of
                              out_len its most recent bytes (the tail), as subproc_capture;
                              out_head_len == out_len when nothing was dropped */
    size_t err_head_len;
    unsigned long long out_total; /* bytes the job wrote to stdout, kept or not */
    unsigned long long err_total;
    int output_incomplete; /* with CAPTURE: the job ended, but something it started still held
                              a capture pipe a second later; output written after is missing
                              (see subproc_comm_opts.wait_delay_ms) */
} subproc_job;

#define SUBPROC_POOL_CAPTURE (1u << 0)       /* capture stdout and stderr of each job */
#define SUBPROC_POOL_HALT_ON_ERROR (1u << 1) /* after a failure start no new job */

typedef struct subproc_pool_opts {
    unsigned version; /* SUBPROC_POOL_OPTS_VERSION */
    unsigned flags;
    unsigned jobs;        /* at most this many at once; 0: the number of online CPUs */
    long long timeout_ms; /* per job; 0: none; any size (LLONG_MAX: never, in effect). The
                             job's process group gets kill_signal and SIGCONT, then SIGKILL
                             after kill_grace_ms */
    int kill_grace_ms;    /* 0: 2000 */
    size_t max_output;    /* per stream with CAPTURE; 0: unlimited. Over it the first half is
                             kept as the head and the most recent bytes as the tail, as
                             subproc_comm_opts.max_output does */
    /* Called in the calling thread as each job ends, in completion order. */
    void (*on_done)(void *ud, subproc_job *job, size_t ndone, size_t total);
    void *ud;
    /* Version 2 and later: */
    int kill_signal; /* sent at a job's deadline; 0: SIGTERM */
    /* Version 3 and later: */
    subproc_buffers *buffers; /* with CAPTURE: captures start in memory kept from earlier ones
                                 (see subproc_buffers_new()); give a job's back with
                                 subproc_buffers_recycle_job(). NULL: fresh memory */
} subproc_pool_opts;

/* 2 added kill_signal; 3 added buffers, and the head/total fields at the end of subproc_job:
 * with version 1 or 2 the pool treats jobs as an array of the shorter struct and never writes
 * those fields. Callers built with an earlier version are still accepted. */
#define SUBPROC_POOL_OPTS_VERSION 3
#ifdef __cplusplus
#define SUBPROC_POOL_OPTS_INIT {SUBPROC_POOL_OPTS_VERSION}
#else
#define SUBPROC_POOL_OPTS_INIT {.version = SUBPROC_POOL_OPTS_VERSION}
#endif

/*
 * Run jobs[0..n). Returns 0 once every job has ended or was skipped (whatever their exit codes:
 * read each job's fields), or a negative errno when the pool itself could not run (-EINVAL,
 * -ENOMEM, -EMFILE). A job that fails to start counts as failed (spawn_rc, error).
 * A job "fails" when it did not start, timed out, or did not exit with 0.
 */
int subproc_pool_run(subproc_job *jobs, size_t n, const subproc_pool_opts *opts);
/* Free what the pool allocated in a job (its captures). */
void subproc_job_clear(subproc_job *job);
/* Give a job's captures (out, err) back to b for reuse instead, then clear it as
 * subproc_job_clear() does. NULL b: the same as subproc_job_clear(). */
void subproc_buffers_recycle_job(subproc_buffers *b, subproc_job *job);

/* ---- end of groups ---- */

/* ---- Terminals (pty.c) -------------------------------------------------------------------- */

/*
 * A child on a pseudo-terminal: set any of opts.stdio[0..2] to SUBPROC_IO_PTY. The parent opens
 * the terminal with posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), grantpt(), unlockpt(), and opens
 * the slave side itself (O_NOCTTY | O_CLOEXEC; Linux: TIOCGPTPEER), applies the size and the
 * modes below, and closes its slave fd once the child has started. The child calls setsid() and
 * ioctl(TIOCSCTTY) on the slave (step SUBPROC_STEP_CTTY) before its fd plan, then gets the slave
 * as each stream that asked for it; the others keep their own kinds (e.g. stderr as a pipe).
 * SUBPROC_NEW_PGROUP is accepted and means the same; SUBPROC_JOIN_PGROUP is refused (-EINVAL):
 * a process cannot join a group of another session.
 *
 * The handle keeps the master end (subproc_proc_pty()). subproc_proc_fd() of a pty stream is a
 * copy of it, so communicate/run work as with pipes: stream 1 (or 2 when only stderr is on the
 * terminal) carries everything the terminal shows - output of every stream on it, and the echo
 * of input when ECHO is set. Input given to communicate/run is written to the terminal and
 * followed by the terminal's EOF character (VEOF; twice when the input does not end with a
 * newline, as a user ends a partial line); with ICANON off no EOF can be sent. Without input the
 * EOF character is sent at once. Lines longer than MAX_CANON (4095 on Linux) are cut by the
 * line discipline in canonical mode.
 *
 * Reading to the end: once every slave fd is closed, Linux reports EIO on the master (POSIX
 * leaves it open); the library reads until then and takes that EIO as end-of-file, after every
 * byte the child wrote. When the child (the session leader) exits, the kernel sends SIGHUP to
 * the terminal's foreground process group (POSIX "controlling process"); a descendant that
 * ignores it and keeps the terminal open keeps the output open, as with a pipe: use a deadline.
 */

#define SUBPROC_PTY_FROM_FD (1u << 0) /* copy modes and size from the terminal term_fd */
#define SUBPROC_PTY_RAW (1u << 1)     /* then cfmakeraw(): no echo, no line editing, no signals */

#define SUBPROC_PTY_OPTS_VERSION 1

struct termios;

/* The new terminal. Zero fields mean the default. */
typedef struct subproc_pty_opts {
    unsigned version; /* SUBPROC_PTY_OPTS_VERSION */
    unsigned flags;   /* SUBPROC_PTY_* */
    unsigned short rows, cols; /* window size in characters; 0: term_fd's with FROM_FD, else
                                  24 rows and 80 columns */
    int term_fd;      /* SUBPROC_PTY_FROM_FD: a terminal (e.g. 0) to copy from */
    /* Exact modes (tcsetattr) instead of the defaults or term_fd's; NULL: the defaults, which
     * are those of `stty sane`: ICRNL IXON BRKINT IMAXBEL, OPOST ONLCR, CS8 CREAD, ISIG ICANON
     * IEXTEN ECHO ECHOE ECHOK ECHOCTL ECHOKE, and ^C ^\ ^? ^U ^D ^Z ^W ^R ^V as VINTR VQUIT
     * VERASE VKILL VEOF VSUSP VWERASE VREPRINT VLNEXT, VMIN 1, VTIME 0. */
    const struct termios *termios;
} subproc_pty_opts;

#ifdef __cplusplus
#define SUBPROC_PTY_OPTS_INIT {SUBPROC_PTY_OPTS_VERSION}
#else
#define SUBPROC_PTY_OPTS_INIT {.version = SUBPROC_PTY_OPTS_VERSION}
#endif

/* The master end of the child's terminal (SUBPROC_IO_PTY), or -1. O_CLOEXEC, owned by p and
 * closed by subproc_proc_free(): read what the terminal shows, write what a user types. */
int subproc_proc_pty(const subproc_proc *p);

/* Set the window size of the terminal whose master (or slave) is fd: TIOCSWINSZ. The kernel
 * sends SIGWINCH to the terminal's foreground process group when the size changes.
 * Errors: -EINVAL (rows or cols 0, or above 65535), -ENOTTY, -EBADF. */
int subproc_pty_set_size(int fd, unsigned rows, unsigned cols);
/* The window size (TIOCGWINSZ) into *rows and *cols. -ENOTTY, -EBADF. */
int subproc_pty_get_size(int fd, unsigned *rows, unsigned *cols);
/*
 * Type the terminal's special character cc (an index into c_cc: VEOF, VINTR, VQUIT, VSUSP, ...)
 * on the master fd, as a user at a keyboard would: the character is read from the terminal's
 * current modes (tcgetattr), so a program that changed it is still reached. What it does is the
 * line discipline's: VINTR raises SIGINT in the foreground process group when ISIG is set, VEOF
 * ends a read when ICANON is set. Errors: -EINVAL (cc out of range), -ENOTSUP (the character is
 * disabled, _POSIX_VDISABLE), -ENOTTY, -EBADF, -EIO (the child side is closed).
 */
int subproc_pty_send_cc(int fd, int cc);
int subproc_pty_send_eof(int fd);  /* subproc_pty_send_cc(fd, VEOF): Ctrl-D */
int subproc_pty_send_intr(int fd); /* subproc_pty_send_cc(fd, VINTR): Ctrl-C */

/*
 * Expect-style dialogue over a child's output: wait until it matches a literal string or a POSIX
 * extended regular expression (regcomp(REG_EXTENDED)), with a deadline; send input. The reader
 * reads from rfd (e.g. subproc_proc_pty(p), or a stdout pipe) and sends to wfd (the same pty
 * master, or a stdin pipe; -1: no sending). Neither fd is owned unless SUBPROC_EXPECT_OWN_FDS.
 * Output not yet matched is kept in memory (up to max_buffer bytes).
 */
typedef struct subproc_expect subproc_expect;

#define SUBPROC_EXPECT_OWN_FDS (1u << 0) /* subproc_expect_free() closes rfd and wfd */
#define SUBPROC_EXPECT_REGEX (1u << 1)   /* subproc_expect_match(): pattern is a POSIX ERE */
#define SUBPROC_EXPECT_ICASE (1u << 2)   /* ... matched ignoring case (REG_ICASE; regex only) */

/* What a match found. Both pointers are NUL-terminated, point into the reader's buffer and stay
 * valid until the next call on the reader. */
typedef struct subproc_match {
    const char *before; /* output read before the match (everything left at end-of-file) */
    size_t before_len;
    const char *match; /* the matched text ("" at end-of-file) */
    size_t match_len;
} subproc_match;

/* New reader. max_buffer: most bytes kept unmatched (0: 16 MiB). Errors: -EINVAL (rfd < 0,
 * unknown flags), -ENOMEM. */
int subproc_expect_new(subproc_expect **out, int rfd, int wfd, size_t max_buffer, unsigned flags);
/*
 * Read until the output holds pattern (a literal string, or with SUBPROC_EXPECT_REGEX an ERE;
 * the earliest match wins, and a regex matches what has arrived so far, so "a.*b" may stop at
 * the first b) or, with pattern NULL, until end-of-file. timeout_ms < 0 waits forever.
 * Returns 1 with *m filled and everything up to the end of the match consumed; 0 at end-of-file
 * without a match (*m->before holds what was left, now consumed); -ETIMEDOUT (nothing consumed:
 * a later call sees the same output); -EINVAL (bad pattern: regcomp refused it, or empty);
 * -ENOBUFS (max_buffer bytes without a match); a read error (-EBADF, ...). EIO on a pty master
 * is end-of-file. EINTR never surfaces. A regex sees the output up to its first NUL byte.
 */
int subproc_expect_match(subproc_expect *e, const char *pattern, unsigned flags,
                         int timeout_ms, subproc_match *m);
/* Write all of data to wfd within timeout_ms (< 0: forever). Returns 0, -ETIMEDOUT, -EBADF (no
 * wfd), -EPIPE or -EIO (the child side is gone; no SIGPIPE is left behind, see I/O). */
int subproc_expect_send(subproc_expect *e, const void *data, size_t len, int timeout_ms);
/* The unmatched output read so far (NUL-terminated; valid until the next call on e). */
const char *subproc_expect_pending(const subproc_expect *e, size_t *len);
/* NULL is allowed. */
void subproc_expect_free(subproc_expect *e);

/* ---- end of terminals ---- */
/* ---- Remote children (remote.c) ---------------------------------------------------------- */

/*
 * A child on another host, through the OpenSSH client. Set opts.remote and spawn as usual: argv,
 * cwd, SUBPROC_SET_UMASK and stdin/stdout/stderr (inherit, null, pipe, socket, file, fd) mean
 * what they mean for a local child, so communicate, run, deadlines, pipelines and pools work
 * unchanged. The handle's process (pid, pidfd, pgid, pipes) is the local ssh client; the status
 * is the remote program's.
 *
 * - argv arrives byte for byte: ssh hands the remote login shell one string, built with
 *   subproc_shell_quote(), which that shell turns back into the same words (any POSIX shell).
 * - A small POSIX sh wrapper on the host checks cwd and the program first (a failure comes back
 *   from the spawn with the step chdir, resolve or exec and path "HOST:PATH"), runs the program
 *   in the process group sshd made for the session, and reports its status. A second session,
 *   the control session, watches: when the child is signalled through the library the signal
 *   goes to the remote group (SIGKILL to the local ssh as well); when the local ssh ends (deadline, kill, handle freed, the caller
 *   exits) or the connection drops, the whole remote group gets TERM and CONT, then KILL after
 *   kill_grace_ms, so nothing is left running there.
 * - Status: a remote exit code as it is (255 included); a remote death by signal N as signalled
 *   with N. The remote shell reports a death by signal N as 128 + N, so an exit code from 129 to
 *   128 + the highest signal number reads as that signal (as in any shell). When the connection
 *   drops the status is ssh's own: exited with 255.
 * - ssh failures before the program started (unreachable host, refused key, unknown host key)
 *   fail the spawn with SUBPROC_STEP_REMOTE, err ECONNREFUSED, EHOSTUNREACH, EACCES, ETIMEDOUT,
 *   ENOENT (no such host) or EIO, and ssh's last line of error output in err->path.
 * - Connection reuse: unless SUBPROC_REMOTE_NO_MASTER, one ssh ControlMaster per (ssh command,
 *   user, host, port) is started on first use (a child of the caller, in its own process group,
 *   socket in a private 0700 directory under /tmp) and ended when the last handle using it is
 *   freed, or at exit(). N children on a host then cost one handshake. A master carries at
 *   most 4 children at once: each child is two sessions and sshd refuses more than MaxSessions
 *   (10 by default, sshd_config(5)) on one connection, so the 5th child at once gets a second
 *   master (and handshake) for the same host, the 9th a third, and so on. The library's ssh
 *   options (-T, ControlMaster, ControlPath, ControlPersist) come before ssh_argv's (ssh keeps
 *   the first value), so the caller's multiplexing settings do not apply then; with
 *   SUBPROC_REMOTE_NO_MASTER they do (ssh_argv or ssh_config).
 * Not available remotely (-EINVAL, step options): fork mode, opts.program, opts.env (the local
 * environment is not the remote one: use remote->env), extra fds, uid/gid/groups, rlimits, nice,
 * SUBPROC_NO_PATH_SEARCH. Process group, session, signal mask and pdeathsig flags apply to the
 * local ssh.
 * Security: host keys and authentication are the business of the user's ssh configuration (or
 * ssh_argv); the library adds no shell beyond the remote login shell that ssh always uses, and
 * its wrapper runs with `set -f` and never evaluates an argument.
 */
#define SUBPROC_REMOTE_NO_MASTER (1u << 0) /* no ControlMaster: each child its own connection */

#define SUBPROC_REMOTE_VERSION 1
struct subproc_remote {
    unsigned version;  /* SUBPROC_REMOTE_VERSION */
    unsigned flags;    /* SUBPROC_REMOTE_* */
    const char *host;  /* host name or address as ssh takes it; must not start with '-' */
    const char *user;  /* NULL: ssh's choice (ssh_config User, or the local user name) */
    int port;          /* 0: ssh's choice (ssh_config Port, or 22) */
    /* The ssh command and its options, NULL-terminated, e.g. {"ssh", "-i", "key", "-o",
     * "BatchMode=yes", NULL}; NULL means {"ssh", NULL}. A name without '/' is looked up in PATH.
     * BatchMode=yes is advised: a password prompt would otherwise wait on the terminal. */
    const char *const *ssh_argv;
    /* Changes to the remote login environment, NULL-terminated: "NAME=VALUE" sets NAME,
     * "NAME" removes it. NULL: none. */
    const char *const *env;
    int kill_grace_ms; /* remote TERM to KILL when the control session ends; 0: 2000 */
};
#ifdef __cplusplus
#define SUBPROC_REMOTE_INIT {SUBPROC_REMOTE_VERSION}
#else
#define SUBPROC_REMOTE_INIT {.version = SUBPROC_REMOTE_VERSION}
#endif

/*
 * Hold a host's connection: start (or share) its ControlMaster now and keep it until
 * subproc_remote_conn_free(), so that children started one after another (each handle freed
 * before the next starts) reuse it too; without a hold the master ends with the last handle.
 * Only host, user, port and ssh_argv of rm are used; it need not outlive the call.
 * Errors: -EINVAL (bad rm, or SUBPROC_REMOTE_NO_MASTER), -ENOMEM, ssh failures as for a spawn
 * (step SUBPROC_STEP_REMOTE, ssh's message in err->path).
 */
typedef struct subproc_remote_conn subproc_remote_conn;
int subproc_remote_connect(subproc_remote_conn **out, const subproc_remote *rm,
                           subproc_error *err);
/* Let go of the hold (the master ends when no child uses it either). NULL is allowed. */
void subproc_remote_conn_free(subproc_remote_conn *c);

/*
 * 1 when p is a remote child whose ssh ended before the wrapper on the host reported the
 * program's status - the connection dropped, or sshd or the session was killed - so that its
 * status (exited with 255) is ssh's own and says nothing of the program; 0 otherwise (a local
 * child, not yet reaped, or a status that came from the host). The program itself was ended by
 * the host's clean-up (see above). p may be NULL (0).
 */
int subproc_proc_remote_lost(const subproc_proc *p);

/*
 * POSIX shell quoting of one argument of len bytes (NUL bytes are refused: -1): the argument in
 * single quotes, each ' inside written as '\'' ; the empty string is ''. Every byte from 1 to 255
 * stands for itself inside single quotes (POSIX.1-2017 XCU 2.2.2), so any POSIX shell reads the
 * word back exactly. Writes at most size bytes to buf (NUL-terminated when size > 0, like
 * snprintf) and returns the length of the full quoted text, without the NUL.
 */
long subproc_shell_quote(char *buf, size_t size, const char *arg, size_t len);

/* ---- end of remote children ---- */

#ifdef __cplusplus
}
#endif

#endif /* SUBPROC_H */
