/*
 * sigv4.h — AWS Signature Version 4 for S3-compatible object stores (DESIGN.md §6): the
 * canonical request, the string to sign, the signing key and the Authorization header,
 * built here with OpenSSL's libcrypto (SHA-256, HMAC) because libcurl 7.88's built-in
 * CURLOPT_AWS_SIGV4 signs the path and query as given and does not hash S3 bodies.
 *
 * Checked against AWS's published SigV4 test suite and the S3 API Reference's examples
 * (tests/unit/test_sigv4.c; ../shared/fixtures/sigv4 when present). The rules:
 *   - canonical URI: the unencoded path, normalized (RFC 3986 dot segments removed, empty
 *     segments collapsed) unless it is S3 (normalize_path false), then URI-encoded once: every
 *     byte but A-Z a-z 0-9 - _ . ~ and '/' as %XX (upper-case hex);
 *   - canonical query: the raw query's parameters (%XX sequences decoded first), each name and
 *     value URI-encoded ('/' too), sorted by name then value, "name=value" joined by '&'; a
 *     parameter without '=' has an empty value;
 *   - canonical headers: names lower-cased, values trimmed with inner runs of whitespace
 *     (line folds included) made one space, repeated names joined by ',' in order, sorted by
 *     name; every header given is signed;
 *   - payload: the hex SHA-256 of the body, or the value given (UNSIGNED-PAYLOAD);
 *   - string to sign "AWS4-HMAC-SHA256\n<amz date>\n<date>/<region>/<service>/aws4_request\n
 *     <hex sha256 of the canonical request>"; the key HMAC("AWS4"+secret, date) → region →
 *     service → "aws4_request"; the signature the hex HMAC of the string to sign.
 *
 * The caller puts every header it will send and sign into the request, including host,
 * x-amz-date, x-amz-content-sha256 for S3 and x-amz-security-token for temporary credentials.
 *
 * Pure functions; any thread. Sizes are capped (TP_SIGV4_MAX bytes of canonical request).
 */
#ifndef TP_SIGV4_H
#define TP_SIGV4_H

#include "core/buf.h"

#define TP_SIGV4_MAX     (1u << 20)
#define TP_SIGV4_HEX     65 /* 64 hex digits and a NUL */
#define TP_SIGV4_DATELEN 17 /* "YYYYMMDDTHHMMSSZ" and a NUL */

struct tp_sigv4_key {
    const char *access_key; /* borrowed, all four */
    const char *secret_key;
    const char *region;  /* "us-east-1" */
    const char *service; /* "s3" */
};

struct tp_sigv4_hdr {
    const char *name; /* borrowed */
    const char *value;
};

struct tp_sigv4_req {
    const char *method; /* "PUT" */
    const char *path;   /* unencoded, starting with '/': "/bucket/ticks/date=2026-11-23/x" */
    const char *query;  /* raw query without '?' ("uploads", "partNumber=1&uploadId=x"), or NULL */
    const struct tp_sigv4_hdr *hdrs; /* the headers to sign */
    size_t nhdrs;
    const char *payload_hash; /* hex SHA-256 of the body or "UNSIGNED-PAYLOAD"; NULL: hash body */
    const void *body;
    size_t body_len;
    const char *amz_date; /* "YYYYMMDDTHHMMSSZ" */
    bool normalize_path;  /* true for every service but S3 */
};

struct tp_sigv4_out {
    struct tp_buf creq; /* the canonical request */
    struct tp_buf sts;  /* the string to sign */
    struct tp_buf auth; /* the Authorization header's value */
    char signature[TP_SIGV4_HEX];
};

/* Signs r with k. out is initialized here (tp_sigv4_out_fini frees it, also on failure).
 * 0, -EINVAL (a malformed date, path or header), -E2BIG, -ENOMEM. */
int tp_sigv4_sign(const struct tp_sigv4_key *k, const struct tp_sigv4_req *r,
                  struct tp_sigv4_out *out);
void tp_sigv4_out_fini(struct tp_sigv4_out *out);

/* Appends s[0..n) URI-encoded as SigV4 wants it ('/' kept when keep_slash). 0 or -E2BIG. */
int tp_sigv4_uri_encode(struct tp_buf *b, const char *s, size_t n, bool keep_slash);
/* "YYYYMMDDTHHMMSSZ" of a time. */
void tp_sigv4_amz_date(int64_t ns, char out[TP_SIGV4_DATELEN]);
/* The hex SHA-256 of p[0..n). */
void tp_sha256_hex(const void *p, size_t n, char out[TP_SIGV4_HEX]);

#endif
