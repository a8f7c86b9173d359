/* Internal interfaces shared by the library's source files. Not installed. */
#ifndef SUBPROC_INTERNAL_H
#define SUBPROC_INTERNAL_H

#include "subproc.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>

#define SUBPROC__HIDDEN __attribute__((visibility("hidden")))

/* One step of the child's fd plan: dup2(src, dst), or, when src == dst, clear FD_CLOEXEC.
 * As the caller's request (spawn.c), a move of parent fd src to child fd dst; as the solved
 * plan (subproc__plan_fds), one step of an order in which no dup2 overwrites an fd still to be
 * read. dst may then be a temporary number that breaks a cycle; report is the child fd an error
 * of the step names. */
struct subproc__move {
    int src;
    int dst;
    int report;
};

/*
 * Everything the child needs, prepared by the parent before clone/fork (see child.c).
 * With the Linux backend the child shares this memory with the suspended parent; it writes only
 * the fields marked "child writes".
 */
struct subproc__plan {
    /* exec mode */
    char *const *argv;
    char *const *envp;
    const char *const *cands; /* paths to try with execve, in order */
    size_t ncands;
    int searched; /* cands come from a PATH search */
    /* fork mode */
    int (*fn)(void *);
    void *fn_arg;

    struct subproc__move *moves; /* the solved plan, executed in this order */
    size_t nmoves;
    const int *early;  /* sorted, unique parent fds >= 3 the plan reads: every other fd >= 3
                          is closed first thing in the child */
    size_t nearly;
    const int *keep;   /* sorted, unique child fds >= 3 that survive */
    size_t nkeep;
    int hi;            /* an fd number above every fd the plan mentions */
    int maxfd;         /* highest fd that may be open, for the no-close_range fallback */

    unsigned flags;
    const char *cwd;
    pid_t pgid;
    mode_t umask;
    int nice;
    const subproc_rlimit *rlimits;
    size_t nrlimits;
    sigset_t child_mask; /* the mask the program starts with */
    int pdeathsig;
    pid_t parent_pid;
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    size_t ngroups;

    int errfd; /* error pipe write end (fork backends), or -1: report into the fields below */
    /* SUBPROC_DETACH: shared memory (MAP_SHARED) where the intermediate puts the program's PID */
    volatile pid_t *detached_pid;

    /* containment (contain.c) */
    int cgroup_fd;       /* cgroup directory to start the child in (clone3), or -1 */
    int cgroup_procs_fd; /* its cgroup.procs, for a child that must join it itself, or -1 */
    int in_cgroup;       /* set by the backend once clone3 started the child inside */
    int sighand_cleared; /* set by the backend: clone3 reset every caught signal to SIG_DFL
                            (CLONE_CLEAR_SIGHAND), so child.c need not look */
    int newpid;          /* start the child as init of a new PID namespace */
    int newuser;         /* ... with a user namespace of its own (unprivileged callers) */
    int gofd;            /* fork backend: read end the child waits on until the parent holds its
                            pidfd, or -1 */
    int ctty_fd; /* a pty slave (parent fd number) to make the controlling terminal, or -1 */

    /* child writes: the failure, when there is one */
    volatile int fail_step;
    volatile int fail_errno;
    volatile int fail_fd;
    volatile int fail_cand; /* index into cands for exec failures, else -1 */
};

/* What the child sends through the error pipe. */
struct subproc__report {
    int step;
    int err;
    int fd;
    int cand;
};

/* A cgroup made for one child (cgroup.c). */
struct subproc__cgroup {
    int dirfd;    /* the cgroup itself */
    int eventsfd; /* its cgroup.events, opened when first asked for (subproc__cgroup_events) */
    uint64_t id;  /* its cgroup id (the directory's inode number) */
    char *path;   /* malloc'd absolute path */
};

struct subproc_proc {
    pid_t pid;
    int pidfd;
    pid_t pgid;
    unsigned contain;  /* SUBPROC_CONTAIN_* mechanism that holds the tree, or 0 */
    int leftovers;     /* SUBPROC_LEFTOVERS_* */
    struct subproc__cgroup cg; /* contain == SUBPROC_CONTAIN_CGROUP */
    int fds[3];
    int pty; /* master end of the child's terminal (SUBPROC_IO_PTY), or -1 */
    pthread_mutex_t lock; /* guards reaped/status against concurrent wait and signal */
    int reaped;
    int lost; /* someone else reaped it (ECHILD) */
    subproc_status status;
    struct subproc__remote *remote; /* remote.c: the host side of a remote child, or NULL */
};

struct subproc_env {
    char **vars; /* NULL-terminated "NAME=VALUE" strings, each malloc'd */
    size_t n;
    size_t cap;
};

/* child.c: runs in the child, never returns. */
SUBPROC__HIDDEN _Noreturn void subproc__child(struct subproc__plan *pl);
/* clone() entry point for the Linux backend. */
SUBPROC__HIDDEN int subproc__child_entry(void *plan);
/* clone() entry point of the backend probe: sets *(int *)flag to 1 and exits. */
SUBPROC__HIDDEN int subproc__probe_entry(void *flag);

/* spawn_linux.c / spawn_posix.c: start the child described by pl. On success *pid is set and
 * *pidfd is a pidfd or -1. On failure returns -errno and fills err (step, errno, fd). */
SUBPROC__HIDDEN int subproc__spawn_linux(struct subproc__plan *pl, pid_t *pid, int *pidfd,
                                         subproc_error *err);
SUBPROC__HIDDEN int subproc__spawn_posix(struct subproc__plan *pl, pid_t *pid, int *pidfd,
                                         subproc_error *err);
SUBPROC__HIDDEN int subproc__have_linux_backend(void);

/* fdutil (fdmap.c) */
SUBPROC__HIDDEN int subproc__fd_valid(int fd);
SUBPROC__HIDDEN int subproc__fd_lift(int fd); /* move an fd of ours to >= 3, CLOEXEC */
SUBPROC__HIDDEN int subproc__pipe(int fds[2]); /* CLOEXEC pipe, both ends >= 3 */
SUBPROC__HIDDEN int subproc__socketpair(int fds[2]); /* the same with an AF_UNIX stream pair */
SUBPROC__HIDDEN void subproc__close(int fd);   /* close, keeping errno */
SUBPROC__HIDDEN int subproc__max_open_fd(void);
/* Solve the n requested moves in req (unique dsts) into pl: ops needs room for 2n steps,
 * keep and early for n fds each. */
SUBPROC__HIDDEN int subproc__plan_fds(struct subproc__plan *pl, struct subproc__move *req,
                                      size_t n, struct subproc__move *ops, int *keep, int *early,
                                      int extra_fd);
SUBPROC__HIDDEN int subproc__pidfd_open(pid_t pid);

/* wait.c */
SUBPROC__HIDDEN void subproc__status_from_wait(subproc_status *st, int wstatus,
                                               const struct rusage *ru);
SUBPROC__HIDDEN int subproc__sig_valid(int sig);
/* Whether a "signal, grace, KILL" sequence sends SIGCONT right after sig: a stopped process acts
 * on a signal only once it is continued (timeout(1) does the same). */
static inline int subproc__needs_cont(int sig)
{
    return sig != SIGKILL && sig != SIGCONT;
}
/* reap pid (blocking), retrying EINTR: for failed spawns */
SUBPROC__HIDDEN void subproc__reap(pid_t pid);

/* pidfd.c: acting through pidfds. Each returns 0 or -errno; -EOPNOTSUPP/-ENOSYS when the kernel
 * lacks the feature (then the caller falls back, see wait.c). */
SUBPROC__HIDDEN int subproc__pidfd_signal(int pidfd, int sig);
SUBPROC__HIDDEN int subproc__pidfd_signal_group(int pidfd, int sig);
/* The exit status of a reaped process (PIDFD_INFO_EXIT); -ECHILD when the kernel cannot say. */
SUBPROC__HIDDEN int subproc__pidfd_exit_status(int pidfd, subproc_status *st);
SUBPROC__HIDDEN int subproc__pidfd_cgroupid(int pidfd, uint64_t *id);
/* Test hooks: pretend PIDFD_SIGNAL_PROCESS_GROUP / PIDFD_GET_INFO are missing. */
extern int subproc__test_no_pgsig;
extern int subproc__test_no_pidfd_info;

/* spawn_linux.c: whether the next spawn will have the kernel reset the child's signal handlers
 * (clone3 with CLONE_CLEAR_SIGHAND: x86-64, Linux 5.5); 0 once the kernel refused it. Test hook:
 * pretend it refuses, so that child.c's own scan runs. */
SUBPROC__HIDDEN int subproc__clear_sighand_works(void);
extern int subproc__test_no_clear_sighand;

/* wait.c: test hook: a blocking wait sleeps in poll() on the pidfd and reaps in a second step,
 * as where waitid cannot take a pidfd (before Linux 5.4). */
extern int subproc__test_no_pidfd_wait;

/* wait.c: signal p (group != 0: its process group) if it may still be signalled: the one place
 * every path goes through (see wait.c). */
SUBPROC__HIDDEN int subproc__proc_send(subproc_proc *p, int sig, int group);

/* cgroup.c */
SUBPROC__HIDDEN const char *subproc__cgroup_mount(void);
SUBPROC__HIDDEN void subproc__cgroup_init(struct subproc__cgroup *cg); /* empty: nothing held */
/* Its cgroup.events, opened on first use (pollable, POLLPRI); -errno. */
SUBPROC__HIDDEN int subproc__cgroup_events(struct subproc__cgroup *cg);
/* The plan's cgroup.procs fd for a child that joins by itself, opened now if not yet: 0 or
 * -errno (spawn backends, when clone3 cannot start the child inside). */
SUBPROC__HIDDEN int subproc__plan_join_fd(struct subproc__plan *pl);
SUBPROC__HIDDEN int subproc__cgroup_create(struct subproc__cgroup *cg, const char *parent,
                                           const subproc_cgroup_limits *lim, subproc_error *err);
SUBPROC__HIDDEN int subproc__cgroup_populated(struct subproc__cgroup *cg);
SUBPROC__HIDDEN int subproc__cgroup_kill(struct subproc__cgroup *cg);
SUBPROC__HIDDEN int subproc__cgroup_signal(const struct subproc__cgroup *cg, int sig);
SUBPROC__HIDDEN int subproc__cgroup_freeze(struct subproc__cgroup *cg, int on);
SUBPROC__HIDDEN int subproc__cgroup_stats(const struct subproc__cgroup *cg, subproc_tree_stats *st);
/* Kill (kill_rest) or move out what is left, then remove the cgroup and close its fds. */
SUBPROC__HIDDEN void subproc__cgroup_release(struct subproc__cgroup *cg, int kill_rest);
SUBPROC__HIDDEN void subproc__cgroup_destroy(struct subproc__cgroup *cg);

/* contain.c: the spawn side and the deadline side of containment. */
struct subproc__contain {
    unsigned mech;
    struct subproc__cgroup cg;
};
/* A cgroup for o's tree when o->contain asks for one: 0 made, 1 not (try the next mechanism),
 * or -errno (err filled) when the caller named a parent or limits that cannot be had. */
SUBPROC__HIDDEN int subproc__contain_cgroup(struct subproc__cgroup *cg, const subproc_opts *o,
                                            subproc_error *err);
/* Choose the mechanism for o->contain and prepare the plan for it; 0 or -errno (err filled). */
SUBPROC__HIDDEN int subproc__contain_prepare(struct subproc__contain *ct, const subproc_opts *o,
                                             struct subproc__plan *pl,
                                             const struct subproc__cgroup *join,
                                             subproc_error *err);
/* subproc_spawn(), but started inside join (a cgroup owned by the caller, e.g. a pipeline's)
 * when it is not NULL; the handle does not own that cgroup. */
SUBPROC__HIDDEN int subproc__spawn_into(subproc_proc **out, const subproc_opts *o,
                                        subproc_error *err, const struct subproc__cgroup *join);
/* After the spawn: hand the tree to p (ok) or undo everything (!ok). Closes plan fds. */
SUBPROC__HIDDEN void subproc__contain_finish(struct subproc__contain *ct,
                                             struct subproc__plan *pl, subproc_proc *p, int ok);
/* The child has ended: apply p->leftovers (kill, or nothing). */
SUBPROC__HIDDEN void subproc__contain_child_ended(subproc_proc *p);
/* subproc_proc_terminate(..., SUBPROC_TERM_TREE). */
SUBPROC__HIDDEN int subproc__tree_terminate(subproc_proc *p, int sig, int grace_ms,
                                            subproc_status *out);
/* The handle is being freed: kill or move out what is left, remove the cgroup. */
SUBPROC__HIDDEN void subproc__contain_release(subproc_proc *p);

/* spawn.c: options of either version. subproc__opts_size() is the caller's struct size (the
 * stride of a caller's array of them); subproc__opts_copy() makes a current-version copy. */
SUBPROC__HIDDEN size_t subproc__opts_size(const subproc_opts *o);
SUBPROC__HIDDEN void subproc__opts_copy(subproc_opts *dst, const subproc_opts *src);
/* pty.c: the terminal of one spawn; every SUBPROC_IO_PTY stream shares it. */
struct subproc__pty {
    int master, slave; /* -1 until the first pty stream opens them */
    const subproc_pty_opts *opts;
    int out_given; /* an output stream already has its copy of the master */
};
SUBPROC__HIDDEN void subproc__pty_init(struct subproc__pty *t);
/* Open the terminal on first use; returns the slave (the child's fd source for stream i) and
 * puts in *parent_end a copy of the master for the handle's fds[i] (-1 for stderr when stdout
 * already has one), or returns < -1 (a negative errno, err filled). */
SUBPROC__HIDDEN int subproc__pty_stream(struct subproc__pty *t, const subproc_io *stdio, int i,
                                        int *parent_end, subproc_error *err);
/* Close the slave, and the master unless the handle takes it. */
SUBPROC__HIDDEN void subproc__pty_release(struct subproc__pty *t, int keep_master);
/* communicate's input for a pty stdin: a malloc'd copy of in followed by VEOF (see subproc.h)
 * in *buf; *in and *len are replaced. 0, or -ENOMEM. Nothing to do (0, *buf NULL) when stdin is not
 * this handle's terminal. */
SUBPROC__HIDDEN int subproc__pty_input(const subproc_proc *p, const void **in, size_t *len,
                                       char **buf);
/* remote.c: a child on another host (see subproc.h, "Remote children"). spawn.c hands it every
 * spawn with opts->remote; wait.c calls _reaped once the local ssh is reaped (maps the status,
 * ends the control session), _signal for every signal but 0 and SIGKILL (forwarded to the remote
 * group), and _free from subproc_proc_free (NULL-safe; releases the ControlMaster). */
struct subproc__remote;
SUBPROC__HIDDEN int subproc__remote_spawn(subproc_proc **out, const subproc_opts *o,
                                          subproc_error *err);
SUBPROC__HIDDEN void subproc__remote_reaped(subproc_proc *p);
SUBPROC__HIDDEN int subproc__remote_signal(subproc_proc *p, int sig);
SUBPROC__HIDDEN void subproc__remote_free(subproc_proc *p);

/* error.c */
SUBPROC__HIDDEN int subproc__fail(subproc_error *err, subproc_step step, int e, int fd,
                                  const char *path);

/* env.c */
SUBPROC__HIDDEN int subproc__env_name_ok(const char *name, size_t len);

/* Defaults shared by every "signal, grace period, SIGKILL, drain" sequence. */
#define SUBPROC__DEFAULT_GRACE_MS 2000
#define SUBPROC__DEFAULT_DRAIN_MS 100
/* alloc.c: the library allocates only through these. */
SUBPROC__HIDDEN void *subproc__malloc(size_t n);
SUBPROC__HIDDEN void *subproc__calloc(size_t n, size_t size);
SUBPROC__HIDDEN void *subproc__realloc(void *p, size_t n);
/* 1 when the allocation being made must fail (test hook); also used for the clone stack. */
SUBPROC__HIDDEN int subproc__alloc_fails(void);
/* Test hook: make the nth allocation of the calling thread from now fail (1 = the next one),
 * once; 0 turns it off. Always compiled in; costs one thread-local test per allocation. */
SUBPROC__HIDDEN void subproc__test_fail_alloc_after(unsigned long n);

/* time */
SUBPROC__HIDDEN int64_t subproc__now_ms(void);
/* Every deadline is a point on the subproc__now_ms() clock computed here, and every wait derived
 * from one goes through subproc__ms_left(): huge durations (LLONG_MAX ms) saturate, far in the
 * future, instead of wrapping into the past (signed overflow is undefined behaviour besides). */
static inline int64_t subproc__deadline_after(int64_t now, long long ms)
{
    if (ms <= 0) return now;
    return ms > INT64_MAX - now ? INT64_MAX : now + ms;
}
/* Milliseconds from now to deadline for poll()/wait calls: 0 when passed, at most INT_MAX. */
static inline int subproc__ms_left(int64_t deadline, int64_t now)
{
    if (deadline <= now) return 0;
    return deadline - now > 0x7fffffff ? 0x7fffffff : (int)(deadline - now);
}

/* ---- io.c: the pump, shared by communicate and pipelines ---- */

/*
 * The pump moves bytes between the parent and up to SUBPROC__PUMP_MAX_OUT output pipes and one
 * input pipe, in the calling thread, with poll(). It is a restartable state machine: run it,
 * and when it stops at a deadline, do something (signal the child) and run it again.
 *
 * Contract:
 *  - subproc__pump_init() takes ownership of in_fd and every out[i].fd (>= 0 ones): they are set
 *    O_NONBLOCK (so they must be the parent's exclusive pipe ends) and the pump closes each one
 *    at EOF / when the input is fully written or refused (EPIPE), or in subproc__pump_finish().
 *    The input buffer and co must stay valid until finish.
 *  - out[i].stream tags the stream for on_output (1 stdout, 2 stderr); out[i].cap, when not NULL,
 *    receives the capture (co->max_output, SUBPROC_COMM_NO_CAPTURE apply); tee per
 *    co->flags/tee_*_fd by stream number.
 *  - subproc__pump_run() returns 0 when every fd is closed, 1 when done(arg) returned non-zero
 *    (checked after every poll wake-up; wake_fd, e.g. a pidfd, wakes the poll when readable;
 *    without one poll sleeps at most 10 ms at a time while done is set), -ETIMEDOUT when
 *    deadline_ms (subproc__now_ms() clock; 0 = none) passed, -ECANCELED when on_output asked to
 *    stop, or -errno for a pipe read error / -ENOMEM (that stream is then closed). EINTR is
 *    retried. SIGPIPE is handled as documented in subproc.h.
 *  - subproc__pump_finish() delivers a pending partial line, closes every fd still open,
 *    finalises the captures (tail put in order, NUL added, data non-NULL when capturing) and
 *    frees the pump's own memory. Always call it once after init.
 */
#define SUBPROC__PUMP_MAX_OUT 2

struct subproc__pump_out {
    int fd;
    int stream;
    subproc_capture *cap;
    /* private */
    size_t cap_size;    /* allocated bytes of cap->data */
    size_t faulted;     /* cap->data[0, faulted) is known to be backed by pages */
    size_t wpos;        /* ring write position once truncating */
    int ring;           /* the capture reached max_output: [head_len, max) is a ring */
    char *line;         /* SUBPROC_COMM_LINES: the partial line so far */
    size_t line_len, line_size;
    int tee_fd;
    int no_splice;      /* forward.c: the kernel refused to splice to tee_fd */
};

struct subproc__pump {
    int in_fd;
    const char *in;
    size_t in_len, in_off;
    struct subproc__pump_out out[SUBPROC__PUMP_MAX_OUT];
    size_t nout;
    const subproc_comm_opts *co;
    char *scratch; /* read buffer when not reading straight into a capture */
    int epipe;     /* a write hit EPIPE */
    int cancelled; /* on_output asked to stop: it is not called again */
};

/* in may be NULL with in_len 0. co must be non-NULL (use a default-initialised one). */
SUBPROC__HIDDEN int subproc__pump_init(struct subproc__pump *pm, int in_fd, const void *in,
                                       size_t in_len, const struct subproc__pump_out *outs,
                                       size_t nout, const subproc_comm_opts *co);
SUBPROC__HIDDEN int subproc__pump_run(struct subproc__pump *pm, int64_t deadline_ms, int wake_fd,
                                      int (*done)(void *), void *arg);
SUBPROC__HIDDEN void subproc__pump_finish(struct subproc__pump *pm);
/* SIGPIPE around the library's own writes to a child (see subproc.h, I/O): blocked in the
 * calling thread only; on release, the SIGPIPE our failed write raised is consumed unless one
 * was already pending before (that one is the caller's). Dispositions are never touched. */
struct subproc__sigpipe {
    sigset_t set, old;
    int was_pending;
};
SUBPROC__HIDDEN void subproc__sigpipe_hold(struct subproc__sigpipe *g);
SUBPROC__HIDDEN void subproc__sigpipe_release(struct subproc__sigpipe *g, int epipe);

/* Shared by communicate/run and the pipeline's versions of them. */
/* ---- forward.c: tee without copying through user space ---- */
#define SUBPROC__FORWARD_FALLBACK 2 /* not forwarded: read o as usual */
/* Whether o's bytes go only to its tee fd, so that splice() can move them. */
SUBPROC__HIDDEN int subproc__forward_wanted(const struct subproc__pump *pm,
                                            const struct subproc__pump_out *o);
/* One splice from o->fd to o->tee_fd: 0 moved or nothing yet, 1 EOF, or
 * SUBPROC__FORWARD_FALLBACK (refused, or the tee stopped on a write error: read o instead). */
SUBPROC__HIDDEN int subproc__forward(struct subproc__pump *pm, struct subproc__pump_out *o);
SUBPROC__HIDDEN void subproc__test_no_splice(int on);

/* ---- buffers.c: reusable capture memory ---- */
/* Take the largest block kept in b: 1 with *data (malloc'd, now the caller's), *size (its usable
 * size) and *faulted (how much of it is backed by pages); 0 when b keeps none. */
SUBPROC__HIDDEN int subproc__buffers_take(subproc_buffers *b, char **data, size_t *size,
                                          size_t *faulted);
/* co->buffers, or NULL for a version 1 caller (whose struct ends before it). */
SUBPROC__HIDDEN subproc_buffers *subproc__comm_buffers(const subproc_comm_opts *co);

SUBPROC__HIDDEN extern const subproc_comm_opts subproc__default_comm;
SUBPROC__HIDDEN int subproc__comm_opts_check(const subproc_comm_opts *co);
/* What is wrong with co, in words for subproc_error.path, or NULL. */
SUBPROC__HIDDEN const char *subproc__comm_opts_problem(const subproc_comm_opts *co);
SUBPROC__HIDDEN void subproc__result_init(subproc_result *out);
SUBPROC__HIDDEN int subproc__comm_wants_output(const subproc_comm_opts *co, int stream);
SUBPROC__HIDDEN int subproc__result_captures(subproc_result *out, const subproc_comm_opts *co,
                                             int r);
/* The bound on reading after the direct child ended (subproc_comm_opts.wait_delay_ms and its
 * default), or -1 for none. */
SUBPROC__HIDDEN long long subproc__wait_delay(const subproc_comm_opts *co);
/*
 * Run the pump until the deadline passes, or:
 *  - delay < 0: until every pipe is at end-of-file (the child may still run);
 *  - delay >= 0: until done(arg) says the child (every stage) ended and then every pipe is at
 *    end-of-file or delay ms have passed; in the latter case *incomplete is set: a descendant
 *    holds a pipe. wake_fd (a pidfd, or -1) wakes the poll when the child ends.
 * Returns 0 in those cases, or -ETIMEDOUT, -ECANCELED or a read error as subproc__pump_run.
 */
SUBPROC__HIDDEN int subproc__pump_until_exit(struct subproc__pump *pm, int64_t deadline,
                                             long long delay, int wake_fd, int (*done)(void *),
                                             void *arg, int *incomplete);
/* Whether a call given co (as the caller passed it, maybe NULL) may write the fields of
 * subproc_result that version 2 added. */
static inline int subproc__result_v2(const subproc_comm_opts *co)
{
    return co && co->version >= 2;
}
/* Open fds left in the pump (input included). */
SUBPROC__HIDDEN int subproc__pump_open(const struct subproc__pump *pm);

#endif
