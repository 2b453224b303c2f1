/*
 * json.c — the JSON writer and the flat-object reader (see json.h).
 */
#include <math.h>

#include "core/num.h"
#include "core/tptime.h"
#include "serve/json.h"

void tp_jw_init(struct tp_jw *w, struct tp_buf *b)
{
    w->b = b;
    w->err = 0;
    w->depth = 0;
    w->first = 0;
    w->after_key = false;
}

static void put(struct tp_jw *w, const char *s, size_t n)
{
    if (w->err) return;
    int rc = tp_buf_append(w->b, s, n);
    if (rc) w->err = rc;
}

static void putc_(struct tp_jw *w, char c)
{
    put(w, &c, 1);
}

/* Comma before a value, unless it follows a key or opens its container. */
static void sep(struct tp_jw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth == 0) return;
    uint32_t bit = 1u << (w->depth - 1);
    if (w->first & bit)
        w->first &= ~bit;
    else
        putc_(w, ',');
}

static void open_(struct tp_jw *w, char c)
{
    sep(w);
    if (w->depth >= TP_JW_DEPTH) {
        if (!w->err) w->err = -E2BIG;
        return;
    }
    putc_(w, c);
    w->first |= 1u << w->depth;
    w->depth++;
}

static void close_(struct tp_jw *w, char c)
{
    if (w->depth == 0) {
        if (!w->err) w->err = -EINVAL;
        return;
    }
    w->depth--;
    putc_(w, c);
}

void tp_jw_obj(struct tp_jw *w)
{
    open_(w, '{');
}

void tp_jw_obj_end(struct tp_jw *w)
{
    close_(w, '}');
}

void tp_jw_arr(struct tp_jw *w)
{
    open_(w, '[');
}

void tp_jw_arr_end(struct tp_jw *w)
{
    close_(w, ']');
}

/* Length of a valid UTF-8 sequence at s[0..n), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) return 0;
    unsigned cp = c & (0x3f >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

static void quoted(struct tp_jw *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    putc_(w, '"');
    size_t i = 0, run = 0; /* p[i - run .. i) is pending plain text */
    while (i < n) {
        unsigned c = p[i];
        const char *esc = NULL;
        char u[6];
        size_t elen = 0;
        if (c == '"')
            esc = "\\\"", elen = 2;
        else if (c == '\\')
            esc = "\\\\", elen = 2;
        else if (c == '\n')
            esc = "\\n", elen = 2;
        else if (c == '\r')
            esc = "\\r", elen = 2;
        else if (c == '\t')
            esc = "\\t", elen = 2;
        else if (c < 0x20 || c == 0x7f) {
            u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0', u[4] = hex[c >> 4], u[5] = hex[c & 15];
            esc = u, elen = 6;
        } else if (c >= 0x80) {
            size_t l = utf8_len(p + i, n - i);
            if (l == 0)
                esc = "\xef\xbf\xbd", elen = 3; /* U+FFFD */
            else {
                i += l;
                run += l;
                continue;
            }
        }
        if (esc) {
            put(w, (const char *)p + i - run, run);
            put(w, esc, elen);
            run = 0;
        } else {
            run++;
        }
        i++;
    }
    put(w, (const char *)p + i - run, run);
    putc_(w, '"');
}

void tp_jw_key(struct tp_jw *w, const char *k)
{
    sep(w);
    quoted(w, k, strlen(k));
    putc_(w, ':');
    w->after_key = true;
}

void tp_jw_strn(struct tp_jw *w, const char *s, size_t n)
{
    sep(w);
    quoted(w, s, n);
}

void tp_jw_str(struct tp_jw *w, const char *s)
{
    tp_jw_strn(w, s, strlen(s));
}

void tp_jw_str_or_null(struct tp_jw *w, const char *s)
{
    if (s && *s)
        tp_jw_str(w, s);
    else
        tp_jw_null(w);
}

void tp_jw_null(struct tp_jw *w)
{
    sep(w);
    put(w, "null", 4);
}

void tp_jw_bool(struct tp_jw *w, bool v)
{
    sep(w);
    if (v)
        put(w, "true", 4);
    else
        put(w, "false", 5);
}

void tp_jw_num(struct tp_jw *w, double v)
{
    if (!isfinite(v)) {
        tp_jw_null(w);
        return;
    }
    char s[TP_NUM_STRLEN];
    size_t n = tp_num_format(v, s);
    sep(w);
    put(w, s, n);
}

static size_t fmt_u64(uint64_t v, char *out) /* out: 20 bytes */
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    return n;
}

static size_t fmt_i64(int64_t v, char *out) /* out: 21 bytes */
{
    if (v >= 0) return fmt_u64((uint64_t)v, out);
    out[0] = '-';
    return 1 + fmt_u64(-(uint64_t)v, out + 1);
}

void tp_jw_i64(struct tp_jw *w, int64_t v)
{
    char s[24];
    size_t n = fmt_i64(v, s);
    sep(w);
    put(w, s, n);
}

void tp_jw_u64(struct tp_jw *w, uint64_t v)
{
    char s[24];
    size_t n = fmt_u64(v, s);
    sep(w);
    put(w, s, n);
}

void tp_jw_ns(struct tp_jw *w, int64_t ns)
{
    char s[24];
    size_t n = fmt_i64(ns, s);
    sep(w);
    putc_(w, '"');
    put(w, s, n);
    putc_(w, '"');
}

void tp_jw_u64s(struct tp_jw *w, uint64_t v)
{
    char s[24];
    size_t n = fmt_u64(v, s);
    sep(w);
    putc_(w, '"');
    put(w, s, n);
    putc_(w, '"');
}

void tp_jw_time(struct tp_jw *w, int64_t ns)
{
    char s[TP_TIME_STRLEN];
    size_t n = tp_time_format(ns, s);
    sep(w);
    putc_(w, '"');
    put(w, s, n);
    putc_(w, '"');
}

void tp_jw_dur(struct tp_jw *w, int64_t ns)
{
    if (ns <= 0) {
        tp_jw_null(w);
        return;
    }
    char s[32];
    size_t n = tp_duration_format(ns, s, sizeof(s));
    tp_jw_strn(w, s, n);
}

/* ---- The flat reader ---- */

struct rd {
    const char *p, *end;
};

static void ws(struct rd *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int hex4(struct rd *r, unsigned *out)
{
    if (r->end - r->p < 4) return -EINVAL;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(r->p[i]);
        if (h < 0) return -EINVAL;
        v = v << 4 | (unsigned)h;
    }
    r->p += 4;
    *out = v;
    return 0;
}

static int put_utf8(char *out, size_t *n, size_t cap, unsigned cp)
{
    char t[4];
    size_t l;
    if (cp < 0x80)
        t[0] = (char)cp, l = 1;
    else if (cp < 0x800)
        t[0] = (char)(0xc0 | cp >> 6), t[1] = (char)(0x80 | (cp & 0x3f)), l = 2;
    else if (cp < 0x10000)
        t[0] = (char)(0xe0 | cp >> 12), t[1] = (char)(0x80 | ((cp >> 6) & 0x3f)),
        t[2] = (char)(0x80 | (cp & 0x3f)), l = 3;
    else
        t[0] = (char)(0xf0 | cp >> 18), t[1] = (char)(0x80 | ((cp >> 12) & 0x3f)),
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), t[3] = (char)(0x80 | (cp & 0x3f)), l = 4;
    if (*n + l > cap) return -E2BIG;
    memcpy(out + *n, t, l);
    *n += l;
    return 0;
}

/* Reads a JSON string into out (NUL-terminated, at most TP_JSON_FLAT_STR bytes). */
static int string(struct rd *r, char out[TP_JSON_FLAT_STR + 1])
{
    size_t n = 0;
    if (r->p >= r->end || *r->p != '"') return -EINVAL;
    r->p++;
    for (;;) {
        if (r->p >= r->end) return -EINVAL;
        unsigned char c = (unsigned char)*r->p++;
        if (c == '"') break;
        if (c < 0x20) return -EINVAL;
        if (c != '\\') {
            if (n >= TP_JSON_FLAT_STR) return -E2BIG;
            out[n++] = (char)c;
            continue;
        }
        if (r->p >= r->end) return -EINVAL;
        char e = *r->p++;
        unsigned cp;
        int rc;
        switch (e) {
        case '"':
            cp = '"';
            break;
        case '\\':
            cp = '\\';
            break;
        case '/':
            cp = '/';
            break;
        case 'b':
            cp = '\b';
            break;
        case 'f':
            cp = '\f';
            break;
        case 'n':
            cp = '\n';
            break;
        case 'r':
            cp = '\r';
            break;
        case 't':
            cp = '\t';
            break;
        case 'u':
            if ((rc = hex4(r, &cp))) return rc;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                unsigned lo;
                if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u') return -EINVAL;
                r->p += 2;
                if ((rc = hex4(r, &lo))) return rc;
                if (lo < 0xdc00 || lo > 0xdfff) return -EINVAL;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                return -EINVAL;
            }
            if (cp == 0) return -EINVAL; /* no NUL inside names */
            break;
        default:
            return -EINVAL;
        }
        if ((rc = put_utf8(out, &n, TP_JSON_FLAT_STR, cp))) return rc;
    }
    out[n] = 0;
    return 0;
}

int tp_json_flat_parse(const char *s, size_t n, tp_json_flat_fn fn, void *arg)
{
    struct rd r = {s, s + n};
    char key[TP_JSON_FLAT_STR + 1], val[TP_JSON_FLAT_STR + 1];
    int rc;
    ws(&r);
    if (r.p >= r.end || *r.p++ != '{') return -EINVAL;
    ws(&r);
    if (r.p < r.end && *r.p == '}') {
        r.p++;
        goto out_tail;
    }
    for (;;) {
        ws(&r);
        if ((rc = string(&r, key))) return rc;
        ws(&r);
        if (r.p >= r.end || *r.p++ != ':') return -EINVAL;
        ws(&r);
        if (r.p < r.end && *r.p == '[') {
            r.p++;
            ws(&r);
            if (r.p < r.end && *r.p == ']') {
                r.p++;
                if ((rc = fn(arg, key, NULL, true))) return rc;
            } else {
                for (;;) {
                    ws(&r);
                    if ((rc = string(&r, val))) return rc;
                    if ((rc = fn(arg, key, val, true))) return rc;
                    ws(&r);
                    if (r.p >= r.end) return -EINVAL;
                    char c = *r.p++;
                    if (c == ']') break;
                    if (c != ',') return -EINVAL;
                }
            }
        } else {
            if ((rc = string(&r, val))) return rc;
            if ((rc = fn(arg, key, val, false))) return rc;
        }
        ws(&r);
        if (r.p >= r.end) return -EINVAL;
        char c = *r.p++;
        if (c == '}') break;
        if (c != ',') return -EINVAL;
    }
out_tail:
    ws(&r);
    return r.p == r.end ? 0 : -EINVAL;
}
