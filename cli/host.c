/* host.c - `run --host`: a subproc_remote from the command line's options. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

void cli_remote_free(cli_remote *r)
{
    free(r->ssh_argv);
    free(r->ssh_copy);
    free(r->env);
    memset(r, 0, sizeof *r);
}

int cli_remote_setup(cli_remote *r, const char *host, const char *ssh, const cli_envop *ops,
                     size_t nops)
{
    memset(r, 0, sizeof *r);
    subproc_remote init = SUBPROC_REMOTE_INIT;
    r->rm = init;
    if (cli_parse_host(host, &r->host) < 0) return -1;
    r->rm.host = r->host.host;
    r->rm.user = r->host.user[0] ? r->host.user : NULL;
    r->rm.port = r->host.port;
    if (ssh) {
        /* Split at blanks, as GNU parallel's --ssh does (no shell, no quotes). */
        r->ssh_copy = strdup(ssh);
        r->ssh_argv = calloc(strlen(ssh) / 2 + 2, sizeof *r->ssh_argv);
        if (!r->ssh_copy || !r->ssh_argv) return -1;
        size_t n = 0;
        for (char *save = NULL, *w = strtok_r(r->ssh_copy, " \t\n", &save); w;
             w = strtok_r(NULL, " \t\n", &save))
            r->ssh_argv[n++] = w;
        r->ssh_argv[n] = NULL;
        r->rm.ssh_argv = (const char *const *)r->ssh_argv;
    }
    if (nops) {
        r->env = calloc(nops + 1, sizeof *r->env);
        if (!r->env) return -1;
        for (size_t i = 0; i < nops; i++) r->env[i] = ops[i].arg; /* "N=V" sets, "N" removes */
        r->rm.env = r->env;
    }
    return 0;
}
