/* remote_loop.c - N short remote children from one process, alternating over the hosts given,
 * one at a time: what a library caller pays per remote child, with the ControlMaster held
 * (subproc_remote_connect, not counted) and without one. Used by remote.sh.
 *   remote_loop N master|nomaster SSH_WORDS... -- HOST:PORT...   (prints the wall ms per child) */
#include <subproc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 5) return 2;
    int n = atoi(argv[1]);
    int master = strcmp(argv[2], "master") == 0;
    const char *ssh[64];
    int i = 3, k = 0;
    for (; i < argc && strcmp(argv[i], "--") && k < 63; i++) ssh[k++] = argv[i];
    ssh[k] = NULL;
    i++;
    int nhosts = argc - i;
    if (nhosts < 1 || nhosts > 8) return 2;
    subproc_remote rm[8];
    char hosts[8][64];
    for (int h = 0; h < nhosts; h++) {
        subproc_remote r = SUBPROC_REMOTE_INIT;
        snprintf(hosts[h], sizeof hosts[h], "%s", argv[i + h]);
        char *colon = strrchr(hosts[h], ':');
        if (colon) {
            *colon = '\0';
            r.port = atoi(colon + 1);
        }
        r.host = hosts[h];
        r.ssh_argv = ssh;
        r.flags = master ? 0 : SUBPROC_REMOTE_NO_MASTER;
        rm[h] = r;
    }
    const char *cmd[] = {"true", NULL};
    /* With the master: hold each host's connection, so one after another reuse it. */
    subproc_remote_conn *conn[8] = {0};
    for (int h = 0; master && h < nhosts; h++) {
        subproc_error e;
        if (subproc_remote_connect(&conn[h], &rm[h], &e) < 0) {
            char buf[700];
            fprintf(stderr, "remote_loop: %s\n", subproc_error_str(&e, buf, sizeof buf));
            return 1;
        }
    }
    double t0 = now_ms();
    for (int j = 0; j < n; j++) {
        subproc_opts o = SUBPROC_OPTS_INIT;
        o.argv = cmd;
        o.remote = &rm[j % nhosts];
        subproc_result r;
        if (subproc_run(&r, &o, NULL) < 0 || !r.status.exited || r.status.code != 0) {
            char buf[700];
            fprintf(stderr, "remote_loop: %s\n", subproc_result_str(&r, buf, sizeof buf));
            return 1;
        }
        subproc_result_free(&r);
    }
    printf("%.1f\n", (now_ms() - t0) / n);
    for (int h = 0; h < nhosts; h++) subproc_remote_conn_free(conn[h]);
    return 0;
}
