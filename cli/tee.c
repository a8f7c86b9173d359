/* tee.c - --capture passes the program's output on to subproc's own stdout and stderr.
 *
 * Not the library's tee: when subproc's stdout is a pipe whose reader has gone
 * (`subproc run --capture yes | head -1`), the program must learn it as it would without
 * subproc in between - by SIGPIPE - instead of writing on forever into the capture. So the
 * copy is made here, with SIGPIPE blocked (an EPIPE then comes back as an error), and the
 * program gets the SIGPIPE that its own write would have raised. */
#include "cli.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

void cli_tee_init(cli_tee *t, subproc_proc *p)
{
    t->p = p;
    t->broken[0] = t->broken[1] = 0;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
}

int cli_tee_output(void *ud, int stream, const char *data, size_t len)
{
    cli_tee *t = ud;
    if (stream < 1 || stream > 2 || t->broken[stream - 1]) return 0;
    while (len) {
        ssize_t w = write(stream, data, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                struct pollfd pf = {stream, POLLOUT, 0};
                poll(&pf, 1, -1);
                continue;
            }
            t->broken[stream - 1] = 1;
            if (errno == EPIPE && t->p) subproc_proc_signal(t->p, SIGPIPE);
            return 0; /* keep capturing: the report still wants what comes */
        }
        data += w;
        len -= (size_t)w;
    }
    return 0;
}
