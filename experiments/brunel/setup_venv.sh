#!/usr/bin/env bash
# Creates experiments/brunel/.venv (Python 3.13) with NEST 3.10.0, numpy and PyYAML. Idempotent.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON313:-/root/.pyenv/versions/3.13.0/bin/python3}"
VENV="$HERE/.venv"
[ -x "$PY" ] || { echo "setup_venv.sh: Python 3.13 not found at $PY (set PYTHON313)" >&2; exit 1; }
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
if ! "$VENV/bin/python" - <<'PYEOF' >/dev/null 2>&1
import importlib.metadata as m, sys
if m.version("nest-simulator") != "3.10.0": sys.exit(1)
import numpy, yaml  # noqa
PYEOF
then
  "$VENV/bin/python" -m pip --disable-pip-version-check -q install nest-simulator==3.10.0 numpy pyyaml
fi
