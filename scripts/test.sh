#!/usr/bin/env bash
# Runs neuromorph's whole test suite (installs missing system packages first).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build --build-tests
swift test --skip-build "$@"
