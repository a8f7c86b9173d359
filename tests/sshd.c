/* sshd.c - real OpenSSH servers for the tests (see sshd.h). */
#include "sshd.h"
#include "test.h"

#include <dirent.h>
#include <signal.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int run_quiet(const char *const *argv)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    o.stdio[0].kind = SUBPROC_IO_NULL;
    o.stdio[1].kind = SUBPROC_IO_NULL;
    o.stdio[2].kind = SUBPROC_IO_NULL;
    subproc_result r;
    int rc = subproc_run(&r, &o, NULL);
    int code = rc < 0 ? -1 : subproc_status_code(&r.status);
    subproc_result_free(&r);
    return code;
}

static void ensure_sshd(void)
{
    if (access("/usr/sbin/sshd", X_OK) == 0 && access("/usr/bin/ssh", X_OK) == 0) return;
    if (geteuid() != 0) test_skip("sshd is not installed and installing it needs root");
    const char *inst[] = {"apt-get", "install", "-y", "-q", "openssh-server", "openssh-client",
                          NULL};
    if (run_quiet(inst) != 0) {
        const char *upd[] = {"apt-get", "update", "-q", NULL};
        run_quiet(upd);
        run_quiet(inst);
    }
    if (access("/usr/sbin/sshd", X_OK) != 0 || access("/usr/bin/ssh", X_OK) != 0)
        test_skip("sshd cannot be installed (apt-get install openssh-server failed)");
}

static void keygen(const char *path)
{
    const char *v[] = {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path, NULL};
    ASSERT_EQ(run_quiet(v), 0);
}

static void put(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT(fd >= 0);
    write_all(fd, text, strlen(text));
    close(fd);
}

/* Whether something accepts connections on addr:port. */
static int listening(const char *addr, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, addr, &sa.sin_addr);
    int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static int start_one(struct test_sshd *s, int i, int stock)
{
    char cfg[160], log[160], text[1024];
    snprintf(s->addr[i], sizeof s->addr[i], "127.0.0.%d", 2 + i);
    for (int attempt = 0; attempt < 5; attempt++) {
        int port = 20000 + (int)((getpid() * 7 + attempt * 131 + i * 17) % 30000);
        snprintf(cfg, sizeof cfg, "%s/sshd%d.conf", s->dir, i);
        snprintf(log, sizeof log, "%s/sshd%d.log", s->dir, i);
        snprintf(text, sizeof text,
                 "ListenAddress %s\nPort %d\nHostKey %s/hostkey\nUsePAM no\n"
                 "PermitRootLogin prohibit-password\nPubkeyAuthentication yes\n"
                 "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                 "AuthorizedKeysFile %s/authorized_keys\nStrictModes no\nPidFile none\n"
                 "%sLogLevel INFO\n",
                 s->addr[i], port, s->dir, s->dir,
                 stock ? "" : "MaxStartups 100\nMaxSessions 100\n");
        put(cfg, text);
        if (listening(s->addr[i], port)) continue;
        const char *v[] = {"/usr/sbin/sshd", "-D", "-f", cfg, "-E", log, NULL};
        subproc_opts o = SUBPROC_OPTS_INIT;
        o.argv = v;
        o.pdeathsig = SIGTERM; /* a failed test ends with _exit(): the server goes with it */
        o.stdio[0].kind = SUBPROC_IO_NULL;
        o.stdio[1].kind = SUBPROC_IO_NULL;
        subproc_error e;
        ASSERT_OK(subproc_spawn(&s->proc[i], &o, &e));
        for (int k = 0; k < 500; k++) { /* at most 5 s */
            if (listening(s->addr[i], port)) {
                s->port[i] = port;
                return 0;
            }
            if (subproc_proc_try_wait(s->proc[i], NULL) != -EAGAIN) break;
            sleep_ms(10);
        }
        subproc_proc_terminate(s->proc[i], SIGTERM, 1000, 0, NULL);
        subproc_proc_free(s->proc[i]);
        s->proc[i] = NULL;
    }
    return -1;
}

static void start_servers(struct test_sshd *s, int n, int stock)
{
    memset(s, 0, sizeof *s);
    ensure_sshd();
    /* sshd refuses to start without its privilege separation directory (the package's
     * systemd unit makes it at boot). */
    mkdir("/run/sshd", 0755);
    snprintf(s->dir, sizeof s->dir, "/tmp/subproc-sshd-XXXXXX");
    ASSERT(mkdtemp(s->dir) != NULL);
    /* The temp dir goes when this process lets go of the watcher's stdin, also when a failed
     * test ends with _exit() (test_sshd_stop() reaps the watcher). */
    const char *w[] = {"/bin/sh", "-c", "cat >/dev/null; rm -rf \"$1\"", "sh", s->dir, NULL};
    subproc_opts wo = SUBPROC_OPTS_INIT;
    wo.argv = w;
    wo.stdio[0].kind = SUBPROC_IO_PIPE;
    subproc_error we;
    ASSERT_OK(subproc_spawn(&s->watcher, &wo, &we));
    char path[160], pub[160];
    snprintf(path, sizeof path, "%s/hostkey", s->dir);
    keygen(path);
    snprintf(s->key, sizeof s->key, "%s/userkey", s->dir);
    keygen(s->key);
    snprintf(s->badkey, sizeof s->badkey, "%s/badkey", s->dir);
    keygen(s->badkey);
    snprintf(pub, sizeof pub, "%s.pub", s->key);
    int fd = open(pub, O_RDONLY | O_CLOEXEC);
    ASSERT(fd >= 0);
    char *text = read_all(fd, NULL);
    close(fd);
    snprintf(path, sizeof path, "%s/authorized_keys", s->dir);
    put(path, text);
    free(text);
    snprintf(s->kh, sizeof s->kh, "%s/known_hosts", s->dir);
    snprintf(s->opt_kh, sizeof s->opt_kh, "UserKnownHostsFile=%s", s->kh);
    const char *ssh[] = {"ssh", "-F", "/dev/null", "-i", s->key, "-o", s->opt_kh,
                         "-o", "StrictHostKeyChecking=no", "-o", "BatchMode=yes",
                         "-o", "LogLevel=ERROR", NULL};
    memcpy(s->ssh, ssh, sizeof ssh);
    snprintf(s->ssh_cmd, sizeof s->ssh_cmd,
             "ssh -F /dev/null -i %s -o %s -o StrictHostKeyChecking=no -o BatchMode=yes "
             "-o LogLevel=ERROR",
             s->key, s->opt_kh);
    for (int i = 0; i < n; i++) {
        if (start_one(s, i, stock) < 0) {
            test_sshd_stop(s);
            test_failf(__FILE__, __LINE__, "sshd %d did not start", i);
        }
        s->n = i + 1;
    }
}

void test_sshd_start(struct test_sshd *s, int n) { start_servers(s, n, 0); }

void test_sshd_start_stock(struct test_sshd *s, int n) { start_servers(s, n, 1); }

static int remove_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)type, (void)ftw;
    return remove(path);
}

void test_sshd_stop(struct test_sshd *s)
{
    for (int i = 0; i < TEST_SSHD_MAX; i++) {
        if (!s->proc[i]) continue;
        subproc_proc_terminate(s->proc[i], SIGTERM, 2000, 0, NULL);
        subproc_proc_free(s->proc[i]);
        s->proc[i] = NULL;
    }
    if (s->dir[0]) nftw(s->dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
    s->dir[0] = '\0';
    if (s->watcher) {
        subproc_proc_close_fd(s->watcher, 0);
        subproc_proc_wait(s->watcher, NULL);
        subproc_proc_free(s->watcher);
        s->watcher = NULL;
    }
    s->n = 0;
}

int test_sshd_log_count(const struct test_sshd *s, int i, const char *text)
{
    char log[160];
    snprintf(log, sizeof log, "%s/sshd%d.log", s->dir, i);
    int fd = open(log, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char *all = read_all(fd, NULL);
    close(fd);
    int n = 0;
    for (char *p = all; (p = strstr(p, text)); p += strlen(text)) n++;
    free(all);
    return n;
}

int test_procs_with(const char *token)
{
    DIR *d = opendir("/proc");
    if (!d) return 0;
    int n = 0;
    struct dirent *de;
    size_t tl = strlen(token);
    while ((de = readdir(d))) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
        char path[300], buf[4096];
        snprintf(path, sizeof path, "/proc/%s/cmdline", de->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t len = read(fd, buf, sizeof buf);
        close(fd);
        /* A zombie has an empty command line: it runs no more. Only the test binary counts,
         * not the shells and ssh clients whose command lines carry it as an argument. */
        size_t sl = strlen(test_self);
        if (len <= (ssize_t)sl || memcmp(buf, test_self, sl + 1) != 0) continue;
        for (ssize_t i = 0; i + (ssize_t)tl <= len; i++)
            if (memcmp(buf + i, token, tl) == 0) {
                if (getenv("SUBPROC_TEST_SHOW")) fprintf(stderr, "left: pid %s\n", de->d_name);
                n++;
                break;
            }
    }
    closedir(d);
    return n;
}

int test_procs_gone(const char *token)
{
    for (int k = 0; k < 1000; k++) {
        if (test_procs_with(token) == 0) return 1;
        sleep_ms(10);
    }
    return 0;
}
