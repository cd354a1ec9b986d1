#!/usr/bin/env bash
# QCFS-trained vs ReLU-trained Fashion-MNIST CNN (configs/fmnist-cnn.yaml and fmnist-cnn-qcfs.yaml):
# trains both per seed, compares ANN and converted SNN on the test set at small T under every energy
# profile, and writes RESULTS.md (report.py). Settings (environment):
#   EPOCHS (5)  SEEDS ("1 2 3")  TS (1,2,4,8,16,32,64)  LIMIT (all test images)  THREADS (2)
#   BIN (.build/release/neuromorph; built when missing)  RESULTS (experiments/qcfs/RESULTS.md)
#   QCFS_CONFIG (configs/fmnist-cnn-qcfs.yaml)  TAG (run name suffix, for variants of the QCFS config)
#   SJ_PY (a Python with torch + spikingjelly 2.0, e.g. the conversion-bench .venv's; unset: skip) and
#   SJ_TS (1,2,4,8)
#   FOLD (1: also compare every model with --avgpool fold, into work/compare-fold-*): SpikingJelly's ann2snn conversion of each ReLU net (experiments/conversion-bench/sj_bench.py)
set -euo pipefail
cd "$(dirname "$0")/../.."
EPOCHS=${EPOCHS:-5}
SEEDS=${SEEDS:-"1 2 3"}
TS=${TS:-1,2,4,8,16,32,64}
THREADS=${THREADS:-2}
BIN=${BIN:-.build/release/neuromorph}
RESULTS=${RESULTS:-experiments/qcfs/RESULTS.md}
WORK=experiments/qcfs/work
QCFS_CONFIG=${QCFS_CONFIG:-configs/fmnist-cnn-qcfs.yaml}
TAG=${TAG:-}
COMMIT=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources configs || echo "+uncommitted")
mkdir -p "$WORK"
[ -x "$BIN" ] || swift build -c release
LIM=()
[ -n "${LIMIT:-}" ] && LIM=(--limit "$LIMIT")
for seed in $SEEDS; do
  for kind in relu qcfs; do
    cfg=configs/fmnist-cnn.yaml
    [ "$kind" = qcfs ] && cfg=$QCFS_CONFIG
    name=$kind
    [ "$kind" = qcfs ] && name=$kind$TAG
    model="$WORK/$name-e$EPOCHS-s$seed"
    if [ ! -f "$model/model.safetensors" ]; then
      "$BIN" train "$cfg" --out "$model" --epochs "$EPOCHS" --seed "$seed" --threads "$THREADS" --force
    fi
    if [ "$kind" = relu ] && [ -n "${SJ_PY:-}" ] && [ ! -f "$WORK/sj-$name-e$EPOCHS-s$seed.json" ]; then
      "$SJ_PY" experiments/conversion-bench/sj_bench.py accuracy "$model" --calibration 1000 --timesteps "${SJ_TS:-1,2,4,8}" \
        --threads "$THREADS" --out "$WORK/sj-$name-e$EPOCHS-s$seed.json"
    fi
    "$BIN" compare "$model" --timesteps "$TS" "${LIM[@]}" --threads "$THREADS" --out "$WORK/compare-$(basename "$model")" --force
    if [ "${FOLD:-0}" = 1 ]; then
      "$BIN" compare "$model" --avgpool fold --timesteps "$TS" "${LIM[@]}" --threads "$THREADS" --out "$WORK/compare-fold-$(basename "$model")" --force
    fi
  done
done
python3 experiments/qcfs/report.py "$WORK" "$EPOCHS" "$SEEDS" "$COMMIT" "$TAG" "$QCFS_CONFIG" > "$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
echo "wrote $RESULTS"
