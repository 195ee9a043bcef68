r"""The two representations of Generalized Focal Loss (Li et al., NeurIPS
2020, arXiv:2006.04388) that heads compute and QFL / DFL consume.

* Joint classification-quality: on a positive the classification target is
  the IoU of its *predicted* box with its ground truth (QFL's soft target
  ``y``), 0 elsewhere (:func:`iou_quality_target`).
* General distribution: each side's distance is a distribution over the
  ``n + 1`` bins :math:`y_i = i \Delta` (``reg_max = n``, ``bin_interval =
  Delta``); the distance is its expectation
  :math:`\hat{y} = \sum_i S_i y_i` with :math:`S = \mathrm{softmax}`
  (:func:`distribution_to_distance`). DFL's target is the distance itself,
  kept below the last bin (:func:`clamp_dfl_target`); the DFL of
  :mod:`.gfocal` takes the interval as its ``delta``.

Distances are in units of the feature stride, as in GFL: with ``n = 16`` and
``Delta = 1`` a side reaches at most 16 strides from its point.
"""
import torch
from torch import Tensor

from .iou_geometry import pair_geometry

# GFL (and mmdet's bbox2distance) keep DFL targets 0.1 bin below the last
# bin, so that the right neighbour bin n exists for every target
DFL_TARGET_MARGIN = 0.1


@torch.no_grad()
def iou_quality_target(pred_boxes: Tensor,
                       target_boxes: Tensor,
                       eps: float = 1e-6) -> Tensor:
    """IoU of each predicted ``'xyxy'`` box with its own target box, ``(n,
    4)`` each -> ``(n,)``, without gradient: QFL's soft label.

    ``eps`` floors the union (zero-area pairs get 0).
    """
    if pred_boxes.shape != target_boxes.shape or pred_boxes.size(-1) != 4:
        raise ValueError('pred_boxes and target_boxes must both have shape '
                         f'(n, 4), got {tuple(pred_boxes.shape)} and '
                         f'{tuple(target_boxes.shape)}')
    dtype = torch.promote_types(pred_boxes.dtype, torch.float32)
    return pair_geometry(pred_boxes.detach().t().to(dtype),
                         target_boxes.t().to(dtype), eps).iou


def _bins(reg_max: int, bin_interval: float, like: Tensor) -> Tensor:
    return torch.arange(
        reg_max + 1, dtype=like.dtype, device=like.device) * bin_interval


def distribution_to_distance(logits: Tensor,
                             bin_interval: float = 1.0) -> Tensor:
    r"""Expected distance :math:`\sum_i \mathrm{softmax}(x)_i \, i \Delta`
    of distribution logits ``(..., n + 1)`` -> ``(...)``.

    With ``bin_interval = 1`` this is mmdet's ``Integral`` layer.
    """
    if bin_interval <= 0:
        raise ValueError(f'bin_interval must be positive, got {bin_interval}')
    # half-precision logits are integrated in float32
    probs = logits.softmax(
        -1, dtype=torch.promote_types(logits.dtype, torch.float32))
    return probs @ _bins(logits.size(-1) - 1, bin_interval, probs)


def clamp_dfl_target(distance: Tensor,
                     reg_max: int,
                     bin_interval: float = 1.0) -> Tensor:
    """DFL's target: ``distance`` (strides), clamped to ``[0, (reg_max -
    0.1) * bin_interval]`` so that the bin right of it exists.

    A distance beyond the last bin is learnt as the last bin, as GFL does;
    a negative one (a point outside its box) as 0.
    """
    if bin_interval <= 0:
        raise ValueError(f'bin_interval must be positive, got {bin_interval}')
    return distance.clamp(
        min=0, max=(reg_max - DFL_TARGET_MARGIN) * bin_interval)
