/* test_rel_fdplan.c - property test of the fd plan. Random maps of up to 64
 * fds from a seeded PRNG (REL_SEED=N to replay; the seed is printed on failure): sources sit on
 * numbers that are also targets (swaps, cycles, chains), one source feeds several targets,
 * stdin/stderr come from the same pool, and now and then a target is above the soft fd limit.
 * The child lists its fds: each target must be exactly its source's file (dev:ino) and nothing
 * else may be open above 2; or the spawn fails clearly (step "fd map", the fd named). */
#include "rel.h"

#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>

#define ITERATIONS 200
#define LO 10  /* pool and targets live in [LO, HI): clear of the runner's own fds */
#define HI 170
#define SOFT_LIMIT 512

static unsigned long long rng;
static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static char ids[REL_MAXFD][48];

TEST_T(rel_fd_plan_property, 120)
{
    const char *env = getenv("REL_SEED");
    unsigned long long seed = env ? strtoull(env, NULL, 10) : (unsigned long long)getpid() * 2654435761u;
    struct rlimit old, rl;
    ASSERT_OK(getrlimit(RLIMIT_NOFILE, &old));
    rl = old;
    rl.rlim_cur = SOFT_LIMIT;
    ASSERT_OK(setrlimit(RLIMIT_NOFILE, &rl));
    int clear_errors = 0, ok = 0;
    for (int it = 0; it < ITERATIONS; it++) {
        rng = seed + (unsigned long long)it * 0x9E3779B97F4A7C15ull + 1;
        char what[64];
        snprintf(what, sizeof what, "REL_SEED=%llu iteration %d", seed, it);
        /* the pool: m memfds (distinct inodes) on random free numbers */
        int pool[64], m = 1 + (int)rnd(64);
        char pid_[64][48];
        for (int i = 0; i < m; i++) {
            int fd = memfd_create("rel", MFD_CLOEXEC);
            if (fd < 0) test_failf(__FILE__, __LINE__, "%s: memfd_create", what);
            int num;
            do
                num = LO + (int)rnd(HI - LO);
            while (fcntl(num, F_GETFD) != -1);
            ASSERT_EQ(dup3(fd, num, rnd(2) ? O_CLOEXEC : 0), num);
            close(fd);
            pool[i] = num;
            rel_ident(num, pid_[i], sizeof pid_[i]);
        }
        /* the map: n unique targets, mostly in the pool's range so they hit sources */
        subproc_fdmap map[64];
        int n = (int)rnd(65), high = -1, high_at = rnd(8) == 0 ? (int)rnd(65) : -1;
        for (int i = 0; i < n; i++) {
            int dst, dup;
            do {
                dst = rnd(3) ? pool[rnd((unsigned)m)] : LO + (int)rnd(HI - LO);
                if (i == high_at) dst = high = SOFT_LIMIT + (int)rnd(1000);
                dup = 0;
                for (int j = 0; j < i; j++) dup |= map[j].child_fd == dst;
            } while (dup);
            map[i].child_fd = dst;
            map[i].parent_fd = pool[rnd((unsigned)m)];
        }
        subproc_opts o = SUBPROC_OPTS_INIT;
        o.argv = helper_argv("fds", NULL);
        o.fds = map;
        o.nfds = (size_t)n;
        o.stdio[1].kind = SUBPROC_IO_PIPE;
        int in_src = -1, err_src = -1;
        if (rnd(2)) {
            o.stdio[0].kind = SUBPROC_IO_FD;
            o.stdio[0].fd = in_src = pool[rnd((unsigned)m)];
        }
        if (rnd(2)) {
            o.stdio[2].kind = SUBPROC_IO_FD;
            o.stdio[2].fd = err_src = pool[rnd((unsigned)m)];
        }
        subproc_proc *p;
        subproc_error e;
        int r = subproc_spawn(&p, &o, &e);
        if (r < 0) {
            char buf[700];
            subproc_error_str(&e, buf, sizeof buf);
            /* the only acceptable failure: a target the fd limit does not allow */
            if (high < 0 || e.step != SUBPROC_STEP_FDMAP || e.fd != high || r != -EBADF)
                test_failf(__FILE__, __LINE__, "%s: %s", what, buf);
            clear_errors++;
        } else {
            char outid[48];
            rel_ident(subproc_proc_fd(p, 1), outid, sizeof outid);
            char *out = read_all(subproc_proc_fd(p, 1), NULL);
            subproc_status st;
            ASSERT_OK(subproc_proc_wait(p, &st));
            subproc_proc_free(p);
            if (st.code != 0) test_failf(__FILE__, __LINE__, "%s: helper %d", what, st.code);
            rel_parse_fds(out, ids);
            char want[REL_MAXFD][48];
            for (int fd = 3; fd < REL_MAXFD; fd++) want[fd][0] = '\0';
            for (int i = 0; i < n; i++)
                for (int k = 0; k < m; k++)
                    if (pool[k] == map[i].parent_fd && map[i].child_fd < REL_MAXFD)
                        strcpy(want[map[i].child_fd], pid_[k]);
            for (int k = 0; k < m; k++) {
                if (pool[k] == in_src && strcmp(ids[0], pid_[k]))
                    test_failf(__FILE__, __LINE__, "%s: stdin is %s", what, ids[0]);
                if (pool[k] == err_src && strcmp(ids[2], pid_[k]))
                    test_failf(__FILE__, __LINE__, "%s: stderr is %s", what, ids[2]);
            }
            if (strcmp(ids[1], outid))
                test_failf(__FILE__, __LINE__, "%s: stdout is %s", what, ids[1]);
            for (int fd = 3; fd < REL_MAXFD; fd++)
                if (strcmp(ids[fd], want[fd]))
                    test_failf(__FILE__, __LINE__, "%s: child fd %d is \"%s\", planned \"%s\"",
                               what, fd, ids[fd], want[fd]);
            free(out);
            ok++;
        }
        for (int i = 0; i < m; i++) close(pool[i]);
    }
    ASSERT_OK(setrlimit(RLIMIT_NOFILE, &old));
    ASSERT(ok > ITERATIONS / 2);
    ASSERT(clear_errors > 0); /* the limit case was exercised */
}
