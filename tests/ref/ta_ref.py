#!/usr/bin/env python3
"""ta_ref.py — an independent, non-incremental reference for tickpipe's indicators.

Reads a CSV of high,low,close (one bar a line, no header) and prints one CSV line per bar:
sma,ema,bb_upper,bb_middle,bb_lower,rsi,macd,macd_signal,macd_hist,atr,volatility
with "nan" for null and floats in shortest round-trip form.

Usage: ta_ref.py FILE [sma ema bb bb_k rsi fast slow sig atr vol]   (defaults: TA-Lib's)

Every value is computed from its definition (DESIGN.md §3, TA-Lib TA_COMPATIBILITY_DEFAULT):
windows are taken whole for each bar and reduced with numpy's two-pass mean/std; the
recursive indicators (EMA, Wilder) are plain loops over whole arrays after their seeds. Nothing
here shares code or method with src/engine/indicator.c (no running sums, no ring buffers).
"""
import sys

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def windows(x, n):
    """Row i holds x[i .. i+n-1], i.e. the window that ends at index i+n-1."""
    return sliding_window_view(x, n)


def sma(c, n):
    out = np.full(len(c), np.nan)
    if len(c) >= n:
        out[n - 1:] = windows(c, n).mean(axis=1)
    return out


def ema_from(x, n, first):
    """EMA(n) of x[first:], seeded with the mean of x[first:first+n] (value at first+n-1)."""
    out = np.full(len(x), np.nan)
    if len(x) < first + n:
        return out
    k = 2.0 / (n + 1.0)
    v = float(np.mean(x[first:first + n]))
    xs, vals = x.tolist(), [v]
    for i in range(first + n, len(xs)):
        v = (xs[i] - v) * k + v
        vals.append(v)
    out[first + n - 1:] = vals
    return out


def wilder_from(x, n, first):
    """Wilder(n) of x[first:]: mean of the first n, then (v*(n-1) + x)/n."""
    out = np.full(len(x), np.nan)
    if len(x) < first + n:
        return out
    v = float(np.mean(x[first:first + n]))
    xs, vals = x.tolist(), [v]
    for i in range(first + n, len(xs)):
        v = (v * (n - 1) + xs[i]) / n
        vals.append(v)
    out[first + n - 1:] = vals
    return out


def main():
    args = sys.argv[1:]
    if len(args) not in (1, 11):
        sys.exit("usage: ta_ref.py FILE [sma ema bb bb_k rsi fast slow sig atr vol]")
    p_sma, p_ema, p_bb, bb_k, p_rsi, p_fast, p_slow, p_sig, p_atr, p_vol = (
        [20, 20, 20, 2.0, 14, 12, 26, 9, 14, 20] if len(args) == 1 else
        [int(args[1]), int(args[2]), int(args[3]), float(args[4]), int(args[5]),
         int(args[6]), int(args[7]), int(args[8]), int(args[9]), int(args[10])])

    data = np.loadtxt(args[0], delimiter=",", ndmin=2, dtype=np.float64)
    high, low, close = data[:, 0], data[:, 1], data[:, 2]
    nb = len(close)
    nan = np.full(nb, np.nan)

    out_sma = sma(close, p_sma)
    out_ema = ema_from(close, p_ema, 0)

    mid, up, lo = nan.copy(), nan.copy(), nan.copy()
    if nb >= p_bb:
        w = windows(close, p_bb)
        m = w.mean(axis=1)
        sd = w.std(axis=1)  # population: ddof = 0, two-pass
        mid[p_bb - 1:] = m
        up[p_bb - 1:] = m + bb_k * sd
        lo[p_bb - 1:] = m - bb_k * sd

    # RSI: changes exist from index 1 (bar 2).
    chg = np.zeros(nb)
    chg[1:] = close[1:] - close[:-1]
    avg_gain = wilder_from(np.where(chg > 0, chg, 0.0), p_rsi, 1)
    avg_loss = wilder_from(np.where(chg < 0, -chg, 0.0), p_rsi, 1)
    rsi = nan.copy()
    for i, (g, l) in enumerate(zip(avg_gain.tolist(), avg_loss.tolist())):
        if g == g:  # not NaN
            rsi[i] = 100.0 * (g / (g + l)) if g + l != 0 else 0.0

    # MACD as TA_MACD: both EMA seeds end at index slow-1.
    slow = ema_from(close, p_slow, 0)
    fast = ema_from(close, p_fast, p_slow - p_fast)
    macd_line = fast - slow  # defined from index slow-1
    signal = nan.copy()
    if nb >= p_slow:
        signal = ema_from(np.where(np.isnan(macd_line), 0.0, macd_line), p_sig, p_slow - 1)
    macd_out = np.where(np.isnan(signal), np.nan, macd_line)
    hist = macd_out - signal

    # ATR: true range from index 1 (bar 2).
    tr = np.zeros(nb)
    if nb > 1:
        pc = close[:-1]
        h, l = high[1:], low[1:]
        tr[1:] = np.maximum(h - l, np.maximum(np.abs(h - pc), np.abs(l - pc)))
    atr = wilder_from(tr, p_atr, 1)

    # Volatility: sample std of the last p_vol log returns (returns from index 1).
    vol = nan.copy()
    if p_vol >= 2 and nb > p_vol:
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.log(close[1:] / close[:-1])
        vol[p_vol:] = windows(r, p_vol).std(axis=1, ddof=1)

    cols = [out_sma, out_ema, up, mid, lo, rsi, macd_out, signal, hist, atr, vol]
    rows = zip(*(col.tolist() for col in cols))
    lines = [",".join(repr(v) for v in row) for row in rows]
    sys.stdout.write("\n".join(lines) + ("\n" if lines else ""))


if __name__ == "__main__":
    main()
