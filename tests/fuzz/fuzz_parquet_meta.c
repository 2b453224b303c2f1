/*
 * fuzz_parquet_meta.c — libFuzzer target for the Parquet footer and metadata decoder.
 *
 * Each input is fed three ways: as a FileMetaData (Thrift compact, tp_pq_meta_decode), as a
 * PageHeader (tp_pq_page_header_decode), and as a whole file (tp_pq_reader_open_mem with
 * small limits, then every column chunk read), so the footer checks, the schema and chunk
 * validation and the page decoding all see hostile bytes. Nothing may crash, leak, read out
 * of bounds or allocate beyond the limits; errors are expected and ignored.
 *
 * Seed corpus: tests/fuzz/corpus/parquet_meta/ (small files from tickpipe's writer, their
 * footers alone, and a DuckDB file).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc tests/fuzz/fuzz_parquet_meta.c \
 *     src/sink/thrift.c src/sink/parquet_*.c src/core/buf.c -lzstd -lsnappy -o fuzz_pq
 *   ./fuzz_pq tests/fuzz/corpus/parquet_meta
 */
#include "sink/parquet.h"
#include "sink/parquet_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct tp_pq_limits lim = {
        .max_footer = 1 << 20,
        .max_chunk = 1 << 20,
        .max_page = 1 << 20,
        .max_columns = 64,
        .max_row_groups = 64,
    };
    struct tp_pq_meta m;
    char msg[200];
    if (tp_pq_meta_decode(data, size, &lim, &m, msg, sizeof msg) == 0) tp_pq_meta_free(&m);

    struct tp_pq_page_header h;
    size_t used;
    (void)tp_pq_page_header_decode(data, size, &h, &used);

    struct tp_pq_reader *r;
    struct tp_pq_error e;
    if (tp_pq_reader_open_mem(&r, data, size, &lim, &e) == 0) {
        for (size_t g = 0; g < tp_pq_reader_row_groups(r); g++)
            for (size_t c = 0; c < tp_pq_reader_ncols(r); c++) {
                struct tp_pq_stats s;
                (void)tp_pq_reader_stats(r, g, c, &s);
                (void)tp_pq_reader_may_contain_i64(r, g, c, 0, 1);
                struct tp_pq_data d;
                if (tp_pq_reader_read(r, g, c, &d) == 0) tp_pq_data_fini(&d);
            }
        tp_pq_reader_close(r);
    }
    return 0;
}
