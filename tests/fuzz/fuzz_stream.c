/*
 * fuzz_stream.c — libFuzzer target for the live stream's client messages (serve/stream.h):
 * what a WebSocket client sends ({"op":"subscribe"|"unsubscribe"|"ping", ...}) and the
 * stream URL's parameters (instruments=, kinds=, intervals=).
 *
 * Input: lines. A line starting with '?' is a URL query "instruments\tkinds\tintervals"
 * (tabs separate the three values; "-" stands for an absent one) given to tp_sub_query; any
 * other line is one client message for tp_sub_message. All lines apply, in order, to one
 * subscription, as on one connection. Properties after every line:
 *   - a rejected message or query changes nothing and says why (a non-empty reason); a ping
 *     changes nothing;
 *   - the subscription stays well-formed: at most TP_SUB_MAX_NAMES distinct names, each
 *     NUL-terminated and used by some kind, no mask bit past the names, at most
 *     TP_SUB_MAX_INTERVALS positive intervals;
 *   - its description (the "subscribed" reply) is valid JSON, and tp_sub_kinds agrees with it;
 *   - tp_sub_match never says yes for a kind tp_sub_kinds says is off.
 */
#include "core/json.h"
#include "serve/json.h"
#include "serve/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const struct tp_sub *a, const struct tp_sub *b)
{
    if (memcmp(a->all, b->all, sizeof a->all) || memcmp(a->mask, b->mask, sizeof a->mask) ||
        a->nnames != b->nnames || a->nintervals != b->nintervals)
        return false;
    for (uint32_t i = 0; i < a->nnames; i++)
        if (strcmp(a->names[i], b->names[i])) return false;
    return !memcmp(a->intervals, b->intervals, a->nintervals * sizeof a->intervals[0]);
}

static void check(struct tp_sub *s, struct tp_buf *b, struct tp_json *j)
{
    if (s->nnames > TP_SUB_MAX_NAMES || s->nintervals > TP_SUB_MAX_INTERVALS) abort();
    uint64_t names_mask = s->nnames == 64 ? UINT64_MAX : (UINT64_C(1) << s->nnames) - 1;
    uint64_t used = 0;
    for (int k = 0; k < TP_SK_N; k++) {
        if (s->mask[k] & ~names_mask) abort();
        used |= s->mask[k];
    }
    if (used != names_mask) abort(); /* every name is used by some kind */
    for (uint32_t i = 0; i < s->nnames; i++) {
        if (!memchr(s->names[i], 0, sizeof s->names[i]) || !s->names[i][0]) abort();
        for (uint32_t m = 0; m < i; m++)
            if (!strcmp(s->names[i], s->names[m])) abort();
    }
    for (uint32_t i = 0; i < s->nintervals; i++)
        if (s->intervals[i] <= 0) abort();
    unsigned kinds = tp_sub_kinds(s);
    tp_buf_reset(b);
    struct tp_jw w;
    tp_jw_init(&w, b);
    tp_sub_describe(&w, s);
    if (w.err) abort();
    if (tp_json_parse(j, (const char *)b->p, b->len) != 0) abort();
    int kobj = TP_JSON_GET(j, 0, "kinds");
    if (kobj < 0 || j->tok[kobj].type != TP_JSON_OBJECT) abort();
    if ((uint32_t)__builtin_popcount(kinds) != j->tok[kobj].size) abort();
    for (int k = 0; k < TP_SK_N; k++) {
        bool on = (kinds >> k) & 1;
        const char *name = tp_sk_name((enum tp_sk)k);
        if (on != (tp_json_get(j, kobj, name, strlen(name)) >= 0)) abort();
        if (!on)
            for (uint32_t i = 0; i < s->nnames; i++)
                if (tp_sub_match(s, (enum tp_sk)k, s->ids[i], 60 * TP_NS_PER_SEC)) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct tp_buf b;
    static struct tp_json j;
    if (!b.max) {
        tp_buf_init(&b, 1u << 20);
        tp_json_init(&j, 8192, 16);
        uint32_t id;
        /* Instruments known to the process, so ids resolve as in a running server. */
        (void)tp_instr_intern("binance:BTCUSDT", 15, &id);
        (void)tp_instr_intern("sim:AAPL", 8, &id);
    }
    if (size > (64u << 10)) return 0;
    static struct tp_sub s, before;
    memset(&s, 0, sizeof s);
    const char *p = (const char *)data, *end = p + size;
    char line[TP_SUB_MAX_MSG + 64];
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        before = s;
        char err[160] = "";
        int rc;
        enum tp_sub_op op = 0;
        if (n > 0 && p[0] == '?' && n < sizeof line) {
            memcpy(line, p + 1, n - 1);
            line[n - 1] = 0;
            const char *v[3] = {NULL, NULL, NULL};
            char *q = line;
            for (int i = 0; i < 3 && q; i++) {
                char *tab = strchr(q, '\t');
                if (tab) *tab++ = 0;
                v[i] = strcmp(q, "-") ? q : NULL;
                q = tab;
            }
            rc = tp_sub_query(&s, v[0], v[1], v[2], err, sizeof err);
        } else {
            rc = tp_sub_message(&s, p, n, &op, err, sizeof err);
        }
        if (rc != 0) {
            if (rc != -EINVAL || !err[0] || !same(&s, &before)) abort();
        } else if (op == TP_SUB_OP_PING && !same(&s, &before)) {
            abort();
        }
        check(&s, &b, &j);
        p += n + 1;
    }
    return 0;
}
