/* alloc.c - every heap allocation of the library goes through here, so that a test can make any
 * one of them fail and check that the failure comes back as -ENOMEM with nothing leaked. */
#include "internal.h"

#include <stdlib.h>

/* Per thread, so a test's countdown never hits another thread's spawn. 0 means off. */
static _Thread_local unsigned long fail_countdown;

void subproc__test_fail_alloc_after(unsigned long n)
{
    fail_countdown = n;
}

int subproc__alloc_fails(void)
{
    if (fail_countdown == 0) return 0;
    return --fail_countdown == 0;
}

void *subproc__malloc(size_t n)
{
    return subproc__alloc_fails() ? NULL : malloc(n);
}

void *subproc__calloc(size_t n, size_t size)
{
    return subproc__alloc_fails() ? NULL : calloc(n, size);
}

void *subproc__realloc(void *p, size_t n)
{
    return subproc__alloc_fails() ? NULL : realloc(p, n);
}
