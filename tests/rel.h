/* rel.h - small helpers shared by the reliability tests (tests/test_rel_*.c). */
#ifndef SUBPROC_REL_H
#define SUBPROC_REL_H

#include "test.h"

#include <sys/stat.h>

#define REL_MAXFD 4096

/* A child's fd listing ("FD DEV:INO" lines from helper mode fds): ids[fd] is "DEV:INO", or ""
 * when fd is not open in the child. Returns the number of fds listed. */
static inline int rel_parse_fds(const char *out, char (*ids)[48])
{
    for (int i = 0; i < REL_MAXFD; i++) ids[i][0] = '\0';
    int n = 0;
    for (const char *s = out; *s;) {
        int fd;
        char id[48];
        if (sscanf(s, "%d %47s", &fd, id) != 2) break;
        if (fd >= 0 && fd < REL_MAXFD) snprintf(ids[fd], sizeof ids[fd], "%s", id);
        n++;
        const char *nl = strchr(s, '\n');
        if (!nl) break;
        s = nl + 1;
    }
    return n;
}

/* "DEV:INO" of one of our fds, the same format as the helper prints. */
static inline void rel_ident(int fd, char *buf, size_t len)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        snprintf(buf, len, "closed");
        return;
    }
    snprintf(buf, len, "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
}

#endif
