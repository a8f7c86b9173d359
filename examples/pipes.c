/*
 * pipes - a child sends "Spam N" messages through a pipe; the parent reads them.
 *
 * Pipes are one-way byte streams: the parent's 32-byte reads can split a message or merge
 * several, which the raw mode shows. The line mode reads whole messages with the library's
 * buffered reader; there the parent stops after COUNT lines and closes its end, and the child,
 * which would write forever, ends by SIGPIPE - and is reaped, as the status line shows.
 *
 *   pipes [COUNT] [raw|lines|both] [DELAY_MS]     defaults: 10 both 0
 */
#include <subproc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct spam {
    int count; /* messages to send; < 0: forever */
    int delay_ms;
};

static int child(void *arg)
{
    struct spam *s = arg;
    char msg[32];
    for (int i = 0; s->count < 0 || i < s->count; i++) {
        int n = snprintf(msg, sizeof msg, "Spam %d\n", i % 5);
        if (write(1, msg, (size_t)n) < 0) return 1;
        if (s->delay_ms) {
            struct timespec ts = {s->delay_ms / 1000, (s->delay_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return 0;
}

static const char *now(void)
{
    static char buf[32];
    time_t t = time(NULL);
    strftime(buf, sizeof buf, "%H:%M:%S", localtime(&t));
    return buf;
}

static subproc_proc *start(struct spam *s)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.fn = child;
    o.fn_arg = s;
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    subproc_proc *p;
    subproc_error e;
    fflush(stdout);
    if (subproc_spawn(&p, &o, &e) < 0) {
        char buf[600];
        fprintf(stderr, "pipes: %s\n", subproc_error_str(&e, buf, sizeof buf));
        exit(1);
    }
    return p;
}

static void report(subproc_proc *p)
{
    subproc_status st;
    char words[64];
    subproc_proc_wait(p, &st);
    printf("Child %d %s\n", (int)subproc_proc_pid(p), subproc_status_str(&st, words, sizeof words));
    subproc_proc_free(p);
}

/* The raw byte stream: what read() returns is not a message. */
static void raw(int count, int delay_ms)
{
    struct spam s = {count, delay_ms};
    subproc_proc *p = start(&s);
    char buf[33];
    ssize_t n;
    while ((n = read(subproc_proc_fd(p, 1), buf, 32)) > 0) {
        buf[n] = '\0';
        printf("Parent %d got [%s] at %s\n", (int)getpid(), buf, now());
    }
    report(p);
}

/* Whole messages through the buffered reader; stop after count and close the pipe. */
static void lines(int count, int delay_ms)
{
    struct spam s = {-1, delay_ms};
    subproc_proc *p = start(&s);
    subproc_reader *r;
    if (subproc_reader_new(&r, subproc_proc_take_fd(p, 1), 0, SUBPROC_READER_OWN_FD) < 0) exit(1);
    const char *line;
    size_t len;
    for (int i = 0; i < count && subproc_reader_readline(r, &line, &len, -1) == 1; i++)
        printf("Parent %d got [%.*s] at %s\n", (int)getpid(), (int)(len - 1), line, now());
    subproc_reader_free(r); /* closes our end: the child's next write fails */
    report(p);
}

int main(int argc, char **argv)
{
    int count = argc > 1 ? atoi(argv[1]) : 10;
    const char *mode = argc > 2 ? argv[2] : "both";
    int delay = argc > 3 ? atoi(argv[3]) : 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(mode, "raw") == 0 || strcmp(mode, "both") == 0) {
        printf("-- raw reads of up to 32 bytes --\n");
        raw(count, delay);
    }
    if (strcmp(mode, "lines") == 0 || strcmp(mode, "both") == 0) {
        printf("-- whole lines --\n");
        lines(count, delay);
    }
    return 0;
}
