/*
 * etl_lake.c — `tickpipe etl` without a database: interval summaries of the lake's ticks,
 * written back to the lake as the table `summary` (docs/etl.md "The lake").
 *
 *   LAKE/summary/interval=<I>/field=<F>/date=<D>/part-0.parquet   one file per spec and UTC day
 *   LAKE/_tickpipe/summary.state                                  what each file was made from
 *
 * Design. A spec's interval must divide a day, so every window lies inside one UTC date and
 * the summaries of date D are a function of the tick files of ticks/date=D/ alone. A run takes
 * the lake's lock (commits and compaction wait, so it never sees half a batch), lists the tick
 * files (skipping part files at or past the lake's acknowledged input offset: leftovers of a
 * crash that the lake sink removes at its next start), and computes for each date a signature
 * of its files (relative path, size, modification time). A date whose signature differs from
 * the one recorded in the state file for a spec (new files, late rows, compaction, a file
 * replaced) — or whose summary file is missing, or every date with `full` — is recomputed
 * whole from its files; the file is written as .part-0.parquet.tmp, fsynced, and renamed over
 * the old one only when its bytes differ (the Parquet writer is deterministic), so a rerun over
 * the same ticks changes no file. The state file is replaced (tmp, fsync, rename) after the
 * summaries: a crash in between makes the next run recompute, which writes the same bytes.
 * A date that lost all its tick files loses its summary files.
 *
 * Order within a window: first/last break ties of equal ts by log order. Within a tick file
 * rows are sorted by (instrument, ts, log offset) and files of one venue sort by their first
 * offset, so (file number in path order, row number) orders an instrument's equal-ts rows as
 * the log did.
 *
 * Memory: one date's windows at a time (an aggregator capped at 8 M windows) plus the file
 * list and the state. Main thread only.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/instrument.h"
#include "etl/etl.h"
#include "sink/lake.h"

#define STATE_MAGIC "tickpipe lake summary state 1"
#define MAX_WINDOWS (8u << 20)
#define MAX_STATE   (1u << 22) /* state lines: 64 specs x 65536 days */
#define DATE_MAX    32
#define CMP_CHUNK   65536
#define PATH_CAP    4200

/* Puts a message in err and returns rc. */
__attribute__((format(printf, 4, 5))) static int say(char *err, size_t errlen, int rc,
                                                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

bool tp_etl_spec_daily(const struct tp_etl_spec *s)
{
    const int64_t day = 86400 * TP_NS_PER_SEC;
    return s->interval_ns > 0 && s->interval_ns <= day && day % s->interval_ns == 0;
}

/* ---- the state file ---- */

struct state_ent {
    char spec[48];
    char date[DATE_MAX];
    uint64_t sig;
    bool seen; /* the date still has tick files (this run) */
};

struct state {
    struct state_ent *e;
    size_t n, cap;
};

static int cmp_ent(const void *x, const void *y)
{
    const struct state_ent *a = x, *b = y;
    int c = strcmp(a->spec, b->spec);
    return c ? c : strcmp(a->date, b->date);
}

static struct state_ent *state_find(struct state *s, const char *spec, const char *date)
{
    struct state_ent k;
    snprintf(k.spec, sizeof k.spec, "%s", spec);
    snprintf(k.date, sizeof k.date, "%s", date);
    return s->n ? bsearch(&k, s->e, s->n, sizeof *s->e, cmp_ent) : NULL;
}

static int state_add(struct state *s, const char *spec, const char *date, uint64_t sig)
{
    if (s->n == s->cap) {
        if (s->cap >= MAX_STATE) return -E2BIG;
        size_t cap = s->cap ? s->cap * 2 : 256;
        struct state_ent *e = realloc(s->e, cap * sizeof *e);
        if (!e) return -ENOMEM;
        s->e = e;
        s->cap = cap;
    }
    struct state_ent *x = &s->e[s->n++];
    memset(x, 0, sizeof *x);
    snprintf(x->spec, sizeof x->spec, "%s", spec);
    snprintf(x->date, sizeof x->date, "%s", date);
    x->sig = sig;
    return 0;
}

/* Reads the state (missing: empty). A malformed file is ignored as a whole (everything is
 * recomputed, which is always correct). */
static int state_read(const char *lake, struct state *s)
{
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/_tickpipe/summary.state", lake);
    FILE *f = fopen(path, "re");
    if (!f) return errno == ENOENT ? 0 : -errno;
    char line[256];
    int rc = 0;
    bool ok = fgets(line, sizeof line, f) && !strncmp(line, STATE_MAGIC "\n", sizeof line);
    while (ok && rc == 0 && fgets(line, sizeof line, f)) {
        char spec[48], date[DATE_MAX];
        unsigned long long sig;
        if (sscanf(line, "%47s %31s %16llx", spec, date, &sig) != 3) {
            ok = false;
            break;
        }
        rc = state_add(s, spec, date, (uint64_t)sig);
    }
    fclose(f);
    if (!ok) s->n = 0;
    if (s->n) qsort(s->e, s->n, sizeof *s->e, cmp_ent);
    return rc;
}

static int state_write(const char *lake, const struct state *s)
{
    char dir[PATH_CAP], path[PATH_CAP + 32], tmp[PATH_CAP + 32];
    snprintf(dir, sizeof dir, "%s/_tickpipe", lake);
    snprintf(path, sizeof path, "%s/summary.state", dir);
    snprintf(tmp, sizeof tmp, "%s/summary.state.tmp", dir);
    int rc = tp_lake_mkdirs(dir);
    if (rc < 0) return rc;
    FILE *f = fopen(tmp, "we");
    if (!f) return -errno;
    fprintf(f, "%s\n", STATE_MAGIC);
    for (size_t i = 0; i < s->n; i++)
        fprintf(f, "%s %s %016llx\n", s->e[i].spec, s->e[i].date, (unsigned long long)s->e[i].sig);
    rc = fflush(f) == 0 && fsync(fileno(f)) == 0 ? 0 : -errno;
    if (fclose(f) != 0 && rc == 0) rc = -errno;
    if (rc == 0 && rename(tmp, path) < 0) rc = -errno;
    if (rc == 0) rc = tp_lake_fsync_dir(dir);
    if (rc < 0) unlink(tmp);
    return rc;
}

/* ---- tick files ---- */

struct tfile {
    char *path;      /* full path (owned by the list) */
    const char *rel; /* below LAKE/ticks/ */
    char date[DATE_MAX];
};

/* The value of the date= component of rel (unescaped), or false. */
static bool date_of(const char *rel, char out[DATE_MAX])
{
    for (const char *p = rel; p && *p; p = strchr(p, '/'), p = p ? p + 1 : NULL) {
        if (strncmp(p, "date=", 5)) continue;
        const char *v = p + 5, *end = strchr(v, '/');
        if (!end || end == v) return false;
        return tp_lake_unescape(v, (size_t)(end - v), out, DATE_MAX) > 0 && !strchr(out, ' ');
    }
    return false;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* ---- one date ---- */

struct run {
    const char *lake;
    const struct tp_etl_spec *spec;
    uint32_t nspec;
    struct tp_etl_lake_result *res;
    char *err;
    size_t errlen;
};

static int read_date(struct run *r, struct tp_etl_agg *a, const struct tfile *f, size_t nf,
                     const bool *need)
{
    for (size_t i = 0; i < nf; i++) {
        struct tp_lake_ticks *t;
        char e[200];
        int rc = tp_lake_ticks_open(f[i].path, &t, e, sizeof e);
        if (rc < 0) return say(r->err, r->errlen, rc, "%s: %s", f[i].path, e);
        struct tp_event ev;
        uint64_t row = 0;
        while ((rc = tp_lake_ticks_next(t, &ev, e, sizeof e)) > 0) {
            uint64_t ord = ((uint64_t)i << 32) | row++;
            for (uint32_t s = 0; s < r->nspec && rc >= 0; s++)
                if (need[s]) rc = tp_etl_agg_add(a, s, &r->spec[s], &ev, ord);
            if (rc < 0) break;
        }
        tp_lake_ticks_free(t);
        if (rc == -E2BIG)
            return say(r->err, r->errlen, rc, "date %s: more than 8M windows", f[0].date);
        if (rc < 0)
            return say(r->err, r->errlen, rc, "%s: %s", f[i].path,
                       rc == -ENOMEM ? "out of memory" : e);
        r->res->ticks += row;
    }
    return 0;
}

static int summary_dir(const struct run *r, const struct tp_etl_spec *s, const char *date,
                       char *out, size_t cap)
{
    char iv[64], fl[64], d[96];
    if (tp_lake_escape(s->interval, strlen(s->interval), iv, sizeof iv) < 0 ||
        tp_lake_escape(tp_etl_field_name(s->field), strlen(tp_etl_field_name(s->field)), fl,
                       sizeof fl) < 0 ||
        tp_lake_escape(date, strlen(date), d, sizeof d) < 0)
        return -ENAMETOOLONG;
    int n = snprintf(out, cap, "%s/summary/interval=%s/field=%s/date=%s", r->lake, iv, fl, d);
    return n > 0 && (size_t)n < cap ? 0 : -ENAMETOOLONG;
}

static const struct tp_pq_column summary_cols[] = {
    {"instrument", TP_PQ_STRING, false, false}, {"field", TP_PQ_STRING, false, false},
    {"interval", TP_PQ_STRING, false, false},   {"ts", TP_PQ_TS_MICROS, false, false},
    {"avg", TP_PQ_DOUBLE, false, false},        {"min", TP_PQ_DOUBLE, false, false},
    {"max", TP_PQ_DOUBLE, false, false},        {"first", TP_PQ_DOUBLE, false, false},
    {"last", TP_PQ_DOUBLE, false, false},       {"count", TP_PQ_INT64, false, false},
};
#define NCOLS TP_ARRAY_LEN(summary_cols)

/* Writes rows[0..n) (one spec, sorted by instrument and ts) as a Parquet file at path (not
 * fsynced: the caller does when it keeps it). */
static int write_summary(const char *path, const struct tp_etl_row *rows, size_t n,
                         const struct tp_etl_spec *s)
{
    const struct tp_pq_kv kv[] = {{TP_LAKE_KV_VERSION, TP_LAKE_SCHEMA_VERSION},
                                  {"tickpipe.table", "summary"}};
    struct tp_pq_options po;
    tp_pq_options_default(&po);
    po.kv = kv;
    po.nkv = TP_ARRAY_LEN(kv);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    struct tp_pq_writer *w;
    int rc = tp_pq_writer_open_fd(&w, fd, summary_cols, NCOLS, &po);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    enum { CH = 4096 };
    static struct tp_pq_bytes ins[CH], fld[CH], ivl[CH];
    static int64_t ts[CH], cnt[CH];
    static double v[5][CH];
    struct tp_pq_bytes fb = {tp_etl_field_name(s->field),
                             (uint32_t)strlen(tp_etl_field_name(s->field))};
    struct tp_pq_bytes ib = {s->interval, (uint32_t)strlen(s->interval)};
    for (size_t i = 0; i < n && rc == 0; i += CH) {
        size_t m = TP_MIN((size_t)CH, n - i);
        for (size_t k = 0; k < m; k++) {
            const struct tp_etl_row *x = &rows[i + k];
            const char *name = tp_instr_name(x->instr);
            ins[k] = (struct tp_pq_bytes){name, (uint32_t)strlen(name)};
            fld[k] = fb;
            ivl[k] = ib;
            ts[k] = x->ts / 1000; /* intervals are whole µs, so window starts are too */
            v[0][k] = x->sum / (double)x->count;
            v[1][k] = x->min;
            v[2][k] = x->max;
            v[3][k] = x->first;
            v[4][k] = x->last;
            cnt[k] = (int64_t)x->count;
        }
        const struct tp_pq_batch_col c[NCOLS] = {
            {ins, NULL},  {fld, NULL},  {ivl, NULL},  {ts, NULL},   {v[0], NULL},
            {v[1], NULL}, {v[2], NULL}, {v[3], NULL}, {v[4], NULL}, {cnt, NULL}};
        rc = tp_pq_writer_append(w, c, m);
    }
    if (rc == 0)
        rc = tp_pq_writer_close(w);
    else
        tp_pq_writer_abort(w);
    if (close(fd) < 0 && rc == 0) rc = -errno;
    return rc;
}

/* fsync of a file by path: 0, -EIO, or the errno of open. */
static int sync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = fsync(fd) < 0 ? -EIO : 0;
    close(fd);
    return rc;
}

/* 1 when the two files hold the same bytes, 0 when not (or b is missing), <0 on an error. */
static int same_bytes(const char *a, const char *b)
{
    int fa = open(a, O_RDONLY | O_CLOEXEC), fb = open(b, O_RDONLY | O_CLOEXEC);
    int rc = 0;
    struct stat sa, sb;
    if (fa < 0 || fb < 0) {
        rc = fa < 0 || errno != ENOENT ? -errno : 0;
        goto out;
    }
    if (fstat(fa, &sa) < 0 || fstat(fb, &sb) < 0) {
        rc = -errno;
        goto out;
    }
    if (sa.st_size != sb.st_size) goto out;
    static char x[CMP_CHUNK], y[CMP_CHUNK];
    for (;;) {
        ssize_t n = read(fa, x, sizeof x), m = n > 0 ? read(fb, y, (size_t)n) : 0;
        if (n < 0 || m < 0) {
            rc = -errno;
            goto out;
        }
        if (n == 0) {
            rc = 1;
            goto out;
        }
        if (m != n || memcmp(x, y, (size_t)n)) goto out;
    }
out:
    if (fa >= 0) close(fa);
    if (fb >= 0) close(fb);
    return rc;
}

/* Writes (or removes, when n is 0) the summary file of spec s for date. */
static int put_file(struct run *r, const struct tp_etl_spec *s, const char *date,
                    const struct tp_etl_row *rows, size_t n)
{
    char dir[PATH_CAP], path[PATH_CAP + 32], tmp[PATH_CAP + 32];
    int rc = summary_dir(r, s, date, dir, sizeof dir);
    if (rc < 0) return say(r->err, r->errlen, rc, "%s: the summary path is too long", date);
    snprintf(path, sizeof path, "%s/part-0.parquet", dir);
    snprintf(tmp, sizeof tmp, "%s/.part-0.parquet.tmp", dir);
    if (n == 0) {
        if (unlink(path) == 0) {
            r->res->files_removed++;
            return tp_lake_fsync_dir(dir);
        }
        return errno == ENOENT ? 0
                               : say(r->err, r->errlen, -errno, "%s: %s", path, strerror(errno));
    }
    if ((rc = tp_lake_mkdirs(dir)) < 0)
        return say(r->err, r->errlen, rc, "%s: %s", dir, strerror(-rc));
    if ((rc = write_summary(tmp, rows, n, s)) < 0) {
        unlink(tmp);
        return say(r->err, r->errlen, rc, "%s: %s", tmp, strerror(-rc));
    }
    r->res->windows += n;
    rc = same_bytes(tmp, path);
    if (rc == 1) {
        unlink(tmp);
        r->res->files_same++;
        return 0;
    }
    if (rc == 0) rc = sync_path(tmp); /* only a file that replaces another needs to last */
    if (rc < 0 || rename(tmp, path) < 0) {
        rc = rc < 0 ? rc : -errno;
        unlink(tmp);
        return say(r->err, r->errlen, rc, "%s: %s", path, strerror(-rc));
    }
    r->res->files_written++;
    return tp_lake_fsync_dir(dir);
}

static bool exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static int do_date(struct run *r, struct state *st, struct state *next, const struct tfile *f,
                   size_t nf, bool full)
{
    uint64_t sig = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < nf; i++) {
        struct stat sb;
        if (stat(f[i].path, &sb) < 0)
            return say(r->err, r->errlen, -errno, "%s: %s", f[i].path, strerror(errno));
        int64_t mt = (int64_t)sb.st_mtim.tv_sec * TP_NS_PER_SEC + sb.st_mtim.tv_nsec;
        int64_t sz = (int64_t)sb.st_size;
        sig = fnv(sig, f[i].rel, strlen(f[i].rel) + 1);
        sig = fnv(sig, &sz, sizeof sz);
        sig = fnv(sig, &mt, sizeof mt);
    }
    bool need[64] = {false}, any = false;
    for (uint32_t s = 0; s < r->nspec; s++) {
        struct state_ent *e = state_find(st, r->spec[s].name, f[0].date);
        if (e) e->seen = true;
        char dir[PATH_CAP], path[PATH_CAP + 32];
        if (summary_dir(r, &r->spec[s], f[0].date, dir, sizeof dir) < 0) return -ENAMETOOLONG;
        snprintf(path, sizeof path, "%s/part-0.parquet", dir);
        /* a missing file is fine when the date had no values of the field (nothing to write) */
        need[s] = full || !e || (e->sig | 1) != (sig | 1) || (!(e->sig & 1) && !exists(path));
        any |= need[s];
        int rc = state_add(next, r->spec[s].name, f[0].date, sig & ~1ull);
        if (rc < 0) return say(r->err, r->errlen, rc, "state: %s", strerror(-rc));
    }
    if (!any) return 0;
    r->res->dates++;
    struct tp_etl_agg *a = tp_etl_agg_new(MAX_WINDOWS);
    if (!a) return say(r->err, r->errlen, -ENOMEM, "out of memory");
    int rc = read_date(r, a, f, nf, need);
    const struct tp_etl_row *rows;
    size_t n = rc == 0 ? tp_etl_agg_rows(a, &rows) : 0;
    /* rows are sorted by (instrument name, spec, ts): gather each spec's */
    struct tp_etl_row *mine = NULL;
    size_t mcap = 0;
    for (uint32_t s = 0; s < r->nspec && rc == 0; s++) {
        if (!need[s]) continue;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) m += rows[i].spec == s;
        if (m > mcap) {
            struct tp_etl_row *p = realloc(mine, m * sizeof *p);
            if (!p) {
                rc = -ENOMEM;
                say(r->err, r->errlen, 0, "out of memory");
                break;
            }
            mine = p;
            mcap = m;
        }
        m = 0;
        for (size_t i = 0; i < n; i++)
            if (rows[i].spec == s) mine[m++] = rows[i];
        rc = put_file(r, &r->spec[s], f[0].date, mine, m);
        /* mark "no values on this date" in the signature's low bit: no file is expected */
        if (rc == 0 && m == 0) next->e[next->n - r->nspec + s].sig |= 1;
    }
    free(mine);
    tp_etl_agg_free(a);
    return rc;
}

int tp_etl_lake_update(const char *lake, const struct tp_etl_spec *spec, uint32_t nspec, bool full,
                       struct tp_etl_lake_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    if (nspec > 64) return say(err, errlen, -EINVAL, "more than 64 specs");
    for (uint32_t s = 0; s < nspec; s++)
        if (!tp_etl_spec_daily(&spec[s]))
            return say(err, errlen, -EINVAL, "%s: the interval must divide a day", spec[s].name);
    char ticks[PATH_CAP];
    if ((size_t)snprintf(ticks, sizeof ticks, "%s/ticks", lake) >= sizeof ticks)
        return say(err, errlen, -ENAMETOOLONG, "%s: path too long", lake);
    struct stat sb;
    if (stat(lake, &sb) < 0) return say(err, errlen, -errno, "%s: %s", lake, strerror(errno));
    if (!S_ISDIR(sb.st_mode)) return say(err, errlen, -ENOTDIR, "%s: not a directory", lake);
    int lock, rc = tp_lake_lock(lake, true, &lock);
    if (rc < 0)
        return say(err, errlen, rc, "%s: cannot take the lake's lock: %s", lake, strerror(-rc));
    uint64_t ack[2];
    bool have_ack = tp_lake_ack_read(lake, ack) == 0;
    char **paths = NULL;
    size_t np = 0;
    struct tfile *f = NULL;
    size_t nf = 0;
    struct state st = {0}, next = {0};
    if (stat(ticks, &sb) == 0 && (rc = tp_lake_list_files(ticks, &paths, &np)) < 0) {
        say(err, errlen, 0, "%s: %s", ticks, strerror(-rc));
        goto out;
    }
    f = calloc(np ? np : 1, sizeof *f);
    if (!f) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < np; i++) {
        const char *rel = paths[i] + strlen(ticks) + 1;
        const char *base = strrchr(paths[i], '/');
        enum tp_sink_log lg;
        uint32_t part;
        uint64_t first, last;
        if (have_ack &&
            tp_lake_parse_part_name(base ? base + 1 : paths[i], &lg, &part, &first, &last) &&
            first >= ack[lg == TP_LOG_INPUT ? 0 : 1])
            continue; /* past the ack: not committed */
        struct tfile *x = &f[nf];
        if (!date_of(rel, x->date)) {
            rc = -EBADMSG;
            say(err, errlen, 0, "%s: a tick file outside a date= partition", paths[i]);
            goto out;
        }
        x->path = paths[i];
        x->rel = rel;
        nf++;
    }
    res->files = nf;
    if ((rc = state_read(lake, &st)) < 0) {
        say(err, errlen, 0, "%s/_tickpipe/summary.state: %s", lake, strerror(-rc));
        goto out;
    }
    struct run r = {lake, spec, nspec, res, err, errlen};
    for (size_t i = 0; i < nf && rc == 0;) {
        size_t j = i + 1;
        while (j < nf && !strcmp(f[j].date, f[i].date)) j++;
        rc = do_date(&r, &st, &next, &f[i], j - i, full);
        i = j;
    }
    /* dates that lost their tick files lose their summaries; other specs' entries stay */
    for (size_t i = 0; i < st.n && rc == 0; i++) {
        const struct state_ent *e = &st.e[i];
        uint32_t s = 0;
        while (s < nspec && strcmp(spec[s].name, e->spec)) s++;
        if (s == nspec) {
            rc = state_add(&next, e->spec, e->date, e->sig);
        } else if (!e->seen) {
            rc = put_file(&r, &spec[s], e->date, NULL, 0);
        }
    }
    if (rc == 0) {
        qsort(next.e, next.n, sizeof *next.e, cmp_ent);
        rc = state_write(lake, &next);
        if (rc < 0) say(err, errlen, 0, "%s/_tickpipe/summary.state: %s", lake, strerror(-rc));
    }
out:
    tp_lake_unlock(lock);
    for (size_t i = 0; i < np; i++) free(paths[i]);
    free(paths);
    free(f);
    free(st.e);
    free(next.e);
    return rc;
}
