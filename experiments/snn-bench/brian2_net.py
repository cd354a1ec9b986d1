#!/usr/bin/env python
"""Brian2 C++ standalone (OpenMP) peer for the snn-bench networks (COBA, CUBA, COBAHH).

Timing split (all wall clock):
  codegen_seconds : Python side: building Brian objects + run() in standalone mode (records code).
  compile_seconds : device.build(compile=True, run=False): writes C++ project and compiles it (make).
                    With --build-dir reused, unchanged files are not recompiled (only main.cpp
                    changes with the seed), so later repetitions compile much faster.
  binary_seconds  : wall time of the ./main process (measured by Brian and by GNU time -v).
  simulate_seconds: Brian's own measure of the network.run() loop inside the binary
                    (device._last_run_time, from results/last_run_info.txt).
  build_seconds   : binary_seconds - simulate_seconds = initial values + synapse creation
                    (connect) + writing results + process start-up.
Peak memory: "Maximum resident set size" of ./main from /usr/bin/time -v (the binary is a child
process; RUSAGE_CHILDREN would also count the compiler).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netdefs as nd  # noqa: E402


def build_network(model: str, n: int, p: float):
    from brian2 import NeuronGroup, SpikeMonitor, Synapses, mV, ms, nS, pF
    ne, ni = nd.sizes(n)
    delay = nd.DELAY_MS * ms
    if model == "coba":
        c = nd.COBA
        ns = dict(C=c["C_m_pF"] * pF, gl=c["g_L_nS"] * nS, El=c["E_L_mV"] * mV, Vr=c["V_reset_mV"] * mV,
                  Vt=c["V_th_mV"] * mV, Ee=c["E_ex_mV"] * mV, Ei=c["E_in_mV"] * mV,
                  taue=c["tau_ex_ms"] * ms, taui=c["tau_in_ms"] * ms,
                  we=c["w_ex_nS"] * nS, wi=c["w_in_nS"] * nS)
        eqs = """
        dv/dt = (gl*(El - v) + ge*(Ee - v) + gi*(Ei - v))/C : volt (unless refractory)
        dge/dt = -ge/taue : siemens
        dgi/dt = -gi/taui : siemens
        """
        P = NeuronGroup(n, eqs, threshold="v > Vt", reset="v = Vr", refractory=c["t_ref_ms"] * ms,
                        method="exponential_euler", namespace=ns, name="P")
        P.v = "-65*mV + 5*mV*randn()"
        P.ge = "(40 + 15*randn())*nS"
        P.gi = "(200 + 120*randn())*nS"
    elif model == "cuba":
        c = nd.CUBA
        ns = dict(taum=c["tau_m_ms"] * ms, taue=c["tau_ex_ms"] * ms, taui=c["tau_in_ms"] * ms,
                  El=c["E_L_mV"] * mV, Vt=c["V_th_mV"] * mV, Vr=c["V_reset_mV"] * mV,
                  we=c["w_ex_mV"] * mV, wi=c["w_in_mV"] * mV)
        eqs = """
        dv/dt = (ge + gi - (v - El))/taum : volt (unless refractory)
        dge/dt = -ge/taue : volt
        dgi/dt = -gi/taui : volt
        """
        P = NeuronGroup(n, eqs, threshold="v > Vt", reset="v = Vr", refractory=c["t_ref_ms"] * ms,
                        method="exact", namespace=ns, name="P")
        P.v = "Vr + rand()*(Vt - Vr)"
        P.ge = 0 * mV
        P.gi = 0 * mV
    elif model == "cobahh":
        c = nd.COBAHH
        ns = dict(Cm=c["C_m_pF"] * pF, gl=c["g_L_nS"] * nS, g_na=c["g_Na_nS"] * nS, g_kd=c["g_K_nS"] * nS,
                  El=c["E_L_mV"] * mV, EK=c["E_K_mV"] * mV, ENa=c["E_Na_mV"] * mV, VT=c["V_T_mV"] * mV,
                  Ee=c["E_ex_mV"] * mV, Ei=c["E_in_mV"] * mV, taue=c["tau_ex_ms"] * ms,
                  taui=c["tau_in_ms"] * ms, we=c["w_ex_nS"] * nS, wi=c["w_in_nS"] * nS)
        # Verbatim from brian2 examples/COBAHH.py
        eqs = """
        dv/dt = (gl*(El-v)+ge*(Ee-v)+gi*(Ei-v)-
                 g_na*(m*m*m)*h*(v-ENa)-
                 g_kd*(n*n*n*n)*(v-EK))/Cm : volt
        dm/dt = alpha_m*(1-m)-beta_m*m : 1
        dn/dt = alpha_n*(1-n)-beta_n*n : 1
        dh/dt = alpha_h*(1-h)-beta_h*h : 1
        dge/dt = -ge*(1./taue) : siemens
        dgi/dt = -gi*(1./taui) : siemens
        alpha_m = 0.32*(mV**-1)*(13*mV-v+VT)/
                 (exp((13*mV-v+VT)/(4*mV))-1.)/ms : Hz
        beta_m = 0.28*(mV**-1)*(v-VT-40*mV)/
                (exp((v-VT-40*mV)/(5*mV))-1)/ms : Hz
        alpha_h = 0.128*exp((17*mV-v+VT)/(18*mV))/ms : Hz
        beta_h = 4./(1+exp((40*mV-v+VT)/(5*mV)))/ms : Hz
        alpha_n = 0.032*(mV**-1)*(15*mV-v+VT)/
                 (exp((15*mV-v+VT)/(5*mV))-1.)/ms : Hz
        beta_n = .5*exp((10*mV-v+VT)/(40*mV))/ms : Hz
        """
        P = NeuronGroup(n, eqs, threshold=f"v > {c['threshold_mV']}*mV", refractory=c["t_ref_ms"] * ms,
                        method="exponential_euler", namespace=ns, name="P")
        P.v = "El + (randn() * 5 - 5)*mV"
        P.ge = "(randn() * 1.5 + 4) * 10.*nS"
        P.gi = "(randn() * 12 + 20) * 10.*nS"
    else:
        raise ValueError(model)

    Pe, Pi = P[:ne], P[ne:]
    on_e = "ge += we"
    on_i = "gi += wi"  # CUBA: wi = -9 mV (negative); COBA/COBAHH: wi = +67 nS (conductance)
    Ce = Synapses(Pe, P, on_pre=on_e, delay=delay, namespace=ns, name="Ce")
    Ci = Synapses(Pi, P, on_pre=on_i, delay=delay, namespace=ns, name="Ci")
    # Pairwise Bernoulli with probability p, no autapses. i is the index inside the source subgroup,
    # j the index in P: Pe starts at 0, Pi at ne. Generator syntax draws only the realised synapses.
    Ce.connect(j="k for k in sample(N_post, p=p_conn) if k != i", namespace={"p_conn": p})
    Ci.connect(j=f"k for k in sample(N_post, p=p_conn) if k != i + {ne}", namespace={"p_conn": p})
    mon = SpikeMonitor(P, record=False, name="spikes")
    return P, Ce, Ci, mon, ne, ni


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    nd.add_common_args(ap)
    ap.add_argument("--rate-window", type=float, action="append", default=[],
                    help="also report mean rates over [0, W] s (PopulationRateMonitor per population); "
                         "repeatable; used to compare with a peer that simulated only W s")
    ap.add_argument("--build-dir", default=None,
                    help="C++ project directory (reused between runs => incremental compile); "
                         "default: a temporary directory that is deleted afterwards")
    args = ap.parse_args()

    import brian2
    from brian2 import Network, defaultclock, device, ms, prefs, second, seed, set_device
    p = nd.conn_prob(args.n, args.p)
    tmp = None
    build_dir = args.build_dir
    if build_dir is None:
        tmp = tempfile.mkdtemp(prefix=f"brian2_{args.model}_")
        build_dir = tmp
    build_dir = os.path.abspath(build_dir)
    os.makedirs(build_dir, exist_ok=True)
    timefile = os.path.join(build_dir, "time_v.txt")
    try:
        os.remove(timefile)
    except FileNotFoundError:
        pass

    t0 = time.perf_counter()
    set_device("cpp_standalone", directory=build_dir, build_on_run=False)
    prefs.devices.cpp_standalone.openmp_threads = args.threads
    prefs.devices.cpp_standalone.run_cmd_unix = ["/usr/bin/time", "-v", "-o", timefile, "./main"]
    prefs.logging.file_log = False
    prefs.logging.std_redirection = False
    defaultclock.dt = nd.DT_MS * ms
    seed(args.seed)
    P, Ce, Ci, mon, ne, ni = build_network(args.model, args.n, p)
    prm = {}
    if args.rate_window:
        from brian2 import PopulationRateMonitor
        prm = {"exc": PopulationRateMonitor(P[:ne], name="rate_exc"), "inh": PopulationRateMonitor(P[ne:], name="rate_inh")}
    net = Network(P, Ce, Ci, mon, *prm.values())
    net.run(args.duration * second)
    t1 = time.perf_counter()
    device.build(directory=build_dir, compile=True, run=False, with_output=False)
    t2 = time.perf_counter()
    device.run(directory=build_dir, with_output=False)
    t3 = time.perf_counter()

    binary_wall = float(device.timers.get("run_binary", t3 - t2))
    import resource
    # The whole Brian2 workflow: this Python process (code generation) and its children (the C++
    # compiler, ./main). ru_maxrss of RUSAGE_CHILDREN is the largest child's peak.
    rss_python = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    rss_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    sim = float(device._last_run_time)
    tv = nd.parse_time_v(timefile)
    counts = mon.count[:]
    n_syn = int(len(Ce)) + int(len(Ci))
    se, si = int(counts[:ne].sum()), int(counts[ne:].sum())
    # synaptic events: each spike of a presynaptic neuron is delivered to all its targets
    import numpy as np
    out_e = np.bincount(np.asarray(Ce.i[:]), minlength=ne)
    out_i = np.bincount(np.asarray(Ci.i[:]), minlength=ni)
    syn_events = int((counts[:ne] * out_e).sum() + (counts[ne:] * out_i).sum())
    dur = args.duration
    res = dict(
        simulator="brian2-cpp_standalone", version=brian2.__version__, model=args.model,
        neurons=args.n, ne=ne, ni=ni, p=p, synapses=n_syn, synaptic_events=syn_events,
        duration_s=dur, dt_ms=nd.DT_MS, delay_ms=nd.DELAY_MS, seed=args.seed, threads=args.threads,
        omp_wait_policy=os.environ.get("OMP_WAIT_POLICY", "default"),
        codegen_seconds=t1 - t0, compile_seconds=t2 - t1, binary_seconds=binary_wall,
        simulate_seconds=sim, build_seconds=binary_wall - sim,
        realtime_factor=sim / dur, wall_total_seconds=t3 - t0,
        peak_rss_bytes=tv.get("peak_rss_bytes"), time_v=tv,
        peak_rss_bytes_python=rss_python, peak_rss_bytes_children=rss_children,
        peak_rss_bytes_workflow=max(rss_python, rss_children),
        spikes=se + si,
        populations=dict(
            exc=dict(neurons=ne, spikes=se, mean_rate_hz=se / (ne * dur)),
            inh=dict(neurons=ni, spikes=si, mean_rate_hz=si / (ni * dur)),
        ),
        mean_rate_hz=(se + si) / (args.n * dur),
        loadavg=nd.loadavg(), cpu=nd.cpu_model(),
    )
    for pop, m in prm.items():
        r = np.asarray(m.rate[:])  # Hz, one value per time step
        steps = int(round(1.0 / (nd.DT_MS * 1e-3)))  # steps per second
        res["populations"][pop]["window_rates_hz"] = {
            f"{w:g}": float(r[: int(round(w * steps))].mean()) for w in args.rate_window if w <= dur}
    nd.write_json(args.out, res)
    print(f"brian2 {args.model} N={args.n} T={args.threads} seed={args.seed}: compile {t2 - t1:.1f}s "
          f"build {binary_wall - sim:.2f}s sim {sim:.2f}s rates exc {res['populations']['exc']['mean_rate_hz']:.2f} "
          f"inh {res['populations']['inh']['mean_rate_hz']:.2f} Hz rss {(tv.get('peak_rss_bytes') or 0) / 2**20:.0f} MiB")
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
