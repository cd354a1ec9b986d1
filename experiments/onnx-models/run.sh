#!/usr/bin/env bash
# ONNX import and residual/VGG conversion benchmark (issue 12): two PyTorch-trained Fashion-MNIST nets
# (a ResNet-style net: BN, 3x3 convs, strided downsampling, global average pooling, 3 residual blocks;
# a VGG-style net with max pooling), exported by both PyTorch exporters, imported by neuromorph,
# evaluated (ANN accuracy against PyTorch, image by image), converted and compared with SpikingJelly
# 2.0's ann2snn on the same weights: accuracy at T = 8..128, images/s at T_max on 1 and 2 threads.
# Writes RESULTS.md beside this file; everything else goes to work/ (git-ignored).
#   bash experiments/onnx-models/run.sh
#   EPOCHS=1 LIMIT=200 TIMING_LIMIT=100 bash experiments/onnx-models/run.sh      # smoke test
# Environment (defaults): EPOCHS=3 LIMIT=2000 (test images of the SNN accuracy runs, both frameworks)
#   TIMING_LIMIT=500 TS=8,16,32,64,128 CAL=1000 THREADS_LIST="1 2" NETS="resnet vgg"
#   NEUROMORPH (a release binary to use instead of building one)
#   PHASES="accuracy timing" (e.g. PHASES=accuracy NETS=resnet while the other net still trains; the
#   report needs both phases of both nets)
# Needs: bash scripts/setup.sh (Fashion-MNIST) and pyenv's Python 3.11.7 (torch 2.13.0+cpu wheel).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
EPOCHS="${EPOCHS:-3}"
LIMIT="${LIMIT:-2000}"
TIMING_LIMIT="${TIMING_LIMIT:-500}"
TS="${TS:-8,16,32,64,128}"
CAL="${CAL:-1000}"
THREADS_LIST="${THREADS_LIST:-1 2}"
NETS="${NETS:-resnet vgg}"
PHASES="${PHASES:-accuracy timing}"
TMAX="${TS##*,}"
PY="${PYTHON:-/root/.pyenv/versions/3.11.7/bin/python3}"
WORK="$HERE/work"
VENV="$HERE/.venv"
export TQDM_DISABLE=1 PYTHONWARNINGS=ignore
mkdir -p "$WORK"

# 1. Python side (idempotent): torch pinned to the CPU build, also as a constraint for spikingjelly.
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
if ! "$VENV/bin/python" - <<'EOF' 2>/dev/null
from importlib.metadata import version
assert version("torch") == "2.13.0+cpu" and version("spikingjelly") == "2.0.0"
import onnx, onnxscript, numpy
EOF
then
    "$VENV/bin/pip" install -q "torch==2.13.0+cpu" numpy onnx onnxscript
    "$VENV/bin/pip" install -q -c <(echo "torch==2.13.0+cpu") "spikingjelly==2.0.0"
fi
VPY="$VENV/bin/python"

# 2. Train and export (reused when the epochs match).
for net in $NETS; do
    if [ "$(cat "$WORK/$net/.stamp" 2>/dev/null)" != "epochs=$EPOCHS" ]; then
        "$VPY" "$HERE/train_export.py" "$WORK" --epochs "$EPOCHS" --nets "$net" 2>&1 | grep -v -i warn | grep -v "torch.onnx\]" || true
        echo "epochs=$EPOCHS" > "$WORK/$net/.stamp"
    fi
done

# 3. neuromorph in release, own scratch folder (NEUROMORPH=path/to/neuromorph uses that binary instead).
if [ -n "${NEUROMORPH:-}" ]; then
    NM="$NEUROMORPH"
else
    (cd "$ROOT" && swift build -c release --product neuromorph --scratch-path .build-onnxbench 2>&1 | tail -1)
    NM="$ROOT/.build-onnxbench/release/neuromorph"
fi
{
    echo "model: $(lscpu | sed -n 's/^Model name: *//p')"
    echo "cores: $(nproc)"
    echo "commit: $(cd "$ROOT" && git rev-parse HEAD)"
    echo "settings: epochs=$EPOCHS calibration=$CAL snn accuracy images=$LIMIT timing images=$TIMING_LIMIT timesteps=$TS"
} > "$WORK/machine.txt"

for net in $NETS; do
    D="$WORK/$net"
    if [[ " $PHASES " == *" accuracy "* ]]; then
    # 4. Import both exports; ANN accuracy on all 10,000 test images, image by image against PyTorch.
    for ex in torchscript dynamo; do
        rm -rf "$D/nm-$ex"
        "$NM" import "$D/$ex.onnx" --out "$D/nm-$ex" --mean 0.2860 --std 0.3530 > "$D/import-$ex.log"
        "$NM" eval "$D/nm-$ex" --threads 2 --json "$D/eval-$ex.json" --predictions "$D/pred-$ex.npy" --force > /dev/null
    done
    # 5. Conversion and SNN accuracy (the dynamo export; LIMIT test images), then SpikingJelly's.
    rm -rf "$D/nm-compare" "$D/nm-snn"
    "$NM" compare "$D/nm-dynamo" --timesteps "$TS" --limit "$LIMIT" --calibration "$CAL" --threads 2 --out "$D/nm-compare" > "$D/nm-compare.log"
    "$NM" convert "$D/nm-dynamo" --out "$D/nm-snn" --calibration "$CAL" --threads 2 > /dev/null
    "$VPY" "$HERE/sj_nets.py" accuracy "$D" --limit "$LIMIT" --timesteps "$TS" --calibration "$CAL" --threads 2 --out "$D/sj-accuracy.json" 2>> "$WORK/sj.log"
    fi
    [[ " $PHASES " == *" timing "* ]] || continue
    # 6. Timing at T_max, alternating frameworks, on 1 and 2 threads (the same TIMING_LIMIT images).
    for th in $THREADS_LIST; do
        rm -rf "$D/nm-time-t$th"
        echo "$(uptime)" > "$D/load-t$th.txt"
        "$NM" compare "$D/nm-dynamo" "$D/nm-snn" --timesteps "$TMAX" --limit "$TIMING_LIMIT" --threads "$th" --out "$D/nm-time-t$th" > /dev/null
        "$VPY" "$HERE/sj_nets.py" timing "$D" --limit "$TIMING_LIMIT" --timesteps "$TMAX" --calibration "$CAL" --threads "$th" \
            --out "$D/sj-time-t$th.json" 2>> "$WORK/sj.log"
        echo "$(uptime)" >> "$D/load-t$th.txt"
    done
done

# 7. Report (when every part is there).
[ -f "$WORK/resnet/sj-time-t${THREADS_LIST##* }.json" ] && [ -f "$WORK/vgg/sj-time-t${THREADS_LIST##* }.json" ] || exit 0
THREADS_LIST="$THREADS_LIST" "$VPY" "$HERE/report.py" "$WORK" > "$HERE/RESULTS.md.tmp"
mv "$HERE/RESULTS.md.tmp" "$HERE/RESULTS.md"
echo "wrote $HERE/RESULTS.md"
