#!/usr/bin/env bash
# Creates .venv with the pinned environment and installs this package into it (idempotent).
# torch is installed from the package registry with "===", which matches the registry's
# build exactly (a plain "==" can pick a local CPU-only wheel that torchvision does not load with).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch===2.13.0" "torchvision===0.28.0"
.venv/bin/python -m pip install --quiet -c constraints.txt -r requirements.txt
.venv/bin/python -m pip install --quiet --no-deps -e .
.venv/bin/python -c "import torch, torchvision, trp; print('environment ready: torch', torch.__version__, 'torchvision', torchvision.__version__)"
