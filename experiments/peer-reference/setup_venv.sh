#!/usr/bin/env bash
# Creates experiments/peer-reference/.venv (Python 3.13) with NEST 3.10.0, Brian2 2.11.0 and numpy.
# Idempotent: does nothing when the pinned versions are already installed.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON313:-/root/.pyenv/versions/3.13.0/bin/python3}"
VENV="$HERE/.venv"
[ -x "$PY" ] || { echo "setup_venv.sh: Python 3.13 not found at $PY (set PYTHON313)" >&2; exit 1; }
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
if ! "$VENV/bin/python" - <<'PYEOF' >/dev/null 2>&1
import importlib.metadata as m, sys
for k, v in {"brian2": "2.11.0", "nest-simulator": "3.10.0"}.items():
    if m.version(k) != v: sys.exit(1)
import numpy  # noqa
PYEOF
then
  "$VENV/bin/python" -m pip --disable-pip-version-check -q install brian2==2.11.0 nest-simulator==3.10.0 numpy
fi
