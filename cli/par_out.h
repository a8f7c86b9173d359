/* par_out.h - a `par` job's stdout or stderr on its way out (par_out.c). */
#ifndef SUBPROC_CLI_PAR_OUT_H
#define SUBPROC_CLI_PAR_OUT_H

#include "par.h"

#include <sys/types.h>

#define PAR_MEM_THRESHOLD (64 * 1024) /* per stream: held in memory up to this */
#define PAR_MEM_BUDGET (8 << 20)      /* all streams together */

typedef struct par_ostream {
    int fd;        /* the pipe from the job, -1 once closed (or none) */
    par_buf mem;   /* waiting to be printed, after what the spool holds */
    int spool;     /* spool file, -1 when none */
    off_t spooled; /* bytes in it */
    unsigned long long total; /* every byte the job wrote to the stream */
    int bol;       /* the next byte printed starts a line (for --tag) */
    par_buf head;  /* --json: the first bytes */
    /* --max-output: past the first half of the limit, the most recent bytes, as a ring of
     * tail_cap bytes at tail.s (tail_pos: where the next byte goes; tail_full: it wrapped).
     * Printed after the head when the job ends, as run keeps head and tail. */
    par_buf tail;
    size_t tail_cap, tail_pos;
    int tail_full;
} par_ostream;

/* Keep the last bytes of p[0, len) in the ring of cap bytes. 0 or -ENOMEM. */
int par_ostream_tail_add(par_ostream *os, size_t cap, const char *p, size_t len);
/* Put the ring in order (oldest first) in os->tail.s[0, tail.len). */
void par_ostream_tail_order(par_ostream *os);

void par_ostream_init(par_ostream *os);
/* Keep len more bytes (memory, or the spool file past the thresholds). 0 or -errno. */
int par_ostream_add(par_ostream *os, const char *p, size_t len);
/* With a spool file: move up to max bytes from the pipe into it without a copy through user
 * space. The byte count, 0 at end-of-file, -EAGAIN when the pipe is empty, -EINVAL without a
 * spool file or where splice(2) cannot do it. */
ssize_t par_ostream_splice_in(par_ostream *os, int pipe_fd, size_t max);
/* Print what is kept to out, except the last `keep` bytes held in memory (a line not ended
 * yet); with tag, each line starts with it. 0 or -errno. */
int par_ostream_flush(par_ostream *os, int out, size_t keep, const char *tag, size_t taglen);
/* How many bytes at the end of memory follow the last newline (0 when a spool file holds the
 * start of that line: then it goes out whole). */
size_t par_ostream_partial(const par_ostream *os);
/* Print p at once (tagged). */
int par_ostream_write_direct(par_ostream *os, int out, const char *p, size_t len, const char *tag,
                             size_t taglen);
/* Drop what is kept (a failed try). */
void par_ostream_discard(par_ostream *os);
/* Drop everything and close the pipe. */
void par_ostream_close(par_ostream *os);

#endif
