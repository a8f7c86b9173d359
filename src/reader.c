/*
 * reader.c - record-at-a-time reading from a child's pipe, and a stdio view of a pipe (popen
 * without a shell).
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define READER_START 4096u

struct subproc_reader {
    int fd;
    unsigned flags;
    size_t max;        /* longest record in one piece */
    char *buf;
    size_t size;       /* allocated; one byte is always kept for the NUL after a record */
    size_t start, end; /* unread bytes are buf[start, end) */
    size_t scanned;    /* bytes from start already searched for the delimiter */
    int eof;
    int saved;         /* buf[start] was overwritten by the NUL of the last record: it was */
    char saved_ch;
};

int subproc_reader_new(subproc_reader **out, int fd, size_t max_record, unsigned flags)
{
    if (!out) return -EINVAL;
    *out = NULL;
    if (fd < 0 || (flags & ~SUBPROC_READER_OWN_FD)) return -EINVAL;
    subproc_reader *r = subproc__calloc(1, sizeof *r);
    if (!r) return -ENOMEM;
    r->fd = fd;
    r->flags = flags;
    r->max = max_record ? max_record : SUBPROC_COMM_LINE_MAX;
    *out = r;
    return 0;
}

void subproc_reader_free(subproc_reader *r)
{
    if (!r) return;
    if (r->flags & SUBPROC_READER_OWN_FD) subproc__close(r->fd);
    free(r->buf);
    free(r);
}

/* Hand out buf[start, start+n) NUL-terminated; the byte under the NUL is kept aside. */
static int give(subproc_reader *r, size_t n, const char **data, size_t *len)
{
    char *rec = r->buf + r->start;
    r->start += n;
    r->scanned = 0;
    if (r->start < r->end) {
        r->saved = 1;
        r->saved_ch = r->buf[r->start];
    }
    r->buf[r->start] = '\0';
    *data = rec;
    if (len) *len = n;
    return 1;
}

/* Room for at least one more byte (plus the NUL), compacting before growing. */
static int make_room(subproc_reader *r)
{
    if (r->start > 0 && (r->end == r->start || r->end + 1 >= r->size)) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->end + 1 < r->size) return 0;
    size_t sz = r->size ? r->size * 2 : READER_START;
    if (sz > r->max + 1 && r->max + 1 > r->end + 1) sz = r->max + 1;
    char *nb = subproc__realloc(r->buf, sz);
    if (!nb) return -ENOMEM;
    r->buf = nb;
    r->size = sz;
    return 0;
}

int subproc_reader_read_until(subproc_reader *r, int delim, const char **data, size_t *len,
                              int timeout_ms)
{
    if (!r || !data) return -EINVAL;
    *data = NULL;
    if (len) *len = 0;
    if (r->saved) {
        r->buf[r->start] = r->saved_ch;
        r->saved = 0;
    }
    int64_t deadline = timeout_ms >= 0 ? subproc__now_ms() + timeout_ms : 0;
    for (;;) {
        size_t avail = r->end - r->start;
        const char *hit = avail > r->scanned
                              ? memchr(r->buf + r->start + r->scanned, delim, avail - r->scanned)
                              : NULL;
        if (hit) {
            size_t n = (size_t)(hit - (r->buf + r->start)) + 1;
            return give(r, n < r->max ? n : r->max, data, len);
        }
        r->scanned = avail;
        if (avail >= r->max) return give(r, r->max, data, len);
        if (r->eof) return avail ? give(r, avail, data, len) : 0;

        int e = make_room(r);
        if (e < 0) return e;
        if (timeout_ms >= 0) {
            struct pollfd pf = {r->fd, POLLIN, 0};
            int64_t left = deadline - subproc__now_ms();
            if (left < 0) left = 0;
            int pr = poll(&pf, 1, left > 0x7fffffff ? 0x7fffffff : (int)left);
            if (pr < 0 && errno == EINTR) continue;
            if (pr < 0) return -errno;
            if (pr == 0) return -ETIMEDOUT;
        }
        ssize_t got = read(r->fd, r->buf + r->end, r->size - r->end - 1);
        if (got < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (timeout_ms < 0) {
                    struct pollfd pf = {r->fd, POLLIN, 0};
                    poll(&pf, 1, -1);
                }
                continue;
            }
            return -errno;
        }
        if (got == 0)
            r->eof = 1;
        else
            r->end += (size_t)got;
    }
}

int subproc_reader_readline(subproc_reader *r, const char **line, size_t *len, int timeout_ms)
{
    return subproc_reader_read_until(r, '\n', line, len, timeout_ms);
}

/* ---- popen ---- */

struct pfile {
    FILE *f;
    subproc_proc *p;
    int fd;
    struct pfile *next;
};

static pthread_mutex_t plist_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pfile *plist;

static ssize_t cookie_read(void *c, char *buf, size_t n)
{
    struct pfile *pf = c;
    ssize_t r;
    do
        r = read(pf->fd, buf, n);
    while (r < 0 && errno == EINTR);
    return r;
}

/* The same SIGPIPE treatment as the pump (see io.c): EPIPE instead of a signal. */
static ssize_t cookie_write(void *c, const char *buf, size_t n)
{
    struct pfile *pf = c;
    struct subproc__sigpipe g;
    subproc__sigpipe_hold(&g);
    size_t done = 0;
    int err = 0;
    while (done < n) {
        ssize_t w = write(pf->fd, buf + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            err = errno;
            break;
        }
        done += (size_t)w;
    }
    subproc__sigpipe_release(&g, err == EPIPE);
    /* fopencookie(3): a write function returns 0 on error, never a negative value (glibc adds
     * the returned count to its own bookkeeping). errno says why. */
    if (err) errno = err;
    return (ssize_t)done;
}

static int cookie_close(void *c)
{
    struct pfile *pf = c;
    subproc__close(pf->fd);
    pf->fd = -1;
    return 0;
}

int subproc_popen(FILE **out, const char *const *argv, const char *mode, const subproc_opts *opts,
                  subproc_error *err)
{
    if (err) subproc__fail(err, SUBPROC_STEP_NONE, 0, -1, NULL);
    if (!out) return subproc__fail(err, SUBPROC_STEP_VALIDATE, EINVAL, -1, "out is NULL");
    *out = NULL;
    if (!mode || (mode[0] != 'r' && mode[0] != 'w') || (mode[1] && strcmp(mode + 1, "e") != 0))
        return subproc__fail(err, SUBPROC_STEP_VALIDATE, EINVAL, -1,
                             "mode must be \"r\", \"w\", \"re\" or \"we\"");
    int writing = mode[0] == 'w';
    subproc_opts o;
    if (opts)
        o = *opts;
    else
        subproc_opts_init(&o);
    if (argv) o.argv = argv;
    if (!o.argv)
        return subproc__fail(err, SUBPROC_STEP_VALIDATE, EINVAL, -1,
                             "argv is NULL, and so is opts->argv: give the program to run");
    int stream = writing ? 0 : 1;
    o.stdio[stream] = (subproc_io){.kind = SUBPROC_IO_PIPE};

    struct pfile *pf = subproc__calloc(1, sizeof *pf);
    if (!pf) return subproc__fail(err, SUBPROC_STEP_ALLOC, ENOMEM, -1, NULL);
    int r = subproc_spawn(&pf->p, &o, err);
    if (r < 0) {
        free(pf);
        return r;
    }
    pf->fd = subproc_proc_take_fd(pf->p, stream);
    cookie_io_functions_t io = {writing ? NULL : cookie_read, writing ? cookie_write : NULL, NULL,
                                cookie_close};
    pf->f = fopencookie(pf, writing ? "w" : "r", io);
    if (!pf->f) {
        subproc__close(pf->fd);
        subproc_proc_free(pf->p); /* kills and reaps it: the caller never saw it */
        free(pf);
        return subproc__fail(err, SUBPROC_STEP_ALLOC, ENOMEM, -1, NULL);
    }
    pthread_mutex_lock(&plist_lock);
    pf->next = plist;
    plist = pf;
    pthread_mutex_unlock(&plist_lock);
    *out = pf->f;
    return 0;
}

int subproc_pclose(FILE *f, subproc_status *status)
{
    if (!f) return -EINVAL;
    pthread_mutex_lock(&plist_lock);
    struct pfile **pp = &plist, *pf = NULL;
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->f == f) {
            pf = *pp;
            *pp = pf->next;
            break;
        }
    pthread_mutex_unlock(&plist_lock);
    if (!pf) return -EINVAL;
    fclose(f); /* flushes through cookie_write, then closes the pipe: the child sees EOF */
    int r = subproc_proc_wait(pf->p, status);
    subproc_proc_free(pf->p);
    free(pf);
    return r;
}
