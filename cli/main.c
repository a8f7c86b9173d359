/* main.c - the `subproc` command: finds the subcommand and hands it its arguments.
 * Each subcommand lives in its own file (run.c, pipe.c, par.c) and returns the exit status.
 */
#include "cli.h"

#include <signal.h>
#include <string.h>

const char *cli_progname = "subproc";

static const struct command {
    const char *name;
    int (*main)(int argc, char **argv);
    void (*usage)(FILE *f);
    const char *summary;
} commands[] = {
    {"run", cli_run_main, cli_run_usage, "run a program with a deadline, limits and a report"},
    {"pipe", cli_pipe_main, cli_pipe_usage,
     "run a pipeline (stages separated by |) without a shell"},
    {"par", cli_par_main, cli_par_usage, "run a command once per input, several at once"},
};

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: %s COMMAND [OPTIONS] [--] PROGRAM [ARG]...\n"
            "       %s --help | --version\n"
            "       %s COMMAND --help\n"
            "Child processes done right: no shell, no leaked fds, no orphans.\n\nCommands:\n",
            cli_progname, cli_progname, cli_progname);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-6s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\nExit status of run and pipe: the program's (for pipe, the rightmost failing\n"
            "stage's); 128+N when it died of signal N; 124 when the deadline passed; 125 when\n"
            "%s itself failed; 126 when the program could not be run; 127 when it was not\n"
            "found. Of par: 0, or the number of failed jobs (101 for more than 100).\n"
            "Examples:\n"
            "  %s run -t 5 --json=- -- make test\n"
            "  %s pipe -- seq 100 '|' grep 7 '|' wc -l\n"
            "  %s par -j4 -k gzip {} ::: *.log\n"
            "See subproc(1).\n",
            cli_progname, cli_progname, cli_progname, cli_progname);
}

int main(int argc, char **argv)
{
    /* With SIGCHLD ignored (inherited from whoever started us) the kernel would reap our
     * children itself; timeout(1) resets it to the default as well. Our own disposition only:
     * children get what their spawn asks for. */
    signal(SIGCHLD, SIG_DFL);
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_FAILURE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return fflush(stdout) == 0 ? 0 : CLI_EXIT_FAILURE;
    }
    if (!strcmp(cmd, "--version")) {
        printf("subproc %s (libsubproc %s, %s backend)\n", SUBPROC_VERSION_STRING,
               subproc_version(), subproc_backend());
        return fflush(stdout) == 0 ? 0 : CLI_EXIT_FAILURE;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(cmd, commands[i].name)) return commands[i].main(argc - 1, argv + 1);
    fprintf(stderr, "%s: unknown command '%s'\nTry '%s --help' for more information.\n",
            cli_progname, cmd, cli_progname);
    return CLI_EXIT_FAILURE;
}
