"""Regression loss modules: ``L1Loss``, ``SmoothL1Loss`` and ``MSELoss``,
with mmdet's names and arguments, on
:mod:`mmdet_losses.functional.regression`."""
from typing import Optional

from torch import Tensor

from mmdet_losses.functional import regression
from mmdet_losses.registry import MODELS
from .base import (BaseLoss, LossArgumentError, check_avg_factor,
                   zero_weight_loss)


def check_same_shape(pred: Tensor, target: Tensor) -> None:
    """mmdet's L1 and smooth L1 assert equal shapes (an empty target aside:
    the loss is then a zero)."""
    if target.numel() and pred.shape != target.shape:
        raise LossArgumentError(
            'pred and target must have the same shape, got '
            f'{tuple(pred.shape)} and {tuple(target.shape)}')


@MODELS.register_module()
class L1Loss(BaseLoss):
    """L1 loss ``|pred - target|``.

    Args:
        reduction, loss_weight: see :class:`.BaseLoss`.
    """

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        # mmdet's order: the all-zero-weight shortcut comes first
        zero = zero_weight_loss(pred, weight)
        if zero is not None:
            return zero
        reduction = self.resolve_reduction(reduction_override)
        # also for an empty target, where the functional returns early
        check_avg_factor(reduction, avg_factor)
        check_same_shape(pred, target)
        return self.loss_weight * regression.l1_loss(pred, target, weight,
                                                     reduction, avg_factor)


@MODELS.register_module()
class SmoothL1Loss(BaseLoss):
    """Smooth L1 loss (Fast R-CNN): quadratic below ``beta``, linear above.

    Args:
        beta: the threshold, > 0 (1.0 in Fast R-CNN).
        reduction, loss_weight: see :class:`.BaseLoss`.
    """

    def __init__(self,
                 beta: float = 1.0,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0):
        super().__init__(reduction, loss_weight)
        if beta <= 0:
            raise LossArgumentError(f'beta must be positive, got {beta}')
        self.beta = beta

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                **kwargs) -> Tensor:
        # mmdet's order: the all-zero-weight shortcut comes first
        zero = zero_weight_loss(pred, weight)
        if zero is not None:
            return zero
        reduction = self.resolve_reduction(reduction_override)
        # also for an empty target, where the functional returns early
        check_avg_factor(reduction, avg_factor)
        check_same_shape(pred, target)
        return self.loss_weight * regression.smooth_l1_loss(
            pred, target, weight, reduction, avg_factor, beta=self.beta)

    def extra_repr(self) -> str:
        return super().extra_repr() + f', beta={self.beta}'


@MODELS.register_module()
class MSELoss(BaseLoss):
    """Squared error ``(pred - target)^2``.

    Args:
        reduction, loss_weight: see :class:`.BaseLoss`.
    """

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        reduction = self.resolve_reduction(reduction_override)
        return self.loss_weight * regression.mse_loss(pred, target, weight,
                                                      reduction, avg_factor)
