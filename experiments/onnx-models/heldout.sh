#!/usr/bin/env bash
# Chooses conversion defaults on TRAINING images, never the test set: builds an IDX folder whose "test"
# split is training images FROM..FROM+N-1 (default 50000..51999; the calibration images are the first
# 1000 of the training set) and runs `neuromorph compare` on the trained models of run.sh with each
# setting given. The potential-correction defaults (README "Conversion") were chosen this way.
#   NEUROMORPH=.build/release/neuromorph bash experiments/onnx-models/heldout.sh resnet \
#       "" "--correction-steps 16" "--correction-steps 64" "--correction-images 200" "--correction-steps 0"
# Environment (defaults): FROM=50000 N=2000 TS=8,16,32,64,128 CAL=1000 THREADS=2
# Needs: run.sh's trained models (work/<net>/nm-dynamo) and Fashion-MNIST (bash scripts/setup.sh).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
NET="${1:?usage: heldout.sh NET [FLAGS ...] (one quoted string of flags per setting)}"; shift
FROM="${FROM:-50000}"; N="${N:-2000}"; TS="${TS:-8,16,32,64,128}"; CAL="${CAL:-1000}"; THREADS="${THREADS:-2}"
NM="${NEUROMORPH:-$ROOT/.build/release/neuromorph}"
DATA="${FMNIST:-/usr/share/datasets/fashion-mnist}"
HELD="$HERE/work/heldout-$FROM-$N"
if [ ! -f "$HELD/t10k-labels-idx1-ubyte.gz" ]; then
    mkdir -p "$HELD.tmp"
    cp "$DATA/train-images-idx3-ubyte.gz" "$DATA/train-labels-idx1-ubyte.gz" "$HELD.tmp/"
    python3 - "$DATA" "$HELD.tmp" "$FROM" "$N" <<'PY'
import gzip, struct, sys
src, dst, a, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ti = gzip.open(f"{src}/train-images-idx3-ubyte.gz").read(); tl = gzip.open(f"{src}/train-labels-idx1-ubyte.gz").read()
assert a + n <= struct.unpack(">I", ti[4:8])[0], "FROM + N exceeds the training set"
h, w = struct.unpack(">II", ti[8:16])
gzip.open(f"{dst}/t10k-images-idx3-ubyte.gz", "wb").write(ti[:4] + struct.pack(">III", n, h, w) + ti[16 + a * h * w:16 + (a + n) * h * w])
gzip.open(f"{dst}/t10k-labels-idx1-ubyte.gz", "wb").write(tl[:4] + struct.pack(">I", n) + tl[8 + a:8 + a + n])
PY
    rm -rf "$HELD"; mv "$HELD.tmp" "$HELD"
fi
[ $# -gt 0 ] || set -- ""
for flags in "$@"; do
    tag="$(echo "default $flags" | tr -c 'A-Za-z0-9.\n' '_')"
    out="$HERE/work/$NET/heldout-$tag"
    rm -rf "$out"
    # shellcheck disable=SC2086
    "$NM" compare "$HERE/work/$NET/nm-dynamo" --data "$HELD" --timesteps "$TS" --limit "$N" --calibration "$CAL" \
        --threads "$THREADS" --out "$out" $flags > "$out.log"
    echo "== $NET, training images $FROM..$((FROM + N - 1)), flags: ${flags:-(defaults)}"
    sed -n '1,/^ *[0-9]* .*%.*$/p' "$out.log" | head -2; grep -E '^ +[0-9]+ +[0-9.]+%' "$out.log"
done
