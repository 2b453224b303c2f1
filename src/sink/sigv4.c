/*
 * sigv4.c — AWS Signature Version 4 (see sigv4.h for the rules and who checks them).
 *
 * Everything is built in capped tp_bufs; headers and query parameters are copied into small
 * arrays of (name, value) strings, canonicalized, and sorted with qsort by byte order (a
 * stable order for equal header names comes from their index, as SigV4 joins repeated
 * headers in the order they were given).
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/tptime.h"
#include "sink/sigv4.h"

#define MAX_PARAMS  256
#define MAX_HEADERS 64

static const char hexdig[] = "0123456789abcdef";

static void to_hex(const unsigned char *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig[p[i] >> 4];
        out[2 * i + 1] = hexdig[p[i] & 15];
    }
    out[2 * n] = 0;
}

void tp_sha256_hex(const void *p, size_t n, char out[TP_SIGV4_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
    to_hex(md, len, out);
}

static void hmac(const void *key, size_t klen, const void *msg, size_t n, unsigned char out[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)klen, msg, n, out, &len);
}

void tp_sigv4_amz_date(int64_t ns, char out[TP_SIGV4_DATELEN])
{
    char t[TP_TIME_STRLEN];
    tp_time_format(ns, t); /* YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ */
    snprintf(out, TP_SIGV4_DATELEN, "%.4s%.2s%.2sT%.2s%.2s%.2sZ", t, t + 5, t + 8, t + 11, t + 14,
             t + 17);
}

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

int tp_sigv4_uri_encode(struct tp_buf *b, const char *s, size_t n, bool keep_slash)
{
    static const char HEX[] = "0123456789ABCDEF";
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            rc = tp_buf_putc(b, (char)c);
        } else {
            char e[3] = {'%', HEX[c >> 4], HEX[c & 15]};
            rc = tp_buf_append(b, e, 3);
        }
    }
    return rc;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes %XX sequences of s[0..n) into out (at most n bytes); returns the length. */
static size_t pct_decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}

/* The normalized path (dot segments removed, empty segments collapsed) into b. */
static int normalize(const char *p, struct tp_buf *b)
{
    size_t n = strlen(p);
    size_t *stack = malloc((n / 2 + 2) * sizeof *stack); /* start offsets in b */
    if (!stack) return -ENOMEM;
    size_t depth = 0;
    int rc = 0;
    bool trailing = n > 0 && p[n - 1] == '/';
    for (size_t i = 0; i < n && rc == 0;) {
        while (i < n && p[i] == '/') i++;
        size_t j = i;
        while (j < n && p[j] != '/') j++;
        size_t len = j - i;
        if (len == 0) {
            /* an empty segment: collapsed */
        } else if (len == 1 && p[i] == '.') {
            trailing = j >= n ? true : trailing;
        } else if (len == 2 && p[i] == '.' && p[i + 1] == '.') {
            if (depth) b->len = stack[--depth];
            trailing = j >= n ? true : trailing;
        } else {
            stack[depth++] = b->len;
            rc = tp_buf_putc(b, '/');
            if (rc == 0) rc = tp_buf_append(b, p + i, len);
        }
        i = j;
    }
    if (rc == 0 && (b->len == 0 || trailing)) rc = tp_buf_putc(b, '/');
    free(stack);
    return rc;
}

struct kv {
    char *k, *v;
    size_t idx;
};

static int cmp_kv(const void *a, const void *b)
{
    const struct kv *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    if (c) return c;
    c = strcmp(x->v, y->v);
    if (c) return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int cmp_hdr(const void *a, const void *b)
{
    const struct kv *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    if (c) return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx; /* repeated names keep their order */
}

static void free_kvs(struct kv *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].k);
        free(v[i].v);
    }
}

/* Encodes s[0..n) (after %XX decoding) into a new NUL-terminated string. */
static char *enc_dup(const char *s, size_t n)
{
    char *dec = malloc(n + 1);
    if (!dec) return NULL;
    size_t dn = pct_decode(s, n, dec);
    struct tp_buf b;
    tp_buf_init(&b, TP_SIGV4_MAX);
    int rc = tp_sigv4_uri_encode(&b, dec, dn, false);
    if (rc == 0) rc = tp_buf_putc(&b, 0);
    free(dec);
    if (rc < 0) {
        tp_buf_fini(&b);
        return NULL;
    }
    return b.p ? b.p : strdup("");
}

static int canonical_query(const char *q, struct tp_buf *out)
{
    if (!q || !*q) return 0;
    struct kv *v = calloc(MAX_PARAMS, sizeof *v);
    if (!v) return -ENOMEM;
    size_t n = 0;
    int rc = 0;
    for (const char *p = q; *p && rc == 0;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len) {
            if (n == MAX_PARAMS) {
                rc = -E2BIG;
                break;
            }
            const char *eq = memchr(p, '=', len);
            size_t kl = eq ? (size_t)(eq - p) : len;
            v[n].k = enc_dup(p, kl);
            v[n].v = eq ? enc_dup(eq + 1, len - kl - 1) : strdup("");
            v[n].idx = n;
            n++;
            if (!v[n - 1].k || !v[n - 1].v) rc = -ENOMEM;
        }
        p += len + (amp ? 1 : 0);
    }
    if (rc == 0) qsort(v, n, sizeof *v, cmp_kv);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = tp_buf_printf(out, "%s%s=%s", i ? "&" : "", v[i].k, v[i].v);
    free_kvs(v, n);
    free(v);
    return rc;
}

/* Lower-cased name and trimmed, whitespace-collapsed value. */
static int canon_header(const struct tp_sigv4_hdr *h, size_t idx, struct kv *out)
{
    size_t nl = strlen(h->name), vl = strlen(h->value);
    out->k = malloc(nl + 1);
    out->v = malloc(vl + 1);
    out->idx = idx;
    if (!out->k || !out->v) return -ENOMEM;
    for (size_t i = 0; i < nl; i++) {
        char c = h->name[i];
        if (c == ':' || (unsigned char)c <= ' ') return -EINVAL;
        out->k[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out->k[nl] = 0;
    if (nl == 0) return -EINVAL;
    size_t o = 0;
    bool space = false;
    for (size_t i = 0; i < vl; i++) {
        char c = h->value[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            space = o > 0;
            continue;
        }
        if (space) out->v[o++] = ' ';
        space = false;
        out->v[o++] = c;
    }
    out->v[o] = 0;
    return 0;
}

static bool valid_date(const char *d)
{
    if (!d || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z') return false;
    for (int i = 0; i < 15; i++)
        if (i != 8 && (d[i] < '0' || d[i] > '9')) return false;
    return true;
}

void tp_sigv4_out_fini(struct tp_sigv4_out *out)
{
    tp_buf_fini(&out->creq);
    tp_buf_fini(&out->sts);
    tp_buf_fini(&out->auth);
}

int tp_sigv4_sign(const struct tp_sigv4_key *k, const struct tp_sigv4_req *r,
                  struct tp_sigv4_out *out)
{
    tp_buf_init(&out->creq, TP_SIGV4_MAX);
    tp_buf_init(&out->sts, 4096);
    tp_buf_init(&out->auth, 8192);
    out->signature[0] = 0;
    if (!valid_date(r->amz_date) || !r->method || !r->path || r->path[0] != '/' ||
        r->nhdrs > MAX_HEADERS || !k->access_key || !k->secret_key || !k->region || !k->service)
        return -EINVAL;

    struct tp_buf *c = &out->creq;
    int rc = tp_buf_printf(c, "%s\n", r->method);
    /* canonical URI */
    if (rc == 0) {
        if (r->normalize_path) {
            struct tp_buf np;
            tp_buf_init(&np, TP_SIGV4_MAX);
            rc = normalize(r->path, &np);
            if (rc == 0) rc = tp_sigv4_uri_encode(c, np.p, np.len, true);
            tp_buf_fini(&np);
        } else {
            rc = tp_sigv4_uri_encode(c, r->path, strlen(r->path), true);
        }
    }
    if (rc == 0) rc = tp_buf_putc(c, '\n');
    if (rc == 0) rc = canonical_query(r->query, c);
    if (rc == 0) rc = tp_buf_putc(c, '\n');

    /* canonical headers and the signed header list */
    struct kv *h = calloc(r->nhdrs + 1, sizeof *h);
    struct tp_buf signed_hdrs;
    tp_buf_init(&signed_hdrs, 8192);
    if (!h) rc = -ENOMEM;
    for (size_t i = 0; i < r->nhdrs && rc == 0; i++) rc = canon_header(&r->hdrs[i], i, &h[i]);
    if (rc == 0) qsort(h, r->nhdrs, sizeof *h, cmp_hdr);
    for (size_t i = 0; i < r->nhdrs && rc == 0;) {
        size_t j = i;
        rc = tp_buf_printf(c, "%s:%s", h[i].k, h[i].v);
        for (j = i + 1; j < r->nhdrs && rc == 0 && !strcmp(h[j].k, h[i].k); j++)
            rc = tp_buf_printf(c, ",%s", h[j].v);
        if (rc == 0) rc = tp_buf_putc(c, '\n');
        if (rc == 0) rc = tp_buf_printf(&signed_hdrs, "%s%s", i ? ";" : "", h[i].k);
        i = j;
    }
    if (h) free_kvs(h, r->nhdrs);
    free(h);
    if (rc == 0) rc = tp_buf_putc(c, '\n');
    if (rc == 0) rc = tp_buf_append(c, signed_hdrs.p ? signed_hdrs.p : "", signed_hdrs.len);
    if (rc == 0) rc = tp_buf_putc(c, '\n');
    char body_hash[TP_SIGV4_HEX];
    if (!r->payload_hash)
        tp_sha256_hex(r->body ? r->body : "", r->body ? r->body_len : 0, body_hash);
    if (rc == 0) rc = tp_buf_puts(c, r->payload_hash ? r->payload_hash : body_hash);

    /* string to sign */
    char date[9], creq_hash[TP_SIGV4_HEX];
    memcpy(date, r->amz_date, 8);
    date[8] = 0;
    if (rc == 0) {
        tp_sha256_hex(c->p, c->len, creq_hash);
        rc = tp_buf_printf(&out->sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s",
                           r->amz_date, date, k->region, k->service, creq_hash);
    }
    /* the signing key and the signature */
    if (rc == 0) {
        struct tp_buf kb;
        tp_buf_init(&kb, 4096);
        rc = tp_buf_printf(&kb, "AWS4%s", k->secret_key);
        unsigned char kd[32], kr[32], ks[32], kk[32], sig[32];
        if (rc == 0) {
            hmac(kb.p, kb.len, date, 8, kd);
            hmac(kd, 32, k->region, strlen(k->region), kr);
            hmac(kr, 32, k->service, strlen(k->service), ks);
            hmac(ks, 32, "aws4_request", 12, kk);
            hmac(kk, 32, out->sts.p, out->sts.len, sig);
            to_hex(sig, 32, out->signature);
        }
        tp_buf_fini(&kb);
    }
    if (rc == 0)
        rc = tp_buf_printf(&out->auth,
                           "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
                           "SignedHeaders=%s, Signature=%s",
                           k->access_key, date, k->region, k->service,
                           signed_hdrs.p ? signed_hdrs.p : "", out->signature);
    tp_buf_fini(&signed_hdrs);
    return rc;
}
