#!/usr/bin/env bash
# How OpenMP's idle-wait policy changes training speed: with the machine as it is, and with one extra
# busy process (a shell spin loop) competing for the 2 cores. Writes OMP_POLICY.md.
#   neuromorph (libomp): KMP_BLOCKTIME = 0 (sleep at once; neuromorph's ANN default), 1 (the SNN
#                        default), 200 (libomp's default)
#   PyTorch (its libgomp): OMP_WAIT_POLICY = PASSIVE, default
# Each cell: median of REPS runs (interleaved across settings), 1 epoch over the first N training images.
#   bash experiments/ann-bench/omp_policy.sh        # N=10000 REPS=3
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SCRATCH="${SCRATCH:-$ROOT/.build}"
NM="$SCRATCH/release/neuromorph"
PYV="$HERE/.venv/bin/python"
[ -x "$NM" ] && [ -x "$PYV" ] || { echo "run experiments/ann-bench/run.sh first (builds neuromorph, creates the venv)" >&2; exit 1; }
WORK="$HERE/work/omp"
mkdir -p "$WORK"
N="${N:-10000}"
REPS="${REPS:-3}"
: > "$WORK/rates.txt"

nm_rate() { # net threads blocktime
    KMP_BLOCKTIME=$3 "$NM" train "$ROOT/configs/fmnist-$1.yaml" --out "$WORK/nm" --force --epochs 1 --threads "$2" --limit-train "$N" --limit-test 500 >/dev/null 2>&1
    "$PYV" -c "import json; print(round(json.load(open('$WORK/nm/metrics.json'))['epochs'][-1]['samples_per_second']))"
}
pt_rate() { # net threads policy
    local envs=(); [ "$3" = default ] || envs=(OMP_WAIT_POLICY=$3)
    env "${envs[@]}" timeout 300 "$PYV" "$HERE/torch_train.py" "$1" 1 "$2" 1 --limit-train "$N" \
        | "$PYV" -c "import json,sys; l=sys.stdin.readline(); print(round(json.loads(l)['samples_per_second']) if l else 0)"
}
SPIN=""
spin_start() { ( end=$((SECONDS + 900)); while [ $SECONDS -lt $end ]; do :; done ) & SPIN=$!; }
spin_stop() { if [ -n "$SPIN" ]; then kill "$SPIN" 2>/dev/null || true; wait "$SPIN" 2>/dev/null || true; SPIN=""; fi; return 0; }
trap spin_stop EXIT

before="$(uptime)"
for rep in $(seq 1 "$REPS"); do
    for busy in 0 1; do
        if [ "$busy" = 1 ]; then spin_start; fi
        for net in mlp cnn; do
            for t in 1 2; do
                for bt in 0 1 200; do
                    [ "$t" = 1 ] && [ "$bt" != 0 ] && continue   # one thread: no idle workers
                    echo "neuromorph $net KMP_BLOCKTIME=$bt $t $busy $(nm_rate $net $t $bt)" >> "$WORK/rates.txt"
                done
                for pol in PASSIVE default; do
                    [ "$t" = 1 ] && [ "$pol" != default ] && continue
                    echo "pytorch $net OMP_WAIT_POLICY=$pol $t $busy $(pt_rate $net $t $pol)" >> "$WORK/rates.txt"
                done
            done
        done
        spin_stop
    done
    echo "rep $rep done ($(uptime | sed 's/.*load/load/'))" >&2
done

"$PYV" - "$WORK/rates.txt" "$before" "$(uptime)" "$N" "$REPS" > "$HERE/OMP_POLICY.md" <<'PYEOF'
import collections, statistics, sys
cells = collections.defaultdict(list)
for line in open(sys.argv[1]):
    fw, net, setting, t, busy, rate = line.split()
    cells[(fw, net, setting, t, busy)].append(int(rate))
print("# OpenMP wait policy and training throughput (samples/s)\n")
print(f"Command: `bash experiments/ann-bench/omp_policy.sh` (N={sys.argv[4]} REPS={sys.argv[5]}). 1 epoch over the first "
      f"{sys.argv[4]} Fashion-MNIST training images, batch 64, Adam; median of {sys.argv[5]} interleaved runs per cell. "
      "\"+1 busy\": a shell spin loop competes for the 2 cores. The machine is shared with other sessions, so the "
      "\"as is\" columns already include their load:\n")
print(f"- before: {sys.argv[2]}\n- after: {sys.argv[3]}\n")
print("| framework | net | setting | 1 thread, as is | 2 threads, as is | 1 thread, +1 busy | 2 threads, +1 busy |")
print("|---|---|---|---:|---:|---:|---:|")
def m(k):
    v = cells.get(k)
    return f"{statistics.median(v):,.0f}" if v else "-"
for net in ("mlp", "cnn"):
    for fw, settings in (("neuromorph", ("KMP_BLOCKTIME=0", "KMP_BLOCKTIME=1", "KMP_BLOCKTIME=200")),
                         ("pytorch", ("OMP_WAIT_POLICY=PASSIVE", "OMP_WAIT_POLICY=default"))):
        one = "KMP_BLOCKTIME=0" if fw == "neuromorph" else "OMP_WAIT_POLICY=default"
        for s in settings:
            print(f"| {fw} | {net} | {s} | {m((fw, net, one, '1', '0'))} | {m((fw, net, s, '2', '0'))} | "
                  f"{m((fw, net, one, '1', '1'))} | {m((fw, net, s, '2', '1'))} |")
print("\n(1-thread columns: one run setting per framework, repeated on each row for comparison.)")
PYEOF
cat "$HERE/OMP_POLICY.md"
