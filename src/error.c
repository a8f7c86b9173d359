/* error.c - error values, words for them, and the library version. */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

const char *subproc_version(void)
{
    return SUBPROC_VERSION_STRING;
}

int subproc__fail(subproc_error *err, subproc_step step, int e, int fd, const char *path)
{
    if (err) {
        err->step = step;
        err->err = e;
        err->fd = fd;
        err->path[0] = '\0';
        if (path) {
            size_t n = strlen(path);
            if (n >= sizeof err->path) n = sizeof err->path - 1;
            memcpy(err->path, path, n);
            err->path[n] = '\0';
        }
    }
    return -e;
}

const char *subproc_strerror(int err)
{
    if (err < 0) err = err == INT_MIN ? INT_MAX : -err; /* -INT_MIN does not exist */
    if (err == 0) return "Success";
    if (err == SUBPROC_ECHECK) return "Child process did not exit with 0";
    /* strerror() may share one buffer between threads for unknown values; known values are
     * constant strings in glibc and musl, which is what a caller gets from us. */
    static __thread char buf[64];
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    return strerror_r(err, buf, sizeof buf);
#else
    if (strerror_r(err, buf, sizeof buf) != 0) snprintf(buf, sizeof buf, "Unknown error %d", err);
    return buf;
#endif
}

static const char *const step_names[SUBPROC_STEP__COUNT] = {
    [SUBPROC_STEP_NONE] = "none",
    [SUBPROC_STEP_VALIDATE] = "options",
    [SUBPROC_STEP_ALLOC] = "alloc",
    [SUBPROC_STEP_RESOLVE] = "resolve",
    [SUBPROC_STEP_PIPE] = "pipe",
    [SUBPROC_STEP_OPEN] = "open",
    [SUBPROC_STEP_CLONE] = "clone",
    [SUBPROC_STEP_SIGNALS] = "signals",
    [SUBPROC_STEP_SETSID] = "setsid",
    [SUBPROC_STEP_SETPGID] = "setpgid",
    [SUBPROC_STEP_RLIMIT] = "rlimit",
    [SUBPROC_STEP_NICE] = "nice",
    [SUBPROC_STEP_FDMAP] = "fd map",
    [SUBPROC_STEP_CLOSEFDS] = "close fds",
    [SUBPROC_STEP_CHDIR] = "chdir",
    [SUBPROC_STEP_SETGROUPS] = "setgroups",
    [SUBPROC_STEP_SETGID] = "setgid",
    [SUBPROC_STEP_SETUID] = "setuid",
    [SUBPROC_STEP_PDEATHSIG] = "pdeathsig",
    [SUBPROC_STEP_NO_NEW_PRIVS] = "no_new_privs",
    [SUBPROC_STEP_SIGMASK] = "sigmask",
    [SUBPROC_STEP_EXEC] = "exec",
    [SUBPROC_STEP_CGROUP] = "cgroup",
    [SUBPROC_STEP_CTTY] = "controlling terminal",
    [SUBPROC_STEP_REMOTE] = "remote",
};

const char *subproc_step_name(subproc_step step)
{
    if ((unsigned)step >= SUBPROC_STEP__COUNT) return "unknown";
    return step_names[step];
}

char *subproc_error_str(const subproc_error *e, char *buf, size_t len)
{
    if (!buf || len == 0) return buf;
    if (!e) {
        snprintf(buf, len, "no error");
        return buf;
    }
    if (e->err == SUBPROC_ECHECK) {
        /* SUBPROC_COMM_CHECK: path holds how the child ended. */
        if (!strncmp(e->path, "exited with ", 12))
            snprintf(buf, len, "check failed: the child %s, not 0", e->path);
        else if (e->path[0])
            snprintf(buf, len, "check failed: the child was %s", e->path);
        else
            snprintf(buf, len, "check failed: the child did not exit with 0");
        return buf;
    }
    if (e->step == SUBPROC_STEP_VALIDATE && e->path[0]) {
        /* path says which field is wrong and why. */
        snprintf(buf, len, "options: %s", e->path);
        return buf;
    }
    if (e->step == SUBPROC_STEP_NONE) {
        snprintf(buf, len, "%s", e->err ? subproc_strerror(e->err) : "no error");
        return buf;
    }
    if (e->step == SUBPROC_STEP_RESOLVE && e->err == ENOENT) {
        if (e->path[0])
            snprintf(buf, len, "resolve %s: not found in PATH (No such file or directory)",
                     e->path);
        else
            snprintf(buf, len, "resolve: the program name is empty");
        return buf;
    }
    if (e->step == SUBPROC_STEP_REMOTE && e->path[0]) {
        /* The path is ssh's own message, which already says what went wrong. */
        snprintf(buf, len, "remote: %s", e->path);
        return buf;
    }
    char fdpart[24] = "";
    if (e->fd >= 0) snprintf(fdpart, sizeof fdpart, " (fd %d)", e->fd);
    snprintf(buf, len, "%s%s%s%s: %s", subproc_step_name(e->step), e->path[0] ? " " : "",
             e->path, fdpart, subproc_strerror(e->err));
    return buf;
}
