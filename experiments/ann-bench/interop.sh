#!/usr/bin/env bash
# Weights both ways between neuromorph and PyTorch (see interop.py). Writes INTEROP.md.
#   bash experiments/ann-bench/interop.sh
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SCRATCH="${SCRATCH:-$ROOT/.build}"
PY="${PYTHON:-/root/.pyenv/versions/3.11.7/bin/python3}"
[ -x "$HERE/.venv/bin/python" ] || "$PY" -m venv "$HERE/.venv"
"$HERE/.venv/bin/pip" install -q "torch==2.13.0+cpu" "safetensors==0.8.0" numpy
(cd "$ROOT" && swift build -c release --scratch-path "$SCRATCH" 2>&1 | tail -1)
NM="$SCRATCH/release/neuromorph"
mkdir -p "$HERE/work"
"$NM" train "$ROOT/configs/fmnist-cnn-bn.yaml" --out "$HERE/work/interop-nm-cnn-bn" --force --epochs 1 --threads 2 > /dev/null 2>&1
{
    echo "# Weights between neuromorph and PyTorch (safetensors)"
    echo
    echo "Command: \`bash experiments/ann-bench/interop.sh\`. neuromorph trains configs/fmnist-cnn-bn.yaml (BatchNorm,"
    echo "so running statistics and num_batches_tracked travel too) for 1 epoch; PyTorch trains the CNN for 1 epoch."
    echo
    echo '```'
    "$HERE/.venv/bin/python" "$HERE/interop.py" "$NM" "$HERE/work/interop-nm-cnn-bn" "$HERE/work/interop"
    echo '```'
} | tee "$HERE/INTEROP.md"
