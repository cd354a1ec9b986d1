#!/usr/bin/env bash
# Creates experiments/snn-bench/.venv (Python 3.13) with the benchmark peers:
# Brian2 2.11.0 (C++ standalone needs g++ and setuptools/cython-free toolchain; g++ is used directly),
# NEST 3.10.0 (PyPI wheel), numpy, PyYAML (config scaler). Idempotent: re-running only fills gaps.
# Also makes sure GNU time (/usr/bin/time, for child peak RSS) and g++ exist (Debian packages).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON313:-/root/.pyenv/versions/3.13.0/bin/python3}"
VENV="$HERE/.venv"

need_apt=()
[ -x /usr/bin/time ] || need_apt+=(time)
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
  else
    echo "setup_venv.sh: missing ${need_apt[*]} (install with apt-get)" >&2; exit 1
  fi
fi

if [ ! -x "$PY" ]; then
  echo "setup_venv.sh: Python 3.13 not found at $PY (set PYTHON313)" >&2; exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
REQS=(brian2==2.11.0 nest-simulator==3.10.0 numpy pyyaml setuptools)
if ! "$VENV/bin/python" - <<'EOF' >/dev/null 2>&1
import importlib.metadata as m, sys
want = {"brian2": "2.11.0", "nest-simulator": "3.10.0"}
for k, v in want.items():
    if m.version(k) != v: sys.exit(1)
import numpy, yaml, setuptools  # noqa
EOF
then
  "${PIP[@]}" install "${REQS[@]}"
fi
"$VENV/bin/python" - <<'EOF'
import brian2, numpy, yaml
import importlib.metadata as m
print("brian2", brian2.__version__, "| nest-simulator", m.version("nest-simulator"), "| numpy", numpy.__version__)
EOF
