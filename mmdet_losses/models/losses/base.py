"""mmdet's loss-module API, shared by every loss module of this package.

``__init__(..., reduction='mean', loss_weight=1.0)`` and
``forward(pred, target, weight=None, avg_factor=None,
reduction_override=None)``; the formulas live in
:mod:`mmdet_losses.functional`.

The idioms the modules share, each in one place:

* :func:`zero_weight_loss`: mmdet's graph-attached zero for a weight
  without a positive entry;
* :func:`positive_rows_loss` (with :func:`attached_zeros`): a per-row loss
  computed on the rows of positive weight only, the others a finite zero
  in the graph (box losses that dense heads hand every prior);
* :func:`check_avg_factor`, :func:`negative_labels_to`,
  :class:`SpatialLayout`: mmdet's ``avg_factor`` rule, its negative labels
  and its dense ``(N, C, d1, ...)`` maps;
* :class:`LossArgumentError`: the arguments mmdet asserts on.
"""
from typing import Callable, Optional

import torch
from mmdet.structures.bbox import get_box_tensor
from torch import Tensor, nn

from mmdet_losses.functional.boxes import check_box_format, convert_boxes
from mmdet_losses.functional.reduction import (REDUCTIONS, check_reduction,
                                               weight_reduce_loss)


class LossArgumentError(ValueError, AssertionError):
    """An argument mmdet's same-named loss rejects with an ``assert``
    (``use_sigmoid=False`` for Focal, an IoU ``mode`` it does not know, a
    weight of the wrong shape, ...): raised as a ValueError with a message,
    and an AssertionError too, so code written against mmdet's classes
    catches it where it caught theirs."""


# a loss of ``(pred, target)`` row pairs, one value per row
RowLoss = Callable[[Tensor, Tensor], Tensor]


def has_positive(weight: Tensor) -> bool:
    """``torch.any(weight > 0)``, mmdet's test, through a max: a bool
    temporary is several times slower on CPU."""
    return weight.numel() > 0 and bool(weight.max() > 0)


def zero_weight_loss(pred: Tensor,
                     weight: Optional[Tensor],
                     reduction: Optional[str] = None) -> Optional[Tensor]:
    """mmdet's shortcut for a weight without a positive entry.

    Returns ``(pred * weight).sum()``, a zero that keeps ``pred`` in the
    graph (DDP needs every output to receive a gradient) without computing
    a loss on rows that may hold garbage; a ``(n,)`` weight of an ``(n, k)``
    ``pred`` is broadcast over the rows. Returns None where the loss is to
    be computed: no weight, a positive entry, or ``reduction == 'none'``
    (mmdet's IoU-family losses then return the per-box losses; its L1 and
    smooth L1 losses take the shortcut whatever the reduction: pass None).
    """
    if weight is None or reduction == 'none' or has_positive(weight):
        return None
    if pred.dim() == weight.dim() + 1:
        weight = weight.unsqueeze(1)
    return (pred * weight).sum()


def negative_labels_to(labels: Tensor, value: int) -> Tensor:
    """Integer ``labels`` with every negative one replaced by ``value``.

    mmdet's sigmoid losses read a negative label as "no class": QFL's
    ``(labels, scores)`` and Focal's CUDA op as background (a negative for
    every class), the sigmoid cross-entropy as ignored. The functional
    losses here take ``[0, C]`` (and ``ignore_index``) and name any other
    label as an error; the modules map negatives first, so that mmdet's
    inputs keep their meaning. Labels above the range still reach the
    check.
    """
    if labels.is_floating_point() or labels.numel() == 0:
        return labels
    return labels.masked_fill(labels < 0, value)


def check_avg_factor(reduction: str, avg_factor) -> None:
    """mmdet's rule, kept also where a loss returns early (empty input):
    ``avg_factor`` with ``reduction='sum'`` is a ValueError."""
    if reduction == 'sum' and avg_factor is not None:
        raise ValueError('avg_factor can not be used with reduction="sum"')


def attached_zeros(pred: Tensor, size: int, like: Tensor) -> Tensor:
    """``size`` zeros of ``like``'s dtype and device, attached to the graph
    of ``pred`` with a zero gradient; finite even where ``pred`` holds inf
    or NaN (the sum of an empty slice, not ``pred * 0``)."""
    return like.new_zeros(size) + pred.reshape(-1)[:0].sum().to(like.dtype)


def positive_rows_loss(row_loss: RowLoss, pred: Tensor, target: Tensor,
                       weight: Optional[Tensor]) -> Tensor:
    """The ``(n,)`` per-row loss, computed on the rows with a positive
    weight only.

    Dense heads hand a box loss every prior, with zero weights and
    arbitrary targets (zeros, huge or degenerate boxes) on the negatives:
    ``row_loss(pred[keep], target[keep])`` is computed on the rows whose
    weight (``(n,)``, or ``(n, k)`` averaged over ``k``) is positive; the
    other rows are 0, attached to ``pred``'s graph (every row receives a
    zero gradient, so DDP sees every output used) and finite whatever the
    rows hold. Without a weight every row is computed.
    """
    if weight is None:
        return row_loss(pred, target)
    if weight.dim() > 1:
        weight = weight.mean(-1)
    keep = (weight > 0).nonzero()[:, 0]
    if len(keep) == len(weight):
        return row_loss(pred, target)
    kept = row_loss(pred[keep], target[keep])
    return attached_zeros(pred, pred.size(0), kept).index_add(0, keep, kept)


def _broadcasts(shape: torch.Size, to: torch.Size) -> bool:
    return all(a in (1, b) for a, b in zip(shape, to))


class SpatialLayout:
    """``(N, C, d1, ...)`` class scores as the ``(M, C)`` rows the
    classification losses take (``M = N * d1 * ...``), and back.

    mmdet's ``FocalLoss`` and ``QualityFocalLoss`` (with a tensor target)
    accept dense maps with a target of the same shape; this carries the
    prediction, the target (same shape, or labels ``(N, d1, ...)``) and the
    weight (same shape as the prediction, or ``(N, d1, ...)``) to rows,
    and a ``'none'`` loss back to the map.
    """

    def __init__(self, pred: Tensor):
        self.shape = pred.shape

    def rows(self, x: Tensor) -> Tensor:
        """A tensor of (or broadcast to) the prediction's shape as
        ``(M, C)`` rows, or one of (or broadcast to) ``(N, d1, ...)`` as
        ``(M,)``."""
        spatial = self.shape[:1] + self.shape[2:]
        for shape in (self.shape, spatial):
            if x.dim() == len(shape) and _broadcasts(x.shape, shape):
                x = x.expand(shape)
                if shape == spatial:
                    return x.reshape(-1)
                return x.movedim(1, -1).reshape(-1, self.shape[1])
        raise LossArgumentError(
            f'expected a tensor of shape {tuple(self.shape)} '
            f'or {tuple(spatial)} (or one that broadcasts to '
            f'them) with pred of shape {tuple(self.shape)}, got '
            f'{tuple(x.shape)}')

    def restore(self, loss: Tensor) -> Tensor:
        """A ``'none'`` loss of ``(M, C)`` (element-wise) or ``(M,)``
        (summed over classes) back to ``(N, C, d1, ...)`` or
        ``(N, d1, ...)``."""
        spatial = self.shape[:1] + self.shape[2:]
        if loss.dim() == 1:
            return loss.reshape(spatial)
        return loss.reshape(*spatial, self.shape[1]).movedim(-1, 1)


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
        """The graph-attached zero for an all-zero weight, or None
        (:func:`zero_weight_loss`; not taken under ``'none'``)."""
        return zero_weight_loss(pred, weight, reduction)

    @staticmethod
    def per_box_weight(weight: Optional[Tensor],
                       pred: Tensor) -> Optional[Tensor]:
        """mmdet averages an ``(n, 4)`` weight to ``(n,)``."""
        if weight is not None and weight.dim() > 1:
            if weight.shape != pred.shape:
                raise LossArgumentError(
                    f'an (n, 4) weight must match pred, got '
                    f'{tuple(weight.shape)} and '
                    f'{tuple(pred.shape)}')
            weight = weight.mean(-1)
        return weight

    def extra_repr(self) -> str:
        return super().extra_repr() + f', box_format={self.box_format!r}'


class RotatedPairLoss(BaseLoss):
    """A loss of decoded rotated box pairs (mmrotate's ``rbox``, ``(n, 5)``
    tensors or ``RotatedBoxes``), computed row by row by :meth:`pairs` on
    the rows with a positive weight only (:func:`positive_rows_loss`);
    an ``(n, 5)`` weight is averaged to ``(n,)``."""

    def pairs(self, pred: Tensor, target: Tensor) -> Tensor:
        """The ``(n,)`` loss of ``n`` box pairs."""
        raise NotImplementedError

    def forward(self,
                pred,
                target,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                **kwargs) -> Tensor:
        """
        Args:
            pred, target: ``(n, 5)`` rotated boxes.
            weight: ``(n,)`` or ``(n, 5)`` (averaged to ``(n,)``) weights.
            avg_factor: divides the sum instead of n under ``'mean'``.
            reduction_override: None, ``'none'``, ``'mean'`` or ``'sum'``.
        """
        reduction = self.resolve_reduction(reduction_override)
        pred, target = get_box_tensor(pred), get_box_tensor(target)
        if weight is not None and weight.dim() > 1:
            weight = weight.mean(-1)
        loss = positive_rows_loss(self.pairs, pred, target, weight)
        return self.loss_weight * weight_reduce_loss(loss, weight, reduction,
                                                     avg_factor)
