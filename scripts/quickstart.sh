#!/usr/bin/env bash
# neuromorph's main job on a default, end to end:
#   1. installs missing system packages (scripts/setup.sh) and builds the release binary,
#   2. trains the Fashion-MNIST CNN (configs/fmnist-cnn.yaml) for a short budget,
#   3. converts it to a spiking network of IF neurons,
#   4. compares ANN and SNN on the 10,000 test images at T = 8..128 and prints the table,
#   5. simulates the COBA benchmark network (configs/coba.yaml) for 1 s.
# Environment: EPOCHS (default 2), OUT (default runs/quickstart), LIMIT (test images, default all).
# Run again, it replaces its own earlier outputs (--force); it never replaces folders it did not write.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "quickstart: building neuromorph and neuromorph-run (release)"
swift build -c release 2>&1 | tail -1
NM=.build/release/neuromorph
OUT=${OUT:-runs/quickstart}
EPOCHS=${EPOCHS:-2}
LIMIT_ARGS=()
if [ -n "${LIMIT:-}" ]; then LIMIT_ARGS=(--limit "$LIMIT"); fi
mkdir -p "$OUT"
echo; echo "== 1/4 train the Fashion-MNIST CNN ($EPOCHS epochs)"
"$NM" train configs/fmnist-cnn.yaml --out "$OUT/cnn" --epochs "$EPOCHS" --force
echo; echo "== 2/4 convert it to a spiking network"
"$NM" convert "$OUT/cnn" --out "$OUT/cnn-snn" --force
echo; echo "== 3/4 compare ANN and SNN (accuracy vs time steps, spikes, SOPs vs MACs, energy)"
"$NM" compare "$OUT/cnn" "$OUT/cnn-snn" --timesteps 8,16,32,64,128 --out "$OUT/compare" --force "${LIMIT_ARGS[@]}"
echo; echo "== 4/4 simulate the COBA network (Brette et al. 2007 benchmark 1)"
"$NM" simulate configs/coba.yaml --out "$OUT/coba" --force
echo
echo "Done. Read $OUT/compare/report.md (plots: $OUT/compare/*.svg) and $OUT/coba/summary.json (raster: $OUT/coba/raster.svg)."
