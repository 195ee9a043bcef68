"""Rotated IoU between every pair of two box sets, exact where boxes meet.

An anchor assigner asks for the IoU of every anchor with every ground-truth
box: tens of thousands of anchors, of which each box meets a few percent.
mmcv's ``box_iou_rotated`` clips polygons for every pair (on a CPU about
0.8 million pairs per second); here pairs whose horizontal hulls are apart
(IoU exactly 0) are dropped by four comparisons each, and the kernel runs,
aligned, on the pairs that remain. The values are the kernel's own, so the
result equals the dense ``box_iou_rotated`` call.
``tools/benchmark_rotated_iou.py`` measures the speed-up.
"""

import numpy as np
import torch
from torch import Tensor

from .transforms import rbox2hbox

# the boolean hull-overlap matrix is built in blocks of at most this many
# pairs, so memory stays bounded whatever the number of boxes
BLOCK_PAIRS = 1 << 22


def _check(boxes: Tensor, name: str) -> None:
    if boxes.dim() != 2 or boxes.size(-1) != 5:
        raise ValueError(f'{name} must be (n, 5) rboxes (cx, cy, w, h, t), '
                         f'got shape {tuple(boxes.shape)}')
    if boxes.device.type == 'cpu':  # numpy: see _pruned_cpu
        bad = np.flatnonzero(
            ~np.isfinite(boxes.detach().float().numpy()).all(-1))
    else:
        bad = (~torch.isfinite(boxes).all(-1)).nonzero().flatten()
    if len(bad):
        index = int(bad[0])
        raise ValueError(f'{name}[{index}] is not finite: '
                         f'{boxes[index].tolist()}')


def _kernel(boxes1: Tensor, boxes2: Tensor, mode: str,
            aligned: bool) -> Tensor:
    from mmcv.ops import box_iou_rotated

    # the CPU kernel takes float32 only
    return box_iou_rotated(
        boxes1.float(), boxes2.float(), mode=mode, aligned=aligned)


def _hull_pairs(hull1, hull2):
    """Indices ``(i, j)`` of the pairs whose xyxy hulls touch or overlap;
    numpy arrays in, numpy arrays out, or tensors in, tensors out."""
    x1, y1, x2, y2 = hull2.T
    meet = (hull1[:, None, 0] <= x2) & (x1 <= hull1[:, None, 2])
    meet &= hull1[:, None, 1] <= y2
    meet &= y1 <= hull1[:, None, 3]
    if isinstance(meet, Tensor):
        return meet.nonzero(as_tuple=True)
    return np.nonzero(meet)


def _hulls(boxes1, boxes2):
    """Horizontal hulls of both sets (tensors or numpy arrays), the first
    widened by a rounding margin: the kernel computes its own corners."""
    hull1, hull2 = rbox2hbox(boxes1), rbox2hbox(boxes2)
    margin = 1e-5 * (1 + max(abs(hull1).max(), abs(hull2).max()))
    hull1[:, :2] -= margin
    hull1[:, 2:] += margin
    return hull1, hull2


def _pruned_cpu(boxes1: Tensor, boxes2: Tensor, mode: str) -> Tensor:
    # Everything around the kernel runs in numpy: these passes over n x m
    # elements are memory-bound, and torch's thread pool costs more than it
    # gains on them when the cores are shared (one pass measured 30x
    # slower than numpy's on 2 busy cores).
    boxes1 = boxes1.detach().float().contiguous().numpy()
    boxes2 = boxes2.detach().float().contiguous().numpy()
    hull1, hull2 = _hulls(boxes1, boxes2)
    n, m = len(boxes1), len(boxes2)
    out = np.zeros((n, m), np.float32)
    rows = max(1, BLOCK_PAIRS // m)
    for start in range(0, n, rows):
        i, j = _hull_pairs(hull1[start:start + rows], hull2)
        if len(i):
            i = i + start
            out[i, j] = _kernel(
                torch.from_numpy(boxes1[i]), torch.from_numpy(boxes2[j]), mode,
                True).numpy()
    return torch.from_numpy(out)


def _pruned(boxes1: Tensor, boxes2: Tensor, mode: str) -> Tensor:
    hull1, hull2 = _hulls(boxes1.float(), boxes2.float())
    n, m = boxes1.size(0), boxes2.size(0)
    out = boxes1.new_zeros(n, m, dtype=torch.float32)
    rows = max(1, BLOCK_PAIRS // m)
    for start in range(0, n, rows):
        i, j = _hull_pairs(hull1[start:start + rows], hull2)
        if i.numel():
            i = i + start
            out[i, j] = _kernel(boxes1[i], boxes2[j], mode, True)
    return out


def rbox_overlaps(boxes1: Tensor,
                  boxes2: Tensor,
                  mode: str = 'iou',
                  is_aligned: bool = False,
                  prune: bool = True) -> Tensor:
    """IoU (or IoF) of rotated boxes, with mmcv's ``box_iou_rotated``.

    Args:
        boxes1: ``(n, 5)`` rboxes (see :mod:`.transforms` for the format).
        boxes2: ``(m, 5)`` rboxes.
        mode: ``'iou'``, or ``'iof'`` (intersection over the area of the
            box of ``boxes1``).
        is_aligned: pairs ``(boxes1[i], boxes2[i])`` only; then ``n == m``.
        prune: skip the pairs whose horizontal hulls do not meet (their IoU
            is 0). ``False`` runs the dense kernel, for comparison.

    Returns:
        ``(n, m)``, or ``(n,)`` when aligned, in the dtype of ``boxes1``
        (computed in float32, the kernel's only dtype).

    Raises:
        ValueError: a wrong shape, a non-finite box (named by its index),
            an unknown mode, or aligned sets of different lengths.
    """
    if mode not in ('iou', 'iof'):
        raise ValueError(f"mode must be 'iou' or 'iof', got {mode!r}")
    _check(boxes1, 'boxes1')
    _check(boxes2, 'boxes2')
    n, m = boxes1.size(0), boxes2.size(0)
    if is_aligned:
        if n != m:
            raise ValueError(f'aligned overlaps need as many boxes1 as '
                             f'boxes2, got {n} and {m}')
        if n == 0:
            return boxes1.new_zeros(0)
        return _kernel(boxes1, boxes2, mode, True).to(boxes1.dtype)
    if n == 0 or m == 0:
        return boxes1.new_zeros(n, m)
    if not prune:
        return _kernel(boxes1, boxes2, mode, False).to(boxes1.dtype)

    if boxes1.device.type == 'cpu':
        return _pruned_cpu(boxes1, boxes2, mode).to(boxes1.dtype)
    return _pruned(boxes1, boxes2, mode).to(boxes1.dtype)
