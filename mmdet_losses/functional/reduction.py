"""Weighting and reduction of element-wise losses, with mmdet's semantics.

One difference from mmdet: the mean of an empty loss is a zero that stays
attached to the graph (mmdet's ``loss.mean()`` gives NaN there), so an image
without a single positive sample trains on instead of poisoning the step.
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


def weight_reduce_loss(loss: Tensor,
                       weight: Optional[Tensor] = None,
                       reduction: str = 'mean',
                       avg_factor: Optional[Union[float,
                                                  Tensor]] = None) -> Tensor:
    """Multiply ``loss`` by ``weight`` (broadcast), then reduce it.

    With ``avg_factor`` and ``'mean'``, the weighted sum is divided by
    ``avg_factor + eps`` (eps of float32) instead of the element count; with
    ``'none'`` the weighted loss is returned as it is; ``'sum'`` with an
    ``avg_factor`` is a ValueError. These are mmdet's rules
    (``mmdet.models.losses.utils.weight_reduce_loss``).
    """
    check_reduction(reduction)
    if weight is not None:
        loss = loss * weight
    if avg_factor is None:
        return reduce_loss(loss, reduction)
    if reduction == 'mean':
        return loss.sum() / (avg_factor + AVG_FACTOR_EPS)
    if reduction == 'sum':
        raise ValueError('avg_factor can not be used with reduction="sum"')
    return loss
