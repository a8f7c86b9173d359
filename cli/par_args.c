/* par_args.c - the inputs of `subproc par` and what becomes of them: sources read and split,
 * combined as GNU parallel combines them, replacement strings filled in, command lines quoted.
 *
 * The rules are GNU parallel's (20221122), edge cases included, because users' command lines
 * depend on them: {.} removes what its Perl rule s:\.[^/.]*$:: removes (so {.} of ".hidden" is
 * empty), {/} is s:.*\/:: (where '.' does not match a newline), {//} is File::Basename's
 * dirname. They are no basename(3)/dirname(3). */
#include "par.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int par_buf_add(par_buf *b, const char *s, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *n = realloc(b->s, cap);
        if (!n) return -ENOMEM;
        b->s = n;
        b->cap = cap;
    }
    if (len) memcpy(b->s + b->len, s, len);
    b->len += len;
    b->s[b->len] = '\0';
    return 0;
}

void par_buf_free(par_buf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

/* ---- sources ---- */

static int read_all(int fd, par_buf *b)
{
    char chunk[65536];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -errno;
        if (r == 0) return par_buf_add(b, "", 0);
        if (par_buf_add(b, chunk, (size_t)r) < 0) return -ENOMEM;
    }
}

/* Records of b split at delim; an empty piece after the last delimiter is no record (Perl's
 * readline with $/ = delim, then chomp). */
static int split(par_source *src, par_buf *b, const char *delim, size_t dlen)
{
    size_t cap = 16, n = 0;
    par_str *rec = malloc(cap * sizeof *rec);
    if (!rec) return -ENOMEM;
    const char *s = b->s ? b->s : "", *end = s + b->len;
    while (s < end) {
        const char *d = memmem(s, (size_t)(end - s), delim, dlen);
        const char *stop = d ? d : end;
        if (n == cap) {
            par_str *nr = realloc(rec, (cap *= 2) * sizeof *rec);
            if (!nr) {
                free(rec);
                return -ENOMEM;
            }
            rec = nr;
        }
        rec[n++] = (par_str){s, (size_t)(stop - s)};
        s = d ? d + dlen : end;
    }
    src->buf = b->s;
    src->rec = rec;
    src->n = n;
    b->s = NULL;
    return 0;
}

int par_inputs_load(par_inputs *in, const cli_par_opts *o, char *msg, size_t msglen)
{
    memset(in, 0, sizeof *in);
    size_t nsrc = o->nsources ? o->nsources : 1;
    in->src = calloc(nsrc, sizeof *in->src);
    in->group_of = calloc(nsrc, sizeof *in->group_of);
    in->glen = calloc(nsrc, sizeof *in->glen);
    in->ix = calloc(nsrc, sizeof *in->ix);
    if (!in->src || !in->group_of || !in->glen || !in->ix) goto nomem;
    in->nsrc = nsrc;
    for (size_t i = 0; i < nsrc; i++) {
        const cli_par_source *s = o->nsources ? &o->sources[i] : NULL;
        par_buf b = {0};
        int r = 0;
        const char *what = "standard input";
        if (s && s->words) {
            /* GNU parallel reads ::: words as the records of a file made of them, each followed
             * by the delimiter: a word that holds the delimiter becomes several inputs. */
            for (int k = 0; k < s->nwords && !r; k++)
                if ((r = par_buf_add(&b, s->words[k], strlen(s->words[k]))) == 0)
                    r = par_buf_add(&b, o->delim, o->delim_len);
        } else if (!s || !strcmp(s->file, "-")) {
            r = read_all(0, &b);
        } else {
            what = s->file;
            int fd = open(s->file, O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                r = -errno;
            } else {
                r = read_all(fd, &b);
                close(fd);
            }
        }
        if (r == 0) r = split(&in->src[i], &b, o->delim, o->delim_len);
        par_buf_free(&b);
        if (r == -ENOMEM) goto nomem;
        if (r < 0) {
            snprintf(msg, msglen, "reading inputs from %s: %s", what, strerror(-r));
            return CLI_EXIT_FAILURE;
        }
    }
    /* As GNU parallel: when some source has inputs, an empty one counts as one empty input. */
    int any = 0;
    for (size_t i = 0; i < nsrc; i++)
        any |= in->src[i].n > 0;
    for (size_t i = 0; any && i < nsrc; i++)
        if (!in->src[i].n) in->src[i].rec[in->src[i].n++] = (par_str){"", 0};
    for (size_t i = 0; i < nsrc; i++) {
        if (i == 0 || !o->sources[i].linked) {
            in->group_of[i] = in->ngroups;
            in->glen[in->ngroups++] = in->src[i].n;
        } else {
            size_t g = in->ngroups - 1;
            in->group_of[i] = g;
            if (in->src[i].n < in->glen[g]) in->glen[g] = in->src[i].n; /* as GNU: the shorter */
        }
    }
    in->nrec = 1;
    for (size_t g = 0; g < in->ngroups; g++) {
        if (in->glen[g] && in->nrec > SIZE_MAX / 2 / in->glen[g]) {
            snprintf(msg, msglen, "too many combinations of inputs");
            return CLI_EXIT_FAILURE;
        }
        in->nrec *= in->glen[g];
    }
    return 0;
nomem:
    snprintf(msg, msglen, "out of memory");
    return CLI_EXIT_FAILURE;
}

void par_inputs_free(par_inputs *in)
{
    for (size_t i = 0; in->src && i < in->nsrc; i++) {
        free(in->src[i].buf);
        free(in->src[i].rec);
    }
    free(in->src);
    free(in->group_of);
    free(in->glen);
    free(in->ix);
    memset(in, 0, sizeof *in);
}

void par_inputs_record(const par_inputs *in, size_t r, par_str *out)
{
    for (size_t g = in->ngroups; g-- > 0;) {
        in->ix[g] = r % in->glen[g];
        r /= in->glen[g];
    }
    for (size_t i = 0; i < in->nsrc; i++)
        out[i] = in->src[i].rec[in->ix[in->group_of[i]]];
}

/* ---- replacement strings ---- */

enum { OP_NONE, OP_DOT, OP_BASE, OP_DIR, OP_BASEDOT };
enum { RS_ALL, RS_NUM, RS_NUM_END, RS_SEQ, RS_SLOT }; /* {} {N} {-N} {#} {%} */

/* The replacement string at p, if any: its length, with *kind, *num and *op. */
static size_t match_rs(const char *p, int *kind, size_t *num, int *op)
{
    if (p[0] != '{') return 0;
    const char *q = p + 1;
    *num = 0;
    *kind = RS_ALL;
    if (*q == '#' || *q == '%') {
        if (q[1] != '}') return 0;
        *kind = *q == '#' ? RS_SEQ : RS_SLOT;
        *op = OP_NONE;
        return 3;
    }
    int neg = q[0] == '-' && q[1] >= '1' && q[1] <= '9';
    if (neg) q++;
    if (*q >= '1' && *q <= '9') {
        size_t n = 0;
        while (*q >= '0' && *q <= '9') {
            if (n > 100000000) return 0;
            n = n * 10 + (size_t)(*q++ - '0');
        }
        *kind = neg ? RS_NUM_END : RS_NUM;
        *num = n;
    } else if (*q == '0' && (q[1] == '}' || q[1] == '.' || q[1] == '/')) {
        q++; /* GNU parallel takes {0} (and {0.} ...) for {} */
    }
    static const struct {
        const char *s;
        int op;
    } ops[] = {{"}", OP_NONE}, {".}", OP_DOT}, {"/}", OP_BASE}, {"//}", OP_DIR}, {"/.}", OP_BASEDOT}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t l = strlen(ops[i].s);
        if (!strncmp(q, ops[i].s, l)) {
            *op = ops[i].op;
            return (size_t)(q - p) + l;
        }
    }
    return 0;
}

int par_template_has_rs(char *const *tmpl, int n)
{
    int kind, op;
    size_t num;
    for (int i = 0; i < n; i++)
        for (const char *p = tmpl[i]; *p; p++)
            if (match_rs(p, &kind, &num, &op)) return 1;
    return 0;
}

/* s:\.[^/.]*$:: - the last '.' with no '/' after it, and what follows it, go. */
static par_str op_dot(par_str a)
{
    for (size_t i = a.len; i-- > 0;) {
        if (a.s[i] == '/') break;
        if (a.s[i] == '.') return (par_str){a.s, i};
    }
    return a;
}

/* s:.*\/:: - in the first line (Perl's '.' stops at '\n') that has a '/', everything up to its
 * last '/' goes. */
static int op_base(par_buf *b, par_str a, int then_dot)
{
    size_t ls = 0;
    while (ls <= a.len) {
        size_t le = ls;
        while (le < a.len && a.s[le] != '\n')
            le++;
        size_t slash = SIZE_MAX;
        for (size_t i = ls; i < le; i++)
            if (a.s[i] == '/') slash = i;
        if (slash != SIZE_MAX) {
            /* the result: a[0..ls) + a[slash+1..) */
            par_buf t = {0};
            if (par_buf_add(&t, a.s, ls) < 0 || par_buf_add(&t, a.s + slash + 1, a.len - slash - 1))
                return par_buf_free(&t), -ENOMEM;
            par_str r = {t.s ? t.s : "", t.len};
            if (then_dot) r = op_dot(r);
            int rc = par_buf_add(b, r.s, r.len);
            par_buf_free(&t);
            return rc;
        }
        ls = le + 1;
    }
    if (then_dot) a = op_dot(a);
    return par_buf_add(b, a.s, a.len);
}

/* File::Basename's fileparse() on Unix: the directory part, with its trailing '/' ("./" when
 * there is none), and the rest. */
static void fileparse(par_str a, par_str *dir, par_str *base)
{
    size_t slash = SIZE_MAX;
    for (size_t i = 0; i < a.len; i++)
        if (a.s[i] == '/') slash = i;
    if (slash == SIZE_MAX) {
        *dir = (par_str){"./", 2};
        *base = a;
    } else {
        *dir = (par_str){a.s, slash + 1};
        *base = (par_str){a.s + slash + 1, a.len - slash - 1};
    }
}

/* Perl's s{(.)/+\z}{$1}s: trailing slashes go, the first character stays. */
static par_str strip_seps(par_str d)
{
    while (d.len > 1 && d.s[d.len - 1] == '/')
        d.len--;
    return d;
}

/* File::Basename's dirname() on Unix. */
static par_str op_dir(par_str a)
{
    par_str dir, base;
    fileparse(a, &dir, &base);
    dir = strip_seps(dir);
    if (!base.len) {
        fileparse(dir, &dir, &base);
        dir = strip_seps(dir);
    }
    return dir;
}

static int apply(par_buf *b, par_str a, int op)
{
    switch (op) {
    case OP_DOT:
        a = op_dot(a);
        break;
    case OP_BASE:
    case OP_BASEDOT:
        return op_base(b, a, op == OP_BASEDOT);
    case OP_DIR:
        a = op_dir(a);
        break;
    }
    return par_buf_add(b, a.s, a.len);
}

/* The words of a job, each ended by a NUL in w (lengths in wl). */
typedef struct words {
    par_buf w;
    size_t *len;
    size_t n, cap;
    size_t start; /* where the word being built starts in w */
} words;

static int word_end(words *ws)
{
    if (ws->n == ws->cap) {
        size_t cap = ws->cap ? ws->cap * 2 : 16;
        size_t *l = realloc(ws->len, cap * sizeof *l);
        if (!l) return -ENOMEM;
        ws->len = l;
        ws->cap = cap;
    }
    ws->len[ws->n++] = ws->w.len - ws->start;
    if (par_buf_add(&ws->w, "", 1) < 0) return -ENOMEM; /* the NUL, counted in w.len */
    ws->start = ws->w.len;
    return 0;
}

char **par_build_argv(char *const *tmpl, int n, int has_rs, const par_str *args, size_t nargs,
                      size_t seq, size_t slot, size_t **lens)
{
    words ws = {0};
    int bad = 0;
    for (int i = 0; i < n && !bad; i++) {
        const char *p = tmpl[i], *lit = p;
        while (*p && !bad) {
            int kind, op;
            size_t num, l = match_rs(p, &kind, &num, &op);
            if (!l) {
                p++;
                continue;
            }
            bad |= par_buf_add(&ws.w, lit, (size_t)(p - lit));
            if (kind == RS_SEQ || kind == RS_SLOT) {
                char d[32];
                int dl = snprintf(d, sizeof d, "%zu", kind == RS_SEQ ? seq : slot);
                bad |= par_buf_add(&ws.w, d, (size_t)dl);
            } else if (kind == RS_NUM || kind == RS_NUM_END) {
                size_t at = kind == RS_NUM ? num - 1 : nargs - num; /* {-N}: from the end */
                par_str a = num <= nargs ? args[at] : (par_str){"", 0};
                bad |= apply(&ws.w, a, op);
            } else {
                /* {} of several inputs: one word each; the text before {} joins the first,
                 * the text after it the last (GNU parallel's context replace). */
                for (size_t k = 0; k < nargs && !bad; k++) {
                    if (k) bad |= word_end(&ws);
                    bad |= apply(&ws.w, args[k], op);
                }
            }
            p += l;
            lit = p;
        }
        bad |= par_buf_add(&ws.w, lit, (size_t)(p - lit));
        bad |= word_end(&ws);
    }
    for (size_t k = 0; !has_rs && k < nargs && !bad; k++) {
        bad |= par_buf_add(&ws.w, args[k].s, args[k].len);
        bad |= word_end(&ws);
    }
    char **v = NULL;
    if (!bad) v = malloc((ws.n + 1) * (sizeof *v + sizeof **lens) + ws.w.len + 1);
    if (v) {
        size_t *ln = (size_t *)(v + ws.n + 1);
        char *dst = (char *)(ln + ws.n + 1);
        memcpy(dst, ws.w.s ? ws.w.s : "", ws.w.len);
        for (size_t k = 0; k < ws.n; k++) {
            v[k] = dst;
            ln[k] = ws.len[k];
            dst += ws.len[k] + 1;
        }
        v[ws.n] = NULL;
        ln[ws.n] = 0;
        *lens = ln;
    }
    par_buf_free(&ws.w);
    free(ws.len);
    return v;
}

/* ---- quoting, results ---- */

int par_quote(par_buf *b, const char *s, size_t len)
{
    if (!len) return par_buf_add(b, "''", 2);
    int plain = 1;
    for (size_t i = 0; i < len && plain; i++) {
        unsigned char c = (unsigned char)s[i];
        plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_' || c == '.' || c == '+' || c == '/';
    }
    if (plain) return par_buf_add(b, s, len);
    /* '...' around it, each ' as '"'"', and no empty '' left at either end. */
    int r = 0;
    if (s[0] != '\'') r |= par_buf_add(b, "'", 1);
    for (size_t i = 0; i < len && !r; i++) {
        if (s[i] != '\'') {
            r |= par_buf_add(b, s + i, 1);
        } else {
            /* the opening "'" is only there when something came before this quote */
            r |= par_buf_add(b, i ? "'\"'\"" : "\"'\"", i ? 4 : 3);
            if (i + 1 < len) r |= par_buf_add(b, "'", 1);
        }
    }
    if (s[len - 1] != '\'') r |= par_buf_add(b, "'", 1);
    return r;
}

int par_command_line(par_buf *b, char *const *argv, const size_t *lens)
{
    int r = par_buf_add(b, "", 0);
    for (size_t i = 0; argv[i] && !r; i++) {
        if (i) r |= par_buf_add(b, " ", 1);
        r |= par_quote(b, argv[i], lens ? lens[i] : strlen(argv[i]));
    }
    return r;
}

int par_results_dir(par_buf *b, const char *dir, const par_str *args, size_t nargs, size_t nsrc)
{
    int r = par_buf_add(b, dir, strlen(dir));
    for (size_t k = 0; k < nargs && !r; k++) {
        char num[32];
        int nl = snprintf(num, sizeof num, "/%zu/", k % nsrc + 1);
        r |= par_buf_add(b, num, (size_t)nl);
        size_t start = b->len;
        for (size_t i = 0; i < args[k].len && !r; i++) {
            char c = args[k].s[i];
            const char *e = c == '\\' ? "\\\\" : c == '\t' ? "\\t" : c == '\0' ? "\\0"
                            : c == '/' ? "\\_" : NULL;
            r |= e ? par_buf_add(b, e, 2) : par_buf_add(b, &c, 1);
        }
        if (b->len - start > 255) b->len = start + 255; /* NAME_MAX, as GNU parallel cuts */
        b->s[b->len] = '\0';
    }
    return r;
}
