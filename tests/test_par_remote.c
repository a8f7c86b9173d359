/* test_par_remote.c - `subproc par -S`: jobs spread over hosts reached with ssh (real sshd
 * servers on 127.0.0.2 and 127.0.0.3, see sshd.h), the files they need sent and fetched. */
#include "sshd.h"
#include "test.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* -S HOSTS --ssh=SSH ARGS... (from cwd). */
static test_cli_res par_on(const struct test_sshd *s, const char *cwd, const char *hosts,
                           const char *const *args)
{
    const char *v[80];
    char sopt[600], sshopt[600];
    snprintf(sopt, sizeof sopt, "-S%s", hosts);
    snprintf(sshopt, sizeof sshopt, "--ssh=%s", s->ssh_cmd);
    size_t n = 0;
    v[n++] = "par";
    v[n++] = sopt;
    v[n++] = sshopt;
    for (size_t i = 0; args[i] && n < 79; i++) v[n++] = args[i];
    v[n] = NULL;
    return test_cli(cwd, v);
}

/* The exit code, with par's stderr in the failure message when it is not the one wanted. */
#define ASSERT_CODE(r, want)                                                                     \
    do {                                                                                         \
        if ((r).code != (want))                                                                  \
            test_failf(__FILE__, __LINE__, "exit %d, not %d; stderr: %s", (r).code, (want),       \
                       (r).err);                                                                 \
    } while (0)

static void put_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ASSERT(fd >= 0);
    write_all(fd, text, strlen(text));
    close(fd);
}

/* The server address a job ran on ("local" for this machine), from the SSH_CONNECTION sshd
 * sets; its start and end in ns, to see how many ran at once on each host. */
static const char PROBE[] =
    "set -- ${SSH_CONNECTION:-x x local x}; s=$(date +%s%N); sleep 0.4; e=$(date +%s%N); "
    "echo \"$3 $s $e\"";

TEST_T(par_sshlogin_spreads_over_hosts_with_slots, 120)
{
    struct test_sshd s;
    test_sshd_start(&s, 2);
    char hosts[200], h0[64], h1[64], jl[200];
    snprintf(h0, sizeof h0, "root@%s:%d", s.addr[0], s.port[0]);
    snprintf(h1, sizeof h1, "%s:%d", s.addr[1], s.port[1]);
    /* GNU parallel's syntax: N/ slots, a comma list, : for this machine, -S repeated. */
    snprintf(hosts, sizeof hosts, "1/%s,2/%s", h0, h1);
    snprintf(jl, sizeof jl, "--joblog=%s/joblog", s.dir);
    const char *args[] = {"-S1/:", jl, "sh", "-c", PROBE, "sh", ":::", "1", "2", "3", "4", "5",
                          "6", "7", "8", "9", "10", "11", "12", NULL};
    test_cli_res r = par_on(&s, NULL, hosts, args);
    ASSERT_CODE(r, 0);
    struct { char host[32]; long long s, e; } job[12];
    int n = 0;
    for (char *save = NULL, *l = strtok_r(r.out, "\n", &save); l && n < 12;
         l = strtok_r(NULL, "\n", &save), n++)
        ASSERT_EQ(sscanf(l, "%31s %lld %lld", job[n].host, &job[n].s, &job[n].e), 3);
    ASSERT_EQ(n, 12);
    const char *names[3] = {s.addr[0], s.addr[1], "local"};
    const int slots[3] = {1, 2, 1};
    for (int h = 0; h < 3; h++) {
        int used = 0, most = 0;
        for (int i = 0; i < n; i++) {
            if (strcmp(job[i].host, names[h])) continue;
            used++;
            int at_once = 0; /* jobs on this host running when job i started */
            for (int k = 0; k < n; k++)
                at_once += !strcmp(job[k].host, names[h]) && job[k].s <= job[i].s &&
                           job[i].s < job[k].e;
            if (at_once > most) most = at_once;
        }
        ASSERT(used > 0);        /* every host got jobs */
        ASSERT(most <= slots[h]); /* never more at once than its N/ */
    }
    test_cli_free(&r);
    /* The joblog's Host column names each host as -S did. */
    char path[200];
    snprintf(path, sizeof path, "%s/joblog", s.dir);
    char *log = read_file(path);
    ASSERT(log != NULL);
    char col[80];
    snprintf(col, sizeof col, "\t%s\t", h0);
    ASSERT(strstr(log, col) != NULL);
    snprintf(col, sizeof col, "\t%s\t", h1);
    ASSERT(strstr(log, col) != NULL);
    ASSERT(strstr(log, "\t:\t") != NULL);
    free(log);
    /* One connection per host for all its jobs (the ControlMaster). */
    ASSERT_EQ(test_sshd_log_count(&s, 0, "Accepted publickey"), 1);
    ASSERT_EQ(test_sshd_log_count(&s, 1, "Accepted publickey"), 1);
    test_sshd_stop(&s);
}

TEST_T(par_sshlogin_argv_arrives_exactly, 60)
{
    struct test_sshd s;
    test_sshd_start(&s, 1);
    char host[64];
    snprintf(host, sizeof host, "%s:%d", s.addr[0], s.port[0]);
    /* Every byte but newline, which ends an input here as in GNU parallel. */
    char all[256];
    size_t n = 0;
    for (int b = 1; b < 256; b++)
        if (b != '\n') all[n++] = (char)b;
    all[n] = '\0';
    const char *args[] = {test_self, "helper", "out", "{}", ":::", all, NULL};
    test_cli_res r = par_on(&s, NULL, host, args);
    ASSERT_CODE(r, 0);
    ASSERT_STREQ(r.out, all);
    test_cli_free(&r);
    const char *args2[] = {"-k", test_self, "helper", "out", "[{}]", ":::", "$(id)", "a'b",
                           "*", " ; exit 3", NULL};
    r = par_on(&s, NULL, host, args2);
    ASSERT_CODE(r, 0);
    ASSERT_STREQ(r.out, "[$(id)][a'b][*][ ; exit 3]");
    test_cli_free(&r);
    /* Exit codes and deaths by signal as the remote program's. */
    char jl[220], path[200];
    snprintf(path, sizeof path, "%s/joblog", s.dir);
    snprintf(jl, sizeof jl, "--joblog=%s", path);
    const char *a5[] = {"-k", jl, test_self, "helper", "{1}", "{2}", ":::", "kill", "exit",
                        "exit", ":::+", "9", "255", "1", NULL};
    r = par_on(&s, NULL, host, a5);
    ASSERT_CODE(r, 3);
    test_cli_free(&r);
    char *log = read_file(path);
    ASSERT(log != NULL);
    /* Exitval and Signal columns: killed by 9, exit 255, exit 1 */
    ASSERT(strstr(log, "\t0\t9\t") != NULL);
    ASSERT(strstr(log, "\t255\t0\t") != NULL);
    ASSERT(strstr(log, "\t1\t0\t") != NULL);
    free(log);
    test_sshd_stop(&s);
}

TEST_T(par_sshlogin_transfer_return_cleanup, 120)
{
    struct test_sshd s;
    test_sshd_start(&s, 1);
    char host[64], here[200], there[200], path[400], copt[220];
    snprintf(host, sizeof host, "%s:%d", s.addr[0], s.port[0]);
    /* "here" is par's directory, "there" the jobs' directory on the host (-C). */
    snprintf(here, sizeof here, "%s/here", s.dir);
    snprintf(there, sizeof there, "%s/there", s.dir);
    ASSERT_OK(mkdir(here, 0755));
    ASSERT_OK(mkdir(there, 0755));
    snprintf(path, sizeof path, "%s/sub dir", here);
    ASSERT_OK(mkdir(path, 0755));
    snprintf(path, sizeof path, "%s/sub dir/in 1.txt", here);
    put_file(path, "hello\n");
    snprintf(path, sizeof path, "%s/x$(id).txt", here);
    put_file(path, "quoted\n");
    snprintf(copt, sizeof copt, "-C%s", there);
    const char *args[] = {copt,      "--transfer", "--return", "{}.out", "--cleanup",
                          "sh",      "-c",         "tr a-z A-Z <\"$1\" >\"$1.out\"",
                          "sh",      "{}",         ":::",      "sub dir/in 1.txt",
                          "x$(id).txt", NULL};
    test_cli_res r = par_on(&s, here, host, args);
    ASSERT_CODE(r, 0);
    test_cli_free(&r);
    snprintf(path, sizeof path, "%s/sub dir/in 1.txt.out", here);
    char *t = read_file(path);
    ASSERT_STREQ(t, "HELLO\n");
    free(t);
    snprintf(path, sizeof path, "%s/x$(id).txt.out", here);
    t = read_file(path);
    ASSERT_STREQ(t, "QUOTED\n");
    free(t);
    /* --cleanup: nothing of it is left on the host. */
    snprintf(path, sizeof path, "%s/sub dir/in 1.txt", there);
    ASSERT(access(path, F_OK) < 0);
    snprintf(path, sizeof path, "%s/sub dir/in 1.txt.out", there);
    ASSERT(access(path, F_OK) < 0);
    snprintf(path, sizeof path, "%s/x$(id).txt.out", there);
    ASSERT(access(path, F_OK) < 0);

    /* Without --cleanup the files stay there. */
    const char *args2[] = {copt, "--transfer", "--return", "{}.out", "sh", "-c",
                           "tr a-z A-Z <\"$1\" >\"$1.out\"", "sh", "{}", ":::",
                           "sub dir/in 1.txt", NULL};
    r = par_on(&s, here, host, args2);
    ASSERT_CODE(r, 0);
    test_cli_free(&r);
    snprintf(path, sizeof path, "%s/sub dir/in 1.txt", there);
    t = read_file(path);
    ASSERT_STREQ(t, "hello\n");
    free(t);
    snprintf(path, sizeof path, "%s/sub dir/in 1.txt.out", there);
    ASSERT(access(path, F_OK) == 0);

    /* A file that is not there to send, or to fetch: the job fails, and says which. */
    const char *args3[] = {copt, "--transfer", "cat", "{}", ":::", "no-such-file", NULL};
    r = par_on(&s, here, host, args3);
    ASSERT_CODE(r, 1);
    ASSERT(strstr(r.err, "no-such-file") != NULL);
    ASSERT(strstr(r.err, "No such file") != NULL);
    test_cli_free(&r);
    snprintf(path, sizeof path, "%s/a dir", here);
    ASSERT_OK(mkdir(path, 0755));
    const char *args3d[] = {copt, "--transfer", "ls", "{}", ":::", "a dir", NULL};
    r = par_on(&s, here, host, args3d); /* a directory: not made an empty file there */
    ASSERT_CODE(r, 1);
    ASSERT(strstr(r.err, "Is a directory") != NULL);
    test_cli_free(&r);
    snprintf(path, sizeof path, "%s/a dir", there);
    ASSERT(access(path, F_OK) < 0);
    const char *args4[] = {copt, "--return", "{}.none", "true", ":::", "f", NULL};
    r = par_on(&s, here, host, args4);
    ASSERT_CODE(r, 1);
    ASSERT(strstr(r.err, "--return f.none") != NULL);
    test_cli_free(&r);
    snprintf(path, sizeof path, "%s/f.none", here);
    ASSERT(access(path, F_OK) < 0); /* no empty file in its place */
    snprintf(path, sizeof path, "%s/keep.txt", here);
    put_file(path, "precious\n");
    const char *args5[] = {copt, "--return", "keep.txt", "true", ":::", "f", NULL};
    r = par_on(&s, here, host, args5);
    ASSERT_CODE(r, 1);
    test_cli_free(&r);
    t = read_file(path);
    ASSERT_STREQ(t, "precious\n"); /* a failed fetch leaves what was there */
    free(t);
    /* base/./dd/NAME: fetched from dd/NAME there into base/dd/NAME here, as GNU parallel does */
    const char *args6[] = {copt, "--return", "base/./dd/{}.o", "sh", "-c",
                           "mkdir -p dd && echo hi >dd/$1.o", "sh", "{}", ":::", "r1", NULL};
    r = par_on(&s, here, host, args6);
    ASSERT_CODE(r, 0);
    test_cli_free(&r);
    snprintf(path, sizeof path, "%s/base/dd/r1.o", here);
    t = read_file(path);
    ASSERT_STREQ(t, "hi\n");
    free(t);
    /* --cleanup also removes the directories the sending made, once empty. */
    snprintf(path, sizeof path, "%s/n1", here);
    ASSERT_OK(mkdir(path, 0755));
    snprintf(path, sizeof path, "%s/n1/n2", here);
    ASSERT_OK(mkdir(path, 0755));
    snprintf(path, sizeof path, "%s/n1/n2/f.txt", here);
    put_file(path, "x\n");
    const char *args7[] = {copt, "--trc", "{}.out", "sh", "-c", "cp \"$1\" \"$1.out\"", "sh",
                           "{}", ":::", "n1/n2/f.txt", NULL};
    r = par_on(&s, here, host, args7);
    ASSERT_CODE(r, 0);
    test_cli_free(&r);
    snprintf(path, sizeof path, "%s/n1/n2/f.txt.out", here);
    ASSERT(access(path, F_OK) == 0);
    snprintf(path, sizeof path, "%s/n1", there);
    ASSERT(access(path, F_OK) < 0);
    test_sshd_stop(&s);
}

TEST_T(par_sshlogin_failed_host_and_retries, 120)
{
    struct test_sshd s;
    test_sshd_start(&s, 2);
    char good[64], other[64], bad[64], hosts[200], jl[220], path[200];
    snprintf(good, sizeof good, "%s:%d", s.addr[1], s.port[1]);
    snprintf(other, sizeof other, "%s:%d", s.addr[0], s.port[0]);
    snprintf(bad, sizeof bad, "%s:%d", s.addr[0], s.port[0] == 65535 ? 65534 : s.port[0] + 1);
    snprintf(path, sizeof path, "%s/joblog", s.dir);
    snprintf(jl, sizeof jl, "--joblog=%s", path);

    /* A job that fails on one host is tried again on the other (--retries). */
    char script[120];
    snprintf(script, sizeof script, "set -- $SSH_CONNECTION; [ \"$3\" = %s ]", s.addr[1]);
    snprintf(hosts, sizeof hosts, "%s,%s", other, good);
    const char *a1[] = {"--retries=2", jl, "sh", "-c", script, ":::", "1", "2", "3", "4", NULL};
    test_cli_res r = par_on(&s, NULL, hosts, a1);
    ASSERT_CODE(r, 0);
    test_cli_free(&r);
    char *log = read_file(path);
    char col[80];
    snprintf(col, sizeof col, "\t%s\t", other);
    ASSERT(strstr(log, col) == NULL); /* every job's last try was on the good host */
    free(log);
    const char *a2[] = {"sh", "-c", script, ":::", "1", "2", "3", "4", NULL};
    r = par_on(&s, NULL, hosts, a2);
    ASSERT(r.code > 0); /* without --retries, those on the other host fail */
    test_cli_free(&r);

    /* A host that cannot be reached is reported, and its jobs go elsewhere: found when its
     * connection is opened, or (without one held) when a job starts there. */
    snprintf(hosts, sizeof hosts, "%s,%s", bad, good);
    const char *a3[] = {"--retries=2", "true", ":::", "1", "2", "3", "4", NULL};
    r = par_on(&s, NULL, hosts, a3);
    ASSERT_CODE(r, 0);
    ASSERT(strstr(r.err, "failed") != NULL);
    ASSERT(strstr(r.err, bad) != NULL);
    ASSERT(strstr(r.err, "Connection refused") != NULL);
    test_cli_free(&r);
    const char *a4[] = {"--no-controlmaster", "--retries=2", "true", ":::", "1", "2", "3", "4",
                        NULL};
    r = par_on(&s, NULL, hosts, a4);
    ASSERT_CODE(r, 0);
    ASSERT(strstr(r.err, "Connection refused") != NULL);
    test_cli_free(&r);
    /* Every host down: every job fails, with the reason; in the joblog, a job that ran
     * nowhere has Host "-" (not ":", this machine). */
    const char *a5[] = {jl, "true", ":::", "1", "2", "3", NULL};
    r = par_on(&s, NULL, bad, a5);
    ASSERT_CODE(r, 3);
    ASSERT(strstr(r.err, "every host in -S/--sshlogin failed") != NULL);
    test_cli_free(&r);
    log = read_file(path);
    ASSERT(strstr(log, "\t-\t") != NULL);
    ASSERT(strstr(log, "\t:\t") == NULL);
    free(log);
    /* A key the host refuses. */
    char sshopt[600];
    snprintf(sshopt, sizeof sshopt, "--ssh=ssh -F /dev/null -i %s -o %s -o StrictHostKeyChecking=no -o BatchMode=yes -o LogLevel=ERROR",
             s.badkey, s.opt_kh);
    char sopt[100];
    snprintf(sopt, sizeof sopt, "-S%s", good);
    const char *a6[] = {"par", sopt, sshopt, "true", ":::", "1", NULL};
    r = test_cli(NULL, a6);
    ASSERT_CODE(r, 1);
    ASSERT(strstr(r.err, "Permission denied") != NULL);
    test_cli_free(&r);
    test_sshd_stop(&s);
}

TEST_T(par_sshlogin_deadline_leaves_nothing, 60)
{
    struct test_sshd s;
    test_sshd_start(&s, 1);
    char host[64], token[64];
    snprintf(host, sizeof host, "%s:%d", s.addr[0], s.port[0]);
    snprintf(token, sizeof token, "subproc-par-remote-token-%d", (int)getpid());
    const char *args[] = {"-t", "1", "--kill-after=0.3", test_self, "helper", "fork-ignore-term",
                          "{}", token, ":::", "60000", NULL};
    test_cli_res r = par_on(&s, NULL, host, args);
    ASSERT_CODE(r, 1);
    ASSERT(strstr(r.err, "timed out") != NULL);
    test_cli_free(&r);
    ASSERT(test_procs_gone(token));
    test_sshd_stop(&s);
}

/* More jobs at once on a host than sshd lets share one connection (MaxSessions 10 by default,
 * two sessions per job): every job runs, none sees ssh's "session request failed", and the
 * host is not taken out of use. */
TEST_T(par_sshlogin_many_jobs_on_a_stock_sshd, 120)
{
    struct test_sshd s;
    test_sshd_start_stock(&s, 1);
    char host[64];
    snprintf(host, sizeof host, "12/%s:%d", s.addr[0], s.port[0]);
    const char *args[] = {"sh", "-c", "sleep 1; echo \"$1\"", "sh", ":::", "1", "2", "3", "4",
                          "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
                          "17", "18", "19", "20", "21", "22", "23", "24", NULL};
    test_cli_res r = par_on(&s, NULL, host, args);
    ASSERT_CODE(r, 0);
    int lines = 0;
    for (const char *c = r.out; *c; c++) lines += *c == '\n';
    ASSERT_EQ(lines, 24);
    ASSERT(strstr(r.err, "session request failed") == NULL);
    ASSERT(strstr(r.err, "failed") == NULL);
    test_cli_free(&r);
    /* 12 at once is 3 connections of 4 jobs each, give or take one opened again. */
    int conns = test_sshd_log_count(&s, 0, "Accepted publickey");
    ASSERT(conns >= 3 && conns <= 6);
    test_sshd_stop(&s);
}

/* --sshloginfile/--slf: GNU parallel's host file, an entry per line, comments and blank lines
 * skipped. */
TEST_T(par_sshloginfile, 60)
{
    struct test_sshd s;
    test_sshd_start(&s, 1);
    char file[200], text[200], host[64], sshopt[600], jl[220], path[200];
    snprintf(host, sizeof host, "%s:%d", s.addr[0], s.port[0]);
    snprintf(file, sizeof file, "%s/hosts", s.dir);
    snprintf(text, sizeof text, "# the build hosts\n\n  1/%s \n#%s\n", host, "unused:1");
    put_file(file, text);
    snprintf(sshopt, sizeof sshopt, "--ssh=%s", s.ssh_cmd);
    snprintf(path, sizeof path, "%s/joblog", s.dir);
    snprintf(jl, sizeof jl, "--joblog=%s", path);
    const char *v[] = {"par", "--slf", file, sshopt, jl, "true", ":::", "1", "2", NULL};
    test_cli_res r = test_cli(NULL, v);
    ASSERT_CODE(r, 0);
    test_cli_free(&r);
    char *log = read_file(path);
    char col[80];
    snprintf(col, sizeof col, "\t%s\t", host);
    ASSERT(strstr(log, col) != NULL);
    free(log);

    /* An entry may also be an ssh command with the host as its last word (then no --ssh). */
    char entry[700];
    snprintf(entry, sizeof entry, "%s -p %d %s", s.ssh_cmd, s.port[0], s.addr[0]);
    const char *v2[] = {"par", "-S", entry, jl, "true", ":::", "1", NULL};
    r = test_cli(NULL, v2);
    ASSERT_CODE(r, 0);
    test_cli_free(&r);
    log = read_file(path);
    ASSERT(strstr(log, entry) != NULL);
    free(log);
    test_sshd_stop(&s);
}

TEST(par_sshlogin_bad_options)
{
    static const struct {
        const char *a, *b, *want;
    } cases[] = {
        {"--transfer", NULL, "--transfer needs -S/--sshlogin"},
        {"--return=x", NULL, "--return needs -S/--sshlogin"},
        {"--cleanup", NULL, "--cleanup needs -S/--sshlogin"},
        {"--ssh=ssh", NULL, "--ssh needs -S/--sshlogin"},
        {"-S", "0/host", "invalid job count '0'"},
        {"-S", "-oProxyCommand=x", "invalid host '-oProxyCommand=x'"},
        {"-S", "ssh -p 22 ", "invalid host 'ssh -p 22 '"},
        {"-S", "-F x h", "invalid host '-F x h'"},
        {"-S", ",", "no host in -S/--sshlogin"},
        {"-S", ":::", "invalid host ':::'"},
        {"-S", "h:::", "invalid host 'h:::'"},
        {"-S", "[::1", "invalid host '[::1'"},
        {"--slf=/no/such/file", NULL, "--sshloginfile /no/such/file: No such file"},
        {"--sshloginfile=/", NULL, "--sshloginfile /: Is a directory"},
        {"--slf=/dev/null", NULL, "no host in --sshloginfile /dev/null"},
        {"-Shost", "-i", "-i is not available with a remote host"},
        {"-Shost", "-eBAD NAME=1", "invalid variable name 'BAD NAME'"},
        {"-Shost", "-uA;B", "invalid variable name 'A;B'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *v[] = {"par", cases[i].a, cases[i].b ? cases[i].b : "true", "true", ":::",
                           "1", NULL};
        test_cli_res r = test_cli(NULL, v);
        ASSERT_CODE(r, 125);
        if (!strstr(r.err, cases[i].want))
            test_failf(__FILE__, __LINE__, "case %zu: '%s' not in '%s'", i, cases[i].want, r.err);
        test_cli_free(&r);
    }
    /* Host forms ssh takes (nothing connects with --dry-run). */
    static const char *const good[] = {"::1", "[::1]", "[::1]:2222", "u@[::1]:22", "fe80::1%lo",
                                       "2/h.example:22", "u@h"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        const char *v[] = {"par", "--dry-run", "-S", good[i], "true", ":::", "1", NULL};
        test_cli_res r = test_cli(NULL, v);
        if (r.code != 0) test_failf(__FILE__, __LINE__, "%s: %s", good[i], r.err);
        test_cli_free(&r);
    }
}

/* ssh clients (argv[0] "ssh") with the argument arg, e.g. a port: waits up to 5 s for them to
 * go, and returns how many are left. */
static int ssh_clients_left(const char *arg)
{
    int n = 0;
    for (int round = 0; round < 100; round++) {
        n = 0;
        DIR *d = opendir("/proc");
        ASSERT(d != NULL);
        for (struct dirent *de; (de = readdir(d));) {
            if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
            char path[300];
            snprintf(path, sizeof path, "/proc/%.20s/cmdline", de->d_name);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0) continue;
            char buf[4096];
            ssize_t len = read(fd, buf, sizeof buf - 1);
            close(fd);
            if (len <= 0 || strcmp(buf, "ssh") != 0) continue; /* a zombie's is empty */
            buf[len] = '\0';
            for (char *a = buf; a < buf + len; a += strlen(a) + 1)
                if (!strcmp(a, arg)) {
                    n++;
                    break;
                }
        }
        closedir(d);
        if (!n) break;
        usleep(50000);
    }
    return n;
}

/* A host that takes the connection and never answers holds up its own jobs only, and par acts
 * on TERM while it waits for it. The ssh still logging in to it goes when par does. */
TEST_T(par_sshlogin_silent_host_holds_up_only_its_jobs, 90)
{
    struct test_sshd s;
    test_sshd_start(&s, 1);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT(ls >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    ASSERT_EQ(inet_pton(AF_INET, "127.0.0.3", &a.sin_addr), 1);
    ASSERT_OK(bind(ls, (struct sockaddr *)&a, sizeof a));
    ASSERT_OK(listen(ls, 16)); /* the kernel completes the handshake; nobody speaks ssh */
    socklen_t al = sizeof a;
    ASSERT_OK(getsockname(ls, (struct sockaddr *)&a, &al));
    char silent[64], hosts[160], jl[220], path[200];
    snprintf(silent, sizeof silent, "127.0.0.3:%d", ntohs(a.sin_port));
    snprintf(hosts, sizeof hosts, "%s,%s:%d", silent, s.addr[0], s.port[0]);
    snprintf(path, sizeof path, "%s/joblog", s.dir);
    snprintf(jl, sizeof jl, "--joblog=%s", path);
    const char *a1[] = {jl, "true", ":::", "1", "2", "3", "4", NULL};
    test_cli_res r = par_on(&s, NULL, hosts, a1);
    ASSERT_CODE(r, 0); /* every job ran on the host that answers, without waiting for the other */
    test_cli_free(&r);
    char *log = read_file(path);
    ASSERT(strstr(log, silent) == NULL);
    free(log);
    char port[16];
    snprintf(port, sizeof port, "%d", ntohs(a.sin_port));
    ASSERT_EQ(ssh_clients_left(port), 0);

    /* Only the silent host: TERM ends par at once (128 + 15), nothing started. */
    char sopt[100], sshopt[600];
    snprintf(sopt, sizeof sopt, "-S%s", silent);
    snprintf(sshopt, sizeof sshopt, "--ssh=%s", s.ssh_cmd);
    const char *v[] = {test_cli_path(), "par", sopt, sshopt, "true", ":::", "1", NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = v;
    o.stdio[0].kind = SUBPROC_IO_NULL;
    subproc_proc *p;
    subproc_error e;
    ASSERT_OK(subproc_spawn(&p, &o, &e));
    /* Wait until par blocks TERM (it takes it through a signalfd from then on). */
    char st[64];
    snprintf(st, sizeof st, "/proc/%d/status", (int)subproc_proc_pid(p));
    for (int i = 0;; i++) {
        ASSERT(i < 2000);
        char *t = read_file(st);
        char *b = t ? strstr(t, "SigBlk:") : NULL;
        unsigned long long mask = b ? strtoull(b + 7, NULL, 16) : 0;
        free(t);
        if (mask & (1ull << (SIGTERM - 1))) break;
        usleep(5000);
    }
    ASSERT_OK(subproc_proc_signal(p, SIGTERM));
    subproc_status ps;
    ASSERT_OK(subproc_proc_wait(p, &ps));
    ASSERT(ps.exited);
    ASSERT_EQ(ps.code, 128 + SIGTERM);
    subproc_proc_free(p);
    ASSERT_EQ(ssh_clients_left(port), 0);
    close(ls);
    test_sshd_stop(&s);
}

/* pid's descendants named sshd (the per-connection processes of a listener), into out. */
static int sshd_descendants(pid_t root, pid_t *out, int cap)
{
    pid_t pid[4096], ppid[4096];
    int isd[4096], n = 0, k = 0;
    DIR *d = opendir("/proc");
    ASSERT(d != NULL);
    for (struct dirent *de; (de = readdir(d)) && n < 4096;) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9') continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/%.20s/stat", de->d_name);
        char *t = read_file(path);
        char *close_paren = t ? strrchr(t, ')') : NULL;
        if (close_paren) {
            pid[n] = atoi(t);
            ppid[n] = atoi(close_paren + 4); /* ") S PPID" */
            isd[n] = strstr(t, "(sshd)") != NULL;
            n++;
        }
        free(t);
    }
    closedir(d);
    pid_t tree[4096];
    int nt = 0;
    tree[nt++] = root;
    for (int i = 0; i < nt && nt < 4096; i++)
        for (int j = 0; j < n; j++)
            if (ppid[j] == tree[i]) {
                tree[nt++] = pid[j];
                if (isd[j] && k < cap) out[k++] = pid[j];
            }
    return k;
}

/* The connection to a host dies while a job runs: par says so (the job's 255 is ssh's), and
 * the host's clean-up still ends the job there. */
TEST_T(par_sshlogin_lost_connection_is_reported, 90)
{
    struct test_sshd s;
    test_sshd_start(&s, 1);
    char host[64], sopt[100], sshopt[600], token[64];
    snprintf(host, sizeof host, "%s:%d", s.addr[0], s.port[0]);
    snprintf(sopt, sizeof sopt, "-S%s", host);
    snprintf(sshopt, sizeof sshopt, "--ssh=%s", s.ssh_cmd);
    snprintf(token, sizeof token, "subproc-par-lost-token-%d", (int)getpid());
    const char *v[] = {test_cli_path(), "par", "--lb", sopt, sshopt, test_self, "helper",
                       "ready-sleep", "{}", token, ":::", "60000", NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = v;
    o.stdio[0].kind = SUBPROC_IO_NULL;
    o.stdio[1].kind = SUBPROC_IO_PIPE;
    o.stdio[2].kind = SUBPROC_IO_PIPE;
    subproc_proc *p;
    subproc_error e;
    ASSERT_OK(subproc_spawn(&p, &o, &e));
    /* par passes the job's line on (--lb) only once the job has started, as par sees it: the
     * remote program running is not enough (its start may still be on its way back). */
    test_await_ready(p, 30000);
    pid_t kill_these[64];
    int nk = sshd_descendants(subproc_proc_pid(s.proc[0]), kill_these, 64);
    ASSERT(nk > 0);
    for (int i = 0; i < nk; i++) kill(kill_these[i], SIGKILL);
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    subproc_result res;
    ASSERT_OK(subproc_proc_communicate(p, &co, &res));
    ASSERT(res.status.exited);
    ASSERT_EQ(res.status.code, 1);
    if (!res.err.data || !strstr(res.err.data, "the connection was lost while job 1 ran"))
        test_failf(__FILE__, __LINE__, "stderr: %s", res.err.data ? res.err.data : "");
    ASSERT(strstr(res.err.data, "exited with 255; the connection to host") != NULL);
    subproc_result_free(&res);
    subproc_proc_free(p);
    ASSERT(test_procs_gone(token));
    test_sshd_stop(&s);
}
