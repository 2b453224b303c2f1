/*
 * validate.c — the validator's run and its report (see validate.h; the checks themselves are
 * in vlake.c and vjournal.c, the rules in docs/validate.md).
 *
 * A problem is counted once in its check and kept as an example while the check has fewer
 * than max_examples; the check's status is the worst severity seen. A check that could not
 * run says why (skip) unless it already found something.
 */
#include <stdarg.h>

#include "core/tptime.h"
#include "ops/validate_int.h"
#include "serve/json.h"

static const char *const check_names[TP_VC_N] = {
    "schema", "partitions", "counts",   "nulls",     "values",  "duplicates",
    "bars",   "reconcile",  "coverage", "freshness", "journal", "database",
};
static const char *const check_titles[TP_VC_N] = {
    "files readable, columns present with their types",
    "rows agree with their date/venue/interval partition",
    "row counts per day and instrument",
    "no nulls where a value is required, no NaN",
    "prices positive, sizes not negative",
    "trade ids unique per instrument",
    "bars consistent (low <= open, close <= high, volume >= 0, trades > 0, vwap in range)",
    "1m bars equal the OHLCV recomputed from the lake's ticks",
    "no missing day, no long run of minutes without ticks, recorded gaps",
    "latest event of each instrument within --max-age",
    "journal records equal lake rows, file by file",
    "lake, database and journal counts agree per day and instrument",
};

const char *tp_vcheck_name(enum tp_vcheck c)
{
    return (unsigned)c < TP_VC_N ? check_names[c] : "?";
}

const char *tp_vstatus_name(enum tp_vstatus s)
{
    switch (s) {
    case TP_VS_OK:
        return "ok";
    case TP_VS_SKIP:
        return "skip";
    case TP_VS_WARN:
        return "warn";
    default:
        return "fail";
    }
}

void tp_validate_opts_default(struct tp_validate_opts *o, const char *data)
{
    memset(o, 0, sizeof *o);
    o->data = data;
    o->max_gap_ns = 15 * 60 * TP_NS_PER_SEC;
    o->lateness_ns = 2 * TP_NS_PER_SEC;
    o->journal = true;
    o->max_examples = 20;
    o->lake = true;
}

struct viday *vx_iday(struct tp_validate_report *r, uint32_t instr, int64_t day)
{
    uint64_t key[2];
    tp_vmap_key(instr, (uint64_t)day, key);
    uint32_t *slot = tp_vmap_get(&r->idaymap, key);
    if (slot) return &r->iday[*slot];
    if (r->niday >= VX_IDAY_MAX) return NULL;
    if (r->niday == r->capiday) {
        size_t n = r->capiday ? r->capiday * 2 : 256;
        struct viday *v = realloc(r->iday, n * sizeof *v);
        if (!v) return NULL;
        r->iday = v;
        r->capiday = n;
    }
    if (tp_vmap_put(&r->idaymap, key, (uint32_t)r->niday, NULL) < 0) return NULL;
    struct viday *e = &r->iday[r->niday++];
    memset(e, 0, sizeof *e);
    e->instr = instr;
    e->day = day;
    return e;
}

struct vinst *vx_inst(struct tp_validate_report *r, uint32_t id)
{
    if (id >= r->ninst) {
        size_t n = TP_MAX((size_t)id + 1, r->ninst * 2);
        struct vinst *v = realloc(r->inst, n * sizeof *v);
        if (!v) return NULL;
        memset(v + r->ninst, 0, (n - r->ninst) * sizeof *v);
        r->inst = v;
        r->ninst = n;
    }
    return &r->inst[id];
}

static void problem(struct tp_validate_report *r, enum tp_vcheck c, enum tp_vstatus sev,
                    const char *src, uint32_t instr, int64_t ts, const char *fmt, va_list ap)
    __attribute__((format(printf, 7, 0)));

static void problem(struct tp_validate_report *r, enum tp_vcheck c, enum tp_vstatus sev,
                    const char *src, uint32_t instr, int64_t ts, const char *fmt, va_list ap)
{
    struct vcheck *k = &r->c[c];
    k->problems++;
    if (sev > k->st) k->st = sev;
    if (instr != UINT32_MAX && ts != INT64_MIN) {
        struct viday *d = vx_iday(r, instr, tp_floor_div(ts, 86400 * TP_NS_PER_SEC));
        if (d) {
            d->fail += sev == TP_VS_FAIL;
            d->warn += sev == TP_VS_WARN;
            if (sev == TP_VS_FAIL) d->failed_mask |= 1u << c;
        } else {
            r->iday_dropped++;
        }
    }
    /* warnings keep a few examples; a failure takes the place of a warning when full */
    size_t warns = 0, slot = k->nex;
    for (size_t i = 0; i < k->nex; i++) warns += k->ex[i].severity == TP_VS_WARN;
    if (sev == TP_VS_WARN && warns >= TP_MIN(3, r->o.max_examples)) return;
    if (k->nex >= r->o.max_examples) {
        if (sev != TP_VS_FAIL || !warns) return;
        for (slot = k->nex; slot-- > 0;)
            if (k->ex[slot].severity == TP_VS_WARN) break;
        free(k->ex[slot].file);
    }
    if (!k->ex) {
        k->ex = calloc(r->o.max_examples, sizeof *k->ex);
        if (!k->ex) return; /* the count still says it */
    }
    if (slot == k->nex) k->nex++;
    struct vex *e = &k->ex[slot];
    e->severity = sev;
    e->file = src ? strdup(src) : NULL;
    e->instrument[0] = 0;
    if (instr != UINT32_MAX)
        snprintf(e->instrument, sizeof e->instrument, "%s", tp_vstrs_get(&r->instr, instr));
    e->has_ts = ts != INT64_MIN;
    e->ts = ts;
    vsnprintf(e->detail, sizeof e->detail, fmt, ap);
}

void vx_problem(struct tp_validate_report *r, enum tp_vcheck c, enum tp_vstatus sev, uint32_t file,
                uint32_t instr, int64_t ts, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    problem(r, c, sev, file < r->files.n ? r->files.v[file].rel : NULL, instr, ts, fmt, ap);
    va_end(ap);
}

void vx_problem_src(struct tp_validate_report *r, enum tp_vcheck c, enum tp_vstatus sev,
                    const char *src, uint32_t instr, int64_t ts, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    problem(r, c, sev, src, instr, ts, fmt, ap);
    va_end(ap);
}

void vx_skip(struct tp_validate_report *r, enum tp_vcheck c, const char *why)
{
    struct vcheck *k = &r->c[c];
    if (k->problems) return;
    k->skipped = true;
    k->st = TP_VS_SKIP;
    snprintf(k->note, sizeof k->note, "%s", why);
}

void vx_note(struct tp_validate_report *r, enum tp_vcheck c, const char *fmt, ...)
{
    struct vcheck *k = &r->c[c];
    size_t n = strlen(k->note);
    if (n + 3 >= sizeof k->note) return;
    if (n) {
        memcpy(k->note + n, "; ", 3);
        n += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->note + n, sizeof k->note - n, fmt, ap);
    va_end(ap);
}

bool vx_interval_parse(const char *s, size_t n, int64_t *ret_ns)
{
    char b[16];
    if (n == 0 || n >= sizeof b) return false;
    memcpy(b, s, n);
    b[n] = 0;
    int64_t v;
    if (tp_duration_parse(b, &v) < 0 || v <= 0) return false;
    *ret_ns = v;
    return true;
}

int tp_validate_run(const struct tp_validate_opts *o, struct tp_validate_report **ret, char *err,
                    size_t errcap)
{
    if (!o->data || o->max_gap_ns < 0 || o->max_age_ns < 0 || o->lateness_ns < 0) {
        snprintf(err, errcap, "bad options");
        return -EINVAL;
    }
    struct tp_validate_report *r = calloc(1, sizeof *r);
    if (!r) return -ENOMEM;
    r->o = *o;
    if (!r->o.max_examples) r->o.max_examples = 20;
    snprintf(r->data, sizeof r->data, "%s", o->data);
    r->o.data = r->data;
    r->run_at = tp_now_ns();
    int64_t t0 = tp_mono_ns();
    bool pg = o->postgres && *o->postgres;
    int rc = 0;
    if (o->lake) {
        r->lake_ran = true;
        rc = vx_lake(r, err, errcap);
        if (rc == 0) {
            if (o->journal)
                rc = vx_journal(r, err, errcap);
            else
                vx_skip(r, TP_VC_JOURNAL, "not asked (--no-journal)");
        }
        /* the lake's counts per (instrument, day), for the database check */
        for (size_t i = 0; rc == 0 && pg && i < r->ndays; i++) {
            const struct vdaycount *d = &r->days[i];
            unsigned y, m, dd;
            if (sscanf(d->date, "%4u-%2u-%2u", &y, &m, &dd) != 3) continue;
            struct viday *e = vx_iday(r, d->instr, tp_days_from_civil(y, m, dd));
            if (!e) {
                r->iday_dropped++;
                continue;
            }
            e->lake = true;
            e->lake_ticks += d->ticks;
            e->lake_bars += d->bars_1m;
        }
    } else {
        vx_skip(r, TP_VC_JOURNAL, "the lake was not checked (--postgres without --data)");
    }
    if (rc == 0) {
        if (pg) {
            r->pg_ran = true;
            rc = vx_pg(r, err, errcap);
        } else {
            vx_skip(r, TP_VC_DATABASE, "no database (--postgres)");
        }
    }
    if (rc < 0) {
        tp_validate_free(r);
        return rc;
    }
    r->elapsed_ns = tp_mono_ns() - t0;
    *ret = r;
    return 0;
}

void tp_validate_free(struct tp_validate_report *r)
{
    if (!r) return;
    for (int c = 0; c < TP_VC_N; c++) {
        for (size_t i = 0; i < r->c[c].nex; i++) free(r->c[c].ex[i].file);
        free(r->c[c].ex);
    }
    tp_vstrs_fini(&r->instr);
    free(r->inst);
    free(r->days);
    free(r->pend);
    free(r->iday);
    tp_vmap_fini(&r->idaymap);
    tp_lake_files_fini(&r->files);
    free(r);
}

bool tp_validate_ok(const struct tp_validate_report *r)
{
    for (int c = 0; c < TP_VC_N; c++)
        if (r->c[c].st == TP_VS_FAIL) return false;
    return true;
}

enum tp_vstatus tp_validate_status(const struct tp_validate_report *r, enum tp_vcheck c)
{
    return r->c[c].st;
}

uint64_t tp_validate_problems(const struct tp_validate_report *r, enum tp_vcheck c)
{
    return r->c[c].problems;
}

/* ---- output ------------------------------------------------------------------------------ */

int tp_validate_json(const struct tp_validate_report *r, struct tp_buf *out)
{
    struct tp_jw w;
    tp_jw_init(&w, out);
    tp_jw_obj(&w);
    tp_jw_key(&w, "run_at");
    tp_jw_time(&w, r->run_at);
    tp_jw_key(&w, "data");
    tp_jw_str(&w, r->data);
    tp_jw_key(&w, "ok");
    tp_jw_bool(&w, tp_validate_ok(r));
    tp_jw_key(&w, "elapsed_s");
    tp_jw_num(&w, (double)r->elapsed_ns / 1e9);
    tp_jw_key(&w, "files");
    tp_jw_u64(&w, r->files.n);
    tp_jw_key(&w, "rows");
    tp_jw_obj(&w);
    for (int t = 0; t < TP_LF_N; t++) {
        tp_jw_key(&w, tp_lf_table_name((enum tp_lf_table)t));
        tp_jw_u64(&w, r->table_rows[t]);
    }
    tp_jw_obj_end(&w);
    tp_jw_key(&w, "lake");
    tp_jw_bool(&w, r->lake_ran);
    tp_jw_key(&w, "postgres");
    tp_jw_bool(&w, r->pg_ran);
    if (r->pg_ran) {
        tp_jw_key(&w, "db_rows");
        tp_jw_obj(&w);
        for (int t = 0; t < TP_LF_N; t++) {
            tp_jw_key(&w, tp_lf_table_name((enum tp_lf_table)t));
            tp_jw_u64(&w, r->db_rows[t]);
        }
        tp_jw_obj_end(&w);
    }
    tp_jw_key(&w, "settings");
    tp_jw_obj(&w);
    tp_jw_key(&w, "max_gap");
    tp_jw_dur(&w, r->o.max_gap_ns);
    tp_jw_key(&w, "max_age");
    tp_jw_dur(&w, r->o.max_age_ns);
    tp_jw_key(&w, "as_of");
    tp_jw_time(&w, r->o.as_of_ns);
    tp_jw_key(&w, "lateness");
    tp_jw_dur(&w, r->o.lateness_ns);
    tp_jw_obj_end(&w);
    tp_jw_key(&w, "checks");
    tp_jw_arr(&w);
    for (int c = 0; c < TP_VC_N; c++) {
        const struct vcheck *k = &r->c[c];
        tp_jw_obj(&w);
        tp_jw_key(&w, "check");
        tp_jw_str(&w, check_names[c]);
        tp_jw_key(&w, "status");
        tp_jw_str(&w, tp_vstatus_name(k->st));
        tp_jw_key(&w, "title");
        tp_jw_str(&w, check_titles[c]);
        tp_jw_key(&w, "problems");
        tp_jw_u64(&w, k->problems);
        tp_jw_key(&w, "checked");
        tp_jw_u64(&w, k->checked);
        tp_jw_key(&w, "note");
        tp_jw_str_or_null(&w, k->note);
        tp_jw_key(&w, "examples");
        tp_jw_arr(&w);
        for (size_t i = 0; i < k->nex; i++) {
            const struct vex *e = &k->ex[i];
            tp_jw_obj(&w);
            tp_jw_key(&w, "severity");
            tp_jw_str(&w, tp_vstatus_name(e->severity));
            tp_jw_key(&w, "file");
            if (e->file)
                tp_jw_str(&w, e->file);
            else
                tp_jw_null(&w);
            tp_jw_key(&w, "instrument");
            tp_jw_str_or_null(&w, e->instrument);
            tp_jw_key(&w, "ts");
            if (e->has_ts)
                tp_jw_time(&w, e->ts);
            else
                tp_jw_null(&w);
            tp_jw_key(&w, "detail");
            tp_jw_str(&w, e->detail);
            tp_jw_obj_end(&w);
        }
        tp_jw_arr_end(&w);
        tp_jw_obj_end(&w);
    }
    tp_jw_arr_end(&w);
    tp_jw_key(&w, "days");
    tp_jw_arr(&w);
    for (size_t i = 0; i < r->ndays; i++) {
        const struct vdaycount *d = &r->days[i];
        tp_jw_obj(&w);
        tp_jw_key(&w, "date");
        tp_jw_str(&w, d->date);
        tp_jw_key(&w, "instrument");
        tp_jw_str(&w, tp_vstrs_get(&r->instr, d->instr));
        tp_jw_key(&w, "ticks");
        tp_jw_u64(&w, d->ticks);
        tp_jw_key(&w, "trades");
        tp_jw_u64(&w, d->trades);
        tp_jw_key(&w, "quotes");
        tp_jw_u64(&w, d->quotes);
        tp_jw_key(&w, "bars_1m");
        tp_jw_u64(&w, d->bars_1m);
        tp_jw_key(&w, "first_ts");
        if (d->ticks)
            tp_jw_time(&w, d->first_ts);
        else
            tp_jw_null(&w);
        tp_jw_key(&w, "last_ts");
        if (d->ticks)
            tp_jw_time(&w, d->last_ts);
        else
            tp_jw_null(&w);
        tp_jw_obj_end(&w);
    }
    tp_jw_arr_end(&w);
    if (r->pg_ran && r->lake_ran) {
        /* per (instrument, day) the counts the database check compared */
        tp_jw_key(&w, "reconcile_days");
        tp_jw_arr(&w);
        for (size_t i = 0; i < r->niday; i++) {
            const struct viday *d = &r->iday[i];
            if (!d->lake && !d->db && !d->jnl) continue;
            char date[16];
            tp_date_format(d->day * 86400 * TP_NS_PER_SEC, date);
            tp_jw_obj(&w);
            tp_jw_key(&w, "date");
            tp_jw_str(&w, date);
            tp_jw_key(&w, "instrument");
            tp_jw_str(&w, tp_vstrs_get(&r->instr, d->instr));
            tp_jw_key(&w, "lake_ticks");
            tp_jw_u64(&w, d->lake_ticks);
            tp_jw_key(&w, "db_ticks");
            tp_jw_u64(&w, d->db_ticks);
            tp_jw_key(&w, "journal_ticks");
            if (d->jnl)
                tp_jw_u64(&w, d->j_ticks);
            else
                tp_jw_null(&w);
            tp_jw_key(&w, "lake_bars_1m");
            tp_jw_u64(&w, d->lake_bars);
            tp_jw_key(&w, "db_bars_1m");
            tp_jw_u64(&w, d->db_bars);
            tp_jw_key(&w, "journal_bars_1m");
            if (d->jnl)
                tp_jw_u64(&w, d->j_bars);
            else
                tp_jw_null(&w);
            tp_jw_obj_end(&w);
        }
        tp_jw_arr_end(&w);
    }
    tp_jw_obj_end(&w);
    if (!w.err) w.err = tp_buf_putc(out, '\n');
    return w.err;
}

#define PRINT_DAYS_MAX 14

void tp_validate_print(const struct tp_validate_report *r, FILE *f)
{
    uint64_t trades = 0, ndates = 0;
    char last[16] = "";
    for (size_t i = 0; i < r->ndays; i++) {
        trades += r->days[i].trades;
        if (strcmp(last, r->days[i].date)) {
            ndates++;
            snprintf(last, sizeof last, "%s", r->days[i].date);
        }
    }
    fprintf(f,
            "tickpipe validate %s: %zu files, %llu days, %zu instruments; %llu ticks (%llu "
            "trades), %llu bars, %llu anomalies, %llu late, %llu gaps (%.2f s)\n",
            r->data, r->files.n, (unsigned long long)ndates, r->instr.n,
            (unsigned long long)r->table_rows[TP_LF_TICKS], (unsigned long long)trades,
            (unsigned long long)r->table_rows[TP_LF_BARS],
            (unsigned long long)r->table_rows[TP_LF_ANOMALIES],
            (unsigned long long)r->table_rows[TP_LF_LATE],
            (unsigned long long)r->table_rows[TP_LF_GAPS], (double)r->elapsed_ns / 1e9);
    if (r->pg_ran)
        fprintf(
            f, "  database: %llu ticks, %llu bars, %llu anomalies, %llu late, %llu gaps%s\n",
            (unsigned long long)r->db_rows[TP_LF_TICKS], (unsigned long long)r->db_rows[TP_LF_BARS],
            (unsigned long long)r->db_rows[TP_LF_ANOMALIES],
            (unsigned long long)r->db_rows[TP_LF_LATE], (unsigned long long)r->db_rows[TP_LF_GAPS],
            r->lake_ran ? "" : " (the lake was not checked)");
    int failed = 0, warned = 0;
    for (int c = 0; c < TP_VC_N; c++) {
        const struct vcheck *k = &r->c[c];
        failed += k->st == TP_VS_FAIL;
        warned += k->st == TP_VS_WARN;
        const char *tag = k->st == TP_VS_FAIL   ? "FAIL"
                          : k->st == TP_VS_WARN ? "warn"
                          : k->st == TP_VS_SKIP ? "skip"
                                                : "ok";
        fprintf(f, "  %-4s  %-10s  %s", tag, check_names[c], check_titles[c]);
        if (k->problems)
            fprintf(f, ": %llu problem%s", (unsigned long long)k->problems,
                    k->problems == 1 ? "" : "s");
        fputc('\n', f);
        if (k->note[0]) fprintf(f, "                    (%s)\n", k->note);
        for (size_t i = 0; i < k->nex; i++) {
            const struct vex *e = &k->ex[i];
            char ts[TP_TIME_STRLEN] = "";
            if (e->has_ts) tp_time_format(e->ts, ts);
            fprintf(f, "          %s%s%s%s%s%s%s\n", e->file ? e->file : "", e->file ? ": " : "",
                    e->instrument, e->instrument[0] ? " " : "", ts,
                    (e->instrument[0] || ts[0]) ? ": " : "", e->detail);
        }
        if (k->problems > k->nex)
            fprintf(f, "          ... and %llu more\n", (unsigned long long)(k->problems - k->nex));
    }
    /* per day: the totals over instruments, the last PRINT_DAYS_MAX days */
    if (r->ndays) {
        fprintf(f, "  %-10s  %11s  %12s  %12s  %10s\n", "date", "instruments", "ticks", "trades",
                "bars_1m");
        size_t start = 0;
        if (ndates > PRINT_DAYS_MAX) {
            uint64_t skip = ndates - PRINT_DAYS_MAX, seen = 0;
            for (start = 0; start < r->ndays; start++) {
                if (start == 0 || strcmp(r->days[start].date, r->days[start - 1].date)) seen++;
                if (seen > skip) break;
            }
            fprintf(f, "  ... %llu earlier days in the --json report\n", (unsigned long long)skip);
        }
        for (size_t i = start; i < r->ndays;) {
            uint64_t ni = 0, tk = 0, tr = 0, b1 = 0;
            size_t j = i;
            for (; j < r->ndays && !strcmp(r->days[j].date, r->days[i].date); j++) {
                ni += r->days[j].ticks > 0;
                tk += r->days[j].ticks;
                tr += r->days[j].trades;
                b1 += r->days[j].bars_1m;
            }
            fprintf(f, "  %-10s  %11llu  %12llu  %12llu  %10llu\n", r->days[i].date,
                    (unsigned long long)ni, (unsigned long long)tk, (unsigned long long)tr,
                    (unsigned long long)b1);
            i = j;
        }
    }
    if (failed)
        fprintf(f, "result: FAIL (%d check%s failed%s)\n", failed, failed == 1 ? "" : "s",
                warned ? ", with warnings" : "");
    else
        fprintf(f, "result: ok%s\n", warned ? " (with warnings)" : "");
}
