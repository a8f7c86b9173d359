/* sshd.h - real OpenSSH servers for the tests of remote children: sshd processes with a private
 * config in a temp dir, listening only on 127.0.0.2, 127.0.0.3, ..., stopped by the test. */
#ifndef SUBPROC_TEST_SSHD_H
#define SUBPROC_TEST_SSHD_H

#include "subproc.h"

#define TEST_SSHD_MAX 2

struct test_sshd {
    int n;                           /* servers running */
    char dir[64];                    /* the temp dir: keys, configs, logs, known_hosts */
    char addr[TEST_SSHD_MAX][24];    /* "127.0.0.2", ... */
    int port[TEST_SSHD_MAX];
    subproc_proc *proc[TEST_SSHD_MAX];
    subproc_proc *watcher;           /* removes dir when this process goes, however it goes */
    char key[128];                   /* the authorized user key */
    char badkey[128];                /* a key the servers do not accept */
    char kh[128];                    /* UserKnownHostsFile */
    char opt_kh[160];                /* "UserKnownHostsFile=..." */
    const char *ssh[16];             /* ssh -F /dev/null -i KEY -o ... (NULL-terminated) */
    char ssh_cmd[512];               /* the same as one string, for --ssh=COMMAND */
};

/* Start n (1..TEST_SSHD_MAX) servers; installs openssh-server with apt-get when it is missing
 * (as root), and skips the test with the reason when it cannot. */
void test_sshd_start(struct test_sshd *s, int n);
/* The same, with sshd's own limits on sessions per connection and logins at once (MaxSessions
 * 10, MaxStartups 10:30:100) where test_sshd_start() raises them to 100. */
void test_sshd_start_stock(struct test_sshd *s, int n);
/* Stop the servers and remove the temp dir. */
void test_sshd_stop(struct test_sshd *s);
/* Lines of server i's log that contain text (e.g. "Accepted publickey": one per connection). */
int test_sshd_log_count(const struct test_sshd *s, int i, const char *text);
/* Processes (not zombies) whose command line contains token; the "remote" hosts are this
 * machine, so this is pgrep -f on the remote side. */
int test_procs_with(const char *token);
/* test_procs_with(token) == 0, waiting for it at most 10 s (remote clean-up is asynchronous
 * when the connection itself was cut). */
int test_procs_gone(const char *token);

#endif
