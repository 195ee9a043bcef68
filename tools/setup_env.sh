#!/usr/bin/env bash
# Create (or complete) the virtual environment at .venv/ and install this
# package into it. Safe to re-run: what is installed is kept, and mmcv is
# built only when `import mmcv.ops` fails.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
PIP="$VENV/bin/python -m pip"
# Every install is held to the versions the project is tested with.
PINS="-c requirements/constraints.txt"

if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating $VENV with $($PYTHON --version)"
    "$PYTHON" -m venv "$VENV"
fi

echo "[setup] torch 2.13.0 + torchvision 0.28.0 (about 4 GB with the CUDA" \
     "libraries; runs on a CPU too), mmcv's build requirements"
$PIP install -q --upgrade pip
$PIP install -q $PINS -r requirements/build.txt

# FORCE_CUDA=1 (README, GPU machines): mmcv's CUDA kernels too; a CPU-only
# mmcv, installed or in pip's wheel cache, must not satisfy it.
MMCV_READY="import mmcv.ops"
MMCV_FLAGS=""
if [ "${FORCE_CUDA:-0}" = 1 ]; then
    MMCV_READY="import mmcv.ops; assert \
mmcv.ops.get_compiling_cuda_version() != 'not available'"
    MMCV_FLAGS="--no-cache-dir --force-reinstall --no-deps"
    export CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
    # torch's headers include cuBLAS/cuSPARSE headers that a minimal toolkit
    # lacks; torch's nvidia wheels carry them
    NVIDIA_INCLUDE=$("$VENV/bin/python" -c "import os, nvidia; \
print(os.path.join(list(nvidia.__path__)[0], 'cu13', 'include'))")
    export CPATH="$NVIDIA_INCLUDE${CPATH:+:$CPATH}"
    echo "[setup] FORCE_CUDA=1: CUDA_HOME=$CUDA_HOME," \
         "TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-unset (the visible GPU, else all)}"
fi
if ! "$VENV/bin/python" -c "$MMCV_READY" >/dev/null 2>&1; then
    echo "[setup] building mmcv 2.1.0 with its ops from source:" \
         "8 to 21 minutes on 2 cores (CPU ops), once (pip caches the wheel)"
    MAX_JOBS=${MAX_JOBS:-$(nproc)} $PIP install --no-build-isolation \
        $MMCV_FLAGS $PINS -r requirements/mmcv.txt
fi

echo "[setup] mmengine, mmdet, mmrotate, runtime and test requirements"
$PIP install -q $PINS -r requirements/mminstall.txt -r requirements/runtime.txt \
    -r requirements/tests.txt
echo "[setup] mmdet_losses (editable)"
$PIP install -q --no-build-isolation --no-deps -e .
"$VENV/bin/python" -c "import torch, torchvision.ops, mmcv.ops, mmdet, mmrotate.models, \
mmdet_losses; print('[setup] ready: torch', torch.__version__, '| mmcv', \
mmcv.__version__, '| mmdet', mmdet.__version__, '| mmrotate', \
mmrotate.__version__, '| mmdet_losses', mmdet_losses.__version__, \
'| mmcv ops built with CUDA:', mmcv.ops.get_compiling_cuda_version())"
