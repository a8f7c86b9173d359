/* test.h - the test framework: one binary, each test run in a forked process with a time limit.
 * After every test the runner checks that no fd was left open and no child was left behind. */
#ifndef SUBPROC_TEST_H
#define SUBPROC_TEST_H

#include "subproc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct test {
    const char *name;
    void (*fn)(void);
    int timeout_s;
    struct test *next;
};

void test_register(struct test *t);
/* End the test as skipped (exit status 77), saying why. Only for an environment in which the
 * check cannot mean anything (e.g. under valgrind); the runner counts skips apart. */
_Noreturn void test_skip(const char *why);
#define UNDER_VALGRIND() (getenv("SUBPROC_VALGRIND") != NULL)
/* Whether a program of this build started now (an example, a traced helper) uses the Linux
 * backend: the same as this process, except under valgrind, which does not follow children
 * (this process then runs the posix backend, they do not). */
int child_backend_is_linux(void);
_Noreturn void test_failf(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Path of this binary; helper children are this binary run as `test_subproc helper MODE ...`. */
extern const char *test_self;

#define TEST_T(name, secs)                                                                       \
    static void test_##name(void);                                                               \
    __attribute__((constructor)) static void test_reg_##name(void)                               \
    {                                                                                            \
        static struct test t = {#name, test_##name, secs, NULL};                                 \
        test_register(&t);                                                                       \
    }                                                                                            \
    static void test_##name(void)
#define TEST(name) TEST_T(name, 30)

#define ASSERT(c)                                                                                \
    do {                                                                                         \
        if (!(c)) test_failf(__FILE__, __LINE__, "assertion failed: %s", #c);                    \
    } while (0)
#define ASSERT_EQ(a, b)                                                                          \
    do {                                                                                         \
        long long a_ = (long long)(a), b_ = (long long)(b);                                      \
        if (a_ != b_) test_failf(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_);  \
    } while (0)
#define ASSERT_NE(a, b)                                                                          \
    do {                                                                                         \
        long long a_ = (long long)(a), b_ = (long long)(b);                                      \
        if (a_ == b_) test_failf(__FILE__, __LINE__, "%s != %s: both %lld", #a, #b, a_);         \
    } while (0)
#define ASSERT_STREQ(a, b)                                                                       \
    do {                                                                                         \
        const char *a_ = (a), *b_ = (b);                                                         \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                   \
            test_failf(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b,                 \
                       a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                  \
    } while (0)
#define ASSERT_OK(r)                                                                             \
    do {                                                                                         \
        int r_ = (r);                                                                            \
        if (r_ != 0) test_failf(__FILE__, __LINE__, "%s: %d (%s)", #r, r_, subproc_strerror(r_)); \
    } while (0)

/* ---- helpers for tests (util.c) ---- */

/* argv for the helper child: {test_self, "helper", mode, args..., NULL} in a static buffer. */
const char **helper_argv(const char *mode, ...);
/* The same into v[cap], from a va_list of NULL-terminated arguments. */
void helper_argv_va(const char **v, size_t cap, const char *mode, va_list ap);
/* Read fd to EOF into a malloc'd NUL-terminated buffer; *len gets the length. */
char *read_all(int fd, size_t *len);
/* The whole of the file at path (malloc'd, NUL-terminated), or NULL when it cannot be read. */
char *read_file(const char *path);
/* Read one line from p's stdout (a pipe), waiting up to timeout_ms, and assert it is "ready\n",
 * what the helper's waiting modes print once they run. */
void test_await_ready(subproc_proc *p, int timeout_ms);
/* Write all of buf. */
void write_all(int fd, const void *buf, size_t len);
/* Spawn the helper with opts (argv replaced), wait, return its status; stdout captured into
 * *out when out != NULL (stdio[1] is set to a pipe then). Fails the test on spawn errors. */
subproc_status run_helper(subproc_opts *o, char **out, const char *mode, ...);
/* Number of open fds in this process. */
int count_fds(void);
/* The subproc command next to the test binary. */
const char *test_cli_path(void);
/* What a run of the subproc command gave: exit code (128 + N for a signal), stdout, stderr. */
typedef struct test_cli_res {
    int code;
    char *out, *err; /* malloc'd, NUL-terminated; test_cli_free() */
} test_cli_res;
/* Run the subproc command with args (NULL-terminated; args[0] is the command, e.g. "par") in
 * cwd (NULL: here), stdin from /dev/null. Fails the test when it cannot start. */
test_cli_res test_cli(const char *cwd, const char *const *args);
void test_cli_free(test_cli_res *r);

#endif
