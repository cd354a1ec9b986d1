#!/usr/bin/env bash
# OpenBLAS's own threads vs neuromorph's OpenMP partition of single-threaded sgemm calls: speed and
# bit-identity between 1 and 2 threads. Writes GEMM_THREADS.md.   bash experiments/ann-bench/gemm_threads.sh
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OMPINC=$(ls -d /usr/lib/llvm-*/lib/clang/*/include 2>/dev/null | while read d; do [ -f "$d/omp.h" ] && echo "$d"; done | sort -V | tail -1)
OMPLIB=$(dirname "$(dirname "$(dirname "$OMPINC")")")
CC="$(dirname "$(readlink -f "$(command -v swift)")")/clang"
mkdir -p "$HERE/work"
"$CC" -O3 -march=native -fopenmp -idirafter "$OMPINC" -I "$ROOT/Sources/CANN/include" -I "$ROOT/Sources/CCore/include" \
    "$HERE/gemm_threads.c" "$ROOT/Sources/CANN/ann.c" "$ROOT/Sources/CCore/common.c" \
    -L "$OMPLIB" -lomp -lopenblas -lgsl -lm -Wl,-rpath,"$OMPLIB" -o "$HERE/work/gemm_threads"
{
    echo "# GEMM threads: OpenBLAS's pool vs neuromorph's OpenMP partition"
    echo
    echo "Command: \`bash experiments/ann-bench/gemm_threads.sh\` (C = A·Bᵀ, best of 7 x 20 calls). Machine: $(uptime)"
    echo
    KMP_BLOCKTIME="${KMP_BLOCKTIME:-1}" "$HERE/work/gemm_threads"   # neuromorph's default block time
} | tee "$HERE/GEMM_THREADS.md"
