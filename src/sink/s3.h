/*
 * s3.h — the S3-compatible raw layer (DESIGN.md §6; docs/cloud.md): closed lake files
 * uploaded under the same keys to AWS S3, MinIO, or Google Cloud Storage's interoperability
 * endpoint, signed with SigV4 (sink/sigv4.h), over libcurl.
 *
 *   s3://bucket/prefix  +  DATA/lake/ticks/date=D/venue=V/part-....parquet
 *     →  key  prefix/ticks/date=D/venue=V/part-....parquet
 *
 * Uploads. A file smaller than multipart_threshold is one PUT (its SHA-256 signed as
 * x-amz-content-sha256). A larger one is a multipart upload: initiate, one PUT per part of
 * part_size bytes (the last may be shorter), complete with the parts' ETags. Each request is
 * retried on a transport error, 5xx, 429 or 408, with exponential backoff (backoff_ns doubling
 * up to max_backoff_ns, max_attempts tries).
 *
 * State (state_dir, e.g. DATA/s3), so that nothing is uploaded twice and an upload resumes
 * after a restart of tickpipe or of the server:
 *   uploaded.log        one line per uploaded object, appended and fdatasync'ed once the
 *                       server has acknowledged it: "v1 SIZE MTIME_NS ETAG KEY"; a torn last
 *                       line (a crash while appending) is ignored. A file whose key is there
 *                       with the same size and mtime is not uploaded again. "del KEY" records
 *                       an object deleted from the store (below), after the server said so.
 *   mpu/<sha256(key)>   a multipart upload in progress: a header line "v1 SIZE MTIME_NS
 *                       PART_SIZE UPLOAD_ID KEY", then "part N ETAG" per acknowledged part,
 *                       each appended and fdatasync'ed before the next part is sent. Resuming
 *                       sends only the parts not listed. A changed file (size or mtime) aborts
 *                       the old upload and starts again; an upload the server no longer knows
 *                       (NoSuchUpload) starts again; the file is removed after the object is
 *                       recorded in uploaded.log.
 * Keys are idempotent: uploading the same file again writes the same object.
 *
 * Compaction (`tickpipe compact`, lake.h) replaces a partition's part files by one merged
 * file whose offset range covers theirs. After a sync pass has uploaded what is new, an
 * uploaded key whose file is gone from the lake is deleted from the store when, and only
 * when, a file of the same partition directory and log whose range covers the gone file's is
 * in the lake and recorded as uploaded (the merged file): the store holds the rows at every
 * moment (the old objects, or the merged one, or briefly both), and a crash between the upload
 * and the deletes only delays the deletes to the next pass (a DELETE of an object already
 * gone is a success). A file removed from the lake for any other reason (by hand, to save
 * space) stays in the store.
 *
 * Credentials come from the config or the standard variables AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (sent as x-amz-security-token, signed), and
 * AWS_REGION / AWS_DEFAULT_REGION (default us-east-1). With an endpoint URL (MinIO, GCS,
 * a test server) requests are path-style (http://host:port/bucket/key); without one they go
 * to AWS, virtual-hosted (https://bucket.s3.REGION.amazonaws.com/key).
 *
 * Threads: a struct tp_s3 belongs to one thread at a time (the syncer's, or the caller's);
 * tp_s3_stats may be read from any thread. The syncer is a thread of its own that scans the
 * lake every interval and uploads what is new; it never runs on an event loop.
 */
#ifndef TP_S3_H
#define TP_S3_H

#include "core/tp.h"

#define TP_S3_MIN_PART (1u << 10) /* tests; AWS wants at least 5 MiB but for the last part */

struct tp_s3_cfg {
    const char *url;              /* s3://bucket[/prefix] (required) */
    const char *endpoint;         /* http(s)://host[:port]; NULL or "": AWS */
    const char *region;           /* NULL: $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1 */
    const char *access_key;       /* NULL: $AWS_ACCESS_KEY_ID (required one way or the other) */
    const char *secret_key;       /* NULL: $AWS_SECRET_ACCESS_KEY */
    const char *session_token;    /* NULL: $AWS_SESSION_TOKEN (may be absent) */
    const char *state_dir;        /* required; created when missing */
    uint64_t part_size;           /* default 16 MiB; at least TP_S3_MIN_PART */
    uint64_t multipart_threshold; /* default 64 MiB */
    int max_attempts;             /* per request, default 6 */
    int64_t backoff_ns;           /* default 200 ms */
    int64_t max_backoff_ns;       /* default 10 s */
    long timeout_s;               /* per request, default 300 */
};

/* Fills c with the defaults (url and state_dir NULL). */
void tp_s3_cfg_default(struct tp_s3_cfg *c);

struct tp_s3_stats {
    uint64_t uploaded; /* objects uploaded */
    uint64_t bytes;    /* bytes sent in acknowledged requests */
    uint64_t parts;    /* multipart parts acknowledged */
    uint64_t skipped;  /* files already uploaded */
    uint64_t resumed;  /* multipart uploads continued from their state */
    uint64_t retries;  /* requests tried again */
    uint64_t errors;   /* uploads that failed */
    uint64_t deleted;  /* objects deleted: replaced by a compacted file */
};

struct tp_s3;

/* Parses "s3://bucket[/prefix]" (bucket 3..63 of a-z 0-9 . -; prefix without leading or
 * trailing '/'). 0 or -EINVAL. */
int tp_s3_parse_url(const char *url, char bucket[64], char *prefix, size_t prefix_cap);

/* A new uploader: checks the settings, loads the state (uploaded.log). 0 and *ret, or
 * -EINVAL (a bad setting, missing credentials), -ENOMEM, an I/O error; err gets a message. */
int tp_s3_new(const struct tp_s3_cfg *cfg, struct tp_s3 **ret, char *err, size_t errcap);
void tp_s3_free(struct tp_s3 *s);

/* Uploads the file at path under prefix/key. 1 when it was already uploaded (same key, size
 * and mtime), 0 when uploaded now, or a negative errno with a message in err (-ENOENT: the
 * file is gone; -EIO: the server refused or could not be reached after the retries). */
int tp_s3_upload_file(struct tp_s3 *s, const char *path, const char *key, char *err, size_t errcap);

/* Uploads every *.parquet file of the lake (lakefiles.h) not uploaded yet, under its path
 * relative to the lake, then deletes the objects that compaction replaced (above). Continues
 * past a failed file. 0 when all are uploaded and the deletes done (*ret_uploaded now; may be
 * NULL), or the first error (err). */
int tp_s3_sync_lake(struct tp_s3 *s, const char *lake, uint64_t *ret_uploaded, char *err,
                    size_t errcap);

void tp_s3_get_stats(const struct tp_s3 *s, struct tp_s3_stats *out);

/* The background uploader: a thread that runs tp_s3_sync_lake every interval_ns (logging a
 * failure once per pass). s is taken over. 0 and *ret, or a negative errno. */
struct tp_s3_syncer;
int tp_s3_syncer_start(struct tp_s3 *s, const char *lake, int64_t interval_ns,
                       struct tp_s3_syncer **ret);
/* Stops the thread; with final, one last full pass runs first (what the lake closed last is
 * uploaded before exit). *ret_stats (may be NULL) gets the uploader's counters at the end.
 * Frees the syncer and its uploader. Returns the last pass's result. NULL is a no-op. */
int tp_s3_syncer_stop(struct tp_s3_syncer *y, bool final, struct tp_s3_stats *ret_stats);
void tp_s3_syncer_stats(struct tp_s3_syncer *y, struct tp_s3_stats *out);

#endif
