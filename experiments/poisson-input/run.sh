#!/usr/bin/env bash
# Poisson-input speed benchmark (issue 14), see run.py and README.md here:
#   bash experiments/poisson-input/run.sh [--reps 7] [--paths avx512,avx2,baseline] [--threads 1]
# Builds the release binary if it is missing; writes RESULTS.md here (raw runs in work/, git-ignored).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
[ -x "$ROOT/.build/release/neuromorph" ] || (cd "$ROOT" && swift build -c release)
exec python3 "$HERE/run.py" "$@"
