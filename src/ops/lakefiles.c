/*
 * lakefiles.c — walking a lake's tables (see lakefiles.h).
 *
 * A recursive walk with a path buffer of TP_LAKE_PATH_MAX bytes: each level appends
 * "/name", recurses, and truncates back. Partition directories are "key=value"; the key must
 * be one the table has (date, venue for ticks; interval, date for bars; date for the others),
 * otherwise the file is still listed, with bad_partition set, so validate can name it.
 */
#include <dirent.h>
#include <sys/stat.h>

#include "ops/lakefiles.h"

static const char *const table_names[TP_LF_N] = {"ticks", "bars", "anomalies", "late", "gaps"};

const char *tp_lf_table_name(enum tp_lf_table t)
{
    return (unsigned)t < TP_LF_N ? table_names[t] : "?";
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Unescapes %XX into out (cap ≥ 1); false when it does not fit. */
static bool unescape(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        if (c == '%' && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        }
        if (o + 1 >= cap) return false;
        out[o++] = c;
    }
    out[o] = 0;
    return true;
}

static bool parse_u64(const char *s, size_t n, uint64_t *ret)
{
    if (n == 0 || n > 20) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *ret = v;
    return true;
}

bool tp_lake_name_parse(const char *name, char log[16], uint32_t *partition, uint64_t *first,
                        uint64_t *last)
{
    static const char suffix[] = ".parquet";
    size_t n = strlen(name), sl = sizeof suffix - 1;
    if (n < 5 + sl || strncmp(name, "part-", 5) || strcmp(name + n - sl, suffix)) return false;
    const char *s = name + 5, *end = name + n - sl;
    /* the last three '-' fields are numbers; what comes before them is the log */
    const char *d3 = end, *d2, *d1;
    while (d3 > s && d3[-1] != '-') d3--;
    if (d3 <= s) return false;
    d2 = d3 - 1;
    while (d2 > s && d2[-1] != '-') d2--;
    if (d2 <= s) return false;
    d1 = d2 - 1;
    while (d1 > s && d1[-1] != '-') d1--;
    if (d1 <= s) return false;
    size_t loglen = (size_t)(d1 - 1 - s);
    if (loglen == 0 || loglen >= 16) return false;
    for (size_t i = 0; i < loglen; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.'))
            return false;
    }
    uint64_t p, f, l;
    if (!parse_u64(d1, (size_t)(d2 - 1 - d1), &p) || p > UINT32_MAX ||
        !parse_u64(d2, (size_t)(d3 - 1 - d2), &f) || !parse_u64(d3, (size_t)(end - d3), &l) ||
        f > l)
        return false;
    memcpy(log, s, loglen);
    log[loglen] = 0;
    *partition = (uint32_t)p;
    *first = f;
    *last = l;
    return true;
}

struct walk {
    struct tp_lake_files *out;
    char path[TP_LAKE_PATH_MAX];
    size_t root_len; /* bytes of "LAKE/" */
    enum tp_lf_table table;
    struct tp_lake_file cur; /* partition values of the directories above */
};

static bool key_allowed(enum tp_lf_table t, const char *key)
{
    if (!strcmp(key, "date")) return true;
    if (t == TP_LF_TICKS && !strcmp(key, "venue")) return true;
    if (t == TP_LF_BARS && !strcmp(key, "interval")) return true;
    return false;
}

static int add_file(struct walk *w, const char *name, const struct stat *st)
{
    struct tp_lake_files *f = w->out;
    if (f->n >= TP_LAKE_FILES_MAX) return -E2BIG;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        struct tp_lake_file *v = realloc(f->v, cap * sizeof *v);
        if (!v) return -ENOMEM;
        f->v = v;
        f->cap = cap;
    }
    struct tp_lake_file *e = &f->v[f->n];
    *e = w->cur;
    e->table = w->table;
    e->rel = strdup(w->path + w->root_len);
    if (!e->rel) return -ENOMEM;
    e->named = tp_lake_name_parse(name, e->log, &e->partition, &e->first, &e->last);
    e->size = (uint64_t)st->st_size;
    e->rows = -1;
    e->mtime_ns = (int64_t)st->st_mtim.tv_sec * TP_NS_PER_SEC + st->st_mtim.tv_nsec;
    f->n++;
    return 0;
}

static bool is_parquet(const char *name)
{
    size_t n = strlen(name);
    return n > 8 && !strcmp(name + n - 8, ".parquet");
}

static int walk_dir(struct walk *w, int depth)
{
    if (depth > TP_LAKE_DEPTH_MAX) return -E2BIG;
    DIR *d = opendir(w->path);
    if (!d) return errno == ENOENT && depth == 0 ? 0 : -errno;
    size_t len = strlen(w->path);
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        const char *name = de->d_name;
        if (name[0] == '.' || name[0] == '_') continue;
        size_t nl = strlen(name);
        if (len + 1 + nl >= sizeof w->path) {
            rc = -ENAMETOOLONG;
            break;
        }
        w->path[len] = '/';
        memcpy(w->path + len + 1, name, nl + 1);
        struct stat st;
        if (lstat(w->path, &st) < 0) {
            if (errno != ENOENT) rc = -errno; /* removed meanwhile (compaction): skip */
        } else if (S_ISDIR(st.st_mode)) {
            struct tp_lake_file saved = w->cur;
            const char *eq = strchr(name, '=');
            if (!eq || eq == name) {
                w->cur.bad_partition = true;
            } else {
                char key[32];
                size_t kl = (size_t)(eq - name);
                char *dst = NULL;
                if (kl < sizeof key) {
                    memcpy(key, name, kl);
                    key[kl] = 0;
                    if (key_allowed(w->table, key))
                        dst = !strcmp(key, "date")    ? w->cur.date
                              : !strcmp(key, "venue") ? w->cur.venue
                                                      : w->cur.interval;
                }
                if (!dst || !unescape(eq + 1, dst, TP_LAKE_PVAL_MAX + 1))
                    w->cur.bad_partition = true;
            }
            rc = walk_dir(w, depth + 1);
            w->cur = saved;
        } else if (S_ISREG(st.st_mode) && is_parquet(name)) {
            rc = add_file(w, name, &st);
        }
        w->path[len] = 0;
    }
    closedir(d);
    return rc;
}

static int cmp_rel(const void *a, const void *b)
{
    return strcmp(((const struct tp_lake_file *)a)->rel, ((const struct tp_lake_file *)b)->rel);
}

int tp_lake_files_list(const char *lake, struct tp_lake_files *ret)
{
    memset(ret, 0, sizeof *ret);
    struct walk *w = calloc(1, sizeof *w);
    if (!w) return -ENOMEM;
    w->out = ret;
    int rc = 0;
    for (int t = 0; t < TP_LF_N && rc == 0; t++) {
        int n = snprintf(w->path, sizeof w->path, "%s/%s", lake, table_names[t]);
        if (n < 0 || (size_t)n >= sizeof w->path) {
            rc = -ENAMETOOLONG;
            break;
        }
        w->root_len = strlen(lake) + 1;
        w->table = (enum tp_lf_table)t;
        memset(&w->cur, 0, sizeof w->cur);
        rc = walk_dir(w, 0);
    }
    free(w);
    if (rc < 0) {
        tp_lake_files_fini(ret);
        return rc;
    }
    if (ret->n > 1) qsort(ret->v, ret->n, sizeof *ret->v, cmp_rel);
    return 0;
}

void tp_lake_files_fini(struct tp_lake_files *f)
{
    for (size_t i = 0; i < f->n; i++) free(f->v[i].rel);
    free(f->v);
    memset(f, 0, sizeof *f);
}
