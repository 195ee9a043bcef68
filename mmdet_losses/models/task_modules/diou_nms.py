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
(``eval(nms_type)`` in ``mmcv.ops.nms``); it has no registry. So
``type='diou_nms'`` works only once :func:`diou_nms` has been added to that
module's namespace. Importing this module does not do it: changing another
library's namespace is a step a program takes on purpose, and one that must
fail where it cannot be done. It is one explicit call::

    from mmdet_losses.models.task_modules.diou_nms import register_diou_nms
    register_diou_nms()

which raises an ImportError saying why where ``mmcv.ops`` cannot be
imported (mmcv-lite, an mmcv built without its ops), rather than leaving
``batched_nms`` to fail later with ``NameError: name 'diou_nms' is not
defined``. :func:`register_diou_nms_if_used` makes the same call for a
config that names ``type='diou_nms'`` anywhere, and nothing otherwise: the
call for a runner to make with its config before it builds the model. Then::

    test_cfg = dict(..., nms=dict(type='diou_nms', iou_threshold=0.6,
                                  beta=1.0))

``batched_nms`` keeps classes apart by shifting each class's boxes by a
class-dependent offset; boxes of different classes then have IoU 0 and a
criterion of :math:`-R^{\beta} < 0`, so they never suppress each other for
any ``iou_threshold >= 0``, the range this function accepts.

Conventions
-----------
* Boxes are ``'xyxy'``. As in ``mmcv.ops.nms``, ``offset`` (0 or 1) is
  added to every width and height (``x2 - x1 + offset``): ``offset=1`` is
  the legacy convention of inclusive pixel coordinates. The criterion is
  computed on the boxes ``(x1, y1, x2 + offset, y2 + offset)``, which gives
  mmcv's areas and intersections and the matching centres and enclosing box.
* A box with a non-finite coordinate or score (NaN, inf: a diverged model)
  is dropped with a RuntimeWarning and the others go through NMS; one bad
  prediction must not abort a whole evaluation. An inverted box
  (``x2 + offset < x1``) raises a ValueError naming its index: that is a
  wrong box format, not a numerical accident.
* Inside ``batched_nms`` with class offsets (``class_agnostic=False``)
  mmcv shifts every box by ``boxes.max()``; one NaN box makes that NaN and
  so every box NaN before this function sees them, and all are dropped,
  with the warning. mmdet's dense heads filter NaN boxes out before NMS
  where ``test_cfg.min_bbox_size >= 0`` (a NaN width fails the
  comparison) and NaN scores by ``score_thr``.
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
import warnings
from typing import Any, Tuple

import numpy as np
import torch
from torch import Tensor

from mmdet_losses.functional.iou_family import box_iou

# rows of the criterion computed at once (memory: 128 x n)
_BLOCK = 128


def _check_inputs(boxes: Tensor, scores: Tensor, iou_threshold: float,
                  beta: float, offset: int) -> Tensor:
    """Raise on a bad argument; return the mask of the boxes to use (those
    with finite coordinates and score)."""
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
    if offset not in (0, 1):  # the values mmcv.ops.nms accepts
        raise ValueError(f'offset must be 0 or 1 (as in mmcv.ops.nms), got '
                         f'{offset!r}')
    finite = torch.isfinite(boxes).all(1) & torch.isfinite(scores)
    inverted = finite & ((boxes[:, 2] + offset < boxes[:, 0]) |
                         (boxes[:, 3] + offset < boxes[:, 1]))
    if inverted.any():
        i = int(inverted.nonzero()[0])
        raise ValueError(
            f'box {i} is inverted (x2 + offset < x1 or y2 + offset < y1, '
            f'offset={offset}): {boxes[i].tolist()}; boxes must be xyxy')
    if not finite.all():
        bad = (~finite).nonzero().squeeze(1)
        warnings.warn(
            f'diou_nms: dropped {len(bad)} of {len(boxes)} boxes with a '
            f'non-finite coordinate or score (indices '
            f'{bad[:5].tolist()}{" ..." if len(bad) > 5 else ""}); the '
            'others go through NMS',
            RuntimeWarning,
            stacklevel=3)
    return finite


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
             offset: int = 0,
             score_threshold: float = 0.0,
             max_num: int = -1) -> Tuple[Tensor, Tensor]:
    """Greedy DIoU-NMS; the calling convention of ``mmcv.ops.nms``.

    Args:
        boxes: ``(n, 4)`` boxes, ``'xyxy'``.
        scores: ``(n,)`` scores.
        iou_threshold: the paper's epsilon, in ``[0, 1]``; a box is
            suppressed where the criterion is ``>=`` it.
        beta: exponent of the centre-distance penalty, ``> 0``.
        offset: 0 or 1, added to every width and height as in
            ``mmcv.ops.nms`` (1: inclusive pixel coordinates).
        score_threshold: where ``> 0``, boxes scoring ``<=`` it are dropped
            first (as ``mmcv.ops.nms``).
        max_num: keep at most this many boxes; ``-1``: all.

    Returns:
        ``dets`` ``(k, 5)``: the kept boxes and their scores, by decreasing
        score; ``keep`` ``(k,)``: their indices into ``boxes`` (int64).
        Boxes with a non-finite coordinate or score are never kept (a
        RuntimeWarning says how many were dropped).
    """
    usable = _check_inputs(boxes, scores, iou_threshold, beta, offset)
    if score_threshold > 0:
        usable &= scores > score_threshold
    candidates = usable.nonzero().squeeze(1)
    order = candidates[torch.sort(
        scores[candidates], descending=True, stable=True).indices]
    sorted_boxes = boxes[order].detach()
    offset = int(offset)
    if offset:
        # (x1, y1, x2 + offset, y2 + offset): mmcv's widths, areas, overlaps
        sorted_boxes = torch.cat(
            [sorted_boxes[:, :2], sorted_boxes[:, 2:] + offset], 1)
    keep = order[_greedy_keep(sorted_boxes, iou_threshold, beta)]
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


def register_diou_nms() -> None:
    """Make ``nms=dict(type='diou_nms', ...)`` work in
    ``mmcv.ops.batched_nms`` (and so in mmdet's ``multiclass_nms`` and
    every dense head), which resolves the type by name in ``mmcv.ops.nms``.

    Idempotent; refuses to replace a different ``diou_nms`` already there.

    Raises:
        ImportError: ``mmcv.ops`` cannot be imported, so no detector can
            post-process with it (the functions of this module still work
            on tensors without mmcv).
        RuntimeError: ``mmcv.ops.nms`` already has a different
            ``diou_nms``.
    """
    try:
        # not `import mmcv.ops.nms as ...`: that name is also the function
        # mmcv.ops exports, and `import ... as` would bind the function
        mmcv_nms = importlib.import_module('mmcv.ops.nms')
    except ImportError as error:
        raise ImportError(
            "DIoU-NMS cannot be installed: mmcv.ops failed to import "
            f"({type(error).__name__}: {error}). nms=dict(type='diou_nms') "
            'needs mmcv.ops.batched_nms; install the full mmcv with its ops '
            '(mmcv-lite has no mmcv.ops), or call diou_nms() on tensors '
            'directly.') from error
    existing = getattr(mmcv_nms, 'diou_nms', None)
    if existing is None:
        mmcv_nms.diou_nms = diou_nms
    elif existing is not diou_nms:
        raise RuntimeError(
            'mmcv.ops.nms already defines a different "diou_nms" '
            f'({existing!r}); refusing to replace it')


def uses_diou_nms(cfg: Any) -> bool:
    """Whether a config (an mmengine Config, or dicts, ConfigDicts and
    lists, nested) names ``type='diou_nms'`` anywhere."""
    if not isinstance(cfg, dict) and callable(getattr(cfg, 'to_dict', None)):
        cfg = cfg.to_dict()  # an mmengine Config, which is no dict
    if isinstance(cfg, dict):
        return cfg.get('type') == 'diou_nms' or any(
            uses_diou_nms(v) for v in cfg.values())
    if isinstance(cfg, (list, tuple)):
        return any(uses_diou_nms(v) for v in cfg)
    return False


def register_diou_nms_if_used(cfg: Any) -> bool:
    """:func:`register_diou_nms` where ``cfg`` names ``type='diou_nms'``;
    nothing (and no mmcv import) otherwise. Returns whether it installed.

    The call a runner makes with its config before it builds the model, so
    that a config selects DIoU-NMS by its ``test_cfg`` alone.
    """
    if not uses_diou_nms(cfg):
        return False
    register_diou_nms()
    return True
