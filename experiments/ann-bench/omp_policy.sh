#!/usr/bin/env bash
# How OpenMP's idle-wait policy changes training speed, on a quiet machine and with one competing
# busy process (a shell spin loop) holding a core. Writes OMP_POLICY.md.
#   neuromorph (libomp): KMP_BLOCKTIME = 0 (sleep at once), 1 (neuromorph's default), 200 (libomp's default)
#   PyTorch (its bundled libgomp): OMP_WAIT_POLICY = PASSIVE, default (spins ~ GOMP_SPINCOUNT), ACTIVE
# Each cell: 1 epoch over the first 20,000 training images, 2 threads (and 1 thread for reference).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SCRATCH="${SCRATCH:-$ROOT/.build}"
NM="$SCRATCH/release/neuromorph"
PYV="$HERE/.venv/bin/python"
[ -x "$NM" ] && [ -x "$PYV" ] || { echo "run experiments/ann-bench/run.sh first (builds neuromorph, creates the venv)" >&2; exit 1; }
WORK="$HERE/work/omp"
mkdir -p "$WORK"
N=20000

nm_rate() { # net threads env...
    local net=$1 t=$2; shift 2
    env "$@" "$NM" train "$ROOT/configs/fmnist-$net.yaml" --out "$WORK/nm" --epochs 1 --threads "$t" --limit-train $N --limit-test 1000 >/dev/null 2>&1
    "$PYV" -c "import json; print(round(json.load(open('$WORK/nm/metrics.json'))['epochs'][-1]['samples_per_second']))"
}
pt_rate() { # net threads env...
    local net=$1 t=$2; shift 2
    env "$@" "$PYV" "$HERE/torch_train.py" "$net" 1 "$t" 1 --limit-train $N | "$PYV" -c "import json,sys; print(round(json.loads(sys.stdin.readline())['samples_per_second']))"
}
spin_start() { ( end=$((SECONDS + 600)); while [ $SECONDS -lt $end ]; do :; done ) & SPIN=$!; }
spin_stop() { kill "$SPIN" 2>/dev/null || true; wait "$SPIN" 2>/dev/null || true; }
trap spin_stop EXIT

{
echo "# OpenMP wait policy: effect on training throughput (samples/s)"
echo
echo "Command: \`bash experiments/ann-bench/omp_policy.sh\`. 1 epoch over 20,000 Fashion-MNIST images, batch 64, Adam."
echo "\"+1 busy\" = a shell spin loop holds one of the 2 cores during the run. Machine before: $(uptime)"
echo
echo "| framework | net | setting | 1 thread | 2 threads | 2 threads, +1 busy | 1 thread, +1 busy |"
echo "|---|---|---|---:|---:|---:|---:|"
for net in mlp cnn; do
    for bt in 0 1 200; do
        a=$(nm_rate $net 1 KMP_BLOCKTIME=$bt); b=$(nm_rate $net 2 KMP_BLOCKTIME=$bt)
        spin_start; c=$(nm_rate $net 2 KMP_BLOCKTIME=$bt); d=$(nm_rate $net 1 KMP_BLOCKTIME=$bt); spin_stop
        echo "| neuromorph | $net | KMP_BLOCKTIME=$bt | $a | $b | $c | $d |"
    done
    for pol in PASSIVE default ACTIVE; do
        envs=(); [ "$pol" = default ] || envs=(OMP_WAIT_POLICY=$pol)
        a=$(pt_rate $net 1 "${envs[@]}"); b=$(pt_rate $net 2 "${envs[@]}")
        spin_start; c=$(pt_rate $net 2 "${envs[@]}"); d=$(pt_rate $net 1 "${envs[@]}"); spin_stop
        echo "| pytorch | $net | OMP_WAIT_POLICY=$pol | $a | $b | $c | $d |"
    done
done
echo
echo "Machine after: $(uptime)"
} | tee "$HERE/OMP_POLICY.md"
