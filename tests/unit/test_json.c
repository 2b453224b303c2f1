/*
 * test_json.c — the JSON tokenizer (core/json.h): token structure of valid documents, string
 * escapes and UTF-8, the RFC 8259 grammar's edge cases rejected with the right error, depth
 * and token caps, numbers kept as text and converted exactly, reuse of one tokenizer across
 * documents, and a mutation loop checking the token invariants on whatever it accepts.
 */
#include "core/json.h"
#include "core/rng.h"
#include "tpt.h"

static struct tp_json J;

static int parse(const char *s)
{
    return tp_json_parse(&J, s, strlen(s));
}

static void setup(uint32_t max_tokens, uint32_t max_depth)
{
    tp_json_fini(&J);
    tp_json_init(&J, max_tokens, max_depth);
}

static void test_structure(void)
{
    setup(0, 0);
    const char *doc =
        " {\"a\": [1, -2.5e3, \"x\"], \"b\": {\"c\": true, \"d\": null}, \"e\": false} ";
    ASSERT_EQ_INT(parse(doc), 0);
    /* tokens: obj, a, arr, 1, -2.5e3, x, b, obj, c, true, d, null, e, false */
    ASSERT_EQ_INT(J.n, 14);
    ASSERT_EQ_INT(tp_json_type(&J, 0), TP_JSON_OBJECT);
    ASSERT_EQ_INT(tp_json_size(&J, 0), 3);
    ASSERT_EQ_INT(J.tok[0].end, 14);
    int a = TP_JSON_GET(&J, 0, "a");
    ASSERT_EQ_INT(a, 2);
    ASSERT_EQ_INT(tp_json_type(&J, a), TP_JSON_ARRAY);
    ASSERT_EQ_INT(tp_json_size(&J, a), 3);
    ASSERT_EQ_INT(J.tok[a].end, 6);
    ASSERT_EQ_INT(tp_json_len(&J, a), strlen("[1, -2.5e3, \"x\"]"));
    int e1 = tp_json_at(&J, a, 1);
    ASSERT_EQ_INT(tp_json_type(&J, e1), TP_JSON_NUMBER);
    ASSERT(tp_json_len(&J, e1) == 6 && !memcmp(tp_json_text(&J, e1), "-2.5e3", 6));
    ASSERT_EQ_INT(tp_json_at(&J, a, 3), -1);
    int x = tp_json_at(&J, a, 2);
    ASSERT(TP_JSON_EQ(&J, x, "x"));
    int b = TP_JSON_GET(&J, 0, "b");
    ASSERT_EQ_INT(tp_json_type(&J, TP_JSON_GET(&J, b, "c")), TP_JSON_TRUE);
    ASSERT_EQ_INT(tp_json_type(&J, TP_JSON_GET(&J, b, "d")), TP_JSON_NULL);
    ASSERT_EQ_INT(tp_json_type(&J, TP_JSON_GET(&J, 0, "e")), TP_JSON_FALSE);
    ASSERT_EQ_INT(TP_JSON_GET(&J, 0, "zz"), -1);
    ASSERT_EQ_INT(TP_JSON_GET(&J, a, "a"), -1); /* not an object */
    ASSERT_EQ_INT(TP_JSON_GET(&J, -1, "a"), -1);
    ASSERT_EQ_INT(tp_json_type(&J, -1), TP_JSON_NONE);
    /* member iteration in document order */
    char keys[8] = {0};
    int nk = 0;
    TP_JSON_FOREACH_MEMBER(&J, 0, k, v)
    {
        keys[nk++] = tp_json_text(&J, k)[0];
        ASSERT_EQ_INT(v, k + 1);
    }
    ASSERT_EQ_STR(keys, "abe");
    int sum = 0, ne = 0;
    setup(0, 0);
    ASSERT_EQ_INT(parse("[[1,2],[3],[],4]"), 0);
    TP_JSON_FOREACH_ELEM(&J, 0, el)
    {
        ne++;
        if (tp_json_type(&J, el) == TP_JSON_ARRAY)
            TP_JSON_FOREACH_ELEM(&J, el, in) sum += tp_json_text(&J, in)[0] - '0';
    }
    ASSERT_EQ_INT(ne, 4);
    ASSERT_EQ_INT(sum, 6);
    /* empty containers and scalars at top level */
    ASSERT_EQ_INT(parse("{}"), 0);
    ASSERT_EQ_INT(J.n, 1);
    ASSERT_EQ_INT(tp_json_size(&J, 0), 0);
    ASSERT_EQ_INT(parse("  \"s\"\n"), 0);
    ASSERT_EQ_INT(tp_json_type(&J, 0), TP_JSON_STRING);
    ASSERT_EQ_INT(parse("-0"), 0);
    ASSERT_EQ_INT(parse("null"), 0);
    ASSERT_EQ_INT(parse("\t[ ]\r\n"), 0);
}

static void test_strings(void)
{
    setup(0, 0);
    char out[64];
    ASSERT_EQ_INT(parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\""), 0);
    ASSERT_EQ_INT(J.tok[0].esc, 1);
    int n = tp_json_unescape(&J, 0, out, sizeof out);
    ASSERT_EQ_INT(n, 12);
    ASSERT(!memcmp(out, "a\"b\\c/d\b\f\n\r\t", 12));
    /* \u escapes: ASCII, 2-byte, 3-byte, a surrogate pair, and lone surrogates */
    ASSERT_EQ_INT(parse("\"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\""), 0);
    n = tp_json_unescape(&J, 0, out, sizeof out);
    ASSERT_EQ_INT(n, 1 + 2 + 3 + 4);
    ASSERT(!memcmp(out, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10));
    ASSERT_EQ_INT(parse("\"\\udc00x\\ud800\""), 0);
    n = tp_json_unescape(&J, 0, out, sizeof out);
    ASSERT_EQ_INT(n, 7);
    ASSERT(!memcmp(out, "\xef\xbf\xbdx\xef\xbf\xbd", 7));
    /* raw UTF-8 passes through */
    ASSERT_EQ_INT(parse("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""), 0);
    ASSERT_EQ_INT(J.tok[0].esc, 0);
    /* comparisons decode escapes */
    ASSERT_EQ_INT(parse("{\"k\\u0065y\":1,\"key2\":2}"), 0);
    ASSERT_EQ_INT(TP_JSON_GET(&J, 0, "key"), 2);
    ASSERT(TP_JSON_EQ(&J, 1, "key"));
    ASSERT(!TP_JSON_EQ(&J, 1, "ke"));
    ASSERT(!TP_JSON_EQ(&J, 1, "keys"));
    ASSERT_EQ_INT(TP_JSON_GET(&J, 0, "key2"), 4);
    /* unescape into a short buffer: -E2BIG with a prefix */
    ASSERT_EQ_INT(parse("\"abcdef\""), 0);
    ASSERT_EQ_INT(tp_json_unescape(&J, 0, out, 3), -E2BIG);
    ASSERT_EQ_INT(tp_json_unescape(&J, 0, out, 7), 6);
    ASSERT_EQ_STR(out, "abcdef");
    ASSERT_EQ_INT(parse("1"), 0);
    ASSERT_EQ_INT(tp_json_unescape(&J, 0, out, sizeof out), -EINVAL);
}

struct bad {
    const char *doc;
    enum tp_json_err err;
};

static void test_invalid(void)
{
    setup(0, 0);
    static const struct bad cases[] = {
        {"", TP_JSON_E_EOF},
        {"   ", TP_JSON_E_EOF},
        {"[", TP_JSON_E_EOF},
        {"{\"a\":", TP_JSON_E_EOF},
        {"{\"a\"", TP_JSON_E_EOF},
        {"\"abc", TP_JSON_E_EOF},
        {"[1,2", TP_JSON_E_EOF},
        {"tru", TP_JSON_E_EOF},
        {"nul", TP_JSON_E_EOF},
        {"-", TP_JSON_E_EOF},
        {"1e", TP_JSON_E_EOF},
        {"[1,]", TP_JSON_E_SYNTAX},
        {"{\"a\":1,}", TP_JSON_E_SYNTAX},
        {"{a:1}", TP_JSON_E_SYNTAX},
        {"{'a':1}", TP_JSON_E_SYNTAX},
        {"{\"a\" 1}", TP_JSON_E_SYNTAX},
        {"{\"a\":1 \"b\":2}", TP_JSON_E_SYNTAX},
        {"[1 2]", TP_JSON_E_SYNTAX},
        {"[1}", TP_JSON_E_SYNTAX},
        {"{\"a\":1]", TP_JSON_E_SYNTAX},
        {"{1:2}", TP_JSON_E_SYNTAX},
        {"truex", TP_JSON_E_SYNTAX},
        {"nulll", TP_JSON_E_SYNTAX},
        {"True", TP_JSON_E_SYNTAX},
        {"NaN", TP_JSON_E_SYNTAX},
        {"Infinity", TP_JSON_E_SYNTAX},
        {"+1", TP_JSON_E_SYNTAX},
        {".5", TP_JSON_E_SYNTAX},
        {"// c\n1", TP_JSON_E_SYNTAX},
        {"01", TP_JSON_E_NUMBER},
        {"-01", TP_JSON_E_NUMBER},
        {"1.", TP_JSON_E_EOF},
        {"1.e5", TP_JSON_E_NUMBER},
        {"1.5x", TP_JSON_E_NUMBER},
        {"0x10", TP_JSON_E_NUMBER},
        {"1e+", TP_JSON_E_EOF},
        {"--1", TP_JSON_E_NUMBER},
        {"{} x", TP_JSON_E_TRAILING},
        {"1 2", TP_JSON_E_TRAILING},
        {"{}}", TP_JSON_E_TRAILING},
        {"\"a\tb\"", TP_JSON_E_STRING},
        {"\"a\nb\"", TP_JSON_E_STRING},
        {"\"\\x\"", TP_JSON_E_STRING},
        {"\"\\u12g4\"", TP_JSON_E_STRING},
        {"\"\\u12\"", TP_JSON_E_STRING},
        {"\"\xc0\x80\"", TP_JSON_E_STRING},         /* overlong */
        {"\"\xed\xa0\x80\"", TP_JSON_E_STRING},     /* a surrogate in UTF-8 */
        {"\"\xf4\x90\x80\x80\"", TP_JSON_E_STRING}, /* beyond U+10FFFF */
        {"\"\xe2\x82\"", TP_JSON_E_STRING},         /* truncated */
        {"\"\xff\"", TP_JSON_E_STRING},
        {"\"\x80\"", TP_JSON_E_STRING},
    };
    for (size_t i = 0; i < TP_ARRAY_LEN(cases); i++) {
        int rc = parse(cases[i].doc);
        if (rc != -EINVAL || J.err != cases[i].err)
            TPT_FAIL("case %zu \"%s\": rc %d err %s (want %s)", i, cases[i].doc, rc,
                     tp_json_strerror(J.err), tp_json_strerror(cases[i].err));
        ASSERT_EQ_INT(J.n, 0);
    }
    /* a NUL byte inside a string is a control character; outside, a syntax error */
    ASSERT_EQ_INT(tp_json_parse(&J, "\"a\0b\"", 5), -EINVAL);
    ASSERT_EQ_INT(J.err, TP_JSON_E_STRING);
    ASSERT_EQ_INT(tp_json_parse(&J, "[1]\0", 4), -EINVAL);
    ASSERT_EQ_INT(J.err, TP_JSON_E_TRAILING);
    /* the buffer is not read past its length */
    ASSERT_EQ_INT(tp_json_parse(&J, "[1,2]", 3), -EINVAL);
    ASSERT_EQ_INT(J.err, TP_JSON_E_EOF);
    ASSERT_EQ_INT(tp_json_parse(&J, "true", 3), -EINVAL);
    ASSERT_EQ_INT(J.err, TP_JSON_E_EOF);
}

static void nest(char *buf, int depth)
{
    for (int i = 0; i < depth; i++) buf[i] = '[';
    for (int i = 0; i < depth; i++) buf[depth + i] = ']';
    buf[2 * depth] = 0;
}

static void test_caps(void)
{
    static char buf[2 * TP_JSON_DEPTH_LIMIT + 8];
    setup(0, 0);
    nest(buf, TP_JSON_DEPTH_DEFAULT);
    ASSERT_EQ_INT(parse(buf), 0);
    nest(buf, TP_JSON_DEPTH_DEFAULT + 1);
    ASSERT_EQ_INT(parse(buf), -E2BIG);
    ASSERT_EQ_INT(J.err, TP_JSON_E_DEPTH);
    ASSERT_EQ_INT(J.err_off, TP_JSON_DEPTH_DEFAULT);
    setup(0, 3);
    ASSERT_EQ_INT(parse("{\"a\":[{}]}"), 0);
    ASSERT_EQ_INT(parse("{\"a\":[{\"b\":[]}]}"), -E2BIG);
    ASSERT_EQ_INT(J.err, TP_JSON_E_DEPTH);
    setup(0, 100000); /* capped at TP_JSON_DEPTH_LIMIT */
    ASSERT_EQ_INT(J.max_depth, TP_JSON_DEPTH_LIMIT);
    nest(buf, TP_JSON_DEPTH_LIMIT);
    ASSERT_EQ_INT(parse(buf), 0);
    nest(buf, TP_JSON_DEPTH_LIMIT + 1);
    ASSERT_EQ_INT(parse(buf), -E2BIG);
    setup(4, 0);
    ASSERT_EQ_INT(parse("[1,2,3]"), 0);
    ASSERT_EQ_INT(J.n, 4);
    ASSERT_EQ_INT(parse("[1,2,3,4]"), -E2BIG);
    ASSERT_EQ_INT(J.err, TP_JSON_E_TOKENS);
    ASSERT_EQ_INT(parse("{\"a\":1,\"b\":2}"), -E2BIG);
    ASSERT_EQ_INT(parse("{\"a\":[1]}"), 0);
    ASSERT_EQ_STR(tp_json_strerror(TP_JSON_E_TOKENS), "too many tokens");
}

static void test_numbers(void)
{
    setup(0, 0);
    double d;
    uint64_t u;
    int64_t i;
    bool b;
    ASSERT_EQ_INT(parse("[0.1, \"65083.67\", 1e-7, \"0.00000000\", \"\", \"1x\", \"a\\u0031\", 5, "
                        "18239578009413566319, \"18446744073709551615\", 18446744073709551616, "
                        "-9223372036854775808, 9223372036854775808, \"007\", 1.5, -3, true, null]"),
                  0);
    int t[18];
    for (uint32_t k = 0; k < 18; k++) t[k] = tp_json_at(&J, 0, k);
    ASSERT_EQ_INT(tp_json_f64(&J, t[0], &d), 0);
    ASSERT_EQ_DBL(d, 0.1);
    ASSERT_EQ_INT(tp_json_f64(&J, t[1], &d), 0);
    ASSERT_EQ_DBL(d, 65083.67);
    ASSERT_EQ_INT(tp_json_f64(&J, t[2], &d), 0);
    ASSERT_EQ_DBL(d, 1e-7);
    ASSERT_EQ_INT(tp_json_f64(&J, t[3], &d), 0);
    ASSERT_EQ_DBL(d, 0.0);
    ASSERT_EQ_INT(tp_json_f64(&J, t[4], &d), -EINVAL); /* empty string */
    ASSERT_EQ_INT(tp_json_f64(&J, t[5], &d), -EINVAL);
    ASSERT_EQ_INT(tp_json_f64(&J, t[6], &d), -EINVAL); /* escaped: not a number's text */
    ASSERT_EQ_INT(tp_json_f64(&J, t[16], &d), -EINVAL);
    ASSERT_EQ_INT(tp_json_f64(&J, -1, &d), -EINVAL);
    ASSERT_EQ_INT(tp_json_u64(&J, t[7], &u), 0);
    ASSERT_EQ_U64(u, 5);
    ASSERT_EQ_INT(tp_json_u64(&J, t[8], &u), 0);
    ASSERT_EQ_U64(u, UINT64_C(18239578009413566319));
    ASSERT_EQ_INT(tp_json_i64(&J, t[8], &i), -ERANGE);
    ASSERT_EQ_INT(tp_json_u64(&J, t[9], &u), 0);
    ASSERT_EQ_U64(u, UINT64_MAX);
    ASSERT_EQ_INT(tp_json_u64(&J, t[10], &u), -ERANGE);
    ASSERT_EQ_INT(tp_json_i64(&J, t[11], &i), 0);
    ASSERT(i == INT64_MIN);
    ASSERT_EQ_INT(tp_json_i64(&J, t[12], &i), -ERANGE);
    ASSERT_EQ_INT(tp_json_u64(&J, t[13], &u), -EINVAL); /* leading zero */
    ASSERT_EQ_INT(tp_json_u64(&J, t[14], &u), -EINVAL); /* fraction */
    ASSERT_EQ_INT(tp_json_u64(&J, t[15], &u), -EINVAL); /* sign */
    ASSERT_EQ_INT(tp_json_i64(&J, t[15], &i), 0);
    ASSERT_EQ_INT(i, -3);
    ASSERT_EQ_INT(tp_json_bool(&J, t[16], &b), 0);
    ASSERT(b);
    ASSERT_EQ_INT(tp_json_bool(&J, t[17], &b), -EINVAL);
    /* prices keep every digit: the text, not a double, is what the token holds */
    ASSERT_EQ_INT(parse("{\"p\":0.30000000000000004441}"), 0);
    int p = TP_JSON_GET(&J, 0, "p");
    ASSERT_EQ_INT(tp_json_len(&J, p), 22);
    ASSERT_EQ_INT(tp_json_f64(&J, p, &d), 0);
    ASSERT_EQ_DBL(d, 0.30000000000000004);
    ASSERT_EQ_INT(parse("1e400"), 0); /* valid JSON, not a finite double */
    ASSERT_EQ_INT(tp_json_f64(&J, 0, &d), -ERANGE);
}

static void test_reuse(void)
{
    setup(0, 0);
    static char big[200000];
    size_t o = 0;
    big[o++] = '[';
    for (int k = 0; k < 20000; k++)
        o += (size_t)snprintf(big + o, sizeof big - o, "%s%d", k ? "," : "", k);
    big[o++] = ']';
    ASSERT_EQ_INT(tp_json_parse(&J, big, o), 0);
    ASSERT_EQ_INT(J.n, 20001);
    uint32_t cap = J.cap;
    ASSERT_EQ_INT(tp_json_size(&J, 0), 20000);
    int last = tp_json_at(&J, 0, 19999);
    uint64_t u;
    ASSERT_EQ_INT(tp_json_u64(&J, last, &u), 0);
    ASSERT_EQ_U64(u, 19999);
    ASSERT_EQ_INT(parse("[1,"), -EINVAL);
    ASSERT_EQ_INT(parse("{\"x\":2}"), 0);
    ASSERT_EQ_INT(J.n, 3);
    ASSERT_EQ_INT(J.cap, cap); /* no reallocation for smaller documents */
}

/* Checks the invariants of json.h on an accepted document. */
static void check_tokens(void)
{
    ASSERT(J.n >= 1);
    ASSERT_EQ_INT(J.tok[0].end, J.n);
    for (uint32_t i = 0; i < J.n; i++) {
        const struct tp_json_tok *t = &J.tok[i];
        ASSERT(t->end > i && t->end <= J.n);
        ASSERT((size_t)t->off + t->len <= J.len);
        if (t->type == TP_JSON_OBJECT || t->type == TP_JSON_ARRAY) {
            uint32_t subtrees = 0, c = i + 1;
            while (c < t->end) {
                if (t->type == TP_JSON_OBJECT && subtrees % 2 == 0)
                    ASSERT_EQ_INT(J.tok[c].type, TP_JSON_STRING); /* a key */
                c = J.tok[c].end;
                subtrees++;
            }
            ASSERT_EQ_INT(c, t->end);
            ASSERT_EQ_INT(subtrees, t->type == TP_JSON_OBJECT ? 2 * t->size : t->size);
        } else {
            ASSERT_EQ_INT(t->end, i + 1);
        }
    }
}

static void test_mutations(void)
{
    setup(256, 16);
    static const char *const seeds[] = {
        "{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":2,\"p\":\"1.5\",\"q\":\"2\",\"m\":true}",
        "{\"arg\":{\"channel\":\"trades\"},\"data\":[{\"px\":\"1\",\"a\":[1,[2,{}]],\"u\":"
        "\"\\u00e9\"}]}",
        "[1,[\"a\\n\",null,false],{\"k\":-1.5e-3}]",
    };
    struct tp_rng rng;
    tp_rng_seed(&rng, 42);
    char buf[256];
    int accepted = 0, rejected = 0;
    for (int it = 0; it < 30000; it++) {
        const char *s = seeds[it % 3];
        size_t n = strlen(s);
        memcpy(buf, s, n);
        int muts = 1 + (int)(tp_rng_u64(&rng) % 4);
        for (int m = 0; m < muts; m++) {
            size_t at = tp_rng_u64(&rng) % n;
            switch (tp_rng_u64(&rng) % 4) {
            case 0:
                buf[at] = (char)(tp_rng_u64(&rng) & 0xff);
                break;
            case 1:
                buf[at] = "{}[],:\"\\0-e.tnfu "[tp_rng_u64(&rng) % 17];
                break;
            case 2:
                n = at + 1;
                break; /* truncate */
            default:
                if (n < sizeof buf - 1) {
                    memmove(buf + at + 1, buf + at, n - at);
                    buf[at] = buf[tp_rng_u64(&rng) % n];
                    n++;
                }
            }
        }
        if (tp_json_parse(&J, buf, n) == 0) {
            accepted++;
            check_tokens();
        } else {
            rejected++;
            ASSERT(J.err != TP_JSON_OK);
            ASSERT(J.err_off <= n);
        }
    }
    ASSERT(accepted > 100 && rejected > 100);
}

static void fini(void)
{
    tp_json_fini(&J);
}

TPT_MAIN({"structure", test_structure}, {"strings", test_strings}, {"invalid", test_invalid},
         {"caps", test_caps}, {"numbers", test_numbers}, {"reuse", test_reuse},
         {"mutations", test_mutations}, {"fini", fini})
