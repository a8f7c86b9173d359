/* test_env.c - the child's environment: the live one, or a built one. */
#include "test.h"

#include <unistd.h>

extern char **environ;

static char *child_getenv(const subproc_env *env, const char *name)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.env = env;
    char *out;
    subproc_status st = run_helper(&o, &out, "getenv", name, NULL);
    ASSERT_EQ(st.code, 0);
    return out;
}

static char *child_env(const subproc_env *env)
{
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.env = env;
    char *out;
    run_helper(&o, &out, "env", NULL);
    return out;
}

TEST(env_inherit_is_live_at_spawn_time)
{
    ASSERT_OK(setenv("SUBPROC_LIVE", "one", 1));
    char *v = child_getenv(NULL, "SUBPROC_LIVE");
    ASSERT_STREQ(v, "one");
    free(v);
    ASSERT_OK(setenv("SUBPROC_LIVE", "two", 1));
    v = child_getenv(NULL, "SUBPROC_LIVE");
    ASSERT_STREQ(v, "two");
    free(v);
    ASSERT_OK(unsetenv("SUBPROC_LIVE"));
    v = child_getenv(NULL, "SUBPROC_LIVE");
    ASSERT_STREQ(v, "(unset)");
    free(v);
}

TEST(env_empty_set_unset_put)
{
    subproc_env *e;
    ASSERT_OK(subproc_env_new(&e, SUBPROC_ENV_EMPTY));
    ASSERT_EQ(subproc_env_count(e), 0);
    ASSERT(subproc_env_array(e)[0] == NULL);
    char *out = child_env(e);
    ASSERT_STREQ(out, ""); /* nothing at all, not even PATH */
    free(out);

    ASSERT_OK(subproc_env_set(e, "A", "1"));
    ASSERT_OK(subproc_env_set(e, "B", "x=y z"));
    ASSERT_OK(subproc_env_set(e, "A", "2")); /* replaces */
    ASSERT_OK(subproc_env_put(e, "C=3"));
    ASSERT_OK(subproc_env_put(e, "EMPTY="));
    ASSERT_OK(subproc_env_setn(e, "DXXX", 1, "45678", 2));
    ASSERT_EQ(subproc_env_count(e), 5);
    ASSERT_STREQ(subproc_env_get(e, "A"), "2");
    ASSERT_STREQ(subproc_env_get(e, "D"), "45");
    ASSERT_STREQ(subproc_env_get(e, "EMPTY"), "");
    ASSERT(subproc_env_get(e, "Z") == NULL);
    out = child_env(e);
    ASSERT_STREQ(out, "A=2\nB=x=y z\nC=3\nEMPTY=\nD=45\n");
    free(out);

    ASSERT_OK(subproc_env_unset(e, "B"));
    ASSERT_OK(subproc_env_unset(e, "NOT_THERE"));
    const char *arr[] = {"E=5", "A=3", NULL};
    ASSERT_OK(subproc_env_put_array(e, arr));
    out = child_env(e);
    ASSERT_STREQ(out, "A=3\nC=3\nEMPTY=\nD=45\nE=5\n");
    free(out);
    subproc_env_free(e);
    subproc_env_free(NULL);
}

TEST(env_from_parent_is_a_snapshot)
{
    ASSERT_OK(setenv("SUBPROC_SNAP", "before", 1));
    ASSERT_OK(setenv("SUBPROC_GONE", "x", 1));
    subproc_env *e;
    ASSERT_OK(subproc_env_new(&e, SUBPROC_ENV_INHERIT));
    size_t n = 0;
    for (char **p = environ; *p; p++) n++;
    ASSERT_EQ(subproc_env_count(e), n);
    ASSERT_OK(setenv("SUBPROC_SNAP", "after", 1)); /* not seen: copied at subproc_env_new */
    ASSERT_OK(subproc_env_unset(e, "SUBPROC_GONE"));
    ASSERT_OK(subproc_env_set(e, "SUBPROC_NEW", "new"));
    char *v = child_getenv(e, "SUBPROC_SNAP");
    ASSERT_STREQ(v, "before");
    free(v);
    v = child_getenv(e, "SUBPROC_GONE");
    ASSERT_STREQ(v, "(unset)");
    free(v);
    v = child_getenv(e, "SUBPROC_NEW");
    ASSERT_STREQ(v, "new");
    free(v);
    v = child_getenv(e, "HOME");
    ASSERT_STREQ(v, getenv("HOME") ? getenv("HOME") : "(unset)");
    free(v);
    /* The parent itself did not change. */
    ASSERT_STREQ(getenv("SUBPROC_GONE"), "x");
    ASSERT(getenv("SUBPROC_NEW") == NULL);
    subproc_env_free(e);
}

TEST(env_invalid_names_refused)
{
    subproc_env *e;
    ASSERT_EQ(subproc_env_new(&e, 42), -EINVAL);
    ASSERT_OK(subproc_env_new(&e, SUBPROC_ENV_EMPTY));
    ASSERT_OK(subproc_env_set(e, "KEEP", "1"));
    ASSERT_EQ(subproc_env_set(e, "", "v"), -EINVAL);
    ASSERT_EQ(subproc_env_set(e, "A=B", "v"), -EINVAL);
    ASSERT_EQ(subproc_env_set(e, "=", "v"), -EINVAL);
    ASSERT_EQ(subproc_env_set(e, NULL, "v"), -EINVAL);
    ASSERT_EQ(subproc_env_set(e, "A", NULL), -EINVAL);
    ASSERT_EQ(subproc_env_setn(e, "A\0B", 3, "v", 1), -EINVAL);  /* NUL in the name */
    ASSERT_EQ(subproc_env_setn(e, "AB", 2, "v\0w", 3), -EINVAL); /* NUL in the value */
    ASSERT_EQ(subproc_env_setn(e, "AB", 0, "v", 1), -EINVAL);
    ASSERT_EQ(subproc_env_put(e, "=value"), -EINVAL);
    ASSERT_EQ(subproc_env_put(e, "novalue"), -EINVAL);
    ASSERT_EQ(subproc_env_put(e, ""), -EINVAL);
    ASSERT_EQ(subproc_env_unset(e, ""), -EINVAL);
    ASSERT_EQ(subproc_env_unset(e, "A=B"), -EINVAL);
    const char *bad[] = {"GOOD=1", "=bad", NULL};
    ASSERT_EQ(subproc_env_put_array(e, bad), -EINVAL);
    const char *bad2[] = {"GOOD=1", "alsobad", NULL};
    ASSERT_EQ(subproc_env_put_array(e, bad2), -EINVAL);
    /* Nothing of the refused calls got in. */
    ASSERT_EQ(subproc_env_count(e), 1);
    ASSERT(subproc_env_get(e, "GOOD") == NULL);
    char *out = child_env(e);
    ASSERT_STREQ(out, "KEEP=1\n");
    free(out);
    subproc_env_free(e);
}

TEST(env_shared_by_many_spawns)
{
    subproc_env *e;
    ASSERT_OK(subproc_env_new(&e, SUBPROC_ENV_EMPTY));
    ASSERT_OK(subproc_env_set(e, "ONLY", "this"));
    /* One built env serves any number of spawns. */
    for (int i = 0; i < 20; i++) {
        char *v = child_getenv(e, "ONLY");
        ASSERT_STREQ(v, "this");
        free(v);
    }
    subproc_env_free(e);
}

static int env_fn(void *arg)
{
    const char *v = getenv((const char *)arg);
    if (!v) return 2;
    return strcmp(v, "from-built-env") == 0 ? 0 : 3;
}

TEST(env_fork_mode_gets_built_env)
{
    /* "Same stdio/env/cwd options" in fork mode: the function sees the built environment. */
    subproc_env *e;
    ASSERT_OK(subproc_env_new(&e, SUBPROC_ENV_EMPTY));
    ASSERT_OK(subproc_env_set(e, "SUBPROC_FORK_ENV", "from-built-env"));
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.fn = env_fn;
    o.fn_arg = (void *)"SUBPROC_FORK_ENV";
    o.env = e;
    subproc_proc *p;
    subproc_status st;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(st.exited, 1);
    ASSERT_EQ(st.code, 0);
    subproc_proc_free(p);
    /* Without o.env it is the live environment, and ours is unchanged. */
    ASSERT(getenv("SUBPROC_FORK_ENV") == NULL);
    ASSERT_OK(setenv("SUBPROC_FORK_ENV", "from-built-env", 1));
    o.env = NULL;
    ASSERT_OK(subproc_spawn(&p, &o, NULL));
    ASSERT_OK(subproc_proc_wait(p, &st));
    ASSERT_EQ(st.code, 0);
    subproc_proc_free(p);
    subproc_env_free(e);
}
