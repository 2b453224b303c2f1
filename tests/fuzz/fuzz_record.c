/*
 * fuzz_record.c — libFuzzer target for the record codec (log/record.h). Every decoder sees
 * every input; none may crash, read out of bounds or hit UB. The decoder the type byte names
 * must either reject the input or accept it exactly: re-encoding the decoded value gives the
 * same bytes (encodings are canonical), otherwise the target aborts.
 */
#include "core/log.h"
#include "log/record.h"

static struct tp_buf out;

static void same_or_die(const uint8_t *data, size_t size, int rc)
{
    if (rc < 0) return; /* e.g. the instrument table filled up with fuzzed names */
    if (out.len != size || memcmp(out.p, data, size)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!out.max) tp_buf_init(&out, 64u << 20);
    tp_buf_reset(&out);
    struct tp_event e;
    struct tp_source_pos s;
    struct tp_bar b;
    struct tp_anomaly a;
    struct tp_gap g;
    int64_t iv;
    uint64_t next;
    const void *st;
    size_t sn;
    enum tp_rec_type t = tp_rec_type(data, size);
    int rc;
    if ((rc = tp_rec_get_event(data, size, &e)) == 0) {
        if (t != TP_REC_EVENT) abort();
        same_or_die(data, size, tp_rec_put_event(&out, &e));
    }
    if ((rc = tp_rec_get_late(data, size, &e, &iv)) == 0) {
        if (t != TP_REC_LATE) abort();
        same_or_die(data, size, tp_rec_put_late(&out, &e, iv));
    }
    if ((rc = tp_rec_get_source_pos(data, size, &s)) == 0) {
        if (t != TP_REC_SOURCE_POS) abort();
        same_or_die(data, size, tp_rec_put_source_pos(&out, &s));
    }
    if ((rc = tp_rec_get_bar(data, size, &b)) == 0) {
        if (t != TP_REC_BAR) abort();
        same_or_die(data, size, tp_rec_put_bar(&out, &b));
    }
    if ((rc = tp_rec_get_anomaly(data, size, &a)) == 0) {
        if (t != TP_REC_ANOMALY) abort();
        same_or_die(data, size, tp_rec_put_anomaly(&out, &a));
    }
    if ((rc = tp_rec_get_gap(data, size, &g)) == 0) {
        if (t != TP_REC_GAP) abort();
        same_or_die(data, size, tp_rec_put_gap(&out, &g));
    }
    if ((rc = tp_rec_get_checkpoint(data, size, &next, &st, &sn)) == 0) {
        if (t != TP_REC_CHECKPOINT) abort();
        if ((const uint8_t *)st < data || (const uint8_t *)st + sn != data + size) abort();
        same_or_die(data, size, tp_rec_put_checkpoint(&out, next, st, sn));
    }
    return 0;
}
