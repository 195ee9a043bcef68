"""Weighting and reduction of element-wise losses, with mmdet's semantics.

One difference from mmdet: the mean of an empty loss is a zero that stays
attached to the graph (mmdet's ``loss.mean()`` gives NaN there), so an image
without a single positive sample trains on instead of poisoning the step.

The losses that weight and reduce inside their own pass (the IoU family,
Focal, QFL, DFL) take the factor of their weighted sum from
:func:`fused_scale`, the same rules in one number.
"""
from typing import Optional, Union

import torch
from torch import Tensor

REDUCTIONS = ('none', 'mean', 'sum')
# mmdet divides by (avg_factor + this) so that an avg_factor of 0 is safe
AVG_FACTOR_EPS = torch.finfo(torch.float32).eps


def check_reduction(reduction: str) -> str:
    """Return ``reduction`` if it is 'none', 'mean' or 'sum', else raise."""
    if reduction not in REDUCTIONS:
        raise ValueError(f'reduction must be one of {REDUCTIONS}, got '
                         f'{reduction!r}')
    return reduction


def _mean(loss: Tensor) -> Tensor:
    # sum() of an empty tensor is a graph-attached zero; mean() would be NaN
    return loss.sum() if loss.numel() == 0 else loss.mean()


def reduce_loss(loss: Tensor, reduction: str) -> Tensor:
    """Reduce an element-wise loss: ``'none'`` keeps it, ``'mean'`` averages
    over all its elements, ``'sum'`` adds them up."""
    check_reduction(reduction)
    if reduction == 'mean':
        return _mean(loss)
    if reduction == 'sum':
        return loss.sum()
    return loss


def _check_avg_factor(reduction: str, avg_factor) -> None:
    if reduction == 'sum' and avg_factor is not None:
        raise ValueError('avg_factor can not be used with reduction="sum"')


def weight_reduce_loss(loss: Tensor,
                       weight: Optional[Tensor] = None,
                       reduction: str = 'mean',
                       avg_factor: Optional[Union[float, Tensor]] = None,
                       *,
                       loss_weight: float = 1.0) -> Tensor:
    """Multiply ``loss`` by ``weight`` (broadcast), then reduce it.

    With ``avg_factor`` and ``'mean'``, the weighted sum is divided by
    ``avg_factor + eps`` (eps of float32) instead of the element count; with
    ``'none'`` the weighted loss is returned as it is; ``'sum'`` with an
    ``avg_factor`` is a ValueError. These are mmdet's rules
    (``mmdet.models.losses.utils.weight_reduce_loss``). The result is then
    multiplied by ``loss_weight`` (a module's factor; at 1 the result is
    not copied).
    """
    check_reduction(reduction)
    _check_avg_factor(reduction, avg_factor)
    if weight is not None:
        loss = loss * weight
    if avg_factor is None:
        loss = reduce_loss(loss, reduction)
    elif reduction == 'mean':
        loss = loss.sum() / (avg_factor + AVG_FACTOR_EPS)
    return loss * loss_weight if loss_weight != 1 else loss


def fused_scale(weight: Optional[Tensor], reduction: str,
                avg_factor: Optional[Union[float, Tensor]], loss_weight: float,
                count: int) -> Optional[float]:
    """The factor of ``sum(weight * loss)`` for a loss that weights and
    reduces inside its own pass, by :func:`weight_reduce_loss`'s rules:
    ``loss_weight``, divided by ``avg_factor + eps`` or, for ``'mean'``, by
    the ``count`` of loss elements (with ``'none'`` the factor of each
    weighted element, ``avg_factor`` unused).

    None where autograd must see the reduction: a weight that requires a
    gradient, or an ``avg_factor`` that is a tensor; the caller then
    reduces with :func:`weight_reduce_loss`. Raises as it does for a bad
    ``reduction`` and for ``avg_factor`` with ``'sum'``.
    """
    check_reduction(reduction)
    _check_avg_factor(reduction, avg_factor)
    if (weight is not None and weight.requires_grad
            or isinstance(avg_factor, Tensor)):
        return None
    scale = float(loss_weight)
    if reduction == 'none':
        return scale
    if avg_factor is not None:
        scale /= avg_factor + AVG_FACTOR_EPS
    elif reduction == 'mean' and count > 0:
        scale /= count
    return scale
