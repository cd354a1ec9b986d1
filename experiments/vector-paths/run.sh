#!/usr/bin/env bash
# Vector-path benchmark (see run.py and README "Engine"):
#   bash experiments/vector-paths/run.sh [--ref DIR] [--model DIR] [--reps N]   everything (builds the release binaries if missing)
#   bash experiments/vector-paths/run.sh candidates-only                        ext vectors vs `#pragma omp simd` only
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
if [ "${1:-}" = candidates-only ]; then
    CLANG="$(dirname "$(readlink -f "$(command -v swift)")")/clang"
    OMPLIB="$(dirname "$(ls -v /usr/lib/llvm-*/lib/libomp.so | tail -1)")"
    OMPINC="$(ls -dv "$OMPLIB"/clang/*/include | tail -1)"
    BIN="$(mktemp -d)/candidates"
    "$CLANG" -O3 -ffp-contract=off -fopenmp -idirafter "$OMPINC" -I"$ROOT/Sources/CEngine/include" -I"$ROOT/Sources/CCore/include" \
        -Wall -Wno-psabi -Wno-unknown-pragmas "$HERE/candidates.c" "$ROOT/Sources/CCore/nm_isa.c" "$ROOT/Sources/CCore/common.c" \
        -L"$OMPLIB" -Wl,-rpath,"$OMPLIB" -lomp -lgsl -lm -o "$BIN"
    "$BIN" 7
    if command -v valgrind > /dev/null; then   # instructions per neuron-step on the paths valgrind runs (no AVX-512)
        for p in avx2 baseline; do
            valgrind --tool=callgrind --callgrind-out-file="$BIN.cg.$p" "$BIN" 1 "$p" > /dev/null 2>&1
            callgrind_annotate "$BIN.cg.$p" | grep -E "cond_simd__|upd_cond_exp__" | \
                awk -v p="$p" '{gsub(",", "", $1); printf "callgrind %-8s %-22s %6.2f instructions per neuron-step\n", p, $NF == "" ? $2 : $0 ~ /cond_simd/ ? "omp simd" : "ext", $1 / (4000 * 2000)}'
        done
    fi
    exit 0
fi
[ -x "$ROOT/.build/release/neuromorph-run" ] || (cd "$ROOT" && swift build -c release)
exec python3 "$HERE/run.py" "$@"
