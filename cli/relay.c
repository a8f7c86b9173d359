/* relay.c - pass INT, TERM, HUP and QUIT on to what subproc runs while the main thread sits in
 * a library call (communicate) that cannot be woken for them; and the terminal hand-over.
 *
 * The signals stay blocked in every thread (the mask is inherited by the relay thread), so none
 * ends subproc while its child runs on; the relay thread collects them with sigtimedwait() in
 * short slices so that it notices when it is asked to stop. Every relayed signal goes through
 * the library's handles (a contained tree, a process group through a live member): once the
 * child has been reaped nothing is sent by number, so no recycled id is ever hit. */
#include "cli.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RELAY_SLICE_NS 20000000L

struct cli_relay {
    pthread_t thread;
    cli_relay_fn send;
    void *arg;
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
        r->send(r->arg, sig, si.si_code == SI_KERNEL);
    }
    return NULL;
}

cli_relay *cli_relay_start(cli_relay_fn send, void *arg)
{
    cli_relay *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->send = send;
    r->arg = arg;
    atomic_init(&r->stop, 0);
    if (pthread_create(&r->thread, NULL, relay_main, r) != 0) {
        free(r);
        return NULL;
    }
    return r;
}

void cli_relay_pending(cli_relay_fn send, void *arg)
{
    static const struct timespec zero = {0, 0};
    sigset_t s;
    relay_set(&s);
    siginfo_t si;
    int sig;
    while ((sig = sigtimedwait(&s, &si, &zero)) > 0) send(arg, sig, si.si_code == SI_KERNEL);
}

void cli_relay_stop(cli_relay *r)
{
    if (!r) return;
    atomic_store(&r->stop, 1);
    pthread_join(r->thread, NULL);
    free(r);
}

void cli_relay_to_proc(void *proc, int sig, int from_terminal)
{
    subproc_proc *p = proc;
    if (subproc_proc_containment(p) != 0 || subproc_proc_pgid(p) > 0 || !from_terminal)
        cli_signal_all(p, sig);
}

void cli_signal_all(subproc_proc *p, int sig)
{
    if (subproc_proc_containment(p) != 0)
        subproc_proc_signal_tree(p, sig);
    else if (subproc_proc_pgid(p) > 0)
        subproc_proc_signal_group(p, sig);
    else
        subproc_proc_signal(p, sig);
}

/*
 * A shell hands the terminal to a job it runs in a process group of its own; so does subproc,
 * or a program that reads from the terminal (or writes to it, with stty tostop) would be
 * stopped by SIGTTIN/SIGTTOU in its background process group. Only when subproc itself is in
 * the terminal's foreground. SIGTTOU is blocked so that subproc may take the terminal back from
 * the background (tcsetpgrp(3)).
 */
int cli_take_terminal(pid_t pgid, pid_t *fg)
{
    if (pgid <= 0) return -1;
    for (int fd = 0; fd <= 2; fd++) {
        if (!isatty(fd)) continue;
        if ((*fg = tcgetpgrp(fd)) != getpgrp()) return -1;
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGTTOU);
        pthread_sigmask(SIG_BLOCK, &s, NULL);
        if (tcsetpgrp(fd, pgid) < 0) return -1;
        /* A process that touched the terminal before the handover is stopped: wake it. */
        kill(-pgid, SIGCONT);
        return fd;
    }
    return -1;
}

unsigned cli_contain_mask(int no_contain)
{
    if (no_contain) return 0;
    const char *e = getenv("SUBPROC_CONTAIN");
    if (e && !strcmp(e, "cgroup")) return SUBPROC_CONTAIN_CGROUP;
    if (e && !strcmp(e, "pidns")) return SUBPROC_CONTAIN_PIDNS;
    if (e && !strcmp(e, "pgroup")) return SUBPROC_CONTAIN_PGROUP;
    if (e && !strcmp(e, "none")) return 0;
    return SUBPROC_CONTAIN_ANY;
}
