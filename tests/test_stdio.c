/* test_stdio.c - the child's fds: stdio kinds, extra fds, fd plans (swaps, cycles, overlaps),
 * and every other fd closed. The child's view comes from helper mode `fds` ("FD DEV:INO" per
 * open fd), compared with fstat() of what the parent passed. */
#include "test.h"

#include <fcntl.h>
#include <limits.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>

struct childfds {
    int n;
    int fd[64];
    char id[64][48];
};

static void parse_fds(const char *out, struct childfds *c)
{
    c->n = 0;
    for (const char *s = out; *s && c->n < 64;) {
        int fd;
        char id[48];
        if (sscanf(s, "%d %47s", &fd, id) != 2) test_failf(__FILE__, __LINE__, "bad fds line: %s", s);
        c->fd[c->n] = fd;
        snprintf(c->id[c->n], sizeof c->id[c->n], "%s", id);
        c->n++;
        const char *nl = strchr(s, '\n');
        if (!nl) break;
        s = nl + 1;
    }
}

static const char *child_id(const struct childfds *c, int fd)
{
    for (int i = 0; i < c->n; i++)
        if (c->fd[i] == fd) return c->id[i];
    return NULL;
}

static char *ident(int fd, char *buf)
{
    struct stat st;
    if (fstat(fd, &st) < 0) test_failf(__FILE__, __LINE__, "fstat %d: %s", fd, strerror(errno));
    snprintf(buf, 48, "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
    return buf;
}

/* The child must have exactly fds want[0..n) (plus nothing), want_id[i] being each one's
 * identity, or NULL for "any". */
static void expect_exact(const char *out, int n, const int *want, char (*want_id)[48])
{
    struct childfds c;
    parse_fds(out, &c);
    if (c.n != n) test_failf(__FILE__, __LINE__, "child has %d fds, want %d:\n%s", c.n, n, out);
    for (int i = 0; i < n; i++) {
        const char *id = child_id(&c, want[i]);
        if (!id) test_failf(__FILE__, __LINE__, "child lacks fd %d:\n%s", want[i], out);
        if (want_id && want_id[i][0] && strcmp(id, want_id[i]) != 0)
            test_failf(__FILE__, __LINE__, "child fd %d is %s, want %s", want[i], id, want_id[i]);
    }
}

static int is_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

/* A temp file opened O_CLOEXEC, already unlinked; its contents are read back with slurp(). */
static int tmpfile_fd(void)
{
    char path[] = "/tmp/subproc-test-XXXXXX";
    int fd = mkostemp(path, O_CLOEXEC);
    ASSERT(fd >= 0);
    unlink(path);
    return fd;
}

static char *slurp(int fd)
{
    ASSERT_EQ(lseek(fd, 0, SEEK_SET), 0);
    return read_all(fd, NULL);
}

/* Make `target` refer to the same file as src; target must be free (it is ours to close). */
static int place(int src, int target)
{
    if (is_open(target)) test_failf(__FILE__, __LINE__, "fd %d is already open in the test", target);
    ASSERT_EQ(dup3(src, target, O_CLOEXEC), target);
    return target;
}

/* A temp file at exactly fd target. */
static int tmp_at(int target)
{
    int t = tmpfile_fd();
    int h = fcntl(t, F_DUPFD_CLOEXEC, 100);
    ASSERT(h >= 0);
    close(t);
    place(h, target);
    close(h);
    return target;
}

/* Three consecutive free fds starting at 3 if possible, else higher. */
static int free_run(int n)
{
    for (int base = 3; base < 200; base++) {
        int ok = 1;
        for (int i = 0; i < n && ok; i++) ok = !is_open(base + i);
        if (ok) return base;
    }
    test_failf(__FILE__, __LINE__, "no free run of %d fds", n);
}

TEST(stdio_inherit)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    char *out;
    run_helper(&o, &out, "fds", NULL);
    struct childfds c;
    parse_fds(out, &c);
    char id[48];
    for (int fd = 0; fd <= 2; fd += 2) { /* 0 and 2 are inherited as they are, closed stays closed */
        if (is_open(fd))
            ASSERT_STREQ(child_id(&c, fd), ident(fd, id));
        else
            ASSERT(child_id(&c, fd) == NULL);
    }
    free(out);
}

TEST(stdio_inherit_closed_stays_closed)
{
    /* With our fd 0 closed, nothing of ours (e.g. a pipe made during spawn) may appear as the
     * child's fd 0. */
    int saved = fcntl(0, F_DUPFD_CLOEXEC, 10);
    close(0);
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.stdio[2].kind = SUBPROC_IO_NULL;
    char *out;
    run_helper(&o, &out, "fds", NULL);
    int want[] = {1, 2};
    expect_exact(out, 2, want, NULL);
    free(out);
    if (saved >= 0) {
        dup2(saved, 0);
        close(saved);
    }
}

TEST(stdio_dev_null)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.stdio[0].kind = SUBPROC_IO_NULL;
    o.stdio[2].kind = SUBPROC_IO_NULL;
    char *out;
    run_helper(&o, &out, "fds", NULL);
    int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
    char id[3][48];
    ident(nul, id[0]);
    id[1][0] = '\0';
    strcpy(id[2], id[0]);
    close(nul);
    int want[] = {0, 1, 2};
    expect_exact(out, 3, want, id);
    free(out);
    /* Reading /dev/null gives EOF at once. */
    subproc_status st = run_helper(&o, &out, "cat", NULL);
    ASSERT_EQ(st.code, 0);
    ASSERT_STREQ(out, "");
    free(out);
}

TEST(stdio_pipes_cloexec_and_data)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    for (int i = 0; i < 3; i++) o.stdio[i].kind = SUBPROC_IO_PIPE;
    o.argv = helper_argv("cat", NULL);
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    for (int i = 0; i < 3; i++) {
        int fd = subproc_proc_fd(p, i);
        ASSERT(fd > 2);
        int fl = fcntl(fd, F_GETFD);
        ASSERT(fl >= 0 && (fl & FD_CLOEXEC));
        /* The right ends: we write stdin, we read stdout and stderr. */
        ASSERT_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, i == 0 ? O_WRONLY : O_RDONLY);
    }
    write_all(subproc_proc_fd(p, 0), "hello pipe", 10);
    subproc_proc_close_fd(p, 0);
    ASSERT_EQ(subproc_proc_fd(p, 0), -1);
    char *out = read_all(subproc_proc_fd(p, 1), NULL);
    char *err = read_all(subproc_proc_fd(p, 2), NULL);
    ASSERT_STREQ(out, "hello pipe");
    ASSERT_STREQ(err, "");
    free(out);
    free(err);
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(st.code, 0);
    /* take_fd hands the fd over: the handle no longer closes it. */
    int fd1 = subproc_proc_take_fd(p, 1);
    ASSERT(fd1 > 2);
    ASSERT_EQ(subproc_proc_fd(p, 1), -1);
    subproc_proc_free(p);
    ASSERT(is_open(fd1));
    close(fd1);
}

TEST(stdio_socket_both_ways)
{
    /* stdin and stdout are one stream socket each; the child sees sockets, we get CLOEXEC ends. */
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.stdio[0].kind = o.stdio[1].kind = SUBPROC_IO_SOCKET;
    o.argv = helper_argv("cat", NULL);
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    for (int i = 0; i < 2; i++) {
        int fd = subproc_proc_fd(p, i);
        ASSERT(fd > 2);
        ASSERT(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        struct stat sb;
        ASSERT_OK(fstat(fd, &sb));
        ASSERT(S_ISSOCK(sb.st_mode));
        char path[64], link[64] = "";
        snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)subproc_proc_pid(p), i);
        ASSERT(readlink(path, link, sizeof link - 1) > 0);
        ASSERT(strncmp(link, "socket:[", 8) == 0);
    }
    ASSERT_EQ(subproc_proc_fd(p, 2), -1);
    write_all(subproc_proc_fd(p, 0), "hello socket", 12);
    subproc_proc_close_fd(p, 0); /* the child's read sees end-of-file */
    char *out = read_all(subproc_proc_fd(p, 1), NULL);
    ASSERT_STREQ(out, "hello socket");
    free(out);
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(st.code, 0);
    subproc_proc_free(p);

    /* Through run(): 2 MiB in while 2 MiB comes out of a socket stdout and a pipe stderr. */
    size_t n = 2u << 20;
    char *in = malloc(n);
    ASSERT(in != NULL);
    for (size_t i = 0; i < n; i++) in[i] = (char)(i * 7 + i / 4099);
    subproc_opts r = SUBPROC_OPTS_INIT;
    r.stdio[0].kind = r.stdio[1].kind = SUBPROC_IO_SOCKET;
    r.argv = helper_argv("tee2", NULL);
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.input = in;
    co.input_len = n;
    subproc_result res;
    ASSERT_OK(subproc_run(&res, &r, &co));
    ASSERT_EQ(res.status.code, 0);
    ASSERT_EQ(res.out.len, n);
    ASSERT(memcmp(res.out.data, in, n) == 0);
    ASSERT_EQ(res.err.len, n);
    subproc_result_free(&res);
    free(in);
}

TEST(stdio_out_and_err_pipes_separate)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    o.stdio[2].kind = SUBPROC_IO_PIPE;
    o.argv = helper_argv("out", "to-out", "to-err", NULL);
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    char *err = read_all(subproc_proc_fd(p, 2), NULL);
    char *out = read_all(subproc_proc_fd(p, 1), NULL);
    ASSERT_STREQ(out, "to-out");
    ASSERT_STREQ(err, "to-err");
    free(out);
    free(err);
    subproc_proc_free(p); /* exited already or not: no zombie either way */
}

TEST(stdio_file_flags_and_mode)
{
    char dir[] = "/tmp/subproc-test-XXXXXX";
    ASSERT(mkdtemp(dir));
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/out", dir);
    umask(022);
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("out", "first", NULL);
    o.stdio[1] = (subproc_io){.kind = SUBPROC_IO_FILE, .path = path,
                              .flags = O_WRONLY | O_CREAT | O_EXCL, .mode = 0640};
    subproc_proc *p;
    subproc_status st;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(st.code, 0);
    subproc_proc_free(p);
    struct stat sb;
    ASSERT_OK(stat(path, &sb));
    ASSERT_EQ(sb.st_mode & 07777, 0640);

    /* O_EXCL on the existing file: the error names the file and the stream. */
    subproc_error e;
    ASSERT_EQ(subproc_spawn(&p, &o, &e), -EEXIST);
    ASSERT_EQ(e.step, SUBPROC_STEP_OPEN);
    ASSERT_EQ(e.err, EEXIST);
    ASSERT_EQ(e.fd, 1);
    ASSERT_STREQ(e.path, path);

    /* O_APPEND keeps what is there. */
    o.argv = helper_argv("out", "+second", NULL);
    o.stdio[1].flags = O_WRONLY | O_APPEND;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    ASSERT_OK(subproc_proc_wait(p, &st));
    subproc_proc_free(p);

    /* stdin from the file with default flags (O_RDONLY). */
    subproc_opts i = SUBPROC_OPTS_INIT;
    i.stdio[0] = (subproc_io){.kind = SUBPROC_IO_FILE, .path = path};
    char *out;
    run_helper(&i, &out, "cat", NULL);
    ASSERT_STREQ(out, "first+second");
    free(out);

    /* Default flags for stdout truncate. */
    o.stdio[1] = (subproc_io){.kind = SUBPROC_IO_FILE, .path = path};
    o.argv = helper_argv("out", "x", NULL);
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    ASSERT_OK(subproc_proc_wait(p, &st));
    subproc_proc_free(p);
    run_helper(&i, &out, "cat", NULL);
    ASSERT_STREQ(out, "x");
    free(out);

    /* A missing stdin file and a missing directory for stderr: named, nothing started. */
    char missing[PATH_MAX];
    snprintf(missing, sizeof missing, "%s/none/file", dir);
    subproc_opts m = SUBPROC_OPTS_INIT;
    m.argv = helper_argv("exit", "0", NULL);
    m.stdio[2] = (subproc_io){.kind = SUBPROC_IO_FILE, .path = missing};
    ASSERT_EQ(subproc_spawn(&p, &m, &e), -ENOENT);
    ASSERT_EQ(e.step, SUBPROC_STEP_OPEN);
    ASSERT_EQ(e.fd, 2);
    ASSERT_STREQ(e.path, missing);
    char buf[700], want[PATH_MAX + 64];
    snprintf(want, sizeof want, "open %s (fd 2): No such file or directory", missing);
    ASSERT_STREQ(subproc_error_str(&e, buf, sizeof buf), want);
    unlink(path);
    rmdir(dir);
}

TEST(stdio_existing_fd)
{
    int f = tmpfile_fd();
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.stdio[1] = (subproc_io){.kind = SUBPROC_IO_FD, .fd = f};
    subproc_status st = run_helper(&o, NULL, "out", "into my fd", NULL);
    ASSERT_EQ(st.code, 0);
    ASSERT(is_open(f)); /* the caller keeps its fd, still CLOEXEC */
    ASSERT(fcntl(f, F_GETFD) & FD_CLOEXEC);
    char *s = slurp(f);
    ASSERT_STREQ(s, "into my fd");
    free(s);
    close(f);
}

TEST(stdio_stderr_into_stdout_keeps_order)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.stdio[2].kind = SUBPROC_IO_STDOUT;
    char *out;
    run_helper(&o, &out, "interleave", "200", NULL);
    char want[4096] = "";
    for (int i = 1; i <= 200; i++) {
        char l[32];
        snprintf(l, sizeof l, "o%d\ne%d\n", i, i);
        strcat(want, l);
    }
    ASSERT_STREQ(out, want);
    free(out);

    /* Into a file, the same. */
    int f = tmpfile_fd();
    subproc_opts g = SUBPROC_OPTS_INIT;
    g.stdio[1] = (subproc_io){.kind = SUBPROC_IO_FD, .fd = f};
    g.stdio[2].kind = SUBPROC_IO_STDOUT;
    run_helper(&g, NULL, "interleave", "200", NULL);
    char *s = slurp(f);
    ASSERT_STREQ(s, want);
    free(s);
    close(f);
}

TEST(stdio_stderr_into_inherited_stdout)
{
    /* stdout inherited, stderr "into stdout": the child's 2 is the parent's 1. */
    int f = tmpfile_fd();
    int saved = fcntl(1, F_DUPFD_CLOEXEC, 10);
    ASSERT(saved >= 0);
    fflush(stdout);
    ASSERT_EQ(dup2(f, 1), 1);
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.stdio[2].kind = SUBPROC_IO_STDOUT;
    run_helper(&o, NULL, "fds", NULL);
    dup2(saved, 1);
    close(saved);
    char *s = slurp(f);
    struct childfds c;
    parse_fds(s, &c);
    char id[48];
    ident(f, id);
    ASSERT_STREQ(child_id(&c, 1), id);
    ASSERT_STREQ(child_id(&c, 2), id);
    free(s);
    close(f);
}

TEST(fds_extra_mapped_to_chosen_numbers)
{
    int p[2];
    ASSERT_OK(pipe2(p, O_CLOEXEC));
    int f = tmpfile_fd();
    subproc_fdmap map[] = {{p[1], 7}, {f, 12}, {p[1], 300}};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.fds = map;
    o.nfds = 3;
    o.stdio[0].kind = SUBPROC_IO_NULL;
    o.stdio[2].kind = SUBPROC_IO_NULL;
    char *out;
    run_helper(&o, &out, "fds", NULL);
    int want[] = {0, 1, 2, 7, 12, 300};
    char id[6][48] = {"", "", ""};
    ident(p[1], id[3]);
    ident(f, id[4]);
    ident(p[1], id[5]);
    expect_exact(out, 6, want, id);
    free(out);
    close(p[0]);
    close(p[1]);
    close(f);
}

TEST(fdplan_swap_stdout_stderr)
{
    int a = tmpfile_fd(), b = tmpfile_fd();
    int s1 = fcntl(1, F_DUPFD_CLOEXEC, 10), s2 = fcntl(2, F_DUPFD_CLOEXEC, 10);
    ASSERT(s1 >= 0 && s2 >= 0);
    fflush(stdout);
    dup2(a, 1);
    dup2(b, 2);
    /* The child's 1 is our 2 and its 2 is our 1. */
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.stdio[1] = (subproc_io){.kind = SUBPROC_IO_FD, .fd = 2};
    o.stdio[2] = (subproc_io){.kind = SUBPROC_IO_FD, .fd = 1};
    subproc_status st = run_helper(&o, NULL, "fds", NULL);
    dup2(s1, 1);
    dup2(s2, 2);
    close(s1);
    close(s2);
    ASSERT_EQ(st.code, 0);
    char *in_a = slurp(a), *in_b = slurp(b);
    ASSERT_STREQ(in_a, ""); /* the listing went to the child's 1 = file b */
    struct childfds c;
    parse_fds(in_b, &c);
    char ia[48], ib[48];
    ASSERT_STREQ(child_id(&c, 1), ident(b, ib));
    ASSERT_STREQ(child_id(&c, 2), ident(a, ia));
    free(in_a);
    free(in_b);
    close(a);
    close(b);
}

/* Run `fds` with the given map, stdout a pipe, stdin/stderr /dev/null; want exactly 0-2 plus
 * the map's targets, each the file of its source (identities taken before the spawn). */
static void check_map(const subproc_fdmap *map, size_t n)
{
    char id[16][48];
    int want[16] = {0, 1, 2};
    memset(id, 0, sizeof id);
    for (size_t i = 0; i < n; i++) {
        want[3 + i] = map[i].child_fd;
        ident(map[i].parent_fd, id[3 + i]);
    }
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.fds = map;
    o.nfds = n;
    o.stdio[0].kind = SUBPROC_IO_NULL;
    o.stdio[2].kind = SUBPROC_IO_NULL;
    char *out;
    run_helper(&o, &out, "fds", NULL);
    expect_exact(out, 3 + (int)n, want, id);
    free(out);
}

TEST(fdplan_cycle)
{
    int base = free_run(3);
    int f[3];
    for (int i = 0; i < 3; i++) f[i] = tmp_at(base + i);
    /* 3->4, 4->5, 5->3 (when 3-5 are free in the test, else the same shape higher up). */
    subproc_fdmap map[] = {{f[0], f[1]}, {f[1], f[2]}, {f[2], f[0]}};
    check_map(map, 3);
    /* And the parent's fds are untouched. */
    for (int i = 0; i < 3; i++) ASSERT(fcntl(f[i], F_GETFD) & FD_CLOEXEC);
    for (int i = 0; i < 3; i++) close(f[i]);
}

TEST(fdplan_chains_and_overlaps)
{
    int base = free_run(3);
    int f[3];
    for (int i = 0; i < 3; i++) f[i] = tmp_at(base + i);
    int a = f[0], b = f[2]; /* "3" and "5" */
    subproc_fdmap m1[] = {{b, b + 4}, {a, a + 4}}; /* 5->9 with 3->7 */
    check_map(m1, 2);
    subproc_fdmap m2[] = {{a, b}, {b, b + 4}}; /* 3->5 with 5->9: 5 is source and target */
    check_map(m2, 2);
    subproc_fdmap m3[] = {{b, b + 4}, {a, b}}; /* the same, listed the other way round */
    check_map(m3, 2);
    subproc_fdmap m4[] = {{f[1], a}, {a, 40}}; /* 4->3, 3->40 */
    check_map(m4, 2);
    subproc_fdmap m5[] = {{a, a}, {b, 41}}; /* an fd onto itself: its CLOEXEC must go */
    check_map(m5, 2);
    subproc_fdmap m6[] = {{a, b}, {b, a}, {f[1], f[1]}}; /* swap, plus one in place */
    check_map(m6, 3);
    for (int i = 0; i < 3; i++) close(f[i]);
}

TEST(fdplan_stdio_and_extra_fds_overlap)
{
    /* Our fd 1 becomes the child's 3, while our fd 3 becomes the child's 1. */
    int base = free_run(1);
    int f = tmp_at(base), o1 = tmpfile_fd();
    int s1 = fcntl(1, F_DUPFD_CLOEXEC, 10);
    fflush(stdout);
    dup2(o1, 1);
    subproc_fdmap map[] = {{1, f}};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.fds = map;
    o.nfds = 1;
    o.stdio[1] = (subproc_io){.kind = SUBPROC_IO_FD, .fd = f};
    o.stdio[2].kind = SUBPROC_IO_NULL;
    run_helper(&o, NULL, "fds", NULL);
    dup2(s1, 1);
    close(s1);
    char *s = slurp(f); /* the child's stdout was our f */
    struct childfds c;
    parse_fds(s, &c);
    char idf[48], ido[48];
    ASSERT_STREQ(child_id(&c, 1), ident(f, idf));
    ASSERT_STREQ(child_id(&c, f), ident(o1, ido));
    ASSERT_EQ(c.n, 4);
    free(s);
    close(f);
    close(o1);
}

TEST(fdplan_targets_on_internal_fds)
{
    /* Sources far up, targets on every low number: whatever fds the library opens for itself
     * during the spawn (pipes, /dev/null, the posix backend's error pipe) land on some of
     * these numbers and must be moved out of the way, not clobbered or leaked. */
    int t = tmpfile_fd(), u = tmpfile_fd();
    int hiA = free_run(1) + 500, hiB = hiA + 1;
    int a = place(t, hiA), b = place(u, hiB);
    close(t);
    close(u);
    int lo = 3;
    while (is_open(lo)) lo++;
    subproc_fdmap map[13];
    for (int i = 0; i < 13; i++) map[i] = (subproc_fdmap){i % 2 ? b : a, lo + i};
    char id[16][48];
    memset(id, 0, sizeof id);
    int want[16] = {0, 1, 2};
    for (int i = 0; i < 13; i++) {
        want[3 + i] = lo + i;
        ident(map[i].parent_fd, id[3 + i]);
    }
    for (int rep = 0; rep < 2; rep++) {
        subproc_opts o = SUBPROC_OPTS_INIT;
        o.fds = map;
        o.nfds = 13;
        o.stdio[0].kind = rep ? SUBPROC_IO_PIPE : SUBPROC_IO_NULL;
        o.stdio[2].kind = rep ? SUBPROC_IO_PIPE : SUBPROC_IO_NULL;
        o.stdio[1].kind = SUBPROC_IO_PIPE;
        o.argv = helper_argv("fds", NULL);
        subproc_proc *p;
        ASSERT_OK(subproc_spawn(&p, &o, NULL));
        char *out = read_all(subproc_proc_fd(p, 1), NULL);
        subproc_status st;
        ASSERT_OK(subproc_proc_wait(p, &st));
        ASSERT_EQ(st.code, 0);
        char id0[3][48] = {"", "", ""};
        memcpy(id[0], id0, sizeof id0);
        expect_exact(out, 16, want, id);
        free(out);
        subproc_proc_free(p);
    }
    close(a);
    close(b);
}

/* Leak /etc/passwd at fd 900 without FD_CLOEXEC, the way careless code does; returns the fd it
 * was opened at. unleak_fd() closes both. */
static int leak_fd(void)
{
    int f = open("/etc/passwd", O_RDONLY);
    ASSERT(f >= 0);
    ASSERT(!is_open(900));
    ASSERT_EQ(dup2(f, 900), 900);
    ASSERT(!(fcntl(900, F_GETFD) & FD_CLOEXEC));
    return f;
}

static void unleak_fd(int f)
{
    close(f);
    close(900);
}

TEST(fds_leaked_by_parent_are_closed)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur <= 1100) {
        ASSERT(rl.rlim_max > 1100);
        rl.rlim_cur = 1100;
        ASSERT_OK(setrlimit(RLIMIT_NOFILE, &rl));
    }
    /* Non-CLOEXEC fds the way careless code makes them. */
    int p[2];
    ASSERT_OK(pipe(p));
    int f = leak_fd();
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.stdio[0].kind = SUBPROC_IO_NULL;
    o.stdio[2].kind = SUBPROC_IO_NULL;
    char *out;
    run_helper(&o, &out, "fds", NULL);
    int want[] = {0, 1, 2};
    expect_exact(out, 3, want, NULL);
    free(out);
    /* With an extra fd above and below the leaks, only that one gets through. */
    subproc_fdmap map[] = {{p[1], 1000}};
    o.fds = map;
    o.nfds = 1;
    run_helper(&o, &out, "fds", NULL);
    int want2[] = {0, 1, 2, 1000};
    expect_exact(out, 4, want2, NULL);
    free(out);
    close(p[0]);
    close(p[1]);
    unleak_fd(f);
}

TEST(fds_leaked_closed_with_no_fd_plan)
{
    /* Every stdio inherited and no extra fds: the fd plan has no moves, and the child closes
     * leaked fds once only, first thing (child.c). Our own stdout is a pipe for the moment, so
     * that the helper's list can be read. */
    int p[2];
    ASSERT_OK(pipe(p));
    int f = leak_fd();
    int saved = fcntl(1, F_DUPFD_CLOEXEC, 3);
    ASSERT(saved >= 0);
    fflush(stdout);
    ASSERT_EQ(dup2(p[1], 1), 1);
    subproc_opts o = SUBPROC_OPTS_INIT;
    subproc_status st = run_helper(&o, NULL, "fds", NULL);
    ASSERT_EQ(dup2(saved, 1), 1);
    close(saved);
    close(p[1]);
    char *out = read_all(p[0], NULL);
    close(p[0]);
    ASSERT_EQ(st.code, 0);
    int want[] = {0, 1, 2};
    expect_exact(out, 3, want, NULL);
    free(out);
    unleak_fd(f);
}

static int list_fds_fn(void *arg)
{
    (void)arg;
    int n = 0;
    for (int fd = 0; fd < 2048; fd++)
        if (fcntl(fd, F_GETFD) != -1) n++;
    return n;
}

TEST(fds_leaked_closed_in_fork_mode)
{
    int f = leak_fd();
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.fn = list_fds_fn;
    o.stdio[0].kind = SUBPROC_IO_NULL;
    o.stdio[1].kind = SUBPROC_IO_NULL;
    o.stdio[2].kind = SUBPROC_IO_NULL;
    subproc_proc *p;
    subproc_status st;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(st.code, 3);
    subproc_proc_free(p);
    unleak_fd(f);
}
