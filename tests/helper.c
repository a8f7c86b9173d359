/* helper.c - what the test binary does when run as a child: `test_subproc helper MODE ARGS...`.
 * Tests need no external programs: each mode shows one thing a test wants to observe. */
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>

extern char **environ;

static void out(const char *s)
{
    write_all(1, s, strlen(s));
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

int helper_main(int argc, char **argv)
{
    if (argc < 1) return 100;
    const char *m = argv[0];
    char line[512];

    if (!strcmp(m, "exit")) return argc > 1 ? atoi(argv[1]) : 0;
    if (!strcmp(m, "args")) { /* each argument after the mode, NUL-terminated */
        for (int i = 1; i < argc; i++) write_all(1, argv[i], strlen(argv[i]) + 1);
        return 0;
    }
    if (!strcmp(m, "argv0")) { /* what the program was called */
        out(argv[-2]);
        return 0;
    }
    if (!strcmp(m, "env")) { /* the whole environment, one entry per line */
        for (char **e = environ; *e; e++) {
            out(*e);
            out("\n");
        }
        return 0;
    }
    if (!strcmp(m, "getenv")) {
        const char *v = getenv(argv[1]);
        out(v ? v : "(unset)");
        return 0;
    }
    if (!strcmp(m, "fds") || !strcmp(m, "fds-to")) { /* "FD DEV:INO" for every open fd */
        int to = !strcmp(m, "fds-to") ? atoi(argv[1]) : 1; /* fds-to FD: written to FD */
        DIR *d = opendir("/proc/self/fd");
        struct rlimit nofile;
        if (!d && errno == EMFILE && getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
            /* Every number under a tight soft limit is in use: look with the hard one. */
            nofile.rlim_cur = nofile.rlim_max;
            if (setrlimit(RLIMIT_NOFILE, &nofile) == 0) d = opendir("/proc/self/fd");
        }
        if (!d) return 101;
        int self = dirfd(d);
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.') continue;
            int fd = atoi(de->d_name);
            if (fd == self) continue;
            struct stat st;
            if (fstat(fd, &st) < 0) continue;
            snprintf(line, sizeof line, "%d %llu:%llu\n", fd, (unsigned long long)st.st_dev,
                     (unsigned long long)st.st_ino);
            write_all(to, line, strlen(line));
        }
        closedir(d);
        return 0;
    }
    if (!strcmp(m, "cat")) {
        char buf[65536];
        ssize_t n;
        while ((n = read(0, buf, sizeof buf)) > 0) write_all(1, buf, (size_t)n);
        return n < 0 ? 102 : 0;
    }
    if (!strcmp(m, "out")) { /* out TEXT [ERRTEXT] */
        out(argv[1]);
        if (argc > 2) write_all(2, argv[2], strlen(argv[2]));
        return 0;
    }
    if (!strcmp(m, "kill")) {
        signal(atoi(argv[1]), SIG_DFL);
        raise(atoi(argv[1]));
        return 103;
    }
    if (!strcmp(m, "sleep")) {
        sleep_ms(atol(argv[1]));
        return 0;
    }
    if (!strcmp(m, "ready-sleep")) { /* say it runs, then sleep */
        out("ready\n");
        sleep_ms(atol(argv[1]));
        return 0;
    }
    if (!strcmp(m, "ignore-term")) { /* ignore SIGTERM, say so, then sleep */
        signal(SIGTERM, SIG_IGN);
        out("ready\n");
        sleep_ms(atol(argv[1]));
        return 0;
    }
    if (!strcmp(m, "fork-ignore-term")) { /* a child that ignores TERM; the parent does not */
        pid_t pid = fork();
        if (pid < 0) return 108;
        if (pid == 0) {
            signal(SIGTERM, SIG_IGN);
            out("ready\n");
            sleep_ms(atol(argv[1]));
            _exit(0);
        }
        sleep_ms(atol(argv[1]));
        return 0;
    }
    if (!strcmp(m, "daemonize")) { /* daemonize MS [LATE]: "started PID\n" from us, then exit 0;
                                        the forked PID keeps stdout for MS ms, writes LATE, ends */
        pid_t pid = fork();
        if (pid < 0) return 108;
        if (pid == 0) {
            sleep_ms(atol(argv[1]));
            if (argc > 2) out(argv[2]);
            _exit(0);
        }
        snprintf(line, sizeof line, "started %d\n", (int)pid);
        out(line);
        return 0;
    }
    if (!strcmp(m, "pwd")) {
        if (!getcwd(line, sizeof line)) return 104;
        out(line);
        return 0;
    }
    if (!strcmp(m, "umask")) {
        mode_t u = umask(0);
        snprintf(line, sizeof line, "%03o", (unsigned)u);
        out(line);
        return 0;
    }
    if (!strcmp(m, "ids")) { /* pid ppid pgid sid uid gid */
        snprintf(line, sizeof line, "%d %d %d %d %d %d", (int)getpid(), (int)getppid(),
                 (int)getpgid(0), (int)getsid(0), (int)getuid(), (int)getgid());
        out(line);
        return 0;
    }
    if (!strcmp(m, "nofile")) {
        struct rlimit rl;
        getrlimit(RLIMIT_NOFILE, &rl);
        snprintf(line, sizeof line, "%llu %llu", (unsigned long long)rl.rlim_cur,
                 (unsigned long long)rl.rlim_max);
        out(line);
        return 0;
    }
    if (!strcmp(m, "nice")) {
        errno = 0;
        int n = getpriority(PRIO_PROCESS, 0);
        snprintf(line, sizeof line, "%d", n);
        out(line);
        return 0;
    }
    if (!strcmp(m, "signals")) { /* "blocked: 10 12 ... ignored: 13 ..." */
        sigset_t cur;
        sigprocmask(SIG_SETMASK, NULL, &cur);
        out("blocked:");
        for (int s = 1; s < NSIG; s++)
            if (sigismember(&cur, s) == 1) {
                snprintf(line, sizeof line, " %d", s);
                out(line);
            }
        out(" ignored:");
        for (int s = 1; s < NSIG; s++) {
            struct sigaction sa;
            if (sigaction(s, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN) {
                snprintf(line, sizeof line, " %d", s);
                out(line);
            }
        }
        return 0;
    }
    if (!strcmp(m, "status")) { /* a line of /proc/self/status, e.g. NoNewPrivs */
        FILE *f = fopen("/proc/self/status", "r");
        if (!f) return 105;
        size_t k = strlen(argv[1]);
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, argv[1], k) && line[k] == ':') out(line);
        fclose(f);
        return 0;
    }
    if (!strcmp(m, "burn")) { /* use CPU for about MS milliseconds */
        struct timespec a, b;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
        volatile unsigned long x = 0;
        long ms = atol(argv[1]);
        do {
            for (int i = 0; i < 100000; i++) x += (unsigned long)i;
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
        } while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < ms);
        (void)x; /* clang: -Wunused-but-set-variable */
        return 0;
    }
    if (!strcmp(m, "alloc")) { /* touch MiB megabytes, so max RSS shows it */
        size_t n = (size_t)atol(argv[1]) << 20;
        char *p = malloc(n);
        if (!p) return 106;
        /* Volatile stores, one per page: a memset before free() is a dead store to compilers. */
        for (size_t i = 0; i < n; i += 4096) ((volatile char *)p)[i] = 1;
        free(p);
        return 0;
    }
    if (!strcmp(m, "stop")) {
        raise(SIGSTOP);
        return 7;
    }
    if (!strcmp(m, "tee2")) { /* stdin to stdout as is, and to stderr with every byte ^ 0xff */
        static char buf[3000];
        ssize_t n;
        while ((n = read(0, buf, sizeof buf)) > 0) {
            write_all(1, buf, (size_t)n);
            for (ssize_t i = 0; i < n; i++) buf[i] = (char)(buf[i] ^ 0xff);
            write_all(2, buf, (size_t)n);
        }
        return n < 0 ? 102 : 0;
    }
    if (!strcmp(m, "count")) { /* N lines "%07d\n", 8 bytes each */
        long n = atol(argv[1]);
        for (long i = 0; i < n; i++) {
            snprintf(line, sizeof line, "%07ld\n", i);
            write_all(1, line, 8);
        }
        return 0;
    }
    if (!strcmp(m, "bigcount")) { /* what "count N" writes, in writes of 100,003 bytes */
        enum { W = 100003 };
        static char buf[W + 32];
        long n = atol(argv[1]);
        size_t have = 0;
        for (long i = 0; i < n; i++) {
            snprintf(buf + have, 32, "%07ld\n", i);
            have += 8;
            if (have >= W || i == n - 1) {
                size_t k = i == n - 1 ? have : W;
                write_all(1, buf, k);
                memmove(buf, buf + k, have - k);
                have -= k;
            }
        }
        return 0;
    }
    if (!strcmp(m, "spew")) { /* BYTES bytes of 'x' to stdout */
        static char buf[1 << 18];
        memset(buf, 'x', sizeof buf);
        long long left = atoll(argv[1]);
        while (left > 0) {
            size_t k = left < (long long)sizeof buf ? (size_t)left : sizeof buf;
            ssize_t w = write(1, buf, k);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) return 107;
            left -= w;
        }
        return 0;
    }
    if (!strcmp(m, "forever")) { /* "tick N\n" every millisecond until killed */
        for (long i = 0;; i++) {
            snprintf(line, sizeof line, "tick %ld\n", i);
            out(line);
            sleep_ms(1);
        }
    }
    if (!strcmp(m, "chunks")) { /* each argument as one write, 30 ms apart */
        for (int i = 1; i < argc; i++) {
            if (i > 1) sleep_ms(30);
            out(argv[i]);
        }
        return 0;
    }
    if (!strcmp(m, "interleave")) { /* interleave N: "oK\n" to stdout, "eK\n" to stderr, K=1..N */
        for (int i = 1, n = atoi(argv[1]); i <= n; i++) {
            snprintf(line, sizeof line, "o%d\n", i);
            out(line);
            snprintf(line, sizeof line, "e%d\n", i);
            write_all(2, line, strlen(line));
        }
        return 0;
    }
    if (!strcmp(m, "spawn-true")) { /* one subproc_spawn of /bin/true, for strace */
        subproc_opts o = SUBPROC_OPTS_INIT;
        const char *targv[] = {"/bin/true", NULL};
        o.argv = targv;
        subproc_proc *p;
        subproc_status st;
        if (subproc_spawn(&p, &o, NULL) < 0) return 107;
        int r = subproc_proc_wait(p, &st);
        subproc_proc_free(p);
        return r == 0 && st.exited && st.code == 0 ? 0 : 108;
    }
    if (!strcmp(m, "ttyinfo")) { /* which of fds 0-2 are terminals; session, ctty: to 2 and 1 */
        int t = -1;
        for (int fd = 0; fd < 3 && t < 0; fd++)
            if (isatty(fd)) t = fd;
        int cfd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
        snprintf(line, sizeof line, "tty=%d%d%d leader=%d fg=%d ctty=%d\n", isatty(0), isatty(1),
                 isatty(2), getsid(0) == getpid(), t >= 0 && tcgetpgrp(t) == getpgrp(), cfd >= 0);
        if (cfd >= 0) close(cfd);
        write_all(2, line, strlen(line));
        write_all(1, line, strlen(line));
        return 0;
    }
    if (!strcmp(m, "winsize")) { /* "ROWS COLS", then "ready"; at SIGWINCH "winch ROWS COLS" */
        sigset_t w;
        sigemptyset(&w);
        sigaddset(&w, SIGWINCH);
        sigprocmask(SIG_BLOCK, &w, NULL);
        struct winsize ws;
        ioctl(0, TIOCGWINSZ, &ws);
        snprintf(line, sizeof line, "%d %d\nready\n", ws.ws_row, ws.ws_col);
        out(line);
        int sig;
        sigwait(&w, &sig);
        ioctl(0, TIOCGWINSZ, &ws);
        snprintf(line, sizeof line, "winch %d %d\n", ws.ws_row, ws.ws_col);
        out(line);
        return 0;
    }
    if (!strcmp(m, "termios")) { /* the modes of stdin's terminal, in words */
        struct termios t;
        if (tcgetattr(0, &t) < 0) return 104;
        snprintf(line, sizeof line,
                 "icanon=%d echo=%d isig=%d iexten=%d opost=%d onlcr=%d icrnl=%d ixon=%d cs8=%d "
                 "intr=%d quit=%d erase=%d kill=%d eof=%d susp=%d min=%d time=%d\n",
                 !!(t.c_lflag & ICANON), !!(t.c_lflag & ECHO), !!(t.c_lflag & ISIG),
                 !!(t.c_lflag & IEXTEN), !!(t.c_oflag & OPOST), !!(t.c_oflag & ONLCR),
                 !!(t.c_iflag & ICRNL), !!(t.c_iflag & IXON), (t.c_cflag & CSIZE) == CS8,
                 t.c_cc[VINTR], t.c_cc[VQUIT], t.c_cc[VERASE], t.c_cc[VKILL], t.c_cc[VEOF],
                 t.c_cc[VSUSP], t.c_cc[VMIN], t.c_cc[VTIME]);
        out(line);
        return 0;
    }
    if (!strcmp(m, "prompt")) { /* "name? ", read a line, "hello NAME", until EOF: "bye" */
        for (;;) {
            out("name? ");
            ssize_t n = read(0, line, sizeof line - 1);
            if (n <= 0) break;
            line[n] = '\0';
            char msg[600];
            snprintf(msg, sizeof msg, "hello %s", line);
            out(msg);
        }
        out("bye\n");
        return 0;
    }
    if (!strcmp(m, "spew-exit")) { /* BYTES bytes, byte i = "0123...uv"[i % 32], no newline,
                                     then _exit(0) at once */
        static char buf[(1 << 20) + 32];
        for (size_t i = 0; i < sizeof buf; i++) buf[i] = "0123456789abcdefghijklmnopqrstuv"[i % 32];
        long long left = atoll(argv[1]), off = 0;
        while (left > 0) {
            size_t k = left < (1 << 20) ? (size_t)left : (1 << 20);
            ssize_t w = write(1, buf + off % 32, k);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) _exit(107);
            left -= w;
            off += w;
        }
        _exit(0);
    }
    if (!strcmp(m, "tty-fg")) { /* "fg" once in the foreground of stderr's terminal (5 s: "bg") */
        for (int i = 0; i < 500 && tcgetpgrp(2) != getpgrp(); i++)
            sleep_ms(10);
        out(tcgetpgrp(2) == getpgrp() ? "fg\n" : "bg\n");
        return 0;
    }
    if (!strcmp(m, "escape")) { /* escape KIND stay|exit: a descendant leaves the process group */
        /* KIND: setsid, setpgid, doublefork, daemon. The descendant prints "PID\n" on stdout
         * (daemon: then closes every fd) and sleeps 60 s; this process then sleeps 60 s (stay)
         * or exits 0 (exit). */
        const char *kind = argc > 1 ? argv[1] : "setsid";
        int stay = argc > 2 && !strcmp(argv[2], "stay");
        int sync[2]; /* the escapee says it has printed: only then do we go on */
        if (pipe(sync) < 0) return 101;
        pid_t c = fork();
        if (c < 0) return 101;
        if (c == 0) {
            close(sync[0]);
            if (!strcmp(kind, "setsid") || !strcmp(kind, "daemon")) setsid();
            if (!strcmp(kind, "setpgid")) setpgid(0, 0);
            if (!strcmp(kind, "doublefork") || !strcmp(kind, "daemon")) {
                pid_t g = fork();
                if (g != 0) _exit(0);
            }
            /* Our pid as the caller sees it (/proc is the caller's view, also when this runs
             * in a PID namespace of its own). */
            char self[32] = {0};
            if (readlink("/proc/self", self, sizeof self - 1) <= 0)
                snprintf(self, sizeof self, "%d", (int)getpid());
            snprintf(line, sizeof line, "%s\n", self);
            out(line);
            write_all(sync[1], "r", 1);
            close(sync[1]);
            if (!strcmp(kind, "daemon"))
                for (int fd = 0; fd < 1024; fd++) close(fd);
            sleep_ms(60000);
            _exit(0);
        }
        close(sync[1]);
        char r;
        while (read(sync[0], &r, 1) < 0 && errno == EINTR) {
        }
        close(sync[0]);
        if (!strcmp(kind, "doublefork") || !strcmp(kind, "daemon")) waitpid(c, NULL, 0);
        if (stay) sleep_ms(60000);
        return 0;
    }
    fprintf(stderr, "helper: unknown mode %s\n", m);
    return 100;
}
