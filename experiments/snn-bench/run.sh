#!/usr/bin/env bash
# One command for the whole benchmark (from anywhere):  bash experiments/snn-bench/run.sh [run.py flags]
# Creates/refreshes the Python 3.13 venv with Brian2 2.11.0 + NEST 3.10.0, then runs run.py.
# Quick smoke run: bash experiments/snn-bench/run.sh --sizes 4000 --seeds 1 --duration 0.5 --report /tmp/R.md
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$HERE/setup_venv.sh"
exec "$HERE/.venv/bin/python" "$HERE/run.py" "$@"
