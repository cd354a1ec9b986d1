#!/usr/bin/env bash
# Runs neuromorph's whole test suite (installs missing system packages first), then the CI budget of
# the fuzz harness on the debug binaries (experiments/fuzz; NM_FUZZ=0 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build --build-tests
swift test --skip-build "$@"
if [ "${NM_FUZZ:-1}" != 0 ]; then
    python3 experiments/fuzz/fuzz.py --self-test 2>/dev/null || { echo "fuzz: the oracle's self-test failed (python3 experiments/fuzz/fuzz.py --self-test)"; exit 1; }
    python3 experiments/fuzz/fuzz.py --budget ci --bin .build/debug --seed 1 --quiet
fi
