"""mmdet's loss-module API, shared by every loss module of this package.

``__init__(..., reduction='mean', loss_weight=1.0)`` and
``forward(pred, target, weight=None, avg_factor=None,
reduction_override=None)``; the formulas live in
:mod:`mmdet_losses.functional`.
"""
from typing import Optional

from torch import Tensor, nn

from mmdet_losses.functional.boxes import check_box_format, convert_boxes
from mmdet_losses.functional.reduction import REDUCTIONS, check_reduction


def has_positive(weight: Tensor) -> bool:
    """``torch.any(weight > 0)``, mmdet's test, through a max: a bool
    temporary is several times slower on CPU."""
    return weight.numel() > 0 and bool(weight.max() > 0)


class BaseLoss(nn.Module):
    """Holds ``reduction`` and ``loss_weight``; resolves
    ``reduction_override``.

    Args:
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.
        loss_weight: factor applied to the loss.
    """

    def __init__(self, reduction: str = 'mean', loss_weight: float = 1.0):
        super().__init__()
        self.reduction = check_reduction(reduction)
        self.loss_weight = loss_weight

    def resolve_reduction(self, reduction_override: Optional[str]) -> str:
        """``reduction_override`` if given, else ``self.reduction``.

        An override outside None, 'none', 'mean', 'sum' raises an
        AssertionError, as mmdet's ``assert`` does (raised explicitly, so it
        survives ``python -O``).
        """
        if reduction_override is None:
            return self.reduction
        if reduction_override not in REDUCTIONS:
            raise AssertionError('reduction_override must be None or one of '
                                 f'{REDUCTIONS}, got {reduction_override!r}')
        return reduction_override

    def extra_repr(self) -> str:
        return f'reduction={self.reduction!r}, loss_weight={self.loss_weight}'


class BaseBoxLoss(BaseLoss):
    """An IoU-family loss of box pairs in a named format.

    mmdet's IoU-loss conventions: an all-zero ``weight`` returns
    ``(pred * weight).sum()``, a zero that keeps ``pred`` in the graph
    (DDP needs every output to receive a gradient) without computing a loss
    on boxes that may be garbage; an ``(n, 4)`` weight is averaged to
    ``(n,)``. With ``reduction='none'`` the all-zero shortcut is not taken
    and the per-box losses (times 0) come back, shape ``(n,)``.

    Args:
        box_format: format of both ``pred`` and ``target``: ``'xyxy'``
            (decoded boxes, the default; mmdet heads need
            ``reg_decoded_bbox=True``), ``'cxcywh'``, or ``'ltrb'``
            distances from ``points`` (FCOS/GFL), which ``forward`` then
            needs.
    """

    def __init__(self,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 box_format: str = 'xyxy'):
        super().__init__(reduction, loss_weight)
        if box_format not in ('xyxy', 'cxcywh', 'ltrb'):
            check_box_format(box_format)
            raise ValueError(f'box losses take box_format xyxy, cxcywh or '
                             f'ltrb, got {box_format!r}')
        self.box_format = box_format

    def to_xyxy(self, pred: Tensor, target: Tensor, points: Optional[Tensor]):
        """Both box sets in ``'xyxy'``, converted once."""
        if self.box_format == 'xyxy':
            if points is not None:
                raise ValueError("points are only used with box_format="
                                 "'ltrb'")
            return pred, target
        return (convert_boxes(pred, self.box_format, 'xyxy', points),
                convert_boxes(target, self.box_format, 'xyxy', points))

    def zero_weight_loss(self, pred: Tensor, weight: Optional[Tensor],
                         reduction: str) -> Optional[Tensor]:
        """The graph-attached zero for an all-zero weight, or None."""
        if weight is None or reduction == 'none' or has_positive(weight):
            return None
        if pred.dim() == weight.dim() + 1:
            weight = weight.unsqueeze(1)
        return (pred * weight).sum()

    @staticmethod
    def per_box_weight(weight: Optional[Tensor],
                       pred: Tensor) -> Optional[Tensor]:
        """mmdet averages an ``(n, 4)`` weight to ``(n,)``."""
        if weight is not None and weight.dim() > 1:
            if weight.shape != pred.shape:
                raise ValueError(f'an (n, 4) weight must match pred, got '
                                 f'{tuple(weight.shape)} and '
                                 f'{tuple(pred.shape)}')
            weight = weight.mean(-1)
        return weight

    def extra_repr(self) -> str:
        return super().extra_repr() + f', box_format={self.box_format!r}'
