/*
 * epoll_loop - drive children from your own epoll loop.
 *
 * Every fd subproc uses is yours to watch: the children's output pipes, and the group's fd,
 * which polls readable when some member has ended. No SIGCHLD handler, no polling of PIDs.
 *
 *   epoll_loop [N]    start N workers (default 4); worker i prints a line, sleeps i*50 ms, exits i
 */
#include <subproc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 4;
    if (strcmp(subproc_backend(), "linux") != 0) {
        printf("epoll_loop: needs the Linux backend (pidfds)\n");
        return 0;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    subproc_group *g;
    if (ep < 0 || subproc_group_new(&g) < 0) return 1;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL}; /* NULL marks the group */
    epoll_ctl(ep, EPOLL_CTL_ADD, subproc_group_fd(g), &ev);

    for (int i = 0; i < n; i++) {
        char script[128];
        snprintf(script, sizeof script, "echo worker %d says hi; sleep %d.%02d; exit %d", i,
                 i * 50 / 1000, i * 50 % 1000 / 10, i);
        /* sh is the program here, not a hidden shell: the script is its argument. */
        const char *argv[] = {"sh", "-c", script, NULL};
        subproc_opts o = SUBPROC_OPTS_INIT;
        o.argv = argv;
        o.stdio[1].kind = SUBPROC_IO_PIPE;
        subproc_proc *p;
        subproc_error e;
        if (subproc_spawn(&p, &o, &e) < 0) {
            char buf[600];
            fprintf(stderr, "epoll_loop: %s\n", subproc_error_str(&e, buf, sizeof buf));
            return 1;
        }
        subproc_group_add(g, p);
        ev.data.ptr = p;
        epoll_ctl(ep, EPOLL_CTL_ADD, subproc_proc_fd(p, 1), &ev);
    }
    while (subproc_group_size(g) > 0) {
        struct epoll_event got[8];
        int k = epoll_wait(ep, got, 8, -1);
        int group_ready = 0;
        for (int i = 0; i < k; i++) {
            subproc_proc *p = got[i].data.ptr;
            if (!p) { /* the group: handled after this batch, see below */
                group_ready = 1;
                continue;
            }
            char buf[256]; /* output from one child */
            ssize_t r = read(subproc_proc_fd(p, 1), buf, sizeof buf - 1);
            if (r > 0) {
                buf[r] = '\0';
                printf("[pid %d] %s", (int)subproc_proc_pid(p), buf);
            } else {
                epoll_ctl(ep, EPOLL_CTL_DEL, subproc_proc_fd(p, 1), NULL);
                subproc_proc_close_fd(p, 1);
            }
        }
        /* Last, because it frees children: an event later in the same batch may name one. */
        if (!group_ready) continue;
        subproc_proc *done;
        subproc_status st;
        while (subproc_group_wait_any(g, 0, &done, &st) == 0) {
            if (subproc_proc_fd(done, 1) >= 0) {
                /* What it wrote before it ended is still in the pipe. */
                char buf[256];
                ssize_t r;
                while ((r = read(subproc_proc_fd(done, 1), buf, sizeof buf - 1)) > 0) {
                    buf[r] = '\0';
                    printf("[pid %d] %s", (int)subproc_proc_pid(done), buf);
                }
                epoll_ctl(ep, EPOLL_CTL_DEL, subproc_proc_fd(done, 1), NULL);
            }
            char words[64];
            printf("[pid %d] %s\n", (int)subproc_proc_pid(done),
                   subproc_status_str(&st, words, sizeof words));
            subproc_proc_free(done);
        }
    }
    subproc_group_free(g);
    close(ep);
    return 0;
}
