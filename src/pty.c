/*
 * pty.c - children on a pseudo-terminal: open the terminal in the parent, set its size and
 * modes, type its special characters, and the expect-style reader.
 *
 * The parent does everything that can fail before the child starts (posix_openpt, grantpt,
 * unlockpt, opening the slave, tcsetattr, TIOCSWINSZ); the child only calls setsid() and
 * ioctl(TIOCSCTTY) (child.c) and gets the slave through its ordinary fd plan. Both fds are
 * O_CLOEXEC from birth and O_NOCTTY, so the parent never acquires the terminal as its own
 * controlling terminal (POSIX: opening a terminal without O_NOCTTY may do so for a session
 * leader without one).
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#define DEFAULT_ROWS 24
#define DEFAULT_COLS 80
#define EXPECT_MAX_BUFFER ((size_t)16 << 20)
#define EXPECT_READ 65536

#define CTL(c) ((c)&0x1f)

void subproc__pty_init(struct subproc__pty *t)
{
    t->master = t->slave = -1;
    t->opts = NULL;
    t->out_given = 0;
}

/* The modes of `stty sane`, what a freshly opened terminal emulator gives a shell. */
static void sane_termios(struct termios *tio)
{
    tio->c_iflag = ICRNL | IXON | BRKINT;
#ifdef IMAXBEL
    tio->c_iflag |= IMAXBEL;
#endif
    tio->c_oflag = OPOST | ONLCR;
    tio->c_cflag = (tio->c_cflag & ~(CSIZE | PARENB)) | CS8 | CREAD;
    tio->c_lflag = ISIG | ICANON | IEXTEN | ECHO | ECHOE | ECHOK;
#ifdef ECHOCTL
    tio->c_lflag |= ECHOCTL;
#endif
#ifdef ECHOKE
    tio->c_lflag |= ECHOKE;
#endif
    tio->c_cc[VINTR] = CTL('C');
    tio->c_cc[VQUIT] = CTL('\\');
    tio->c_cc[VERASE] = 0177;
    tio->c_cc[VKILL] = CTL('U');
    tio->c_cc[VEOF] = CTL('D');
    tio->c_cc[VSUSP] = CTL('Z');
#ifdef VWERASE
    tio->c_cc[VWERASE] = CTL('W');
#endif
#ifdef VREPRINT
    tio->c_cc[VREPRINT] = CTL('R');
#endif
#ifdef VLNEXT
    tio->c_cc[VLNEXT] = CTL('V');
#endif
    tio->c_cc[VSTART] = CTL('Q');
    tio->c_cc[VSTOP] = CTL('S');
    tio->c_cc[VMIN] = 1;
    tio->c_cc[VTIME] = 0;
}

static int check_opts(const subproc_pty_opts *o)
{
    if (!o) return 0;
    const unsigned known = (SUBPROC_PTY_RAW << 1) - 1;
    if (o->version != SUBPROC_PTY_OPTS_VERSION || (o->flags & ~known)) return -EINVAL;
    if ((o->flags & SUBPROC_PTY_FROM_FD) && !subproc__fd_valid(o->term_fd)) return -EBADF;
    return 0;
}

static int open_slave(int master)
{
    int fd;
#if defined(__linux__) && defined(TIOCGPTPEER)
    /* Linux 4.13: the slave of this very master, with no path lookup in between (a path can be
     * swapped under /dev/pts in a container). Older kernels say EINVAL or ENOTTY. */
    fd = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd >= 0) return fd;
#endif
    char name[128];
    if (ptsname_r(master, name, sizeof name) != 0) return -1;
    fd = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    return fd;
}

/* Open both ends, lifted above 2 (see fdmap.c), with the size and modes of o applied. */
static int pty_open(struct subproc__pty *t, const subproc_pty_opts *o, int i, subproc_error *err)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) return subproc__fail(err, SUBPROC_STEP_OPEN, errno, i, "/dev/ptmx");
    /* An fd of ours may not be left on 0-2; and a libc that ignored O_CLOEXEC is caught here. */
    if ((t->master = subproc__fd_lift(m)) < 0)
        return subproc__fail(err, SUBPROC_STEP_OPEN, -t->master, i, "/dev/ptmx");
    fcntl(t->master, F_SETFD, FD_CLOEXEC);
    if (grantpt(t->master) < 0 || unlockpt(t->master) < 0)
        return subproc__fail(err, SUBPROC_STEP_OPEN, errno, i, "/dev/ptmx");
    int s = open_slave(t->master);
    if (s < 0) return subproc__fail(err, SUBPROC_STEP_OPEN, errno, i, "pty slave");
    if ((t->slave = subproc__fd_lift(s)) < 0)
        return subproc__fail(err, SUBPROC_STEP_OPEN, -t->slave, i, "pty slave");

    struct termios tio;
    struct winsize ws = {DEFAULT_ROWS, DEFAULT_COLS, 0, 0};
    if (tcgetattr(t->slave, &tio) < 0)
        return subproc__fail(err, SUBPROC_STEP_OPEN, errno, i, "pty slave");
    if (o && (o->flags & SUBPROC_PTY_FROM_FD)) {
        if (tcgetattr(o->term_fd, &tio) < 0 || ioctl(o->term_fd, TIOCGWINSZ, &ws) < 0)
            return subproc__fail(err, SUBPROC_STEP_VALIDATE, errno, o->term_fd, NULL);
    } else {
        sane_termios(&tio);
    }
    if (o && o->termios) tio = *o->termios;
    if (o && (o->flags & SUBPROC_PTY_RAW)) cfmakeraw(&tio);
    if (o && o->rows) ws.ws_row = o->rows;
    if (o && o->cols) ws.ws_col = o->cols;
    if (ws.ws_row == 0) ws.ws_row = DEFAULT_ROWS;
    if (ws.ws_col == 0) ws.ws_col = DEFAULT_COLS;
    if (tcsetattr(t->slave, TCSANOW, &tio) < 0)
        return subproc__fail(err, SUBPROC_STEP_OPEN, errno, i, "pty slave");
    if (ioctl(t->master, TIOCSWINSZ, &ws) < 0)
        return subproc__fail(err, SUBPROC_STEP_OPEN, errno, i, "pty slave");
    return 0;
}

int subproc__pty_stream(struct subproc__pty *t, const subproc_io *stdio, int i, int *parent_end,
                        subproc_error *err)
{
    int r;
    *parent_end = -1;
    if (t->slave < 0) {
        /* One terminal per child, described by whichever pty stream describes it; two
         * different descriptions cannot both hold. */
        for (int k = 0; k < 3; k++) {
            const subproc_pty_opts *po = stdio[k].kind == SUBPROC_IO_PTY ? stdio[k].pty : NULL;
            if (!po) continue;
            if ((r = check_opts(po)) < 0)
                return subproc__fail(err, SUBPROC_STEP_VALIDATE, -r, k, NULL);
            if (t->opts && po != t->opts)
                return subproc__fail(err, SUBPROC_STEP_VALIDATE, EINVAL, k, NULL);
            t->opts = po;
        }
        if ((r = pty_open(t, t->opts, i, err)) < 0) return r;
    }
    /* One reader of the master for output, or the streams would split what the terminal shows
     * between them at random. */
    if (i == 0 || !t->out_given) {
        int d = fcntl(t->master, F_DUPFD_CLOEXEC, 3);
        if (d < 0) return subproc__fail(err, SUBPROC_STEP_OPEN, errno, i, "/dev/ptmx");
        *parent_end = d;
        if (i > 0) t->out_given = 1;
    }
    return t->slave;
}

void subproc__pty_release(struct subproc__pty *t, int keep_master)
{
    subproc__close(t->slave);
    t->slave = -1;
    if (!keep_master) {
        subproc__close(t->master);
        t->master = -1;
    }
}

int subproc_proc_pty(const subproc_proc *p)
{
    return p ? p->pty : -1;
}

/* ---- size and special characters ---- */

int subproc_pty_set_size(int fd, unsigned rows, unsigned cols)
{
    if (rows == 0 || cols == 0 || rows > 65535 || cols > 65535) return -EINVAL;
    struct winsize ws = {(unsigned short)rows, (unsigned short)cols, 0, 0};
    return ioctl(fd, TIOCSWINSZ, &ws) < 0 ? -errno : 0;
}

int subproc_pty_get_size(int fd, unsigned *rows, unsigned *cols)
{
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) < 0) return -errno;
    if (rows) *rows = ws.ws_row;
    if (cols) *cols = ws.ws_col;
    return 0;
}

static int write_all(int fd, const char *d, size_t n, int64_t deadline)
{
    struct subproc__sigpipe g;
    subproc__sigpipe_hold(&g);
    int r = 0, epipe = 0;
    while (n) {
        ssize_t w = write(fd, d, n);
        if (w >= 0) {
            d += w;
            n -= (size_t)w;
            continue;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int left = -1;
            if (deadline) {
                int64_t l = deadline - subproc__now_ms();
                if (l <= 0) {
                    r = -ETIMEDOUT;
                    break;
                }
                left = l > 1000000 ? 1000000 : (int)l;
            }
            struct pollfd pf = {fd, POLLOUT, 0};
            if (poll(&pf, 1, left) < 0 && errno != EINTR) {
                r = -errno;
                break;
            }
            continue;
        }
        r = -errno;
        epipe = errno == EPIPE;
        break;
    }
    subproc__sigpipe_release(&g, epipe);
    return r;
}

int subproc_pty_send_cc(int fd, int cc)
{
    if (cc < 0 || cc >= NCCS) return -EINVAL;
    struct termios tio;
    if (tcgetattr(fd, &tio) < 0) return -errno;
    char c = (char)tio.c_cc[cc];
#ifdef _POSIX_VDISABLE
    if ((unsigned char)c == (unsigned char)_POSIX_VDISABLE) return -ENOTSUP;
#endif
    return write_all(fd, &c, 1, 0);
}

int subproc_pty_send_eof(int fd)
{
    return subproc_pty_send_cc(fd, VEOF);
}

int subproc_pty_send_intr(int fd)
{
    return subproc_pty_send_cc(fd, VINTR);
}

int subproc__pty_input(const subproc_proc *p, const void **in, size_t *len, char **buf)
{
    *buf = NULL;
    int fd = subproc_proc_fd(p, 0);
    struct termios tio;
    if (p->pty < 0 || fd < 0 || tcgetattr(fd, &tio) < 0) return 0; /* not a terminal: a pipe */
    if (!(tio.c_lflag & ICANON)) return 0; /* raw: VEOF is an ordinary byte */
    unsigned char eof = tio.c_cc[VEOF];
#ifdef _POSIX_VDISABLE
    if (eof == (unsigned char)_POSIX_VDISABLE) return 0;
#endif
    /* VEOF hands over the line typed so far; only at the start of a line does the read see 0
     * bytes, i.e. end-of-file. So a last line without a newline takes two, as at a keyboard. */
    const char *s = *in;
    size_t n = s ? *len : 0;
    size_t neof = n && s[n - 1] != '\n' ? 2 : 1;
    char *b = subproc__malloc(n + neof);
    if (!b) return -ENOMEM;
    if (n) memcpy(b, s, n);
    memset(b + n, eof, neof);
    *buf = b;
    *in = b;
    *len = n + neof;
    return 0;
}

/* ---- the expect-style reader ---- */

struct subproc_expect {
    int rfd, wfd;
    unsigned flags;
    size_t max;
    char *buf; /* [start, len) unmatched output, NUL at len */
    size_t start, len, size;
    int eof;
    /* the last match handed out: kept in buf until the next call */
    char *ret; /* before + NUL + match + NUL */
    size_t ret_size;
};

int subproc_expect_new(subproc_expect **out, int rfd, int wfd, size_t max_buffer, unsigned flags)
{
    if (!out) return -EINVAL;
    *out = NULL;
    if (rfd < 0 || (flags & ~SUBPROC_EXPECT_OWN_FDS)) return -EINVAL;
    subproc_expect *e = subproc__calloc(1, sizeof *e);
    if (!e) return -ENOMEM;
    e->rfd = rfd;
    e->wfd = wfd;
    e->flags = flags;
    e->max = max_buffer ? max_buffer : EXPECT_MAX_BUFFER;
    *out = e;
    return 0;
}

void subproc_expect_free(subproc_expect *e)
{
    if (!e) return;
    if (e->flags & SUBPROC_EXPECT_OWN_FDS) {
        subproc__close(e->rfd);
        if (e->wfd != e->rfd) subproc__close(e->wfd);
    }
    free(e->buf);
    free(e->ret);
    free(e);
}

const char *subproc_expect_pending(const subproc_expect *e, size_t *len)
{
    if (len) *len = e && e->buf ? e->len - e->start : 0;
    return e && e->buf ? e->buf + e->start : "";
}

/* One read into the buffer. 1: data, 0: end-of-file, < 0: error (-EAGAIN: nothing yet). */
static int expect_read(subproc_expect *e)
{
    if (e->start > 0 && e->start == e->len) e->start = e->len = 0;
    if (e->size - e->len < EXPECT_READ + 1) {
        if (e->start > 0) { /* move the unmatched rest down before growing */
            memmove(e->buf, e->buf + e->start, e->len - e->start);
            e->len -= e->start;
            e->start = 0;
        }
        if (e->size - e->len < EXPECT_READ + 1) {
            size_t sz = e->size ? e->size * 2 : EXPECT_READ * 2;
            char *nb = subproc__realloc(e->buf, sz);
            if (!nb) return -ENOMEM;
            e->buf = nb;
            e->size = sz;
        }
    }
    ssize_t n;
    do
        n = read(e->rfd, e->buf + e->len, EXPECT_READ);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        /* EIO on a pty master: every slave fd is closed (Linux), i.e. end-of-file. */
        if (errno == EIO) return 0;
        return -errno;
    }
    e->len += (size_t)n;
    e->buf[e->len] = '\0';
    return n > 0;
}

/* Find the pattern in the unmatched output: 1 with [*so, *eo) relative to start, else 0. */
static int find(subproc_expect *e, const char *pat, const regex_t *re, size_t *so, size_t *eo)
{
    const char *hay = e->buf ? e->buf + e->start : "";
    size_t n = e->buf ? e->len - e->start : 0;
    if (!re) {
        size_t pl = strlen(pat);
        if (pl > n) return 0;
        const char *f = memmem(hay, n, pat, pl);
        if (!f) return 0;
        *so = (size_t)(f - hay);
        *eo = *so + pl;
        return 1;
    }
    regmatch_t rm[1];
    int fl = 0;
#ifdef REG_STARTEND
    rm[0].rm_so = 0;
    rm[0].rm_eo = (regoff_t)n;
    fl = REG_STARTEND;
#endif
    if (regexec(re, hay, 1, rm, fl) != 0) return 0;
    *so = (size_t)rm[0].rm_so;
    *eo = (size_t)rm[0].rm_eo;
    return 1;
}

/* Hand [start, start+so) as before and [start+so, start+eo) as the match; consume them. */
static int hand_out(subproc_expect *e, size_t so, size_t eo, subproc_match *m)
{
    size_t need = eo + 2;
    if (need > e->ret_size) {
        char *nr = subproc__realloc(e->ret, need);
        if (!nr) return -ENOMEM;
        e->ret = nr;
        e->ret_size = need;
    }
    const char *src = e->buf ? e->buf + e->start : "";
    memcpy(e->ret, src, so);
    e->ret[so] = '\0';
    memcpy(e->ret + so + 1, src + so, eo - so);
    e->ret[eo + 1] = '\0';
    e->start += eo;
    if (m) {
        m->before = e->ret;
        m->before_len = so;
        m->match = e->ret + so + 1;
        m->match_len = eo - so;
    }
    return 0;
}

int subproc_expect_match(subproc_expect *e, const char *pattern, unsigned flags, int timeout_ms,
                         subproc_match *m)
{
    if (!e || (flags & ~(SUBPROC_EXPECT_REGEX | SUBPROC_EXPECT_ICASE))) return -EINVAL;
    if (pattern && !*pattern) return -EINVAL;
    regex_t re;
    int have_re = 0;
    if (pattern && (flags & SUBPROC_EXPECT_REGEX)) {
        int cf = REG_EXTENDED | ((flags & SUBPROC_EXPECT_ICASE) ? REG_ICASE : 0);
        if (regcomp(&re, pattern, cf) != 0) return -EINVAL;
        have_re = 1;
    }
    int64_t deadline = timeout_ms >= 0 ? subproc__now_ms() + timeout_ms : 0;
    int r;
    size_t so, eo;
    for (;;) {
        if (pattern && find(e, pattern, have_re ? &re : NULL, &so, &eo)) {
            r = hand_out(e, so, eo, m);
            if (r == 0) r = 1;
            break;
        }
        if (e->eof) {
            size_t n = e->buf ? e->len - e->start : 0;
            r = hand_out(e, n, n, m);
            break;
        }
        if (e->buf && e->len - e->start >= e->max) {
            r = -ENOBUFS;
            break;
        }
        int wait = -1;
        if (timeout_ms >= 0) {
            int64_t left = deadline - subproc__now_ms();
            if (left < 0) left = 0;
            wait = left > 1000000 ? 1000000 : (int)left;
        }
        struct pollfd pf = {e->rfd, POLLIN, 0};
        int pr = poll(&pf, 1, wait);
        if (pr < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            r = -errno;
            break;
        }
        if (pr == 0) {
            r = -ETIMEDOUT;
            break;
        }
        r = expect_read(e);
        if (r == 0) e->eof = 1;
        if (r < 0 && r != -EAGAIN && r != -EWOULDBLOCK) break;
    }
    if (have_re) regfree(&re);
    return r;
}

int subproc_expect_send(subproc_expect *e, const void *data, size_t len, int timeout_ms)
{
    if (!e || (!data && len)) return -EINVAL;
    if (e->wfd < 0) return -EBADF;
    int64_t deadline = timeout_ms >= 0 ? subproc__now_ms() + timeout_ms : 0;
    if (timeout_ms == 0) deadline = subproc__now_ms(); /* one try */
    return write_all(e->wfd, data, len, deadline);
}
