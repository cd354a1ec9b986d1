#!/usr/bin/env bash
# The Poisson-input kernel alone, on every vector path this CPU has (issue 14): kernel.c linked with the
# engine objects of the release build (swift build -c release first), run on a saved network of run.py.
#   bash experiments/poisson-input/kernel.sh [NET.nmnet] [STEPS] [REPS]
# Default network: work/brunel_drive.nmnet (written by run.py); 1000 steps, best of 5.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
B="$ROOT/.build/release"
NET="${1:-$HERE/work/brunel_drive.nmnet}"
STEPS="${2:-1000}"
REPS="${3:-5}"
[ -d "$B/CEngine.build" ] || { echo "kernel.sh: no release build in $B (run: swift build -c release)"; exit 1; }
[ -f "$NET" ] || { echo "kernel.sh: $NET does not exist (run: python3 $HERE/run.py, which saves it in work/)"; exit 1; }
OUT="$HERE/work/kernel"
mkdir -p "$HERE/work"
FLAGS="-O3 -ffp-contract=off -fopenmp -I$ROOT/Sources/CEngine/include -I$ROOT/Sources/CCore/include -I$ROOT/Sources/CEngine"
# libomp as Package.swift finds it: the /usr/lib/llvm-*/lib that has libomp.so (libomp-dev)
OMPLIB="$(ls -d /usr/lib/llvm-*/lib 2>/dev/null | while read -r d; do [ -f "$d/libomp.so" ] && echo "$d"; done | sort -V | tail -1)"
[ -n "$OMPLIB" ] || { echo "kernel.sh: no /usr/lib/llvm-*/lib/libomp.so (install libomp-dev: bash scripts/setup.sh)"; exit 1; }
# shellcheck disable=SC2046
clang $FLAGS -o "$OUT" "$HERE/kernel.c" $(ls "$B"/CEngine.build/*.o "$B"/CEngine.build/models/*.o "$B"/CCore.build/*.o) \
    -L"$OMPLIB" -Wl,-rpath,"$OMPLIB" -lomp -lgsl -lgslcblas -lm -lz
FL="$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)"
PATHS="baseline"
[[ " $FL " == *" avx2 "* && " $FL " == *" fma "* ]] && PATHS="$PATHS avx2"
[[ " $FL " == *" avx512f "* ]] && PATHS="$PATHS avx512"
echo "$(lscpu | sed -n 's/^Model name: *//p'), $(uptime)"
for p in $PATHS; do printf '%-9s ' "$p"; NM_ISA="$p" "$OUT" "$NET" "$STEPS" "$REPS"; done
