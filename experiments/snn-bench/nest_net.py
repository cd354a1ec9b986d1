#!/usr/bin/env python
"""NEST 3 peer for the snn-bench networks (COBA, CUBA, COBAHH).

Models: COBA -> iaf_cond_exp, CUBA -> iaf_psc_exp, COBAHH -> hh_cond_exp_traub.
CUBA weights are converted from Brian's voltage units: w_pA = C_m * w_mV / tau_m with C_m = 250 pF,
tau_m = 20 ms (+1.62 mV -> +20.25 pA, -9 mV -> -112.5 pA); then C_m dV/dt = -C_m/tau_m (V-E_L) + I
is exactly Brian's dv/dt = (ge + gi - (v - El))/taum with I = C_m*(ge+gi)/tau_m.
Connections: pairwise_bernoulli p, allow_autapses=False, allow_multapses=False, delay 0.1 ms, four
pathways (E->E, E->I, I->E, I->I).

Timing split (wall clock): create_seconds (nodes + initial values), connect_seconds (network
connections + spike recorders),
prepare_seconds (nest.Prepare()), build_seconds = create + connect + prepare,
simulate_seconds (nest.Run(duration)). Peak memory: ru_maxrss of this process (includes the
Python interpreter and the NEST library, ~80 MB baseline). NEST 3.10 spends ~31 KB per
neuron->spike_recorder connection, so peak_rss_bytes_before_recorders (high-water mark after the
network is connected, before recorders and Prepare) is reported as well.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netdefs as nd  # noqa: E402


def _rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    nd.add_common_args(ap)
    args = ap.parse_args()

    t_import = time.perf_counter()
    import nest
    t_import = time.perf_counter() - t_import
    try:
        nest.verbosity = nest.VerbosityLevel.WARNING  # NEST >= 3.9
    except AttributeError:
        nest.set_verbosity("M_WARNING")

    n = args.n
    ne, ni = nd.sizes(n)
    p = nd.conn_prob(n, args.p)
    dur_ms = args.duration * 1000.0

    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": nd.DT_MS, "local_num_threads": args.threads, "rng_seed": args.seed,
                          "print_time": False})

    t0 = time.perf_counter()
    if args.model == "coba":
        c = nd.COBA
        model = "iaf_cond_exp"
        params = {"C_m": c["C_m_pF"], "g_L": c["g_L_nS"], "E_L": c["E_L_mV"], "V_th": c["V_th_mV"],
                  "V_reset": c["V_reset_mV"], "t_ref": c["t_ref_ms"], "E_ex": c["E_ex_mV"], "E_in": c["E_in_mV"],
                  "tau_syn_ex": c["tau_ex_ms"], "tau_syn_in": c["tau_in_ms"], "I_e": 0.0}
        init = {"V_m": nest.random.normal(c["v0_mean_mV"], c["v0_sd_mV"]),
                "g_ex": nest.random.normal(c["ge0_mean_nS"], c["ge0_sd_nS"]),
                "g_in": nest.random.normal(c["gi0_mean_nS"], c["gi0_sd_nS"])}
        w_ex, w_in = c["w_ex_nS"], -c["w_in_nS"]  # NEST: negative weight -> inhibitory channel
    elif args.model == "cuba":
        c = nd.CUBA
        model = "iaf_psc_exp"
        cm = c["nest_C_m_pF"]
        params = {"C_m": cm, "tau_m": c["tau_m_ms"], "E_L": c["E_L_mV"], "V_th": c["V_th_mV"],
                  "V_reset": c["V_reset_mV"], "t_ref": c["t_ref_ms"], "tau_syn_ex": c["tau_ex_ms"],
                  "tau_syn_in": c["tau_in_ms"], "I_e": 0.0}
        init = {"V_m": nest.random.uniform(c["V_reset_mV"], c["V_th_mV"])}
        w_ex = cm * c["w_ex_mV"] / c["tau_m_ms"]   # 20.25 pA
        w_in = cm * c["w_in_mV"] / c["tau_m_ms"]   # -112.5 pA
    elif args.model == "cobahh":
        c = nd.COBAHH
        model = "hh_cond_exp_traub"
        params = {"C_m": c["C_m_pF"], "g_L": c["g_L_nS"], "g_Na": c["g_Na_nS"], "g_K": c["g_K_nS"],
                  "E_L": c["E_L_mV"], "E_K": c["E_K_mV"], "E_Na": c["E_Na_mV"], "V_T": c["V_T_mV"],
                  "E_ex": c["E_ex_mV"], "E_in": c["E_in_mV"], "tau_syn_ex": c["tau_ex_ms"],
                  "tau_syn_in": c["tau_in_ms"], "t_ref": c["t_ref_ms"], "I_e": 0.0}
        # Brian's COBAHH leaves m, n, h at 0; NEST would start them at (its) equilibrium.
        # hh_cond_exp_traub does not let g_ex/g_in be set: see the kick below.
        init = {"V_m": nest.random.normal(c["E_L_mV"] - 5.0, 5.0),
                "Act_m": 0.0, "Inact_h": 0.0, "Act_n": 0.0}
        w_ex, w_in = c["w_ex_nS"], -c["w_in_nS"]
    else:
        raise ValueError(args.model)

    exc = nest.Create(model, ne, params=params)
    inh = nest.Create(model, ni, params=params)
    allp = exc + inh
    allp.set(init)
    if args.model == "cobahh":
        # Initial conductances ge ~ N(40,15) nS, gi ~ N(200,120) nS cannot be set as state in
        # hh_cond_exp_traub; deliver them as one spike at 0.1 ms (delay 0.1 ms => added at the end of
        # the step ending at 0.2 ms) with per-target random weights, clipped at 0 (negative weights
        # would switch channel). Approximation of Brian's initial condition, documented in MODELS.md.
        kick = nest.Create("spike_generator", params={"spike_times": [0.1]})
        nest.Connect(kick, allp, "all_to_all",
                     {"weight": nest.math.max(nest.random.normal(40.0, 15.0), 0.0), "delay": nd.DELAY_MS})
        nest.Connect(kick, allp, "all_to_all",
                     {"weight": nest.math.min(nest.random.normal(-200.0, 120.0), 0.0), "delay": nd.DELAY_MS})
    t1 = time.perf_counter()
    rss_stages = {"created": _rss()}

    conn = {"rule": "pairwise_bernoulli", "p": p, "allow_autapses": nd.ALLOW_AUTAPSES,
            "allow_multapses": nd.ALLOW_MULTAPSES}
    syn_e = {"synapse_model": "static_synapse", "weight": w_ex, "delay": nd.DELAY_MS}
    syn_i = {"synapse_model": "static_synapse", "weight": w_in, "delay": nd.DELAY_MS}
    for pre, syn in ((exc, syn_e), (inh, syn_i)):
        for post in (exc, inh):
            nest.Connect(pre, post, conn, syn)
    rss_stages["connected"] = _rss()
    # Spike recorders last: in NEST 3.10 every neuron->spike_recorder connection costs ~31 KB of RSS
    # (measured: 32000 connections -> +940 MB), so the peak RSS before this point is also reported.
    rec_e = nest.Create("spike_recorder")
    rec_i = nest.Create("spike_recorder")
    nest.Connect(exc, rec_e)
    nest.Connect(inh, rec_i)
    t2 = time.perf_counter()
    rss_stages["recorders"] = _rss()
    nest.Prepare()
    t3 = time.perf_counter()
    rss_stages["prepared"] = _rss()
    nest.Run(dur_ms)
    t4 = time.perf_counter()
    nest.Cleanup()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # before the analysis below

    n_conn_total = int(nest.GetKernelStatus("num_connections"))
    n_syn = n_conn_total - n  # minus the neuron->spike_recorder connections
    if args.model == "cobahh":
        n_syn -= 2 * n  # minus the initial-conductance kick
    se = int(rec_e.get("n_events"))
    si = int(rec_i.get("n_events"))
    # synaptic events = sum over spikes of the sender's out-degree
    syn_events = None
    try:
        import numpy as np
        ev_e = np.asarray(rec_e.get("events")["senders"])
        ev_i = np.asarray(rec_i.get("events")["senders"])
        src = np.asarray(nest.GetConnections(source=allp, target=allp).get("source"))
        outdeg = np.bincount(src, minlength=n + 1)
        syn_events = int(outdeg[ev_e].sum() + outdeg[ev_i].sum())
    except Exception:  # noqa: BLE001
        pass
    dur = args.duration
    sim = t4 - t3
    res = dict(
        simulator="nest", version=nest.__version__ if hasattr(nest, "__version__") else "?", model=args.model,
        nest_model=model, neurons=n, ne=ne, ni=ni, p=p, synapses=n_syn, synaptic_events=syn_events,
        duration_s=dur, dt_ms=nd.DT_MS, delay_ms=nd.DELAY_MS, seed=args.seed, threads=args.threads,
        omp_wait_policy=os.environ.get("OMP_WAIT_POLICY", "default"),
        weights=dict(exc=w_ex, inh=w_in), params=params,
        import_seconds=t_import, create_seconds=t1 - t0, connect_seconds=t2 - t1, prepare_seconds=t3 - t2,
        build_seconds=t3 - t0, simulate_seconds=sim, realtime_factor=sim / dur,
        peak_rss_bytes=rss, peak_rss_bytes_by_stage=rss_stages,
        peak_rss_bytes_before_recorders=rss_stages["connected"], spikes=se + si,
        populations=dict(
            exc=dict(neurons=ne, spikes=se, mean_rate_hz=se / (ne * dur)),
            inh=dict(neurons=ni, spikes=si, mean_rate_hz=si / (ni * dur)),
        ),
        mean_rate_hz=(se + si) / (n * dur),
        loadavg=nd.loadavg(), cpu=nd.cpu_model(),
    )
    nd.write_json(args.out, res)
    print(f"nest {args.model} N={n} T={args.threads} seed={args.seed}: build {t3 - t0:.2f}s "
          f"(connect {t2 - t1:.2f}s) sim {sim:.2f}s rates exc {se / (ne * dur):.2f} inh {si / (ni * dur):.2f} Hz "
          f"rss {rss / 2**20:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
