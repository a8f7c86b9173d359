/* json.c - just enough of a JSON writer for the --json report: one object, flat keys, arrays of
 * strings. Output is always valid JSON (RFC 8259), whatever bytes the strings hold. */
#include "cli.h"

#include <string.h>

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is not one. Rejects overlong
 * forms, surrogates and code points past U+10FFFF, as RFC 3629 says. */
static size_t utf8_len(const unsigned char *s, size_t left)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t n;
    unsigned min, cp;
    if ((c & 0xe0) == 0xc0)
        n = 2, min = 0x80, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0)
        n = 3, min = 0x800, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0)
        n = 4, min = 0x10000, cp = c & 0x07;
    else
        return 0;
    if (n > left) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n;
}

void cli_json_write_string(FILE *f, const char *str)
{
    cli_json_write_stringn(f, str, strlen(str));
}

void cli_json_write_stringn(FILE *f, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str, *end = s + len;
    putc('"', f);
    while (s < end) {
        unsigned c = *s;
        if (c == '"' || c == '\\') {
            putc('\\', f);
            putc((int)c, f);
            s++;
        } else if (c == '\n') {
            fputs("\\n", f), s++;
        } else if (c == '\t') {
            fputs("\\t", f), s++;
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(f, "\\u%04x", c), s++;
        } else {
            size_t n = utf8_len(s, (size_t)(end - s));
            if (n == 0) {
                fputs("\\ufffd", f); /* not UTF-8: say so rather than emit invalid JSON */
                s++;
            } else {
                fwrite(s, 1, n, f);
                s += n;
            }
        }
    }
    putc('"', f);
}

void cli_json_begin(cli_json *j, FILE *f)
{
    j->f = f;
    j->need_comma = 0;
    putc('{', f);
}

void cli_json_end(cli_json *j)
{
    fputs("}\n", j->f);
}

void cli_json_key(cli_json *j, const char *key)
{
    if (j->need_comma) putc(',', j->f);
    j->need_comma = 1;
    if (key) {
        cli_json_write_string(j->f, key);
        putc(':', j->f);
    }
}

void cli_json_str(cli_json *j, const char *key, const char *val)
{
    cli_json_key(j, key);
    if (val)
        cli_json_write_string(j->f, val);
    else
        fputs("null", j->f);
}

void cli_json_int(cli_json *j, const char *key, long long val)
{
    cli_json_key(j, key);
    fprintf(j->f, "%lld", val);
}

void cli_json_bool(cli_json *j, const char *key, int val)
{
    cli_json_key(j, key);
    fputs(val ? "true" : "false", j->f);
}

void cli_json_null(cli_json *j, const char *key)
{
    cli_json_key(j, key);
    fputs("null", j->f);
}

void cli_json_begin_array(cli_json *j, const char *key)
{
    cli_json_key(j, key);
    putc('[', j->f);
    j->need_comma = 0;
}

void cli_json_array_str(cli_json *j, const char *val)
{
    cli_json_str(j, NULL, val);
}

void cli_json_end_array(cli_json *j)
{
    putc(']', j->f);
    j->need_comma = 1;
}

void cli_json_strn(cli_json *j, const char *key, const char *val, size_t len)
{
    cli_json_key(j, key);
    cli_json_write_stringn(j->f, val ? val : "", val ? len : 0);
}

void cli_json_begin_object(cli_json *j, const char *key)
{
    cli_json_key(j, key);
    putc('{', j->f);
    j->need_comma = 0;
}

void cli_json_end_object(cli_json *j)
{
    putc('}', j->f);
    j->need_comma = 1;
}

void cli_json_array_int(cli_json *j, long long val)
{
    cli_json_int(j, NULL, val);
}

void cli_json_output(cli_json *j, const char *name, const char *data, size_t len,
                     size_t head_len, int truncated, unsigned long long total)
{
    char key[64];
    if (!data) len = head_len = 0;
    if (!truncated || head_len > len) head_len = len;
    cli_json_strn(j, name, data, head_len);
    snprintf(key, sizeof key, "%s_tail", name);
    cli_json_strn(j, key, data ? data + head_len : NULL, len - head_len);
    snprintf(key, sizeof key, "%s_omitted_bytes", name);
    cli_json_int(j, key, truncated && total > len ? (long long)(total - len) : 0);
    snprintf(key, sizeof key, "%s_truncated", name);
    cli_json_bool(j, key, truncated);
}
