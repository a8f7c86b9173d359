/*
 * forking - the basic fork: the child says hello and ends at once, the parent says hello too.
 *
 * The classic version stresses that a child which forgets os._exit() goes on to run the parent's
 * loop. With subproc the child runs only the function it was given, and its return value is its
 * exit code: it cannot fall through into the parent's code.
 *
 *   forking [COUNT]        COUNT children, then stop
 *   forking                interactive: a child per Enter, 'q' to quit
 */
#include <subproc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int child(void *arg)
{
    (void)arg;
    printf("Hello from child %d\n", (int)getpid());
    fflush(stdout);
    return 0;
}

static int fork_one(void)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.fn = child;
    subproc_proc *p;
    subproc_error e;
    fflush(stdout);
    if (subproc_spawn(&p, &o, &e) < 0) {
        char buf[600];
        fprintf(stderr, "forking: %s\n", subproc_error_str(&e, buf, sizeof buf));
        return -1;
    }
    printf("Hello from parent %d %d\n", (int)getpid(), (int)subproc_proc_pid(p));
    subproc_proc_wait(p, NULL);
    subproc_proc_free(p);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        int count = atoi(argv[1]);
        for (int i = 0; i < count; i++)
            if (fork_one() < 0) return 1;
        return 0;
    }
    char line[64];
    for (;;) {
        if (fork_one() < 0) return 1;
        printf("Enter for another child, q to quit: ");
        fflush(stdout);
        if (!fgets(line, sizeof line, stdin) || line[0] == 'q') break;
    }
    return 0;
}
