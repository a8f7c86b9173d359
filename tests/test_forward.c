/* test_forward.c - output passed on to a tee fd (SUBPROC_COMM_TEE_OUT/ERR) without capture: moved
 * by splice() where the kernel allows, by read()/write() where it refuses (O_APPEND file) or
 * where the library is told to (the test switch), byte-exact either way, to a file, a pipe, a
 * socket and a terminal; a tee whose reader is gone stops without stopping the call. */
#include "test.h"

#include "internal.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

static char *pattern(size_t n, unsigned seed)
{
    char *b = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        b[i] = (char)(seed >> 16);
    }
    return b;
}

/* rchar of /proc/self/io: bytes this process moved with read() and friends; -1 when the kernel
 * does not keep it. splice() does not count there. */
static long long rchar(void)
{
    FILE *f = fopen("/proc/self/io", "re");
    if (!f) return -1;
    long long v = -1;
    char line[128];
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "rchar: %lld", &v) == 1) break;
    fclose(f);
    return v;
}

/* "tee2" (stdin to stdout, and ^0xff to stderr), neither captured, teed to out_fd/err_fd. */
static void run_forward(const char *in, size_t n, int out_fd, int err_fd, subproc_result *r)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("tee2", NULL);
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.flags = SUBPROC_COMM_NO_CAPTURE | SUBPROC_COMM_TEE_OUT | SUBPROC_COMM_TEE_ERR;
    co.tee_out_fd = out_fd;
    co.tee_err_fd = err_fd;
    co.input = in;
    co.input_len = n;
    o.stdio[1].kind = o.stdio[2].kind = SUBPROC_IO_PIPE;
    ASSERT_OK(subproc_run(r, &o, &co));
    ASSERT_EQ(r->status.exited, 1);
    ASSERT_EQ(r->status.code, 0);
    ASSERT(r->out.data == NULL);
    ASSERT_EQ(r->out.total, n);
    ASSERT_EQ(r->err.total, n);
}

static int tmpfile_fd(char *path, int extra_flags)
{
    strcpy(path, "/tmp/subproc-fwd-XXXXXX");
    int fd = mkostemp(path, O_CLOEXEC | extra_flags);
    ASSERT(fd >= 0);
    return fd;
}

static void check_file(int fd, size_t skip, const char *want, size_t n, int xor)
{
    struct stat st;
    ASSERT_OK(fstat(fd, &st));
    ASSERT_EQ(st.st_size, (off_t)(skip + n));
    char *got = malloc(n + 1);
    ASSERT_EQ(pread(fd, got, n, (off_t)skip), (ssize_t)n);
    for (size_t i = 0; i < n; i++)
        if ((char)(got[i] ^ (xor ? 0xff : 0)) != want[i])
            test_failf(__FILE__, __LINE__, "byte %zu differs", i);
    free(got);
}

/* To files: spliced, so the parent reads (almost) nothing itself; then the same through
 * read()/write() with the test switch. Byte-exact both ways. */
TEST(forward_to_file_spliced_and_by_read_write)
{
    size_t n = (3u << 20) + 12345;
    char *in = pattern(n, 9);
    for (int pass = 0; pass < 2; pass++) {
        subproc__test_no_splice(pass == 1);
        char po[64], pe[64];
        int fo = tmpfile_fd(po, 0), fe = tmpfile_fd(pe, 0);
        long long r0 = rchar();
        subproc_result r;
        run_forward(in, n, fo, fe, &r);
        long long r1 = rchar();
        subproc_result_free(&r);
        check_file(fo, 0, in, n, 0);
        check_file(fe, 0, in, n, 1);
        if (r0 >= 0 && r1 >= 0) {
            /* A reaped child's counts are added to its parent's: the helper read n bytes of
             * stdin. Ours are 2n more through read(), about none through splice(). */
            long long d = r1 - r0;
            if (pass == 0 && d >= (long long)n * 3 / 2)
                test_failf(__FILE__, __LINE__, "spliced, yet %lld bytes read for %zu", d, n);
            if (pass == 1 && d < 3 * (long long)n)
                test_failf(__FILE__, __LINE__, "by read(), yet %lld bytes read for %zu", d, n);
        }
        close(fo);
        close(fe);
        unlink(po);
        unlink(pe);
    }
    subproc__test_no_splice(0);
    free(in);
}

/* O_APPEND: the kernel refuses splice (EINVAL); the stream falls back to write(), which appends
 * after what the file held, nothing lost or doubled. */
TEST(forward_to_append_file_falls_back)
{
    size_t n = (2u << 20) + 7;
    char *in = pattern(n, 4);
    char po[64], pe[64];
    int fo = tmpfile_fd(po, O_APPEND), fe = tmpfile_fd(pe, O_APPEND);
    write_all(fo, "head\n", 5);
    write_all(fe, "head\n", 5);
    subproc_result r;
    run_forward(in, n, fo, fe, &r);
    subproc_result_free(&r);
    check_file(fo, 5, in, n, 0);
    check_file(fe, 5, in, n, 1);
    char head[5];
    ASSERT_EQ(pread(fo, head, 5, 0), 5);
    ASSERT(memcmp(head, "head\n", 5) == 0);
    close(fo);
    close(fe);
    unlink(po);
    unlink(pe);
    free(in);
}

struct drain {
    int fd;
    char *buf;
    size_t len;
};

static void *drain_fd(void *arg)
{
    struct drain *d = arg;
    d->buf = read_all(d->fd, &d->len);
    return NULL;
}

/* To a pipe (made non-blocking, so a full pipe shows as EAGAIN), a socket and a terminal in
 * raw mode, each read by a thread: every byte arrives, in order. */
static void forward_to_pair(int wr_out, int rd_out, int wr_err, int rd_err, const char *in, size_t n)
{
    struct drain d[2] = {{rd_out, NULL, 0}, {rd_err, NULL, 0}};
    pthread_t t[2];
    ASSERT_OK(pthread_create(&t[0], NULL, drain_fd, &d[0]));
    ASSERT_OK(pthread_create(&t[1], NULL, drain_fd, &d[1]));
    subproc_result r;
    run_forward(in, n, wr_out, wr_err, &r);
    subproc_result_free(&r);
    close(wr_out);
    close(wr_err);
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);
    ASSERT_EQ(d[0].len, n);
    ASSERT_EQ(d[1].len, n);
    ASSERT(memcmp(d[0].buf, in, n) == 0);
    for (size_t i = 0; i < n; i++) ASSERT_EQ((char)(d[1].buf[i] ^ 0xff), in[i]);
    free(d[0].buf);
    free(d[1].buf);
    close(rd_out);
    close(rd_err);
}

TEST(forward_to_pipe_and_socket)
{
    size_t n = (2u << 20) + 99;
    char *in = pattern(n, 21);
    for (int pass = 0; pass < 2; pass++) {
        subproc__test_no_splice(pass == 1);
        int a[2], b[2];
        ASSERT_OK(pipe2(a, O_CLOEXEC));
        ASSERT_OK(pipe2(b, O_CLOEXEC));
        fcntl(a[1], F_SETFL, O_NONBLOCK);
        forward_to_pair(a[1], a[0], b[1], b[0], in, n);
        int s[2], u[2];
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s));
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, u));
        forward_to_pair(s[1], s[0], u[1], u[0], in, n);
    }
    subproc__test_no_splice(0);
    free(in);
}

static int open_raw_pty(int *master)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    ASSERT(m >= 0);
    ASSERT_OK(grantpt(m));
    ASSERT_OK(unlockpt(m));
    int s = open(ptsname(m), O_RDWR | O_NOCTTY | O_CLOEXEC);
    ASSERT(s >= 0);
    struct termios t;
    ASSERT_OK(tcgetattr(s, &t));
    cfmakeraw(&t);
    ASSERT_OK(tcsetattr(s, TCSANOW, &t));
    *master = m;
    return s;
}

/* A terminal reads back what was written; the master sees no EOF while the slave is open, so the
 * reader thread stops at the byte count instead. */
struct pty_drain {
    int fd;
    size_t want, len;
    char *buf;
};

static void *drain_pty(void *arg)
{
    struct pty_drain *d = arg;
    while (d->len < d->want) {
        ssize_t k = read(d->fd, d->buf + d->len, d->want - d->len);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        d->len += (size_t)k;
    }
    return NULL;
}

TEST(forward_to_terminal)
{
    size_t n = 300000;
    char *in = pattern(n, 33);
    for (int pass = 0; pass < 2; pass++) {
        subproc__test_no_splice(pass == 1);
        int mo, me;
        int so = open_raw_pty(&mo), se = open_raw_pty(&me);
        struct pty_drain d[2] = {{mo, n, 0, malloc(n)}, {me, n, 0, malloc(n)}};
        pthread_t t[2];
        ASSERT_OK(pthread_create(&t[0], NULL, drain_pty, &d[0]));
        ASSERT_OK(pthread_create(&t[1], NULL, drain_pty, &d[1]));
        subproc_result r;
        run_forward(in, n, so, se, &r);
        subproc_result_free(&r);
        pthread_join(t[0], NULL);
        pthread_join(t[1], NULL);
        ASSERT_EQ(d[0].len, n);
        ASSERT_EQ(d[1].len, n);
        ASSERT(memcmp(d[0].buf, in, n) == 0);
        for (size_t i = 0; i < n; i++) ASSERT_EQ((char)(d[1].buf[i] ^ 0xff), in[i]);
        free(d[0].buf);
        free(d[1].buf);
        close(so);
        close(se);
        close(mo);
        close(me);
    }
    subproc__test_no_splice(0);
    free(in);
}

/* The tee's reader is gone: the tee stops (EPIPE, no SIGPIPE left pending), the child's output is
 * still drained to the end, and the call succeeds. */
TEST(forward_reader_gone_stops_only_the_tee)
{
    size_t n = 3u << 20;
    char *in = pattern(n, 5);
    int a[2], b[2];
    ASSERT_OK(pipe2(a, O_CLOEXEC));
    ASSERT_OK(pipe2(b, O_CLOEXEC));
    close(a[0]);
    close(b[0]);
    subproc_result r;
    run_forward(in, n, a[1], b[1], &r);
    subproc_result_free(&r);
    sigset_t pend;
    sigpending(&pend);
    ASSERT(!sigismember(&pend, SIGPIPE));
    close(a[1]);
    close(b[1]);
    free(in);
}

/* Captured and teed: the bytes are needed in memory anyway, so this is the read path; both
 * copies byte-exact. */
TEST(forward_with_capture_byte_exact)
{
    size_t n = (2u << 20) + 1;
    char *in = pattern(n, 8);
    char po[64];
    int fo = tmpfile_fd(po, 0);
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("tee2", NULL);
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.flags = SUBPROC_COMM_TEE_OUT;
    co.tee_out_fd = fo;
    co.input = in;
    co.input_len = n;
    subproc_result r;
    ASSERT_OK(subproc_run(&r, &o, &co));
    ASSERT_EQ(r.out.len, n);
    ASSERT(memcmp(r.out.data, in, n) == 0);
    subproc_result_free(&r);
    check_file(fo, 0, in, n, 0);
    close(fo);
    unlink(po);
    free(in);
}
