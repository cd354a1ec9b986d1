#!/usr/bin/env bash
# neuromorph vs PyTorch (CPU) on Fashion-MNIST: MLP 784-512-256-10 and the CNN of configs/fmnist-cnn.yaml,
# same epochs, batch 64, Adam 1e-3, 2 threads. Writes RESULTS.md (medians of RUNS runs) next to this file.
#   bash experiments/ann-bench/run.sh              # EPOCHS=3 RUNS=3 THREADS=2 PT_POLICIES="default PASSIVE"
#   EPOCHS=1 RUNS=1 bash experiments/ann-bench/run.sh
# Needs: bash scripts/setup.sh (OpenBLAS, libomp, Fashion-MNIST), a Python 3.11 with pip (pyenv's 3.11.7).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
EPOCHS="${EPOCHS:-3}"
RUNS="${RUNS:-3}"
THREADS="${THREADS:-2}"
# PyTorch's default OpenMP wait policy spins; PASSIVE survives a busy machine (see OMP_POLICY.md).
PT_POLICIES="${PT_POLICIES:-default PASSIVE}"
PT_TIMEOUT="${PT_TIMEOUT:-900}"
SCRATCH="${SCRATCH:-$ROOT/.build}"
WORK="$HERE/work"
PY="${PYTHON:-/root/.pyenv/versions/3.11.7/bin/python3}"
mkdir -p "$WORK"

# 1. Python peer in a virtualenv. torch 2.13.0+cpu is the CPU-only build (a bare `pip install torch`
#    pulls 2.15 + CUDA); the wheel on these machines is for CPython 3.11.
if [ ! -x "$HERE/.venv/bin/python" ]; then
    "$PY" -m venv "$HERE/.venv"
fi
"$HERE/.venv/bin/pip" install -q "torch==2.13.0+cpu" "safetensors==0.8.0" numpy

# 2. neuromorph in release.
(cd "$ROOT" && swift build -c release --scratch-path "$SCRATCH" 2>&1 | tail -1)
NM="$SCRATCH/release/neuromorph"

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(uptime)" | tee "$WORK/machine.txt"

# 3. Runs: neuromorph and PyTorch alternate so both see the same background load.
: > "$WORK/results.jsonl"
for net in mlp cnn; do
    for r in $(seq 1 "$RUNS"); do
        out="$WORK/nm-$net-$r"
        rm -rf "$out"
        /usr/bin/time -v "$NM" train "$ROOT/configs/fmnist-$net.yaml" --out "$out" --epochs "$EPOCHS" --threads "$THREADS" --seed "$r" \
            2> "$WORK/nm-$net-$r.log" > /dev/null
        rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/nm-$net-$r.log")
        "$HERE/.venv/bin/python" - "$out/metrics.json" "$net" "$r" "$rss" >> "$WORK/results.jsonl" <<'PYEOF'
import json, sys
m = json.load(open(sys.argv[1]))
for e in m["epochs"]:
    print(json.dumps({"framework": "neuromorph", "net": sys.argv[2], "run": int(sys.argv[3]), "epoch": e["epoch"],
                      "test_accuracy": e["test_accuracy"], "samples_per_second": e["samples_per_second"],
                      "inference_images_per_second": e["inference_images_per_second"], "train_loss": e["train_loss"],
                      "max_rss_kb": int(sys.argv[4])}))
PYEOF
        for pol in $PT_POLICIES; do
            envs=(); label=pytorch
            [ "$pol" = default ] || { envs=(OMP_WAIT_POLICY=$pol); label="pytorch OMP_WAIT_POLICY=$pol"; }
            # A spinning OpenMP pool on a busy machine can run 10-50x slower: cap each run (PT_TIMEOUT s);
            # the report then uses the epochs that finished.
            env "${envs[@]}" /usr/bin/time -v timeout "$PT_TIMEOUT" "$HERE/.venv/bin/python" "$HERE/torch_train.py" "$net" "$EPOCHS" "$THREADS" "$r" \
                > "$WORK/pt-$pol-$net-$r.jsonl" 2> "$WORK/pt-$pol-$net-$r.log" || echo "pytorch $pol $net run $r: stopped after ${PT_TIMEOUT}s"
            rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/pt-$pol-$net-$r.log" | tail -1)
            "$HERE/.venv/bin/python" -c "
import json, sys
for line in open('$WORK/pt-$pol-$net-$r.jsonl'):
    d = json.loads(line); d['run'] = $r; d['max_rss_kb'] = $rss; d['framework'] = '$label'; print(json.dumps(d))" >> "$WORK/results.jsonl"
        done
        echo "$net run $r done ($(uptime | sed 's/.*load/load/'))"
    done
done
echo "after: $(uptime)" >> "$WORK/machine.txt"

# 4. Report.
"$HERE/.venv/bin/python" "$HERE/report.py" "$WORK" "$EPOCHS" "$THREADS" "$RUNS" "$NM" "$PT_POLICIES" > "$HERE/RESULTS.md"
echo "wrote $HERE/RESULTS.md"
