/* env.c - built environments for children. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

int subproc__env_name_ok(const char *name, size_t len)
{
    return name && len > 0 && !memchr(name, '=', len) && !memchr(name, '\0', len);
}

static int grow(subproc_env *e)
{
    if (e->n + 1 < e->cap) return 0;
    size_t cap = e->cap ? e->cap * 2 : 16;
    char **v = subproc__realloc(e->vars, cap * sizeof *v);
    if (!v) return -ENOMEM;
    e->vars = v;
    e->cap = cap;
    return 0;
}

/* Index of the variable called name[0..len), or -1. */
static long find(const subproc_env *e, const char *name, size_t len)
{
    for (size_t i = 0; i < e->n; i++)
        if (strncmp(e->vars[i], name, len) == 0 && e->vars[i][len] == '=') return (long)i;
    return -1;
}

/* Store an owned "NAME=VALUE" string whose name is len bytes long. Takes s in every case. */
static int store(subproc_env *e, char *s, size_t len)
{
    long i = find(e, s, len);
    if (i >= 0) {
        free(e->vars[i]);
        e->vars[i] = s;
        return 0;
    }
    if (grow(e) < 0) {
        free(s);
        return -ENOMEM;
    }
    e->vars[e->n++] = s;
    e->vars[e->n] = NULL;
    return 0;
}

int subproc_env_new(subproc_env **out, unsigned flags)
{
    *out = NULL;
    if (flags & ~SUBPROC_ENV_INHERIT) return -EINVAL;
    subproc_env *e = subproc__calloc(1, sizeof *e);
    if (!e || grow(e) < 0) {
        free(e);
        return -ENOMEM;
    }
    e->vars[0] = NULL;
    if (flags & SUBPROC_ENV_INHERIT) {
        for (char **p = environ; p && *p; p++) {
            const char *eq = strchr(*p, '=');
            if (!eq || eq == *p) continue; /* not a variable a child could read back */
            int r = subproc_env_put(e, *p);
            if (r < 0) {
                subproc_env_free(e);
                return r;
            }
        }
    }
    *out = e;
    return 0;
}

int subproc_env_setn(subproc_env *e, const char *name, size_t nlen, const char *value,
                     size_t vlen)
{
    if (!e || !subproc__env_name_ok(name, nlen)) return -EINVAL;
    if (!value || memchr(value, '\0', vlen)) return -EINVAL;
    char *s = subproc__malloc(nlen + vlen + 2);
    if (!s) return -ENOMEM;
    memcpy(s, name, nlen);
    s[nlen] = '=';
    memcpy(s + nlen + 1, value, vlen);
    s[nlen + 1 + vlen] = '\0';
    return store(e, s, nlen);
}

int subproc_env_set(subproc_env *e, const char *name, const char *value)
{
    if (!name || !value) return -EINVAL;
    return subproc_env_setn(e, name, strlen(name), value, strlen(value));
}

int subproc_env_put(subproc_env *e, const char *a)
{
    if (!e || !a) return -EINVAL;
    const char *eq = strchr(a, '=');
    if (!eq || eq == a) return -EINVAL;
    return subproc_env_setn(e, a, (size_t)(eq - a), eq + 1, strlen(eq + 1));
}

int subproc_env_put_array(subproc_env *e, const char *const *arr)
{
    if (!e || !arr) return -EINVAL;
    for (size_t i = 0; arr[i]; i++) {
        const char *eq = strchr(arr[i], '=');
        if (!eq || eq == arr[i]) return -EINVAL;
    }
    /* Checked first, so the only failure left is ENOMEM; undo is then not worth its cost. */
    for (size_t i = 0; arr[i]; i++) {
        int r = subproc_env_put(e, arr[i]);
        if (r < 0) return r;
    }
    return 0;
}

int subproc_env_unset(subproc_env *e, const char *name)
{
    if (!e || !name || !subproc__env_name_ok(name, strlen(name))) return -EINVAL;
    long i = find(e, name, strlen(name));
    if (i < 0) return 0;
    free(e->vars[i]);
    memmove(&e->vars[i], &e->vars[i + 1], (e->n - (size_t)i) * sizeof *e->vars);
    e->n--;
    return 0;
}

const char *subproc_env_get(const subproc_env *e, const char *name)
{
    if (!e || !name) return NULL;
    long i = find(e, name, strlen(name));
    return i < 0 ? NULL : e->vars[i] + strlen(name) + 1;
}

size_t subproc_env_count(const subproc_env *e)
{
    return e ? e->n : 0;
}

const char *const *subproc_env_array(const subproc_env *e)
{
    return e ? (const char *const *)e->vars : NULL;
}

void subproc_env_free(subproc_env *e)
{
    if (!e) return;
    for (size_t i = 0; i < e->n; i++) free(e->vars[i]);
    free(e->vars);
    free(e);
}
