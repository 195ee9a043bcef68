"""Box generators and straightforward reference formulas for the loss tests.

The references are the textbook formulas written with plain torch ops and
differentiated by autograd; they share no code with mmdet_losses, so a test
comparing both checks the analytic derivatives of the package. They follow
the package's numeric conventions (union and enclosing area floored at eps,
``c^2 + eps``, IoU floored at eps for the IoU loss) so that, in float64,
both agree to rounding.
"""
import math
from typing import Optional

import torch
import torch.nn.functional as F


def random_boxes(n: int,
                 generator: torch.Generator,
                 dtype=torch.float64,
                 scale: float = 100.0,
                 min_size: float = 1.0) -> torch.Tensor:
    """``n`` valid ``'xyxy'`` boxes with corners in ``[0, scale]`` and sides
    of at least ``min_size``."""
    xy = torch.rand(n, 2, generator=generator, dtype=torch.float64) * scale
    wh = torch.rand(
        n, 2, generator=generator,
        dtype=torch.float64) * (scale / 2) + min_size
    return torch.cat([xy, xy + wh], dim=1).to(dtype)


def edge_case_pairs(dtype=torch.float64):
    """``(pred, target)`` pairs on which conventions are easy to get wrong:
    identical boxes, shared edges and corners, containment, disjoint and
    touching boxes, far apart boxes, a zero-width prediction, large boxes.
    """
    pairs = [
        ([0, 0, 10, 10], [0, 0, 10, 10]),  # identical
        ([0, 0, 10, 10], [0, 0, 20, 10]),  # shared left, top, bottom edges
        ([0, 0, 10, 10], [0, 0, 5, 8]),  # shared corner, target inside
        ([2, 3, 6, 7], [0, 0, 10, 10]),  # pred inside target
        ([0, 0, 10, 10], [20, 30, 25, 40]),  # disjoint
        ([0, 0, 10, 10], [10, 0, 20, 10]),  # touching along x = 10
        ([0, 0, 1, 1], [900, 900, 1000, 1000]),  # far apart
        ([5, 5, 5, 15], [0, 0, 10, 20]),  # zero-width prediction
        ([0, 0, 4e4, 3e4], [1e4, 1e3, 5e4, 2.5e4]),  # large
        ([1, 2, 3, 9], [1.5, 2, 3.5, 8]),  # elongated, shared top edge
    ]
    pred = torch.tensor([p for p, _ in pairs], dtype=dtype)
    target = torch.tensor([t for _, t in pairs], dtype=dtype)
    return pred, target


def reference_iou_family(pred: torch.Tensor,
                         target: torch.Tensor,
                         kind: str,
                         mode: str = 'log',
                         eps: float = 1e-7,
                         alpha_iou_threshold: Optional[float] = None):
    """Per-pair IoU / GIoU / DIoU / CIoU loss of ``'xyxy'`` boxes, written
    as the papers state it (CIoU's alpha without gradient)."""
    px1, py1, px2, py2 = pred.unbind(-1)
    tx1, ty1, tx2, ty2 = target.unbind(-1)
    iw = (torch.minimum(px2, tx2) - torch.maximum(px1, tx1)).clamp(min=0)
    ih = (torch.minimum(py2, ty2) - torch.maximum(py1, ty1)).clamp(min=0)
    inter = iw * ih
    pw, ph, tw, th = px2 - px1, py2 - py1, tx2 - tx1, ty2 - ty1
    union = (pw * ph + tw * th - inter).clamp(min=eps)
    iou = inter / union
    if kind == 'iou':
        iou = iou.clamp(min=eps)
        return {
            'log': -iou.log(),
            'linear': 1 - iou,
            'square': 1 - iou**2
        }[mode]
    cw = (torch.maximum(px2, tx2) - torch.minimum(px1, tx1)).clamp(min=0)
    ch = (torch.maximum(py2, ty2) - torch.minimum(py1, ty1)).clamp(min=0)
    if kind == 'giou':
        enclose = (cw * ch).clamp(min=eps)
        return 1 - iou + (enclose - union) / enclose
    rho2 = ((px1 + px2 - tx1 - tx2)**2 + (py1 + py2 - ty1 - ty2)**2) / 4
    diou = 1 - iou + rho2 / (cw**2 + ch**2 + eps)
    if kind == 'diou':
        return diou
    v = 4 / math.pi**2 * (torch.atan(tw / th) - torch.atan(pw / ph))**2
    with torch.no_grad():
        # v = 0 (equal aspect ratios) makes alpha v = 0 whatever alpha is
        alpha = torch.where(v > 0, v / (1 - iou + v), 0)
        if alpha_iou_threshold is not None:
            alpha = alpha * (iou > alpha_iou_threshold)
    return diou + alpha * v


def reference_focal(logits: torch.Tensor,
                    target: torch.Tensor,
                    gamma: float = 2.0,
                    alpha: Optional[float] = 0.25) -> torch.Tensor:
    """Element-wise sigmoid focal loss with soft targets ``(N, C)``."""
    p = logits.sigmoid()
    p_t_complement = p * (1 - target) + (1 - p) * target
    loss = F.binary_cross_entropy_with_logits(
        logits, target, reduction='none') * p_t_complement**gamma
    if alpha is not None:
        loss = loss * (alpha * target + (1 - alpha) * (1 - target))
    return loss


def reference_qfl(logits: torch.Tensor,
                  target: torch.Tensor,
                  beta: float = 2.0) -> torch.Tensor:
    """Row sums of QFL with soft targets ``(N, C)``."""
    p = logits.sigmoid()
    loss = F.binary_cross_entropy_with_logits(
        logits, target, reduction='none') * (target - p).abs()**beta
    return loss.sum(dim=1)


def reference_dfl(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """DFL of bin logits ``(M, K)`` and targets in bin units ``(M,)``:
    ``-(y_r - y) log S_l - (y - y_l) log S_r``."""
    log_s = logits.log_softmax(dim=1)
    left = target.floor().long()
    w_right = target - left
    rows = torch.arange(len(target))
    right = (left + 1).clamp(max=logits.size(1) - 1)
    return -((1 - w_right) * log_s[rows, left] + w_right * log_s[rows, right])


def one_hot_targets(labels: torch.Tensor,
                    num_classes: int,
                    scores: Optional[torch.Tensor] = None,
                    dtype=torch.float64) -> torch.Tensor:
    """``(N, C)`` targets of labels in ``[0, C]`` (``C`` = background):
    one-hot, or the score at the labelled class."""
    target = F.one_hot(labels, num_classes + 1)[:, :num_classes].to(dtype)
    if scores is not None:
        target = target * scores[:, None].to(dtype)
    return target
