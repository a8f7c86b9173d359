/* par_out.c - where a `par` job's output waits until it may be printed.
 *
 * The first bytes of a stream stay in memory; past PAR_MEM_THRESHOLD (or once all jobs together
 * hold PAR_MEM_BUDGET) the stream continues in a spool file: an unlinked O_TMPFILE in $TMPDIR
 * (mkostemp() and unlink() where the file system cannot make one), so memory stays bounded
 * whatever the jobs write, and nothing is left on disk even when subproc is killed. Data moves
 * pipe -> spool -> stdout with splice(2), copy_file_range(2) or sendfile(2) where the kernel
 * supports the pair of files, and through a buffer otherwise. */
#include "par_out.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/sendfile.h>

#ifndef O_TMPFILE
#define O_TMPFILE (020000000 | O_DIRECTORY)
#endif

static size_t mem_held; /* bytes all streams hold in memory (par is single-threaded) */

void par_ostream_init(par_ostream *os)
{
    memset(os, 0, sizeof *os);
    os->fd = -1;
    os->spool = -1;
    os->bol = 1;
}

static int spool_in(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) return fd;
    char path[4096];
    snprintf(path, sizeof path, "%s/subproc-par-XXXXXX", dir);
    fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) return -errno;
    unlink(path);
    return fd;
}

/* In $TMPDIR, or /tmp when it is not set or unusable. */
static int spool_open(void)
{
    const char *dir = getenv("TMPDIR");
    int fd = dir && *dir ? spool_in(dir) : -ENOENT;
    return fd >= 0 ? fd : spool_in("/tmp");
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) { /* an inherited O_NONBLOCK stdout: wait for room */
            struct pollfd pf = {fd, POLLOUT, 0};
            poll(&pf, 1, -1);
            continue;
        }
        if (w < 0) return -errno;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Move what memory holds into a new spool file. */
static int spill(par_ostream *os)
{
    int fd = spool_open();
    if (fd < 0) return fd;
    int r = write_all(fd, os->mem.s, os->mem.len);
    if (r < 0) {
        close(fd);
        return r;
    }
    os->spool = fd;
    os->spooled = (off_t)os->mem.len;
    mem_held -= os->mem.len;
    par_buf_free(&os->mem);
    return 0;
}

int par_ostream_add(par_ostream *os, const char *p, size_t len)
{
    if (os->spool < 0 &&
        (os->mem.len + len > PAR_MEM_THRESHOLD || mem_held + len > PAR_MEM_BUDGET)) {
        int r = spill(os);
        if (r < 0 && os->mem.len + len > 16 * PAR_MEM_THRESHOLD) return r;
    }
    if (os->spool >= 0) {
        int r = write_all(os->spool, p, len);
        if (r == 0) os->spooled += (off_t)len;
        return r;
    }
    if (par_buf_add(&os->mem, p, len) < 0) return -ENOMEM;
    mem_held += len;
    return 0;
}

ssize_t par_ostream_splice_in(par_ostream *os, int pipe_fd, size_t max)
{
    if (os->spool < 0) return -EINVAL;
    ssize_t n = splice(pipe_fd, NULL, os->spool, NULL, max, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
    if (n < 0) return -errno;
    os->spooled += n;
    return n;
}

/* Bytes through user space, with the tag at the start of each line when there is one. */
static int emit(par_ostream *os, int out, const char *p, size_t len, const char *tag,
                size_t taglen)
{
    if (!tag) return write_all(out, p, len);
    while (len) {
        const char *nl = memchr(p, '\n', len);
        size_t piece = nl ? (size_t)(nl - p) + 1 : len;
        if (os->bol) {
            int r = write_all(out, tag, taglen);
            if (r < 0) return r;
        }
        int r = write_all(out, p, piece);
        if (r < 0) return r;
        os->bol = nl != NULL;
        p += piece;
        len -= piece;
    }
    return 0;
}

/* The spool file's first len bytes to out: copy_file_range (file to file), splice (file to
 * pipe), sendfile (file to anything else), or a buffer when none of them takes the pair. */
static int copy_spool(par_ostream *os, off_t len, int out, const char *tag, size_t taglen)
{
    off_t off = 0;
    if (!tag) {
        while (off < len) {
            ssize_t n = copy_file_range(os->spool, &off, out, NULL, (size_t)(len - off), 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
        }
        while (off < len) {
            ssize_t n = splice(os->spool, &off, out, NULL, (size_t)(len - off), 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
        }
        while (off < len) {
            ssize_t n = sendfile(out, os->spool, &off, (size_t)(len - off));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
        }
    }
    char buf[65536];
    while (off < len) {
        size_t want = (size_t)(len - off) < sizeof buf ? (size_t)(len - off) : sizeof buf;
        ssize_t n = pread(os->spool, buf, want, off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return n < 0 ? -errno : -EIO;
        int r = emit(os, out, buf, (size_t)n, tag, taglen);
        if (r < 0) return r;
        off += n;
    }
    return 0;
}

int par_ostream_flush(par_ostream *os, int out, size_t keep, const char *tag, size_t taglen)
{
    int r = 0;
    if (os->spool >= 0) {
        r = copy_spool(os, os->spooled, out, tag, taglen);
        if (!tag && os->spooled) {
            /* what went out without us seeing it: did it end a line? */
            char last;
            if (pread(os->spool, &last, 1, os->spooled - 1) == 1) os->bol = last == '\n';
        }
        close(os->spool);
        os->spool = -1;
        os->spooled = 0;
    }
    if (keep > os->mem.len) keep = os->mem.len;
    size_t n = os->mem.len - keep;
    if (n && r == 0) r = emit(os, out, os->mem.s, n, tag, taglen);
    if (n) {
        memmove(os->mem.s, os->mem.s + n, keep);
        os->mem.len = keep;
        if (os->mem.s) os->mem.s[keep] = '\0';
        mem_held -= n;
    }
    return r;
}

size_t par_ostream_partial(const par_ostream *os)
{
    const char *nl = os->mem.len ? memrchr(os->mem.s, '\n', os->mem.len) : NULL;
    if (nl) return os->mem.len - (size_t)(nl - os->mem.s) - 1;
    return os->spool >= 0 ? 0 : os->mem.len;
}

int par_ostream_write_direct(par_ostream *os, int out, const char *p, size_t len, const char *tag,
                             size_t taglen)
{
    return emit(os, out, p, len, tag, taglen);
}

void par_ostream_discard(par_ostream *os)
{
    if (os->spool >= 0) close(os->spool);
    os->spool = -1;
    os->spooled = 0;
    mem_held -= os->mem.len;
    par_buf_free(&os->mem);
    par_buf_free(&os->tail);
    os->tail_cap = os->tail_pos = 0;
    os->tail_full = 0;
    os->bol = 1;
}

void par_ostream_close(par_ostream *os)
{
    par_ostream_discard(os);
    if (os->fd >= 0) close(os->fd);
    os->fd = -1;
    par_buf_free(&os->head);
    par_buf_free(&os->tail);
    os->tail_cap = os->tail_pos = 0;
    os->tail_full = 0;
}

int par_ostream_tail_add(par_ostream *os, size_t cap, const char *p, size_t len)
{
    if (!cap) return 0;
    if (!os->tail.s) {
        os->tail.s = malloc(cap);
        if (!os->tail.s) return -ENOMEM;
        os->tail_cap = cap;
        os->tail.len = 0;
    }
    if (len >= cap) { /* only the last cap bytes can stay */
        memcpy(os->tail.s, p + len - cap, cap);
        os->tail_pos = 0;
        os->tail_full = 1;
        os->tail.len = cap;
        return 0;
    }
    size_t first = cap - os->tail_pos < len ? cap - os->tail_pos : len;
    memcpy(os->tail.s + os->tail_pos, p, first);
    memcpy(os->tail.s, p + first, len - first);
    if (os->tail_pos + len >= cap) os->tail_full = 1;
    os->tail_pos = (os->tail_pos + len) % cap;
    os->tail.len = os->tail_full ? cap : os->tail_pos;
    return 0;
}

static void reverse(char *a, size_t n)
{
    for (size_t i = 0; i < n / 2; i++) {
        char t = a[i];
        a[i] = a[n - 1 - i];
        a[n - 1 - i] = t;
    }
}

void par_ostream_tail_order(par_ostream *os)
{
    if (!os->tail_full || !os->tail_pos) return;
    /* rotate left by tail_pos: the oldest byte is at tail_pos */
    reverse(os->tail.s, os->tail_pos);
    reverse(os->tail.s + os->tail_pos, os->tail_cap - os->tail_pos);
    reverse(os->tail.s, os->tail_cap);
    os->tail_pos = 0;
    os->tail_full = 0; /* in order now; no more bytes come */
}
