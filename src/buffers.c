/*
 * buffers.c - reusable capture memory (subproc_buffers): blocks given back after a capture are
 * kept, with their pages, for the next one.
 *
 * Why: a capture into fresh memory pays a page fault per 4 KiB page (the kernel zeroes the page
 * and charges it to the memory cgroup); for bulk output that is most of the parent's time
 * (docs/BENCHMARKS.md). A block that stays allocated keeps its pages, so a capture into it
 * costs only the copies. The blocks are plain malloc() blocks: a capture's data is owned by its
 * result whether it came from here or not, and free() is always a valid way to drop it.
 */
#include "internal.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BLOCKS 64

struct block {
    char *data;
    size_t size;    /* malloc_usable_size(data) */
    size_t faulted; /* data[0, faulted) was written by the last user: backed by pages */
};

struct subproc_buffers {
    pthread_mutex_t lock;
    size_t max_bytes; /* 0: no limit */
    size_t kept;      /* sum of blk[i].size */
    size_t n;
    struct block blk[MAX_BLOCKS];
};

int subproc_buffers_new(subproc_buffers **out, size_t max_bytes)
{
    if (!out) return -EINVAL;
    *out = NULL;
    subproc_buffers *b = subproc__calloc(1, sizeof *b);
    if (!b) return -ENOMEM;
    pthread_mutex_init(&b->lock, NULL);
    b->max_bytes = max_bytes;
    *out = b;
    return 0;
}

size_t subproc_buffers_kept(const subproc_buffers *b)
{
    if (!b) return 0;
    pthread_mutex_lock((pthread_mutex_t *)&b->lock);
    size_t k = b->kept;
    pthread_mutex_unlock((pthread_mutex_t *)&b->lock);
    return k;
}

static void drop(subproc_buffers *b, size_t i)
{
    free(b->blk[i].data);
    b->kept -= b->blk[i].size;
    b->blk[i] = b->blk[--b->n];
}

static size_t smallest(const subproc_buffers *b)
{
    size_t s = 0;
    for (size_t i = 1; i < b->n; i++)
        if (b->blk[i].size < b->blk[s].size) s = i;
    return s;
}

/* Keep data (of which [0, faulted) is backed by pages), making room by dropping smaller blocks;
 * a block larger than every limit allows is freed instead. */
static void keep(subproc_buffers *b, char *data, size_t faulted)
{
    if (!data) return;
    size_t size = malloc_usable_size(data);
    if (faulted > size) faulted = size;
    pthread_mutex_lock(&b->lock);
    if (b->max_bytes && size > b->max_bytes) {
        pthread_mutex_unlock(&b->lock);
        free(data);
        return;
    }
    while (b->n && (b->n == MAX_BLOCKS || (b->max_bytes && b->kept + size > b->max_bytes))) {
        size_t s = smallest(b);
        if (b->blk[s].size > size && b->n == MAX_BLOCKS) {
            /* Every kept block is larger: this one is the one to let go. */
            pthread_mutex_unlock(&b->lock);
            free(data);
            return;
        }
        drop(b, s);
    }
    b->blk[b->n++] = (struct block){data, size, faulted};
    b->kept += size;
    pthread_mutex_unlock(&b->lock);
}

void subproc_buffers_give(subproc_buffers *b, void *data)
{
    if (!b) {
        free(data);
        return;
    }
    keep(b, data, 0);
}

void subproc_buffers_recycle(subproc_buffers *b, subproc_result *r)
{
    if (!r) return;
    if (b) {
        /* A capture wrote [0, len] (the data and its NUL): those pages are backed. */
        keep(b, r->out.data, r->out.len + 1);
        keep(b, r->err.data, r->err.len + 1);
        r->out.data = r->err.data = NULL;
    }
    subproc_result_free(r);
}

int subproc__buffers_take(subproc_buffers *b, char **data, size_t *size, size_t *faulted)
{
    pthread_mutex_lock(&b->lock);
    if (b->n == 0) {
        pthread_mutex_unlock(&b->lock);
        return 0;
    }
    size_t big = 0;
    for (size_t i = 1; i < b->n; i++)
        if (b->blk[i].size > b->blk[big].size) big = i;
    *data = b->blk[big].data;
    *size = b->blk[big].size;
    *faulted = b->blk[big].faulted;
    b->kept -= b->blk[big].size;
    b->blk[big] = b->blk[--b->n];
    pthread_mutex_unlock(&b->lock);
    return 1;
}

void subproc_buffers_free(subproc_buffers *b)
{
    if (!b) return;
    while (b->n) drop(b, b->n - 1);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

subproc_buffers *subproc__comm_buffers(const subproc_comm_opts *co)
{
    return co && co->version >= 2 ? co->buffers : NULL;
}
