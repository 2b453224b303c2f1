/*
 * lake_compact.c — `tickpipe compact`: merges each leaf partition's committed part files into
 * one sorted file (one per max_inputs of them) and swaps the partition in atomically (lake.h).
 *
 * Protocol, per leaf partition L (e.g. ticks/date=D/venue=V), all under the lake's lock:
 *  1. the committed files of L (parsed part names with last < ack[log]; anything past the ack
 *     belongs to a batch whose commit never finished and is left to the sink's cleanup) are
 *     taken in offset order, in groups of at most max_inputs;
 *  2. a staging directory S = LAKE/_tickpipe/compact/N (outside every table's glob) gets, per
 *     group of two or more, the merged file written as .tmp, fsynced and renamed to
 *     part-<log>-0-<first of the group>-<last of the group>.parquet, and a hard link to every
 *     other file of L (single files, uncommitted ones, foreign files; not *.parquet.tmp);
 *     S is fsynced;
 *  3. S and L are exchanged with renameat2(RENAME_EXCHANGE) and both parents fsynced: a reader
 *     that lists L sees either the old files or the new ones, never both, never neither;
 *  4. the old tree, now at S, is removed.
 * A crash leaves at most a staging directory, removed by the next compaction (step 0). A
 * reader that listed L's files before the exchange and opens one after step 4 finds it gone:
 * it retries (DuckDB's glob is listed once per query).
 *
 * Merging streams: each input holds one row group at a time (files are sorted by (instrument,
 * ts, offset), groups are in offset order), a heap picks the smallest (instrument, ts, input),
 * and output rows are gathered in CHUNK-row slices. Slices are appended before any input moves
 * to its next row group, as their strings point into that input's buffers. Memory: one row
 * group per input plus the writer's row group.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/tptime.h"
#include "sink/lake.h"

#define CHUNK      8192
#define MAX_COLS   32
#define MAX_FILES  100000
#define LOCK_POLL  (50 * TP_NS_PER_MS)
#define DEF_INPUTS 16

struct ctx {
    const struct tp_lake_compact_opts *o;
    struct tp_lake_compact_stats st;
    uint64_t ack[2];
    char stage_root[PATH_MAX];
    unsigned seq;
    char *err;
    size_t errcap;
};

static void say(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(struct ctx *c, const char *fmt, ...)
{
    if (!c->o->say) return;
    char line[PATH_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    c->o->say(c->o->ctx, line);
}

static int fail(struct ctx *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(struct ctx *c, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errcap, fmt, ap);
    va_end(ap);
    return rc;
}

/* a/b<suffix> into out; -ENAMETOOLONG when it does not fit. */
static int join(char *out, size_t cap, const char *a, const char *b, const char *suffix)
{
    int n = snprintf(out, cap, "%s/%s%s", a, b, suffix);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* ---- one merge ---- */

struct input {
    struct tp_pq_reader *r;
    size_t rg, nrg, row, nrows;
    struct tp_pq_data d[MAX_COLS];
    bool done;
};

struct merge {
    enum tp_lake_table t;
    const struct tp_pq_column *cols;
    size_t ncols;
    int icol, tcol; /* instrument and sort-time columns */
    struct input *in;
    size_t nin;
    size_t *heap, nheap;
    /* the output slice */
    void *vals[MAX_COLS];
    uint8_t *nul[MAX_COLS];
    struct tp_pq_batch_col bc[MAX_COLS];
    size_t nout;
    struct tp_pq_writer *w;
    uint64_t rows;
};

static size_t width(enum tp_pq_kind k)
{
    switch (k) {
    case TP_PQ_BOOL:
        return 1;
    case TP_PQ_INT32:
        return 4;
    case TP_PQ_STRING:
    case TP_PQ_BYTES:
        return sizeof(struct tp_pq_bytes);
    default:
        return 8;
    }
}

static int load_rg(struct merge *m, struct input *in, char *err, size_t errcap)
{
    for (size_t c = 0; c < m->ncols; c++) tp_pq_data_fini(&in->d[c]);
    while (in->rg < in->nrg && tp_pq_reader_rg_rows(in->r, in->rg) == 0) in->rg++;
    if (in->rg >= in->nrg) {
        in->done = true;
        return 0;
    }
    for (size_t c = 0; c < m->ncols; c++) {
        int rc = tp_pq_reader_read(in->r, in->rg, c, &in->d[c]);
        if (rc < 0) {
            snprintf(err, errcap, "%s", tp_pq_reader_error(in->r)->msg);
            return rc;
        }
    }
    in->nrows = (size_t)tp_pq_reader_rg_rows(in->r, in->rg);
    in->row = 0;
    in->rg++;
    return 0;
}

/* a < b by (instrument, time, input index). */
static bool less(const struct merge *m, size_t a, size_t b)
{
    const struct input *x = &m->in[a], *y = &m->in[b];
    const struct tp_pq_bytes *sx = (const struct tp_pq_bytes *)x->d[m->icol].values + x->row;
    const struct tp_pq_bytes *sy = (const struct tp_pq_bytes *)y->d[m->icol].values + y->row;
    size_t n = TP_MIN(sx->n, sy->n);
    int c = n ? memcmp(sx->p, sy->p, n) : 0;
    if (c) return c < 0;
    if (sx->n != sy->n) return sx->n < sy->n;
    int64_t tx = ((const int64_t *)x->d[m->tcol].values)[x->row];
    int64_t ty = ((const int64_t *)y->d[m->tcol].values)[y->row];
    if (tx != ty) return tx < ty;
    return a < b;
}

static void sift_down(struct merge *m, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, s = i;
        if (l < m->nheap && less(m, m->heap[l], m->heap[s])) s = l;
        if (r < m->nheap && less(m, m->heap[r], m->heap[s])) s = r;
        if (s == i) return;
        size_t t = m->heap[i];
        m->heap[i] = m->heap[s];
        m->heap[s] = t;
        i = s;
    }
}

static void sift_up(struct merge *m, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!less(m, m->heap[i], m->heap[p])) return;
        size_t t = m->heap[i];
        m->heap[i] = m->heap[p];
        m->heap[p] = t;
        i = p;
    }
}

static int flush_out(struct merge *m)
{
    if (!m->nout) return 0;
    int rc = tp_pq_writer_append(m->w, m->bc, m->nout);
    m->rows += m->nout;
    m->nout = 0;
    return rc;
}

static void take_row(struct merge *m, const struct input *in)
{
    for (size_t c = 0; c < m->ncols; c++) {
        size_t wd = width(m->cols[c].kind);
        memcpy((char *)m->vals[c] + m->nout * wd, (const char *)in->d[c].values + in->row * wd, wd);
        m->nul[c][m->nout] = in->d[c].is_null[in->row];
    }
    m->nout++;
}

static bool same_schema(const struct tp_pq_reader *r, const struct tp_pq_column *cols, size_t n)
{
    if (tp_pq_reader_ncols(r) != n) return false;
    for (size_t i = 0; i < n; i++) {
        const struct tp_pq_column *c = tp_pq_reader_column(r, i);
        if (strcmp(c->name, cols[i].name) || c->kind != cols[i].kind ||
            c->optional != cols[i].optional)
            return false;
    }
    const char *v = tp_pq_reader_kv(r, TP_LAKE_KV_VERSION);
    return v && !strcmp(v, TP_LAKE_SCHEMA_VERSION);
}

static void merge_free(struct merge *m)
{
    for (size_t i = 0; m->in && i < m->nin; i++) {
        for (size_t c = 0; c < m->ncols; c++) tp_pq_data_fini(&m->in[i].d[c]);
        tp_pq_reader_close(m->in[i].r);
    }
    free(m->in);
    free(m->heap);
    for (size_t c = 0; c < MAX_COLS; c++) {
        free(m->vals[c]);
        free(m->nul[c]);
    }
}

/* Merges paths[0..n) into out (written from scratch, fsynced, closed). *ret_rows. */
static int merge_files(struct ctx *cx, enum tp_lake_table t, char *const *paths, size_t n,
                       const char *out, uint64_t first, uint64_t last, uint64_t *ret_rows)
{
    struct merge m = {.t = t};
    m.cols = tp_lake_schema(t, &m.ncols);
    m.icol = t == TP_LAKE_TICKS || t == TP_LAKE_LATE ? 3 : 0;
    m.tcol = t == TP_LAKE_TICKS || t == TP_LAKE_LATE ? 1 : t == TP_LAKE_BARS ? 2 : 1;
    int rc = -ENOMEM, fd = -1;
    m.in = calloc(n, sizeof *m.in);
    m.heap = calloc(n, sizeof *m.heap);
    if (!m.in || !m.heap) goto out;
    m.nin = n;
    for (size_t c = 0; c < m.ncols; c++) {
        m.vals[c] = malloc(CHUNK * width(m.cols[c].kind));
        m.nul[c] = malloc(CHUNK);
        if (!m.vals[c] || !m.nul[c]) goto out;
        m.bc[c] = (struct tp_pq_batch_col){m.vals[c], m.cols[c].optional ? m.nul[c] : NULL};
    }
    char e[256];
    for (size_t i = 0; i < n; i++) {
        struct tp_pq_error pe;
        rc = tp_pq_reader_open_path(&m.in[i].r, paths[i], NULL, &pe);
        if (rc < 0) {
            m.in[i].r = NULL;
            rc = fail(cx, rc, "%s: %s", paths[i], pe.msg);
            goto out;
        }
        if (!same_schema(m.in[i].r, m.cols, m.ncols)) {
            rc = fail(cx, -EBADMSG,
                      "%s: not a %s file of schema version %s (left alone; move it out of the "
                      "lake to compact this partition)",
                      paths[i], tp_lake_table_name(t), TP_LAKE_SCHEMA_VERSION);
            goto out;
        }
        m.in[i].nrg = tp_pq_reader_row_groups(m.in[i].r);
        if ((rc = load_rg(&m, &m.in[i], e, sizeof e)) < 0) {
            rc = fail(cx, rc, "%s: %s", paths[i], e);
            goto out;
        }
        if (!m.in[i].done) {
            m.heap[m.nheap++] = i;
            sift_up(&m, m.nheap - 1);
        }
    }
    char offs[64];
    snprintf(offs, sizeof offs, "%llu-%llu", (unsigned long long)first, (unsigned long long)last);
    char nfiles[32];
    snprintf(nfiles, sizeof nfiles, "%zu", n);
    const struct tp_pq_kv kv[] = {
        {TP_LAKE_KV_VERSION, TP_LAKE_SCHEMA_VERSION},
        {"tickpipe.table", tp_lake_table_name(t)},
        {"tickpipe.log", tp_lake_table_log(t) == TP_LOG_INPUT ? "input" : "output"},
        {"tickpipe.offsets", offs},
        {"tickpipe.compacted_from", nfiles},
    };
    struct tp_pq_options po;
    tp_pq_options_default(&po);
    if (cx->o->codec) po.codec = cx->o->codec;
    po.row_group_rows = cx->o->row_group_rows ? cx->o->row_group_rows : 65536;
    po.kv = kv;
    po.nkv = TP_ARRAY_LEN(kv);
    fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = fail(cx, -errno, "%s: %s", out, strerror(errno));
        goto out;
    }
    if ((rc = tp_pq_writer_open_fd(&m.w, fd, m.cols, m.ncols, &po)) < 0) {
        m.w = NULL;
        rc = fail(cx, rc, "%s: %s", out, strerror(-rc));
        goto out;
    }
    while (m.nheap && rc == 0) {
        size_t i = m.heap[0];
        struct input *in = &m.in[i];
        take_row(&m, in);
        if (m.nout == CHUNK) rc = flush_out(&m);
        if (rc == 0 && ++in->row == in->nrows) {
            /* the slice points into this row group: append it before loading the next */
            rc = flush_out(&m);
            if (rc == 0 && (rc = load_rg(&m, in, e, sizeof e)) < 0)
                rc = fail(cx, rc, "%s: %s", paths[i], e);
            if (rc == 0 && in->done) m.heap[0] = m.heap[--m.nheap];
        }
        if (rc == 0 && m.nheap) sift_down(&m, 0);
    }
    if (rc == 0) rc = flush_out(&m);
    if (rc == 0) {
        rc = tp_pq_writer_close(m.w);
        m.w = NULL;
        if (rc < 0) rc = fail(cx, rc, "%s: %s", out, strerror(-rc));
    }
    if (rc == 0 && fsync(fd) < 0) rc = fail(cx, -EIO, "%s: fsync failed", out);
    if (rc == 0) *ret_rows = m.rows;
out:
    if (rc < 0 && rc != -ENOMEM && !*cx->err) fail(cx, rc, "%s: %s", out, strerror(-rc));
    if (rc == -ENOMEM && !*cx->err) fail(cx, rc, "out of memory");
    tp_pq_writer_abort(m.w);
    if (fd >= 0) close(fd);
    merge_free(&m);
    return rc;
}

/* ---- partitions ---- */

struct part {
    char name[TP_LAKE_NAME_MAX];
    uint64_t first, last;
};

static int cmp_part(const void *a, const void *b)
{
    const struct part *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* Compacts the leaf directory dir of table t (its regular files listed in names). */
static int compact_leaf(struct ctx *cx, enum tp_lake_table t, const char *dir, char **names,
                        size_t nnames)
{
    enum tp_sink_log tlog = tp_lake_table_log(t);
    struct part *ps = malloc((nnames + 1) * sizeof *ps);
    if (!ps) return fail(cx, -ENOMEM, "out of memory");
    size_t np = 0;
    for (size_t i = 0; i < nnames; i++) {
        enum tp_sink_log log;
        uint32_t part;
        uint64_t first, last;
        if (!tp_lake_parse_part_name(names[i], &log, &part, &first, &last)) continue;
        if (log != tlog || part != 0 || last >= cx->ack[log]) continue;
        snprintf(ps[np].name, sizeof ps[np].name, "%s", names[i]);
        ps[np].first = first;
        ps[np++].last = last;
    }
    qsort(ps, np, sizeof *ps, cmp_part);
    size_t maxin = cx->o->max_inputs >= 2 ? cx->o->max_inputs : DEF_INPUTS;
    size_t groups = 0; /* groups of two or more */
    for (size_t i = 0; i < np; i += maxin)
        if (TP_MIN(maxin, np - i) >= 2) groups++;
    const char *rel = dir + strlen(cx->o->dir) + 1;
    if (!groups) {
        free(ps);
        return 0;
    }
    if (cx->o->dry_run) {
        say(cx, "would merge %zu file(s) of %s into %zu", np, rel, (np + maxin - 1) / maxin);
        free(ps);
        return 0;
    }
    char stage[PATH_MAX], num[16];
    snprintf(num, sizeof num, "%u", cx->seq++);
    int rc = join(stage, sizeof stage, cx->stage_root, num, "");
    if (rc == 0 && mkdir(stage, 0755) < 0) rc = -errno;
    if (rc < 0) {
        free(ps);
        return fail(cx, rc, "%s: %s", cx->stage_root, strerror(-rc));
    }
    uint8_t *merged = calloc(nnames + 1, 1); /* by index into names: consumed by a merge */
    char **paths = calloc(maxin, sizeof *paths);
    if (rc == 0 && (!merged || !paths)) rc = fail(cx, -ENOMEM, "out of memory");
    uint64_t rows_in = 0, outputs = 0, inputs = 0;
    for (size_t g = 0; rc == 0 && g < np; g += maxin) {
        size_t k = TP_MIN(maxin, np - g);
        for (size_t i = 0; i < k; i++)
            for (size_t j = 0; j < nnames; j++)
                if (!strcmp(names[j], ps[g + i].name)) merged[j] = k >= 2;
        if (k < 2) continue;
        for (size_t i = 0; i < k && rc == 0; i++) {
            paths[i] = malloc(PATH_MAX);
            if (!paths[i]) {
                rc = fail(cx, -ENOMEM, "out of memory");
                break;
            }
            rc = join(paths[i], PATH_MAX, dir, ps[g + i].name, "");
        }
        char name[TP_LAKE_NAME_MAX], tmp[PATH_MAX], dst[PATH_MAX];
        uint64_t first = ps[g].first, last = ps[g + k - 1].last, rows = 0;
        tp_lake_part_name(tlog, 0, first, last, name, sizeof name);
        if (rc == 0) rc = join(dst, sizeof dst, stage, name, "");
        if (rc == 0) rc = join(tmp, sizeof tmp, stage, name, ".tmp");
        if (rc < 0) fail(cx, rc, "%s: %s", dir, strerror(-rc));
        if (rc == 0) rc = merge_files(cx, t, paths, k, tmp, first, last, &rows);
        if (rc == 0 && rename(tmp, dst) < 0)
            rc = fail(cx, -errno, "rename %s: %s", tmp, strerror(errno));
        for (size_t i = 0; i < k; i++) {
            free(paths[i]);
            paths[i] = NULL;
        }
        rows_in += rows;
        outputs++;
        inputs += k;
    }
    /* everything else in L comes along, as hard links */
    for (size_t j = 0; rc == 0 && j < nnames; j++) {
        size_t n = strlen(names[j]);
        if (merged[j] || (n > 12 && !strcmp(names[j] + n - 12, ".parquet.tmp"))) continue;
        char from[PATH_MAX], to[PATH_MAX];
        if (join(from, sizeof from, dir, names[j], "") < 0 ||
            join(to, sizeof to, stage, names[j], "") < 0)
            rc = fail(cx, -ENAMETOOLONG, "%s: name too long", dir);
        else if (link(from, to) < 0)
            rc = fail(cx, -errno, "link %s: %s", from, strerror(errno));
    }
    if (rc == 0 && (rc = tp_lake_fsync_dir(stage)) < 0)
        fail(cx, rc, "fsync %s: %s", stage, strerror(-rc));
    if (rc == 0 && (rc = tp_lake_swap_dir(stage, dir)) < 0)
        fail(cx, rc, "swapping %s in: %s", rel,
             rc == -ENOTSUP ? "the filesystem cannot exchange directories atomically "
                              "(renameat2 RENAME_EXCHANGE)"
                            : strerror(-rc));
    if (rc == 0) {
        cx->st.partitions++;
        cx->st.inputs += inputs;
        cx->st.outputs += outputs;
        cx->st.rows += rows_in;
        say(cx, "%s: %llu file(s) -> %llu, %llu rows", rel, (unsigned long long)inputs,
            (unsigned long long)outputs, (unsigned long long)rows_in);
    } else {
        tp_lake_rmtree(stage);
    }
    free(paths);
    free(merged);
    free(ps);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Walks dir: a directory holding files is a leaf partition; others are descended. */
static int walk(struct ctx *cx, enum tp_lake_table t, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : fail(cx, -errno, "%s: %s", dir, strerror(errno));
    char **files = NULL, **subs = NULL;
    size_t nf = 0, ns = 0, cf = 0, cs = 0;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[PATH_MAX];
        struct stat st;
        if (join(p, sizeof p, dir, e->d_name, "") < 0 || lstat(p, &st) < 0) continue;
        bool isdir = S_ISDIR(st.st_mode);
        if (!isdir && !S_ISREG(st.st_mode)) continue;
        char ***v = isdir ? &subs : &files;
        size_t *cnt = isdir ? &ns : &nf, *cap = isdir ? &cs : &cf;
        if (*cnt == *cap) {
            size_t nc = *cap ? 2 * *cap : 64;
            char **q = nc <= MAX_FILES ? realloc(*v, nc * sizeof *q) : NULL;
            if (!q) {
                rc = fail(cx, -E2BIG, "%s: too many entries", dir);
                break;
            }
            *v = q;
            *cap = nc;
        }
        size_t k = strlen(e->d_name) + 1;
        char *s = malloc(k);
        if (!s) {
            rc = fail(cx, -ENOMEM, "out of memory");
            break;
        }
        memcpy(s, e->d_name, k);
        (*v)[(*cnt)++] = s;
    }
    closedir(d);
    if (rc == 0 && ns) qsort(subs, ns, sizeof *subs, cmp_str);
    for (size_t i = 0; rc == 0 && i < ns && depth < 4; i++) {
        char p[PATH_MAX];
        rc = join(p, sizeof p, dir, subs[i], "");
        if (rc < 0)
            fail(cx, rc, "%s: name too long", dir);
        else
            rc = walk(cx, t, p, depth + 1);
    }
    if (rc == 0 && nf && depth > 0 && !ns) rc = compact_leaf(cx, t, dir, files, nf);
    for (size_t i = 0; i < nf; i++) free(files[i]);
    for (size_t i = 0; i < ns; i++) free(subs[i]);
    free(files);
    free(subs);
    return rc;
}

static int lock_within(const char *lake, int64_t wait_ns, int *fd)
{
    int64_t until = tp_mono_ns() + wait_ns;
    for (;;) {
        int rc = tp_lake_lock(lake, false, fd);
        if (rc != -EBUSY || tp_mono_ns() >= until) return rc;
        struct timespec ts = {0, LOCK_POLL};
        nanosleep(&ts, NULL);
    }
}

int tp_lake_compact(const struct tp_lake_compact_opts *o, struct tp_lake_compact_stats *ret,
                    char *err, size_t errcap)
{
    struct ctx cx = {.o = o, .err = err, .errcap = errcap};
    *err = 0;
    struct stat st;
    if (stat(o->dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return fail(&cx, -ENOENT, "%s: no lake there", o->dir);
    int lk;
    int64_t wait = o->lock_wait_ns > 0 ? o->lock_wait_ns : 10 * TP_NS_PER_SEC;
    int rc = lock_within(o->dir, wait, &lk);
    if (rc == -EBUSY)
        return fail(&cx, rc,
                    "%s: the lake's lock stayed busy (another compaction, or a commit that does "
                    "not end); try again",
                    o->dir);
    if (rc < 0) return fail(&cx, rc, "%s: cannot take the lake's lock: %s", o->dir, strerror(-rc));
    rc = tp_lake_ack_read(o->dir, cx.ack);
    if (rc == -ENOENT) {
        tp_lake_unlock(lk);
        say(&cx, "no acknowledged data in %s: nothing to compact", o->dir);
        if (ret) *ret = cx.st;
        return 0;
    }
    if (rc < 0) {
        tp_lake_unlock(lk);
        return fail(&cx, rc, "%s/_tickpipe/ack: %s", o->dir,
                    rc == -EBADMSG ? "malformed" : strerror(-rc));
    }
    rc = join(cx.stage_root, sizeof cx.stage_root, o->dir, "_tickpipe/compact", "");
    if (rc == 0) rc = tp_lake_rmtree(cx.stage_root); /* what a crashed compaction left */
    if (rc == 0 && !o->dry_run) rc = tp_lake_mkdirs(cx.stage_root);
    if (rc < 0) fail(&cx, rc, "%s: %s", cx.stage_root, strerror(-rc));
    for (int t = 0; rc == 0 && t < TP_LAKE_NTABLES; t++) {
        char dir[PATH_MAX];
        rc = join(dir, sizeof dir, o->dir, tp_lake_table_name((enum tp_lake_table)t), "");
        if (rc == 0) rc = walk(&cx, (enum tp_lake_table)t, dir, 0);
    }
    if (!o->dry_run) tp_lake_rmtree(cx.stage_root);
    tp_lake_unlock(lk);
    if (ret) *ret = cx.st;
    return rc;
}
