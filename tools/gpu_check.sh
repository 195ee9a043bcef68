#!/usr/bin/env bash
# GPU readiness check (issue 16). On a machine with CUDA (nvidia-smi present
# and torch.cuda.is_available()):
#   1. prints the GPU and the versions of torch, CUDA, mmcv (and whether its
#      ops were built with CUDA), mmengine, mmdet, mmrotate, mmdet_losses;
#   2. runs tests/cuda (every loss on CUDA against its CPU value and mmdet's
#      CUDA ops, DIoU-NMS, PrunedRBboxOverlaps2D, float16) and the CUDA tests
#      of the other test files (those that name "needs CUDA" or
#      torch.cuda.is_available(), selected with -k cuda);
#   3. trains one epoch of the GFL quickstart (38 iterations of 8 images)
#      without and with --amp, work dirs under a temporary directory, and
#      prints the mean iteration time of each from the LoggerHook lines
#      ('time:', every 5 iterations, the first interval left out).
# Each step has a time limit (tests 180 + 60 s, trainings 100 s each), so the
# whole stays under 8 minutes. Exits 1 if a step failed, mmcv's ops without
# CUDA kernels included.
#
# Without CUDA it prints why it skipped and exits 0 (a CPU CI machine).
# GPU_CHECK_DEVICE=cpu runs the same steps on the CPU instead, a dry run of
# this script (tests/cuda with MMDET_LOSSES_TEST_DEVICE=cpu; CPU timings);
# GPU_CHECK_TRAIN_OPTIONS adds --cfg-options to both trainings (e.g.
# "train_dataloader.dataset.indices=16" for a shorter epoch). PYTHON picks
# the interpreter (default .venv/bin/python).
set -uo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-.venv/bin/python}
CONFIG=configs/quickstart/gfl_r18_fpn_qfl-dfl-ciou_synthetic.py
DEVICE=${GPU_CHECK_DEVICE:-cuda}
LOG_INTERVAL=5
START=$SECONDS
FAILED=()

say() { echo "[gpu_check] $*"; }

if ! command -v "$PY" >/dev/null 2>&1 && [ ! -x "$PY" ]; then
    say "FAILED: no Python interpreter at '$PY' (set PYTHON, or run" \
        "tools/setup_env.sh)"
    exit 1
fi

if [ "$DEVICE" = cpu ]; then
    say "GPU_CHECK_DEVICE=cpu: dry run on the CPU; nothing here measures a GPU"
    export MMDET_LOSSES_TEST_DEVICE=cpu
else
    if ! command -v nvidia-smi >/dev/null 2>&1; then
        say "skipped: nvidia-smi not found (no NVIDIA driver on this" \
            "machine), so there is no GPU to check"
        exit 0
    fi
    reason=$("$PY" - <<'EOF'
import torch
if not torch.cuda.is_available():
    print(f'torch.cuda.is_available() is False (torch {torch.__version__}, '
          f'built for CUDA {torch.version.cuda}; '
          f'torch.cuda.device_count() = {torch.cuda.device_count()})')
EOF
    )
    status=$?
    if [ $status -ne 0 ]; then
        say "FAILED: '$PY' could not import torch (exit status $status)"
        exit 1
    fi
    if [ -n "$reason" ]; then
        say "skipped: $reason"
        exit 0
    fi
fi

say "machine and versions"
if [ "$DEVICE" != cpu ]; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap \
        --format=csv,noheader | sed 's/^/  GPU: /'
fi
command -v nvcc >/dev/null 2>&1 && \
    echo "  nvcc: $(nvcc --version | grep -o 'release [0-9.]*')"
MMCV_CUDA_OK=1
MMCV_CUDA_MSG=$(DEVICE="$DEVICE" "$PY" - <<'EOF'
import os
import sys

import mmcv
import mmdet
import mmengine
import mmrotate
import torch

import mmdet_losses

print(f'  torch {torch.__version__} (CUDA {torch.version.cuda}, '
      f'cuDNN {torch.backends.cudnn.version()})')
if torch.cuda.is_available():
    i = torch.cuda.current_device()
    print(f'  device {i}: {torch.cuda.get_device_name(i)}, capability '
          f'{torch.cuda.get_device_capability(i)}')
print(f'  mmcv {mmcv.__version__} | mmengine {mmengine.__version__} | mmdet '
      f'{mmdet.__version__} | mmrotate {mmrotate.__version__} | mmdet_losses '
      f'{mmdet_losses.__version__}')
try:
    from mmcv.ops import get_compiler_version, get_compiling_cuda_version
    built = get_compiling_cuda_version()
    print(f'  mmcv ops built with CUDA: {built} '
          f'(compiler {get_compiler_version()})')
except Exception as error:  # noqa: BLE001
    print(f'  mmcv ops cannot be imported: {type(error).__name__}: {error}')
    sys.exit(3)
if os.environ['DEVICE'] != 'cpu':
    from mmcv.ops import nms
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 11., 11.]],
                         device='cuda')
    try:
        nms(boxes, torch.tensor([0.9, 0.8], device='cuda'), 0.5)
    except Exception as error:  # noqa: BLE001
        print(f'  mmcv.ops.nms on CUDA fails: {type(error).__name__}: '
              f'{str(error).splitlines()[0]}')
        print('  mmcv was built without its CUDA kernels: rebuild it with '
              'FORCE_CUDA=1 (README, GPU install)')
        sys.exit(3)
EOF
) || MMCV_CUDA_OK=0
echo "$MMCV_CUDA_MSG"
if [ $MMCV_CUDA_OK -ne 1 ]; then
    FAILED+=("mmcv CUDA ops")
fi

say "tests/cuda"
timeout 180 "$PY" -m pytest tests/cuda -q -p no:cacheprovider \
    || FAILED+=("tests/cuda")

# the CUDA tests of the other test files
mapfile -t CUDA_FILES < <(grep -rlE --include='test_*.py' \
    "needs CUDA|cuda\.is_available" tests \
    | grep -v -e '^tests/cuda/' -e 'test_gpu_check\.py$' | sort)
if [ ${#CUDA_FILES[@]} -gt 0 ]; then
    say "CUDA tests of ${CUDA_FILES[*]}"
    timeout 60 "$PY" -m pytest "${CUDA_FILES[@]}" -q -k cuda \
        -p no:cacheprovider
    status=$?
    # 5: nothing selected (the CPU dry run deselects the CUDA cases)
    if [ $status -ne 0 ] && [ $status -ne 5 ]; then
        FAILED+=("CUDA tests of the other files")
    fi
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

mean_time() {
    # mean of 'time:' (and 'data_time:') of the LoggerHook lines of a
    # training log, the first interval (warm-up) left out
    "$PY" - "$1" <<'EOF'
import re
import sys

lines = [
    line for line in open(sys.argv[1], encoding='utf-8')
    if 'Epoch(train)' in line or 'Iter(train)' in line
]
values = {}
for key in ('time', 'data_time'):
    found = [
        float(m.group(1)) for m in (
            re.search(rf'(?<![\w])\b{key}: ([0-9.eE+-]+)', line)
            for line in lines) if m
    ]
    values[key] = found[1:]
if not values['time']:
    sys.exit(f'fewer than 2 logged intervals in {sys.argv[1]}')
mean = {k: sum(v) / len(v) for k, v in values.items() if v}
print(f"{mean['time']:.4f} s/iter over {len(values['time'])} intervals "
      f"(data_time {mean.get('data_time', float('nan')):.4f} s)")
EOF
}

declare -A TIMES
for mode in fp32 amp; do
    say "training one epoch of $(basename $CONFIG .py) ($mode)"
    args=("$CONFIG" --work-dir "$WORK/$mode")
    [ $mode = amp ] && args+=(--amp)
    # ${GPU_CHECK_TRAIN_OPTIONS} unquoted: one --cfg-options word per option
    # shellcheck disable=SC2086
    timeout 100 "$PY" tools/train.py "${args[@]}" --cfg-options \
        train_cfg.max_epochs=1 \
        default_hooks.logger.interval=$LOG_INTERVAL \
        log_processor.window_size=$LOG_INTERVAL \
        train_dataloader.num_workers=4 \
        ${GPU_CHECK_TRAIN_OPTIONS:-} \
        > "$WORK/$mode.out" 2>&1
    status=$?
    log=$(find "$WORK/$mode" -name '*.log' -path '*/20*' | sort | tail -1)
    if [ $status -ne 0 ] || [ -z "$log" ]; then
        say "FAILED: training ($mode) exited with status $status; its last lines:"
        tail -20 "$WORK/$mode.out"
        FAILED+=("training ($mode)")
        continue
    fi
    if TIMES[$mode]=$(mean_time "$log"); then
        say "$mode: ${TIMES[$mode]}"
    else
        FAILED+=("timing ($mode)")
    fi
done

say "summary ($DEVICE, $((SECONDS - START)) s in all)"
for mode in fp32 amp; do
    echo "  mean iteration time, $mode: ${TIMES[$mode]:-not measured}"
done
if [ "$DEVICE" != cpu ] && [ $((SECONDS - START)) -gt 480 ]; then
    say "WARNING: over the 8 minutes this check is meant to take"
fi
if [ ${#FAILED[@]} -gt 0 ]; then
    say "FAILED: $(IFS=';'; echo "${FAILED[*]}")"
    exit 1
fi
say "all steps passed"
