"""Statistics of a Brunel (2000) run, the same for every simulator: excitatory (and inhibitory) mean rate,
mean CV of the inter-spike intervals, and the period of the population-rate oscillation.

Input: spike times (ms) and neuron indices (0-based within the population) of a population, its size,
and the analysis window [t0, t1) in ms. Units: ms, Hz.
"""
from __future__ import annotations

import numpy as np

MIN_ISIS = 5          # neurons with fewer ISIs in the window are left out of the CV(ISI) mean


def rate_hz(times_ms: np.ndarray, size: int, t0: float, t1: float) -> float:
    n = int(np.count_nonzero((times_ms >= t0) & (times_ms < t1)))
    return n / (size * (t1 - t0) * 1e-3)


def cv_isi(times_ms: np.ndarray, ids: np.ndarray, t0: float, t1: float) -> tuple[float | None, int]:
    """Mean over neurons of std(ISI)/mean(ISI), neurons with >= MIN_ISIS intervals in the window; and how
    many neurons that was."""
    m = (times_ms >= t0) & (times_ms < t1)
    t, i = times_ms[m], ids[m]
    order = np.lexsort((t, i))
    t, i = t[order], i[order]
    cvs = []
    bounds = np.flatnonzero(np.diff(i)) + 1
    for seg in np.split(np.arange(len(i)), bounds):
        if len(seg) < MIN_ISIS + 1:
            continue
        isi = np.diff(t[seg])
        if isi.mean() > 0:
            cvs.append(isi.std() / isi.mean())
    return (float(np.mean(cvs)) if cvs else None), len(cvs)


def oscillation_period_ms(times_ms: np.ndarray, t0: float, t1: float, bin_ms: float = 0.5,
                          max_lag_ms: float = 50.0) -> tuple[float | None, float | None]:
    """Period of the population-rate oscillation: the maximum of the first positive lobe of the
    autocorrelation of the binned population spike count after its first negative lag (parabolic
    interpolation between bins), and the
    autocorrelation there (0 = no oscillation, 1 = perfectly periodic). (None, None) when there is none.
    0.5 ms bins: in NEST's network the 0.1 ms count also has a fine 0.5 ms (5-step) structure (delta
    synapses, 1.5 ms delays) that would mask the ~9 ms oscillation of the population rate."""
    nb = int(round((t1 - t0) / bin_ms))
    counts, _ = np.histogram(times_ms, bins=nb, range=(t0, t1))
    x = counts - counts.mean()
    if not np.any(x):
        return None, None
    n = len(x)
    f = np.fft.rfft(x, 2 * n)
    ac = np.fft.irfft(f * np.conj(f))[:n]
    ac /= ac[0]
    L = min(n - 1, int(max_lag_ms / bin_ms))
    neg = np.flatnonzero(ac[1:L] < 0)
    if len(neg) == 0:
        return None, None
    k0 = neg[0] + 1                          # first negative lag
    pos = np.flatnonzero(ac[k0:L] > 0)
    if len(pos) == 0:
        return None, None
    k1 = k0 + pos[0]                         # start of the next positive lobe
    end = np.flatnonzero(ac[k1:L] <= 0)
    k2 = k1 + (end[0] if len(end) else L - k1)
    k = k1 + int(np.argmax(ac[k1:k2]))       # its maximum
    if k == 0 or k + 1 >= n:
        return None, None
    a, b, c = ac[k - 1], ac[k], ac[k + 1]
    den = a - 2 * b + c
    off = 0.5 * (a - c) / den if den != 0 else 0.0
    return float((k + off) * bin_ms), float(b)


def summarize(exc: tuple[np.ndarray, np.ndarray], inh: tuple[np.ndarray, np.ndarray] | None, n_exc: int, n_inh: int,
              t0: float, t1: float) -> dict:
    te, ie = exc
    cv, ncv = cv_isi(te, ie, t0, t1)
    per, strength = oscillation_period_ms(te, t0, t1)
    out = dict(window_ms=[t0, t1], exc_rate_hz=rate_hz(te, n_exc, t0, t1), exc_cv_isi=cv, cv_neurons=ncv,
               oscillation_period_ms=per, oscillation_autocorrelation=strength)
    if inh is not None:
        out["inh_rate_hz"] = rate_hz(inh[0], n_inh, t0, t1)
    return out
