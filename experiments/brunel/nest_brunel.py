#!/usr/bin/env python
"""One NEST 3.10 run of Brunel's model A (brunel_params.py): writes a JSON with the parameters, timings,
and the statistics of brunel_stats.py (exc/inh rate, CV(ISI), oscillation period) over the window.
usage: nest_brunel.py --seed S [--order 1250] [--epsilon 0.2] [--duration 1200] [--warmup 200] [--threads 1]
                      [--spikes spikes.npz] --out result.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import brunel_params as bp  # noqa: E402
import brunel_stats as bs  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--order", type=int, default=bp.ORDER)
    ap.add_argument("--epsilon", type=float, default=bp.EPSILON)
    ap.add_argument("--spikes", default=None, help="also save the spikes (ms, 0-based ids) to this .npz")
    ap.add_argument("--duration", type=float, default=bp.DURATION_MS, help="simulated ms")
    ap.add_argument("--warmup", type=float, default=bp.WARMUP_MS, help="ms left out of the statistics")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    if not 0 <= a.warmup < a.duration:
        ap.error("--warmup must be in [0, --duration)")

    import nest
    try:
        nest.verbosity = nest.VerbosityLevel.WARNING
    except AttributeError:
        nest.set_verbosity("M_WARNING")
    d = bp.derived(a.order, a.epsilon)
    t0 = time.perf_counter()
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": bp.DT_MS, "rng_seed": a.seed, "local_num_threads": a.threads,
                          "print_time": False})
    nest.SetDefaults("iaf_psc_delta", bp.NEURON)
    nodes_ex = nest.Create("iaf_psc_delta", d["n_exc"])
    nodes_in = nest.Create("iaf_psc_delta", d["n_inh"])
    noise = nest.Create("poisson_generator", params={"rate": d["poisson_rate_hz"]})
    esr = nest.Create("spike_recorder")
    isr = nest.Create("spike_recorder")
    nest.CopyModel("static_synapse", "excitatory", {"weight": d["j_exc_mV"], "delay": bp.DELAY_MS})
    nest.CopyModel("static_synapse", "inhibitory", {"weight": d["j_inh_mV"], "delay": bp.DELAY_MS})
    nest.Connect(noise, nodes_ex, syn_spec="excitatory")
    nest.Connect(noise, nodes_in, syn_spec="excitatory")
    nest.Connect(nodes_ex, esr)
    nest.Connect(nodes_in, isr)
    nest.Connect(nodes_ex, nodes_ex + nodes_in, {"rule": "fixed_indegree", "indegree": d["c_exc"]}, "excitatory")
    nest.Connect(nodes_in, nodes_ex + nodes_in, {"rule": "fixed_indegree", "indegree": d["c_inh"]}, "inhibitory")
    t1 = time.perf_counter()
    nest.Simulate(a.duration)
    t2 = time.perf_counter()
    first_e, first_i = nodes_ex[0].global_id, nodes_in[0].global_id
    ee, ie = esr.get("events"), isr.get("events")
    exc = (np.asarray(ee["times"], float), np.asarray(ee["senders"], int) - first_e)
    inh = (np.asarray(ie["times"], float), np.asarray(ie["senders"], int) - first_i)
    if a.spikes:
        np.savez_compressed(a.spikes, exc_t_ms=exc[0], exc_i=exc[1], inh_t_ms=inh[0], inh_i=inh[1])
    stats = bs.summarize(exc, inh, d["n_exc"], d["n_inh"], a.warmup, a.duration)
    import importlib.metadata as im
    res = dict(simulator="NEST", version=im.version("nest-simulator"), seed=a.seed, threads=a.threads,
               duration_ms=a.duration, params=d, build_seconds=t1 - t0, simulate_seconds=t2 - t1,
               synapses=nest.num_connections, **stats)
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(res, f, indent=1)
    os.replace(tmp, a.out)
    print(json.dumps({k: res[k] for k in ("seed", "exc_rate_hz", "inh_rate_hz", "exc_cv_isi", "oscillation_period_ms",
                                          "oscillation_autocorrelation", "simulate_seconds")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
