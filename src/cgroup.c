/*
 * cgroup.c - a cgroup v2 directory as the handle of a process tree.
 *
 * The kernel keeps every descendant of a process in the cgroup it was started in, unless it is
 * moved by someone allowed to write the cgroup's files: no setsid(), setpgid(), double fork or
 * closing of fds takes a process out (cgroups(7), "cgroups version 2"). So a cgroup of its own,
 * made for one child, holds exactly that child's tree, and acting on the cgroup acts on the tree:
 *  - cgroup.kill (Linux 5.14): writing "1" SIGKILLs every process in it, atomically against forks;
 *  - cgroup.events: "populated 0" once no process is left; the file signals POLLPRI when it
 *    changes, so it is a pollable fd for event loops;
 *  - cgroup.freeze (Linux 5.2): "1" freezes the whole tree, "frozen 1" in cgroup.events says done;
 *  - cpu.stat, memory.peak, pids.peak: usage of the whole tree, where the controller is enabled;
 *  - memory.max, pids.max, cpu.max: limits, where the controllers are delegated to the parent.
 * Everything is done through the directory fd (openat), never by rebuilding paths.
 *
 * The cgroup2 hierarchy is found once, in /proc/self/mountinfo: /sys/fs/cgroup on unified hosts,
 * /sys/fs/cgroup/unified on hybrid ones. Without a parent named by the caller, the child's cgroup
 * is made inside the cgroup this process is in (/proc/self/cgroup, the "0::" line).
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

static pthread_once_t mount_once = PTHREAD_ONCE_INIT;
static char mount_path[PATH_MAX]; /* "" when there is no cgroup2 mount */
static char self_path[PATH_MAX];  /* this process's cgroup, relative to the mount ("/" at root) */
static unsigned long cg_seq;

/* mountinfo(5) escapes spaces and such as \ooo. */
static void unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

static void find_mount(void)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (f) {
        char line[4096];
        while (fgets(line, sizeof line, f)) {
            /* id parent maj:min root mountpoint options [optional...] - fstype source opts */
            char *sep = strstr(line, " - ");
            if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0) continue;
            char *tok[5] = {0};
            char *save = NULL, *p = line;
            *sep = '\0';
            for (int i = 0; i < 5 && (tok[i] = strtok_r(p, " ", &save)); i++) p = NULL;
            if (!tok[4]) continue;
            unescape(tok[4]);
            if (strlen(tok[4]) < sizeof mount_path) strcpy(mount_path, tok[4]);
            break;
        }
        fclose(f);
    }
    f = fopen("/proc/self/cgroup", "re");
    if (f) {
        char line[PATH_MAX + 8];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "0::", 3) != 0) continue;
            line[strcspn(line, "\n")] = '\0';
            if (strlen(line + 3) < sizeof self_path) strcpy(self_path, line + 3);
            break;
        }
        fclose(f);
    }
    if (!self_path[0]) strcpy(self_path, "/");
}

const char *subproc__cgroup_mount(void)
{
    pthread_once(&mount_once, find_mount);
    return mount_path;
}

/*
 * Cgroups a process made and could not remove because it was killed outright (SIGKILL leaves it
 * no chance) are removed by the next one that makes cgroups in the same place: once per
 * process, every empty "subproc-PID-N" whose maker PID no longer exists. A PID in use again by
 * another process keeps its directories until that one ends too; a cgroup that is not empty is
 * never removed (rmdir refuses).
 */
static pthread_once_t sweep_once = PTHREAD_ONCE_INIT;
static void clear_below(const char *path, int to, int depth);

/* This process's PID as /proc names it (the view of the PID namespace /proc was mounted in, the
 * same for every process that shares the cgroup tree through it); getpid() where /proc is
 * missing. Cgroups are named after it, and the sweep looks it up there. */
static long proc_pid(void)
{
    char b[32] = {0};
    ssize_t n = readlink("/proc/self", b, sizeof b - 1);
    return n > 0 ? atol(b) : (long)getpid();
}

static int maker_gone(long maker)
{
    char path[64];
    struct stat sb;
    snprintf(path, sizeof path, "/proc/%ld", maker);
    return stat("/proc/self", &sb) == 0 && stat(path, &sb) < 0 && errno == ENOENT;
}

static void sweep(void)
{
    char dir[2 * PATH_MAX];
    snprintf(dir, sizeof dir, "%s%s", mount_path, strcmp(self_path, "/") ? self_path : "");
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        long maker;
        if (sscanf(de->d_name, "subproc-%ld-", &maker) != 1 || maker <= 0) continue;
        if (maker == proc_pid() || !maker_gone(maker)) continue;
        char sub[2 * PATH_MAX + 300];
        snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name);
        clear_below(sub, -1, 0);
        rmdir(sub);
    }
    closedir(d);
}

/* Write a short string to a file of the cgroup. */
static int write_at(int dirfd, const char *file, const char *val)
{
    int fd = openat(dirfd, file, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    ssize_t n;
    do
        n = write(fd, val, strlen(val));
    while (n < 0 && errno == EINTR);
    int e = n < 0 ? errno : 0;
    subproc__close(fd);
    return -e;
}

/* Read a small file of the cgroup into buf (NUL-terminated). */
static int read_at(int dirfd, const char *file, char *buf, size_t len)
{
    int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    size_t got = 0;
    while (got + 1 < len) {
        ssize_t n = read(fd, buf + got, len - 1 - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    subproc__close(fd);
    return (int)got;
}

/* "key value" lines: the value of key, or -1. */
static long long keyed(const char *buf, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, key, kl) == 0 && p[kl] == ' ') return strtoll(p + kl + 1, NULL, 10);
    return -1;
}

static int apply_limits(struct subproc__cgroup *cg, const subproc_cgroup_limits *lim,
                        subproc_error *err)
{
    char v[64];
    struct {
        const char *file;
        long long val;
    } set[3] = {{"memory.max", lim->memory_max}, {"pids.max", lim->pids_max}, {"cpu.max", 0}};
    if (lim->cpu_max_us > 0) set[2].val = lim->cpu_max_us;
    for (int i = 0; i < 3; i++) {
        if (set[i].val <= 0) continue;
        if (i == 2)
            snprintf(v, sizeof v, "%lld %lld", lim->cpu_max_us,
                     lim->cpu_period_us > 0 ? lim->cpu_period_us : 100000LL);
        else
            snprintf(v, sizeof v, "%lld", set[i].val);
        int r = write_at(cg->dirfd, set[i].file, v);
        /* The file is missing when the controller is not enabled for this cgroup: the parent
         * must list it in cgroup.subtree_control, which needs it delegated from above. */
        if (r == -ENOENT) r = -EOPNOTSUPP;
        if (r < 0) return subproc__fail(err, SUBPROC_STEP_CGROUP, -r, -1, set[i].file);
    }
    return 0;
}

void subproc__cgroup_init(struct subproc__cgroup *cg)
{
    cg->dirfd = cg->eventsfd = -1;
    cg->id = 0;
    cg->path = NULL;
}

int subproc__cgroup_create(struct subproc__cgroup *cg, const char *parent,
                           const subproc_cgroup_limits *lim, subproc_error *err)
{
    subproc__cgroup_init(cg);
    char path[2 * PATH_MAX];
    int n;
    unsigned long seq = __atomic_add_fetch(&cg_seq, 1, __ATOMIC_RELAXED);
    if (parent) {
        n = snprintf(path, sizeof path, "%s/subproc-%ld-%lu", parent, proc_pid(), seq);
    } else {
        const char *m = subproc__cgroup_mount();
        if (!*m) return subproc__fail(err, SUBPROC_STEP_CGROUP, ENOENT, -1, "cgroup2 mount");
        pthread_once(&sweep_once, sweep);
        n = snprintf(path, sizeof path, "%s%s/subproc-%ld-%lu", m,
                     strcmp(self_path, "/") ? self_path : "", proc_pid(), seq);
    }
    if (n < 0 || n >= PATH_MAX)
        return subproc__fail(err, SUBPROC_STEP_CGROUP, ENAMETOOLONG, -1, parent ? parent : "");
    /* The name is this process's and a counter's: only a stale directory of an earlier process
     * with our pid can be in the way, and then the next number is tried. */
    int r = 0;
    for (int tries = 0; tries < 100; tries++) {
        if (mkdir(path, 0755) == 0) {
            r = 0;
            break;
        }
        r = -errno;
        if (r != -EEXIST) break;
        seq = __atomic_add_fetch(&cg_seq, 1, __ATOMIC_RELAXED);
        char *dash = strrchr(path, '-');
        snprintf(dash + 1, sizeof path - (size_t)(dash + 1 - path), "%lu", seq);
    }
    if (r < 0) {
        /* Name the directory the cgroup was to be made in, not ours. */
        *strrchr(path, '/') = '\0';
        return subproc__fail(err, SUBPROC_STEP_CGROUP, -r, -1, path);
    }
    cg->path = subproc__malloc(strlen(path) + 1);
    if (cg->path) strcpy(cg->path, path);
    cg->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cg->dirfd >= 0) cg->dirfd = subproc__fd_lift(cg->dirfd);
    if (!cg->path || cg->dirfd < 0) {
        r = subproc__fail(err, cg->path ? SUBPROC_STEP_CGROUP : SUBPROC_STEP_ALLOC,
                          cg->path ? errno : ENOMEM, -1, path);
        if (!cg->path) rmdir(path);
        subproc__cgroup_destroy(cg);
        return r;
    }
    struct stat sb;
    if (fstat(cg->dirfd, &sb) == 0) cg->id = (uint64_t)sb.st_ino;
    if (lim && (r = apply_limits(cg, lim, err)) < 0) {
        subproc__cgroup_destroy(cg);
        return r;
    }
    return 0;
}

int subproc__cgroup_events(struct subproc__cgroup *cg)
{
    int fd = __atomic_load_n(&cg->eventsfd, __ATOMIC_ACQUIRE);
    if (fd >= 0) return fd;
    fd = openat(cg->dirfd, "cgroup.events", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    fd = subproc__fd_lift(fd);
    if (fd < 0) return fd;
    int none = -1;
    /* Two threads asking at once: one fd wins, the other is closed. */
    if (!__atomic_compare_exchange_n(&cg->eventsfd, &none, fd, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        subproc__close(fd);
        fd = none;
    }
    return fd;
}

int subproc__plan_join_fd(struct subproc__plan *pl)
{
    if (pl->cgroup_fd < 0 || pl->cgroup_procs_fd >= 0) return 0;
    int fd = openat(pl->cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    fd = subproc__fd_lift(fd);
    if (fd < 0) return fd;
    pl->cgroup_procs_fd = fd;
    return 0;
}

static int read_events(struct subproc__cgroup *cg, char *buf, size_t len)
{
    int fd = subproc__cgroup_events(cg);
    if (fd < 0) return fd;
    ssize_t n;
    do
        n = pread(fd, buf, len - 1, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    buf[n] = '\0';
    return 0;
}

int subproc__cgroup_populated(struct subproc__cgroup *cg)
{
    char buf[256];
    int r = read_events(cg, buf, sizeof buf);
    if (r < 0) return r;
    long long v = keyed(buf, "populated");
    return v < 0 ? -EIO : v != 0;
}

int subproc__cgroup_kill(struct subproc__cgroup *cg)
{
    int r = write_at(cg->dirfd, "cgroup.kill", "1");
    if (r != -ENOENT) return r;
    /* Before Linux 5.14: freeze, SIGKILL each member, thaw. Frozen processes cannot fork, and
     * each pid read is pinned with a pidfd before it is signalled. */
    subproc__cgroup_freeze(cg, 1);
    r = subproc__cgroup_signal(cg, SIGKILL);
    subproc__cgroup_freeze(cg, 0);
    return r;
}

int subproc__cgroup_signal(const struct subproc__cgroup *cg, int sig)
{
    int fd = openat(cg->dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    FILE *f = fdopen(fd, "r");
    if (!f) {
        subproc__close(fd);
        return -ENOMEM;
    }
    long pid;
    while (fscanf(f, "%ld", &pid) == 1) {
        /* Pin the process with a pidfd, then check it is still in our cgroup: a pid read from
         * the file may have been recycled meanwhile. Without PIDFD_GET_INFO (before 6.13) the
         * pidfd alone narrows that window to the open. */
        int pfd = subproc__pidfd_open((pid_t)pid);
        if (pfd < 0) {
            if (pfd == -ENOSYS) kill((pid_t)pid, sig);
            continue;
        }
        uint64_t id;
        int r = subproc__pidfd_cgroupid(pfd, &id);
        if (r == -EOPNOTSUPP || (r == 0 && id == cg->id)) subproc__pidfd_signal(pfd, sig);
        subproc__close(pfd);
    }
    fclose(f);
    return 0;
}

int subproc__cgroup_freeze(struct subproc__cgroup *cg, int on)
{
    int r = write_at(cg->dirfd, "cgroup.freeze", on ? "1" : "0");
    if (r == -ENOENT) return -EOPNOTSUPP;
    if (r < 0 || !on) return r;
    /* Freezing is asynchronous: "frozen 1" in cgroup.events says every task has stopped. */
    for (int i = 0; i < 500; i++) {
        char buf[256];
        if ((r = read_events(cg, buf, sizeof buf)) < 0) return r;
        if (keyed(buf, "frozen") == 1) return 0;
        struct pollfd pfd = {cg->eventsfd, POLLPRI, 0};
        poll(&pfd, 1, 10);
    }
    return -ETIMEDOUT;
}

int subproc__cgroup_stats(const struct subproc__cgroup *cg, subproc_tree_stats *st)
{
    char buf[1024];
    st->usage_usec = st->user_usec = st->system_usec = -1;
    st->memory_peak = st->pids_peak = -1;
    if (read_at(cg->dirfd, "cpu.stat", buf, sizeof buf) > 0) {
        st->usage_usec = keyed(buf, "usage_usec");
        st->user_usec = keyed(buf, "user_usec");
        st->system_usec = keyed(buf, "system_usec");
    }
    if (read_at(cg->dirfd, "memory.peak", buf, sizeof buf) > 0) st->memory_peak = atoll(buf);
    if (read_at(cg->dirfd, "pids.peak", buf, sizeof buf) > 0) st->pids_peak = atoll(buf);
    return 0;
}

/* Move the processes of the cgroup at dirfd to the cgroup.procs at `to`. */
static void move_procs(int dirfd, int to)
{
    for (int round = 0; round < 100; round++) {
        char buf[4096];
        int n = read_at(dirfd, "cgroup.procs", buf, sizeof buf);
        if (n <= 0) break;
        for (char *p = buf, *end; *p; p = end) {
            end = p + strcspn(p, "\n");
            if (*end) *end++ = '\0';
            if (*p && write(to, p, strlen(p)) < 0) {
                /* gone meanwhile (ESRCH): nothing to move */
            }
        }
    }
}

/*
 * Remove the cgroups below path, deepest first: a program the child ran may have made cgroups of
 * its own inside ours (a nested subproc does), and a cgroup with children cannot be removed.
 * With to >= 0 (leave), their processes are first moved there; else (kill) they are gone already.
 */
static void clear_below(const char *path, int to, int depth)
{
    DIR *d = depth < 32 ? opendir(path) : NULL;
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char sub[PATH_MAX];
        if (snprintf(sub, sizeof sub, "%s/%s", path, de->d_name) >= (int)sizeof sub) continue;
        clear_below(sub, to, depth + 1);
        if (to >= 0) {
            int fd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (fd >= 0) {
                move_procs(fd, to);
                close(fd);
            }
        }
        for (int i = 0; i < 100 && rmdir(sub) < 0 && errno == EBUSY; i++) {
            struct pollfd pfd = {-1, 0, 0};
            poll(&pfd, 0, 5);
        }
    }
    closedir(d);
}

/* Move every process still in the cgroup (and in cgroups below it) to the cgroup this process
 * is in (the one the caller started in), so the cgroup can be removed while they go on: "leave"
 * the leftovers. */
static void evacuate(struct subproc__cgroup *cg)
{
    const char *m = subproc__cgroup_mount();
    char path[2 * PATH_MAX + 16];
    if (!*m) return;
    snprintf(path, sizeof path, "%s%s/cgroup.procs", m, strcmp(self_path, "/") ? self_path : "");
    int to = open(path, O_WRONLY | O_CLOEXEC);
    if (to < 0) return;
    if (cg->path) clear_below(cg->path, to, 0);
    move_procs(cg->dirfd, to);
    subproc__close(to);
}

void subproc__cgroup_release(struct subproc__cgroup *cg, int kill_rest)
{
    /* Empty (the usual case): it goes at once. Else kill or move out what is left first. */
    if (cg->path && rmdir(cg->path) == 0) {
        free(cg->path);
        cg->path = NULL;
    } else if (cg->dirfd >= 0 && subproc__cgroup_populated(cg) == 1) {
        if (kill_rest) {
            subproc__cgroup_kill(cg);
            /* SIGKILL is not instant: wait (bounded) for the kernel to empty the cgroup. */
            for (int i = 0; i < 1000 && subproc__cgroup_populated(cg) == 1; i++) {
                struct pollfd pfd = {cg->eventsfd, POLLPRI, 0};
                poll(&pfd, 1, 10);
            }
        } else {
            evacuate(cg);
        }
    }
    subproc__cgroup_destroy(cg);
}

void subproc__cgroup_destroy(struct subproc__cgroup *cg)
{
    if (cg->path) {
        clear_below(cg->path, -1, 0);
        /* A cgroup whose last process has just exited may still be busy for a moment. */
        for (int i = 0; i < 200 && rmdir(cg->path) < 0 && errno == EBUSY; i++) {
            struct pollfd pfd = {-1, 0, 0};
            poll(&pfd, 0, 5);
        }
        free(cg->path);
        cg->path = NULL;
    }
    subproc__close(cg->eventsfd);
    subproc__close(cg->dirfd);
    cg->eventsfd = cg->dirfd = -1;
}
