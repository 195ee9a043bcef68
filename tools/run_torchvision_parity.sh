#!/usr/bin/env bash
# Compare mmdet_losses.functional with torchvision.ops in a second virtual
# environment, .venv-tv/: torchvision does not load beside the CPU build of
# torch 2.13 that the main environment needs for mmcv, and the functional
# core needs torch alone. Creates .venv-tv/ on first use (torch 2.14.1 and
# torchvision 0.29.1, a CUDA build that also runs on a CPU), then runs
# tests/torchvision_parity/ there. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv-tv

if ! "$VENV/bin/python" -c 'import torchvision.ops' >/dev/null 2>&1; then
    start=$(date +%s)
    echo "[torchvision-parity] creating $VENV (torch 2.14.1, torchvision 0.29.1)"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q torch==2.14.1 torchvision==0.29.1 \
        pytest hypothesis
    echo "[torchvision-parity] installed in $(( $(date +%s) - start )) s," \
         "$(du -sh "$VENV" | cut -f1) on disk"
fi

PYTHONPATH="$PWD" OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} \
    "$VENV/bin/python" -m pytest tests/torchvision_parity "$@"
