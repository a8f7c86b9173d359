/* test_threads.c - many threads spawning at once: each child sees exactly its own pipes. */
#include "test.h"

#include <pthread.h>
#include <unistd.h>
#include <sys/stat.h>

#define NTHREADS 8
#define PER_THREAD 200

struct worker {
    int id;
    int fails;
    char why[1024];
};

static void ident(int fd, char *buf, size_t n)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        snprintf(buf, n, "?");
    else
        snprintf(buf, n, "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
}

static void *worker(void *arg)
{
    struct worker *w = arg;
    const char *argv[] = {test_self, "helper", "fds", NULL};
    for (int i = 0; i < PER_THREAD && !w->fails; i++) {
        subproc_opts o = SUBPROC_OPTS_INIT;
        o.argv = argv;
        o.stdio[0].kind = SUBPROC_IO_PIPE;
        o.stdio[1].kind = SUBPROC_IO_PIPE;
        o.stdio[2].kind = SUBPROC_IO_NULL;
        subproc_proc *p;
        subproc_error e;
        int r = subproc_spawn(&p, &o, &e);
        if (r < 0) {
            char b[700];
            snprintf(w->why, sizeof w->why, "spawn: %s", subproc_error_str(&e, b, sizeof b));
            w->fails++;
            break;
        }
        char in_id[64], out_id[64], want[256];
        ident(subproc_proc_fd(p, 0), in_id, sizeof in_id);
        ident(subproc_proc_fd(p, 1), out_id, sizeof out_id);
        subproc_proc_close_fd(p, 0);
        char *out = read_all(subproc_proc_fd(p, 1), NULL);
        subproc_status st;
        r = subproc_proc_wait(p, &st);
        /* Exactly fds 0, 1, 2: 0 and 1 our own pipes, no fd of a sibling thread's spawn. */
        char nul[64];
        struct stat ns;
        stat("/dev/null", &ns);
        snprintf(nul, sizeof nul, "%llu:%llu", (unsigned long long)ns.st_dev,
                 (unsigned long long)ns.st_ino);
        snprintf(want, sizeof want, "0 %s\n1 %s\n2 %s\n", in_id, out_id, nul);
        if (r != 0 || !st.exited || st.code != 0 || strcmp(out, want) != 0) {
            snprintf(w->why, sizeof w->why, "thread %d child %d: r=%d code=%d got:\n%.120s\nwant:\n%s",
                     w->id, i, r, st.code, out, want);
            w->fails++;
        }
        free(out);
        subproc_proc_free(p);
    }
    return NULL;
}

TEST_T(threads_spawn_concurrently, 240)
{
    pthread_t t[NTHREADS];
    struct worker w[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (struct worker){i, 0, ""};
        ASSERT_OK(pthread_create(&t[i], NULL, worker, &w[i]));
    }
    for (int i = 0; i < NTHREADS; i++) ASSERT_OK(pthread_join(t[i], NULL));
    for (int i = 0; i < NTHREADS; i++)
        if (w[i].fails) test_failf(__FILE__, __LINE__, "%s", w[i].why);
}

static void *exit_worker(void *arg)
{
    /* Short-lived children, each waited with a timeout, in parallel with signals to others. */
    int *bad = arg;
    for (int i = 0; i < 50; i++) {
        subproc_opts o = SUBPROC_OPTS_INIT;
        const char *argv[] = {test_self, "helper", "sleep", "20000", NULL};
        o.argv = argv;
        subproc_proc *p;
        if (subproc_spawn(&p, &o, NULL) < 0) {
            (*bad)++;
            break;
        }
        subproc_status st;
        if (subproc_proc_wait_timeout(p, 1, &st) != -ETIMEDOUT) (*bad)++;
        if (subproc_proc_signal(p, SIGKILL) != 0) (*bad)++;
        if (subproc_proc_wait(p, &st) != 0 || st.signal != SIGKILL) (*bad)++;
        subproc_proc_free(p);
    }
    return NULL;
}

TEST_T(threads_signal_and_wait_concurrently, 120)
{
    pthread_t t[4];
    int bad[4] = {0};
    for (int i = 0; i < 4; i++) ASSERT_OK(pthread_create(&t[i], NULL, exit_worker, &bad[i]));
    for (int i = 0; i < 4; i++) ASSERT_OK(pthread_join(t[i], NULL));
    for (int i = 0; i < 4; i++) ASSERT_EQ(bad[i], 0);
}
