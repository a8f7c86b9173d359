/* test_strace.c - what the kernel sees: on the Linux backend a spawn is one clone/clone3 with
 * CLONE_VM|CLONE_VFORK and never fork/vfork, and where clone3 can reset the signal handlers
 * (x86-64, Linux 5.5) it does so and the child makes no sigaction calls; on the posix backend
 * a fork (clone without CLONE_VM). Needs strace(1): when it is missing the test fails and says
 * so. */
#include "test.h"

#include <fcntl.h>
#include <unistd.h>
#include <sys/utsname.h>

TEST_T(strace_spawn_uses_clone_vm_vfork, 60)
{
    char log[] = "/tmp/subproc-strace-XXXXXX";
    int lfd = mkostemp(log, O_CLOEXEC);
    ASSERT(lfd >= 0);
    const char *trace_set = "trace=fork,vfork,clone,clone3,rt_sigaction";
    const char *argv[] = {"strace", "-f",      "-qq",    "-e",         trace_set, "-o",
                          log,      test_self, "helper", "spawn-true", NULL};
    /* LeakSanitizer cannot run under ptrace: in an ASan build, turn it off for the traced run. */
    subproc_env *env;
    ASSERT_OK(subproc_env_new(&env, SUBPROC_ENV_INHERIT));
    char asan[512];
    const char *cur = getenv("ASAN_OPTIONS");
    snprintf(asan, sizeof asan, "%s%sdetect_leaks=0", cur ? cur : "", cur && *cur ? ":" : "");
    ASSERT_OK(subproc_env_set(env, "ASAN_OPTIONS", asan));
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    o.env = env;
    o.stdio[1].kind = SUBPROC_IO_NULL;
    o.stdio[2].kind = SUBPROC_IO_PIPE;
    subproc_proc *p;
    subproc_error e;
    int r = subproc_spawn(&p, &o, &e);
    subproc_env_free(env);
    if (r == -ENOENT && e.step == SUBPROC_STEP_RESOLVE) {
        unlink(log);
        close(lfd);
        test_failf(__FILE__, __LINE__, "strace is not installed: this check cannot be made");
    }
    ASSERT_OK(r);
    char *err = read_all(subproc_proc_fd(p, 2), NULL);
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    subproc_proc_free(p);
    char *trace = read_all(lfd, NULL);
    close(lfd);
    unlink(log);
    if (!st.exited || st.code != 0)
        test_failf(__FILE__, __LINE__, "strace run failed (exit %d): %s\n%s", st.code, err, trace);
    free(err);

    int linux_backend = child_backend_is_linux(); /* the traced helper's backend */
    int vm_vfork = 0, plain_fork = 0, forks = 0, pidfd = 0, clear = 0, sigactions = 0;
    char *whole = strdup(trace); /* strtok cuts trace up; the failure message shows it whole */
    for (char *line = strtok(trace, "\n"); line; line = strtok(NULL, "\n")) {
        /* "PID clone3({flags=CLONE_VM|CLONE_VFORK|...", "PID clone(child_stack=..., flags=...",
         * "PID fork()", "PID vfork()" */
        char *call = strchr(line, ' ');
        if (!call) continue;
        while (*call == ' ') call++;
        if (!strncmp(call, "fork(", 5) || !strncmp(call, "vfork(", 6)) forks++;
        if (!strncmp(call, "clone(", 6) || !strncmp(call, "clone3(", 7)) {
            int vm = strstr(call, "CLONE_VM") != NULL, vf = strstr(call, "CLONE_VFORK") != NULL;
            if (vm && vf) vm_vfork++;
            if (vm && vf && strstr(call, "CLONE_PIDFD")) pidfd++;
            if (vm && vf && strstr(call, "CLONE_CLEAR_SIGHAND")) clear++;
            if (!vm) plain_fork++;
        }
        if (!strncmp(call, "rt_sigaction(", 13)) sigactions++;
    }
    if (linux_backend) {
        /* CLONE_PIDFD too: the pidfd comes with the clone (kernels >= 5.2). The process's first
         * spawn is preceded by the backend probe, one more CLONE_VM|CLONE_VFORK clone that
         * checks the memory is really shared (spawn_linux.c). */
        if (vm_vfork < 1 || vm_vfork > 2 || pidfd != 1 || forks != 0 || plain_fork != 0)
            test_failf(__FILE__, __LINE__,
                       "want one clone with CLONE_VM|CLONE_VFORK|CLONE_PIDFD and no fork; trace:\n%s",
                       whole);
        /* The child's own reset looks at every signal, 64 sigaction calls; the kernel's (one
         * flag of clone3) none. Neither the helper nor /bin/true installs a handler. */
        struct utsname u;
        int major = 0, minor = 0, kernel_clears = 0;
        if (uname(&u) == 0) sscanf(u.release, "%d.%d", &major, &minor);
#if defined(__x86_64__)
        kernel_clears = major > 5 || (major == 5 && minor >= 5);
#endif
        if (kernel_clears && (clear != 1 || sigactions >= 32))
            test_failf(__FILE__, __LINE__,
                       "want clone3 with CLONE_CLEAR_SIGHAND and no signal scan in the child "
                       "(%d sigaction calls); trace:\n%s",
                       sigactions, whole);
    } else {
        /* glibc's fork() is a clone without CLONE_VM; musl's is the fork system call. */
        if (plain_fork + forks != 1 || vm_vfork != 0)
            test_failf(__FILE__, __LINE__, "want one fork (clone without CLONE_VM); trace:\n%s",
                       whole);
    }
    free(whole);
    free(trace);
}
