/*
 * redis_keys.c — the pure parts of the Redis sink (redis.h): the URL, key and channel names,
 * stream ids of bars, and the last-state Lua script.
 *
 * Stream ids: Redis stream ids are two unsigned 64-bit numbers "<ms>-<seq>". A bar's id is
 * its window start split as milliseconds and the nanoseconds below them; both grow with ts,
 * so the order of the ids is the order of the bars, which is the order in which the engine
 * emits the final bars of one instrument and interval. A re-sent bar gets the id it had, and
 * Redis refuses an XADD whose id is not above the stream's last: a replay adds nothing.
 *
 * The time guard compares epoch nanoseconds as decimal strings inside Lua: Redis's Lua
 * numbers are doubles, exact only to 2^53, and nanosecond times are near 2^61.
 */
#include "core/tptime.h"
#include "sink/redis.h"

#define PREFIX "tickpipe:"

static int fail(char *err, size_t cap, const char *why)
{
    if (cap) snprintf(err, cap, "%s", why);
    return -EINVAL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into out[cap] with a NUL. 0, or -EINVAL (bad escape, too long). */
static int pct_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n) return -EINVAL;
            int a = hexval(s[i + 1]), b = hexval(s[i + 2]);
            if (a < 0 || b < 0) return -EINVAL;
            c = (char)(a * 16 + b);
            i += 2;
        }
        if (c == '\0' || k + 1 >= cap) return -EINVAL;
        out[k++] = c;
    }
    out[k] = '\0';
    return 0;
}

/* A decimal number s[0..n) in [lo, hi]; -EINVAL otherwise. */
static int parse_int(const char *s, size_t n, long lo, long hi, int *ret)
{
    if (n == 0 || n > 10) return -EINVAL;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi) return -EINVAL;
    *ret = (int)v;
    return 0;
}

int tp_redis_url_parse(const char *url, struct tp_redis_url *ret, char *err, size_t errcap)
{
    struct tp_redis_url u = {.port = TP_REDIS_DEFAULT_PORT};
    if (!url) return fail(err, errcap, "is empty");
    if (!strncmp(url, "rediss://", 9))
        return fail(err, errcap, "uses TLS (rediss://), which this version does not support");
    if (strncmp(url, "redis://", 8))
        return fail(err, errcap, "is not a redis://[[user]:password@]host[:port][/db] URL");
    const char *p = url + 8;
    if (strpbrk(p, "?#"))
        return fail(err, errcap, "has a query or fragment (not supported: settings are flags)");
    /* Authority ends at the first '/' after the last '@' (a password may hold '/'). */
    const char *at = strrchr(p, '@');
    const char *host = p;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon) {
            /* redis://password@host is ambiguous in other clients; require the colon. */
            return fail(err, errcap, "has credentials without ':' (use redis://:password@host)");
        }
        if (pct_decode(p, (size_t)(colon - p), u.user, sizeof u.user) < 0)
            return fail(err, errcap, "has a bad or too long user name");
        if (pct_decode(colon + 1, (size_t)(at - colon - 1), u.password, sizeof u.password) < 0)
            return fail(err, errcap, "has a bad or too long password (percent-escape specials)");
        host = at + 1;
    }
    const char *slash = strchr(host, '/');
    const char *hend = slash ? slash : host + strlen(host);
    const char *port = NULL;
    const char *h0 = host, *h1;
    if (*host == '[') {
        const char *rb = memchr(host, ']', (size_t)(hend - host));
        if (!rb) return fail(err, errcap, "has an unclosed '[' in its host");
        h0 = host + 1;
        h1 = rb;
        if (rb + 1 < hend) {
            if (rb[1] != ':') return fail(err, errcap, "has junk after its IPv6 host");
            port = rb + 2;
        }
    } else {
        const char *colon = memchr(host, ':', (size_t)(hend - host));
        h1 = colon ? colon : hend;
        if (colon) port = colon + 1;
    }
    if (h1 == h0) return fail(err, errcap, "names no host");
    if ((size_t)(h1 - h0) >= sizeof u.host) return fail(err, errcap, "has too long a host");
    for (const char *c = h0; c < h1; c++)
        if (*c <= ' ' || *c == '@' || *c == '/' || (*c == ':' && *host != '['))
            return fail(err, errcap, "has a bad character in its host");
    memcpy(u.host, h0, (size_t)(h1 - h0));
    u.host[h1 - h0] = '\0';
    if (port && parse_int(port, (size_t)(hend - port), 1, 65535, &u.port) < 0)
        return fail(err, errcap, "has a port that is not a number in 1..65535");
    if (slash && slash[1] && parse_int(slash + 1, strlen(slash + 1), 0, 1000000, &u.db) < 0)
        return fail(err, errcap, "has a database that is not a number (redis://host/0)");
    *ret = u;
    return 0;
}

static int name(char *out, size_t cap, const char *kind, const char *instrument, const char *suf)
{
    int n = snprintf(out, cap, PREFIX "%s:%s%s%s", kind, instrument, *suf ? ":" : "", suf);
    if (n < 0 || (size_t)n >= cap) {
        if (cap) out[0] = '\0';
        return -ENAMETOOLONG;
    }
    return n;
}

int tp_redis_key_last(const char *instrument, char *out, size_t cap)
{
    return name(out, cap, "last", instrument, "");
}

int tp_redis_key_bars(const char *instrument, int64_t interval_ns, char *out, size_t cap)
{
    char iv[32];
    tp_duration_format(interval_ns, iv, sizeof iv);
    return name(out, cap, "bars", instrument, iv);
}

int tp_redis_chan_ticks(const char *instrument, char *out, size_t cap)
{
    return name(out, cap, "ticks", instrument, "");
}

int tp_redis_chan_anomalies(const char *instrument, char *out, size_t cap)
{
    return name(out, cap, "anomalies", instrument, "");
}

int tp_redis_stream_id(int64_t ts, char out[TP_REDIS_ID_STRLEN])
{
    if (ts <= 0) {
        out[0] = '\0';
        return -ERANGE;
    }
    int n = snprintf(out, TP_REDIS_ID_STRLEN, "%lld-%lld", (long long)(ts / TP_NS_PER_MS),
                     (long long)(ts % TP_NS_PER_MS));
    return n;
}

/*
 * KEYS[1]: the hash. ARGV[1]: the guard field ("" for none), ARGV[2]: its new value, a
 * decimal integer (epoch ns); then field, value pairs, where "" deletes the field. With a
 * guard, nothing changes when the stored guard value is greater than the new one (newer);
 * otherwise the pairs and the guard are set. Returns 1 when applied, 0 when refused.
 */
static const char last_script[] = "local function lt(a, b)\n"
                                  "  local na, nb = a:sub(1, 1) == '-', b:sub(1, 1) == '-'\n"
                                  "  if na ~= nb then return na end\n"
                                  "  if a == b then return false end\n"
                                  "  local r\n"
                                  "  if #a ~= #b then r = #a < #b else r = a < b end\n"
                                  "  if na then return not r end\n"
                                  "  return r\n"
                                  "end\n"
                                  "local g = ARGV[1]\n"
                                  "if g ~= '' then\n"
                                  "  local cur = redis.call('HGET', KEYS[1], g)\n"
                                  "  if cur and lt(ARGV[2], cur) then return 0 end\n"
                                  "end\n"
                                  "local set = {}\n"
                                  "for i = 3, #ARGV - 1, 2 do\n"
                                  "  if ARGV[i + 1] == '' then\n"
                                  "    redis.call('HDEL', KEYS[1], ARGV[i])\n"
                                  "  else\n"
                                  "    set[#set + 1] = ARGV[i]\n"
                                  "    set[#set + 1] = ARGV[i + 1]\n"
                                  "  end\n"
                                  "end\n"
                                  "if g ~= '' then\n"
                                  "  set[#set + 1] = g\n"
                                  "  set[#set + 1] = ARGV[2]\n"
                                  "end\n"
                                  "if #set > 0 then redis.call('HSET', KEYS[1], unpack(set)) end\n"
                                  "return 1\n";

const char *tp_redis_last_script(void)
{
    return last_script;
}
