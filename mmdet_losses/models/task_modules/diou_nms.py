r"""DIoU-NMS (Zheng et al., AAAI 2020, arXiv:1911.08287, eq. 13).

Greedy non-maximum suppression in which a box :math:`B_i` is suppressed by a
higher-scoring kept box :math:`M` when

.. math:: IoU(M, B_i) - R(M, B_i)^{\beta} \ge \varepsilon,
   \qquad R = \rho^2 / c^2,

with :math:`\rho` the distance of the box centres and :math:`c` the
diagonal of their smallest enclosing box: two boxes that overlap but whose
centres lie far apart are kept, as two adjacent objects would be.
:math:`\beta = 1` is the paper's default (0.6 in its YOLOv3 experiments),
:math:`\varepsilon` is ``iou_threshold``. The pairwise IoU and DIoU come from
:func:`mmdet_losses.functional.iou_family.box_iou`.

Using it in a detector
----------------------
Every mmdet dense head post-processes with ``mmcv.ops.batched_nms``, which
looks the ``type`` of ``test_cfg.nms`` up *by name in its own module*
(``eval(nms_type)`` in ``mmcv.ops.nms``); it has no registry. Importing this
module adds :func:`diou_nms` to that module's namespace
(:func:`register_with_mmcv`), so with ``mmdet_losses.models`` imported (any
config with ``default_scope = 'mmdet_losses'`` imports it when it builds its
model; under mmdet's scope add
``custom_imports = dict(imports=['mmdet_losses.models'])``)::

    test_cfg = dict(..., nms=dict(type='diou_nms', iou_threshold=0.6,
                                  beta=1.0))

``batched_nms`` keeps classes apart by shifting each class's boxes by a
class-dependent offset; boxes of different classes then have IoU 0 and a
criterion of :math:`-R^{\beta} < 0`, so they never suppress each other for
any ``iou_threshold >= 0``, the range this function accepts.

Conventions
-----------
* Boxes are ``'xyxy'`` and must be finite and not inverted (``x2 >= x1``,
  ``y2 >= y1``); a bad box raises a ValueError naming its index.
* Boxes are visited by decreasing score; equal scores keep their input order
  (a stable sort), so the result is deterministic.
* Suppression at ``>= iou_threshold`` (the paper's eq. 13); mmcv's plain
  ``nms`` suppresses at ``> iou_threshold``. The two differ only where the
  criterion equals the threshold exactly.
* CPU and CUDA: the criterion is computed on the boxes' device in blocks of
  rows (memory ``O(block * n)``, not ``O(n^2)``); the greedy scan over each
  block runs on the CPU, one transfer per block.
"""
import importlib
from typing import Tuple

import numpy as np
import torch
from torch import Tensor

from mmdet_losses.functional.iou_family import box_iou

# rows of the criterion computed at once (memory: 128 x n)
_BLOCK = 128


def _check_inputs(boxes: Tensor, scores: Tensor, iou_threshold: float,
                  beta: float) -> None:
    for name, value in (('boxes', boxes), ('scores', scores)):
        if not isinstance(value, Tensor):
            raise TypeError(f'{name} must be a torch.Tensor, got '
                            f'{type(value).__name__}')
    if boxes.dim() != 2 or boxes.size(1) != 4:
        raise ValueError("boxes must have shape (n, 4) ('xyxy'), got "
                         f'{tuple(boxes.shape)}')
    if scores.dim() != 1 or scores.size(0) != boxes.size(0):
        raise ValueError(f'scores must have shape ({boxes.size(0)},), got '
                         f'{tuple(scores.shape)}')
    if not 0 <= iou_threshold <= 1:
        raise ValueError('iou_threshold must be in [0, 1], got '
                         f'{iou_threshold}')
    if not beta > 0:
        raise ValueError(f'beta must be positive, got {beta}')
    bad = ~torch.isfinite(boxes).all(1)
    bad |= (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    bad |= ~torch.isfinite(scores)
    if bad.any():
        i = int(bad.nonzero()[0])
        raise ValueError(
            f'box {i} is not a finite, non-inverted xyxy box with a finite '
            f'score: box {boxes[i].tolist()}, score {scores[i].item()}')


def diou_nms_criterion(boxes1: Tensor,
                       boxes2: Tensor,
                       beta: float = 1.0) -> Tensor:
    r""":math:`IoU - (\rho^2 / c^2)^\beta` of every pair of ``'xyxy'`` boxes,
    ``(n, m)``; the quantity DIoU-NMS compares with its threshold."""
    diou = box_iou(boxes1, boxes2, mode='diou')
    if beta == 1:
        return diou
    iou = box_iou(boxes1, boxes2, mode='iou')
    # box_iou's DIoU is IoU - rho^2 / c^2: recover the distance term
    penalty = (iou - diou).clamp_(min=0)
    return iou - penalty.pow_(beta)


def diou_nms(boxes: Tensor,
             scores: Tensor,
             iou_threshold: float,
             beta: float = 1.0,
             score_threshold: float = 0.0,
             max_num: int = -1) -> Tuple[Tensor, Tensor]:
    """Greedy DIoU-NMS; the calling convention of ``mmcv.ops.nms``.

    Args:
        boxes: ``(n, 4)`` boxes, ``'xyxy'``.
        scores: ``(n,)`` scores.
        iou_threshold: the paper's epsilon, in ``[0, 1]``; a box is
            suppressed where the criterion is ``>=`` it.
        beta: exponent of the centre-distance penalty, ``> 0``.
        score_threshold: where ``> 0``, boxes scoring ``<=`` it are dropped
            first (as ``mmcv.ops.nms``).
        max_num: keep at most this many boxes; ``-1``: all.

    Returns:
        ``dets`` ``(k, 5)``: the kept boxes and their scores, by decreasing
        score; ``keep`` ``(k,)``: their indices into ``boxes`` (int64).
    """
    _check_inputs(boxes, scores, iou_threshold, beta)
    candidates = torch.arange(len(boxes), device=boxes.device)
    if score_threshold > 0:
        candidates = candidates[scores > score_threshold]
    order = candidates[torch.sort(
        scores[candidates], descending=True, stable=True).indices]
    keep = order[_greedy_keep(boxes[order].detach(), iou_threshold, beta)]
    if max_num > 0:
        keep = keep[:max_num]
    dets = torch.cat([boxes[keep], scores[keep, None].to(boxes.dtype)], 1)
    return dets, keep


@torch.no_grad()
def _greedy_keep(sorted_boxes: Tensor, iou_threshold: float,
                 beta: float) -> Tensor:
    """Positions in ``sorted_boxes`` (by decreasing score) that survive.

    The criterion is computed for blocks of up to ``_BLOCK`` boxes not yet
    suppressed, against every box after the first of them: boxes an earlier
    block suppressed cost nothing, so the work follows the kept boxes, as
    in a plain greedy NMS.
    """
    n = len(sorted_boxes)
    # the scan is sequential: numpy's per-call cost is far below torch's
    removed = np.zeros(n, dtype=bool)
    kept = []
    pos = 0
    while pos < n:
        rows = np.flatnonzero(~removed[pos:])[:_BLOCK] + pos
        if len(rows) == 0:
            break
        first = int(rows[0])
        suppress = diou_nms_criterion(
            sorted_boxes[torch.from_numpy(rows).to(sorted_boxes.device)],
            sorted_boxes[first:], beta) >= iou_threshold
        suppress = suppress.cpu().numpy()
        for row, i in enumerate(rows.tolist()):
            if removed[i]:
                continue
            kept.append(i)
            # a box suppresses only the lower-scoring boxes after it
            removed[i + 1:] |= suppress[row, i + 1 - first:]
        pos = int(rows[-1]) + 1
    return torch.tensor(kept, dtype=torch.long, device=sorted_boxes.device)


def register_with_mmcv() -> None:
    """Make ``nms=dict(type='diou_nms', ...)`` work in
    ``mmcv.ops.batched_nms`` (and so in mmdet's ``multiclass_nms`` and
    every dense head), which resolves the type by name in ``mmcv.ops.nms``.

    Idempotent; refuses to replace a different ``diou_nms`` already there.
    """
    try:
        # not `import mmcv.ops.nms as ...`: that name is also the function
        # mmcv.ops exports, and `import ... as` would bind the function
        mmcv_nms = importlib.import_module('mmcv.ops.nms')
    except ImportError:  # the functional part works without mmcv
        return
    existing = getattr(mmcv_nms, 'diou_nms', None)
    if existing is None:
        mmcv_nms.diou_nms = diou_nms
    elif existing is not diou_nms:
        raise RuntimeError(
            'mmcv.ops.nms already defines a different "diou_nms" '
            f'({existing!r}); refusing to replace it')


register_with_mmcv()
