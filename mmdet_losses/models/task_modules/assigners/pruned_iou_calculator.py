"""A drop-in for mmrotate's ``RBboxOverlaps2D`` that skips the pairs whose
IoU is exactly 0.

An anchor assigner asks for the IoU of every anchor with every ground-truth
box: tens of thousands of anchors, of which each box meets a few percent.
mmrotate's calculator clips polygons for every pair (mmcv's
``box_iou_rotated``, on a CPU about 0.8 million pairs per second). Here the
pairs whose horizontal hulls are apart (IoU 0) are dropped by four
comparisons each, and the same kernel runs, aligned, on the pairs that
remain, with the same input clamps as mmrotate's ``rbbox_overlaps``; so the
matrix equals mmrotate's. ``tools/benchmark_rotated_iou.py`` measures both.

    train_cfg=dict(assigner=dict(
        iou_calculator=dict(type='mmdet_losses.PrunedRBboxOverlaps2D')))
"""
from typing import Union

import numpy as np
import torch
from mmdet.structures.bbox import BaseBoxes, get_box_tensor
from torch import Tensor

from mmdet_losses.functional.rbox import rbox_half_extents
from mmdet_losses.registry import TASK_UTILS

# the boolean hull-overlap matrix is built in blocks of at most this many
# pairs, so memory stays bounded whatever the number of boxes
BLOCK_PAIRS = 1 << 22
MODES = ('iou', 'iof')


def _as_rboxes(boxes: Union[Tensor, BaseBoxes], name: str) -> Tensor:
    boxes = get_box_tensor(boxes)
    if boxes.dim() != 2 or boxes.size(-1) not in (5, 6):
        if boxes.numel() == 0:  # mmrotate accepts empty sets of any width
            return boxes.reshape(0, 5)
        raise ValueError(f'{name} must be (n, 5) rboxes (cx, cy, w, h, t) or '
                         f'(n, 6) with a score, got shape '
                         f'{tuple(boxes.shape)}')
    boxes = boxes[:, :5]
    bad = (~torch.isfinite(boxes).all(-1)).nonzero().flatten()
    if len(bad):
        index = int(bad[0])
        raise ValueError(f'{name}[{index}] is not finite: '
                         f'{boxes[index].tolist()}')
    # mmrotate's rbbox_overlaps clamps these, because mmcv's kernel fails on
    # tiny boxes and huge coordinates; the same clamps give the same values
    boxes = boxes.detach().clone()
    boxes[:, 2:4].clamp_(min=1e-3)
    boxes[:, :2].clamp_(min=-1e7, max=1e7)
    return boxes


def _kernel(boxes1: Tensor, boxes2: Tensor, mode: str,
            aligned: bool) -> Tensor:
    from mmcv.ops import box_iou_rotated

    # mmcv's CPU kernel takes float32 only
    return box_iou_rotated(
        boxes1.float(), boxes2.float(), mode=mode,
        aligned=aligned).to(boxes1.dtype)


def _hulls(boxes1, boxes2):
    """Horizontal hulls ``(x1, y1, x2, y2)`` of both sets (tensors or numpy
    arrays), the first widened by a rounding margin: the kernel computes its
    own corners."""
    hulls = []
    for boxes in (boxes1, boxes2):
        half_x, half_y = rbox_half_extents(boxes)
        cx, cy = boxes[:, 0], boxes[:, 1]
        stack = np.stack if isinstance(boxes, np.ndarray) else torch.stack
        hulls.append(
            stack([cx - half_x, cy - half_y, cx + half_x, cy + half_y], 1))
    hull1, hull2 = hulls
    margin = 1e-5 * (1 + max(abs(hull1).max(), abs(hull2).max()))
    hull1[:, :2] -= margin
    hull1[:, 2:] += margin
    return hull1, hull2


def _hull_pairs(hull1, hull2):
    """Indices ``(i, j)`` of the pairs whose hulls touch or overlap; numpy
    arrays in, numpy arrays out, or tensors in, tensors out."""
    x1, y1, x2, y2 = hull2.T
    meet = (hull1[:, None, 0] <= x2) & (x1 <= hull1[:, None, 2])
    meet &= hull1[:, None, 1] <= y2
    meet &= y1 <= hull1[:, None, 3]
    if isinstance(meet, Tensor):
        return meet.nonzero(as_tuple=True)
    return np.nonzero(meet)


def _pruned(boxes1: Tensor, boxes2: Tensor, mode: str) -> Tensor:
    cpu = boxes1.device.type == 'cpu'
    if cpu:
        # The passes over n x m pairs are memory-bound, and torch's thread
        # pool costs more than it gains on them when the cores are shared
        # (one pass measured 30x slower than numpy's on 2 busy cores).
        boxes1, boxes2 = boxes1.numpy(), boxes2.numpy()
    hull1, hull2 = _hulls(boxes1, boxes2)
    n, m = len(boxes1), len(boxes2)
    out = (np.zeros((n, m), boxes1.dtype) if cpu else boxes1.new_zeros(n, m))
    rows = max(1, BLOCK_PAIRS // m)
    for start in range(0, n, rows):
        i, j = _hull_pairs(hull1[start:start + rows], hull2)
        if len(i):
            i = i + start
            pair1, pair2 = boxes1[i], boxes2[j]
            if cpu:
                pair1, pair2 = torch.from_numpy(pair1), torch.from_numpy(pair2)
            iou = _kernel(pair1, pair2, mode, True)
            out[i, j] = iou.numpy() if cpu else iou
    return torch.from_numpy(out) if cpu else out


def pruned_rbbox_overlaps(bboxes1: Union[Tensor, BaseBoxes],
                          bboxes2: Union[Tensor, BaseBoxes],
                          mode: str = 'iou',
                          is_aligned: bool = False,
                          prune: bool = True) -> Tensor:
    """IoU (or IoF) of rotated boxes, equal to mmrotate's ``rbbox_overlaps``.

    Args:
        bboxes1: ``(n, 5)`` rboxes, ``(n, 6)`` with a score (ignored), or a
            box type that converts to rboxes.
        bboxes2: ``(m, 5)`` or ``(m, 6)`` likewise.
        mode: ``'iou'``, or ``'iof'`` (over the area of the box of
            ``bboxes1``).
        is_aligned: pairs ``(bboxes1[i], bboxes2[i])`` only; ``n == m``.
        prune: skip the pairs whose horizontal hulls do not meet (IoU 0).
            ``False`` runs the dense kernel, as mmrotate does.

    Returns:
        ``(n, m)``, or ``(n,)`` when aligned (``(0, 1)`` for two empty
        aligned sets, as mmrotate returns).

    Raises:
        ValueError: an unknown mode, a wrong shape, a non-finite box (named
            by its index), or aligned sets of different lengths.
    """
    if mode not in MODES:
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    boxes1 = _as_rboxes(bboxes1, 'bboxes1')
    boxes2 = _as_rboxes(bboxes2, 'bboxes2')
    n, m = boxes1.size(0), boxes2.size(0)
    if is_aligned and n != m:
        raise ValueError(f'aligned overlaps need as many bboxes1 as bboxes2, '
                         f'got {n} and {m}')
    if n * m == 0:
        return boxes1.new_zeros((n, 1) if is_aligned else (n, m))
    if is_aligned or not prune:
        return _kernel(boxes1, boxes2, mode, is_aligned)
    return _pruned(boxes1, boxes2, mode)


@TASK_UTILS.register_module()
class PrunedRBboxOverlaps2D:
    """mmrotate's ``RBboxOverlaps2D`` computed only where boxes can meet
    (:func:`pruned_rbbox_overlaps`): the same matrix, a fraction of the
    time for an assigner's anchors-by-boxes call.

    Args:
        prune: ``False`` runs the dense kernel, for comparison.
    """

    def __init__(self, prune: bool = True) -> None:
        self.prune = prune

    def __call__(self,
                 bboxes1: Union[Tensor, BaseBoxes],
                 bboxes2: Union[Tensor, BaseBoxes],
                 mode: str = 'iou',
                 is_aligned: bool = False) -> Tensor:
        return pruned_rbbox_overlaps(bboxes1, bboxes2, mode, is_aligned,
                                     self.prune)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(prune={self.prune})'
