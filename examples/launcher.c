/*
 * launcher - start another program in each child (fork + exec), passing the spawn number.
 *
 * The classic version calls execlp() in the forked child and, if that fails, can only assert in
 * the child. With subproc the exec failure comes back to the parent from the spawn call itself,
 * naming the program and the reason, and the parent carries on.
 *
 *   launcher [COUNT] [PROGRAM]   COUNT spawns (default 3) of PROGRAM (default: the `child`
 *                                example next to this binary); a bare name is searched in PATH
 *   launcher                     interactive: a spawn per Enter, 'q' to quit
 */
#include <subproc.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char program[PATH_MAX];

static void launch(int n)
{
    char num[16];
    snprintf(num, sizeof num, "%d", n);
    const char *argv[] = {program, num, NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    subproc_proc *p;
    subproc_error e;
    if (subproc_spawn(&p, &o, &e) < 0) {
        char buf[700];
        printf("launcher: could not start %s: %s\n", program, subproc_error_str(&e, buf, sizeof buf));
        fflush(stdout);
        return;
    }
    subproc_status st;
    subproc_proc_wait(p, &st);
    subproc_proc_free(p);
}

int main(int argc, char **argv)
{
    if (argc > 2) {
        snprintf(program, sizeof program, "%s", argv[2]);
    } else {
        ssize_t n = readlink("/proc/self/exe", program, sizeof program - 7);
        if (n < 0) n = 0;
        program[n] = '\0';
        char *slash = strrchr(program, '/');
        strcpy(slash ? slash + 1 : program, "child");
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1) {
        int count = atoi(argv[1]);
        for (int i = 1; i <= count; i++) launch(i);
        return 0;
    }
    char line[64];
    for (int i = 1;; i++) {
        launch(i);
        printf("Enter for another, q to quit: ");
        if (!fgets(line, sizeof line, stdin) || line[0] == 'q') break;
    }
    return 0;
}
