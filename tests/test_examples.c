/* test_examples.c - the example programs, run as a user would, with their output checked. */
#include "test.h"

#include <limits.h>
#include <stdarg.h>
#include <unistd.h>

/* Run build/examples/NAME with args; return its stdout; *code gets its exit code. */
static char *run_example(int *code, const char *stdin_text, const char *name, ...)
{
    static char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", test_self);
    char *slash = strrchr(path, '/');
    snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "examples/%s", name);
    if (access(path, X_OK) != 0) test_failf(__FILE__, __LINE__, "%s was not built", path);
    const char *argv[16] = {path};
    size_t n = 1;
    va_list ap;
    va_start(ap, name);
    const char *a;
    while ((a = va_arg(ap, const char *)) && n < 15) argv[n++] = a;
    va_end(ap);
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    o.stdio[0].kind = stdin_text ? SUBPROC_IO_PIPE : SUBPROC_IO_NULL;
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    subproc_proc *p;
    subproc_error e;
    if (subproc_spawn(&p, &o, &e) < 0) {
        char buf[700];
        test_failf(__FILE__, __LINE__, "%s", subproc_error_str(&e, buf, sizeof buf));
    }
    if (stdin_text) {
        write_all(subproc_proc_fd(p, 0), stdin_text, strlen(stdin_text));
        subproc_proc_close_fd(p, 0);
    }
    char *out = read_all(subproc_proc_fd(p, 1), NULL);
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    *code = subproc_status_code(&st);
    subproc_proc_free(p);
    return out;
}

static int count_lines_with(const char *text, const char *needle)
{
    int n = 0;
    for (const char *s = text; (s = strstr(s, needle)); s++) n++;
    return n;
}

TEST(example_exitstatus)
{
    int code;
    char *out = run_example(&code, NULL, "exitstatus", "4", NULL);
    ASSERT_EQ(code, 0);
    /* Every child reports 1: the counter went up in the child's copy only. */
    ASSERT_EQ(count_lines_with(out, "Hello from child "), 4);
    ASSERT_EQ(count_lines_with(out, " 1\n"), 4);
    ASSERT_EQ(count_lines_with(out, "exited with 1 (exit code 1)"), 3);
    ASSERT_EQ(count_lines_with(out, "killed by SIGTERM"), 1);
    ASSERT(strstr(out, "Parent's counter is still 0\n"));
    free(out);
}

TEST(example_forking)
{
    int code;
    char *out = run_example(&code, NULL, "forking", "3", NULL);
    ASSERT_EQ(code, 0);
    ASSERT_EQ(count_lines_with(out, "Hello from child "), 3);
    ASSERT_EQ(count_lines_with(out, "Hello from parent "), 3);
    free(out);
    /* Interactive: a child per line, q to quit. */
    out = run_example(&code, "\n\nq\n", "forking", NULL);
    ASSERT_EQ(code, 0);
    ASSERT_EQ(count_lines_with(out, "Hello from child "), 3);
    free(out);
}

TEST(example_launcher)
{
    int code;
    char *out = run_example(&code, NULL, "launcher", "3", NULL);
    ASSERT_EQ(code, 0);
    ASSERT_EQ(count_lines_with(out, "Hello from child "), 3);
    ASSERT(strstr(out, " 1\n") && strstr(out, " 2\n") && strstr(out, " 3\n"));
    free(out);
    /* A program that cannot be run: the parent says which and why, and carries on. */
    out = run_example(&code, NULL, "launcher", "2", "/no/such/program", NULL);
    ASSERT_EQ(code, 0);
    ASSERT_EQ(count_lines_with(out, "launcher: could not start /no/such/program: exec "
                                    "/no/such/program: No such file or directory\n"),
              2);
    free(out);
}

TEST(example_epoll_loop)
{
    int code;
    char *out = run_example(&code, NULL, "epoll_loop", "3", NULL);
    ASSERT_EQ(code, 0);
    if (child_backend_is_linux()) {
        for (int i = 0; i < 3; i++) {
            char want[64];
            snprintf(want, sizeof want, "worker %d says hi\n", i);
            ASSERT(strstr(out, want));
            snprintf(want, sizeof want, "] exited with %d\n", i);
            ASSERT(strstr(out, want));
        }
    } else {
        ASSERT_STREQ(out, "epoll_loop: needs the Linux backend (pidfds)\n");
    }
    free(out);
}

TEST(example_uv_group)
{
    /* The Makefile builds it only where libuv is visible to the compiler (not to musl-gcc). */
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", test_self);
    snprintf(strrchr(path, '/') + 1, sizeof path - (size_t)(strrchr(path, '/') + 1 - path),
             "examples/uv_group");
    if (access(path, X_OK) != 0) test_skip("examples/uv_group not built (no libuv for this compiler)");
    int code;
    char *out = run_example(&code, NULL, "uv_group", "3", NULL);
    ASSERT_EQ(code, 0);
    if (child_backend_is_linux()) {
        ASSERT(strstr(out, "exited with 0\n") && strstr(out, "exited with 1\n") &&
               strstr(out, "exited with 2\n"));
        ASSERT(strstr(out, "all children reaped\n"));
    }
    free(out);
}

TEST(example_pipes)
{
    int code;
    char *out = run_example(&code, NULL, "pipes", "12", "raw", NULL);
    ASSERT_EQ(code, 0);
    /* The raw reads carry every message, though not one per read: join the chunks back. */
    char joined[4096] = "";
    for (const char *s = out; (s = strstr(s, " got [")); ) {
        s += 6;
        const char *end = strstr(s, "] at ");
        ASSERT(end && strlen(joined) + (size_t)(end - s) < sizeof joined);
        strncat(joined, s, (size_t)(end - s));
        s = end;
    }
    ASSERT_STREQ(joined, "Spam 0\nSpam 1\nSpam 2\nSpam 3\nSpam 4\nSpam 0\nSpam 1\nSpam 2\nSpam 3\n"
                         "Spam 4\nSpam 0\nSpam 1\n");
    ASSERT(strstr(out, "Parent "));
    ASSERT(strstr(out, "exited with 0\n"));
    free(out);
    out = run_example(&code, NULL, "pipes", "6", "lines", NULL);
    ASSERT_EQ(code, 0);
    for (int i = 0; i < 6; i++) {
        char want[32];
        snprintf(want, sizeof want, " got [Spam %d] at ", i % 5);
        ASSERT(strstr(out, want));
    }
    ASSERT_EQ(count_lines_with(out, " got [Spam "), 6);
    /* The child that would write forever is stopped by the closed pipe, and reaped. */
    ASSERT(strstr(out, "killed by SIGPIPE\n"));
    free(out);
}

TEST(example_environ)
{
    int code;
    char *out = run_example(&code, NULL, "environ", NULL);
    ASSERT_EQ(code, 0);
    ASSERT(strstr(out, "Hello, Brian\n"));
    ASSERT(strstr(out, "captured 14 bytes: Hello, Arthur\n"));
    ASSERT(strstr(out, "captured 12 bytes: Hello, Lutz\n"));
    ASSERT(strstr(out, "parent: USER is still Arthur\n"));
    free(out);
}

TEST(example_dialogue)
{
    int code;
    /* python3 -i on a pseudo-terminal, driven by prompts; "x = 5" answers nothing. */
    char *out = run_example(&code, NULL, "dialogue", "2**64", "x = 5", "x*x", NULL);
    ASSERT_EQ(code, 0);
    ASSERT(strstr(out, "2**64 -> 18446744073709551616\nx = 5 -> \nx*x -> 25\n") == out);
    ASSERT(strstr(out, "Ctrl-C -> KeyboardInterrupt, and the prompt again\n"));
    ASSERT(strstr(out, "Ctrl-D -> python3 "));
    free(out);
}
