"""Shared network definitions for the snn-bench peers (Brian2, NEST).

Single source of truth for sizes, connection probability and parameters; MODELS.md documents the
same numbers for the neuromorph implementation. Units in the comments; values are plain floats in
the unit named in the key suffix (ms, mV, nS, pF, pA).
"""
from __future__ import annotations

import json
import os
import platform
import re
import subprocess

DT_MS = 0.1
DELAY_MS = 0.1          # every synapse, every simulator (= one step)
K_IN = 80               # expected in-degree: p = K_IN / N  (N = 4000 -> p = 0.02)
EXC_FRACTION = 0.8      # N_E = 0.8 N, N_I = 0.2 N
ALLOW_AUTAPSES = False  # no self-connections in exc->exc and inh->inh
ALLOW_MULTAPSES = False  # pairwise Bernoulli: at most one synapse per ordered pair


def sizes(n: int) -> tuple[int, int]:
    ne = int(round(EXC_FRACTION * n))
    return ne, n - ne


def conn_prob(n: int, p: float | None = None) -> float:
    return p if p is not None else K_IN / n


# COBA: Brette et al. 2007 benchmark 1 (Vogels & Abbott 2005), conductance-based LIF.
COBA = dict(
    C_m_pF=200.0, g_L_nS=10.0, E_L_mV=-60.0, V_reset_mV=-60.0, V_th_mV=-50.0,
    E_ex_mV=0.0, E_in_mV=-80.0, tau_ex_ms=5.0, tau_in_ms=10.0, t_ref_ms=5.0,
    w_ex_nS=6.0, w_in_nS=67.0,
    # initial state, N(0,1) draws per neuron:
    # v = -65 + 5*N ; ge = 40 + 15*N nS ; gi = 200 + 120*N nS
    v0_mean_mV=-65.0, v0_sd_mV=5.0, ge0_mean_nS=40.0, ge0_sd_nS=15.0, gi0_mean_nS=200.0, gi0_sd_nS=120.0,
)

# CUBA: Brian2 examples/CUBA.py (Brette et al. 2007 benchmark 2), current-based LIF; ge, gi in volts.
CUBA = dict(
    tau_m_ms=20.0, tau_ex_ms=5.0, tau_in_ms=10.0, E_L_mV=-49.0, V_th_mV=-50.0, V_reset_mV=-60.0,
    t_ref_ms=5.0, w_ex_mV=60 * 0.27 / 10, w_in_mV=-20 * 4.5 / 10,  # +1.62 mV, -9 mV
    # v uniform in [V_reset, V_th); ge = gi = 0
    # NEST (iaf_psc_exp) needs currents: w_pA = C_m * w_mV / tau_m with this C_m:
    nest_C_m_pF=250.0,
)

# COBAHH: Brian2 examples/COBAHH.py (Brette et al. 2007 benchmark 3), Traub-Miles HH.
_AREA_CM2 = 20000e-8  # 20000 um^2
COBAHH = dict(
    C_m_pF=1.0 * _AREA_CM2 * 1e6,          # 1 uF/cm^2 -> 200 pF
    g_L_nS=5e-5 * _AREA_CM2 * 1e9,         # 5e-5 S/cm^2 -> 10 nS
    g_Na_nS=100e-3 * _AREA_CM2 * 1e9,      # 100 mS/cm^2 -> 20000 nS
    g_K_nS=30e-3 * _AREA_CM2 * 1e9,        # 30 mS/cm^2 -> 6000 nS
    E_L_mV=-60.0, E_K_mV=-90.0, E_Na_mV=50.0, V_T_mV=-63.0,
    E_ex_mV=0.0, E_in_mV=-80.0, tau_ex_ms=5.0, tau_in_ms=10.0,
    w_ex_nS=6.0, w_in_nS=67.0, threshold_mV=-20.0, t_ref_ms=3.0,
    # v = E_L + (5*N - 5) mV ; ge = (1.5*N + 4)*10 nS ; gi = (12*N + 20)*10 nS ; m = n = h = 0
)

MODELS = ("coba", "cuba", "cobahh")


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        m = re.search(r"Model name:\s*(.+)", out)
        if m:
            return m.group(1).strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def loadavg() -> str:
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "?"


def write_json(path: str, obj: dict) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def parse_time_v(path: str) -> dict:
    """Parse GNU time -v output: peak RSS (bytes), elapsed wall (s), user/sys (s)."""
    res: dict = {}
    try:
        text = open(path).read()
    except OSError:
        return res
    m = re.search(r"Maximum resident set size \(kbytes\):\s*(\d+)", text)
    if m:
        res["peak_rss_bytes"] = int(m.group(1)) * 1024
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\):\s*([\d:.]+)", text)
    if m:
        parts = [float(x) for x in m.group(1).split(":")]
        secs = 0.0
        for x in parts:
            secs = secs * 60 + x
        res["wall_seconds"] = secs
    for key, name in (("User time (seconds)", "user_seconds"), ("System time (seconds)", "sys_seconds")):
        m = re.search(re.escape(key) + r":\s*([\d.]+)", text)
        if m:
            res[name] = float(m.group(1))
    m = re.search(r"Exit status:\s*(\d+)", text)
    if m:
        res["exit_status"] = int(m.group(1))
    return res


def add_common_args(ap) -> None:
    ap.add_argument("--model", choices=MODELS, required=True)
    ap.add_argument("--n", type=int, default=4000, help="total neurons (80%% exc, 20%% inh)")
    ap.add_argument("--p", type=float, default=None, help="connection probability (default 80/N)")
    ap.add_argument("--duration", type=float, default=1.0, help="simulated time in seconds")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", required=True, help="result JSON path")
