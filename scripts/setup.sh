#!/usr/bin/env bash
# Installs the system packages neuromorph needs, if any is missing (idempotent, non-interactive).
#   libomp-dev              OpenMP runtime + omp.h (LLVM's libomp, matches Swift's clang)
#   libgsl-dev              GNU Scientific Library: random numbers, ODE steppers
#   libopenblas-dev         OpenBLAS: cblas_sgemm for dense/conv layers
#   dataset-fashion-mnist   Fashion-MNIST IDX files in /usr/share/datasets/fashion-mnist
# Run as root (or with sudo available). Prints what it does; exits non-zero with a message on failure.
set -euo pipefail

packages=(libomp-dev libgsl-dev libopenblas-dev dataset-fashion-mnist)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: system packages present (${packages[*]})"
else
    echo "setup: installing ${missing[*]}"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
        SUDO="sudo"
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    echo "setup: installed ${missing[*]}"
fi

command -v swift >/dev/null || { echo "setup: the Swift toolchain (swift) is not on PATH" >&2; exit 1; }
