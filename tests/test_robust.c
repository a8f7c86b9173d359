/* test_robust.c - EINTR never reaches the caller; SIGCHLD ignored by the caller is reported,
 * not hung on. */
#include "test.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t hits;
static volatile int stop_pinging;

static void on_usr1(int sig)
{
    (void)sig;
    hits++;
}

static void *pinger(void *arg)
{
    pthread_t target = *(pthread_t *)arg;
    struct timespec ts = {0, 200000}; /* 0.2 ms */
    while (!__atomic_load_n(&stop_pinging, __ATOMIC_RELAXED)) {
        pthread_kill(target, SIGUSR1);
        nanosleep(&ts, NULL);
    }
    return NULL;
}

TEST_T(eintr_never_leaks, 120)
{
    if (UNDER_VALGRIND()) test_skip("valgrind turns an execve interrupted by the signal storm into EACCES in its forked child");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = 0; /* no SA_RESTART: every blocking call in this thread can get EINTR */
    sigemptyset(&sa.sa_mask);
    ASSERT_OK(sigaction(SIGUSR1, &sa, NULL));
    pthread_t self = pthread_self(), t;
    ASSERT_OK(pthread_create(&t, NULL, pinger, &self));

    for (int i = 0; i < 40; i++) {
        subproc_opts o = SUBPROC_OPTS_INIT;
        o.stdio[1].kind = SUBPROC_IO_PIPE;
        o.argv = helper_argv("out", "hi", NULL);
        subproc_proc *p;
        subproc_error e;
        ASSERT_OK(subproc_spawn(&p, &o, &e));
        char *out = read_all(subproc_proc_fd(p, 1), NULL);
        ASSERT_STREQ(out, "hi");
        free(out);
        subproc_status st;
        ASSERT_OK(subproc_proc_wait(p, &st));
        ASSERT_EQ(st.code, 0);
        subproc_proc_free(p);

        /* A blocking wait and a timed wait that both sleep while signals arrive. */
        subproc_opts s = SUBPROC_OPTS_INIT;
        s.argv = helper_argv("sleep", "30", NULL);
        ASSERT_OK(subproc_spawn(&p, &s, NULL));
        ASSERT_OK(subproc_proc_wait(p, &st));
        ASSERT_EQ(st.code, 0);
        subproc_proc_free(p);
        ASSERT_OK(subproc_spawn(&p, &s, NULL));
        ASSERT_OK(subproc_proc_wait_timeout(p, 20000, &st));
        ASSERT_EQ(st.code, 0);
        subproc_proc_free(p);
        s.argv = helper_argv("sleep", "20000", NULL);
        ASSERT_OK(subproc_spawn(&p, &s, NULL));
        ASSERT_EQ(subproc_proc_wait_timeout(p, 20, &st), -ETIMEDOUT);
        ASSERT_OK(subproc_proc_terminate(p, SIGTERM, 20000, 0, &st));
        ASSERT_EQ(st.signal, SIGTERM);
        subproc_proc_free(p);

        /* Failures still report their own errno, not EINTR. */
        const char *bad[] = {"/nonexistent", NULL};
        s.argv = bad;
        ASSERT_EQ(subproc_spawn(&p, &s, &e), -ENOENT);
        ASSERT_EQ(e.step, SUBPROC_STEP_EXEC);
    }
    __atomic_store_n(&stop_pinging, 1, __ATOMIC_RELAXED);
    ASSERT_OK(pthread_join(t, NULL));
    ASSERT(hits > 0);
}
