/* test_rel_threads.c - threads: 2 x CPUs threads spawning with pipes while
 * another thread allocates and frees without pause. No deadlock (time limit), every child sees
 * its own pipe as stdout and no fd of a sibling's spawn. Run under TSan by make tsan. */
#include "rel.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#define SPAWNS_PER_THREAD 25

static volatile int churn_on = 1;

static void *churn(void *arg)
{
    (void)arg;
    unsigned x = 12345;
    void *slots[64] = {0};
    /* valgrind runs one thread at a time: a churn that never yields starves the spawners. */
    int yield = UNDER_VALGRIND();
    while (__atomic_load_n(&churn_on, __ATOMIC_RELAXED)) {
        if (yield) sched_yield();
        x = x * 1103515245u + 12345u;
        unsigned i = (x >> 8) % 64;
        free(slots[i]);
        slots[i] = malloc(1 + (x >> 16) % 8192);
        if (slots[i]) memset(slots[i], (int)i, 1);
    }
    for (int i = 0; i < 64; i++) free(slots[i]);
    return NULL;
}

static void *spawner(void *arg)
{
    char (*ids)[48] = malloc(sizeof(char[REL_MAXFD][48]));
    const char *argv[] = {test_self, "helper", "fds", NULL};
    for (int i = 0; i < SPAWNS_PER_THREAD; i++) {
        subproc_opts o = SUBPROC_OPTS_INIT;
        o.argv = argv;
        o.stdio[0].kind = SUBPROC_IO_PIPE;
        o.stdio[1].kind = SUBPROC_IO_PIPE;
        subproc_proc *p;
        subproc_error e;
        int r = subproc_spawn(&p, &o, &e);
        if (r < 0) {
            char buf[700];
            test_failf(__FILE__, __LINE__, "spawn: %s", subproc_error_str(&e, buf, sizeof buf));
        }
        char in[48], outid[48];
        rel_ident(subproc_proc_fd(p, 0), in, sizeof in);
        rel_ident(subproc_proc_fd(p, 1), outid, sizeof outid);
        subproc_proc_close_fd(p, 0);
        char *out = read_all(subproc_proc_fd(p, 1), NULL);
        subproc_status st;
        ASSERT_OK(subproc_proc_wait(p, &st));
        ASSERT_EQ(st.code, 0);
        subproc_proc_free(p);
        rel_parse_fds(out, ids);
        if (strcmp(ids[0], in) != 0 || strcmp(ids[1], outid) != 0)
            test_failf(__FILE__, __LINE__, "child got another spawn's pipe: %s", out);
        for (int fd = 3; fd < REL_MAXFD; fd++)
            if (ids[fd][0]) test_failf(__FILE__, __LINE__, "child had fd %d: %s", fd, out);
        free(out);
    }
    free(ids);
    (void)arg;
    return NULL;
}

TEST_T(rel_threads_spawn_with_pipes, 300)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int n = (int)(ncpu > 0 ? 2 * ncpu : 4);
    if (n > 64) n = 64;
    pthread_t th[64], ch;
    ASSERT_OK(pthread_create(&ch, NULL, churn, NULL));
    for (int i = 0; i < n; i++) ASSERT_OK(pthread_create(&th[i], NULL, spawner, NULL));
    for (int i = 0; i < n; i++) ASSERT_OK(pthread_join(th[i], NULL));
    __atomic_store_n(&churn_on, 0, __ATOMIC_RELAXED);
    ASSERT_OK(pthread_join(ch, NULL));
}
