/*
 * s3.c — uploading closed lake files to an S3-compatible store (see s3.h for the protocol,
 * the state and the threads).
 *
 * One libcurl easy handle per uploader, reset before each request so connections are reused.
 * A request is signed just before it is sent (the date is part of the signature), with every
 * header that matters signed: host, x-amz-date, x-amz-content-sha256 (the SHA-256 of the
 * exact bytes sent, computed from the file range first) and x-amz-security-token. Bodies are
 * read from the file with pread in curl's read callback, so memory stays at curl's buffer
 * whatever the file size. Responses are kept up to RESP_MAX bytes (S3's XML answers are
 * small).
 */
#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/tptime.h"
#include "ops/lakefiles.h"
#include "sink/s3_int.h"
#include "sink/sigv4.h"

#define RESP_MAX  (1u << 20)
#define URL_MAX   4096
#define CHUNK     (1u << 20)
#define BUCKET_MX 64

struct tp_s3 {
    struct tp_s3_cfg c;
    char bucket[BUCKET_MX];
    char prefix[S3_KEY_MAX];
    char region[64];
    char *access_key, *secret_key, *token; /* owned copies */
    char endpoint[600];                    /* scheme://host[:port], no trailing '/' */
    char host[512];                        /* the Host header */
    bool path_style;
    CURL *curl;
    struct s3state st;
    struct {
        _Atomic uint64_t uploaded, bytes, parts, skipped, resumed, retries, errors, deleted;
    } stats;
};

void tp_s3_cfg_default(struct tp_s3_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->part_size = 16u << 20;
    c->multipart_threshold = 64u << 20;
    c->max_attempts = 6;
    c->backoff_ns = 200 * TP_NS_PER_MS;
    c->max_backoff_ns = 10 * TP_NS_PER_SEC;
    c->timeout_s = 300;
}

int tp_s3_parse_url(const char *url, char bucket[64], char *prefix, size_t prefix_cap)
{
    if (!url || strncmp(url, "s3://", 5)) return -EINVAL;
    const char *b = url + 5, *slash = strchr(b, '/');
    size_t bl = slash ? (size_t)(slash - b) : strlen(b);
    if (bl < 3 || bl > 63) return -EINVAL;
    for (size_t i = 0; i < bl; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
            return -EINVAL;
    }
    const char *p = slash ? slash + 1 : "";
    size_t pl = strlen(p);
    while (pl && p[pl - 1] == '/') pl--;
    if (pl >= prefix_cap || (pl && p[0] == '/') || memchr(p, '\n', pl)) return -EINVAL;
    memcpy(bucket, b, bl);
    bucket[bl] = 0;
    memcpy(prefix, p, pl);
    prefix[pl] = 0;
    return 0;
}

static const char *env_or(const char *v, const char *name)
{
    if (v && *v) return v;
    const char *e = getenv(name);
    return e && *e ? e : NULL;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int tp_s3_new(const struct tp_s3_cfg *cfg, struct tp_s3 **ret, char *err, size_t errcap)
{
    struct tp_s3 *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    s->c = *cfg;
    s->st.log_fd = -1;
    int rc = -EINVAL;
    if (tp_s3_parse_url(cfg->url, s->bucket, s->prefix, sizeof s->prefix) < 0) {
        snprintf(err, errcap, "'%s' is not s3://bucket[/prefix]", cfg->url ? cfg->url : "");
        goto out_free;
    }
    const char *ak = env_or(cfg->access_key, "AWS_ACCESS_KEY_ID");
    const char *sk = env_or(cfg->secret_key, "AWS_SECRET_ACCESS_KEY");
    const char *tok = env_or(cfg->session_token, "AWS_SESSION_TOKEN");
    const char *region = env_or(cfg->region, "AWS_REGION");
    if (!region) region = env_or(NULL, "AWS_DEFAULT_REGION");
    if (!region) region = "us-east-1";
    if (!ak || !sk) {
        snprintf(err, errcap, "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
        goto out_free;
    }
    if (strlen(region) >= sizeof s->region || strpbrk(region, "/ \n")) {
        snprintf(err, errcap, "bad region '%s'", region);
        goto out_free;
    }
    snprintf(s->region, sizeof s->region, "%s", region);
    s->access_key = strdup(ak);
    s->secret_key = strdup(sk);
    s->token = tok ? strdup(tok) : NULL;
    if (!s->access_key || !s->secret_key || (tok && !s->token)) {
        rc = -ENOMEM;
        goto out_free;
    }
    if (cfg->endpoint && *cfg->endpoint) {
        const char *e = cfg->endpoint, *hs = strstr(e, "://");
        size_t el = strlen(e);
        while (el && e[el - 1] == '/') el--;
        if (!hs || (strncmp(e, "http://", 7) && strncmp(e, "https://", 8)) ||
            el >= sizeof s->endpoint || strchr(hs + 3, '/') != NULL || hs + 3 >= e + el) {
            snprintf(err, errcap, "--s3-endpoint '%s' is not http(s)://host[:port]", e);
            goto out_free;
        }
        memcpy(s->endpoint, e, el);
        s->endpoint[el] = 0;
        snprintf(s->host, sizeof s->host, "%s", strstr(s->endpoint, "://") + 3);
        s->path_style = true;
    } else {
        snprintf(s->host, sizeof s->host, "%s.s3.%s.amazonaws.com", s->bucket, s->region);
        snprintf(s->endpoint, sizeof s->endpoint, "https://%s", s->host);
        s->path_style = false;
    }
    if (!cfg->state_dir || !*cfg->state_dir) {
        snprintf(err, errcap, "no state directory");
        goto out_free;
    }
    if (s->c.part_size < TP_S3_MIN_PART || s->c.multipart_threshold < s->c.part_size ||
        s->c.max_attempts < 1 || s->c.backoff_ns < 0 || s->c.max_backoff_ns < s->c.backoff_ns) {
        snprintf(err, errcap, "bad part size, threshold or retry settings");
        goto out_free;
    }
    rc = s3state_open(&s->st, cfg->state_dir, err, errcap);
    if (rc < 0) goto out_free;
    pthread_once(&curl_once, curl_init);
    s->curl = curl_easy_init();
    if (!s->curl) {
        rc = -ENOMEM;
        goto out_free;
    }
    *ret = s;
    return 0;
out_free:
    tp_s3_free(s);
    return rc;
}

void tp_s3_free(struct tp_s3 *s)
{
    if (!s) return;
    if (s->curl) curl_easy_cleanup(s->curl);
    s3state_close(&s->st);
    free(s->access_key);
    free(s->secret_key);
    free(s->token);
    free(s);
}

void tp_s3_get_stats(const struct tp_s3 *s, struct tp_s3_stats *o)
{
    o->uploaded = atomic_load(&s->stats.uploaded);
    o->bytes = atomic_load(&s->stats.bytes);
    o->parts = atomic_load(&s->stats.parts);
    o->skipped = atomic_load(&s->stats.skipped);
    o->resumed = atomic_load(&s->stats.resumed);
    o->retries = atomic_load(&s->stats.retries);
    o->errors = atomic_load(&s->stats.errors);
    o->deleted = atomic_load(&s->stats.deleted);
}

/* ---- one request ------------------------------------------------------------------------- */

struct req {
    const char *method; /* PUT, POST, DELETE, HEAD */
    const char *key;    /* object key (prefix included) */
    const char *query;  /* raw query, already encoded, or NULL */
    int fd;             /* body from the file: [off, off+len) */
    uint64_t off, len;
    const char *body; /* or from memory */
    size_t body_len;
    const char *content_type;
};

struct resp {
    long status;
    struct tp_buf body;
    char etag[S3_ETAG_MAX + 1];
};

struct reader {
    int fd;
    uint64_t off, left;
    int err;
};

static size_t read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
    struct reader *r = arg;
    size_t want = size * nitems;
    if (want > r->left) want = (size_t)r->left;
    if (want == 0) return 0;
    ssize_t n;
    do n = pread(r->fd, buf, want, (off_t)r->off);
    while (n < 0 && errno == EINTR);
    if (n <= 0) { /* the file shrank or failed: abort the transfer */
        r->err = n < 0 ? -errno : -EIO;
        return CURL_READFUNC_ABORT;
    }
    r->off += (uint64_t)n;
    r->left -= (uint64_t)n;
    return (size_t)n;
}

static size_t write_cb(char *p, size_t size, size_t n, void *arg)
{
    struct resp *r = arg;
    size_t len = size * n;
    if (tp_buf_append(&r->body, p, len) < 0) return 0; /* too large: curl fails the transfer */
    return len;
}

static size_t header_cb(char *p, size_t size, size_t n, void *arg)
{
    struct resp *r = arg;
    size_t len = size * n;
    if (len > 5 && !strncasecmp(p, "etag:", 5)) {
        const char *v = p + 5, *e = p + len;
        while (v < e && (*v == ' ' || *v == '\t')) v++;
        while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ')) e--;
        size_t vl = (size_t)(e - v);
        if (vl <= S3_ETAG_MAX) {
            memcpy(r->etag, v, vl);
            r->etag[vl] = 0;
        }
    }
    return len;
}

/* The hex SHA-256 of the request body. */
static int body_hash(const struct req *q, char out[TP_SIGV4_HEX])
{
    if (q->fd < 0) {
        tp_sha256_hex(q->body ? q->body : "", q->body ? q->body_len : 0, out);
        return 0;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    char *buf = malloc(CHUNK);
    int rc = ctx && buf && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 ? 0 : -ENOMEM;
    for (uint64_t off = q->off, left = q->len; rc == 0 && left;) {
        ssize_t n = pread(q->fd, buf, (size_t)TP_MIN(left, (uint64_t)CHUNK), (off_t)off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : -EIO;
            break;
        }
        EVP_DigestUpdate(ctx, buf, (size_t)n);
        off += (uint64_t)n;
        left -= (uint64_t)n;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (rc == 0 && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1) {
        for (unsigned i = 0; i < mdlen; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
    } else if (rc == 0) {
        rc = -EIO;
    }
    EVP_MD_CTX_free(ctx);
    free(buf);
    return rc;
}

static bool retryable(CURLcode cc, long status)
{
    if (cc != CURLE_OK)
        return cc != CURLE_UNSUPPORTED_PROTOCOL && cc != CURLE_URL_MALFORMAT &&
               cc != CURLE_READ_ERROR && cc != CURLE_ABORTED_BY_CALLBACK;
    return status >= 500 || status == 429 || status == 408;
}

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / TP_NS_PER_SEC), (long)(ns % TP_NS_PER_SEC)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* One attempt. 0 with r->status set (any HTTP status), or a CURLcode > 0 / negative errno. */
static int attempt(struct tp_s3 *s, const struct req *q, const char *payload_hash, struct resp *r,
                   char *err, size_t errcap)
{
    /* the path: /bucket/key (path-style) or /key, URI-encoded exactly as signed */
    struct tp_buf path, url;
    tp_buf_init(&path, URL_MAX);
    tp_buf_init(&url, URL_MAX);
    int rc = 0;
    if (s->path_style) rc = tp_buf_printf(&path, "/%s", s->bucket);
    if (rc == 0) rc = tp_buf_printf(&path, "/%s", q->key);
    char amz[TP_SIGV4_DATELEN];
    tp_sigv4_amz_date(tp_now_ns(), amz);
    struct tp_sigv4_hdr h[4] = {{"host", s->host},
                                {"x-amz-content-sha256", payload_hash},
                                {"x-amz-date", amz},
                                {"x-amz-security-token", s->token ? s->token : ""}};
    struct tp_sigv4_key key = {s->access_key, s->secret_key, s->region, "s3"};
    struct tp_sigv4_req sr = {.method = q->method,
                              .path = rc == 0 ? path.p : "/",
                              .query = q->query,
                              .hdrs = h,
                              .nhdrs = s->token ? 4 : 3,
                              .payload_hash = payload_hash,
                              .amz_date = amz,
                              .normalize_path = false};
    struct tp_sigv4_out so;
    bool signed_ = rc == 0;
    if (signed_) rc = tp_sigv4_sign(&key, &sr, &so); /* initializes so, also on failure */
    /* the creq's second line is the encoded path */
    if (rc == 0) {
        const char *p = strchr(so.creq.p, '\n') + 1, *e = strchr(p, '\n');
        rc = tp_buf_printf(&url, "%s%.*s%s%s", s->endpoint, (int)(e - p), p, q->query ? "?" : "",
                           q->query ? q->query : "");
    }
    struct curl_slist *hl = NULL;
    char line[9000];
    if (rc == 0) {
        snprintf(line, sizeof line, "Host: %s", s->host);
        hl = curl_slist_append(hl, line);
        snprintf(line, sizeof line, "x-amz-date: %s", amz);
        hl = curl_slist_append(hl, line);
        snprintf(line, sizeof line, "x-amz-content-sha256: %s", payload_hash);
        hl = curl_slist_append(hl, line);
        if (s->token) {
            snprintf(line, sizeof line, "x-amz-security-token: %s", s->token);
            hl = curl_slist_append(hl, line);
        }
        snprintf(line, sizeof line, "Authorization: %s", so.auth.p);
        hl = curl_slist_append(hl, line);
        hl = curl_slist_append(hl, "Expect:");
        snprintf(line, sizeof line, "Content-Type: %s",
                 q->content_type ? q->content_type : "application/octet-stream");
        hl = curl_slist_append(hl, line);
        if (!hl) rc = -ENOMEM;
    }
    struct reader rd = {q->fd, q->off, q->len, 0};
    if (rc == 0) {
        CURL *c = s->curl;
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url.p);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, s->c.timeout_s);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
        if (!strcmp(q->method, "PUT")) {
            curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
            curl_easy_setopt(c, CURLOPT_READDATA, &rd);
            curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)q->len);
        } else if (!strcmp(q->method, "POST")) {
            curl_easy_setopt(c, CURLOPT_POST, 1L);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body ? q->body : "");
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
        } else if (!strcmp(q->method, "HEAD")) {
            curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        } else {
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
        }
        tp_buf_reset(&r->body);
        r->etag[0] = 0;
        r->status = 0;
        CURLcode cc = curl_easy_perform(c);
        if (rd.err) {
            rc = rd.err;
            snprintf(err, errcap, "reading the file: %s", strerror(-rd.err));
        } else if (cc != CURLE_OK) {
            rc = (int)cc;
            snprintf(err, errcap, "%s %s: %s", q->method, url.p, curl_easy_strerror(cc));
        } else {
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
        }
    }
    curl_slist_free_all(hl);
    if (signed_) tp_sigv4_out_fini(&so);
    tp_buf_fini(&path);
    tp_buf_fini(&url);
    return rc;
}

/* The text of <tag>...</tag> in an XML answer (entities decoded), or false. */
static bool xml_get(const struct tp_buf *b, const char *tag, char *out, size_t cap)
{
    if (!b->len) return false;
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *s = memmem(b->p, b->len, open, strlen(open));
    if (!s) return false;
    s += strlen(open);
    const char *e = memmem(s, (size_t)(b->p + b->len - s), close, strlen(close));
    if (!e) return false;
    static const struct {
        const char *ent;
        char c;
    } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    size_t o = 0;
    for (const char *p = s; p < e && o + 1 < cap; p++) {
        char c = *p;
        if (c == '&')
            for (size_t i = 0; i < TP_ARRAY_LEN(ents); i++) {
                size_t l = strlen(ents[i].ent);
                if ((size_t)(e - p) >= l && !memcmp(p, ents[i].ent, l)) {
                    c = ents[i].c;
                    p += l - 1;
                    break;
                }
            }
        out[o++] = c;
    }
    out[o] = 0;
    return true;
}

/* Sends q with retries. 0 with r->status (a final HTTP answer, maybe an error status), or a
 * negative errno after max_attempts (-EIO) or a local failure. */
static int request(struct tp_s3 *s, const struct req *q, struct resp *r, char *err, size_t errcap)
{
    char hash[TP_SIGV4_HEX];
    int rc = body_hash(q, hash);
    if (rc < 0) {
        snprintf(err, errcap, "reading the file: %s", strerror(-rc));
        return rc;
    }
    int64_t delay = s->c.backoff_ns;
    for (int i = 1;; i++) {
        rc = attempt(s, q, hash, r, err, errcap);
        if (rc < 0) return rc; /* local: no retry */
        CURLcode cc = rc > 0 ? (CURLcode)rc : CURLE_OK;
        if (!retryable(cc, r->status)) {
            if (cc != CURLE_OK) return -EIO;
            return 0;
        }
        if (cc == CURLE_OK) {
            char code[64] = "";
            xml_get(&r->body, "Code", code, sizeof code);
            snprintf(err, errcap, "%s %s: HTTP %ld %s", q->method, q->key, r->status, code);
        }
        if (i >= s->c.max_attempts) return -EIO;
        atomic_fetch_add(&s->stats.retries, 1);
        sleep_ns(delay);
        delay = TP_MIN(delay * 2, s->c.max_backoff_ns);
    }
}

static int http_error(const struct resp *r, const struct req *q, char *err, size_t errcap)
{
    char code[64] = "", msg[256] = "";
    xml_get(&r->body, "Code", code, sizeof code);
    xml_get(&r->body, "Message", msg, sizeof msg);
    snprintf(err, errcap, "%s %s: HTTP %ld %s%s%s", q->method, q->key, r->status, code,
             msg[0] ? ": " : "", msg);
    return -EIO;
}

/* ---- uploads ----------------------------------------------------------------------------- */

static int put_single(struct tp_s3 *s, int fd, uint64_t size, const char *key, struct resp *r,
                      char *err, size_t errcap)
{
    struct req q = {.method = "PUT", .key = key, .fd = fd, .off = 0, .len = size};
    int rc = request(s, &q, r, err, errcap);
    if (rc < 0) return rc;
    if (r->status != 200) return http_error(r, &q, err, errcap);
    atomic_fetch_add(&s->stats.bytes, size);
    return 0;
}

static int initiate(struct tp_s3 *s, const char *key, char *id, struct resp *r, char *err,
                    size_t errcap)
{
    struct req q = {.method = "POST", .key = key, .query = "uploads", .fd = -1};
    int rc = request(s, &q, r, err, errcap);
    if (rc < 0) return rc;
    if (r->status != 200) return http_error(r, &q, err, errcap);
    if (!xml_get(&r->body, "UploadId", id, S3_ID_MAX + 1) || !*id || strpbrk(id, " \n\t")) {
        snprintf(err, errcap, "POST %s?uploads: no UploadId in the answer", key);
        return -EIO;
    }
    return 0;
}

static int encoded_query(const char *id, uint32_t part, char *out, size_t cap)
{
    struct tp_buf b;
    tp_buf_init(&b, cap);
    int rc =
        part ? tp_buf_printf(&b, "partNumber=%u&uploadId=", part) : tp_buf_puts(&b, "uploadId=");
    if (rc == 0) rc = tp_sigv4_uri_encode(&b, id, strlen(id), false);
    if (rc == 0 && b.len < cap) {
        memcpy(out, b.p, b.len);
        out[b.len] = 0;
    } else if (rc == 0) {
        rc = -E2BIG;
    }
    tp_buf_fini(&b);
    return rc;
}

static void abort_upload(struct tp_s3 *s, const char *key, const char *id)
{
    char query[S3_ID_MAX * 3 + 32], err[256];
    if (encoded_query(id, 0, query, sizeof query) < 0) return;
    struct req q = {.method = "DELETE", .key = key, .query = query, .fd = -1};
    struct resp r;
    tp_buf_init(&r.body, RESP_MAX);
    request(s, &q, &r, err, sizeof err); /* best effort: the server expires it otherwise */
    tp_buf_fini(&r.body);
}

static int complete(struct tp_s3 *s, const char *key, const struct s3mpu *m, struct resp *r,
                    char *err, size_t errcap)
{
    struct tp_buf x;
    tp_buf_init(&x, (size_t)m->nparts * (S3_ETAG_MAX * 2 + 64) + 256);
    int rc = tp_buf_puts(&x, "<CompleteMultipartUpload>");
    for (uint32_t i = 0; i < m->nparts && rc == 0; i++) {
        rc = tp_buf_printf(&x, "<Part><PartNumber>%u</PartNumber><ETag>", i + 1);
        for (const char *p = m->etag[i]; *p && rc == 0; p++)
            rc = *p == '"'   ? tp_buf_puts(&x, "&quot;")
                 : *p == '&' ? tp_buf_puts(&x, "&amp;")
                 : *p == '<' ? tp_buf_puts(&x, "&lt;")
                             : tp_buf_putc(&x, *p);
        if (rc == 0) rc = tp_buf_puts(&x, "</ETag></Part>");
    }
    if (rc == 0) rc = tp_buf_puts(&x, "</CompleteMultipartUpload>");
    char query[S3_ID_MAX * 3 + 32];
    if (rc == 0) rc = encoded_query(m->upload_id, 0, query, sizeof query);
    if (rc < 0) {
        tp_buf_fini(&x);
        snprintf(err, errcap, "building the complete request: %s", strerror(-rc));
        return rc;
    }
    struct req q = {.method = "POST",
                    .key = key,
                    .query = query,
                    .fd = -1,
                    .body = x.p,
                    .body_len = x.len,
                    .content_type = "application/xml"};
    rc = request(s, &q, r, err, errcap);
    tp_buf_fini(&x);
    if (rc < 0) return rc;
    /* S3 may answer 200 and put an error in the body */
    if (r->status != 200 || (r->body.len && memmem(r->body.p, r->body.len, "<Error>", 7)))
        return http_error(r, &q, err, errcap);
    return 0;
}

/* Whether the object exists with this size (after a complete whose answer was lost). */
static bool object_has_size(struct tp_s3 *s, const char *key, uint64_t size)
{
    struct req q = {.method = "HEAD", .key = key, .fd = -1};
    struct resp r;
    char err[256];
    tp_buf_init(&r.body, RESP_MAX);
    int rc = request(s, &q, &r, err, sizeof err);
    tp_buf_fini(&r.body);
    curl_off_t len = -1;
    if (rc == 0 && r.status == 200)
        curl_easy_getinfo(s->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
    return rc == 0 && r.status == 200 && len == (curl_off_t)size;
}

static bool no_such_upload(const struct resp *r)
{
    char code[64] = "";
    xml_get(&r->body, "Code", code, sizeof code);
    return r->status == 404 && (!strcmp(code, "NoSuchUpload") || !code[0]);
}

static int put_multipart(struct tp_s3 *s, int fd, uint64_t size, int64_t mtime, const char *key,
                         struct resp *r, char *err, size_t errcap)
{
    struct s3mpu m;
    int rc = s3mpu_load(&s->st, key, &m);
    bool fresh = rc < 0;
    if (rc == 0 && (m.size != size || m.mtime != mtime || m.part_size != s->c.part_size)) {
        abort_upload(s, key, m.upload_id); /* the file changed, or the part size did */
        s3mpu_remove(&m);
        fresh = true;
    } else if (rc == -ENOMEM || rc == -E2BIG) {
        snprintf(err, errcap, "loading the upload state: %s", strerror(-rc));
        return rc;
    }
    for (int round = 0; round < 2; round++) {
        if (fresh) {
            char id[S3_ID_MAX + 1];
            rc = initiate(s, key, id, r, err, errcap);
            if (rc < 0) return rc;
            rc = s3mpu_create(&s->st, key, size, mtime, s->c.part_size, id, &m);
            if (rc < 0) {
                snprintf(err, errcap, "writing the upload state: %s", strerror(-rc));
                abort_upload(s, key, id);
                return rc;
            }
        } else {
            atomic_fetch_add(&s->stats.resumed, 1);
        }
        bool gone = false;
        for (uint32_t i = 0; i < m.nparts && rc == 0 && !gone; i++) {
            if (m.etag[i][0]) continue; /* acknowledged before */
            char query[S3_ID_MAX * 3 + 32];
            rc = encoded_query(m.upload_id, i + 1, query, sizeof query);
            uint64_t off = (uint64_t)i * m.part_size, len = TP_MIN(m.part_size, size - off);
            struct req q = {
                .method = "PUT", .key = key, .query = query, .fd = fd, .off = off, .len = len};
            if (rc == 0) rc = request(s, &q, r, err, errcap);
            if (rc < 0) break;
            if (no_such_upload(r)) {
                gone = true;
            } else if (r->status != 200 || !r->etag[0]) {
                rc = r->status == 200 ? -EIO : http_error(r, &q, err, errcap);
                if (r->status == 200)
                    snprintf(err, errcap, "PUT part %u of %s: no ETag", i + 1, key);
            } else {
                rc = s3mpu_add_part(&m, i + 1, r->etag);
                if (rc < 0) snprintf(err, errcap, "writing the upload state: %s", strerror(-rc));
                atomic_fetch_add(&s->stats.parts, 1);
                atomic_fetch_add(&s->stats.bytes, len);
            }
        }
        if (rc == 0 && !gone) {
            rc = complete(s, key, &m, r, err, errcap);
            if (rc < 0 && no_such_upload(r)) {
                /* completed before, and the answer or our record of it was lost? */
                if (object_has_size(s, key, size)) {
                    rc = 0;
                } else {
                    gone = true;
                    rc = 0;
                }
            }
            if (rc == 0 && !gone) {
                /* the state file goes once the object is recorded */
                char etag[S3_ETAG_MAX + 1] = "";
                xml_get(&r->body, "ETag", etag, sizeof etag);
                if (strpbrk(etag, " \t\n")) etag[0] = 0;
                rc = s3state_record(&s->st, key, size, mtime, etag);
                if (rc < 0) {
                    snprintf(err, errcap, "writing uploaded.log: %s", strerror(-rc));
                    s3mpu_fini(&m);
                    return rc;
                }
                s3mpu_remove(&m);
                return 0;
            }
        }
        if (rc < 0) {
            s3mpu_fini(&m);
            return rc;
        }
        /* the server no longer knows the upload: start again, once */
        s3mpu_remove(&m);
        fresh = true;
    }
    snprintf(err, errcap, "%s: the server lost the multipart upload twice", key);
    return -EIO;
}

int tp_s3_upload_file(struct tp_s3 *s, const char *path, const char *key_rel, char *err,
                      size_t errcap)
{
    char key[S3_KEY_MAX];
    int n = snprintf(key, sizeof key, "%s%s%s", s->prefix, s->prefix[0] ? "/" : "", key_rel);
    if (n < 0 || (size_t)n >= sizeof key || !*key_rel || strchr(key_rel, '\n')) {
        snprintf(err, errcap, "bad key '%s'", key_rel);
        return -EINVAL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = -errno;
        snprintf(err, errcap, "%s: %s", path, strerror(-e));
        return e;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        snprintf(err, errcap, "%s: not a regular file", path);
        return -EINVAL;
    }
    uint64_t size = (uint64_t)sb.st_size;
    int64_t mtime = (int64_t)sb.st_mtim.tv_sec * TP_NS_PER_SEC + sb.st_mtim.tv_nsec;
    if (s3state_done(&s->st, key, size, mtime)) {
        close(fd);
        atomic_fetch_add(&s->stats.skipped, 1);
        return 1;
    }
    struct resp r;
    tp_buf_init(&r.body, RESP_MAX);
    int rc;
    if (size < s->c.multipart_threshold) {
        rc = put_single(s, fd, size, key, &r, err, errcap);
        if (rc == 0) {
            rc = s3state_record(&s->st, key, size, mtime, r.etag);
            if (rc < 0) snprintf(err, errcap, "writing uploaded.log: %s", strerror(-rc));
        }
    } else {
        rc = put_multipart(s, fd, size, mtime, key, &r, err, errcap);
    }
    tp_buf_fini(&r.body);
    close(fd);
    atomic_fetch_add(rc == 0 ? &s->stats.uploaded : &s->stats.errors, 1);
    return rc;
}

/* ---- compaction: deleting the replaced objects ------------------------------------------ */

/* DELETE key. A missing object is a success (S3 answers 204 either way; some servers 404). */
static int delete_object(struct tp_s3 *s, const char *key, char *err, size_t errcap)
{
    struct req q = {.method = "DELETE", .key = key, .fd = -1};
    struct resp r;
    tp_buf_init(&r.body, RESP_MAX);
    int rc = request(s, &q, &r, err, errcap);
    if (rc == 0 && r.status != 204 && r.status != 200 && r.status != 404)
        rc = http_error(&r, &q, err, errcap);
    tp_buf_fini(&r.body);
    return rc;
}

static int cmp_rel(const void *key, const void *elem)
{
    return strcmp(key, ((const struct tp_lake_file *)elem)->rel);
}

/* The index of the first file of f whose rel is >= key (f is sorted by rel). */
static size_t lower_bound(const struct tp_lake_files *f, const char *key)
{
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_rel(key, &f->v[mid]) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* True when a file of the lake in rel's directory, of its log, covers [first, last] and is
 * recorded as uploaded under its current size and mtime: the merged file of a compaction. */
static bool covered(struct tp_s3 *s, const struct tp_lake_files *f, const char *rel, size_t dirlen,
                    const char *log, uint64_t first, uint64_t last)
{
    char dir[S3_KEY_MAX], key[S3_KEY_MAX];
    if (dirlen + 2 > sizeof dir) return false;
    memcpy(dir, rel, dirlen + 1); /* with its '/' */
    dir[dirlen + 1] = 0;
    for (size_t i = lower_bound(f, dir); i < f->n; i++) {
        const struct tp_lake_file *x = &f->v[i];
        if (strncmp(x->rel, dir, dirlen + 1)) break;
        if (strchr(x->rel + dirlen + 1, '/')) continue; /* deeper */
        if (!x->named || strcmp(x->log, log) || x->first > first || x->last < last) continue;
        int n = snprintf(key, sizeof key, "%s%s%s", s->prefix, s->prefix[0] ? "/" : "", x->rel);
        if (n < 0 || (size_t)n >= sizeof key) continue;
        if (s3state_done(&s->st, key, x->size, x->mtime_ns)) return true;
    }
    return false;
}

/* Deletes the uploaded objects that compaction replaced (s3.h). 0 or the first error. */
static int prune(struct tp_s3 *s, const struct tp_lake_files *f, char *err, size_t errcap)
{
    size_t plen = strlen(s->prefix);
    int first = 0;
    char e[512];
    for (size_t i = 0; i < s->st.n; i++) {
        const struct s3_done *d = &s->st.v[i];
        if (d->gone) continue;
        const char *rel = d->key;
        if (plen) {
            if (strncmp(rel, s->prefix, plen) || rel[plen] != '/') continue;
            rel += plen + 1;
        }
        size_t at = lower_bound(f, rel);
        if (at < f->n && !strcmp(f->v[at].rel, rel)) continue; /* still in the lake */
        const char *slash = strrchr(rel, '/');
        char log[16];
        uint32_t part;
        uint64_t lo, hi;
        if (!slash || !tp_lake_name_parse(slash + 1, log, &part, &lo, &hi)) continue;
        if (!covered(s, f, rel, (size_t)(slash - rel), log, lo, hi)) continue;
        int rc = delete_object(s, d->key, e, sizeof e);
        if (rc == 0) {
            rc = s3state_forget(&s->st, d->key);
            if (rc < 0) snprintf(e, sizeof e, "writing uploaded.log: %s", strerror(-rc));
        }
        if (rc == 0) {
            atomic_fetch_add(&s->stats.deleted, 1);
        } else if (!first) {
            first = rc;
            snprintf(err, errcap, "deleting %.200s (replaced by compaction): %.250s", d->key, e);
        }
    }
    return first;
}

int tp_s3_sync_lake(struct tp_s3 *s, const char *lake, uint64_t *ret_uploaded, char *err,
                    size_t errcap)
{
    struct tp_lake_files f;
    int rc = tp_lake_files_list(lake, &f);
    if (rc < 0) {
        snprintf(err, errcap, "listing %s: %s", lake, strerror(-rc));
        return rc;
    }
    uint64_t up = 0;
    int first = 0;
    char path[PATH_MAX], e[512];
    for (size_t i = 0; i < f.n; i++) {
        if ((size_t)snprintf(path, sizeof path, "%s/%s", lake, f.v[i].rel) >= sizeof path) continue;
        rc = tp_s3_upload_file(s, path, f.v[i].rel, e, sizeof e);
        if (rc == 0) up++;
        if (rc == -ENOENT) continue; /* compacted away meanwhile */
        if (rc < 0 && !first) {
            first = rc;
            snprintf(err, errcap, "%s", e);
        }
    }
    /* after the uploads: a replaced object goes only once its replacement is recorded */
    rc = prune(s, &f, e, sizeof e);
    if (rc < 0 && !first) {
        first = rc;
        snprintf(err, errcap, "%s", e);
    }
    tp_lake_files_fini(&f);
    if (ret_uploaded) *ret_uploaded = up;
    return first;
}

/* ---- the syncer thread ------------------------------------------------------------------- */

struct tp_s3_syncer {
    struct tp_s3 *s;
    char lake[PATH_MAX];
    int64_t interval_ns;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    int last_rc;
};

static void *syncer_main(void *arg)
{
    struct tp_s3_syncer *y = arg;
    char err[512];
    bool warned = false;
    pthread_mutex_lock(&y->mu);
    while (!y->stop) {
        pthread_mutex_unlock(&y->mu);
        uint64_t up = 0;
        int rc = tp_s3_sync_lake(y->s, y->lake, &up, err, sizeof err);
        if (rc < 0 && !warned) tp_warn("s3: %s (retrying every pass)", err);
        if (rc == 0 && warned) tp_info("s3: uploads work again");
        warned = rc < 0;
        if (up) tp_debug("s3: uploaded %llu files", (unsigned long long)up);
        pthread_mutex_lock(&y->mu);
        y->last_rc = rc;
        if (y->stop) break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts); /* the condvar's clock: immune to clock steps */
        int64_t t = (int64_t)ts.tv_sec * TP_NS_PER_SEC + ts.tv_nsec + y->interval_ns;
        ts.tv_sec = (time_t)(t / TP_NS_PER_SEC);
        ts.tv_nsec = (long)(t % TP_NS_PER_SEC);
        while (!y->stop && pthread_cond_timedwait(&y->cv, &y->mu, &ts) == 0) {
        }
    }
    pthread_mutex_unlock(&y->mu);
    return NULL;
}

int tp_s3_syncer_start(struct tp_s3 *s, const char *lake, int64_t interval_ns,
                       struct tp_s3_syncer **ret)
{
    struct tp_s3_syncer *y = calloc(1, sizeof *y);
    if (!y) return -ENOMEM;
    if ((size_t)snprintf(y->lake, sizeof y->lake, "%s", lake) >= sizeof y->lake) {
        free(y);
        return -ENAMETOOLONG;
    }
    y->s = s;
    y->interval_ns = interval_ns > 0 ? interval_ns : 10 * TP_NS_PER_SEC;
    pthread_mutex_init(&y->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&y->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&y->thread, NULL, syncer_main, y);
    if (rc) {
        pthread_mutex_destroy(&y->mu);
        pthread_cond_destroy(&y->cv);
        free(y);
        return -rc;
    }
    *ret = y;
    return 0;
}

void tp_s3_syncer_stats(struct tp_s3_syncer *y, struct tp_s3_stats *out)
{
    tp_s3_get_stats(y->s, out);
}

int tp_s3_syncer_stop(struct tp_s3_syncer *y, bool final, struct tp_s3_stats *ret_stats)
{
    if (!y) return 0;
    pthread_mutex_lock(&y->mu);
    y->stop = true;
    pthread_cond_signal(&y->cv);
    pthread_mutex_unlock(&y->mu);
    pthread_join(y->thread, NULL);
    int rc = y->last_rc;
    if (final) {
        char err[512];
        rc = tp_s3_sync_lake(y->s, y->lake, NULL, err, sizeof err);
        if (rc < 0) tp_warn("s3: final upload pass: %s", err);
    }
    if (ret_stats) tp_s3_get_stats(y->s, ret_stats);
    pthread_mutex_destroy(&y->mu);
    pthread_cond_destroy(&y->cv);
    tp_s3_free(y->s);
    free(y);
    return rc;
}
