/* test_stopped.c - a stopped child still ends by the deadline's signal: every "signal, grace,
 * KILL" sequence of the library follows the signal with SIGCONT (a stopped process acts on a
 * signal only once continued). Each test gives a grace far beyond its time limit, so a missing
 * SIGCONT shows as a time-limit failure or as SIGKILL instead of SIGTERM. */
#include "test.h"

/* Wait until p has stopped, so no signal can beat the stop. */
static void wait_stopped(subproc_proc *p)
{
    subproc_status st;
    ASSERT_OK(subproc_proc_wait_ex(p, -1, SUBPROC_WAIT_STOPPED, &st));
    ASSERT_EQ(st.stopped, 1);
}

static subproc_proc *start_stopped(unsigned flags)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("stop", NULL);
    o.flags = flags;
    subproc_proc *p;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    wait_stopped(p);
    return p;
}

TEST_T(stopped_child_terminated_by_sigterm, 20)
{
    subproc_status st;
    subproc_proc *p = start_stopped(0);
    ASSERT_OK(subproc_proc_terminate(p, 0, 600000, 0, &st));
    ASSERT_EQ(st.signaled, 1);
    ASSERT_EQ(st.signal, SIGTERM);
    subproc_proc_free(p);

    p = start_stopped(SUBPROC_NEW_PGROUP);
    ASSERT_OK(subproc_proc_terminate(p, SIGINT, 600000, SUBPROC_TERM_GROUP, &st));
    ASSERT_EQ(st.signal, SIGINT);
    subproc_proc_free(p);
}

TEST_T(stopped_child_ends_by_the_communicate_deadline, 20)
{
    subproc_proc *p = start_stopped(SUBPROC_NEW_PGROUP);
    subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
    co.timeout_ms = 50;
    co.kill_grace_ms = 600000;
    subproc_result res;
    ASSERT_EQ(subproc_proc_communicate(p, &co, &res), -ETIMEDOUT);
    ASSERT_EQ(res.timed_out, 1);
    ASSERT_EQ(res.status.signal, SIGTERM);
    subproc_result_free(&res);
    subproc_proc_free(p);
}

TEST_T(stopped_stages_end_by_pipeline_terminate_and_deadline, 20)
{
    for (int deadline = 0; deadline < 2; deadline++) {
        subproc_opts st[2];
        for (int i = 0; i < 2; i++) {
            st[i] = (subproc_opts)SUBPROC_OPTS_INIT;
            st[i].argv = helper_argv("stop", NULL);
        }
        subproc_pipeline *pl;
        ASSERT_OK(subproc_pipeline_spawn(&pl, st, 2, 0, NULL, NULL));
        for (size_t i = 0; i < 2; i++) wait_stopped(subproc_pipeline_proc(pl, i));
        if (deadline) {
            subproc_comm_opts co = SUBPROC_COMM_OPTS_INIT;
            co.timeout_ms = 50;
            co.kill_grace_ms = 600000;
            subproc_result res;
            ASSERT_EQ(subproc_pipeline_communicate(pl, &co, &res), -ETIMEDOUT);
            subproc_result_free(&res);
        } else {
            ASSERT_OK(subproc_pipeline_terminate(pl, 0, 600000));
        }
        for (size_t i = 0; i < 2; i++) {
            const subproc_status *s = subproc_pipeline_status(pl, i);
            ASSERT_EQ(s->signaled, 1);
            ASSERT_EQ(s->signal, SIGTERM);
        }
        subproc_pipeline_free(pl);
    }
}

TEST_T(stopped_job_ends_by_the_pool_deadline, 20)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = helper_argv("stop", NULL);
    subproc_job job = {.opts = &o};
    subproc_pool_opts po = SUBPROC_POOL_OPTS_INIT;
    po.jobs = 1;
    po.timeout_ms = 300; /* "stop" stops itself at once: long before this */
    po.kill_grace_ms = 600000;
    ASSERT_OK(subproc_pool_run(&job, 1, &po));
    ASSERT_EQ(job.timed_out, 1);
    ASSERT_EQ(job.status.signaled, 1);
    ASSERT_EQ(job.status.signal, SIGTERM);
    subproc_job_clear(&job);
}
