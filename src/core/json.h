/*
 * json.h — a small, fast, validating JSON tokenizer for venue messages (DESIGN.md §8: the
 * hot-path JSON scanner).
 *
 * Design: one pass over a borrowed buffer (not NUL-terminated, not modified) produces a flat
 * array of tokens in document order, jsmn-style: a container token is followed by its
 * children; an object's children alternate key, value. Every token records `end`, the index
 * of the first token after its subtree, so skipping a value, iterating an array or walking an
 * object's members is O(1) per step. Nothing is decoded during the scan: strings keep their
 * raw text (a flag says whether it holds escapes) and numbers stay text, so prices convert
 * exactly with core/num.h (tp_json_f64) and 64-bit ids never pass through a double.
 *
 * Validation is complete (RFC 8259): the grammar, string escapes (\uXXXX included), control
 * characters in strings, UTF-8 well-formedness, number syntax, one top-level value with only
 * whitespace around it. Lone UTF-16 surrogates in \u escapes are grammatical and accepted;
 * tp_json_unescape turns them into U+FFFD.
 *
 * Caps: the depth of nesting (max_depth, at most TP_JSON_DEPTH_LIMIT), the number of tokens
 * (max_tokens) and the document length (TP_JSON_LEN_MAX). The token array belongs to the
 * struct tp_json and is reused from message to message; it grows (doubling, up to max_tokens)
 * only when a message needs more tokens than any before it, so steady-state parsing allocates
 * nothing.
 *
 * Invariants after a successful tp_json_parse:
 *   1. tok[0] is the top-level value; n ≥ 1; for every i, i < tok[i].end ≤ n.
 *   2. The children of container i are the tokens i+1 .. tok[i].end-1, grouped into
 *      `size` subtrees (objects: 2·size subtrees, key then value).
 *   3. Every key token is a string.
 * Tokens and text pointers stay valid until the next parse or tp_json_fini, and point into
 * the caller's buffer, which must outlive them.
 *
 * A struct tp_json belongs to one thread at a time. Accessors take token indices; -1 means
 * "absent" and every accessor accepts it (returning absent / an error).
 */
#ifndef TP_JSON_H
#define TP_JSON_H

#include "core/tp.h"

#define TP_JSON_DEPTH_LIMIT    256        /* hard cap on max_depth */
#define TP_JSON_DEPTH_DEFAULT  64         /* max_depth when 0 is given */
#define TP_JSON_TOKENS_DEFAULT (1u << 20) /* max_tokens when 0 is given */
#define TP_JSON_LEN_MAX        (1u << 30) /* longest document accepted, bytes */

enum tp_json_type {
    TP_JSON_NONE = 0, /* absent (index -1) */
    TP_JSON_OBJECT,
    TP_JSON_ARRAY,
    TP_JSON_STRING,
    TP_JSON_NUMBER,
    TP_JSON_TRUE,
    TP_JSON_FALSE,
    TP_JSON_NULL,
};

enum tp_json_err {
    TP_JSON_OK = 0,
    TP_JSON_E_SYNTAX,   /* unexpected character */
    TP_JSON_E_EOF,      /* the document ends inside a value */
    TP_JSON_E_STRING,   /* bad escape, control character or invalid UTF-8 in a string */
    TP_JSON_E_NUMBER,   /* malformed number */
    TP_JSON_E_TRAILING, /* something after the top-level value */
    TP_JSON_E_DEPTH,    /* nested deeper than max_depth */
    TP_JSON_E_TOKENS,   /* more than max_tokens tokens */
    TP_JSON_E_LENGTH,   /* longer than TP_JSON_LEN_MAX */
    TP_JSON_E_NOMEM,    /* the token array could not grow */
};

struct tp_json_tok {
    uint32_t off;  /* strings: first byte after the opening quote; others: first byte */
    uint32_t len;  /* strings: raw bytes between the quotes; containers: through the closer */
    uint32_t end;  /* index of the first token after this subtree */
    uint32_t size; /* containers: members (objects) or elements (arrays); else 0 */
    uint8_t type;  /* enum tp_json_type */
    uint8_t esc;   /* strings: the raw text holds backslash escapes */
};

struct tp_json {
    const char *src; /* borrowed: the last document parsed */
    size_t len;
    struct tp_json_tok *tok; /* owned; n used, cap allocated, never more than max */
    uint32_t n, cap, max;
    uint32_t max_depth;
    enum tp_json_err err; /* why the last parse failed */
    size_t err_off;       /* and at which byte */
};

/* Prepares j with caps (0 = the defaults). Allocates nothing yet. */
void tp_json_init(struct tp_json *j, uint32_t max_tokens, uint32_t max_depth);
void tp_json_fini(struct tp_json *j);

/* Tokenizes s[0..n) (borrowed; it must outlive the tokens). 0 on success; -EINVAL for a
 * malformed document, -E2BIG past a cap, -ENOMEM; j->err and j->err_off say why and where. */
int tp_json_parse(struct tp_json *j, const char *s, size_t n);

const char *tp_json_strerror(enum tp_json_err e); /* "syntax error", ... */

static inline enum tp_json_type tp_json_type(const struct tp_json *j, int i)
{
    return i < 0 ? TP_JSON_NONE : (enum tp_json_type)j->tok[i].type;
}
/* Raw text of token i (strings: between the quotes, escapes not decoded). */
static inline const char *tp_json_text(const struct tp_json *j, int i)
{
    return j->src + j->tok[i].off;
}
static inline size_t tp_json_len(const struct tp_json *j, int i)
{
    return j->tok[i].len;
}
/* Index of the token after i's subtree: the next sibling when there is one. */
static inline int tp_json_skip(const struct tp_json *j, int i)
{
    return (int)j->tok[i].end;
}
/* Members (objects) or elements (arrays) of a container; 0 otherwise. */
static inline uint32_t tp_json_size(const struct tp_json *j, int i)
{
    return i < 0 ? 0 : j->tok[i].size;
}

/* Iterates the members of object `o` (a valid object index): k is the key, v the value. */
#define TP_JSON_FOREACH_MEMBER(j, o, k, v)                                                         \
    for (int k = (o) + 1, v = (o) + 2, k##_end_ = (int)(j)->tok[o].end; k < k##_end_;              \
         k = (int)(j)->tok[v].end, v = k + 1)
/* Iterates the elements of array `a` (a valid array index). */
#define TP_JSON_FOREACH_ELEM(j, a, e)                                                              \
    for (int e = (a) + 1, e##_end_ = (int)(j)->tok[a].end; e < e##_end_; e = (int)(j)->tok[e].end)

/* The value of key[0..klen) in object obj (the first one when a key repeats); -1 when obj is
 * not an object or has no such key. Linear in the object's members. */
int tp_json_get(const struct tp_json *j, int obj, const char *key, size_t klen);
#define TP_JSON_GET(j, obj, lit) tp_json_get((j), (obj), (lit), sizeof(lit) - 1)
/* Element idx of array arr, or -1. Linear in idx. */
int tp_json_at(const struct tp_json *j, int arr, uint32_t idx);

/* True when token i is a string whose decoded text equals s[0..n). */
bool tp_json_eq(const struct tp_json *j, int i, const char *s, size_t n);
#define TP_JSON_EQ(j, i, lit) tp_json_eq((j), (i), (lit), sizeof(lit) - 1)
/* Decodes string token i into out (UTF-8, not NUL-terminated unless room remains; a NUL is
 * written when len < cap). Returns the decoded length, -EINVAL when i is not a string, or
 * -E2BIG when it does not fit in cap (out then holds a prefix). */
int tp_json_unescape(const struct tp_json *j, int i, char *out, size_t cap);

/* Numbers, from a number token or a string holding one (venues quote prices). Exact: the
 * correctly rounded double of the decimal text (core/num.h). 0 or -EINVAL (absent, wrong
 * type, empty or malformed text), -ERANGE (overflow). */
int tp_json_f64(const struct tp_json *j, int i, double *ret);
/* A canonical unsigned decimal integer (no sign, no leading zero, no fraction) that fits in
 * 64 bits, from a number or string token. 0, -EINVAL or -ERANGE. */
int tp_json_u64(const struct tp_json *j, int i, uint64_t *ret);
/* A decimal integer with an optional '-', fitting in int64. 0, -EINVAL or -ERANGE. */
int tp_json_i64(const struct tp_json *j, int i, int64_t *ret);
/* true / false tokens. 0 or -EINVAL. */
int tp_json_bool(const struct tp_json *j, int i, bool *ret);

#endif
