/* remote.c - children on other hosts through the OpenSSH client.
 *
 * A remote child is three local ssh clients at most, all started through subproc_spawn():
 *  - the ControlMaster of its host (one per ssh command, user, host and port; shared, counted),
 *  - the control session: its stdin and stdout are pipes of ours; its remote side (CTL_SH) makes
 *    a private directory (named by us, so both sessions can start at once) with a FIFO, relays what the wrapper writes into the FIFO, forwards the
 *    signals we write to it to the program's process group, and when its stdin ends (we let go,
 *    or the connection dropped) ends that group: TERM and CONT, grace, KILL,
 *  - the program's session, whose stdio is the caller's: its remote side (RUN_SH) checks cwd and
 *    program, reports "s" (started) or "e STEP ERRNO" into the FIFO, runs the program in the
 *    process group sshd made for the session (sshd calls setsid() for every session), and
 *    reports "x STATUS" when it ends.
 * ssh hands the remote login shell one string (it joins its arguments with spaces), so every
 * word of it is quoted with subproc_shell_quote(); the scripts themselves run under /bin/sh.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

long subproc_shell_quote(char *buf, size_t size, const char *arg, size_t len)
{
    if (!arg || memchr(arg, '\0', len)) return -1;
    size_t n = 0;
#define PUT(c)                                                                                   \
    do {                                                                                         \
        if (n + 1 < size) buf[n] = (c);                                                          \
        n++;                                                                                     \
    } while (0)
    PUT('\'');
    for (size_t i = 0; i < len; i++) {
        if (arg[i] == '\'') {
            /* close the quotes, an escaped quote, open again: '\'' */
            PUT('\'');
            PUT('\\');
            PUT('\'');
            PUT('\'');
        } else {
            PUT(arg[i]);
        }
    }
    PUT('\'');
#undef PUT
    if (size > 0) buf[n < size ? n : size - 1] = '\0';
    return (long)n;
}

/* ---- the remote scripts ---- */

/*
 * The control session. $1: grace in tenths of a second; $2: the directory's name, random, made
 * by the library (so that both sessions can start at once). Makes the directory (mkdir fails
 * when it exists: nobody else's directory is ever used) and the FIFO, prints "d DIR", then
 * relays the FIFO. Lines on stdin: "k SIGNAME" signals the program's group. At end of stdin the
 * group (if any is left) gets TERM, CONT, and KILL after the grace, and the directory goes.
 */
static const char CTL_SH[] =
    "set -f\n"
    "d=${TMPDIR:-/tmp}/subproc.$2\n"
    "mkdir -m 700 \"$d\" || exit 1\n"
    "mkfifo -m 600 \"$d/f\" || { rm -rf \"$d\"; exit 1; }\n"
    "printf 'd %s\\n' \"$d\"\n"
    "cat \"$d/f\" & c=$!\n"
    "while read -r k s; do\n"
    "  if [ \"$k\" = k ] && [ -s \"$d/p\" ]; then kill -s \"$s\" -- \"-$(cat \"$d/p\")\" 2>/dev/null; fi\n"
    "done\n"
    "if [ -s \"$d/p\" ]; then\n"
    "  g=$(cat \"$d/p\")\n"
    "  if kill -s 0 -- \"-$g\" 2>/dev/null; then\n"
    "    kill -s TERM -- \"-$g\"; kill -s CONT -- \"-$g\" 2>/dev/null\n"
    "    i=0\n"
    "    while [ $i -lt \"$1\" ] && kill -s 0 -- \"-$g\" 2>/dev/null; do\n"
    "      sleep 0.1 2>/dev/null || { sleep 1; i=$((i+9)); }; i=$((i+1))\n"
    "    done\n"
    "    kill -s KILL -- \"-$g\" 2>/dev/null\n"
    "  fi\n"
    "else\n"
    "  kill $c 2>/dev/null\n" /* the program never came: cat still waits to open the FIFO */
    "fi\n"
    "wait $c\n"
    "rm -rf \"$d\"\n";

/*
 * The program's session. $1: the control directory's name (see CTL_SH); then -C DIR, -m UMASK, -e NAME=VALUE,
 * -u NAME, then -- and argv. The FIFO is opened first and the PID written after, so the control
 * side knows the FIFO is held whenever the PID file exists. The wrapper catches (and ignores)
 * every signal whose default is to end a process, since a signal for the program's group reaches
 * it too, and it must live to report the status; the program starts with default dispositions
 * (a subshell resets caught signals to their defaults) and without fds 3 and 4.
 */
static const char RUN_SH[] =
    "set -f\n"
    "d=${TMPDIR:-/tmp}/subproc.$1\n"
    "i=0\n"
    "while [ ! -p \"$d/f\" ]; do\n" /* the control session may start later: 60 s at most */
    "  i=$((i+1)); [ $i -le 1200 ] || exit 255\n"
    "  sleep 0.05 2>/dev/null || { sleep 1; i=$((i+19)); }\n"
    "done\n"
    "[ -O \"$d\" ] && [ -O \"$d/f\" ] || exit 255\n" /* ours, not planted */
    "exec 3>\"$d/f\" || exit 255\n"
    "echo $$ > \"$d/p.t\" && mv -f \"$d/p.t\" \"$d/p\" || exit 255\n"
    "shift\n"
    "trap : HUP INT QUIT ILL TRAP ABRT BUS FPE USR1 SEGV USR2 PIPE ALRM TERM XCPU XFSZ VTALRM "
    "PROF SYS\n"
    "while [ $# -gt 0 ]; do\n"
    "  case $1 in\n"
    "  -C) if ! cd -- \"$2\" 2>/dev/null; then\n"
    "        if [ ! -e \"$2\" ]; then e=2; elif [ ! -d \"$2\" ]; then e=20; else e=13; fi\n"
    "        echo \"e chdir $e\" >&3; exit 126\n"
    "      fi;;\n"
    "  -m) umask \"$2\";;\n"
    "  -e) export \"$2\";;\n"
    "  -u) unset \"$2\";;\n"
    "  --) shift; break;;\n"
    "  esac\n"
    "  shift 2\n"
    "done\n"
    "f=\n"
    "case $1 in\n"
    "*/*) f=$1;;\n"
    "*) o=$IFS; IFS=:\n"
    "   for x in $PATH; do\n"
    "     case $x in /*) if [ -f \"$x/$1\" ]; then f=$x/$1; [ -x \"$f\" ] && break; fi;; esac\n"
    "   done\n"
    "   IFS=$o;;\n"
    "esac\n"
    "if [ -z \"$f\" ] || [ ! -e \"$f\" ]; then echo 'e resolve 2' >&3; exit 127; fi\n"
    "if [ -d \"$f\" ] || [ ! -x \"$f\" ]; then echo 'e exec 13' >&3; exit 126; fi\n"
    "echo s >&3\n"
    "exec 4>&2 2>/dev/null\n" /* the shell's own "Killed" is not the program's output */
    "( exec \"$@\" 2>&4 3>&- 4>&- )\n"
    "x=$?\n"
    "echo \"x $x\" >&3\n"
    "exit $x\n";

/* ---- ControlMaster bookkeeping ---- */

struct host {
    struct host *next;
    char *key;     /* ssh argv, user, host, port, each NUL-terminated, then an empty string */
    size_t keylen;
    unsigned refs; /* remote children (and spawns in progress) using it, and held connections */
    unsigned children; /* of refs, the children: at most MASTER_CHILDREN */
    pthread_mutex_t start; /* held while the master starts, so one spawn starts it */
    subproc_proc *master;
    subproc_proc *starting; /* the master while it logs in (under hosts_lock), for exit() */
    char sock[64];
};

static pthread_mutex_t hosts_lock = PTHREAD_MUTEX_INITIALIZER;
static struct host *hosts;
static char sockdir[40]; /* "" until the first master */
static unsigned sockseq;
static pid_t hosts_pid; /* the process the masters belong to (a fork's child must not end them) */
static int atexit_done;
static int exiting; /* hosts_atexit() ran: no master may start any more (under hosts_lock) */

struct subproc__remote {
    pthread_mutex_t lock;
    subproc_proc *ctl;
    subproc_reader *rd; /* over ctl's stdout */
    struct host *h;
    int finished;
    int grace_ms;
    int lost; /* ended without the wrapper's status: ssh's own 255 (subproc_proc_remote_lost) */
};

static void master_end(subproc_proc *m, const char *sock)
{
    if (!m) return;
    /* End of its stdin ends its own session; ssh then ends once no child's session is left. */
    subproc_proc_close_fd(m, 0);
    if (subproc_proc_wait_timeout(m, 2000, NULL) == -ETIMEDOUT)
        subproc_proc_terminate(m, SIGTERM, 2000, 0, NULL);
    subproc_proc_free(m);
    unlink(sock); /* ssh removes it; not when it had to be killed */
}

static void hosts_atexit(void)
{
    pthread_mutex_lock(&hosts_lock);
    if (getpid() == hosts_pid) {
        for (struct host *h = hosts; h; h = h->next) {
            master_end(h->master, h->sock);
            h->master = NULL;
            /* One still logging in (another thread waits for it) reads no stdin yet, so the
             * end of its pipe would not end it; a host that never answers would keep it. */
            if (h->starting) subproc_proc_signal(h->starting, SIGTERM);
        }
        exiting = 1;
        if (sockdir[0]) rmdir(sockdir);
        sockdir[0] = '\0';
    }
    pthread_mutex_unlock(&hosts_lock);
}

static char *host_key(const subproc_remote *rm, size_t *len)
{
    static const char *const dflt[] = {"ssh", NULL};
    const char *const *sa = rm->ssh_argv ? rm->ssh_argv : dflt;
    char port[16];
    snprintf(port, sizeof port, "%d", rm->port);
    size_t n = 1;
    for (size_t i = 0; sa[i]; i++) n += strlen(sa[i]) + 1;
    n += strlen(rm->user ? rm->user : "") + 1 + strlen(rm->host) + 1 + strlen(port) + 1;
    char *k = subproc__malloc(n), *at = k;
    if (!k) return NULL;
    for (size_t i = 0; sa[i]; i++) at = stpcpy(at, sa[i]) + 1;
    *at++ = '\0'; /* end of the ssh argv */
    at = stpcpy(at, rm->user ? rm->user : "") + 1;
    at = stpcpy(at, rm->host) + 1;
    at = stpcpy(at, port) + 1;
    *len = (size_t)(at - k);
    return k;
}

/*
 * Children that share one ControlMaster. Each child is two sessions on it (control and
 * program) and the master has one of its own; sshd refuses sessions on a connection beyond its
 * MaxSessions, 10 by default (sshd_config(5)), and the refused ssh then prints an error and
 * opens a connection of its own, which sshd's MaxStartups may drop. So a master carries at most
 * 4 children at once (1 + 2 * 4 = 9 sessions); the 5th child at once gets another master, for
 * the same host, with a handshake of its own.
 */
#define MASTER_CHILDREN 4

/* Find or add a host entry and take a reference: for a child, an entry with room for one more
 * (MASTER_CHILDREN); for a held connection, the first. NULL: out of memory. */
static struct host *host_get(const subproc_remote *rm, int child)
{
    size_t len;
    char *key = host_key(rm, &len);
    if (!key) return NULL;
    pthread_mutex_lock(&hosts_lock);
    struct host *h;
    for (h = hosts; h; h = h->next)
        if (h->keylen == len && memcmp(h->key, key, len) == 0 &&
            (!child || h->children < MASTER_CHILDREN))
            break;
    if (!h && (h = subproc__calloc(1, sizeof *h))) {
        h->key = key;
        key = NULL;
        h->keylen = len;
        pthread_mutex_init(&h->start, NULL);
        snprintf(h->sock, sizeof h->sock, "%s/%u", sockdir, sockseq++); /* dir set at start */
        /* At the end of the list: the first entry of a key stays the one connections hold. */
        struct host **pp = &hosts;
        while (*pp) pp = &(*pp)->next;
        *pp = h;
    }
    if (h) {
        h->refs++;
        h->children += child != 0;
    }
    pthread_mutex_unlock(&hosts_lock);
    free(key);
    return h;
}

static void host_put(struct host *h, int child)
{
    if (!h) return;
    pthread_mutex_lock(&hosts_lock);
    subproc_proc *m = NULL;
    h->children -= child != 0;
    int last = --h->refs == 0;
    if (last) {
        m = h->master;
        h->master = NULL;
        for (struct host **pp = &hosts; *pp; pp = &(*pp)->next)
            if (*pp == h) {
                *pp = h->next;
                break;
            }
    }
    int empty = last && !hosts;
    pthread_mutex_unlock(&hosts_lock);
    if (!last) return;
    master_end(m, h->sock);
    if (empty) {
        /* The directory goes with the last master (a new one makes a new directory). */
        pthread_mutex_lock(&hosts_lock);
        if (!hosts && sockdir[0]) {
            rmdir(sockdir);
            sockdir[0] = '\0';
        }
        pthread_mutex_unlock(&hosts_lock);
    }
    pthread_mutex_destroy(&h->start);
    free(h->key);
    free(h);
}

/* ---- building ssh command lines ---- */

struct strv {
    char **v;
    size_t n, cap;
    int nomem;
};

static void sv_add(struct strv *s, const char *a)
{
    if (s->nomem) return;
    if (s->n + 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **v = subproc__realloc(s->v, cap * sizeof *v);
        if (!v) {
            s->nomem = 1;
            return;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n] = strdup(a);
    if (!s->v[s->n]) {
        s->nomem = 1;
        return;
    }
    s->v[++s->n] = NULL;
}

static void sv_free(struct strv *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* ssh EXTRA [-o ControlPath=...] [options] [-l user] [-p port] -- host. ssh keeps the first
 * value it gets for an option, so ours come before the caller's (and the ssh_config files). */
static void ssh_base(struct strv *s, const subproc_remote *rm, const struct host *h,
                     const char *const *extra)
{
    static const char *const dflt[] = {"ssh", NULL};
    const char *const *sa = rm->ssh_argv && rm->ssh_argv[0] ? rm->ssh_argv : dflt;
    sv_add(s, sa[0]);
    for (size_t i = 0; extra && extra[i]; i++) sv_add(s, extra[i]);
    if (h) {
        char cp[96];
        snprintf(cp, sizeof cp, "ControlPath=%s", h->sock);
        sv_add(s, "-o");
        sv_add(s, cp);
    }
    for (size_t i = 1; sa[i]; i++) sv_add(s, sa[i]);
    if (rm->user) {
        sv_add(s, "-l");
        sv_add(s, rm->user);
    }
    if (rm->port) {
        char port[16];
        snprintf(port, sizeof port, "%d", rm->port);
        sv_add(s, "-p");
        sv_add(s, port);
    }
    sv_add(s, "--");
    sv_add(s, rm->host);
}

/* A growing string for the remote command line. */
struct buf {
    char *p;
    size_t n, cap;
    int nomem;
};

static void buf_raw(struct buf *b, const char *s, size_t len)
{
    if (b->nomem) return;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + len + 1) cap *= 2;
        char *p = subproc__realloc(b->p, cap);
        if (!p) {
            b->nomem = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = '\0';
}

/* One more word, quoted, after a space. */
static void buf_word(struct buf *b, const char *s, size_t len)
{
    buf_raw(b, " ", 1);
    long q = subproc_shell_quote(NULL, 0, s, len);
    if (q < 0 || b->nomem) return;
    buf_raw(b, "", 0);
    if (b->n + (size_t)q + 1 > b->cap) {
        size_t cap = b->cap;
        while (cap < b->n + (size_t)q + 1) cap *= 2;
        char *p = subproc__realloc(b->p, cap);
        if (!p) {
            b->nomem = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    subproc_shell_quote(b->p + b->n, (size_t)q + 1, s, len);
    b->n += (size_t)q;
}

static void buf_str(struct buf *b, const char *s)
{
    buf_word(b, s, strlen(s));
}

/* "exec /bin/sh -c SCRIPT NAME": the login shell replaces itself, so the script's $$ is the
 * process sshd made the session (and process group) leader. */
static void buf_script(struct buf *b, const char *script, const char *name)
{
    buf_raw(b, "exec /bin/sh -c", 15);
    buf_str(b, script);
    buf_str(b, name);
}

/* ---- spawning ---- */

static int remote_check(const subproc_opts *o, subproc_error *err)
{
    const subproc_remote *rm = o->remote;
    if (rm->version != SUBPROC_REMOTE_VERSION || (rm->flags & ~SUBPROC_REMOTE_NO_MASTER) ||
        !rm->host || !rm->host[0] || rm->host[0] == '-' || strpbrk(rm->host, " \t\n") ||
        (rm->user && (!rm->user[0] || rm->user[0] == '-')) || rm->port < 0 || rm->port > 65535 ||
        rm->kill_grace_ms < 0)
        return subproc__fail(err, SUBPROC_STEP_VALIDATE, EINVAL, -1, rm->host);
    if (!o->argv || !o->argv[0] || !o->argv[0][0] || o->fn || o->program || o->env ||
        o->nfds || o->nrlimits ||
        (o->flags & (SUBPROC_SET_UID | SUBPROC_SET_GID | SUBPROC_SET_GROUPS | SUBPROC_SET_NICE |
                     SUBPROC_NO_PATH_SEARCH)))
        return subproc__fail(err, SUBPROC_STEP_VALIDATE, EINVAL, -1, NULL);
    for (size_t i = 0; o->argv[i]; i++)
        if (o->argv_lens && memchr(o->argv[i], '\0', o->argv_lens[i]))
            return subproc__fail(err, SUBPROC_STEP_VALIDATE, EINVAL, -1, o->argv[i]);
    for (size_t i = 0; rm->env && rm->env[i]; i++) {
        const char *eq = strchr(rm->env[i], '=');
        size_t nl = eq ? (size_t)(eq - rm->env[i]) : strlen(rm->env[i]);
        /* A portable shell name: export/unset of anything else would be a shell error. */
        int ok = nl > 0 && !(rm->env[i][0] >= '0' && rm->env[i][0] <= '9');
        for (size_t j = 0; ok && j < nl; j++) {
            char c = rm->env[i][j];
            ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9');
        }
        if (!ok) return subproc__fail(err, SUBPROC_STEP_VALIDATE, EINVAL, -1, rm->env[i]);
    }
    if (o->cwd && !o->cwd[0]) return subproc__fail(err, SUBPROC_STEP_CHDIR, ENOENT, -1, o->cwd);
    return 0;
}

/* An errno for ssh's message (it has no other way to say what went wrong). */
static int ssh_errno(const char *msg)
{
    static const struct {
        const char *text;
        int err;
    } map[] = {
        {"Connection refused", ECONNREFUSED},   {"Permission denied", EACCES},
        {"No route to host", EHOSTUNREACH},     {"timed out", ETIMEDOUT},
        {"Network is unreachable", ENETUNREACH}, {"Could not resolve", ENOENT},
        {"Host key verification failed", EACCES}, {"not found", ENOENT},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strstr(msg, map[i].text)) return map[i].err;
    return EIO;
}

/* Fail with step "remote" and the last non-empty line ssh wrote to fd (closed here). */
static int ssh_fail(subproc_error *err, int fd, const char *fallback)
{
    char text[2048];
    size_t n = 0;
    if (fd >= 0) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int64_t until = subproc__now_ms() + 2000;
        for (;;) {
            int64_t left = until - subproc__now_ms();
            if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) break;
            if (n == sizeof text - 1) n = 0; /* keep the end */
            ssize_t r = read(fd, text + n, sizeof text - 1 - n);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            n += (size_t)r;
        }
    }
    subproc__close(fd);
    text[n] = '\0';
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r')) text[--n] = '\0';
    char *line = strrchr(text, '\n');
    line = line ? line + 1 : text;
    if (line[0] && line[strlen(line) - 1] == '\r') line[strlen(line) - 1] = '\0';
    if (!line[0]) line = (char *)fallback;
    return subproc__fail(err, SUBPROC_STEP_REMOTE, ssh_errno(line), -1, line);
}

/* An ssh of ours: own process group (a terminal's ^C reaches the caller's children, not the
 * connection that is to clean up after them), stdin/stdout as given, stderr a pipe. */
static int spawn_ssh(subproc_proc **out, char **argv, subproc_io_kind in, subproc_io_kind outk,
                     subproc_error *err)
{
    subproc_opts so = SUBPROC_OPTS_INIT;
    so.argv = (const char *const *)argv;
    so.flags = SUBPROC_NEW_PGROUP | SUBPROC_SET_SIGMASK; /* and no signal blocked: the caller's
                                                            thread may block some */
    sigemptyset(&so.sigmask);
    so.stdio[0].kind = in;
    so.stdio[1].kind = outk;
    so.stdio[2].kind = SUBPROC_IO_PIPE;
    return subproc_spawn(out, &so, err);
}

/* Start h's ControlMaster unless it runs. Caller holds a reference. */
static int master_start(struct host *h, const subproc_remote *rm, subproc_error *err)
{
    pthread_mutex_lock(&h->start);
    int r = 0;
    if (h->master && subproc_proc_try_wait(h->master, NULL) == -EAGAIN) goto out;
    if (h->master) {
        master_end(h->master, h->sock); /* it ended (connection lost): start a new one */
        h->master = NULL;
    }
    pthread_mutex_lock(&hosts_lock);
    int mkdir_errno = 0;
    if (!sockdir[0]) {
        char d[] = "/tmp/subproc-cm-XXXXXX";
        if (mkdtemp(d))
            memcpy(sockdir, d, sizeof d);
        else
            mkdir_errno = errno ? errno : EIO;
        hosts_pid = getpid();
        if (!atexit_done) atexit_done = atexit(hosts_atexit) == 0;
    }
    if (strncmp(h->sock, sockdir, strlen(sockdir)) != 0 || h->sock[strlen(sockdir)] != '/')
        snprintf(h->sock, sizeof h->sock, "%s/%u", sockdir, sockseq++);
    /* Read under the lock: exit() in another thread clears it (hosts_atexit). */
    int have_dir = sockdir[0] != '\0';
    pthread_mutex_unlock(&hosts_lock);
    if (!have_dir) {
        r = subproc__fail(err, SUBPROC_STEP_REMOTE, mkdir_errno ? mkdir_errno : EIO, -1, "/tmp");
        goto out;
    }
    /* Not -N: a session of its own that reads our pipe, so that the master ends with the
     * caller's process even when nothing frees it (the pipe's end closes with the process). */
    static const char *const extra[] = {"-T", "-o", "ControlMaster=yes", "-o",
                                        "ControlPersist=no", NULL};
    struct strv sv = {0};
    ssh_base(&sv, rm, h, extra);
    sv_add(&sv, "exec cat >/dev/null");
    if (sv.nomem) {
        sv_free(&sv);
        r = subproc__fail(err, SUBPROC_STEP_ALLOC, ENOMEM, -1, NULL);
        goto out;
    }
    /* Started and made known under the lock, so that exit() in another thread either ends it
     * (hosts_atexit) or comes first and keeps it from starting. */
    subproc_proc *m = NULL;
    pthread_mutex_lock(&hosts_lock);
    if (exiting)
        r = subproc__fail(err, SUBPROC_STEP_REMOTE, ECANCELED, -1, "the process is exiting");
    else if ((r = spawn_ssh(&m, sv.v, SUBPROC_IO_PIPE, SUBPROC_IO_NULL, err)) == 0)
        h->starting = m;
    pthread_mutex_unlock(&hosts_lock);
    sv_free(&sv);
    if (r < 0) goto out;
    /* Ready once the socket exists (ssh makes it after logging in, by an atomic rename);
     * failed once ssh exits. Bounded: ssh's own ConnectTimeout normally ends it far sooner. */
    int delay = 1;
    for (int64_t until = subproc__now_ms() + 120000;;) {
        struct stat st;
        if (stat(h->sock, &st) == 0 && S_ISSOCK(st.st_mode)) break;
        if (subproc_proc_try_wait(m, NULL) != -EAGAIN || subproc__now_ms() > until) {
            pthread_mutex_lock(&hosts_lock);
            h->starting = NULL;
            pthread_mutex_unlock(&hosts_lock);
            subproc_proc_terminate(m, SIGTERM, 1000, 0, NULL);
            r = ssh_fail(err, subproc_proc_take_fd(m, 2), "ssh could not connect");
            subproc_proc_free(m);
            goto out;
        }
        struct timespec ts = {0, delay * 1000000L};
        nanosleep(&ts, NULL);
        if (delay < 50) delay *= 2;
    }
    /* Its later messages are not ours to read (ssh ignores SIGPIPE: the writes just fail). */
    subproc_proc_close_fd(m, 2);
    pthread_mutex_lock(&hosts_lock);
    h->starting = NULL;
    pthread_mutex_unlock(&hosts_lock);
    h->master = m;
out:
    pthread_mutex_unlock(&h->start);
    return r;
}

/* Sessions through our master; without one, the caller's ssh settings decide. */
static const char *const mux_client[] = {"-T", "-o", "ControlMaster=no", NULL};
static const char *const no_mux[] = {"-T", NULL};

/* The next line from the control session; 1, 0 at EOF, -ETIMEDOUT. */
static int ctl_line(struct subproc__remote *rs, const char **line, int timeout_ms)
{
    size_t len;
    int r = subproc_reader_readline(rs->rd, line, &len, timeout_ms);
    if (r == 1 && len > 0 && (*line)[len - 1] == '\n') ((char *)*line)[len - 1] = '\0';
    return r < 0 && r != -ETIMEDOUT ? 0 : r;
}

static void rs_free(struct subproc__remote *rs)
{
    if (!rs) return;
    subproc_reader_free(rs->rd);
    subproc_proc_free(rs->ctl); /* kills and reaps it when it still runs */
    host_put(rs->h, 1);
    pthread_mutex_destroy(&rs->lock);
    free(rs);
}

/* A name nobody can guess for the control directory: 16 random bytes in hex. */
static int dir_name(char *out, size_t size)
{
    unsigned char b[16];
    if (getentropy(b, sizeof b) < 0 || size < 2 * sizeof b + 1) return -EIO;
    for (size_t i = 0; i < sizeof b; i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
    return 0;
}

/* Start the control session. */
static int ctl_start(struct subproc__remote *rs, const subproc_remote *rm, const char *name,
                     subproc_error *err)
{
    struct strv sv = {0};
    ssh_base(&sv, rm, rs->h, rs->h ? mux_client : no_mux);
    struct buf cmd = {0};
    buf_script(&cmd, CTL_SH, "subproc-ctl");
    char ticks[16];
    snprintf(ticks, sizeof ticks, "%d", (rs->grace_ms + 99) / 100);
    buf_str(&cmd, ticks);
    buf_str(&cmd, name);
    sv_add(&sv, cmd.p ? cmd.p : "");
    int r;
    if (sv.nomem || cmd.nomem) {
        r = subproc__fail(err, SUBPROC_STEP_ALLOC, ENOMEM, -1, NULL);
    } else {
        r = spawn_ssh(&rs->ctl, sv.v, SUBPROC_IO_PIPE, SUBPROC_IO_PIPE, err);
        if (r == 0) r = subproc_reader_new(&rs->rd, subproc_proc_fd(rs->ctl, 1), 4096, 0);
        if (r == -ENOMEM) subproc__fail(err, SUBPROC_STEP_ALLOC, ENOMEM, -1, NULL);
    }
    sv_free(&sv);
    free(cmd.p);
    return r;
}

/* The control session's first line: its directory is there. */
static int ctl_ready(struct subproc__remote *rs, subproc_error *err)
{
    const char *line;
    int r = ctl_line(rs, &line, 120000);
    if (r == 1 && strncmp(line, "d /", 3) == 0) {
        subproc_proc_close_fd(rs->ctl, 2);
        return 0;
    }
    return ssh_fail(err, subproc_proc_take_fd(rs->ctl, 2),
                    r == 1 ? "the control session could not start on the host"
                           : "ssh could not connect");
}

/* The program's ssh command line. */
static int run_argv(struct strv *sv, const subproc_opts *o, struct subproc__remote *rs,
                    const char *dir)
{
    const subproc_remote *rm = o->remote;
    ssh_base(sv, rm, rs->h, rs->h ? mux_client : no_mux);
    struct buf cmd = {0};
    buf_script(&cmd, RUN_SH, "subproc-run");
    buf_str(&cmd, dir);
    if (o->cwd) {
        buf_str(&cmd, "-C");
        buf_str(&cmd, o->cwd);
    }
    if (o->flags & SUBPROC_SET_UMASK) {
        char m[16];
        snprintf(m, sizeof m, "%04o", (unsigned)(o->umask & 07777));
        buf_str(&cmd, "-m");
        buf_str(&cmd, m);
    }
    for (size_t i = 0; rm->env && rm->env[i]; i++) {
        buf_str(&cmd, strchr(rm->env[i], '=') ? "-e" : "-u");
        buf_str(&cmd, rm->env[i]);
    }
    buf_str(&cmd, "--");
    for (size_t i = 0; o->argv[i]; i++)
        buf_word(&cmd, o->argv[i], o->argv_lens ? o->argv_lens[i] : strlen(o->argv[i]));
    sv_add(sv, cmd.p ? cmd.p : "");
    int nomem = sv->nomem || cmd.nomem;
    free(cmd.p);
    return nomem ? -ENOMEM : 0;
}

int subproc__remote_spawn(subproc_proc **out, const subproc_opts *o, subproc_error *err)
{
    int r = remote_check(o, err);
    if (r < 0) return r;
    const subproc_remote *rm = o->remote;
    struct subproc__remote *rs = subproc__calloc(1, sizeof *rs);
    if (!rs) return subproc__fail(err, SUBPROC_STEP_ALLOC, ENOMEM, -1, NULL);
    pthread_mutex_init(&rs->lock, NULL);
    rs->grace_ms = rm->kill_grace_ms ? rm->kill_grace_ms : SUBPROC__DEFAULT_GRACE_MS;
    if (!(rm->flags & SUBPROC_REMOTE_NO_MASTER)) {
        rs->h = host_get(rm, 1);
        if (!rs->h) {
            rs_free(rs);
            return subproc__fail(err, SUBPROC_STEP_ALLOC, ENOMEM, -1, NULL);
        }
        if ((r = master_start(rs->h, rm, err)) < 0) goto fail;
    }
    char dir[40];
    if (dir_name(dir, sizeof dir) < 0) {
        r = subproc__fail(err, SUBPROC_STEP_REMOTE, EIO, -1, "getentropy");
        goto fail;
    }
    if ((r = ctl_start(rs, rm, dir, err)) < 0) goto fail;
    /* Through a master both sessions start at once (the program's waits for the FIFO); without
     * one, a connection failure is the control session's to report, before the program's
     * ssh could print it on the caller's stderr too. */
    if (!rs->h && (r = ctl_ready(rs, err)) < 0) goto fail;

    struct strv sv = {0};
    if (run_argv(&sv, o, rs, dir) < 0) {
        sv_free(&sv);
        r = subproc__fail(err, SUBPROC_STEP_ALLOC, ENOMEM, -1, NULL);
        goto fail;
    }
    subproc_opts lo = *o; /* the caller's stdio, groups, signal mask... for the local ssh */
    lo.version = 1;       /* no remote */
    lo.argv = (const char *const *)sv.v;
    lo.argv_lens = NULL;
    lo.cwd = NULL;
    lo.flags &= ~SUBPROC_SET_UMASK;
    subproc_proc *p;
    r = subproc_spawn(&p, &lo, err);
    sv_free(&sv);
    if (r < 0) goto fail;
    if (rs->h && (r = ctl_ready(rs, err)) < 0) {
        subproc_proc_free(p);
        goto fail;
    }

    /* "s", or "e STEP ERRNO"; nothing when the program's session did not get there. */
    const char *line = NULL;
    for (int64_t until = subproc__now_ms() + 120000;;) {
        r = ctl_line(rs, &line, 50);
        if (r != -ETIMEDOUT) break;
        if (subproc__now_ms() > until) break; /* the host never answered: give up */
        if (subproc_proc_try_wait(p, NULL) != -EAGAIN) {
            r = ctl_line(rs, &line, 200); /* a report racing the exit */
            break;
        }
    }
    if (r == 1 && strcmp(line, "s") == 0) {
        rs->finished = 0;
        p->remote = rs;
        *out = p;
        return 0;
    }
    char step[16] = "";
    int e = 0;
    char path[600];
    if (r == 1 && sscanf(line, "e %15s %d", step, &e) == 2 && e > 0) {
        const char *what = strcmp(step, "chdir") == 0 ? o->cwd : o->argv[0];
        snprintf(path, sizeof path, "%s:%s", rm->host, what ? what : "");
        r = subproc__fail(err,
                          strcmp(step, "chdir") == 0     ? SUBPROC_STEP_CHDIR
                          : strcmp(step, "resolve") == 0 ? SUBPROC_STEP_RESOLVE
                                                         : SUBPROC_STEP_EXEC,
                          e, -1, path);
    } else {
        r = subproc__fail(err, SUBPROC_STEP_REMOTE, EIO, -1,
                          "ssh ended before the program started on the host");
    }
    subproc_proc_free(p);
fail:
    rs_free(rs);
    return r;
}

/* ---- holding a connection ---- */

struct subproc_remote_conn {
    struct host *h;
};

int subproc_remote_connect(subproc_remote_conn **out, const subproc_remote *rm,
                           subproc_error *err)
{
    if (err) subproc__fail(err, SUBPROC_STEP_NONE, 0, -1, NULL);
    if (!out || !rm) return subproc__fail(err, SUBPROC_STEP_VALIDATE, EINVAL, -1, NULL);
    *out = NULL;
    /* The same checks as a spawn's, with a stand-in program. */
    static const char *const argv[] = {"true", NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    o.remote = rm;
    int r = remote_check(&o, err);
    if (r < 0) return r;
    if (rm->flags & SUBPROC_REMOTE_NO_MASTER)
        return subproc__fail(err, SUBPROC_STEP_VALIDATE, EINVAL, -1, NULL);
    subproc_remote_conn *c = subproc__calloc(1, sizeof *c);
    if (!c || !(c->h = host_get(rm, 0))) {
        free(c);
        return subproc__fail(err, SUBPROC_STEP_ALLOC, ENOMEM, -1, NULL);
    }
    if ((r = master_start(c->h, rm, err)) < 0) {
        subproc_remote_conn_free(c);
        return r;
    }
    *out = c;
    return 0;
}

void subproc_remote_conn_free(subproc_remote_conn *c)
{
    if (!c) return;
    host_put(c->h, 0);
    free(c);
}

/* ---- after the spawn ---- */

static void status_from_code(subproc_status *st, int code)
{
    st->exited = st->signaled = st->core_dumped = st->stopped = 0;
    st->code = st->signal = 0;
    if (code > 128 && subproc__sig_valid(code - 128)) {
        st->signaled = 1;
        st->signal = code - 128;
    } else {
        st->exited = 1;
        st->code = code;
    }
}

void subproc__remote_reaped(subproc_proc *p)
{
    struct subproc__remote *rs = p->remote;
    pthread_mutex_lock(&rs->lock);
    if (rs->finished) {
        pthread_mutex_unlock(&rs->lock);
        return;
    }
    rs->finished = 1;
    /* End of its stdin tells the control side to end whatever is left of the group, and to
     * clean up; it reports the wrapper's "x STATUS" (when the wrapper got that far) and ends. */
    subproc_proc_close_fd(rs->ctl, 0);
    int code = -1;
    int64_t until = subproc__now_ms() + rs->grace_ms + 10000;
    for (;;) {
        int64_t left = until - subproc__now_ms();
        const char *line;
        if (left <= 0 || ctl_line(rs, &line, (int)left) != 1) break;
        if (line[0] == 'x' && line[1] == ' ') code = atoi(line + 2);
    }
    if (subproc_proc_wait_timeout(rs->ctl, 1000, NULL) == -ETIMEDOUT)
        subproc_proc_terminate(rs->ctl, SIGTERM, 1000, 0, NULL);
    pthread_mutex_lock(&p->lock);
    if (!p->lost) {
        subproc_status *st = &p->status;
        if (code >= 0 && code <= 255)
            status_from_code(st, code);
        else if (st->exited && st->code != 255)
            status_from_code(st, st->code); /* the wrapper's exit code, through ssh */
        else if (st->exited)
            rs->lost = 1;
        /* else: exit 255 is ssh's own failure (the connection dropped), and a local signal is
         * how the local ssh ended: both are the truth we have. */
    }
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_unlock(&rs->lock);
}

int subproc_proc_remote_lost(const subproc_proc *p)
{
    if (!p || !p->remote) return 0;
    struct subproc__remote *rs = p->remote;
    pthread_mutex_lock(&rs->lock);
    int lost = rs->lost;
    pthread_mutex_unlock(&rs->lock);
    return lost;
}

int subproc__remote_signal(subproc_proc *p, int sig)
{
    struct subproc__remote *rs = p->remote;
    const char *name = subproc_signal_name(sig);
    if (!name) return -EINVAL; /* real-time signals have no portable name for kill -s */
    pthread_mutex_lock(&rs->lock);
    int r = 0;
    if (rs->finished || p->reaped) {
        r = -ESRCH;
    } else {
        int fd = subproc_proc_fd(rs->ctl, 0);
        char msg[32];
        int n = snprintf(msg, sizeof msg, "k %s\n", name + 3);
        struct subproc__sigpipe g;
        subproc__sigpipe_hold(&g);
        ssize_t w;
        do
            w = fd >= 0 ? write(fd, msg, (size_t)n) : -1;
        while (w < 0 && errno == EINTR);
        int epipe = w < 0 && errno == EPIPE;
        subproc__sigpipe_release(&g, epipe);
        if (w != n) r = -ESRCH; /* the control session is gone, so is the connection */
    }
    pthread_mutex_unlock(&rs->lock);
    return r;
}

void subproc__remote_free(subproc_proc *p)
{
    if (!p->remote) return;
    subproc__remote_reaped(p); /* no-op once done; the caller reaped p already */
    rs_free(p->remote);
    p->remote = NULL;
}
