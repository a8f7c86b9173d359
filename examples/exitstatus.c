/*
 * exitstatus - fork children that run a function, and read back how each one ended.
 *
 * The classic version forks, lets the child print "Hello from child PID N" and exit with N, and
 * decodes the raw wait status by shifting it right by 8 bits. Here the status is a struct, and
 * death by a signal is reported too. As in the original, the counter is incremented in the
 * child's copy of memory only, so every child reports 1.
 *
 *   exitstatus [COUNT]     COUNT children (default 5); the last one is killed by SIGTERM
 */
#include <subproc.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int exitstat = 0;

static int child(void *arg)
{
    int die_by_signal = *(int *)arg;
    exitstat++; /* the child's copy: the parent's stays 0 */
    printf("Hello from child %d %d\n", (int)getpid(), exitstat);
    fflush(stdout);
    if (die_by_signal) raise(SIGTERM);
    return exitstat;
}

int main(int argc, char **argv)
{
    int count = argc > 1 ? atoi(argv[1]) : 5;
    for (int i = 0; i < count; i++) {
        int die = i == count - 1 && count > 1;
        subproc_opts o = SUBPROC_OPTS_INIT;
        o.fn = child;
        o.fn_arg = &die;
        subproc_proc *p;
        subproc_error e;
        fflush(stdout); /* nothing buffered may be printed twice by the child */
        int r = subproc_spawn(&p, &o, &e);
        if (r < 0) {
            char buf[600];
            fprintf(stderr, "exitstatus: %s\n", subproc_error_str(&e, buf, sizeof buf));
            return 1;
        }
        subproc_status st;
        subproc_proc_wait(p, &st);
        char words[64];
        printf("Parent got %d %s (exit code %d)\n", (int)subproc_proc_pid(p),
               subproc_status_str(&st, words, sizeof words), st.exited ? st.code : -1);
        subproc_proc_free(p);
    }
    printf("Parent's counter is still %d\n", exitstat);
    return 0;
}
