/*
 * vjournal.c — the validator's `journal` check: the journals under DATA/journal against the
 * lake's files (see validate.h; docs/validate.md).
 *
 * The lake writer names each file after the batch of log offsets it holds rows of,
 * part-<log>-<partition>-<first>-<last>.parquet, one file per table partition of the batch.
 * So for every such file whose range the journal still holds, the records of [first, last]
 * that belong to the file's table and partition (a tick of that date and venue, a bar of that
 * interval and date, ...) must number exactly the file's rows. Records below the lake's
 * acknowledged offset (DATA/lake/_tickpipe/ack, else the end of its last file) that fall in no
 * file's range, or in a range without a file for their partition, are missing from the lake.
 * Bars of an interval the lake keeps no file of (1s, unless configured) are not expected.
 *
 * One pass over each journal with a cursor (read-only: the journal is not opened for
 * writing, so a running pipeline is not disturbed); the file ranges are sorted and walked in
 * step with the offsets.
 */
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "core/instrument.h"
#include "core/tptime.h"
#include "log/journal.h"
#include "log/record.h"
#include "ops/validate_int.h"

struct range {
    uint64_t first, last;
    uint32_t lo, hi; /* files[lo..hi) of sorted index */
    bool comparable; /* the journal holds all of it */
};

struct jlog {
    const char *name; /* "input", "output" */
    uint32_t *files;  /* indexes into r->files, sorted by (first, last) */
    size_t nfiles;
    struct range *ranges;
    size_t nranges;
    uint64_t *expected; /* per position in files[] */
    uint64_t ack;
    uint64_t jfirst, jnext;
    uint64_t missing, pending, counted;
};

static const struct tp_validate_report *sort_r;

static int cmp_range(const void *a, const void *b)
{
    const struct tp_lake_file *x = &sort_r->files.v[*(const uint32_t *)a];
    const struct tp_lake_file *y = &sort_r->files.v[*(const uint32_t *)b];
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    if (x->last != y->last) return x->last < y->last ? -1 : 1;
    return 0;
}

/* The oldest offset in a journal directory (smallest segment name), or -ENOENT. */
static int journal_first(const char *dir, uint64_t *ret)
{
    DIR *d = opendir(dir);
    if (!d) return -errno;
    bool any = false;
    uint64_t best = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *n = de->d_name;
        size_t len = strlen(n);
        if (len != 24 || strcmp(n + 20, ".seg")) continue;
        uint64_t v = 0;
        bool ok = true;
        for (int i = 0; i < 20; i++) {
            if (n[i] < '0' || n[i] > '9') ok = false;
            v = v * 10 + (uint64_t)(n[i] - '0');
        }
        if (ok && (!any || v < best)) best = v, any = true;
    }
    closedir(d);
    if (!any) return -ENOENT;
    *ret = best;
    return 0;
}

/* Reads the lake's ack file loosely: lines "input N" and "output N". */
static bool read_ack(const char *data, uint64_t ack[2])
{
    char path[700], b[512];
    snprintf(path, sizeof path, "%s/lake/_tickpipe/ack", data);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ssize_t n = read(fd, b, sizeof b - 1);
    close(fd);
    if (n <= 0) return false;
    b[n] = 0;
    bool got[2] = {false, false};
    for (char *line = b; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        for (int l = 0; l < 2; l++) {
            const char *key = l ? "output " : "input ";
            size_t kl = strlen(key);
            if (!strncmp(line, key, kl)) {
                char *end;
                errno = 0;
                unsigned long long v = strtoull(line + kl, &end, 10);
                if (!errno && end != line + kl && !*end) ack[l] = v, got[l] = true;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    return got[0] && got[1];
}

/* Table and partition values of a journal record; false for records that are no rows. */
struct rowkey {
    enum tp_lf_table table;
    char date[16];
    char venue[TP_LAKE_PVAL_MAX + 1];
    char interval[16];
    uint32_t tinstr; /* the record's instrument (core/instrument.h id) */
    int64_t ts, ivl;
};

static bool record_key(bool input, const void *p, size_t n, struct rowkey *k)
{
    memset(k, 0, sizeof *k);
    enum tp_rec_type t = tp_rec_type(p, n);
    int64_t ts;
    if (input) {
        struct tp_event e;
        if (t != TP_REC_EVENT || tp_rec_get_event(p, n, &e) < 0) return false;
        if (e.kind == TP_KIND_STATUS) return false;
        const struct tp_instrument *in = tp_instr_get(e.instr);
        if (!in) return false;
        k->table = TP_LF_TICKS;
        k->tinstr = e.instr;
        snprintf(k->venue, sizeof k->venue, "%.*s", (int)in->venue_len, in->name);
        ts = e.ts;
    } else if (t == TP_REC_BAR) {
        struct tp_bar b;
        if (tp_rec_get_bar(p, n, &b) < 0) return false;
        k->table = TP_LF_BARS;
        k->tinstr = b.instr;
        k->ivl = b.interval_ns;
        tp_duration_format(b.interval_ns, k->interval, sizeof k->interval);
        ts = b.ts;
    } else if (t == TP_REC_ANOMALY) {
        struct tp_anomaly a;
        if (tp_rec_get_anomaly(p, n, &a) < 0) return false;
        k->table = TP_LF_ANOMALIES;
        ts = a.ts;
    } else if (t == TP_REC_LATE) {
        struct tp_event e;
        int64_t iv;
        if (tp_rec_get_late(p, n, &e, &iv) < 0) return false;
        k->table = TP_LF_LATE;
        ts = e.ts;
    } else if (t == TP_REC_GAP) {
        struct tp_gap g;
        if (tp_rec_get_gap(p, n, &g) < 0) return false;
        k->table = TP_LF_GAPS;
        ts = g.ts;
    } else {
        return false;
    }
    k->ts = ts;
    tp_date_format(ts, k->date);
    return true;
}

/* For the database check: journal ticks and 1m bars per (instrument, day). icache maps
 * core instrument ids to the report's (id + 1; 0 unknown). */
#define ICACHE 4096
static void tally(struct tp_validate_report *r, const struct rowkey *k, uint32_t *icache)
{
    if (k->table != TP_LF_TICKS && !(k->table == TP_LF_BARS && k->ivl == 60 * TP_NS_PER_SEC))
        return;
    uint32_t id;
    if (k->tinstr < ICACHE && icache[k->tinstr]) {
        id = icache[k->tinstr] - 1;
    } else {
        const char *name = tp_instr_name(k->tinstr);
        if (!name || tp_vstrs_intern(&r->instr, name, strlen(name), &id) < 0) {
            r->iday_dropped++;
            return;
        }
        if (k->tinstr < ICACHE) icache[k->tinstr] = id + 1;
    }
    struct viday *d = vx_iday(r, id, tp_floor_div(k->ts, 86400 * TP_NS_PER_SEC));
    if (!d) {
        r->iday_dropped++;
        return;
    }
    d->jnl = true;
    if (k->table == TP_LF_TICKS)
        d->j_ticks++;
    else
        d->j_bars++;
}

static bool key_matches(const struct rowkey *k, const struct tp_lake_file *f)
{
    if (f->table != k->table || strcmp(f->date, k->date)) return false;
    if (k->table == TP_LF_TICKS) return !strcmp(f->venue, k->venue);
    if (k->table == TP_LF_BARS) return !strcmp(f->interval, k->interval);
    return true;
}

static const char *describe(const struct rowkey *k, char *buf, size_t cap)
{
    if (k->table == TP_LF_TICKS)
        snprintf(buf, cap, "a tick of date=%s/venue=%s", k->date, k->venue);
    else if (k->table == TP_LF_BARS)
        snprintf(buf, cap, "a bar of interval=%s/date=%s", k->interval, k->date);
    else
        snprintf(buf, cap, "a row of %s/date=%s", tp_lf_table_name(k->table), k->date);
    return buf;
}

/* The intervals the lake has bars files of ("1m", "5m", ...), at most 16. */
struct kept {
    char iv[16][16];
    int n;
};

static bool is_kept(const struct kept *k, const char *iv)
{
    for (int i = 0; i < k->n; i++)
        if (!strcmp(k->iv[i], iv)) return true;
    return false;
}

static int check_log(struct tp_validate_report *r, struct jlog *L, bool input,
                     const struct kept *kept)
{
    char dir[700];
    snprintf(dir, sizeof dir, "%s/journal/%s", r->data, L->name);
    int rc = journal_first(dir, &L->jfirst);
    if (rc < 0) {
        vx_note(r, TP_VC_JOURNAL, "%s journal: %s", L->name,
                rc == -ENOENT ? "none" : strerror(-rc));
        return 1; /* nothing to compare */
    }
    struct tp_cursor *c;
    rc = tp_cursor_open(dir, L->jfirst, NULL, false, &c);
    if (rc < 0) {
        vx_problem(r, TP_VC_JOURNAL, TP_VS_FAIL, UINT32_MAX, UINT32_MAX, INT64_MIN,
                   "cannot read the %s journal: %s", L->name, strerror(-rc));
        return 0;
    }
    /* first pass would need the end; the cursor reads to the end and we judge after */
    size_t gi = 0;
    uint64_t off = L->jfirst;
    bool pg = r->o.postgres && *r->o.postgres;
    uint32_t *icache = pg ? calloc(ICACHE, sizeof *icache) : NULL;
    const void *p;
    size_t n;
    for (;;) {
        rc = tp_cursor_next(c, &p, &n, &off);
        if (rc <= 0) break;
        while (gi < L->nranges && L->ranges[gi].last < off) gi++;
        struct range *g = gi < L->nranges && L->ranges[gi].first <= off ? &L->ranges[gi] : NULL;
        struct rowkey k;
        if (!record_key(input, p, n, &k)) continue;
        if (icache) tally(r, &k, icache);
        L->counted++;
        if (off >= L->ack) {
            L->pending++;
            continue;
        }
        /* bars of an interval the lake keeps no file of are not expected */
        if (k.table == TP_LF_BARS && !is_kept(kept, k.interval)) continue;
        if (g && !g->comparable) continue;
        bool found = false;
        if (g)
            for (uint32_t i = g->lo; i < g->hi && !found; i++)
                if (key_matches(&k, &r->files.v[L->files[i]])) {
                    L->expected[i]++;
                    found = true;
                }
        if (!found && (g || (L->nranges && off >= L->ranges[0].first) || !L->nranges)) {
            L->missing++;
            char what[160];
            vx_problem(r, TP_VC_JOURNAL, TP_VS_FAIL, UINT32_MAX, UINT32_MAX, INT64_MIN,
                       "%s journal offset %llu (%s) is below the lake's ack %llu but in no lake "
                       "file",
                       L->name, (unsigned long long)off, describe(&k, what, sizeof what),
                       (unsigned long long)L->ack);
        }
    }
    free(icache);
    if (rc < 0) {
        vx_problem(r, TP_VC_JOURNAL, TP_VS_FAIL, UINT32_MAX, UINT32_MAX, INT64_MIN,
                   "%s journal unreadable at %s: %s", L->name, tp_cursor_where(c), strerror(-rc));
        tp_cursor_close(c);
        return 0;
    }
    L->jnext = tp_cursor_offset(c);
    r->jhave[input ? 0 : 1] = true;
    r->jfirst[input ? 0 : 1] = L->jfirst;
    r->jnext[input ? 0 : 1] = L->jnext;
    tp_cursor_close(c);

    /* file by file */
    for (size_t gi2 = 0; gi2 < L->nranges; gi2++) {
        const struct range *g = &L->ranges[gi2];
        if (!g->comparable || g->last >= L->jnext) continue;
        for (uint32_t i = g->lo; i < g->hi; i++) {
            const struct tp_lake_file *f = &r->files.v[L->files[i]];
            if (f->rows < 0) continue; /* unreadable: the schema check said so */
            r->c[TP_VC_JOURNAL].checked++;
            if ((uint64_t)f->rows != L->expected[i])
                vx_problem(r, TP_VC_JOURNAL, TP_VS_FAIL, L->files[i], UINT32_MAX, INT64_MIN,
                           "%lld rows, but the %s journal has %llu records for it in offsets "
                           "%llu..%llu",
                           (long long)f->rows, L->name, (unsigned long long)L->expected[i],
                           (unsigned long long)g->first, (unsigned long long)g->last);
        }
    }
    return 0;
}

int vx_journal(struct tp_validate_report *r, char *err, size_t errcap)
{
    char jdir[700];
    snprintf(jdir, sizeof jdir, "%s/journal", r->data);
    if (access(jdir, F_OK) != 0) {
        vx_skip(r, TP_VC_JOURNAL, "no journal under the data directory");
        return 0;
    }
    uint64_t ack[2] = {0, 0};
    bool have_ack = read_ack(r->data, ack);
    struct jlog logs[2] = {{.name = "input"}, {.name = "output"}};
    int rc = 0;
    size_t unnamed = 0, compared_logs = 0;
    struct kept kept = {.n = 0};
    for (size_t i = 0; i < r->files.n; i++) {
        const struct tp_lake_file *f = &r->files.v[i];
        if (f->table == TP_LF_BARS && f->interval[0] && strlen(f->interval) < 16 &&
            !is_kept(&kept, f->interval) && kept.n < 16)
            snprintf(kept.iv[kept.n++], sizeof kept.iv[0], "%.15s", f->interval);
    }
    for (int l = 0; l < 2 && rc == 0; l++) {
        struct jlog *L = &logs[l];
        L->files = malloc((r->files.n + 1) * sizeof *L->files);
        L->ranges = malloc((r->files.n + 1) * sizeof *L->ranges);
        L->expected = calloc(r->files.n + 1, sizeof *L->expected);
        if (!L->files || !L->ranges || !L->expected) {
            rc = -ENOMEM;
            break;
        }
        uint64_t end = 0;
        for (uint32_t i = 0; i < r->files.n; i++) {
            const struct tp_lake_file *f = &r->files.v[i];
            if (!f->named) {
                unnamed += l == 0;
                continue;
            }
            if (strcmp(f->log, L->name)) continue;
            L->files[L->nfiles++] = i;
            end = TP_MAX(end, f->last + 1);
        }
        L->ack = have_ack ? ack[l] : end;
        r->lake_ack_known = true;
        r->lake_ack[l] = L->ack;
        sort_r = r;
        qsort(L->files, L->nfiles, sizeof *L->files, cmp_range);
        for (size_t i = 0; i < L->nfiles;) {
            const struct tp_lake_file *f = &r->files.v[L->files[i]];
            struct range *g = &L->ranges[L->nranges++];
            g->first = f->first;
            g->last = f->last;
            g->lo = (uint32_t)i;
            while (i < L->nfiles && r->files.v[L->files[i]].first == f->first &&
                   r->files.v[L->files[i]].last == f->last)
                i++;
            g->hi = (uint32_t)i;
            if (L->nranges > 1 && g->first <= g[-1].last)
                vx_problem(r, TP_VC_JOURNAL, TP_VS_FAIL, L->files[g->lo], UINT32_MAX, INT64_MIN,
                           "offsets %llu..%llu overlap another file's %llu..%llu",
                           (unsigned long long)g->first, (unsigned long long)g->last,
                           (unsigned long long)g[-1].first, (unsigned long long)g[-1].last);
        }
        uint64_t jfirst = 0;
        char dir[700];
        snprintf(dir, sizeof dir, "%s/journal/%s", r->data, L->name);
        bool have_j = journal_first(dir, &jfirst) == 0;
        for (size_t i = 0; i < L->nranges; i++)
            L->ranges[i].comparable = have_j && L->ranges[i].first >= jfirst;
        int crc = check_log(r, L, l == 0, &kept);
        if (crc == 0) {
            compared_logs++;
            vx_note(r, TP_VC_JOURNAL,
                    "%s: offsets %llu..%llu, %llu records of lake rows, lake ack %llu%s, %llu not "
                    "yet in the lake",
                    L->name, (unsigned long long)L->jfirst,
                    (unsigned long long)(L->jnext ? L->jnext - 1 : 0),
                    (unsigned long long)L->counted, (unsigned long long)L->ack,
                    have_ack ? "" : " (no ack file: the end of the last file)",
                    (unsigned long long)L->pending);
        }
    }
    if (unnamed) vx_note(r, TP_VC_JOURNAL, "%zu files without offsets in their names", unnamed);
    if (rc == 0 && !compared_logs) vx_skip(r, TP_VC_JOURNAL, "no journal segments to compare");
    for (int l = 0; l < 2; l++) {
        free(logs[l].files);
        free(logs[l].ranges);
        free(logs[l].expected);
    }
    if (rc < 0) snprintf(err, errcap, "comparing the journals: %s", strerror(-rc));
    return rc;
}
