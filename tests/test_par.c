/* test_par.c - `subproc par` next to GNU parallel: the same command lines through both (GNU
 * parallel with --will-cite -q, as subproc never uses a shell), the same output, ordering,
 * joblog fields, results trees and exit statuses. GNU parallel is installed from Debian when it
 * is missing and we are root (as `make deps` installs the other tools); without it those tests
 * are skipped, saying why. Then what GNU parallel has no counterpart for: bounded memory. */
#include "test.h"

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <unistd.h>
#include <sys/stat.h>

static int on_path(const char *prog)
{
    const char *v[] = {"sh", "-c", "command -v \"$0\" >/dev/null", prog, NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = v;
    subproc_result r;
    int rc = subproc_run(&r, &o, NULL);
    int found = rc == 0 && r.status.exited && r.status.code == 0;
    subproc_result_free(&r);
    return found;
}

/* Whether `parallel` is GNU parallel (moreutils has a program of that name too). */
static int is_gnu_parallel(void)
{
    const char *v[] = {"parallel", "--version", NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = v;
    o.stdio[0].kind = SUBPROC_IO_NULL;
    o.stdio[2].kind = SUBPROC_IO_NULL;
    subproc_result r;
    int rc = subproc_run(&r, &o, NULL);
    int gnu = rc == 0 && r.out.data && strstr(r.out.data, "GNU parallel") != NULL;
    subproc_result_free(&r);
    return gnu;
}

/* GNU parallel, installed now if it can be. */
static void need_gnu_parallel(void)
{
    if (on_path("parallel")) {
        if (!is_gnu_parallel())
            test_skip("the parallel on PATH is not GNU parallel (moreutils' parallel?)");
        return;
    }
    if (geteuid() != 0 || !on_path("apt-get"))
        test_skip("GNU parallel is not installed (apt-get install parallel) and we cannot "
                  "install it (not root, or no apt-get)");
    const char *v[] = {"sh", "-c",
                       "apt-get install -y -q parallel >/dev/null 2>&1 || (apt-get update -q "
                       ">/dev/null 2>&1 && apt-get install -y -q parallel >/dev/null 2>&1)",
                       NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = v;
    o.stdio[0].kind = SUBPROC_IO_NULL;
    subproc_result r;
    subproc_run(&r, &o, NULL);
    subproc_result_free(&r);
    if (!on_path("parallel") || !is_gnu_parallel())
        test_skip("GNU parallel is not installed and apt-get install parallel failed");
}

typedef struct tool_out {
    int code;
    char *out, *err;
    size_t out_len, err_len;
} tool_out;

static void tool_free(tool_out *t)
{
    free(t->out);
    free(t->err);
}

/* GNU parallel (gnu) or subproc par with args ("@" is the test binary), in cwd (NULL: ours),
 * standard input from stdin_path (NULL: /dev/null). */
static tool_out run_tool(int gnu, const char *cwd, const char *stdin_path, const char *const *args)
{
    const char *v[160];
    size_t n = 0;
    if (gnu) {
        v[n++] = "parallel";
        v[n++] = "--will-cite";
        v[n++] = "-q";
    } else {
        v[n++] = test_cli_path();
        v[n++] = "par";
    }
    for (size_t i = 0; args[i] && n < 159; i++)
        v[n++] = strcmp(args[i], "@") ? args[i] : test_self;
    v[n] = NULL;
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = v;
    o.cwd = cwd;
    o.stdio[0].kind = SUBPROC_IO_NULL;
    if (stdin_path) o.stdio[0] = (subproc_io){.kind = SUBPROC_IO_FILE, .path = stdin_path};
    subproc_result r;
    ASSERT_OK(subproc_run(&r, &o, NULL));
    tool_out t = {subproc_status_code(&r.status), r.out.data, r.err.data, r.out.len, r.err.len};
    return t;
}

/* Printable, for messages: NUL as \0, newline as \n. */
static char *show(const char *s, size_t len)
{
    char *b = malloc(len * 4 + 1), *w = b;
    for (size_t i = 0; i < len && i < 2000; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0)
            w += sprintf(w, "\\0");
        else if (c == '\n')
            w += sprintf(w, "\\n");
        else if (c == '\t')
            w += sprintf(w, "\\t");
        else
            *w++ = (char)c;
    }
    *w = '\0';
    return b;
}

#define MAX_ARGS 150
/* Both tools on the same arguments (NULL-terminated, after the options): the same stdout and
 * exit status, and with check_err the same stderr. */
static void same_in(int line, const char *cwd_gnu, const char *cwd_par, const char *stdin_path,
                    int check_err, const char *const *args)
{
    tool_out g = run_tool(1, cwd_gnu, stdin_path, args);
    tool_out s = run_tool(0, cwd_par, stdin_path, args);
    int bad = g.code != s.code || g.out_len != s.out_len || memcmp(g.out, s.out, g.out_len) ||
              (check_err && (g.err_len != s.err_len || memcmp(g.err, s.err, g.err_len)));
    if (bad) {
        char cmd[2000] = "";
        for (size_t i = 0; args[i]; i++) {
            strncat(cmd, args[i], sizeof cmd - strlen(cmd) - 2);
            strncat(cmd, " ", sizeof cmd - strlen(cmd) - 1);
        }
        char *go = show(g.out, g.out_len), *so = show(s.out, s.out_len);
        char *ge = show(g.err, g.err_len), *se = show(s.err, s.err_len);
        test_failf(__FILE__, line,
                   "%s\n  GNU parallel: status %d, out \"%s\", err \"%s\"\n"
                   "  subproc par:  status %d, out \"%s\", err \"%s\"",
                   cmd, g.code, go, ge, s.code, so, se);
    }
    tool_free(&g);
    tool_free(&s);
}

static void same_va(int line, const char *stdin_path, int check_err, const char *first, ...)
{
    const char *args[MAX_ARGS + 1];
    size_t n = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && n < MAX_ARGS; a = va_arg(ap, const char *))
        args[n++] = a;
    va_end(ap);
    args[n] = NULL;
    same_in(line, NULL, NULL, stdin_path, check_err, args);
}
#define SAME(...) same_va(__LINE__, NULL, 0, __VA_ARGS__, NULL)
#define SAME_ERR(...) same_va(__LINE__, NULL, 1, __VA_ARGS__, NULL)
#define SAME_STDIN(path, ...) same_va(__LINE__, path, 0, __VA_ARGS__, NULL)

/* Inputs with spaces, quotes, dots, slashes, leading dashes, UTF-8 and GNU's edge cases. */
#define NASTY                                                                                     \
    "a/b.c", ".hidden", "a/b/", "x", "/", "", "a.b/c", "dir.x/file", "-x y", "--", "it's",        \
        "say \"hi\"", "ü/ö.tar.gz", "..", "a//b", "//a", "tab\there", "*", "$HOME", "a\\b"

static char scratch[64];
static void scratch_new(void)
{
    snprintf(scratch, sizeof scratch, "/tmp/subproc-par-XXXXXX");
    ASSERT(mkdtemp(scratch) != NULL);
}
static const char *in_scratch(const char *name)
{
    static char paths[8][128];
    static int i;
    char *p = paths[i++ % 8];
    snprintf(p, 128, "%s/%s", scratch, name);
    return p;
}
static int remove_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)type, (void)ftw;
    return remove(path);
}
static void scratch_done(void)
{
    ASSERT_EQ(nftw(scratch, remove_one, 8, FTW_DEPTH | FTW_PHYS), 0);
}
static void put(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ASSERT(fd >= 0);
    write_all(fd, data, len);
    close(fd);
}
static char *get(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) test_failf(__FILE__, __LINE__, "open %s: %s", path, strerror(errno));
    char *s = read_all(fd, len);
    close(fd);
    return s;
}

TEST_T(par_gnu_replacement_strings, 120)
{
    need_gnu_parallel();
    /* helper args: each argument, NUL-terminated, so every byte and boundary shows. */
    SAME("-k", "@", "helper", "args", "{}", "{.}", "{/}", "{//}", "{/.}", "{#}", ":::", NASTY);
    SAME("-k", "-j1", "@", "helper", "args", "{%}", "pre{}post", "out/{/.}.gz", "{.}{/}{}", ":::",
         NASTY);
    SAME("-k", "@", "helper", "args", "{1}", "{1.}", "{1/}", "{1//}", "{1/.}", "{2}", "{2.}",
         "{2/}", "{2//}", "{2/.}", "{3}", "{#}", ":::", "a/b.c", ".x", "-d", ":::", "p/q/",
         "ü.d/e", NULL);
    /* Not replacement strings: left as they are. */
    SAME("-k", "@", "helper", "args", "{x}", "{0}", "{", "}", "{}}", "{{}", "{-1}", "{1x}", ":::",
         "v");
    SAME("-k", "-n2", "@", "helper", "args", "{0}", "{0.}", "{0/}", ":::", "a.b/c", "d/e.f");
    /* No replacement string: the input is the last argument. */
    SAME("-k", "@", "helper", "args", "a", ":::", NASTY);
}

TEST_T(par_gnu_sources, 120)
{
    need_gnu_parallel();
    scratch_new();
    const char *f3 = in_scratch("f3"), *fz = in_scratch("fz"), *fc = in_scratch("fc");
    put(f3, "1\n2\n3\n", 6);
    put(fz, "a\nx\0b\0\0c", 9);
    put(fc, "p,q,,r,", 7);
    /* cartesian products, the last source fastest */
    SAME("-k", "@", "helper", "args", "{1}{2}{3}", ":::", "a", "b", ":::", "1", "2", "3", ":::",
         "X", "Y");
    /* linked sources stop at the shorter */
    SAME("-k", "@", "helper", "args", "{1}{2}", ":::", "a", "b", "c", ":::+", "1", "2");
    SAME("-k", "@", "helper", "args", "{1}{2}", ":::", "a", ":::+", "1", "2", "3");
    SAME("-k", "@", "helper", "args", "{1}{2}{3}", ":::", "a", "b", ":::", "1", "2", "3", ":::+",
         "X", "Y");
    SAME("-k", "@", "helper", "args", "{1}{2}", ":::", "a", "b", "c", "d", "::::+", f3);
    /* :::: files, with ::: around them, and - for standard input */
    SAME("-k", "@", "helper", "args", "{}", "::::", f3, ":::", "x", "y");
    SAME("-k", "@", "helper", "args", "{1}-{2}", "::::", f3, f3);
    SAME_STDIN(f3, "-k", "@", "helper", "args", "{1}{2}", ":::", "s", "::::", "-");
    /* -a/--arg-file: sources before those after the command */
    SAME("-k", "-a", f3, "@", "helper", "args", "{1}{2}", ":::", "x", "y");
    SAME("-k", "-a", f3, "--arg-file", fc, "@", "helper", "args", "{1}{2}");
    /* standard input by default: lines, an empty one, a last one without newline */
    put(in_scratch("lines"), "a\n\nb b\nlast", 11);
    SAME_STDIN(in_scratch("lines"), "-k", "@", "helper", "args", "[{}]");
    /* -0 and -d, on files, standard input and ::: words (split at the delimiter, as GNU does) */
    SAME("-k", "-0", "@", "helper", "args", "<{}>", "::::", fz);
    SAME_STDIN(fz, "-k", "--null", "@", "helper", "args", "<{}>");
    SAME("-k", "-d", ",", "@", "helper", "args", "<{}>", "::::", fc);
    SAME_STDIN(fc, "-k", "--delimiter", ",", "@", "helper", "args", "<{}>");
    SAME("-k", "-d", ",", "@", "helper", "args", "<{}>", ":::", "a,b", "c,", "");
    SAME("-k", "-d", "\\t", "@", "helper", "args", "<{}>", ":::", "a\tb");
    SAME("-k", "@", "helper", "args", "<{}>", ":::", "two\nlines", "x");
    SAME("-k", "-0", "@", "helper", "args", "<{}>", ":::", "two\nlines", "x");
    /* an empty source: no jobs */
    SAME("-k", "@", "helper", "args", "{}", ":::", "a", ":::");
    SAME("-k", "@", "helper", "args", "{1}{2}{3}", ":::", "a", "b", ":::+", ":::", "c");
    SAME("-k", "@", "helper", "args", "x", ":::", ":::");
    SAME("-k", "@", "helper", "args", "x", ":::");
    scratch_done();
}

TEST_T(par_gnu_max_args, 120)
{
    need_gnu_parallel();
    SAME("-k", "-n2", "@", "helper", "args", "{}", ":::", "a", "b", "c", "d", "e");
    SAME("-k", "-n", "3", "@", "helper", "args", "x{}y", "{1}", "{3}", "{4}", "{.}", ":::", "a.1",
         "b c.2", "d/e", "f", "g");
    SAME("-k", "-n2", "@", "helper", "args", ":::", "a", "b", "c");
    SAME("-k", "--max-args=2", "@", "helper", "args", "{1}", "{2}", "{3}", "{4}", "{}", ":::", "a",
         "b", ":::", "1", "2", "3");
    SAME("-k", "-n2", "--tag", "@", "helper", "out", "x\n", ":::", "a", "b", "c");
}

TEST_T(par_gnu_output, 120)
{
    need_gnu_parallel();
    /* --tag on stdout and stderr, lines and a last line without newline */
    SAME_ERR("-k", "--tag", "sh", "-c", "echo o; echo e >&2; printf 'no end'", ":::", "a", "b c");
    SAME_ERR("-k", "--tag", "@", "helper", "out", "x\n", ":::", "a", ":::", "1", "2");
    /* grouped (the default, or --group): each job's stdout whole, then its stderr */
    SAME_ERR("-k", "-j3", "@", "helper", "chunks", "{}1\n", "{}2\n", "{}3\n", ":::", "A", "B",
             "C", "D");
    SAME_ERR("-k", "--group", "@", "helper", "interleave", "{}", ":::", "3", "1", "2");
    /* -k: input order although the first job ends last */
    SAME("-k", "-j3", "-0", "@", "helper", "chunks", "{}", ":::", "3\n", "2\n", "1\n");
    /* --line-buffer: whole lines; with -k still in input order */
    SAME_ERR("-k", "-j2", "--line-buffer", "@", "helper", "chunks", "{}1\n", "{}2\n", "{}3",
             ":::", "A", "B", "C");
    SAME("-k", "-j2", "--lb", "--tag", "@", "helper", "chunks", "{}1\n", "{}2\n", ":::", "A",
         "B");
    /* --ungroup: as it comes (one job at a time here, so the order is known) */
    SAME_ERR("-j1", "--ungroup", "@", "helper", "chunks", "{}1\n", "{}2", ":::", "A", "B");
    /* a job's failure to start */
    SAME("-k", "{}", ":::", "/no/such/program");
}

/* Every file under dir as "relative path: content", sorted, in one string. */
static char *tree_text;
static size_t tree_root;
static int tree_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)ftw;
    size_t len = 0;
    char *content = type == FTW_F ? get(path, &len) : strdup("(dir)");
    char line[PATH_MAX + 600];
    snprintf(line, sizeof line, "%s: %.500s\n", path + tree_root, content);
    size_t old = tree_text ? strlen(tree_text) : 0;
    tree_text = realloc(tree_text, old + strlen(line) + 1);
    memcpy(tree_text + old, line, strlen(line) + 1);
    free(content);
    return 0;
}
static int cmp_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}
static char *tree(const char *dir)
{
    tree_text = NULL;
    tree_root = strlen(dir);
    ASSERT_EQ(nftw(dir, tree_one, 8, FTW_PHYS), 0);
    /* sort the lines */
    char *lines[512];
    size_t n = 0;
    for (char *s = strtok(tree_text, "\n"); s && n < 512; s = strtok(NULL, "\n"))
        lines[n++] = s;
    qsort(lines, n, sizeof *lines, cmp_lines);
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += strlen(lines[i]) + 1;
    char *out = malloc(total);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strcat(out, lines[i]);
        strcat(out, "\n");
    }
    free(tree_text);
    return out;
}

TEST_T(par_gnu_results, 120)
{
    need_gnu_parallel();
    scratch_new();
    const char *rg = in_scratch("gnu"), *rs = in_scratch("par");
    const char *args_g[] = {"--results", rg, "sh", "-c", "echo out $0 $1; echo err $0 >&2",
                            "{1}", "{2}", ":::", "a/b", "x\\y", "sp ace", "ü", "-d", "t\tb",
                            ":::", "1", "2", NULL};
    const char *args_s[sizeof args_g / sizeof args_g[0]];
    memcpy(args_s, args_g, sizeof args_g);
    args_s[1] = rs;
    tool_out g = run_tool(1, NULL, NULL, args_g), s = run_tool(0, NULL, NULL, args_s);
    ASSERT_EQ(s.code, g.code);
    ASSERT_EQ(s.out_len, 0); /* as GNU parallel: the output is in the files only */
    ASSERT_EQ(g.out_len, 0);
    char *tg = tree(rg), *ts = tree(rs);
    if (strcmp(tg, ts)) test_failf(__FILE__, __LINE__, "GNU:\n%s\npar:\n%s", tg, ts);
    ASSERT(strstr(ts, "/1/a\\_b/2/1/stdout: out a/b 1"));
    free(tg);
    free(ts);
    tool_free(&g);
    tool_free(&s);
    scratch_done();
}

/* The joblog's lines with Starttime and JobRuntime checked for their form and then left out. */
static char *joblog_fields(const char *path)
{
    size_t len;
    char *s = get(path, &len);
    char *out = calloc(1, len + 1), *w = out;
    int lineno = 0;
    for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n"), lineno++) {
        char *f[9] = {0};
        int k = 0;
        for (char *p = line; k < 9; k++) {
            f[k] = p;
            char *t = k < 8 ? strchr(p, '\t') : NULL;
            if (!t) break;
            *t = '\0';
            p = t + 1;
        }
        ASSERT(k >= 8);
        if (lineno) {
            ASSERT(strchr(f[2], '.') && strlen(strchr(f[2], '.')) == 4); /* %.3f seconds */
            ASSERT_EQ(strlen(f[3]), 10);                                 /* %10.3f */
        }
        w += sprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f[0], f[1], f[4], f[5], f[6], f[7], f[8]);
    }
    free(s);
    return out;
}

TEST_T(par_gnu_joblog_resume_retries, 120)
{
    need_gnu_parallel();
    scratch_new();
    const char *dg = in_scratch("g"), *ds = in_scratch("s");
    ASSERT_EQ(mkdir(dg, 0755), 0);
    ASSERT_EQ(mkdir(ds, 0755), 0);
    /* A partial failure (2 and 3 fail), then --resume-failed after 2 was fixed, with a new
     * input 4: 1 is not run again, 2 and 3 are, 4 is new. Then --resume runs only 5. */
    const char *job = "echo run$0; [ -e ok$0 ] || [ $0 = 1 ]";
    const char *a1[] = {"-k", "--joblog", "jl", "sh", "-c", job, ":::", "1", "2", "3", NULL};
    const char *a2[] = {"-k", "--resume-failed", "--joblog", "jl", "sh", "-c", job,
                        ":::", "1", "2", "3", "4", NULL};
    const char *a3[] = {"-k", "--resume", "--joblog", "jl", "sh", "-c", job,
                        ":::", "1", "2", "3", "4", "5", NULL};
    /* --retries 3: fails twice, then succeeds; one joblog line, the last try's output */
    const char *count = "n=$(cat cnt$0 2>/dev/null || echo 0); n=$((n+1)); echo $n > cnt$0; "
                        "echo try$n; [ $n -ge 3 ]";
    const char *a4[] = {"-k", "--retries", "3", "--joblog", "jl2", "sh", "-c", count,
                        ":::", "A", "B", NULL};
    /* --retries 2 is not enough */
    const char *a5[] = {"-k", "--retries", "2", "--joblog", "jl3", "sh", "-c", count,
                        ":::", "C", NULL};
    same_in(__LINE__, dg, ds, NULL, 0, a1);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/ok2", dg);
    put(path, "", 0);
    snprintf(path, sizeof path, "%s/ok2", ds);
    put(path, "", 0);
    same_in(__LINE__, dg, ds, NULL, 0, a2);
    same_in(__LINE__, dg, ds, NULL, 0, a3);
    /* --dry-run with --resume: what would run, and the joblog stays as it is */
    const char *a3d[] = {"-k", "--dry-run", "--resume", "--joblog", "jl", "@", "helper", "args",
                         ":::", "1", "2", "3", "4", "5", "6", NULL};
    same_in(__LINE__, dg, ds, NULL, 0, a3d);
    same_in(__LINE__, dg, ds, NULL, 0, a4);
    same_in(__LINE__, dg, ds, NULL, 0, a5);
    /* +FILE: appended to, no header */
    const char *a6[] = {"-k", "--joblog", "+jl4", "@", "helper", "exit", ":::", "0", "2", NULL};
    same_in(__LINE__, dg, ds, NULL, 0, a6);
    same_in(__LINE__, dg, ds, NULL, 0, a6);
    static const char *const logs[] = {"jl", "jl2", "jl3", "jl4"};
    for (size_t i = 0; i < 4; i++) {
        char pg[PATH_MAX], ps[PATH_MAX];
        snprintf(pg, sizeof pg, "%s/%s", dg, logs[i]);
        snprintf(ps, sizeof ps, "%s/%s", ds, logs[i]);
        char *g = joblog_fields(pg), *s = joblog_fields(ps);
        if (strcmp(g, s)) test_failf(__FILE__, __LINE__, "GNU:\n%s\npar:\n%s", g, s);
        if (i == 0) ASSERT(strstr(s, "2\t:\t0\t5\t0\t0\tsh -c 'echo run$0; [ -e ok$0 ] || "));
        free(g);
        free(s);
    }
    scratch_done();
}

TEST_T(par_gnu_halt, 180)
{
    need_gnu_parallel();
    static const char *const forms[] = {"now,fail=1",    "soon,fail=1",  "soon,fail=2",
                                        "now,success=1", "soon,success=1", "soon,fail=50%",
                                        "now,fail=34%",  "1",            "2",
                                        "-1",            "-2",           "50%",
                                        "now,done=2",    "soon,done=1",  "never",
                                        "soon,fail=20%", "0"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
        SAME("-j1", "-k", "--halt", forms[i], "@", "helper", "exit", ":::", "0", "3", "4", "0",
             "5");
    /* now: the running job is killed, and the exit status is the failed job's */
    SAME("-j2", "--halt", "now,fail=1", "sh", "-c", "sleep $0; echo $0; exit 3", ":::", "30",
         "0");
    /* a job killed by a signal: 128 + the signal */
    SAME("-j1", "--halt", "now,fail=1", "@", "helper", "kill", ":::", "9", "15");
    /* without --halt: the number of failed jobs */
    SAME("-k", "@", "helper", "exit", ":::", "0", "3", "0", "4");
}

TEST_T(par_gnu_dry_run, 60)
{
    need_gnu_parallel();
    SAME_ERR("-k", "--dry-run", "@", "helper", "args", "%s\n", "{}", "x{}y", ":::", NASTY, "'",
             "''", "a'", "'a", "a=b", "a,b", "a+b", "a:b", "~a", "#");
    SAME_ERR("-k", "--dry-run", "-n2", "@", "helper", "args", "{}", "{#}", ":::", "a b", "c", "d");
}

/* ---- beyond GNU parallel ---- */

TEST_T(par_memory_stays_bounded, 120)
{
    /* Four jobs write 100 MB each at once. The peak resident set of subproc (its VmHWM, which
     * wait4() reports as ru_maxrss) may grow by less than 32 MiB over four jobs that write
     * nothing: the output waits in spool files, not in memory. */
    const char *big[] = {test_cli_path(), "par", "-j4", "-k", "--", test_self, "helper", "spew",
                         "{}", ":::", "100000000", "100000000", "100000000", "100000000", NULL};
    const char *small[] = {test_cli_path(), "par", "-j4", "-k", "--", test_self, "helper", "spew",
                           "{}", ":::", "1", "1", "1", "1", NULL};
    long rss[2];
    for (int i = 0; i < 2; i++) {
        subproc_opts o = SUBPROC_OPTS_INIT;
        o.argv = i ? big : small;
        o.stdio[0].kind = o.stdio[1].kind = SUBPROC_IO_NULL;
        subproc_proc *p;
        ASSERT_OK(subproc_spawn(&p, &o, NULL));
        subproc_status st;
        ASSERT_OK(subproc_proc_wait(p, &st));
        subproc_proc_free(p);
        ASSERT_EQ(st.exited, 1);
        ASSERT_EQ(st.code, 0);
        rss[i] = st.max_rss_kb;
    }
    if (rss[1] - rss[0] >= 32 * 1024)
        test_failf(__FILE__, __LINE__, "peak RSS %ld KiB with 4 x 100 MB of output, %ld KiB with "
                                       "none", rss[1], rss[0]);
}

TEST_T(par_spooled_output_is_exact, 120)
{
    /* Output past the in-memory threshold comes back byte for byte, in order, also with --tag
     * (which reads it back through a buffer) and to a regular file (copy_file_range). */
    scratch_new();
    const char *file = in_scratch("out");
    for (int tag = 0; tag < 2; tag++) {
        const char *argv[] = {test_cli_path(), "par", "-j3", "-k", tag ? "--tag" : "-k", "--",
                              test_self, "helper", "bigcount", "{}", ":::", "200000", "3",
                              "150000", NULL};
        subproc_opts o = SUBPROC_OPTS_INIT;
        o.argv = argv;
        o.stdio[0].kind = SUBPROC_IO_NULL;
        o.stdio[1] = (subproc_io){.kind = SUBPROC_IO_FILE, .path = file};
        subproc_result r;
        ASSERT_OK(subproc_run(&r, &o, NULL));
        ASSERT_EQ(r.status.code, 0);
        subproc_result_free(&r);
        size_t len;
        char *s = get(file, &len);
        static const long counts[] = {200000, 3, 150000};
        char *p = s;
        for (int j = 0; j < 3; j++)
            for (long i = 0; i < counts[j]; i++) {
                char want[40];
                int wl = tag ? snprintf(want, sizeof want, "%ld\t%07ld\n", counts[j], i)
                             : snprintf(want, sizeof want, "%07ld\n", i);
                if ((size_t)(p - s) + (size_t)wl > len || memcmp(p, want, (size_t)wl))
                    test_failf(__FILE__, __LINE__, "tag %d: job %d line %ld differs", tag, j, i);
                p += wl;
            }
        ASSERT_EQ((size_t)(p - s), len);
        free(s);
    }
    scratch_done();
}

TEST(par_failure_summary_cuts_long_inputs)
{
    /* (one argument of subproc's own may not pass 128 KiB: MAX_ARG_STRLEN) */
    char *huge = malloc(100001);
    memset(huge, 'y', 100000);
    huge[0] = 'S';
    huge[99999] = 'E';
    huge[100000] = '\0';
    const char *args[] = {"@", "helper", "exit", "3", "{#}", ":::", huge, NULL};
    tool_out s = run_tool(0, NULL, NULL, args);
    ASSERT_EQ(s.code, 1);
    ASSERT(s.err_len < 1000);
    ASSERT(strstr(s.err, "failed: Syyy"));
    ASSERT(strstr(s.err, "yyyE: exited with 3"));
    ASSERT(strstr(s.err, "[99808 bytes left out]"));
    tool_free(&s);
    free(huge);
}

TEST(par_jobs_that_cannot_start)
{
    /* One slot, every job fails to start: each is reported, none holds the slot. */
    const char *a[] = {"-j1", "--", "{}", ":::", "/no/such/a", "/no/such/b", "/no/such/c", NULL};
    tool_out s = run_tool(0, NULL, NULL, a);
    ASSERT_EQ(s.code, 3);
    ASSERT(strstr(s.err, "failed: /no/such/b: cannot start: exec /no/such/b"));
    ASSERT(strstr(s.err, "3 of 3 jobs failed"));
    tool_free(&s);
    /* A --results directory that cannot be made: the step and the path in the summary. */
    const char *b[] = {"--results", "/dev/null/r", "@", "helper", "exit", "0", ":::", "a", NULL};
    s = run_tool(0, NULL, NULL, b);
    ASSERT_EQ(s.code, 1);
    ASSERT(strstr(s.err, "failed: a: cannot start: open /dev/null/r/1/a: Not a directory"));
    tool_free(&s);
}

TEST(par_output_errors_are_reported)
{
    const char *v[] = {test_cli_path(), "par", "-k", "--", test_self, "helper", "out", "{}", ":::",
                       "a", "b", NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = v;
    o.stdio[0].kind = SUBPROC_IO_NULL;
    o.stdio[1] = (subproc_io){.kind = SUBPROC_IO_FILE, .path = "/dev/full"};
    subproc_result r;
    ASSERT_OK(subproc_run(&r, &o, NULL));
    ASSERT_EQ(r.status.code, 125);
    ASSERT(strstr(r.err.data, "writing or spooling the jobs' output: No space left on device"));
    subproc_result_free(&r);
}

TEST(par_jobs_never_read_stdin)
{
    scratch_new();
    put(in_scratch("in"), "secret\n", 7);
    const char *a1[] = {"-k", "@", "helper", "cat", ":::", "x", NULL};
    tool_out s = run_tool(0, NULL, in_scratch("in"), a1);
    ASSERT_EQ(s.code, 0);
    ASSERT_EQ(s.out_len, 0);
    tool_free(&s);
    /* inputs from standard input: the job still reads nothing */
    const char *a2[] = {"-k", "@", "helper", "cat", NULL};
    s = run_tool(0, NULL, in_scratch("in"), a2);
    ASSERT_EQ(s.code, 0);
    ASSERT_EQ(s.out_len, 0);
    tool_free(&s);
    scratch_done();
}

TEST_T(par_jobs_zero_runs_every_job_at_once, 60)
{
    /* Each job waits (bounded) until all three have started: with one at a time they could
     * not all succeed. */
    scratch_new();
    const char *barrier = "touch \"$0\"; i=0; while [ $(ls | wc -l) -lt 3 ] && [ $i -lt 3000 ]; "
                          "do sleep 0.01; i=$((i+1)); done; [ $i -lt 3000 ]";
    const char *a[] = {"-j0", "sh", "-c", barrier, ":::", "a", "b", "c", NULL};
    tool_out s = run_tool(0, scratch, NULL, a);
    ASSERT_EQ(s.code, 0);
    tool_free(&s);
    /* Bounded by the open file limit, with a message that says so; every job still runs. */
    const char *v[] = {test_cli_path(), "par", "-j", "0", "-k", "--", test_self, "helper", "out",
                       "{}", ":::", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", NULL};
    subproc_rlimit rl = {RLIMIT_NOFILE, 50, 50};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = v;
    o.rlimits = &rl;
    o.nrlimits = 1;
    o.stdio[0].kind = SUBPROC_IO_NULL;
    subproc_result r;
    ASSERT_OK(subproc_run(&r, &o, NULL));
    ASSERT_EQ(r.status.code, 0);
    ASSERT_STREQ(r.out.data, "12345678910");
    ASSERT(strstr(r.err.data, "-j 0: the limit on open files (RLIMIT_NOFILE) allows 3 jobs"));
    subproc_result_free(&r);
    scratch_done();
}

TEST(par_delay_and_verbose)
{
    const char *a[] = {"-k", "--delay", "0.01", "--verbose", "@", "helper", "out", "{}", ":::",
                       "a", "b c", NULL};
    tool_out s = run_tool(0, NULL, NULL, a);
    ASSERT_EQ(s.code, 0);
    ASSERT_STREQ(s.out, "ab c");
    ASSERT(strstr(s.err, " helper out a\n"));
    ASSERT(strstr(s.err, " helper out 'b c'\n"));
    tool_free(&s);
}
