/*
 * thrift.h — the Thrift compact protocol, as Parquet uses it for its page headers and footer.
 *
 * Only the struct encoding is implemented (no messages or services): Parquet stores bare
 * structs. Wire format (apache/thrift doc/specs/thrift-compact-protocol.md):
 *
 *   field     := header value;  header = (delta << 4 | type) when 1 <= delta <= 15, else
 *                type, zigzag-varint i16 id;  a struct ends with a 0 byte (stop)
 *   i16/i32/i64 := zigzag ULEB128;  i8 := one byte;  double := 8 bytes little-endian
 *   binary    := ULEB128 length, bytes
 *   bool      := in a field, the type nibble itself (1 true, 2 false); in a list, one byte
 *   list/set  := (size << 4 | elemtype) when size < 15, else (0xF0 | elemtype), ULEB128 size
 *   map       := 0 when empty, else ULEB128 size, (keytype << 4 | valtype), pairs
 *
 * Writer: appends to a caller's capped tp_buf; errors are sticky in `err` (check once at the
 * end), so building a struct is a flat sequence of calls. Field ids within a struct must be
 * written in increasing order only to get the short form; any order is legal.
 *
 * Reader: a bounded, validating decoder over borrowed memory. It never reads past `end`,
 * caps nesting depth (TP_THRIFT_MAX_DEPTH), refuses lengths and list sizes that exceed the
 * bytes left (every element takes at least one byte), rejects malformed varints and unknown
 * type codes, and skips fields the caller does not know. The first error is sticky in `err`
 * (a negative errno: -EBADMSG for malformed input, -E2BIG for a size beyond a cap); every
 * read after it returns zero values, so decoders loop until tp_thrift_r_field() says stop
 * or error and then check `err` once.
 *
 * Neither side allocates. Not thread-safe; one reader or writer per thread.
 */
#ifndef TP_THRIFT_H
#define TP_THRIFT_H

#include "core/buf.h"
#include "core/tp.h"

/* Compact protocol type codes (field headers; list element types use the same numbers,
 * with booleans as TP_THRIFT_TRUE or TP_THRIFT_FALSE). */
enum {
    TP_THRIFT_STOP = 0,
    TP_THRIFT_TRUE = 1,
    TP_THRIFT_FALSE = 2,
    TP_THRIFT_I8 = 3,
    TP_THRIFT_I16 = 4,
    TP_THRIFT_I32 = 5,
    TP_THRIFT_I64 = 6,
    TP_THRIFT_DOUBLE = 7,
    TP_THRIFT_BINARY = 8,
    TP_THRIFT_LIST = 9,
    TP_THRIFT_SET = 10,
    TP_THRIFT_MAP = 11,
    TP_THRIFT_STRUCT = 12,
    TP_THRIFT_UUID = 13,
};

#define TP_THRIFT_MAX_DEPTH 32

/* ---- writer ---- */

struct tp_thrift_w {
    struct tp_buf *b;                  /* borrowed; the output */
    int16_t last[TP_THRIFT_MAX_DEPTH]; /* last field id per open struct */
    int depth;                         /* open structs */
    int err;                           /* first error, sticky: 0 or negative errno */
};

/* Starts writing into b (appends after what is there). */
void tp_thrift_w_init(struct tp_thrift_w *w, struct tp_buf *b);

/* Fields of the innermost open struct. */
void tp_thrift_w_bool(struct tp_thrift_w *w, int16_t id, bool v);
void tp_thrift_w_i8(struct tp_thrift_w *w, int16_t id, int8_t v);
void tp_thrift_w_i16(struct tp_thrift_w *w, int16_t id, int16_t v);
void tp_thrift_w_i32(struct tp_thrift_w *w, int16_t id, int32_t v);
void tp_thrift_w_i64(struct tp_thrift_w *w, int16_t id, int64_t v);
void tp_thrift_w_double(struct tp_thrift_w *w, int16_t id, double v);
void tp_thrift_w_binary(struct tp_thrift_w *w, int16_t id, const void *p, size_t n);
void tp_thrift_w_string(struct tp_thrift_w *w, int16_t id, const char *s);
/* A struct-valued field: header, then the struct's fields, then tp_thrift_w_struct_end(). */
void tp_thrift_w_struct_begin(struct tp_thrift_w *w, int16_t id);
/* A list-valued field of n elements of type elem; the elements follow (tp_thrift_w_e_*). */
void tp_thrift_w_list_begin(struct tp_thrift_w *w, int16_t id, int elem, uint32_t n);

/* Elements of a list, and the top-level struct (which has no field header). */
void tp_thrift_w_e_struct_begin(struct tp_thrift_w *w);
void tp_thrift_w_e_bool(struct tp_thrift_w *w, bool v);
void tp_thrift_w_e_i32(struct tp_thrift_w *w, int32_t v);
void tp_thrift_w_e_i64(struct tp_thrift_w *w, int64_t v);
void tp_thrift_w_e_binary(struct tp_thrift_w *w, const void *p, size_t n);

/* Ends the innermost struct (writes the stop byte). */
void tp_thrift_w_struct_end(struct tp_thrift_w *w);

/* ---- reader ---- */

struct tp_thrift_r {
    const uint8_t *p;   /* next byte (borrowed memory) */
    const uint8_t *end; /* one past the last byte */
    int depth;          /* open structs and containers */
    int err;            /* first error, sticky: 0 or negative errno */
};

void tp_thrift_r_init(struct tp_thrift_r *r, const void *p, size_t n);

/* Enters a struct (top level, list element or struct field); fails past the depth cap.
 * Each struct's fields are then read with tp_thrift_r_field() until it returns 0. */
void tp_thrift_r_struct_begin(struct tp_thrift_r *r);
/* Reads the next field header of the current struct. `*last` is the struct's previous field
 * id (start it at 0). Returns 1 with *id and *type set, 0 at the stop byte (the struct is
 * left: depth goes down), or a negative errno (also stored in err). */
int tp_thrift_r_field(struct tp_thrift_r *r, int16_t *last, int16_t *id, int *type);

/* Values; each checks that `type` (from the field or list header) is the expected one and
 * sets err to -EBADMSG when it is not. Booleans take the field's type (it holds the value). */
bool tp_thrift_r_bool(struct tp_thrift_r *r, int type);
int8_t tp_thrift_r_i8(struct tp_thrift_r *r, int type);
int16_t tp_thrift_r_i16(struct tp_thrift_r *r, int type);
int32_t tp_thrift_r_i32(struct tp_thrift_r *r, int type);
int64_t tp_thrift_r_i64(struct tp_thrift_r *r, int type);
double tp_thrift_r_double(struct tp_thrift_r *r, int type);
/* Points *p into the input (borrowed) and sets *n; fails when the length exceeds max or the
 * bytes left. */
void tp_thrift_r_binary(struct tp_thrift_r *r, int type, const uint8_t **p, size_t *n, size_t max);
/* Reads a list header for a field of type TP_THRIFT_LIST (or SET): sets *elem and *n.
 * Fails when n exceeds max or the bytes left. The caller reads n elements (each a value of
 * type *elem; a struct element via tp_thrift_r_struct_begin) and then calls
 * tp_thrift_r_list_end(). */
void tp_thrift_r_list_begin(struct tp_thrift_r *r, int type, int *elem, uint32_t *n, uint32_t max);
void tp_thrift_r_list_end(struct tp_thrift_r *r);
/* Skips a value of the given type (nested structs and containers included, depth-capped). */
void tp_thrift_r_skip(struct tp_thrift_r *r, int type);

/* Marks the input malformed (for a decoder's own checks, such as a missing required field). */
static inline void tp_thrift_r_fail(struct tp_thrift_r *r, int err)
{
    if (!r->err) r->err = err;
}

#endif
