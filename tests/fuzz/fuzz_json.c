/*
 * fuzz_json.c — libFuzzer target for the JSON tokenizer (core/json.h).
 *
 * Any input: tokenize it with small caps (so the depth and token limits are reached), and on
 * success check the token invariants of json.h and run every accessor on every token
 * (unescape, comparisons, number conversions, lookups). A crash, a sanitizer report or a
 * broken invariant (abort) is a bug.
 */
#include "core/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct tp_json *j, size_t size)
{
    if (j->n == 0 || j->tok[0].end != j->n) abort();
    for (uint32_t i = 0; i < j->n; i++) {
        const struct tp_json_tok *t = &j->tok[i];
        if (t->end <= i || t->end > j->n || (size_t)t->off + t->len > size) abort();
        if (t->type == TP_JSON_OBJECT || t->type == TP_JSON_ARRAY) {
            uint32_t subtrees = 0, c = i + 1;
            while (c < t->end) {
                if (t->type == TP_JSON_OBJECT && subtrees % 2 == 0 &&
                    j->tok[c].type != TP_JSON_STRING)
                    abort();
                c = j->tok[c].end;
                subtrees++;
            }
            if (c != t->end) abort();
            if (subtrees != (t->type == TP_JSON_OBJECT ? 2 * t->size : t->size)) abort();
        } else if (t->end != i + 1) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct tp_json j;
    static bool init;
    if (!init) {
        tp_json_init(&j, 4096, 32);
        init = true;
    }
    if (tp_json_parse(&j, (const char *)data, size) != 0) {
        if (j.err == TP_JSON_OK || j.err_off > size || j.n != 0) abort();
        return 0;
    }
    check(&j, size);
    char buf[64];
    for (uint32_t i = 0; i < j.n; i++) {
        double d;
        uint64_t u;
        int64_t v;
        bool b;
        int n = tp_json_unescape(&j, (int)i, buf, sizeof buf);
        if (j.tok[i].type == TP_JSON_STRING) {
            if (n == -EINVAL) abort();
            if (n >= 0 && !tp_json_eq(&j, (int)i, buf, (size_t)n)) abort();
            if (n >= 0) (void)tp_json_get(&j, 0, buf, (size_t)n);
        }
        if (tp_json_f64(&j, (int)i, &d) == 0 && d != d) abort(); /* never NaN */
        (void)tp_json_u64(&j, (int)i, &u);
        (void)tp_json_i64(&j, (int)i, &v);
        (void)tp_json_bool(&j, (int)i, &b);
        (void)tp_json_at(&j, (int)i, 1);
        (void)TP_JSON_GET(&j, (int)i, "e");
    }
    return 0;
}
