/* gen BYTES - write BYTES bytes of a known pattern ('a' + offset % 26) to stdout, in writes of
 * up to ~832 KiB, so that the reader and the pipe, not the writer, set the pace. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    enum { CHUNK = 26 << 15 }; /* a multiple of 26: buf[off % CHUNK] is the byte at off */
    static char buf[CHUNK];
    if (argc != 2) {
        fprintf(stderr, "usage: gen BYTES\n");
        return 2;
    }
    unsigned long long total = strtoull(argv[1], NULL, 10), off = 0;
    for (size_t i = 0; i < CHUNK; i++)
        buf[i] = (char)('a' + i % 26);
    while (off < total) {
        size_t at = (size_t)(off % CHUNK), n = CHUNK - at;
        if (n > total - off)
            n = (size_t)(total - off);
        ssize_t w = write(1, buf + at, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return 1;
        off += (unsigned long long)w;
    }
    return 0;
}
