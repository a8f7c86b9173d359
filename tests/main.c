/* main.c - the test runner, and the entry point of helper children (helper.c). */
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <unistd.h>
#include <sys/wait.h>

int helper_main(int argc, char **argv);

const char *test_self;
static struct test *tests, **tests_tail = &tests;

void test_register(struct test *t)
{
    /* Constructors run in link order; keep registration order. */
    *tests_tail = t;
    tests_tail = &t->next;
}

void test_failf(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    _exit(1);
}

void test_skip(const char *why)
{
    fprintf(stderr, "    skipped: %s\n", why);
    fflush(stderr);
    _exit(77);
}

/* The set of open fds, as a bitmap of the first 4096 numbers. */
static void fd_set_now(unsigned char *bits, size_t n)
{
    memset(bits, 0, n);
    for (int fd = 0; fd < (int)(n * 8); fd++)
        if (fcntl(fd, F_GETFD) != -1) bits[fd / 8] |= (unsigned char)(1u << (fd % 8));
}

static int run_one(struct test *t)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 0;
    }
    if (pid == 0) {
        static unsigned char before[512], after[512];
        /* Each test leads its own process group so that the runner can clean up after it. */
        setpgid(0, 0);
        /* valgrind runs everything many times slower: the limit is for hangs, not speed. */
        alarm((unsigned)t->timeout_s * (UNDER_VALGRIND() ? 5u : 1u));
        fd_set_now(before, sizeof before);
        t->fn();
        fflush(stdout);
        int ws;
        pid_t left = waitpid(-1, &ws, WNOHANG);
        if (left != -1 || errno != ECHILD)
            test_failf(__FILE__, __LINE__, "a child was left behind (pid %d)", (int)left);
        fd_set_now(after, sizeof after);
        for (int fd = 0; fd < (int)sizeof before * 8; fd++) {
            int b = before[fd / 8] >> (fd % 8) & 1, a = after[fd / 8] >> (fd % 8) & 1;
            if (a && !b) test_failf(__FILE__, __LINE__, "fd %d was left open", fd);
            if (b && !a) test_failf(__FILE__, __LINE__, "fd %d was closed by the test", fd);
        }
        _exit(0);
    }
    int ws;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
    }
    kill(-pid, SIGKILL); /* whatever the test left in its group */
    if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0) return 1;
    if (WIFEXITED(ws) && WEXITSTATUS(ws) == 77) return 2;
    if (WIFSIGNALED(ws))
        fprintf(stderr, "    killed by signal %d%s\n", WTERMSIG(ws),
                WTERMSIG(ws) == SIGALRM ? " (time limit)" : "");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "helper") == 0) return helper_main(argc - 2, argv + 2);

    static char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        perror("readlink /proc/self/exe");
        return 2;
    }
    self[n] = '\0';
    test_self = self;
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* A shell without job control starts `cmd &` with SIGINT and SIGQUIT ignored, and an
     * ignored signal stays ignored across exec: the children of a suite started that way could
     * not be interrupted, which the signal tests check. The suite starts from the defaults. */
    signal(SIGINT, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);

    int passed = 0, failed = 0, skipped = 0;
    for (struct test *t = tests; t; t = t->next) {
        int match = argc < 2;
        for (int i = 1; i < argc; i++)
            if (strstr(t->name, argv[i])) match = 1;
        if (!match) continue;
        int r = run_one(t);
        if (r == 2) {
            skipped++;
            printf("SKIP %s\n", t->name);
        } else if (r) {
            passed++;
            printf("PASS %s\n", t->name);
        } else {
            failed++;
            printf("FAIL %s\n", t->name);
        }
    }
    printf("[%s backend] %d passed, %d failed, %d skipped\n", subproc_backend(), passed, failed,
           skipped);
    return failed ? 1 : 0;
}
