/* Internal interfaces shared by the library's source files. Not installed. */
#ifndef SUBPROC_INTERNAL_H
#define SUBPROC_INTERNAL_H

#include "subproc.h"

#include <pthread.h>
#include <stdint.h>

#define SUBPROC__HIDDEN __attribute__((visibility("hidden")))

/* One fd move of the child's fd plan: src (a parent fd) becomes dst in the child. */
struct subproc__move {
    int src;
    int dst;
    int via_tmp; /* src is also the dst of another move: park it above plan->hi first */
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

    struct subproc__move *moves;
    size_t nmoves;
    int *tmp;          /* nmoves slots for parked sources (child writes) */
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

struct subproc_proc {
    pid_t pid;
    int pidfd;
    pid_t pgid;
    int fds[3];
    pthread_mutex_t lock; /* guards reaped/status against concurrent wait and signal */
    int reaped;
    int lost; /* someone else reaped it (ECHILD) */
    subproc_status status;
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
SUBPROC__HIDDEN void subproc__close(int fd);   /* close, keeping errno */
SUBPROC__HIDDEN int subproc__max_open_fd(void);
SUBPROC__HIDDEN int subproc__plan_fds(struct subproc__plan *pl, struct subproc__move *moves,
                                      size_t nmoves, int *keep, int extra_fd);
SUBPROC__HIDDEN int subproc__pidfd_open(pid_t pid);

/* wait.c */
SUBPROC__HIDDEN void subproc__status_from_wait(subproc_status *st, int wstatus,
                                               const struct rusage *ru);
SUBPROC__HIDDEN int subproc__sig_valid(int sig);
/* reap pid (blocking), retrying EINTR: for failed spawns */
SUBPROC__HIDDEN void subproc__reap(pid_t pid);

/* error.c */
SUBPROC__HIDDEN int subproc__fail(subproc_error *err, subproc_step step, int e, int fd,
                                  const char *path);

/* env.c */
SUBPROC__HIDDEN int subproc__env_name_ok(const char *name, size_t len);

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

#endif
