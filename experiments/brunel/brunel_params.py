"""Brunel (2000) model A as NEST's pynest/examples/brunel_delta_nest.py sets it up, scaled down.

Kept from NEST's example: g = 5, eta = 2, epsilon = 0.1, J = 0.1 mV, delay 1.5 ms, iaf_psc_delta with
C_m 1 pF, tau_m 20 ms, t_ref 2 ms, E_L = V_reset = 0, V_th 20 mV, V_m(0) = 0; fixed in-degrees
C_E = epsilon N_E and C_I = epsilon N_I from the excitatory and inhibitory populations onto every neuron
(NEST's fixed_indegree: autapses and multapses allowed), and one poisson_generator at
eta nu_thr C_E (= 20 kHz whatever N_E: nu_thr = theta / (J C_E tau_m)) sending every neuron its own train
through an excitatory synapse.

Scaled: ORDER = 1250 (NEST: 2500), so N_E = 5000, N_I = 1250, with the in-degrees kept at NEST's C_E = 1000,
C_I = 250 (epsilon = 0.2 instead of 0.1). The in-degrees, not N, set each neuron's input: mean
mu = eta theta + C_E J tau_m nu (1 - g/4) = 40 mV - 0.5 mV/Hz x nu and variance ~ C_E J^2 tau_m nu, so
keeping C_E = epsilon N_E at 0.1 with N_E = 2000 (C_E = 200) would change the regime (NEST 3.10, seed 1:
53 Hz, CV(ISI) 0.09 at C_E = 200; 45.7 Hz, 0.11 at C_E = 400; 32.1 Hz, 0.17 for NEST's full example).
Units: ms, mV, Hz.
"""
from __future__ import annotations

DT_MS = 0.1
ORDER = 1250
G = 5.0
ETA = 2.0
EPSILON = 0.2
J_MV = 0.1
DELAY_MS = 1.5
NEURON = dict(C_m=1.0, tau_m=20.0, t_ref=2.0, E_L=0.0, V_reset=0.0, V_m=0.0, V_th=20.0)
WARMUP_MS = 200.0       # the analysis window starts here (all neurons start at V = 0)
DURATION_MS = 2200.0    # simulated; window [WARMUP_MS, DURATION_MS): 2 s (the oscillation is weak)


def derived(order: int = ORDER, epsilon: float = EPSILON) -> dict:
    ne, ni = 4 * order, order
    ce, ci = int(round(epsilon * ne)), int(round(epsilon * ni))
    nu_th = NEURON["V_th"] / (J_MV * ce * NEURON["tau_m"])     # 1/ms
    nu_ex = ETA * nu_th
    return dict(order=order, n_exc=ne, n_inh=ni, c_exc=ce, c_inh=ci, j_exc_mV=J_MV, j_inh_mV=-G * J_MV,
                nu_thr_hz=1000.0 * nu_th, poisson_rate_hz=1000.0 * nu_ex * ce, delay_ms=DELAY_MS, dt_ms=DT_MS,
                g=G, eta=ETA, epsilon=epsilon, neuron=dict(NEURON))
