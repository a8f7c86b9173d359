/* dialogue.c - talk to an interactive program on a pseudo-terminal, as a user at a keyboard
 * would: wait for its prompt, type a line, read the answer, interrupt it with Ctrl-C, end it
 * with Ctrl-D. The program is the Python interpreter in interactive mode (python3 -i), which
 * prompts only when its input is a terminal.
 *
 * Usage: dialogue [EXPRESSION]...     (default: 2**64 "sum(range(101))" "'-'.join('pty')")
 * Prints "EXPRESSION -> ANSWER" for each, then what Ctrl-C and Ctrl-D did.
 */
#include <subproc.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define PROMPT ">>> "

/* Wait for the prompt; *answer gets what came before it. 1 when it came. */
static int until_prompt(subproc_expect *e, const char **answer, size_t *len)
{
    subproc_match m;
    int r = subproc_expect_match(e, PROMPT, 0, 10000, &m);
    if (r != 1) {
        fprintf(stderr, "dialogue: no prompt (%s)\n",
                r == 0 ? "python ended" : subproc_strerror(r));
        return 0;
    }
    *answer = m.before;
    *len = m.before_len;
    return 1;
}

int main(int argc, char **argv)
{
    static const char *const dflt[] = {"2**64", "sum(range(101))", "'-'.join('pty')", NULL};
    const char *const *exprs = argc > 1 ? (const char *const *)argv + 1 : dflt;

    /* -q: no banner. TERM=dumb: line editing without escape sequences in the output. */
    const char *py[] = {"python3", "-q", "-i", NULL};
    subproc_env *env;
    if (subproc_env_new(&env, SUBPROC_ENV_INHERIT) < 0 || subproc_env_set(env, "TERM", "dumb") < 0)
        return 1;
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = py;
    o.env = env;
    for (int i = 0; i < 3; i++)
        o.stdio[i].kind = SUBPROC_IO_PTY; /* one new terminal */
    subproc_proc *p;
    subproc_error err;
    if (subproc_spawn(&p, &o, &err) < 0) {
        char buf[600];
        fprintf(stderr, "dialogue: %s\n", subproc_error_str(&err, buf, sizeof buf));
        subproc_env_free(env);
        return 127;
    }
    subproc_env_free(env);
    int term = subproc_proc_pty(p); /* the terminal's master end: what we type, what it shows */
    subproc_expect *e;
    if (subproc_expect_new(&e, term, term, 0, 0) < 0) return 1;

    int rc = 1;
    const char *ans;
    size_t len;
    if (!until_prompt(e, &ans, &len)) goto out;
    for (size_t i = 0; exprs[i]; i++) {
        char line[512];
        snprintf(line, sizeof line, "%s\n", exprs[i]);
        if (subproc_expect_send(e, line, strlen(line), 5000) < 0) goto out;
        if (!until_prompt(e, &ans, &len)) goto out;
        /* What the terminal showed: our line echoed, then the answer, each ending in \r\n. */
        const char *nl = strstr(ans, "\r\n");
        const char *a = nl ? nl + 2 : ans;
        size_t alen = len - (size_t)(a - ans);
        if (alen >= 2 && a[alen - 2] == '\r') alen -= 2;
        printf("%s -> %.*s\n", exprs[i], (int)alen, a);
    }

    /* A loop that never ends, stopped the way a user stops it: Ctrl-C, i.e. the terminal's
     * interrupt character, which makes the line discipline send SIGINT to the program. */
    const char *loop = "while True: pass\n\n";
    subproc_match m;
    if (subproc_expect_send(e, loop, strlen(loop), 5000) < 0 ||
        subproc_expect_match(e, "... ", 0, 5000, &m) != 1 ||
        subproc_expect_match(e, "\r\n", 0, 5000, &m) != 1) /* the empty line's echo: running */
        goto out;
    subproc_pty_send_intr(term);
    if (subproc_expect_match(e, "KeyboardInterrupt", 0, 10000, &m) != 1 ||
        !until_prompt(e, &ans, &len))
        goto out;
    printf("Ctrl-C -> KeyboardInterrupt, and the prompt again\n");

    /* Ctrl-D at the prompt: end of input, the interpreter exits. (Python 3.11 then ends by
     * SIGINT, re-raising the interrupt its REPL caught earlier; the status says what it did.) */
    subproc_pty_send_eof(term);
    subproc_expect_match(e, NULL, 0, 10000, &m); /* the rest, up to end-of-file */
    subproc_status st;
    if (subproc_proc_wait_timeout(p, 10000, &st) == 0) {
        char words[64];
        printf("Ctrl-D -> python3 %s\n", subproc_status_str(&st, words, sizeof words));
        rc = 0;
    }
out:
    subproc_expect_free(e);
    subproc_proc_free(p); /* closes the terminal (and kills python had it not ended) */
    return rc;
}
