/* ptyrun.c - `subproc run --pty`: the program on a new pseudo-terminal, with subproc in between
 * as a terminal emulator would be (as script(1) is).
 *
 * Interactive (subproc's stdin is a terminal): the child's terminal starts as a copy of ours
 * (modes and size), ours goes raw so that every key - Ctrl-C, Ctrl-Z, Ctrl-D included - reaches
 * the child's line discipline, which acts on it there; SIGWINCH makes the child's size follow.
 * Our terminal's modes are put back on every way out: the program ending, the deadline, and
 * INT/TERM/HUP/QUIT sent to subproc (they stay blocked, as run.c arranges, and are relayed to the
 * child's session; subproc ends once the child has, and restores first). Only SIGKILL can leave
 * the terminal raw, as with any program (`stty sane` or `reset` then).
 *
 * Not interactive: stdin is typed in as it comes, and its end becomes the terminal's EOF
 * character (twice after a partial line), as a user ends input with Ctrl-D - also when the
 * program has turned ICANON off (readline does), since a user's Ctrl-D is that byte too.
 *
 * Output: everything the terminal shows goes to our stdout (through tee.c, so a closed stdout
 * reaches the child as SIGPIPE) and, with --capture, into the report's stdout (head and tail
 * with --max-output, as run keeps them).
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define SLICE_MS 50 /* how late a relayed signal or a SIGWINCH may be */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int interactive(const cli_run_opts *o)
{
    return o->stream[0] == CLI_STREAM_INHERIT && isatty(0);
}

/* SIGWINCH is blocked from before the start (so that a resize between the start and the relay
 * loop is not lost: its default action discards it) until the session ends. */
static int winch_was_blocked;

void cli_pty_setup(const cli_run_opts *o, subproc_opts *so, subproc_pty_opts *po)
{
    sigset_t w, prev;
    sigemptyset(&w);
    sigaddset(&w, SIGWINCH);
    pthread_sigmask(SIG_BLOCK, &w, &prev);
    winch_was_blocked = sigismember(&prev, SIGWINCH) == 1;
    if (interactive(o)) {
        po->flags |= SUBPROC_PTY_FROM_FD;
        po->term_fd = 0;
    }
    po->rows = (unsigned short)o->pty_rows;
    po->cols = (unsigned short)o->pty_cols;
    for (int i = 0; i < 3; i++)
        if (o->stream[i] == CLI_STREAM_INHERIT)
            so->stdio[i] = (subproc_io){.kind = SUBPROC_IO_PTY, .pty = po};
}

/* --capture: the first half of --max-output as the head, the most recent bytes in a ring. */
typedef struct capbuf {
    subproc_capture *c;
    size_t max, size, wpos;
    int ring;
} capbuf;

static int cap_add(capbuf *b, const char *d, size_t n)
{
    subproc_capture *c = b->c;
    c->total += n;
    while (n) {
        if (!b->ring && c->len == b->max) {
            b->ring = 1;
            c->head_len = b->max / 2;
            b->wpos = c->head_len;
        }
        if (b->ring) {
            size_t k = b->max - b->wpos < n ? b->max - b->wpos : n;
            memcpy(c->data + b->wpos, d, k);
            c->truncated = 1;
            b->wpos += k;
            if (b->wpos == b->max) b->wpos = c->head_len;
            d += k;
            n -= k;
            continue;
        }
        size_t room = b->max - c->len;
        size_t k = n < room ? n : room;
        if (c->len + k + 1 > b->size) {
            size_t sz = b->size ? b->size * 2 : 65536;
            while (sz < c->len + k + 1)
                sz *= 2;
            if (sz > b->max + 1) sz = b->max + 1;
            char *nd = realloc(c->data, sz);
            if (!nd) return -ENOMEM;
            c->data = nd;
            b->size = sz;
        }
        memcpy(c->data + c->len, d, k);
        c->len += k;
        d += k;
        n -= k;
    }
    return 0;
}

static void cap_finish(capbuf *b)
{
    subproc_capture *c = b->c;
    if (b->ring) {
        /* Put the ring in order: [head_len, max) rotated left by wpos - head_len. */
        size_t n = c->len - c->head_len, k = b->wpos - c->head_len;
        char *tmp = malloc(n ? n : 1);
        if (tmp) {
            memcpy(tmp, c->data + c->head_len + k, n - k);
            memcpy(tmp + n - k, c->data + c->head_len, k);
            memcpy(c->data + c->head_len, tmp, n);
            free(tmp);
        }
    } else {
        c->head_len = c->len;
    }
    if (!c->data) c->data = calloc(1, 1);
    if (c->data) c->data[c->len] = '\0';
}

/* Type the terminal's EOF character, as a user ends input with Ctrl-D: twice after a partial
 * line in canonical mode (the first only hands the line over). With ICANON off it is an
 * ordinary byte, once: what programs that read keys themselves (readline) take as the end. */
static size_t eof_chars(int m, int partial, char *buf)
{
    struct termios t;
    if (tcgetattr(m, &t) < 0 || t.c_cc[VEOF] == _POSIX_VDISABLE) return 0;
    buf[0] = buf[1] = (char)t.c_cc[VEOF];
    return partial && (t.c_lflag & ICANON) ? 2 : 1;
}

static void follow_size(int m)
{
    struct winsize ws;
    if (ioctl(0, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
        subproc_pty_set_size(m, ws.ws_row, ws.ws_col);
}

int cli_pty_session(subproc_proc *p, const cli_run_opts *o, subproc_result *cap)
{
    memset(cap, 0, sizeof *cap);
    int m = subproc_proc_pty(p);
    int inter = interactive(o);
    int in_fd = o->stream[0] == CLI_STREAM_INHERIT ? 0 : -1;
    /* Relayed as run does, plus SIGWINCH, collected between polls. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGQUIT);
    sigaddset(&sigs, SIGWINCH);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    struct termios saved;
    int raw = 0;
    if (inter && tcgetattr(0, &saved) == 0) {
        struct termios t = saved;
        cfmakeraw(&t);
        raw = tcsetattr(0, TCSADRAIN, &t) == 0;
    }
    if (inter && !o->pty_rows) follow_size(m); /* a resize during the start */
    int fl = fcntl(m, F_GETFL);
    if (fl >= 0) fcntl(m, F_SETFL, fl | O_NONBLOCK);

    cli_tee tee;
    cli_tee_init(&tee, p);
    capbuf cb = {&cap->out, o->max_output ? o->max_output : (size_t)-1 / 2, 0, 0, 0};
    char inbuf[4096], outbuf[65536];
    size_t inlen = 0, inoff = 0;
    int partial = 0, out_eof = 0, reaped = 0, r = 0;
    enum { RUNNING, GRACE, KILLED } phase = RUNNING;
    long long deadline = o->timeout_ms ? now_ms() + o->timeout_ms : -1;

    while (!(out_eof && reaped)) {
        struct pollfd pf[2];
        int n = 0, iin = -1, im = -1;
        if (in_fd >= 0 && inlen == 0) {
            pf[n] = (struct pollfd){in_fd, POLLIN, 0};
            iin = n++;
        }
        if (!out_eof || inlen) {
            short ev = (short)((out_eof ? 0 : POLLIN) | (inlen ? POLLOUT : 0));
            pf[n] = (struct pollfd){m, ev, 0};
            im = n++;
        }
        long long slice = SLICE_MS;
        if (deadline >= 0) {
            long long left = deadline - now_ms();
            if (left < slice) slice = left < 0 ? 0 : left;
        }
        int pr = poll(pf, (nfds_t)n, (int)slice);
        if (pr < 0 && errno != EINTR) {
            r = -errno;
            break;
        }
        if (pr > 0 && iin >= 0 && pf[iin].revents) {
            ssize_t k = read(in_fd, inbuf, sizeof inbuf);
            if (k > 0) {
                inlen = (size_t)k;
                inoff = 0;
                partial = inbuf[k - 1] != '\n';
            } else if (k == 0 || (errno != EINTR && errno != EAGAIN)) {
                in_fd = -1; /* end of our input: the user's Ctrl-D */
                inlen = eof_chars(m, partial, inbuf);
                inoff = 0;
            }
        }
        if (pr > 0 && im >= 0 && (pf[im].revents & POLLOUT) && inlen) {
            ssize_t w = write(m, inbuf + inoff, inlen - inoff);
            if (w > 0) inoff += (size_t)w;
            if ((w > 0 && inoff == inlen) || (w < 0 && errno != EAGAIN && errno != EINTR))
                inlen = inoff = 0; /* written, or the terminal is gone */
            if (w < 0 && errno != EAGAIN && errno != EINTR) in_fd = -1;
        }
        if (pr > 0 && im >= 0 && (pf[im].revents & ~POLLOUT)) {
            /* Read until EAGAIN or the end; EIO is the end on Linux (every slave fd closed). */
            for (;;) {
                ssize_t k = read(m, outbuf, sizeof outbuf);
                if (k > 0) {
                    cli_tee_output(&tee, 1, outbuf, (size_t)k);
                    if (o->capture && cap_add(&cb, outbuf, (size_t)k) < 0) r = -ENOMEM;
                    continue;
                }
                if (k < 0 && errno == EINTR) continue;
                if (k == 0 || errno != EAGAIN) out_eof = 1;
                break;
            }
            if (out_eof) inlen = inoff = 0, in_fd = -1;
        }
        /* Signals for subproc go to the child's session; a new size to its terminal. */
        static const struct timespec zero = {0, 0};
        int sig;
        while ((sig = sigtimedwait(&sigs, NULL, &zero)) > 0) {
            if (sig == SIGWINCH) {
                if (inter && !o->pty_rows) follow_size(m);
            } else {
                cli_signal_all(p, sig);
            }
        }
        if (!reaped) {
            int w = subproc_proc_try_wait(p, &cap->status);
            if (w == 0)
                reaped = 1;
            else if (w != -EAGAIN) {
                r = w;
                break;
            }
        }
        if (deadline >= 0 && now_ms() >= deadline) {
            if (phase == RUNNING) {
                cap->timed_out = 1;
                cli_signal_all(p, o->signal);
                if (o->signal != SIGKILL && o->signal != SIGCONT)
                    cli_signal_all(p, SIGCONT);
                phase = GRACE;
                deadline = o->kill_after_ms ? now_ms() + o->kill_after_ms : -1;
            } else if (phase == GRACE) {
                cli_signal_all(p, SIGKILL);
                phase = KILLED;
                deadline = -1;
            }
        }
    }
    if (raw) tcsetattr(0, TCSADRAIN, &saved);
    if (o->capture) cap_finish(&cb);
    if (!cap->err.data) cap->err.data = calloc(1, 1);
    /* What arrived for subproc after the child's end stays pending and blocked: exiting drops
     * it, as run.c does. SIGWINCH goes back to how it was. */
    sigset_t w;
    sigemptyset(&w);
    sigaddset(&w, SIGWINCH);
    if (!winch_was_blocked) {
        static const struct timespec zero = {0, 0};
        while (sigtimedwait(&w, NULL, &zero) > 0) {
        }
        pthread_sigmask(SIG_UNBLOCK, &w, NULL);
    }
    return r;
}
