/*
 * uv_group - drive children from a libuv loop with uv_poll on the group's fd.
 *
 *   uv_group [N]      start N children (default 3) that exit with 0..N-1 after i*30 ms
 */
#include <subproc.h>
#include <uv.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_group(uv_poll_t *h, int status, int events)
{
    (void)status, (void)events;
    subproc_group *g = h->data;
    subproc_proc *p;
    subproc_status st;
    while (subproc_group_wait_any(g, 0, &p, &st) == 0) {
        char words[64];
        printf("child %d %s\n", (int)subproc_proc_pid(p), subproc_status_str(&st, words, sizeof words));
        subproc_proc_free(p);
    }
    if (subproc_group_size(g) == 0) uv_poll_stop(h);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 3;
    if (strcmp(subproc_backend(), "linux") != 0) {
        printf("uv_group: needs the Linux backend (pidfds)\n");
        return 0;
    }
    subproc_group *g;
    if (subproc_group_new(&g) < 0) return 1;
    for (int i = 0; i < n; i++) {
        char script[64];
        snprintf(script, sizeof script, "sleep 0.%02d; exit %d", i * 3, i);
        const char *av[] = {"sh", "-c", script, NULL};
        subproc_opts o = SUBPROC_OPTS_INIT;
        o.argv = av;
        subproc_proc *p;
        if (subproc_spawn(&p, &o, NULL) < 0 || subproc_group_add(g, p) < 0) return 1;
    }
    uv_loop_t *loop = uv_default_loop();
    uv_poll_t h;
    uv_poll_init(loop, &h, subproc_group_fd(g));
    h.data = g;
    uv_poll_start(&h, UV_READABLE, on_group);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&h, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    subproc_group_free(g);
    printf("all children reaped\n");
    return 0;
}
