#!/usr/bin/env bash
# Brunel (2000) model A, NEST 3.10 vs neuromorph (when it has lif_delta). One command from anywhere:
#   bash experiments/brunel/run.sh                      # 5 seeds, 2.2 s each; writes RESULTS.md here
#   bash experiments/brunel/run.sh --seeds 1 --duration 400 --warmup 100 --report /tmp/B.md   # smoke run
# Uses the release build .build/release/neuromorph (swift build -c release) unless --neuromorph-bin.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$HERE/setup_venv.sh"
exec "$HERE/.venv/bin/python" "$HERE/brunel.py" "$@"
