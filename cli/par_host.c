/* par_host.c - `par -S`: the hosts jobs run on, and the files sent to and fetched from them.
 *
 * A host is this machine (":") or another one that the library reaches with ssh (remote.c): its
 * jobs are ordinary spawns with opts.remote set, so argv arrives byte for byte, the status is the
 * remote program's, and a deadline or a signal reaches the whole remote tree. Each remote host's
 * ControlMaster is opened before the first job and held until par ends, so every job there costs
 * one round trip, not a handshake.
 *
 * Files move through the same connection as the jobs, with plain POSIX tools on the far side
 * (sh, dirname, mkdir, cat, rm), each file name a separate argument: nothing is ever spliced
 * into a shell command line, so any byte in a name is safe. rsync would resume and compress,
 * but it would have to be installed on every host, and the job files GNU parallel users
 * transfer are mostly small. */
#include "par.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* One [N/][USER@]HOST[:PORT] or [N/]: of a -S list. */
static int host_word(const cli_par_opts *o, const char *w, size_t len, par_host *h, char *msg,
                     size_t msglen)
{
    memset(h, 0, sizeof *h);
    const char *slash = memchr(w, '/', len);
    if (slash && slash > w && strspn(w, "0123456789") == (size_t)(slash - w)) {
        size_t dl = (size_t)(slash - w);
        long n = 0;
        for (size_t i = 0; i < dl && n <= 100000; i++) n = n * 10 + (w[i] - '0');
        if (n < 1 || n > 100000) {
            snprintf(msg, msglen, "invalid job count '%.*s' in -S/--sshlogin (expected 1 to 100000)",
                     (int)dl, w);
            return CLI_EXIT_FAILURE;
        }
        h->slots = (unsigned)n;
        len -= dl + 1;
        w = slash + 1;
    }
    if (len == 0 || len >= sizeof h->name) goto bad;
    memcpy(h->name, w, len);
    h->name[len] = '\0';
    if (!strcmp(h->name, ":")) {
        h->local = 1;
        return 0;
    }
    /* GNU parallel also takes an ssh command with the host as its last word ("ssh -p 2222
     * host"): that host's ssh, split at blanks as --ssh is. */
    char cmd[sizeof h->name], *host = h->name;
    const char *ssh = o->ssh;
    size_t last = strcspn(h->name, " \t") < len ? len : 0;
    while (last > 0 && !strchr(" \t", h->name[last - 1])) last--;
    if (last > 0) {
        snprintf(cmd, sizeof cmd, "%.*s", (int)last, h->name);
        if (!cmd[strspn(cmd, " \t")] || cmd[strspn(cmd, " \t")] == '-') goto bad;
        host = h->name + last;
        ssh = cmd;
    }
    if (cli_remote_setup(&h->r, host, ssh, o->envops, o->nenvops) < 0) {
        if (!h->r.rm.host) goto bad; /* the name did not parse */
        snprintf(msg, msglen, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    if (o->no_master) h->r.rm.flags |= SUBPROC_REMOTE_NO_MASTER;
    /* The host's clean-up after a job (when its ssh ends) ends with KILL too, after -k. */
    if (o->kill_after_ms > 0)
        h->r.rm.kill_grace_ms = o->kill_after_ms > 0x7fffffff ? 0x7fffffff : (int)o->kill_after_ms;
    return 0;
bad:
    snprintf(msg, msglen,
             "invalid host '%.*s' for -S/--sshlogin (expected [N/][USER@]HOST[:PORT], or : for "
             "this machine)",
             (int)(len > 200 ? 200 : len), w);
    return CLI_EXIT_FAILURE;
}

int par_hosts_parse(const cli_par_opts *o, par_host **hosts, size_t *n, char *msg, size_t msglen)
{
    size_t cap = 1;
    for (size_t i = 0; i < o->nsshlogins; i++)
        for (const char *c = o->sshlogins[i]; *c; c++) cap += *c == ',';
    cap += o->nsshlogins;
    par_host *h = calloc(cap, sizeof *h);
    if (!h) {
        snprintf(msg, msglen, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    *hosts = h;
    *n = 0;
    if (!o->nsshlogins) {
        strcpy(h[0].name, ":");
        h[0].local = 1;
        *n = 1;
        return 0;
    }
    for (size_t i = 0; i < o->nsshlogins; i++) {
        for (const char *w = o->sshlogins[i];;) {
            const char *comma = strchr(w, ',');
            size_t len = comma ? (size_t)(comma - w) : strlen(w);
            if (len) { /* GNU parallel skips empty entries: "a,,b" */
                if (host_word(o, w, len, &h[*n], msg, msglen)) return CLI_EXIT_FAILURE;
                (*n)++;
            }
            if (!comma) break;
            w = comma + 1;
        }
    }
    if (!*n) {
        snprintf(msg, msglen, "no host in -S/--sshlogin");
        return CLI_EXIT_FAILURE;
    }
    int remote = 0;
    for (size_t i = 0; i < *n; i++) remote |= !h[i].local;
    if (remote && o->ignore_env) {
        snprintf(msg, msglen,
                 "-i is not available with a remote host in -S/--sshlogin (its jobs start from "
                 "their login environment; -e and -u change it)");
        return CLI_EXIT_FAILURE;
    }
    /* The host's login shell exports or unsets each one: only a name it takes. */
    for (size_t i = 0; remote && i < o->nenvops; i++) {
        const char *a = o->envops[i].arg;
        size_t nl = strcspn(a, "=");
        int ok = nl > 0 && !(a[0] >= '0' && a[0] <= '9');
        for (size_t k = 0; ok && k < nl; k++)
            ok = a[k] == '_' || (a[k] >= 'a' && a[k] <= 'z') || (a[k] >= 'A' && a[k] <= 'Z') ||
                 (a[k] >= '0' && a[k] <= '9');
        if (!ok) {
            snprintf(msg, msglen,
                     "invalid variable name '%.*s' for -e/-u with a remote host in -S/--sshlogin "
                     "(letters, digits and _, not starting with a digit)",
                     (int)(nl > 200 ? 200 : nl), a);
            return CLI_EXIT_FAILURE;
        }
    }
    mode_t m = umask(0); /* for the files --return makes (no other thread runs yet) */
    umask(m);
    for (size_t i = 0; i < *n; i++) h[i].umask = m;
    return 0;
}

void par_host_down(par_host *h, const subproc_error *err)
{
    if (h->down) return;
    h->down = 1;
    char es[700];
    fprintf(stderr, "%s par: host %s failed: %s; no more jobs go there\n", cli_progname, h->name,
            subproc_error_str(err, es, sizeof es));
}

static void *connect_host(void *arg)
{
    par_host *h = arg;
    subproc_error err;
    subproc_remote_conn *c = NULL;
    int r = subproc_remote_connect(&c, &h->r.rm, &err);
    h->conn = c;
    h->conn_err = err;
    __atomic_store_n(&h->state, r < 0 ? PAR_HOST_FAILED : PAR_HOST_UP, __ATOMIC_RELEASE);
    char b = 1;
    while (h->wake_fd >= 0 && write(h->wake_fd, &b, 1) < 0 && errno == EINTR) {
    }
    return NULL;
}

void par_hosts_connect(par_host *hosts, size_t n, int wake_fd)
{
    for (size_t i = 0; i < n; i++) {
        par_host *h = &hosts[i];
        h->wake_fd = wake_fd;
        h->state = PAR_HOST_UP;
        if (h->local || (h->r.rm.flags & SUBPROC_REMOTE_NO_MASTER)) continue;
        h->state = PAR_HOST_CONNECTING;
        if (wake_fd < 0) { /* nothing could wake the scheduler: open it here and now */
            connect_host(h);
            continue;
        }
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &a, connect_host, h) != 0) connect_host(h);
        pthread_attr_destroy(&a);
    }
}

int par_host_ready(par_host *h)
{
    int st = __atomic_load_n(&h->state, __ATOMIC_ACQUIRE);
    if (st == PAR_HOST_FAILED) par_host_down(h, &h->conn_err);
    return st == PAR_HOST_UP && !h->down;
}

int par_hosts_free(par_host *hosts, size_t n)
{
    for (size_t i = 0; hosts && i < n; i++)
        if (__atomic_load_n(&hosts[i].state, __ATOMIC_ACQUIRE) == PAR_HOST_CONNECTING) return 0;
    for (size_t i = 0; hosts && i < n; i++) {
        subproc_remote_conn_free(hosts[i].conn);
        cli_remote_free(&hosts[i].r);
    }
    free(hosts);
    return 1;
}

const char *par_remote_path(const char *local)
{
    const char *dot = strstr(local, "/./");
    return dot ? dot + 3 : local;
}

char *par_local_path(const char *name)
{
    char *s = strdup(name);
    char *dot = s ? strstr(s, "/./") : NULL;
    if (dot) memmove(dot + 1, dot + 3, strlen(dot + 3) + 1);
    return s;
}

/* The last line of what a helper wrote to stderr, for a message. */
static void last_line(const subproc_capture *c, char *buf, size_t len)
{
    size_t end = c->len;
    while (end && (c->data[end - 1] == '\n' || c->data[end - 1] == '\r')) end--;
    size_t start = end;
    while (start && c->data[start - 1] != '\n') start--;
    snprintf(buf, len, "%.*s", (int)(end - start > 300 ? 300 : end - start), c->data + start);
}

/* Run argv on h with stdin/stdout as given, stderr captured. 0 when it exited 0; else < 0 with
 * err set: ssh's failure as it is (step SUBPROC_STEP_REMOTE: the host is down), anything else as
 * step SUBPROC_STEP_OPEN with "HOST:FILE: what went wrong" in err->path. */
static int helper(par_host *h, const char *cwd, const char *const *argv, subproc_io in,
                  subproc_io out, const char *file, subproc_error *err)
{
    subproc_opts so = SUBPROC_OPTS_INIT;
    so.argv = argv;
    so.cwd = cwd;
    so.remote = &h->r.rm;
    so.stdio[0] = in;
    so.stdio[1] = out;
    so.stdio[2].kind = SUBPROC_IO_PIPE;
    so.flags |= SUBPROC_SET_SIGMASK;
    so.sigmask = h->sigmask;
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.max_output = 4096;
    subproc_result res;
    int r = subproc_run(&res, &so, &co);
    if (r < 0 && res.error.step != SUBPROC_STEP_NONE) {
        *err = res.error;
        if (err->step != SUBPROC_STEP_REMOTE) {
            char es[700];
            subproc_error_str(&res.error, es, sizeof es);
            snprintf(err->path, sizeof err->path, "%.100s:%.150s: %.250s", h->name, file, es);
            err->step = SUBPROC_STEP_OPEN;
        }
    } else if (r < 0 || !res.status.exited || res.status.code != 0) {
        char line[320], st[64];
        last_line(&res.err, line, sizeof line);
        memset(err, 0, sizeof *err);
        err->step = SUBPROC_STEP_OPEN;
        err->err = EIO;
        err->fd = -1;
        snprintf(err->path, sizeof err->path, "%.100s:%.150s: %.250s", h->name, file,
                 line[0] ? line : subproc_status_str(&res.status, st, sizeof st));
        r = -EIO;
    }
    subproc_result_free(&res);
    return r < 0 ? r : 0;
}

static void local_fail(const char *file, int e, subproc_error *err)
{
    memset(err, 0, sizeof *err);
    err->step = SUBPROC_STEP_OPEN;
    err->err = e;
    err->fd = -1;
    snprintf(err->path, sizeof err->path, "%s", file);
}

int par_host_send(par_host *h, const char *cwd, const char *local, const char *remote,
                  subproc_error *err)
{
    int fd = open(local, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd); /* a file's content is sent; a directory has none (read() says EISDIR) */
        fd = -1;
        errno = EISDIR;
    }
    if (fd < 0) {
        local_fail(local, errno, err);
        return -err->err;
    }
    /* $1 is the file's name: a word of its own, never read as shell text. */
    static const char script[] = "d=$(dirname -- \"$1\") && mkdir -p -- \"$d\" && cat >\"$1\"";
    const char *argv[] = {"sh", "-c", script, "sh", remote, NULL};
    int r = helper(h, cwd, argv, (subproc_io){.kind = SUBPROC_IO_FD, .fd = fd},
                   (subproc_io){.kind = SUBPROC_IO_NULL}, remote, err);
    close(fd);
    return r;
}

/* mkdir -p of the directory part of path (nothing when it has none). */
static int make_parent(const char *path)
{
    char *copy = strdup(path);
    if (!copy) return -ENOMEM;
    char *slash = strrchr(copy, '/');
    int r = 0;
    if (slash && slash != copy) {
        *slash = '\0';
        for (char *s = copy + 1; *s && !r; s++) {
            if (*s != '/') continue;
            *s = '\0';
            if (mkdir(copy, 0777) < 0 && errno != EEXIST) r = -errno;
            *s = '/';
        }
        if (!r && mkdir(copy, 0777) < 0 && errno != EEXIST) r = -errno;
    }
    free(copy);
    return r;
}

int par_host_fetch(par_host *h, const char *cwd, const char *remote, const char *local,
                   subproc_error *err)
{
    /* Into a new file next to it, renamed over it once whole: a fetch that fails leaves what
     * was there before (or nothing), never a half or empty file. */
    size_t len = strlen(local);
    char *tmp = malloc(len + 16);
    if (!tmp) {
        local_fail(local, ENOMEM, err);
        return -ENOMEM;
    }
    snprintf(tmp, len + 16, "%s.subpXXXXXX", local);
    int r = make_parent(local);
    int fd = r < 0 ? -1 : mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        local_fail(local, r < 0 ? -r : errno, err);
        free(tmp);
        return -err->err;
    }
    fchmod(fd, 0666 & ~h->umask); /* as open(local, O_CREAT, 0666) would make it */
    const char *argv[] = {"cat", "--", remote, NULL};
    r = helper(h, cwd, argv, (subproc_io){.kind = SUBPROC_IO_NULL},
               (subproc_io){.kind = SUBPROC_IO_FD, .fd = fd}, remote, err);
    close(fd);
    if (r == 0 && rename(tmp, local) < 0) {
        local_fail(local, errno, err);
        r = -err->err;
    }
    if (r < 0) unlink(tmp);
    free(tmp);
    return r;
}

void par_host_remove(par_host *h, const char *cwd, char *const *files, size_t n)
{
    if (!n) return;
    const char **argv = calloc(n + 5, sizeof *argv);
    if (!argv) return;
    /* The files, then the directories of a relative name that are left empty (the sending made
     * them), as GNU parallel's --cleanup does. */
    static const char script[] =
        "rm -f -- \"$@\"\n"
        "for f; do case $f in /*) continue ;; esac\n"
        "  d=$(dirname -- \"$f\")\n"
        "  while [ \"$d\" != . ] && rmdir -- \"$d\" 2>/dev/null; do d=$(dirname -- \"$d\"); done\n"
        "done\n";
    argv[0] = "sh";
    argv[1] = "-c";
    argv[2] = script;
    argv[3] = "sh";
    for (size_t i = 0; i < n; i++) argv[4 + i] = files[i];
    subproc_error err;
    helper(h, cwd, argv, (subproc_io){.kind = SUBPROC_IO_NULL},
           (subproc_io){.kind = SUBPROC_IO_NULL}, "(--cleanup)", &err);
    free(argv);
}
