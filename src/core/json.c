/*
 * json.c — the validating JSON tokenizer (see json.h).
 *
 * The scanner is a loop over two states — "expect a value" and "after a value" — with an
 * explicit stack of open containers (no recursion, so the depth cap is the only bound on
 * nesting). Strings are scanned with a byte-class table so the common case (plain ASCII) is
 * one load and one test per byte; escapes and non-ASCII bytes take the slow path, which
 * validates them. Numbers are checked against the RFC 8259 grammar and kept as text.
 */
#include "core/json.h"
#include "core/num.h"

/* Byte classes inside strings: 0 = plain, 1 = quote, 2 = backslash, 3 = control, 4 = non-ASCII. */
static const uint8_t str_class[256] = {
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

void tp_json_init(struct tp_json *j, uint32_t max_tokens, uint32_t max_depth)
{
    memset(j, 0, sizeof *j);
    j->max = max_tokens ? max_tokens : TP_JSON_TOKENS_DEFAULT;
    if (max_depth == 0) max_depth = TP_JSON_DEPTH_DEFAULT;
    j->max_depth = max_depth > TP_JSON_DEPTH_LIMIT ? TP_JSON_DEPTH_LIMIT : max_depth;
}

void tp_json_fini(struct tp_json *j)
{
    free(j->tok);
    j->tok = NULL;
    j->n = j->cap = 0;
}

const char *tp_json_strerror(enum tp_json_err e)
{
    switch (e) {
    case TP_JSON_OK:
        return "ok";
    case TP_JSON_E_SYNTAX:
        return "syntax error";
    case TP_JSON_E_EOF:
        return "unexpected end of document";
    case TP_JSON_E_STRING:
        return "bad string (escape, control character or UTF-8)";
    case TP_JSON_E_NUMBER:
        return "malformed number";
    case TP_JSON_E_TRAILING:
        return "text after the value";
    case TP_JSON_E_DEPTH:
        return "nested too deep";
    case TP_JSON_E_TOKENS:
        return "too many tokens";
    case TP_JSON_E_LENGTH:
        return "document too long";
    case TP_JSON_E_NOMEM:
        return "out of memory";
    }
    return "?";
}

static int grow(struct tp_json *j)
{
    if (j->cap >= j->max) return -E2BIG;
    uint32_t nc = j->cap ? j->cap * 2 : 64;
    if (nc > j->max || nc < j->cap) nc = j->max;
    struct tp_json_tok *t = realloc(j->tok, (size_t)nc * sizeof *t);
    if (!t) return -ENOMEM;
    j->tok = t;
    j->cap = nc;
    return 0;
}

static inline bool is_ws(char c)
{
    /* one comparison for the common case: anything above ' ' is not whitespace */
    return (uint8_t)c <= ' ' && (c == ' ' || c == '\n' || c == '\r' || c == '\t');
}

static inline int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Length of the well-formed UTF-8 sequence at s[0..n) (its first byte ≥ 0x80), or 0. */
static size_t utf8_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c == 0xE0)
        need = 2, lo = 0xA0;
    else if (c >= 0xE1 && c <= 0xEC)
        need = 2;
    else if (c == 0xED)
        need = 2, hi = 0x9F;
    else if (c >= 0xEE && c <= 0xEF)
        need = 2;
    else if (c == 0xF0)
        need = 3, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3)
        need = 3;
    else if (c == 0xF4)
        need = 3, hi = 0x8F;
    else
        return 0;
    if (n < need + 1) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t k = 2; k <= need; k++)
        if ((s[k] & 0xC0) != 0x80) return 0;
    return need + 1;
}

/* Scans the string whose opening quote is at s[*pos - 1]. On success *pos is past the
 * closing quote. Returns TP_JSON_OK or an error code. */
static __attribute__((noinline)) enum tp_json_err scan_string_slow(const char *s, size_t n,
                                                                   size_t *pos, bool *esc)
{
    size_t i = *pos;
    for (;;) {
        while (i < n && str_class[(uint8_t)s[i]] == 0) i++;
        if (i >= n) {
            *pos = i;
            return TP_JSON_E_EOF;
        }
        switch (str_class[(uint8_t)s[i]]) {
        case 1:
            *pos = i + 1;
            return TP_JSON_OK;
        case 2:
            *esc = true;
            if (i + 1 >= n) {
                *pos = i;
                return TP_JSON_E_EOF;
            }
            switch (s[i + 1]) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't':
                i += 2;
                break;
            case 'u':
                for (size_t k = 2; k < 6; k++) {
                    if (i + k >= n) {
                        *pos = i;
                        return TP_JSON_E_EOF;
                    }
                    if (hexval(s[i + k]) < 0) {
                        *pos = i;
                        return TP_JSON_E_STRING;
                    }
                }
                i += 6;
                break;
            default:
                *pos = i;
                return TP_JSON_E_STRING;
            }
            break;
        case 3:
            *pos = i;
            return TP_JSON_E_STRING;
        default: {
            size_t l = utf8_len((const uint8_t *)s + i, n - i);
            if (!l) {
                *pos = i;
                return TP_JSON_E_STRING;
            }
            i += l;
        }
        }
    }
}

static inline bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The common case inline: plain ASCII up to the closing quote. Anything else (an escape,
 * a control or non-ASCII byte, the end of the buffer) goes to the validating slow path. */
static inline __attribute__((always_inline)) enum tp_json_err scan_string(const char *s, size_t n,
                                                                          size_t *pos, bool *esc)
{
    size_t i = *pos;
    while (i < n && str_class[(uint8_t)s[i]] == 0) i++;
    if (TP_LIKELY(i < n && s[i] == '"')) {
        *pos = i + 1;
        return TP_JSON_OK;
    }
    *pos = i;
    return scan_string_slow(s, n, pos, esc);
}

/* Scans a number starting at s[*pos] per RFC 8259. */
static enum tp_json_err scan_number(const char *s, size_t n, size_t *pos)
{
    size_t i = *pos;
    if (i < n && s[i] == '-') i++;
    if (i >= n) goto eof;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < n && is_digit(s[i])) i++;
    } else {
        goto bad;
    }
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n) goto eof;
        if (!is_digit(s[i])) goto bad;
        while (i < n && is_digit(s[i])) i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= n) goto eof;
        if (!is_digit(s[i])) goto bad;
        while (i < n && is_digit(s[i])) i++;
    }
    /* A number ends at a delimiter ("01", "1x", "1.5.2" are malformed numbers). */
    if (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && !is_ws(s[i])) goto bad;
    *pos = i;
    return TP_JSON_OK;
eof:
    *pos = i;
    return TP_JSON_E_EOF;
bad:
    *pos = i;
    return TP_JSON_E_NUMBER;
}

int tp_json_parse(struct tp_json *j, const char *s, size_t n)
{
    uint32_t stack[TP_JSON_DEPTH_LIMIT]; /* open containers' token indices */
    uint8_t ctype[TP_JSON_DEPTH_LIMIT];  /* and their types */
    uint32_t depth = 0;
    size_t i = 0;
    enum tp_json_err err = TP_JSON_OK;
    int rc = -EINVAL;

    j->src = s;
    j->len = n;
    j->n = 0;
    j->err = TP_JSON_OK;
    j->err_off = 0;
    if (n > TP_JSON_LEN_MAX) {
        err = TP_JSON_E_LENGTH;
        rc = -E2BIG;
        goto fail;
    }

value:
    while (i < n && is_ws(s[i])) i++;
    if (i >= n) {
        err = TP_JSON_E_EOF;
        goto fail;
    }
    if (TP_UNLIKELY(j->n == j->cap)) {
        int g = grow(j);
        if (g < 0) {
            err = g == -ENOMEM ? TP_JSON_E_NOMEM : TP_JSON_E_TOKENS;
            rc = g;
            goto fail;
        }
    }
    {
        uint32_t t = j->n++;
        struct tp_json_tok *tk = &j->tok[t];
        tk->off = (uint32_t)i;
        tk->size = 0;
        tk->esc = 0;
        if (depth && j->tok[stack[depth - 1]].type == TP_JSON_ARRAY)
            j->tok[stack[depth - 1]].size++;
        switch (s[i]) {
        case '{':
        case '[':
            if (depth >= j->max_depth) {
                err = TP_JSON_E_DEPTH;
                rc = -E2BIG;
                goto fail;
            }
            tk->type = s[i] == '{' ? TP_JSON_OBJECT : TP_JSON_ARRAY;
            ctype[depth] = tk->type;
            stack[depth++] = t;
            i++;
            while (i < n && is_ws(s[i])) i++;
            if (i >= n) {
                err = TP_JSON_E_EOF;
                goto fail;
            }
            if (s[i] == (tk->type == TP_JSON_OBJECT ? '}' : ']')) {
                tk->len = (uint32_t)(i + 1 - tk->off);
                tk->end = j->n;
                depth--;
                i++;
                goto after;
            }
            if (tk->type == TP_JSON_OBJECT) goto key;
            goto value;
        case '"': {
            bool esc = false;
            i++;
            err = scan_string(s, n, &i, &esc);
            if (err) goto fail;
            tk->type = TP_JSON_STRING;
            tk->off++;
            tk->len = (uint32_t)(i - 1 - tk->off);
            tk->esc = esc;
            tk->end = j->n;
            goto after;
        }
        case 't':
            if (n - i >= 4 && !memcmp(s + i, "true", 4)) {
                tk->type = TP_JSON_TRUE;
                tk->len = 4;
            } else {
                err = n - i < 4 && !memcmp(s + i, "true", n - i) ? TP_JSON_E_EOF : TP_JSON_E_SYNTAX;
                goto fail;
            }
            goto literal;
        case 'f':
            if (n - i >= 5 && !memcmp(s + i, "false", 5)) {
                tk->type = TP_JSON_FALSE;
                tk->len = 5;
            } else {
                err =
                    n - i < 5 && !memcmp(s + i, "false", n - i) ? TP_JSON_E_EOF : TP_JSON_E_SYNTAX;
                goto fail;
            }
            goto literal;
        case 'n':
            if (n - i >= 4 && !memcmp(s + i, "null", 4)) {
                tk->type = TP_JSON_NULL;
                tk->len = 4;
            } else {
                err = n - i < 4 && !memcmp(s + i, "null", n - i) ? TP_JSON_E_EOF : TP_JSON_E_SYNTAX;
                goto fail;
            }
        literal:
            i += tk->len;
            /* a literal must not run into letters or digits ("truex", "null1") */
            if (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                          is_digit(s[i]) || s[i] == '_')) {
                err = TP_JSON_E_SYNTAX;
                goto fail;
            }
            tk->end = j->n;
            goto after;
        default:
            if (s[i] == '-' || is_digit(s[i])) {
                err = scan_number(s, n, &i);
                if (err) goto fail;
                tk->type = TP_JSON_NUMBER;
                tk->len = (uint32_t)(i - tk->off);
                tk->end = j->n;
                goto after;
            }
            err = TP_JSON_E_SYNTAX;
            goto fail;
        }
    }

key:
    /* s[i] is the first non-space character where an object key must start. */
    if (s[i] != '"') {
        err = TP_JSON_E_SYNTAX;
        goto fail;
    }
    if (TP_UNLIKELY(j->n == j->cap)) {
        int g = grow(j);
        if (g < 0) {
            err = g == -ENOMEM ? TP_JSON_E_NOMEM : TP_JSON_E_TOKENS;
            rc = g;
            goto fail;
        }
    }
    {
        uint32_t t = j->n++;
        struct tp_json_tok *tk = &j->tok[t];
        bool esc = false;
        tk->off = (uint32_t)(i + 1);
        i++;
        err = scan_string(s, n, &i, &esc);
        if (err) goto fail;
        tk->type = TP_JSON_STRING;
        tk->len = (uint32_t)(i - 1 - tk->off);
        tk->esc = esc;
        tk->size = 0;
        tk->end = j->n;
        j->tok[stack[depth - 1]].size++; /* an object's members are counted on their keys */
        while (i < n && is_ws(s[i])) i++;
        if (i >= n) {
            err = TP_JSON_E_EOF;
            goto fail;
        }
        if (s[i] != ':') {
            err = TP_JSON_E_SYNTAX;
            goto fail;
        }
        i++;
        goto value;
    }

after:
    while (i < n && is_ws(s[i])) i++;
    if (depth == 0) {
        if (i != n) {
            err = TP_JSON_E_TRAILING;
            goto fail;
        }
        return 0;
    }
    if (i >= n) {
        err = TP_JSON_E_EOF;
        goto fail;
    }
    {
        bool obj = ctype[depth - 1] == TP_JSON_OBJECT;
        if (s[i] == ',') {
            i++;
            if (obj) {
                while (i < n && is_ws(s[i])) i++;
                if (i >= n) {
                    err = TP_JSON_E_EOF;
                    goto fail;
                }
                goto key;
            }
            goto value;
        }
        if (s[i] == (obj ? '}' : ']')) {
            struct tp_json_tok *ct = &j->tok[stack[depth - 1]];
            ct->len = (uint32_t)(i + 1 - ct->off);
            ct->end = j->n;
            depth--;
            i++;
            goto after;
        }
        err = TP_JSON_E_SYNTAX;
        goto fail;
    }

fail:
    j->err = err;
    j->err_off = i;
    j->n = 0;
    return rc;
}

int tp_json_get(const struct tp_json *j, int obj, const char *key, size_t klen)
{
    if (obj < 0 || j->tok[obj].type != TP_JSON_OBJECT) return -1;
    TP_JSON_FOREACH_MEMBER(j, obj, k, v)
    {
        const struct tp_json_tok *t = &j->tok[k];
        if (!t->esc) {
            if (t->len == klen && !memcmp(j->src + t->off, key, klen)) return v;
        } else if (tp_json_eq(j, k, key, klen)) {
            return v;
        }
    }
    return -1;
}

int tp_json_at(const struct tp_json *j, int arr, uint32_t idx)
{
    if (arr < 0 || j->tok[arr].type != TP_JSON_ARRAY || idx >= j->tok[arr].size) return -1;
    int e = arr + 1;
    while (idx--) e = (int)j->tok[e].end;
    return e;
}

/* Decodes one character of the raw (validated) string text r[*i..n) into out; returns the
 * number of bytes written (1..4) and advances *i. */
static int decode_char(const char *r, size_t n, size_t *i, char out[4])
{
    size_t p = *i;
    if (r[p] != '\\') {
        out[0] = r[p];
        *i = p + 1;
        return 1;
    }
    char c = r[p + 1];
    *i = p + 2;
    switch (c) {
    case 'b':
        out[0] = '\b';
        return 1;
    case 'f':
        out[0] = '\f';
        return 1;
    case 'n':
        out[0] = '\n';
        return 1;
    case 'r':
        out[0] = '\r';
        return 1;
    case 't':
        out[0] = '\t';
        return 1;
    case 'u':
        break;
    default:
        out[0] = c;
        return 1;
    }
    uint32_t cp = 0;
    for (int k = 0; k < 4; k++) cp = cp << 4 | (uint32_t)hexval(r[p + 2 + k]);
    *i = p + 6;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        /* a high surrogate: pair it with a following \uDC00..\uDFFF */
        if (p + 12 <= n && r[p + 6] == '\\' && r[p + 7] == 'u') {
            uint32_t lo = 0;
            for (int k = 0; k < 4; k++) lo = lo << 4 | (uint32_t)hexval(r[p + 8 + k]);
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                *i = p + 12;
            } else {
                cp = 0xFFFD;
            }
        } else {
            cp = 0xFFFD;
        }
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        cp = 0xFFFD;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

bool tp_json_eq(const struct tp_json *j, int i, const char *s, size_t n)
{
    if (i < 0 || j->tok[i].type != TP_JSON_STRING) return false;
    const struct tp_json_tok *t = &j->tok[i];
    const char *r = j->src + t->off;
    if (!t->esc) return t->len == n && !memcmp(r, s, n);
    size_t p = 0, o = 0;
    while (p < t->len) {
        char buf[4];
        int k = decode_char(r, t->len, &p, buf);
        if (o + (size_t)k > n || memcmp(s + o, buf, (size_t)k)) return false;
        o += (size_t)k;
    }
    return o == n;
}

int tp_json_unescape(const struct tp_json *j, int i, char *out, size_t cap)
{
    if (i < 0 || j->tok[i].type != TP_JSON_STRING) return -EINVAL;
    const struct tp_json_tok *t = &j->tok[i];
    const char *r = j->src + t->off;
    size_t o = 0;
    if (!t->esc) {
        size_t k = TP_MIN((size_t)t->len, cap);
        memcpy(out, r, k);
        if (k < cap) out[k] = 0;
        if (t->len > cap) return -E2BIG;
        return (int)t->len;
    }
    size_t p = 0;
    while (p < t->len) {
        char buf[4];
        int k = decode_char(r, t->len, &p, buf);
        if (o + (size_t)k > cap) {
            if (o < cap) out[o] = 0;
            return -E2BIG;
        }
        memcpy(out + o, buf, (size_t)k);
        o += (size_t)k;
    }
    if (o < cap) out[o] = 0;
    return (int)o;
}

/* The text of a number, or of a string without escapes; false otherwise. */
static bool num_text(const struct tp_json *j, int i, const char **s, size_t *n)
{
    if (i < 0) return false;
    const struct tp_json_tok *t = &j->tok[i];
    if (t->type != TP_JSON_NUMBER && (t->type != TP_JSON_STRING || t->esc)) return false;
    *s = j->src + t->off;
    *n = t->len;
    return true;
}

int tp_json_f64(const struct tp_json *j, int i, double *ret)
{
    const char *s;
    size_t n;
    if (!num_text(j, i, &s, &n) || n == 0) return -EINVAL;
    return tp_num_parse(s, n, ret);
}

int tp_json_u64(const struct tp_json *j, int i, uint64_t *ret)
{
    const char *s;
    size_t n;
    if (!num_text(j, i, &s, &n) || n == 0 || n > 20) return -EINVAL;
    if (s[0] == '0' && n > 1) return -EINVAL;
    uint64_t v = 0;
    for (size_t k = 0; k < n; k++) {
        if (!is_digit(s[k])) return -EINVAL;
        uint64_t d = (uint64_t)(s[k] - '0');
        if (v > (UINT64_MAX - d) / 10) return -ERANGE;
        v = v * 10 + d;
    }
    *ret = v;
    return 0;
}

int tp_json_i64(const struct tp_json *j, int i, int64_t *ret)
{
    const char *s;
    size_t n;
    if (!num_text(j, i, &s, &n) || n == 0 || n > 20) return -EINVAL;
    bool neg = s[0] == '-';
    size_t k = neg;
    if (k == n) return -EINVAL;
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; k < n; k++) {
        if (!is_digit(s[k])) return -EINVAL;
        uint64_t d = (uint64_t)(s[k] - '0');
        if (v > (lim - d) / 10) return -ERANGE;
        v = v * 10 + d;
    }
    *ret = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

int tp_json_bool(const struct tp_json *j, int i, bool *ret)
{
    enum tp_json_type t = tp_json_type(j, i);
    if (t != TP_JSON_TRUE && t != TP_JSON_FALSE) return -EINVAL;
    *ret = t == TP_JSON_TRUE;
    return 0;
}
