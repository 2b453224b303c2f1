/*
 * thrift.c — Thrift compact protocol writer and bounded reader (see thrift.h for the format
 * and the rules).
 *
 * Invariants of the reader: r->p <= r->end always; once r->err is set no byte is consumed
 * and every value read is zero; depth counts open structs and containers and never exceeds
 * TP_THRIFT_MAX_DEPTH.
 */
#include "sink/thrift.h"

/* ---- writer ---- */

void tp_thrift_w_init(struct tp_thrift_w *w, struct tp_buf *b)
{
    w->b = b;
    w->depth = 0;
    w->err = 0;
    w->last[0] = 0;
}

static void put(struct tp_thrift_w *w, const void *p, size_t n)
{
    if (w->err) return;
    int rc = tp_buf_append(w->b, p, n);
    if (rc < 0) w->err = rc;
}

static void put_byte(struct tp_thrift_w *w, uint8_t c)
{
    put(w, &c, 1);
}

static void put_varint(struct tp_thrift_w *w, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    put(w, tmp, n);
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static void field_header(struct tp_thrift_w *w, int16_t id, int type)
{
    if (w->depth < 1) {
        if (!w->err) w->err = -EINVAL; /* a field outside any struct */
        return;
    }
    int16_t *last = &w->last[w->depth - 1];
    int delta = id - *last;
    if (delta > 0 && delta <= 15) {
        put_byte(w, (uint8_t)(delta << 4 | type));
    } else {
        put_byte(w, (uint8_t)type);
        put_varint(w, zigzag(id));
    }
    *last = id;
}

static void open_struct(struct tp_thrift_w *w)
{
    if (w->depth >= TP_THRIFT_MAX_DEPTH) {
        if (!w->err) w->err = -E2BIG;
        return;
    }
    w->last[w->depth++] = 0;
}

void tp_thrift_w_bool(struct tp_thrift_w *w, int16_t id, bool v)
{
    field_header(w, id, v ? TP_THRIFT_TRUE : TP_THRIFT_FALSE);
}

void tp_thrift_w_i8(struct tp_thrift_w *w, int16_t id, int8_t v)
{
    field_header(w, id, TP_THRIFT_I8);
    put_byte(w, (uint8_t)v);
}

void tp_thrift_w_i16(struct tp_thrift_w *w, int16_t id, int16_t v)
{
    field_header(w, id, TP_THRIFT_I16);
    put_varint(w, zigzag(v));
}

void tp_thrift_w_i32(struct tp_thrift_w *w, int16_t id, int32_t v)
{
    field_header(w, id, TP_THRIFT_I32);
    put_varint(w, zigzag(v));
}

void tp_thrift_w_i64(struct tp_thrift_w *w, int16_t id, int64_t v)
{
    field_header(w, id, TP_THRIFT_I64);
    put_varint(w, zigzag(v));
}

void tp_thrift_w_double(struct tp_thrift_w *w, int16_t id, double v)
{
    field_header(w, id, TP_THRIFT_DOUBLE);
    uint64_t u;
    memcpy(&u, &v, 8);
    uint8_t le[8];
    for (int i = 0; i < 8; i++) le[i] = (uint8_t)(u >> (8 * i));
    put(w, le, 8);
}

void tp_thrift_w_binary(struct tp_thrift_w *w, int16_t id, const void *p, size_t n)
{
    field_header(w, id, TP_THRIFT_BINARY);
    tp_thrift_w_e_binary(w, p, n);
}

void tp_thrift_w_string(struct tp_thrift_w *w, int16_t id, const char *s)
{
    tp_thrift_w_binary(w, id, s, strlen(s));
}

void tp_thrift_w_struct_begin(struct tp_thrift_w *w, int16_t id)
{
    field_header(w, id, TP_THRIFT_STRUCT);
    open_struct(w);
}

void tp_thrift_w_list_begin(struct tp_thrift_w *w, int16_t id, int elem, uint32_t n)
{
    field_header(w, id, TP_THRIFT_LIST);
    if (n < 15) {
        put_byte(w, (uint8_t)(n << 4 | (uint32_t)elem));
    } else {
        put_byte(w, (uint8_t)(0xF0 | elem));
        put_varint(w, n);
    }
}

void tp_thrift_w_e_struct_begin(struct tp_thrift_w *w)
{
    open_struct(w);
}

void tp_thrift_w_e_bool(struct tp_thrift_w *w, bool v)
{
    /* As the reference implementations write it; readers take 1 as true, anything else false. */
    put_byte(w, v ? TP_THRIFT_TRUE : TP_THRIFT_FALSE);
}

void tp_thrift_w_e_i32(struct tp_thrift_w *w, int32_t v)
{
    put_varint(w, zigzag(v));
}

void tp_thrift_w_e_i64(struct tp_thrift_w *w, int64_t v)
{
    put_varint(w, zigzag(v));
}

void tp_thrift_w_e_binary(struct tp_thrift_w *w, const void *p, size_t n)
{
    put_varint(w, n);
    put(w, p, n);
}

void tp_thrift_w_struct_end(struct tp_thrift_w *w)
{
    if (w->depth < 1) {
        if (!w->err) w->err = -EINVAL;
        return;
    }
    put_byte(w, TP_THRIFT_STOP);
    w->depth--;
}

/* ---- reader ---- */

void tp_thrift_r_init(struct tp_thrift_r *r, const void *p, size_t n)
{
    r->p = p;
    r->end = r->p + n;
    r->depth = 0;
    r->err = 0;
}

static uint8_t get_byte(struct tp_thrift_r *r)
{
    if (r->err) return 0;
    if (r->p >= r->end) {
        r->err = -EBADMSG;
        return 0;
    }
    return *r->p++;
}

/* ULEB128 of at most `bits` significant bits; longer or overlong encodings are malformed. */
static uint64_t get_varint(struct tp_thrift_r *r, int bits)
{
    uint64_t v = 0;
    for (int shift = 0; shift < bits; shift += 7) {
        uint8_t c = get_byte(r);
        if (r->err) return 0;
        if (shift + 7 > bits && (c & 0x7f) >> (bits - shift)) break; /* value too wide */
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) return v;
    }
    tp_thrift_r_fail(r, -EBADMSG);
    return 0;
}

static int64_t unzigzag(uint64_t u)
{
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static bool expect(struct tp_thrift_r *r, int type, int want)
{
    if (r->err) return false;
    if (type != want) {
        r->err = -EBADMSG;
        return false;
    }
    return true;
}

void tp_thrift_r_struct_begin(struct tp_thrift_r *r)
{
    if (r->err) return;
    if (r->depth >= TP_THRIFT_MAX_DEPTH) {
        r->err = -E2BIG;
        return;
    }
    r->depth++;
}

int tp_thrift_r_field(struct tp_thrift_r *r, int16_t *last, int16_t *id, int *type)
{
    uint8_t c = get_byte(r);
    if (r->err) return r->err;
    if (c == TP_THRIFT_STOP) {
        if (r->depth > 0) r->depth--;
        return 0;
    }
    int t = c & 0x0f;
    if (t > TP_THRIFT_UUID) {
        r->err = -EBADMSG;
        return r->err;
    }
    int delta = c >> 4;
    int64_t fid;
    if (delta) {
        fid = (int64_t)*last + delta;
    } else {
        fid = unzigzag(get_varint(r, 32));
        if (r->err) return r->err;
    }
    if (fid < INT16_MIN || fid > INT16_MAX) {
        r->err = -EBADMSG;
        return r->err;
    }
    *last = (int16_t)fid;
    *id = (int16_t)fid;
    *type = t;
    return 1;
}

bool tp_thrift_r_bool(struct tp_thrift_r *r, int type)
{
    if (r->err) return false;
    if (type == TP_THRIFT_TRUE) return true;
    if (type == TP_THRIFT_FALSE) return false;
    r->err = -EBADMSG;
    return false;
}

int8_t tp_thrift_r_i8(struct tp_thrift_r *r, int type)
{
    if (!expect(r, type, TP_THRIFT_I8)) return 0;
    return (int8_t)get_byte(r);
}

int16_t tp_thrift_r_i16(struct tp_thrift_r *r, int type)
{
    if (!expect(r, type, TP_THRIFT_I16)) return 0;
    int64_t v = unzigzag(get_varint(r, 32));
    if (v < INT16_MIN || v > INT16_MAX) tp_thrift_r_fail(r, -EBADMSG);
    return r->err ? 0 : (int16_t)v;
}

int32_t tp_thrift_r_i32(struct tp_thrift_r *r, int type)
{
    if (!expect(r, type, TP_THRIFT_I32)) return 0;
    int64_t v = unzigzag(get_varint(r, 32));
    return r->err ? 0 : (int32_t)v;
}

int64_t tp_thrift_r_i64(struct tp_thrift_r *r, int type)
{
    if (!expect(r, type, TP_THRIFT_I64)) return 0;
    int64_t v = unzigzag(get_varint(r, 64));
    return r->err ? 0 : v;
}

double tp_thrift_r_double(struct tp_thrift_r *r, int type)
{
    if (!expect(r, type, TP_THRIFT_DOUBLE)) return 0;
    if ((size_t)(r->end - r->p) < 8) {
        r->err = -EBADMSG;
        return 0;
    }
    uint64_t u = 0;
    for (int i = 0; i < 8; i++) u |= (uint64_t)r->p[i] << (8 * i);
    r->p += 8;
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static void get_binary(struct tp_thrift_r *r, const uint8_t **p, size_t *n, size_t max)
{
    *p = NULL;
    *n = 0;
    uint64_t len = get_varint(r, 32);
    if (r->err) return;
    if (len > max) {
        r->err = -E2BIG;
        return;
    }
    if (len > (uint64_t)(r->end - r->p)) {
        r->err = -EBADMSG;
        return;
    }
    *p = r->p;
    *n = (size_t)len;
    r->p += len;
}

void tp_thrift_r_binary(struct tp_thrift_r *r, int type, const uint8_t **p, size_t *n, size_t max)
{
    *p = NULL;
    *n = 0;
    if (!expect(r, type, TP_THRIFT_BINARY)) return;
    get_binary(r, p, n, max);
}

static bool container_enter(struct tp_thrift_r *r)
{
    if (r->err) return false;
    if (r->depth >= TP_THRIFT_MAX_DEPTH) {
        r->err = -E2BIG;
        return false;
    }
    r->depth++;
    return true;
}

static void list_header(struct tp_thrift_r *r, int *elem, uint32_t *n, uint32_t max)
{
    *elem = 0;
    *n = 0;
    uint8_t c = get_byte(r);
    if (r->err) return;
    int e = c & 0x0f;
    uint64_t size = c >> 4;
    if (size == 15) size = get_varint(r, 32);
    if (r->err) return;
    if (e < TP_THRIFT_TRUE || e > TP_THRIFT_UUID) {
        r->err = -EBADMSG;
        return;
    }
    if (size > max) {
        r->err = -E2BIG;
        return;
    }
    /* Every element takes at least one byte. */
    if (size > (uint64_t)(r->end - r->p)) {
        r->err = -EBADMSG;
        return;
    }
    if (!container_enter(r)) return;
    *elem = e;
    *n = (uint32_t)size;
}

void tp_thrift_r_list_begin(struct tp_thrift_r *r, int type, int *elem, uint32_t *n, uint32_t max)
{
    *elem = 0;
    *n = 0;
    if (r->err) return;
    if (type != TP_THRIFT_LIST && type != TP_THRIFT_SET) {
        r->err = -EBADMSG;
        return;
    }
    list_header(r, elem, n, max);
}

void tp_thrift_r_list_end(struct tp_thrift_r *r)
{
    if (!r->err && r->depth > 0) r->depth--;
}

/* A list element of boolean type is one byte; 1 is true, 0 or 2 false. */
static void skip_elem_bool(struct tp_thrift_r *r)
{
    uint8_t c = get_byte(r);
    if (!r->err && c > 2) r->err = -EBADMSG;
}

static void skip_value(struct tp_thrift_r *r, int type, bool in_container);

static void skip_struct(struct tp_thrift_r *r)
{
    tp_thrift_r_struct_begin(r);
    int16_t last = 0, id;
    int t;
    while (tp_thrift_r_field(r, &last, &id, &t) > 0) skip_value(r, t, false);
}

static void skip_value(struct tp_thrift_r *r, int type, bool in_container)
{
    const uint8_t *p;
    size_t n;
    if (r->err) return;
    switch (type) {
    case TP_THRIFT_TRUE:
    case TP_THRIFT_FALSE:
        if (in_container) skip_elem_bool(r);
        return;
    case TP_THRIFT_I8:
        get_byte(r);
        return;
    case TP_THRIFT_I16:
    case TP_THRIFT_I32:
        get_varint(r, 32);
        return;
    case TP_THRIFT_I64:
        get_varint(r, 64);
        return;
    case TP_THRIFT_DOUBLE:
        if ((size_t)(r->end - r->p) < 8)
            r->err = -EBADMSG;
        else
            r->p += 8;
        return;
    case TP_THRIFT_UUID:
        if ((size_t)(r->end - r->p) < 16)
            r->err = -EBADMSG;
        else
            r->p += 16;
        return;
    case TP_THRIFT_BINARY:
        get_binary(r, &p, &n, SIZE_MAX);
        return;
    case TP_THRIFT_STRUCT:
        skip_struct(r);
        return;
    case TP_THRIFT_LIST:
    case TP_THRIFT_SET: {
        int elem;
        uint32_t cnt;
        list_header(r, &elem, &cnt, UINT32_MAX);
        for (uint32_t i = 0; i < cnt && !r->err; i++) skip_value(r, elem, true);
        tp_thrift_r_list_end(r);
        return;
    }
    case TP_THRIFT_MAP: {
        uint64_t cnt = get_varint(r, 32);
        if (r->err || cnt == 0) return;
        uint8_t kv = get_byte(r);
        int kt = kv >> 4, vt = kv & 0x0f;
        if (r->err) return;
        if (kt < TP_THRIFT_TRUE || kt > TP_THRIFT_UUID || vt < TP_THRIFT_TRUE ||
            vt > TP_THRIFT_UUID || cnt > (uint64_t)(r->end - r->p)) {
            r->err = -EBADMSG;
            return;
        }
        if (!container_enter(r)) return;
        for (uint64_t i = 0; i < cnt && !r->err; i++) {
            skip_value(r, kt, true);
            skip_value(r, vt, true);
        }
        tp_thrift_r_list_end(r);
        return;
    }
    default:
        r->err = -EBADMSG;
    }
}

void tp_thrift_r_skip(struct tp_thrift_r *r, int type)
{
    skip_value(r, type, false);
}
