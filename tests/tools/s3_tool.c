/*
 * s3_tool.c — drives tickpipe's S3 uploader (src/sink/s3.h) for tests/integration/s3_upload.sh
 * against the loopback server tests/s3/s3server.py:
 *
 *   s3_tool upload URL ENDPOINT STATE_DIR FILE KEY [PART_SIZE THRESHOLD ATTEMPTS]
 *   s3_tool sync   URL ENDPOINT STATE_DIR LAKE     [PART_SIZE THRESHOLD ATTEMPTS]
 *
 * Credentials and region come from the AWS_* variables, as in tickpipe. Prints one JSON line:
 * the result ("uploaded", "skipped" or the error) and the uploader's counters. Exit 0 on
 * success, 1 on an upload error, 2 on usage.
 */
#include "core/tptime.h"
#include "sink/s3.h"

int main(int argc, char **argv)
{
    if (argc < 6 || (strcmp(argv[1], "upload") && strcmp(argv[1], "sync"))) {
        fprintf(stderr, "usage: s3_tool upload|sync URL ENDPOINT STATE_DIR FILE [KEY] ...\n");
        return 2;
    }
    bool upload = !strcmp(argv[1], "upload");
    int extra = upload ? 7 : 6;
    struct tp_s3_cfg c;
    tp_s3_cfg_default(&c);
    c.url = argv[2];
    c.endpoint = argv[3];
    c.state_dir = argv[4];
    if (argc >= extra + 3) {
        c.part_size = strtoull(argv[extra], NULL, 10);
        c.multipart_threshold = strtoull(argv[extra + 1], NULL, 10);
        c.max_attempts = (int)strtol(argv[extra + 2], NULL, 10);
    }
    c.backoff_ns = 20 * TP_NS_PER_MS;
    c.max_backoff_ns = 100 * TP_NS_PER_MS;
    c.timeout_s = 30;
    char err[512] = "";
    struct tp_s3 *s;
    int rc = tp_s3_new(&c, &s, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "s3_tool: %s\n", err);
        return 2;
    }
    uint64_t n = 0;
    if (upload)
        rc = tp_s3_upload_file(s, argv[5], argv[6], err, sizeof err);
    else
        rc = tp_s3_sync_lake(s, argv[5], &n, err, sizeof err);
    struct tp_s3_stats st;
    tp_s3_get_stats(s, &st);
    printf("{\"result\": \"%s\", \"uploaded\": %llu, \"skipped\": %llu, \"parts\": %llu, "
           "\"resumed\": %llu, \"retries\": %llu, \"errors\": %llu, \"bytes\": %llu, "
           "\"deleted\": %llu}\n",
           rc < 0    ? "error"
           : rc == 1 ? "skipped"
                     : "uploaded",
           (unsigned long long)st.uploaded, (unsigned long long)st.skipped,
           (unsigned long long)st.parts, (unsigned long long)st.resumed,
           (unsigned long long)st.retries, (unsigned long long)st.errors,
           (unsigned long long)st.bytes, (unsigned long long)st.deleted);
    if (rc < 0) fprintf(stderr, "s3_tool: %s\n", err);
    tp_s3_free(s);
    return rc < 0 ? 1 : 0;
}
