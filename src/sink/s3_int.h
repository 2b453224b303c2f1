/*
 * s3_int.h — the S3 uploader's state files (s3state.c), shared with s3.c. The formats and
 * their invariants are in s3.h.
 */
#ifndef TP_S3_INT_H
#define TP_S3_INT_H

#include <limits.h>

#include "ops/vmap.h"
#include "sink/s3.h"

#define S3_ETAG_MAX  128  /* longest ETag kept, bytes */
#define S3_ID_MAX    1024 /* longest upload id */
#define S3_KEY_MAX   1024 /* longest object key */
#define S3_MAX_PARTS 10000u
#define S3_LINE_MAX  (S3_KEY_MAX + S3_ID_MAX + 256)

struct s3_done {
    uint64_t size;
    int64_t mtime;
    char *key; /* owned */
    bool gone; /* deleted from the store ("del" line) */
};

/* uploaded.log, loaded into a map of key → (size, mtime). One thread. */
struct s3state {
    char dir[PATH_MAX];
    int log_fd; /* uploaded.log, opened for appending */
    struct tp_vmap map;
    struct s3_done *v;
    size_t n, cap;
};

int s3state_open(struct s3state *st, const char *dir, char *err, size_t errcap);
void s3state_close(struct s3state *st);
/* True when key was uploaded with this size and mtime. */
bool s3state_done(const struct s3state *st, const char *key, uint64_t size, int64_t mtime);
/* Records that key was deleted from the store: appends "del KEY" to uploaded.log and
 * fdatasyncs it; the key is then no longer done. 0 or -errno. */
int s3state_forget(struct s3state *st, const char *key);
/* Appends a line to uploaded.log and fdatasyncs it. 0 or -errno. */
int s3state_record(struct s3state *st, const char *key, uint64_t size, int64_t mtime,
                   const char *etag);

/* A multipart upload in progress (mpu/<sha256(key)>). */
struct s3mpu {
    char path[PATH_MAX];
    int fd; /* open for appending, -1 when none */
    uint64_t size;
    int64_t mtime;
    uint64_t part_size;
    uint32_t nparts;
    char upload_id[S3_ID_MAX + 1];
    char (*etag)[S3_ETAG_MAX + 1]; /* nparts entries; "" when not acknowledged */
};

/* Loads key's state: 0, -ENOENT when there is none, -EBADMSG when unreadable (then it is
 * removed so the upload starts again). */
int s3mpu_load(struct s3state *st, const char *key, struct s3mpu *m);
/* Creates a new state file (replacing any), durable before it returns. */
int s3mpu_create(struct s3state *st, const char *key, uint64_t size, int64_t mtime,
                 uint64_t part_size, const char *upload_id, struct s3mpu *m);
/* Records part n (1-based) as acknowledged with etag, durably. */
int s3mpu_add_part(struct s3mpu *m, uint32_t n, const char *etag);
/* Removes the state file (after completion or abort) and frees m. */
void s3mpu_remove(struct s3mpu *m);
void s3mpu_fini(struct s3mpu *m);

/* Writes n bytes and fdatasyncs. 0 or -errno. */
int s3_write_sync(int fd, const char *p, size_t n);

#endif
