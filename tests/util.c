/* util.c - small helpers shared by the tests. */
#include "test.h"

#include <fcntl.h>
#include <stdarg.h>
#include <unistd.h>

void helper_argv_va(const char **v, size_t cap, const char *mode, va_list ap)
{
    size_t n = 0;
    v[n++] = test_self;
    v[n++] = "helper";
    v[n++] = mode;
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n < cap - 1) v[n++] = a;
    v[n] = NULL;
}

const char **helper_argv(const char *mode, ...)
{
    static const char *v[64];
    va_list ap;
    va_start(ap, mode);
    helper_argv_va(v, 64, mode, ap);
    va_end(ap);
    return v;
}

char *read_all(int fd, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n + 1 >= cap) buf = realloc(buf, cap *= 2);
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

void write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t r = write(fd, p, len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return;
        p += r;
        len -= (size_t)r;
    }
}

subproc_status run_helper(subproc_opts *o, char **out, const char *mode, ...)
{
    const char *v[64];
    va_list ap;
    va_start(ap, mode);
    helper_argv_va(v, 64, mode, ap);
    va_end(ap);
    o->argv = v;
    if (out) o->stdio[1].kind = SUBPROC_IO_PIPE;
    subproc_proc *p;
    subproc_error e;
    int r = subproc_spawn(&p, o, &e);
    if (r < 0) {
        char buf[700];
        test_failf(__FILE__, __LINE__, "spawn %s: %s", mode, subproc_error_str(&e, buf, sizeof buf));
    }
    if (out) *out = read_all(subproc_proc_fd(p, 1), NULL);
    subproc_status st;
    r = subproc_proc_wait(p, &st);
    if (r < 0) test_failf(__FILE__, __LINE__, "wait: %s", subproc_strerror(r));
    subproc_proc_free(p);
    return st;
}

int count_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 4096; fd++)
        if (fcntl(fd, F_GETFD) != -1) n++;
    return n;
}

int child_backend_is_linux(void)
{
    if (UNDER_VALGRIND()) {
        const char *want = getenv("SUBPROC_BACKEND");
        return !want || strcmp(want, "posix") != 0;
    }
    return strcmp(subproc_backend(), "linux") == 0;
}

const char *test_cli_path(void)
{
    static char path[4200];
    snprintf(path, sizeof path, "%s", test_self);
    char *slash = strrchr(path, '/');
    snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "subproc");
    return path;
}

test_cli_res test_cli(const char *cwd, const char *const *args)
{
    size_t n = 0;
    while (args[n]) n++;
    const char **v = calloc(n + 2, sizeof *v);
    ASSERT(v != NULL);
    v[0] = test_cli_path();
    memcpy(v + 1, args, n * sizeof *v);
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = v;
    o.cwd = cwd;
    o.stdio[0].kind = SUBPROC_IO_NULL;
    subproc_result r;
    ASSERT_OK(subproc_run(&r, &o, NULL));
    free(v);
    test_cli_res c = {subproc_status_code(&r.status), r.out.data, r.err.data};
    if (!c.out) c.out = calloc(1, 1);
    if (!c.err) c.err = calloc(1, 1);
    r.out.data = r.err.data = NULL;
    subproc_result_free(&r);
    return c;
}

void test_cli_free(test_cli_res *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

void test_await_ready(subproc_proc *p, int timeout_ms)
{
    subproc_reader *rd;
    ASSERT_OK(subproc_reader_new(&rd, subproc_proc_fd(p, 1), 0, 0));
    const char *line;
    size_t len;
    ASSERT_EQ(subproc_reader_readline(rd, &line, &len, timeout_ms), 1);
    ASSERT_STREQ(line, "ready\n");
    subproc_reader_free(rd);
}

char *read_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    char *t = read_all(fd, NULL);
    close(fd);
    return t;
}
