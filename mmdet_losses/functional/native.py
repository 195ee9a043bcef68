"""Compiled CPU kernels, built from ``csrc/`` on first use.

On CPU a small loss costs more per torch call than per element, so the
IoU-family losses run there as one C++ loop over the box pairs
(``csrc/iou_family_cpu.cpp``, the same definitions as the torch pass of
:mod:`.iou_family`), called through :func:`iou_family_pass`. The kernel
needs nothing but a C++ compiler: the first
call compiles it with ``$CXX`` (else ``c++``, ``g++`` or ``clang++``) into a
cache directory (``$MMDET_LOSSES_CACHE``, else ``~/.cache/mmdet_losses``,
else the temporary directory), named by a hash of the source, the flags and
the compiler, and loads it with :mod:`ctypes`. The build took 1.4 s on a
2-core machine (``native.build('iou_family_cpu')`` with an empty cache),
once per machine and source version.

Where no compiler works, a warning says so once and the losses run their
torch implementation: the same values up to rounding, slower. The kernels
are off with ``MMDET_LOSSES_NATIVE=0`` in the environment, or inside
``with native.disabled():`` (tests compare the two implementations that
way).
"""
import ctypes
import hashlib
import os
import os.path as osp
import platform
import shutil
import subprocess
import sys
import tempfile
import warnings
from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator, List, Optional, Tuple

import torch
from torch import Tensor

from .precomputed_grad import compute_dtype

CSRC = osp.join(osp.dirname(osp.abspath(__file__)), 'csrc')
# IEEE results (no -ffast-math); these two only free the compiler from
# errno and floating-point traps, which lets it vectorise the main loops
CXX_FLAGS = ('-O3', '-std=c++14', '-fno-math-errno', '-fno-trapping-math',
             '-fopenmp-simd', '-shared', '-fPIC')
ENV_SWITCH = 'MMDET_LOSSES_NATIVE'

_enabled = os.environ.get(ENV_SWITCH, '1') != '0'


@contextmanager
def disabled() -> Iterator[None]:
    """Run the torch implementations inside the block."""
    global _enabled
    previous, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = previous


def _compiler() -> Optional[str]:
    candidates = [os.environ['CXX']] if os.environ.get('CXX') else []
    candidates += ['c++', 'g++', 'clang++']
    for name in candidates:
        path = shutil.which(name)
        if path:
            return path
    return None


def _cache_dirs() -> Iterator[str]:
    if os.environ.get('MMDET_LOSSES_CACHE'):
        yield os.environ['MMDET_LOSSES_CACHE']
    yield osp.join(osp.expanduser('~'), '.cache', 'mmdet_losses')
    yield osp.join(
        tempfile.gettempdir(), f'mmdet_losses-{os.getuid()}' if hasattr(
            os, 'getuid') else 'mmdet_losses')


def build(name: str) -> str:
    """Compile ``csrc/<name>.cpp`` into a shared library (or find it in the
    cache) and return its path; raises RuntimeError with the compiler's
    message where that fails."""
    source = osp.join(CSRC, name + '.cpp')
    cxx = _compiler()
    if cxx is None:
        raise RuntimeError('no C++ compiler found (set $CXX, or install '
                           'g++ or clang++)')
    with open(source, 'rb') as f:
        key = hashlib.sha256(f.read())
    # the same home directory may serve machines of another architecture
    key.update(' '.join((cxx, sys.platform, platform.machine()) +
                        CXX_FLAGS).encode())
    filename = f'{name}-{key.hexdigest()[:16]}.so'
    errors = []
    for cache in _cache_dirs():
        try:
            os.makedirs(cache, mode=0o700, exist_ok=True)
        except OSError as e:
            errors.append(f'{cache}: {e}')
            continue
        if hasattr(os, 'getuid') and os.stat(cache).st_uid != os.getuid():
            # a library found there would run as this user: load only
            # from a directory that is ours
            errors.append(f'{cache}: owned by another user')
            continue
        target = osp.join(cache, filename)
        if osp.isfile(target):
            return target
        if not os.access(cache, os.W_OK):
            errors.append(f'{cache}: not writable')
            continue
        # compile beside the target and rename: processes that build at
        # once (one per GPU of a distributed run) never load a partial file
        partial = f'{target}.{os.getpid()}.partial'
        cmd = [cxx, *CXX_FLAGS, source, '-o', partial]
        try:
            done = subprocess.run(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        except OSError as e:
            raise RuntimeError(f'{" ".join(cmd)}: {e}') from e
        if done.returncode != 0:
            if osp.exists(partial):
                os.remove(partial)
            message = done.stdout.decode(errors='replace').strip()
            raise RuntimeError(f'{" ".join(cmd)} failed:\n{message}')
        os.replace(partial, target)
        return target
    raise RuntimeError('no writable cache directory: ' + '; '.join(errors))


_REAL = {torch.float32: ctypes.c_float, torch.float64: ctypes.c_double}
_SUFFIX = {torch.float32: 'f32', torch.float64: 'f64'}


@lru_cache(maxsize=None)
def _iou_family_library() -> Optional[ctypes.CDLL]:
    try:
        library = ctypes.CDLL(build('iou_family_cpu'))
    except (RuntimeError, OSError) as e:
        warnings.warn(
            'mmdet_losses: the compiled IoU-family kernel is not available '
            f'({e}); the IoU-family losses run their torch implementation '
            'on CPU (same results, slower)', RuntimeWarning)
        return None
    pointer = ctypes.c_void_p
    for dtype, real in _REAL.items():
        fn = getattr(library, 'mmdet_losses_iou_family_' + _SUFFIX[dtype])
        fn.restype = ctypes.c_double
        fn.argtypes = [
            ctypes.c_int, pointer, pointer, pointer, pointer, real, real,
            ctypes.c_int, ctypes.c_double, pointer, pointer, pointer,
            ctypes.c_int64
        ]
    return library


def iou_family_kernel(dtype: torch.dtype):
    """The IoU-family kernel for CPU tensors of ``dtype`` (see the
    signature at the end of ``csrc/iou_family_cpu.cpp``), or None where
    kernels are off, not built, or not made for ``dtype``."""
    if not _enabled or dtype not in _SUFFIX:
        return None
    library = _iou_family_library()
    if library is None:
        return None
    return getattr(library, 'mmdet_losses_iou_family_' + _SUFFIX[dtype])


# the kernel's code of each loss (csrc/iou_family_cpu.cpp, enum Kind), by
# (kind, mode) of the IoU family's LossSpec
_IOU_FAMILY_KIND = {
    ('iou', 'log'): 0,
    ('iou', 'linear'): 1,
    ('iou', 'square'): 2,
    ('giou', ''): 3,
    ('diou', ''): 4,
    ('ciou', ''): 5
}


def iou_family_pass(pred: Tensor, target: Tensor, weight: Optional[Tensor],
                    alpha: Optional[Tensor], spec, scale: float, jac_p: bool,
                    jac_t: bool
                    ) -> Optional[Tuple[Tensor, List[Optional[Tensor]]]]:
    """The pass of :func:`.iou_family._iou_pass` by the compiled kernel:
    one loop over the pairs, no temporaries beyond the outputs (inputs
    that are not contiguous are copied once). None where the kernel does
    not serve: not on CPU, an input neither float32 nor float64, kernels
    off or not built.

    Args:
        pred, target: ``'xyxy'`` pairs ``(n, 4)``.
        weight: ``(n,)``: the output is ``scale * sum(weight * loss)``;
            None: the loss of each pair ``(n,)``.
        alpha: CIoU's alpha ``(n,)`` held fixed, or None.
        spec: the loss, an :class:`.iou_geometry.LossSpec`.
        scale: see ``weight``; it also scales the derivatives.
        jac_p, jac_t: whether the derivatives with respect to ``pred`` /
            ``target`` are wanted.
    """
    if (pred.device.type != 'cpu' or pred.dtype not in _SUFFIX
            or target.dtype not in _SUFFIX):
        return None
    dtype = compute_dtype(pred, target)
    kernel = iou_family_kernel(dtype)
    if kernel is None:
        return None

    def ready(t: Optional[Tensor]) -> Optional[Tensor]:
        return None if t is None else t.to(dtype).contiguous()

    def address(t: Optional[Tensor]) -> Optional[int]:
        return None if t is None else t.data_ptr()

    pred, target, weight, alpha = map(ready, (pred, target, weight, alpha))
    n = pred.size(0)
    grads = [
        pred.new_empty((n, 4)) if wanted else None for wanted in (jac_p, jac_t)
    ]
    reduced = weight is not None
    loss = None if reduced else pred.new_empty((n, ))
    threshold = spec.alpha_iou_threshold
    total = kernel(_IOU_FAMILY_KIND[spec.kind, spec.mode], address(pred),
                   address(target), address(weight), address(alpha), spec.eps,
                   0.0 if threshold is None else threshold, threshold
                   is not None, scale if reduced else 1.0, address(loss),
                   *map(address, grads), n)
    if reduced:
        loss = torch.tensor(total, dtype=dtype)
    return loss, grads
