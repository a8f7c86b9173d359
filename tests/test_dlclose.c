/* test_dlclose.c - the shared library can be unloaded while a thread that spawned through it
 * lives on: the library registers nothing per thread (no TLS destructor) that would run, at
 * that thread's exit, code that dlclose() unmapped. */
#include "test.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct api {
    int (*spawn)(subproc_proc **, const subproc_opts *, subproc_error *);
    int (*wait)(subproc_proc *, subproc_status *);
    void (*free_)(subproc_proc *);
};

static struct api api;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int spawned, may_exit, code = -1;

static void *spawner(void *arg)
{
    (void)arg;
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("exit", "7", NULL);
    subproc_proc *p;
    subproc_status st;
    if (api.spawn(&p, &o, NULL) == 0) {
        if (api.wait(p, &st) == 0) code = st.code;
        api.free_(p);
    }
    pthread_mutex_lock(&mu);
    spawned = 1;
    pthread_cond_broadcast(&cv);
    while (!may_exit) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    return NULL; /* thread exit: per-thread destructors would run now */
}

TEST(dlclose_while_a_spawning_thread_lives)
{
    char lib[PATH_MAX];
    snprintf(lib, sizeof lib, "%s", test_self);
    char *slash = strrchr(lib, '/');
    ASSERT(slash != NULL);
    snprintf(slash + 1, sizeof lib - (size_t)(slash + 1 - lib), "libsubproc.so");
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) test_skip("no shared library next to the test binary");
    *(void **)&api.spawn = dlsym(h, "subproc_spawn");
    *(void **)&api.wait = dlsym(h, "subproc_proc_wait");
    *(void **)&api.free_ = dlsym(h, "subproc_proc_free");
    ASSERT(api.spawn && api.wait && api.free_);

    pthread_t t;
    ASSERT_OK(pthread_create(&t, NULL, spawner, NULL));
    pthread_mutex_lock(&mu);
    while (!spawned) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    ASSERT_EQ(code, 7);
    ASSERT_OK(dlclose(h));
    /* The library is gone when nothing else pins it: its symbols must not resolve any more. */
    void *again = dlopen(lib, RTLD_NOW | RTLD_NOLOAD);
    if (again) {
        dlclose(again);
        test_skip("the dynamic loader kept the library loaded");
    }
    pthread_mutex_lock(&mu);
    may_exit = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    ASSERT_OK(pthread_join(t, NULL)); /* a destructor in unmapped code would crash here */
}
