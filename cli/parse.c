/* parse.c - the values the `subproc` options take. Pure functions: no output, no global state
 * (apart from what subproc_signal_from_name reads), so that fuzz/fuzz_cliargs.c can hammer them. */
#include "cli.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* 10^k for k <= 38, as an unsigned 128-bit integer. */
static unsigned __int128 pow10_u128(int k)
{
    unsigned __int128 v = 1;
    while (k-- > 0)
        v *= 10;
    return v;
}

int cli_parse_duration(const char *s, long long *out_ms)
{
    /* As timeout(1) reads it: a decimal number with an optional fraction and exponent
     * ("2.34e+5"), or "inf"/"infinity", then an optional suffix s, m, h or d. Parsed by hand
     * rather than with strtod(), which would also take the locale's decimal point, hex, "nan"
     * and leading blanks, and would round 1e-5000 to 0 (no deadline) where timeout(1) rounds a
     * positive value up to its clock's resolution.
     * The value is kept exactly as digits N and a power of ten E (N * 10^E), at most 19
     * significant digits plus a flag for any non-zero digit beyond them; only the rounding up
     * to a millisecond can depend on those. */
    if (!s || !*s) return -1;
    const char *p = s;
    unsigned long long n = 0; /* the first 19 significant digits */
    int ndig = 0, sticky = 0, digits = 0, inf = 0;
    long exp10 = 0;
    if (!strncasecmp(p, "infinity", 8)) {
        inf = 1, p += 8;
    } else if (!strncasecmp(p, "inf", 3)) {
        inf = 1, p += 3;
    } else {
        for (int frac = 0;; p++) {
            if (*p == '.' && !frac) {
                frac = 1;
                continue;
            }
            if (*p < '0' || *p > '9') break;
            digits++;
            if (n == 0 && *p == '0') { /* leading zeros are no significant digits */
                if (frac) exp10--;
                continue;
            }
            if (ndig < 19) {
                n = n * 10 + (unsigned)(*p - '0');
                ndig++;
                if (frac) exp10--;
            } else {
                if (*p != '0') sticky = 1;
                if (!frac) exp10++;
            }
        }
        if (digits == 0) return -1;
        if (*p == 'e' || *p == 'E') {
            p++;
            int neg = 0;
            if (*p == '+' || *p == '-') neg = *p++ == '-';
            if (*p < '0' || *p > '9') return -1;
            long e = 0;
            for (; *p >= '0' && *p <= '9'; p++)
                if (e < 100000) e = e * 10 + (*p - '0'); /* far beyond either end already */
            exp10 += neg ? -e : e;
        }
    }
    long long mult = 1; /* seconds per unit */
    if (*p) {
        switch (*p) {
        case 's':
            mult = 1;
            break;
        case 'm':
            mult = 60;
            break;
        case 'h':
            mult = 3600;
            break;
        case 'd':
            mult = 86400;
            break;
        default:
            return -1;
        }
        if (p[1]) return -1;
    }
    if (inf) {
        *out_ms = CLI_DURATION_MAX_MS;
        return 0;
    }
    if (n == 0) { /* every digit zero: no deadline, whatever the exponent */
        *out_ms = 0;
        return 0;
    }
    /* ms = ceil(n * 10^exp10 * mult * 1000), saturated. n * mult * 1000 < 10^19 * 10^8. */
    unsigned __int128 v = (unsigned __int128)n * (unsigned long long)mult * 1000u;
    const unsigned __int128 max = (unsigned __int128)CLI_DURATION_MAX_MS;
    if (exp10 >= 0) {
        for (long i = 0; i < exp10 && v <= max; i++)
            v *= 10;
    } else if (exp10 < -38) {
        v = 1; /* below a millisecond (v < 10^27): rounds up to the least non-zero value */
    } else {
        unsigned __int128 d = pow10_u128((int)-exp10);
        v = v / d + (v % d != 0 || sticky);
    }
    *out_ms = v > max ? CLI_DURATION_MAX_MS : (long long)v;
    return 0;
}

int cli_parse_signal(const char *s)
{
    int sig = subproc_signal_from_name(s);
    return sig > 0 ? sig : -1;
}

int cli_parse_umask(const char *s, unsigned *out)
{
    if (!s || !*s) return -1;
    unsigned v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '7') return -1;
        v = v * 8 + (unsigned)(*s - '0');
        if (v > 0777) return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_int(const char *s, long min, long max, long *out)
{
    if (!s || !*s) return -1;
    int neg = 0;
    if (*s == '-' || *s == '+') neg = *s++ == '-';
    if (!*s) return -1;
    long long v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        v = v * 10 + (*s - '0');
        if (v > (long long)LONG_MAX) return -1;
    }
    if (neg) v = -v;
    if (v < min || v > max) return -1;
    *out = (long)v;
    return 0;
}

static const struct {
    const char *name;
    int resource;
} rlimit_names[] = {
    {"as", RLIMIT_AS},           {"core", RLIMIT_CORE},         {"cpu", RLIMIT_CPU},
    {"data", RLIMIT_DATA},       {"fsize", RLIMIT_FSIZE},       {"locks", RLIMIT_LOCKS},
    {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
    {"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},       {"rss", RLIMIT_RSS},
    {"rtprio", RLIMIT_RTPRIO},   {"rttime", RLIMIT_RTTIME},     {"sigpending", RLIMIT_SIGPENDING},
    {"stack", RLIMIT_STACK},
};

const char *cli_rlimit_name(int resource)
{
    for (size_t i = 0; i < sizeof rlimit_names / sizeof rlimit_names[0]; i++)
        if (rlimit_names[i].resource == resource) return rlimit_names[i].name;
    return NULL;
}

/* One limit value between s and end: decimal or unlimited. */
static int parse_rlim(const char *s, const char *end, rlim_t *out)
{
    size_t n = (size_t)(end - s);
    if (n == 0) return -1;
    if ((n == 9 && !strncmp(s, "unlimited", 9)) || (n == 8 && !strncmp(s, "infinity", 8))) {
        *out = RLIM_INFINITY;
        return 0;
    }
    unsigned long long v = 0;
    for (; s < end; s++) {
        if (*s < '0' || *s > '9') return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (ULLONG_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    /* RLIM_INFINITY is all ones: a number that large would silently mean "unlimited". */
    if ((rlim_t)v != v || (rlim_t)v == RLIM_INFINITY) return -1;
    *out = (rlim_t)v;
    return 0;
}

int cli_parse_rlimit(const char *s, cli_rlimit *out)
{
    if (!s) return -1;
    const char *eq = strchr(s, '=');
    if (!eq) return -1;
    size_t n = (size_t)(eq - s);
    out->name = NULL;
    for (size_t i = 0; i < sizeof rlimit_names / sizeof rlimit_names[0]; i++)
        if (strlen(rlimit_names[i].name) == n && !strncmp(s, rlimit_names[i].name, n)) {
            out->name = rlimit_names[i].name;
            out->resource = rlimit_names[i].resource;
        }
    if (!out->name) return -1;
    const char *v = eq + 1, *end = v + strlen(v), *colon = strchr(v, ':');
    out->has_soft = out->has_hard = 0;
    out->soft = out->hard = 0;
    if (!colon) {
        if (parse_rlim(v, end, &out->soft) < 0) return -1;
        out->hard = out->soft;
        out->has_soft = out->has_hard = 1;
        return 0;
    }
    if (colon > v) {
        if (parse_rlim(v, colon, &out->soft) < 0) return -1;
        out->has_soft = 1;
    }
    if (colon + 1 < end) {
        if (parse_rlim(colon + 1, end, &out->hard) < 0) return -1;
        out->has_hard = 1;
    }
    if (!out->has_soft && !out->has_hard) return -1;
    if (out->has_soft && out->has_hard && out->soft > out->hard) return -1;
    return 0;
}

int cli_parse_assignment(const char *s, size_t *name_len)
{
    if (!s) return -1;
    const char *eq = strchr(s, '=');
    if (!eq || eq == s) return -1;
    *name_len = (size_t)(eq - s);
    return 0;
}

int cli_valid_env_name(const char *s)
{
    return s && *s && !strchr(s, '=');
}

int cli_parse_size(const char *s, size_t *out)
{
    if (!s || !*s) return -1;
    unsigned long long v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (ULLONG_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    if (p == s) return -1;
    unsigned shift = 0;
    if (*p) {
        switch (*p) {
        case 'k':
        case 'K':
            shift = 10;
            break;
        case 'M':
            shift = 20;
            break;
        case 'G':
            shift = 30;
            break;
        default:
            return -1;
        }
        if (p[1]) return -1;
    }
    if (v > (SIZE_MAX >> shift)) return -1;
    *out = (size_t)(v << shift);
    return 0;
}

int cli_split_stages(char **words, int n, char ***stages, size_t *nstages)
{
    size_t k = 0;
    int start = 0;
    for (int i = 0; i <= n; i++) {
        if (i < n && strcmp(words[i], "|") != 0) continue;
        if (i == start) return -1; /* "|" first, last, or twice in a row */
        stages[k++] = words + start;
        if (i < n) words[i] = NULL;
        start = i + 1;
    }
    *nstages = k;
    return 0;
}

char **cli_par_expand(char *const *tmpl, int n, const char *input)
{
    /* One allocation: the pointer array, then the strings. Without a "{}" anywhere the input is
     * appended as a last argument, as xargs -n1 and GNU parallel do. */
    size_t ilen = strlen(input), bytes = 0;
    int has = 0;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(tmpl[i]);
        for (const char *q = tmpl[i]; (q = strstr(q, "{}")); q += 2) {
            has = 1;
            if (ilen > 2)
                len += ilen - 2;
            else
                len -= 2 - ilen;
        }
        bytes += len + 1;
    }
    int argc = n + !has;
    if (!has) bytes += ilen + 1;
    char **v = malloc((size_t)(argc + 1) * sizeof *v + bytes);
    if (!v) return NULL;
    char *w = (char *)(v + argc + 1);
    for (int i = 0; i < n; i++) {
        v[i] = w;
        for (const char *s = tmpl[i];;) {
            const char *q = strstr(s, "{}");
            size_t seg = q ? (size_t)(q - s) : strlen(s);
            memcpy(w, s, seg);
            w += seg;
            if (!q) break;
            memcpy(w, input, ilen);
            w += ilen;
            s = q + 2;
        }
        *w++ = '\0';
    }
    if (!has) {
        v[n] = w;
        memcpy(w, input, ilen + 1);
    }
    v[argc] = NULL;
    return v;
}

int cli_parse_leftovers(const char *s)
{
    if (!strcmp(s, "leave")) return SUBPROC_LEFTOVERS_LEAVE;
    if (!strcmp(s, "kill")) return SUBPROC_LEFTOVERS_KILL;
    if (!strcmp(s, "wait")) return SUBPROC_LEFTOVERS_WAIT;
    return -1;
}

int cli_parse_pty_size(const char *s, unsigned *rows, unsigned *cols)
{
    if (!s) return -1;
    unsigned long v[2] = {0, 0};
    const char *p = s;
    for (int k = 0; k < 2; k++) {
        const char *d = p;
        for (; *p >= '0' && *p <= '9'; p++) {
            v[k] = v[k] * 10 + (unsigned long)(*p - '0');
            if (v[k] > 65535) return -1;
        }
        if (p == d || v[k] == 0) return -1;
        if (k == 0 && *p++ != 'x') return -1;
    }
    if (*p) return -1;
    *rows = (unsigned)v[0];
    *cols = (unsigned)v[1];
    return 0;
}

int cli_parse_host(const char *s, cli_host *out)
{
    memset(out, 0, sizeof *out);
    const char *at = strrchr(s, '@');
    const char *h = s;
    if (at) {
        size_t ul = (size_t)(at - s);
        if (ul == 0 || ul >= sizeof out->user || s[0] == '-') return -1;
        memcpy(out->user, s, ul);
        h = at + 1;
    }
    const char *end = h + strlen(h), *colon = NULL;
    if (h[0] == '[') { /* [ADDR] or [ADDR]:PORT */
        const char *close = strchr(h, ']');
        if (!close || (close[1] != ':' && close[1] != '\0')) return -1;
        colon = close[1] ? close + 1 : NULL;
        end = close;
        h++;
    } else {
        colon = strrchr(h, ':');
        if (colon && strchr(h, ':') != colon) colon = NULL; /* a bare IPv6 address */
        if (colon) end = colon;
    }
    if (colon) {
        long port;
        if (cli_parse_int(colon + 1, 1, 65535, &port) < 0 || colon[1] == '+' || colon[1] == '-')
            return -1;
        out->port = (int)port;
    }
    size_t hl = (size_t)(end - h);
    if (hl == 0 || hl >= sizeof out->host || h[0] == '-') return -1;
    memcpy(out->host, h, hl);
    for (const char *c = out->user; *c; c++)
        if (*c == ' ' || *c == '\t' || *c == '\n') return -1;
    for (const char *c = out->host; *c; c++)
        if (*c == ' ' || *c == '\t' || *c == '\n' || *c == '@' || *c == '/') return -1;
    if (strchr(out->host, ':')) {
        /* Only an IPv6 address has a colon in it (RFC 4291 text form, checked by inet_pton;
         * a zone after '%' is ssh's to resolve): ":::" and the like are typos. */
        char addr[sizeof out->host];
        struct in6_addr a6;
        snprintf(addr, sizeof addr, "%.*s", (int)strcspn(out->host, "%"), out->host);
        if (inet_pton(AF_INET6, addr, &a6) != 1) return -1;
    }
    return 0;
}
