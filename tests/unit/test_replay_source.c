/*
 * test_replay_source.c — the replay source of `tickpipe run` (source/replay.h) in a real
 * pipeline:
 *   - specs: FILE, FILE@SPEED, FILE@max, VENUE:FILE, a '@' that is part of the name; bad ones;
 *   - an uninterrupted run journals exactly the events the CSV reader gives, then one eof per
 *     instrument in name order stamped with the largest time, framed in BEGIN/END positions,
 *     the last one eof;
 *   - a crash at ANY record: the journal cut after k records (every k over the first batches,
 *     then a stride, then the last ones) and the run restarted gives exactly the uninterrupted
 *     run's event sequence (nothing lost, nothing twice);
 *   - the same for a raw venue capture (recorded traffic; skipped without ../shared);
 *   - with a simulator writing into the same journal, every batch is contiguous, and a cut
 *     inside it still resumes exactly;
 *   - a changed file (content, or replaced by another inode) is refused: start fails;
 *   - @SPEED paces by event time.
 */
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <unistd.h>

#include "core/instrument.h"
#include "core/tptime.h"
#include "log/journal.h"
#include "log/record.h"
#include "pipeline/pipeline.h"
#include "source/capture.h"
#include "source/csvin.h"
#include "source/replay.h"
#include "source/sim.h"
#include "tpt.h"

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void rmdir_all(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char root[64];

static void make_root(void)
{
    snprintf(root, sizeof root, "/tmp/tp_replaysrc_XXXXXX");
    if (!mkdtemp(root)) TPT_FAIL("mkdtemp failed");
}

/* A CSV of `rows` trades over 5 instruments, a little out of order, with a bad row every
 * 400th line and duplicates now and then. */
static void write_csv(const char *path, int rows, uint32_t seed)
{
    FILE *f = fopen(path, "w");
    ASSERT(f != NULL);
    fputs("ts,instrument,price,size,side,trade_id\n", f);
    uint32_t x = seed;
    for (int i = 0; i < rows; i++) {
        x = x * 1103515245u + 12345u;
        int k = (int)(x >> 16) % 5;
        long long ts = 1704067200000LL + i * 7 - (long long)((x >> 8) % 3) * 20;
        if (i % 400 == 399) {
            fputs("not-a-time,t:A-USD,1,1,buy,\n", f);
            continue;
        }
        fprintf(f, "%lld,t:%c-USD,%d.%02u,0.%03u,%s,%d\n", ts, 'A' + k, 100 + k, (x >> 4) % 100,
                (x >> 12) % 1000 + 1, (x & 64) ? "buy" : "sell", i % 97 == 3 ? i - 1 : i);
    }
    fclose(f);
}

static struct tp_pipeline_opts opts(const char *data, size_t ring)
{
    struct tp_pipeline_opts o = {
        .data_dir = data,
        .ring_capacity = ring,
        .status_interval_ns = 0,
        .exit_at_eof = true,
        .resume_records = 1u << 18,
        .checkpoint_every = 1000,
    };
    tp_journal_opts_default(&o.journal, NULL);
    o.journal.sync = TP_SYNC_NONE;
    return o;
}

/* Runs a pipeline with the replay source `spec` (and a finite max-pace simulator when
 * sim_events > 0). Returns the exit code, or -1 when start failed. */
static int run(const char *data, size_t ring, const char *spec, uint64_t sim_events)
{
    struct tp_pipeline_opts o = opts(data, ring);
    struct tp_pipeline *p;
    ASSERT_EQ_INT(tp_pipeline_new(&o, &p), 0);
    struct tp_source *s;
    char err[1024];
    int rc = tp_replay_source_new(spec, &s, err, sizeof err);
    if (rc < 0) TPT_FAIL("replay source %s: %s", spec, err);
    ASSERT_EQ_INT(tp_pipeline_add_source(p, s), 0);
    if (sim_events) {
        struct tp_sim_source_opts so = {
            .seed = 3, .rate = 200000, .max_pace = true, .max_events = sim_events};
        ASSERT_EQ_INT(tp_sim_source_new("sim:BTC-USD,ETH-USD", &so, &s, err, sizeof err), 0);
        ASSERT_EQ_INT(tp_pipeline_add_source(p, s), 0);
    }
    sigset_t none;
    sigemptyset(&none);
    rc = tp_pipeline_start(p);
    rc = rc == 0 ? tp_pipeline_run(p, &none) : -1;
    tp_pipeline_free(p);
    return rc;
}

/* The records of a journal, payloads copied. */
struct recs {
    char **p;
    size_t *len;
    size_t n, cap;
};

static void recs_free(struct recs *r)
{
    for (size_t i = 0; i < r->n; i++) free(r->p[i]);
    free(r->p);
    free(r->len);
    memset(r, 0, sizeof *r);
}

static void recs_add(struct recs *r, const void *p, size_t n)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 1024;
        r->p = realloc(r->p, r->cap * sizeof *r->p);
        r->len = realloc(r->len, r->cap * sizeof *r->len);
        ASSERT(r->p && r->len);
    }
    r->p[r->n] = malloc(n ? n : 1);
    ASSERT(r->p[r->n] != NULL);
    memcpy(r->p[r->n], p, n);
    r->len[r->n++] = n;
}

/* Every record of DATA/journal/input (all when events_only is false, else the events). */
static void read_input(const char *data, bool events_only, struct recs *r)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/journal/input", data);
    struct tp_cursor *c;
    ASSERT_EQ_INT(tp_cursor_open(dir, 0, NULL, false, &c), 0);
    const void *p;
    size_t n;
    uint64_t off;
    int rc;
    while ((rc = tp_cursor_next(c, &p, &n, &off)) > 0)
        if (!events_only || tp_rec_type(p, n) == TP_REC_EVENT) recs_add(r, p, n);
    ASSERT_EQ_INT(rc, 0);
    tp_cursor_close(c);
}

/* Writes records [0, k) of r as a fresh input journal in DATA. */
static void write_prefix(const char *data, const struct recs *r, size_t k)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/journal/input", data);
    struct tp_journal_opts o;
    tp_journal_opts_default(&o, dir);
    o.sync = TP_SYNC_NONE;
    struct tp_journal *j;
    ASSERT_EQ_INT(tp_journal_open(&o, &j, NULL), 0);
    for (size_t i = 0; i < k; i++) ASSERT_EQ_INT(tp_journal_append(j, r->p[i], r->len[i], NULL), 0);
    ASSERT_EQ_INT(tp_journal_close(j), 0);
}

static void same_events(const struct recs *a, const struct recs *b, const char *what)
{
    if (a->n != b->n) TPT_FAIL("%s: %zu events, expected %zu", what, a->n, b->n);
    for (size_t i = 0; i < a->n; i++)
        if (a->len[i] != b->len[i] || memcmp(a->p[i], b->p[i], a->len[i]))
            TPT_FAIL("%s: event %zu differs", what, i);
}

/* What the source must journal, computed without it: the CSV reader's events, then an eof
 * per instrument in name order stamped with the largest ts. */
static void expected_events_of(const char *path, const char *venue, struct recs *r)
{
    struct tp_csvin *in = NULL;
    struct tp_capture *cin = NULL;
    char err[256];
    if (venue) {
        struct tp_capture_opts o = {.venue = venue};
        ASSERT_EQ_INT(tp_capture_open(path, &o, &cin, err, sizeof err), 0);
    } else {
        struct tp_csvin_opts co = {0};
        ASSERT_EQ_INT(tp_csvin_open(path, &co, &in, err, sizeof err), 0);
    }
    struct tp_buf b;
    tp_buf_init(&b, 1 << 16);
    struct tp_event ev;
    int rc;
    int64_t max_ts = INT64_MIN;
    char names[16][TP_INSTR_NAMELEN + 1];
    int nn = 0;
    while ((rc = in ? tp_csvin_next(in, &ev) : tp_capture_next(cin, &ev)) != TP_CSVIN_EOF) {
        ASSERT(rc > 0);
        if (rc != TP_CSVIN_EVENT) continue;
        tp_buf_reset(&b);
        ASSERT_EQ_INT(tp_rec_put_event(&b, &ev), 0);
        recs_add(r, b.p, b.len);
        if (ev.ts > max_ts) max_ts = ev.ts;
        const char *name = tp_instr_name(ev.instr);
        int k = 0;
        while (k < nn && strcmp(names[k], name)) k++;
        if (k == nn) {
            ASSERT(nn < 16);
            snprintf(names[nn++], sizeof names[0], "%s", name);
        }
    }
    tp_csvin_free(in);
    tp_capture_free(cin);
    for (int i = 0; i < nn; i++) /* name order */
        for (int j = i + 1; j < nn; j++)
            if (strcmp(names[j], names[i]) < 0) {
                char t[sizeof names[0]];
                memcpy(t, names[i], sizeof t);
                memcpy(names[i], names[j], sizeof t);
                memcpy(names[j], t, sizeof t);
            }
    for (int i = 0; i < nn; i++) {
        tp_event_init(&ev, TP_KIND_STATUS);
        ev.status = TP_ST_EOF;
        ASSERT_EQ_INT(tp_instr_intern(names[i], strlen(names[i]), &ev.instr), 0);
        ev.ts = ev.ts_recv = max_ts;
        tp_buf_reset(&b);
        ASSERT_EQ_INT(tp_rec_put_event(&b, &ev), 0);
        recs_add(r, b.p, b.len);
    }
    tp_buf_fini(&b);
}

static void expected_events(const char *csv, struct recs *r)
{
    expected_events_of(csv, NULL, r);
}

/* Walks a journal: positions of `name` come in BEGIN/END pairs with only `prefix` events in
 * between and none of them outside (but for a batch cut at record `cut`, where a restart
 * continued); the last is an END with eof. Returns the batches. */
static size_t check_batches(const struct recs *all, const char *name, const char *prefix,
                            size_t cut)
{
    bool open = false, last_eof = false;
    size_t batches = 0;
    uint64_t events = 0;
    for (size_t i = 0; i < all->n; i++) {
        enum tp_rec_type t = tp_rec_type(all->p[i], all->len[i]);
        if (t == TP_REC_SOURCE_POS) {
            struct tp_source_pos pos;
            ASSERT_EQ_INT(tp_rec_get_source_pos(all->p[i], all->len[i], &pos), 0);
            ASSERT_EQ_STR(pos.source, name);
            /* A restart after a cut batch begins a new one where the journal was cut. */
            if (pos.begin == open && !(i == cut && open))
                TPT_FAIL("record %zu: BEGIN inside a batch or END outside", i);
            open = pos.begin;
            ASSERT_EQ_U64(pos.events, events); /* every event before it, and no more */
            last_eof = pos.eof;
            batches += !open;
            continue;
        }
        ASSERT_EQ_INT(t, TP_REC_EVENT);
        struct tp_event e;
        ASSERT_EQ_INT(tp_rec_get_event(all->p[i], all->len[i], &e), 0);
        bool mine = !strncmp(tp_instr_name(e.instr), prefix, strlen(prefix));
        if (mine != open)
            TPT_FAIL("record %zu: %s event %s a batch", i, tp_instr_name(e.instr),
                     open ? "inside" : "outside");
        events += mine;
    }
    ASSERT(!open && last_eof);
    return batches;
}

static void file_name(char *buf, const char *path)
{
    char *real = realpath(path, NULL);
    ASSERT(real != NULL);
    snprintf(buf, 128, "replay:%s", real);
    free(real);
}

static void test_specs(void)
{
    make_root();
    char csv[256], spec[600], err[1024], odd[256];
    snprintf(csv, sizeof csv, "%s/a.csv", root);
    write_csv(csv, 10, 1);
    snprintf(odd, sizeof odd, "%s/b@c.csv", root);
    write_csv(odd, 10, 1);
    struct tp_source *s;
    const char *good[] = {"", "@max", "@2.5", "@1e3"};
    for (size_t i = 0; i < TP_ARRAY_LEN(good); i++) {
        snprintf(spec, sizeof spec, "replay:%s%s", csv, good[i]);
        ASSERT_EQ_INT(tp_replay_source_new(spec, &s, err, sizeof err), 0);
        ASSERT_EQ_STR(s->ops->kind, "replay");
        ASSERT(!s->live);
        tp_source_free(s);
    }
    snprintf(spec, sizeof spec, "replay:%s", odd); /* '@' in the name, no speed */
    ASSERT_EQ_INT(tp_replay_source_new(spec, &s, err, sizeof err), 0);
    tp_source_free(s);
    const char *bad[] = {"@0", "@-1", "@inf", "@nan"};
    for (size_t i = 0; i < TP_ARRAY_LEN(bad); i++) {
        snprintf(spec, sizeof spec, "replay:%s%s", csv, bad[i]);
        ASSERT_EQ_INT(tp_replay_source_new(spec, &s, err, sizeof err), -EINVAL);
        ASSERT(strstr(err, "speed") != NULL);
    }
    snprintf(spec, sizeof spec, "replay:%s/missing.csv", root);
    ASSERT_EQ_INT(tp_replay_source_new(spec, &s, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "missing.csv") != NULL);
    ASSERT_EQ_INT(tp_replay_source_new("replay:", &s, err, sizeof err), -EINVAL);
    ASSERT_EQ_INT(tp_replay_source_new("replay:@max", &s, err, sizeof err), -EINVAL);
    snprintf(spec, sizeof spec, "replay:%s", root); /* a directory */
    ASSERT_EQ_INT(tp_replay_source_new(spec, &s, err, sizeof err), -EINVAL);
    /* A CSV without the columns a row needs is a usage error. */
    char hdr[256];
    snprintf(hdr, sizeof hdr, "%s/h.csv", root);
    FILE *f = fopen(hdr, "w");
    fputs("a,b\n1,2\n", f);
    fclose(f);
    snprintf(spec, sizeof spec, "replay:%s", hdr);
    ASSERT_EQ_INT(tp_replay_source_new(spec, &s, err, sizeof err), -EINVAL);
    /* A venue prefix reads a raw capture. */
    snprintf(spec, sizeof spec, "replay:binance:%s@max", csv);
    ASSERT_EQ_INT(tp_replay_source_new(spec, &s, err, sizeof err), 0);
    tp_source_free(s);
    rmdir_all(root);
}

static void test_every_cut_resumes_exactly(void)
{
    make_root();
    char csv[256], spec[300], data[300], name[128];
    snprintf(csv, sizeof csv, "%s/t.csv", root);
    write_csv(csv, 2400, 7);
    snprintf(spec, sizeof spec, "replay:%s", csv);
    file_name(name, csv);
    struct recs want = {0};
    expected_events(csv, &want);

    /* Uninterrupted, with a small ring: batches of 30 events. */
    snprintf(data, sizeof data, "%s/ref", root);
    ASSERT_EQ_INT(run(data, 64, spec, 0), TP_EXIT_OK);
    struct recs all = {0}, ev = {0};
    read_input(data, false, &all);
    read_input(data, true, &ev);
    same_events(&ev, &want, "uninterrupted run");
    size_t batches = check_batches(&all, name, "t:", SIZE_MAX);
    ASSERT(batches >= 2394 / 30);
    /* A rerun on the finished journal adds nothing. */
    ASSERT_EQ_INT(run(data, 64, spec, 0), TP_EXIT_OK);
    struct recs again = {0};
    read_input(data, false, &again);
    ASSERT_EQ_U64(again.n, all.n);
    recs_free(&again);

    /* Cut after k records, restart (with another ring size), compare. */
    size_t cuts = 0;
    for (size_t k = 0; k <= all.n; k += k < 70 ? 1 : k + 12 < all.n ? 97 : 1) {
        snprintf(data, sizeof data, "%s/cut%zu", root, k);
        write_prefix(data, &all, k);
        ASSERT_EQ_INT(run(data, k % 2 ? 64 : 256, spec, 0), TP_EXIT_OK);
        struct recs got = {0};
        read_input(data, true, &got);
        char what[64];
        snprintf(what, sizeof what, "cut after %zu records", k);
        same_events(&got, &want, what);
        recs_free(&got);
        rmdir_all(data);
        cuts++;
    }
    ASSERT(cuts > 90);
    recs_free(&all);
    recs_free(&ev);
    recs_free(&want);
    rmdir_all(root);
}

/* A raw capture (recorded Binance traffic from ../shared/fixtures): cut after every record,
 * the restart reads it again from its start and journals exactly the uninterrupted events. */
static void test_capture_every_cut(void)
{
    const char *shared = getenv("TP_SHARED");
    char src[PATH_MAX];
    snprintf(src, sizeof src, "%s/fixtures/binance/combined_session_2021-04-17.jsonl",
             shared ? shared : "../shared");
    FILE *in = fopen(src, "rb");
    if (!in) TPT_SKIP("no ../shared/fixtures (TP_SHARED unset or folder absent)");
    make_root();
    char cap[256], spec[300], data[300];
    snprintf(cap, sizeof cap, "%s/cap.jsonl", root);
    FILE *out = fopen(cap, "wb");
    ASSERT(out != NULL);
    char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) ASSERT_EQ_U64(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
    snprintf(spec, sizeof spec, "replay:binance:%s", cap);
    struct recs want = {0}, all = {0}, ev = {0};
    expected_events_of(cap, "binance", &want);
    ASSERT(want.n > 100);
    snprintf(data, sizeof data, "%s/ref", root);
    ASSERT_EQ_INT(run(data, 16, spec, 0), TP_EXIT_OK); /* batches of 6 events */
    read_input(data, false, &all);
    read_input(data, true, &ev);
    same_events(&ev, &want, "uninterrupted capture");
    for (size_t k = 0; k <= all.n; k += k < 60 ? 1 : 7) {
        snprintf(data, sizeof data, "%s/cut%zu", root, k);
        write_prefix(data, &all, k);
        ASSERT_EQ_INT(run(data, 16, spec, 0), TP_EXIT_OK);
        struct recs got = {0};
        read_input(data, true, &got);
        char what[64];
        snprintf(what, sizeof what, "capture cut after %zu records", k);
        same_events(&got, &want, what);
        recs_free(&got);
        rmdir_all(data);
    }
    recs_free(&all);
    recs_free(&ev);
    recs_free(&want);
    rmdir_all(root);
}

static void test_batches_contiguous_with_sim(void)
{
    make_root();
    char csv[256], spec[300], data[300], name[128];
    snprintf(csv, sizeof csv, "%s/t.csv", root);
    write_csv(csv, 3000, 11);
    snprintf(spec, sizeof spec, "replay:%s", csv);
    file_name(name, csv);
    snprintf(data, sizeof data, "%s/d", root);
    ASSERT_EQ_INT(run(data, 128, spec, 30000), TP_EXIT_OK);
    struct recs all = {0};
    read_input(data, false, &all);
    size_t batches = check_batches(&all, name, "t:", SIZE_MAX);
    ASSERT(batches > 40);
    /* Cut inside a late batch (the BEGIN, then a few events), with the simulator's records
     * before it: the restart still journals each file event once. */
    size_t cut = 0;
    for (size_t i = all.n; i-- > 0 && !cut;)
        if (tp_rec_type(all.p[i], all.len[i]) == TP_REC_SOURCE_POS) {
            struct tp_source_pos pos;
            ASSERT_EQ_INT(tp_rec_get_source_pos(all.p[i], all.len[i], &pos), 0);
            if (pos.begin && pos.events > 1500) cut = i + 4;
        }
    ASSERT(cut > 0);
    snprintf(data, sizeof data, "%s/cut", root);
    write_prefix(data, &all, cut);
    ASSERT_EQ_INT(run(data, 128, spec, 0), TP_EXIT_OK);
    struct recs got = {0}, mine = {0}, want = {0};
    read_input(data, false, &got);
    check_batches(&got, name, "t:", cut);
    for (size_t i = 0; i < got.n; i++) {
        struct tp_event e;
        if (tp_rec_type(got.p[i], got.len[i]) != TP_REC_EVENT) continue;
        ASSERT_EQ_INT(tp_rec_get_event(got.p[i], got.len[i], &e), 0);
        if (!strncmp(tp_instr_name(e.instr), "t:", 2)) recs_add(&mine, got.p[i], got.len[i]);
    }
    expected_events(csv, &want);
    same_events(&mine, &want, "the file's events after a cut among the simulator's");
    recs_free(&all);
    recs_free(&got);
    recs_free(&mine);
    recs_free(&want);
    rmdir_all(root);
}

static void test_changed_file_refused(void)
{
    make_root();
    char csv[256], spec[300], data[300], other[300];
    snprintf(csv, sizeof csv, "%s/t.csv", root);
    write_csv(csv, 500, 3);
    snprintf(spec, sizeof spec, "replay:%s", csv);
    snprintf(data, sizeof data, "%s/d", root);
    ASSERT_EQ_INT(run(data, 256, spec, 0), TP_EXIT_OK);
    /* Same size, other bytes: the head hash differs. */
    write_csv(csv, 500, 4);
    ASSERT_EQ_INT(run(data, 256, spec, 0), -1);
    write_csv(csv, 500, 3); /* back as it was: accepted */
    ASSERT_EQ_INT(run(data, 256, spec, 0), TP_EXIT_OK);
    /* Replaced by an identical copy under another inode. */
    snprintf(other, sizeof other, "%s/t2.csv", root);
    write_csv(other, 500, 3);
    ASSERT_EQ_INT(rename(other, csv), 0);
    ASSERT_EQ_INT(run(data, 256, spec, 0), -1);
    rmdir_all(root);
}

static void test_speed_paces(void)
{
    make_root();
    char csv[256], spec[300], data[300];
    snprintf(csv, sizeof csv, "%s/t.csv", root);
    FILE *f = fopen(csv, "w");
    ASSERT(f != NULL);
    fputs("ts,instrument,price,size\n", f);
    for (int i = 0; i < 200; i++) /* 1 s of event time */
        fprintf(f, "%lld,t:A-USD,10,1\n", 1704067200000LL + i * 5);
    fclose(f);
    snprintf(spec, sizeof spec, "replay:%s@4", csv);
    snprintf(data, sizeof data, "%s/d", root);
    int64_t t0 = tp_mono_ns();
    ASSERT_EQ_INT(run(data, 256, spec, 0), TP_EXIT_OK);
    int64_t took = tp_mono_ns() - t0;
    if (took < 200 * TP_NS_PER_MS)
        TPT_FAIL("@4 over 1 s of event time took %lld ns", (long long)took);
    struct recs ev = {0};
    read_input(data, true, &ev);
    ASSERT_EQ_U64(ev.n, 201);
    recs_free(&ev);
    rmdir_all(root);
}

TPT_MAIN({"specs", test_specs}, {"every_cut_resumes_exactly", test_every_cut_resumes_exactly},
         {"capture_every_cut", test_capture_every_cut},
         {"batches_contiguous_with_sim", test_batches_contiguous_with_sim},
         {"changed_file_refused", test_changed_file_refused}, {"speed_paces", test_speed_paces})
