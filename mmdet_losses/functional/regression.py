r"""Element-wise regression losses: L1, smooth L1 and squared error.

* L1: :math:`|p - t|`.
* Smooth L1 (Girshick, Fast R-CNN, ICCV 2015, arXiv:1504.08083):
  :math:`0.5 d^2 / \beta` where :math:`d = |p - t| < \beta`, else
  :math:`d - 0.5 \beta`; ``beta = 1`` in the paper.
* MSE: :math:`(p - t)^2`.

The element-wise values are ``torch.nn.functional``'s; weighting and
reduction are mmdet's (:mod:`.reduction`). An empty target gives a zero
attached to the graph, as mmdet's ``l1_loss`` and ``smooth_l1_loss`` do.
"""
from typing import Optional

import torch.nn.functional as F
from torch import Tensor

from .reduction import weight_reduce_loss


def _check_same_shape(pred: Tensor, target: Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError('pred and target must have the same shape, got '
                         f'{tuple(pred.shape)} and {tuple(target.shape)}')


def l1_loss(pred: Tensor,
            target: Tensor,
            weight: Optional[Tensor] = None,
            reduction: str = 'mean',
            avg_factor: Optional[float] = None) -> Tensor:
    """L1 loss :math:`|p - t|`, weighted and reduced as mmdet does."""
    if target.numel() == 0:
        return pred.sum() * 0
    _check_same_shape(pred, target)
    loss = F.l1_loss(pred, target, reduction='none')
    return weight_reduce_loss(loss, weight, reduction, avg_factor)


def smooth_l1_loss(pred: Tensor,
                   target: Tensor,
                   weight: Optional[Tensor] = None,
                   reduction: str = 'mean',
                   avg_factor: Optional[float] = None,
                   beta: float = 1.0) -> Tensor:
    """Smooth L1 loss (Fast R-CNN), quadratic below ``beta`` (> 0)."""
    if beta <= 0:
        raise ValueError(f'beta must be positive, got {beta}')
    if target.numel() == 0:
        return pred.sum() * 0
    _check_same_shape(pred, target)
    loss = F.smooth_l1_loss(pred, target, reduction='none', beta=beta)
    return weight_reduce_loss(loss, weight, reduction, avg_factor)


def mse_loss(pred: Tensor,
             target: Tensor,
             weight: Optional[Tensor] = None,
             reduction: str = 'mean',
             avg_factor: Optional[float] = None) -> Tensor:
    """Squared error :math:`(p - t)^2`, weighted and reduced as mmdet does.

    As a classification loss behind a sigmoid it is non-convex in the
    logits; prefer :func:`.binary_cross_entropy` there."""
    _check_same_shape(pred, target)
    loss = F.mse_loss(pred, target, reduction='none')
    return weight_reduce_loss(loss, weight, reduction, avg_factor)
