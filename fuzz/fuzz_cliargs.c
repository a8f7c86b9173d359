/* fuzz_cliargs.c - libFuzzer target for the `subproc` argument parsing (cli/parse.c, cli/opts.c)
 * and the JSON string writer (cli/json.c). Built and run briefly by `make fuzz`.
 *
 * The input is split at NUL bytes into words. The first byte picks what is driven: one of the
 * value parsers on the first word, the `par` {} expansion, or the whole `run`, `pipe` or `par`
 * option parser on all the words. Besides "no crash, no sanitizer report", it checks the
 * parsers' promises. */
#include "cli.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORDS 64

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_cliargs: broken promise: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned mode = data[0] % 12;
    char *buf = malloc(size + 1); /* data[1..] as NUL-separated words, NUL-terminated */
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    char *words[MAX_WORDS + 2];
    int n = 0;
    words[n++] = "run";
    for (char *p = buf; p < buf + size && n < MAX_WORDS;) {
        words[n++] = p;
        p += strlen(p) + 1;
        if (p >= buf + size - 1) break;
    }
    words[n] = NULL;
    const char *w = words[1] ? words[1] : "";

    switch (mode) {
    case 0: {
        long long ms = -1;
        if (cli_parse_duration(w, &ms) == 0)
            check(ms >= 0 && ms <= CLI_DURATION_MAX_MS, "duration range");
        break;
    }
    case 1: {
        int s = cli_parse_signal(w);
        check(s == -1 || (s > 0 && s < NSIG), "signal range");
        break;
    }
    case 2: {
        unsigned m = 01000;
        if (cli_parse_umask(w, &m) == 0) check(m <= 0777, "umask range");
        break;
    }
    case 3: {
        cli_rlimit rl;
        if (cli_parse_rlimit(w, &rl) == 0) {
            check(rl.name && cli_rlimit_name(rl.resource), "rlimit name");
            check(rl.has_soft || rl.has_hard, "rlimit value");
            check(!(rl.has_soft && rl.has_hard) || rl.soft <= rl.hard, "rlimit order");
        }
        break;
    }
    case 4: {
        size_t k;
        if (cli_parse_assignment(w, &k) == 0) check(k > 0 && w[k] == '=', "assignment");
        long v;
        if (cli_parse_int(w, -20, 19, &v) == 0) check(v >= -20 && v <= 19, "int range");
        break;
    }
    case 5: {
        /* JSON strings: every byte string gives output free of raw control bytes and quotes. */
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        if (f) {
            cli_json_write_string(f, w);
            fclose(f);
            check(len >= 2 && out[0] == '"' && out[len - 1] == '"', "json quotes");
            for (size_t i = 1; i + 1 < len; i++) {
                check((unsigned char)out[i] >= 0x20, "json control byte");
                if (out[i] == '\\')
                    i++; /* an escape: skip the escaped char */
                else
                    check(out[i] != '"', "json bare quote");
            }
            free(out);
        }
        break;
    }
    case 6: {
        size_t sz;
        if (cli_parse_size(w, &sz) == 0) check(w[0] >= '0' && w[0] <= '9', "size digits");
        break;
    }
    case 7: {
        /* par: the last word is the input, the others the template. */
        if (n < 3) break;
        const char *input = words[n - 1];
        char **tmpl = words + 1;
        int nt = n - 2, has = 0;
        for (int i = 0; i < nt; i++)
            if (strstr(tmpl[i], "{}")) has = 1;
        char **v = cli_par_expand(tmpl, nt, input);
        if (!v) break;
        int argc = 0;
        while (v[argc])
            argc++;
        check(argc == nt + !has, "par argc");
        if (!has) check(!strcmp(v[nt], input), "par appended input");
        for (int i = 0; i < nt; i++) {
            size_t k = 0;
            for (const char *q = tmpl[i]; (q = strstr(q, "{}")); q += 2)
                k++;
            check(strlen(v[i]) == strlen(tmpl[i]) - 2 * k + k * strlen(input), "par length");
            if (!k) check(!strcmp(v[i], tmpl[i]), "par untouched");
        }
        free(v);
        break;
    }
    case 8: {
        cli_run_opts o;
        char err[256];
        words[0] = "pipe";
        int r = cli_pipe_parse(&o, n, words, err, sizeof err);
        if (r == 0 && !o.help) {
            check(o.nstages >= 1, "pipe stages");
            for (size_t i = 0; i < o.nstages; i++) {
                check(o.stages[i][0] != NULL, "pipe empty stage");
                for (char **a = o.stages[i]; *a; a++)
                    check(strcmp(*a, "|") != 0, "pipe separator left in a stage");
            }
            check(!o.new_session, "pipe new-session");
        } else if (r != 0) {
            check(err[0] != '\0', "pipe error message");
        }
        cli_run_opts_free(&o);
        break;
    }
    case 9: {
        cli_par_opts o;
        char err[256];
        words[0] = "par";
        int r = cli_par_parse(&o, n, words, err, sizeof err);
        if (r == 0 && !o.help) {
            check(o.argc >= 1 && o.argv[o.argc] == NULL, "par argv");
            for (int i = 0; i < o.argc; i++)
                check(strcmp(o.argv[i], ":::") != 0, "par ::: in the template");
            if (o.inputs) {
                check(o.inputs[o.ninputs] == NULL, "par inputs");
                for (int i = 0; i < o.ninputs; i++)
                    check(strcmp(o.inputs[i], ":::") != 0, "par second :::");
            }
        } else if (r != 0) {
            check(err[0] != '\0', "par error message");
        }
        cli_par_opts_free(&o);
        break;
    }
    default: {
        cli_run_opts o;
        char err[256];
        int r = cli_run_parse(&o, n, words, err, sizeof err);
        if (r == 0 && !o.help) {
            check(o.argc >= 1 && o.argv[0] && o.argv[o.argc] == NULL, "run argv");
            check(o.signal > 0 && o.signal < NSIG, "run signal");
            check(o.nrlimits <= CLI_MAX_RLIMITS, "run rlimits");
        } else if (r != 0) {
            check(err[0] != '\0', "run error message");
        }
        cli_run_opts_free(&o);
        break;
    }
    }
    free(buf);
    return 0;
}
