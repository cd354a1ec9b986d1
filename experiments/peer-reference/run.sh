#!/usr/bin/env bash
# Regenerates experiments/peer-reference/refs.json (about 10 s after the venv exists).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$HERE/setup_venv.sh"
exec "$HERE/.venv/bin/python" "$HERE/make_refs.py" "$@"
