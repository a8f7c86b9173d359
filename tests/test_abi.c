/* test_abi.c - programs built against 0.1.0 keep working: their option structs end where the
 * 0.1.0 header ended them, carry the version numbers of 0.1.0, and whatever memory follows is
 * not theirs. Here that memory is filled with 0xA5 bytes: a library that reads a field appended
 * later for such a caller, or refuses its version, fails these tests. (make abi-check holds the
 * binary interface itself to the 0.1.0 dump in abi/.) */
#include "test.h"

#include <stddef.h>

/* The end of the last field a 0.1.0 caller's struct has. */
#define END_OF(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))
#define OLD_GARBAGE 0xA5

TEST(abi_spawn_with_a_0_1_0_subproc_opts)
{
    union {
        subproc_opts o;
        unsigned char b[sizeof(subproc_opts) + 256];
    } u;
    memset(&u, OLD_GARBAGE, sizeof u);
    subproc_opts init = SUBPROC_OPTS_INIT;
    init.version = 1; /* SUBPROC_OPTS_VERSION of 0.1.0 */
    init.argv = helper_argv("exit", "7", NULL);
    memcpy(&u, &init, END_OF(subproc_opts, ngroups));
    subproc_proc *p;
    subproc_error e;
    ASSERT_OK(subproc_spawn(&p, &u.o, &e));
    subproc_status st;
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT(st.exited);
    ASSERT_EQ(st.code, 7);
    subproc_proc_free(p);
}

TEST(abi_run_with_a_0_1_0_subproc_comm_opts)
{
    union {
        subproc_comm_opts c;
        unsigned char b[sizeof(subproc_comm_opts) + 256];
    } u;
    memset(&u, OLD_GARBAGE, sizeof u);
    subproc_comm_opts init = SUBPROC_COMM_OPTS_INIT;
    init.version = 1; /* SUBPROC_COMM_OPTS_VERSION of 0.1.0 */
    init.input = "abc";
    init.input_len = 3;
    memcpy(&u, &init, END_OF(subproc_comm_opts, drain_ms));
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("cat", NULL);
    subproc_result r;
    ASSERT_OK(subproc_run(&r, &o, &u.c));
    ASSERT(r.status.exited);
    ASSERT_EQ(r.status.code, 0);
    ASSERT_EQ(r.out.len, 3);
    ASSERT(!memcmp(r.out.data, "abc", 3));
    subproc_result_free(&r);
}

TEST(abi_pool_with_0_1_0_subproc_pool_opts)
{
    /* 0.1.0 shipped version 2 (with kill_signal); version 1 ended before it. */
    const size_t ends[2] = {offsetof(subproc_pool_opts, kill_signal),
                            END_OF(subproc_pool_opts, kill_signal)};
    for (unsigned v = 1; v <= 2; v++) {
        union {
            subproc_pool_opts p;
            unsigned char b[sizeof(subproc_pool_opts) + 256];
        } u;
        memset(&u, OLD_GARBAGE, sizeof u);
        subproc_pool_opts init = SUBPROC_POOL_OPTS_INIT;
        init.version = v;
        init.flags = SUBPROC_POOL_CAPTURE;
        memcpy(&u, &init, ends[v - 1]);
        subproc_opts o = SUBPROC_OPTS_INIT;
        o.argv = helper_argv("exit", "3", NULL);
        /* A caller of those versions has the shorter subproc_job of 0.1.0 too (its array's
         * stride): one job, which sits at the same place in either layout. */
        subproc_job jobs[1];
        memset(jobs, 0, sizeof jobs);
        jobs[0].opts = &o;
        ASSERT_OK(subproc_pool_run(jobs, 1, &u.p));
        for (int i = 0; i < 1; i++) {
            ASSERT(jobs[i].status.exited);
            ASSERT_EQ(jobs[i].status.code, 3);
            subproc_job_clear(&jobs[i]);
        }
    }
}
