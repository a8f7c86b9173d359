/*
 * environ - environment variables as a child sees them, and its output read back.
 *
 * The parent prints $USER, changes it in its own environment, and runs the echoenv program,
 * which prints "Hello, $USER": first with the child's output going straight to the terminal
 * (like os.system), then with the output captured into a string in the parent (like
 * os.popen().read()). Last, USER is set for one child only, through a built environment, and the
 * parent's own environment is shown unchanged.
 *
 *   environ [PROGRAM]      PROGRAM defaults to the echoenv example next to this binary
 */
#include <subproc.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char program[PATH_MAX];

static int run(const subproc_env *env, int capture)
{
    const char *argv[] = {program, NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    o.env = env;
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    if (!capture) co.flags = SUBPROC_COMM_NO_CAPTURE; /* stdout stays the terminal */
    subproc_result res;
    char buf[700];
    int r = subproc_run(&res, &o, &co);
    if (r < 0) {
        fprintf(stderr, "environ: %s\n", subproc_result_str(&res, buf, sizeof buf));
    } else if (capture) {
        printf("captured %zu bytes: %s", res.out.len, res.out.data);
    }
    subproc_result_free(&res);
    return r;
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        snprintf(program, sizeof program, "%s", argv[1]);
    } else {
        ssize_t n = readlink("/proc/self/exe", program, sizeof program - 9);
        program[n > 0 ? n : 0] = '\0';
        char *slash = strrchr(program, '/');
        strcpy(slash ? slash + 1 : program, "echoenv");
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *user = getenv("USER");
    printf("parent: USER=%s\n", user ? user : "(unset)");

    setenv("USER", "Brian", 1);
    printf("parent: USER set to Brian; the child writes to the terminal itself:\n");
    if (run(NULL, 0) < 0) return 1;

    setenv("USER", "Arthur", 1);
    printf("parent: USER set to Arthur; the child's output read back into the parent:\n");
    if (run(NULL, 1) < 0) return 1;

    subproc_env *env;
    if (subproc_env_new(&env, SUBPROC_ENV_INHERIT) < 0 || subproc_env_set(env, "USER", "Lutz") < 0)
        return 1;
    printf("parent: USER=Lutz for one child only:\n");
    if (run(env, 1) < 0) return 1;
    subproc_env_free(env);
    printf("parent: USER is still %s\n", getenv("USER"));
    return 0;
}
