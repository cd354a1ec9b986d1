#!/usr/bin/env bash
# QCFS-trained vs ReLU-trained Fashion-MNIST CNN: trains per seed configs/fmnist-cnn.yaml (relu),
# configs/fmnist-cnn-qcfs.yaml (qcfs: QCFS after every conv/dense and after each average pooling) and
# experiments/qcfs/fmnist-cnn-qcfs-nopool.yaml (qcfs-nopool: no QCFS after the pooling), compares ANN
# and converted SNN on the test set at small T under every energy profile, and writes RESULTS.md
# (report.py). A model in work/ is reused when its saved config.yaml equals the config (comments
# aside); compares always rerun. Settings (environment):
#   EPOCHS (5)  SEEDS ("1 2 3")  TS (1,2,4,8,16,32,64)  LIMIT (all test images)  THREADS (2)
#   BIN (.build/release/neuromorph; built when missing)  RESULTS (experiments/qcfs/RESULTS.md)
#   QCFS_CONFIG (configs/fmnist-cnn-qcfs.yaml)  TAG (run name suffix, for variants of the QCFS config)
#   KINDS ("relu qcfs qcfs-nopool")
#   SJ_PY (a Python with torch + spikingjelly 2.0, e.g. the conversion-bench .venv's; unset: skip):
#     SpikingJelly's ann2snn conversion of each ReLU net (experiments/conversion-bench/sj_bench.py)
#   SJ_TS (1,2,4,8)
#   FOLD (1: also compare relu and qcfs-nopool with --avgpool fold, into work/compare-fold-*; the
#     qcfs models have a QCFS after the pooling, which folding would drop: refused)
#   RESNET (1: also train configs/fmnist-resnet.yaml, fmnist-resnet-qcfs.yaml and
#     experiments/qcfs/fmnist-resnet-qcfs-nogap.yaml (no QCFS after the global pooling) for RES_EPOCHS (6)
#     with seed RES_SEED (1) and compare them at RES_TS (4,8,16,32,64): the residual section)
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
KINDS=${KINDS:-"relu qcfs qcfs-nopool"}
# same config, comments aside
same_config() { cmp -s <(grep -v '^ *#' "$1") <(grep -v '^ *#' "$2"); }
for seed in $SEEDS; do
  for kind in $KINDS; do
    case $kind in
      relu) cfg=configs/fmnist-cnn.yaml; name=relu ;;
      qcfs) cfg=$QCFS_CONFIG; name=qcfs$TAG ;;
      qcfs-nopool) cfg=experiments/qcfs/fmnist-cnn-qcfs-nopool.yaml; name=qcfs-nopool ;;
      *) echo "run.sh: unknown kind '$kind' in KINDS (expected relu, qcfs, qcfs-nopool)" >&2; exit 2 ;;
    esac
    model="$WORK/$name-e$EPOCHS-s$seed"
    if [ ! -f "$model/model.safetensors" ] || [ ! -f "$model/config.yaml" ] || ! same_config "$model/config.yaml" "$cfg"; then
      "$BIN" train "$cfg" --out "$model" --epochs "$EPOCHS" --seed "$seed" --threads "$THREADS" --force
      cp "$cfg" "$model/config.yaml"
    fi
    if [ "$kind" = relu ] && [ -n "${SJ_PY:-}" ] && [ ! -f "$WORK/sj-$name-e$EPOCHS-s$seed.json" ]; then
      "$SJ_PY" experiments/conversion-bench/sj_bench.py accuracy "$model" --calibration 1000 --timesteps "${SJ_TS:-1,2,4,8}" \
        --threads "$THREADS" --out "$WORK/sj-$name-e$EPOCHS-s$seed.json"
    fi
    "$BIN" compare "$model" --timesteps "$TS" "${LIM[@]}" --threads "$THREADS" --out "$WORK/compare-$(basename "$model")" --force
    if [ "${FOLD:-0}" = 1 ] && [ "$kind" != qcfs ]; then
      "$BIN" compare "$model" --avgpool fold --timesteps "$TS" "${LIM[@]}" --threads "$THREADS" --out "$WORK/compare-fold-$(basename "$model")" --force
    fi
  done
done
if [ "${RESNET:-0}" = 1 ]; then
  for kind in resnet resnet-qcfs resnet-qcfs-nogap; do
    cfg=configs/fmnist-$kind.yaml
    [ "$kind" = resnet-qcfs-nogap ] && cfg=experiments/qcfs/fmnist-resnet-qcfs-nogap.yaml
    model="$WORK/$kind-e${RES_EPOCHS:-6}-s${RES_SEED:-1}"
    if [ ! -f "$model/model.safetensors" ] || [ ! -f "$model/config.yaml" ] || ! same_config "$model/config.yaml" "$cfg"; then
      "$BIN" train "$cfg" --out "$model" --epochs "${RES_EPOCHS:-6}" --seed "${RES_SEED:-1}" --threads "$THREADS" --force
      cp "$cfg" "$model/config.yaml"
    fi
    "$BIN" compare "$model" --timesteps "${RES_TS:-4,8,16,32,64}" "${LIM[@]}" --threads "$THREADS" --out "$WORK/compare-$(basename "$model")" --force
  done
fi
RES_EPOCHS=${RES_EPOCHS:-6} RES_SEED=${RES_SEED:-1} python3 experiments/qcfs/report.py "$WORK" "$EPOCHS" "$SEEDS" "$COMMIT" "$TAG" "$QCFS_CONFIG" > "$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
echo "wrote $RESULTS"
