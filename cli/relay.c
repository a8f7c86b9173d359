/* relay.c - pass INT, TERM, HUP and QUIT on to a child's process group while the main thread
 * sits in a library call (communicate) that cannot be woken for them.
 *
 * The signals stay blocked in every thread (the mask is inherited by the relay thread), so none
 * ends subproc while its child runs on; the relay thread collects them with sigtimedwait() in
 * short slices so that it notices when it is asked to stop. The group id stays valid while any
 * member, reaped or not, exists; the thread is stopped as soon as the call returns, so the
 * window in which a relayed signal could reach a recycled group id is that of one PID
 * wrap-around inside a few milliseconds. */
#include "cli.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#define RELAY_SLICE_NS 20000000L

struct cli_relay {
    pthread_t thread;
    pid_t pgid, pid;
    atomic_int stop;
};

static void relay_set(sigset_t *s)
{
    sigemptyset(s);
    sigaddset(s, SIGINT);
    sigaddset(s, SIGTERM);
    sigaddset(s, SIGHUP);
    sigaddset(s, SIGQUIT);
}

void cli_relay_block(sigset_t *oldmask)
{
    sigset_t s;
    relay_set(&s);
    pthread_sigmask(SIG_BLOCK, &s, oldmask);
}

static void *relay_main(void *arg)
{
    cli_relay *r = arg;
    sigset_t s;
    relay_set(&s);
    const struct timespec slice = {0, RELAY_SLICE_NS};
    siginfo_t si;
    while (!atomic_load(&r->stop)) {
        int sig = sigtimedwait(&s, &si, &slice);
        if (sig <= 0 || atomic_load(&r->stop)) continue;
        /* A child in subproc's own group already got what the terminal sent (SI_KERNEL). */
        if (r->pgid > 0)
            kill(-r->pgid, sig);
        else if (si.si_code != SI_KERNEL)
            kill(r->pid, sig);
    }
    return NULL;
}

cli_relay *cli_relay_start(pid_t pgid, pid_t pid)
{
    if (pgid <= 0 && pid <= 0) return NULL;
    cli_relay *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->pgid = pgid;
    r->pid = pid;
    atomic_init(&r->stop, 0);
    if (pthread_create(&r->thread, NULL, relay_main, r) != 0) {
        free(r);
        return NULL;
    }
    return r;
}

void cli_relay_stop(cli_relay *r)
{
    if (!r) return;
    atomic_store(&r->stop, 1);
    pthread_join(r->thread, NULL);
    free(r);
}
