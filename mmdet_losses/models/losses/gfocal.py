"""Generalized Focal Loss modules: ``QualityFocalLoss`` and
``DistributionFocalLoss``, with mmdet's names and arguments, on
:mod:`mmdet_losses.functional.gfocal`."""
from typing import Optional, Tuple, Union

from torch import Tensor

from mmdet_losses.functional import gfocal
from mmdet_losses.registry import MODELS
from .base import (BaseLoss, LossArgumentError, SpatialLayout,
                   negative_labels_to)


@MODELS.register_module()
class QualityFocalLoss(BaseLoss):
    """Quality Focal Loss (arXiv:2006.04388), mmdet's ``QualityFocalLoss``.

    Args:
        use_sigmoid: must be True (QFL is sigmoid only).
        beta: exponent of ``|y - sigma|`` (2.0).
        reduction, loss_weight: see :class:`.BaseLoss`.
        activated: ``pred`` are probabilities, not logits.
    """

    def __init__(self,
                 use_sigmoid: bool = True,
                 beta: float = 2.0,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 activated: bool = False):
        super().__init__(reduction, loss_weight)
        if use_sigmoid is not True:
            raise LossArgumentError(
                'QualityFocalLoss supports use_sigmoid=True only')
        self.use_sigmoid = use_sigmoid
        self.beta = beta
        self.activated = activated

    def forward(self,
                pred: Tensor,
                target: Union[Tuple[Tensor, Tensor], Tensor],
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """
        Args:
            pred: logits ``(N, C)`` (probabilities if ``activated``).
            target: ``(labels, scores)``, labels ``(N,)`` with ``C`` (or
                any negative label) = background and IoU scores ``(N,)``;
                or soft targets shaped like ``pred``, which may then be a
                map ``(N, C, d1, ...)``.
            weight: ``(N,)`` (``(N, d1, ...)`` for a map).
            avg_factor: divide the weighted sum by it (``'mean'``).
            reduction_override: None, ``'none'``, ``'mean'`` or ``'sum'``.
        """
        reduction = self.resolve_reduction(reduction_override)
        # the targets mmdet asserts on
        if isinstance(target, (tuple, list)):
            if len(target) != 2:
                raise LossArgumentError(
                    'a QFL target tuple must be (labels, scores), got '
                    f'{len(target)} elements')
        elif target.shape != pred.shape:
            raise LossArgumentError(
                f'a QFL target tensor must have the shape of pred '
                f'{tuple(pred.shape)}, got {tuple(target.shape)}')
        layout = None
        if pred.dim() > 2 and isinstance(target, Tensor):
            # mmdet's QualityFocalLoss takes a map (N, C, d1, ...) with a
            # soft target of its shape: the same loss on the rows
            layout = SpatialLayout(pred)
            pred, target = layout.rows(pred), layout.rows(target)
            if weight is not None:
                weight = layout.rows(weight)
        if isinstance(target, (tuple, list)):
            # mmdet's QFL reads a negative label as background
            labels, scores = target
            target = (negative_labels_to(labels, pred.size(1)), scores)
        loss = gfocal.quality_focal_loss(
            pred,
            target,
            weight,
            beta=self.beta,
            reduction=reduction,
            avg_factor=avg_factor,
            activated=self.activated,
            loss_weight=self.loss_weight)
        if layout is not None and reduction == 'none':
            loss = layout.restore(loss)
        return loss

    def extra_repr(self) -> str:
        return (super().extra_repr() +
                f', beta={self.beta}, activated={self.activated}')


@MODELS.register_module()
class DistributionFocalLoss(BaseLoss):
    """Distribution Focal Loss (arXiv:2006.04388), mmdet's
    ``DistributionFocalLoss``, with the bin interval as an option.

    ``pred`` has one column per bin: mmdet's ``reg_max = n`` gives ``n + 1``
    columns (ultralytics' ``reg_max = n`` gives ``n``). Targets must lie in
    ``[0, (bins - 1) * delta)``.

    Args:
        reduction, loss_weight: see :class:`.BaseLoss`.
        delta: bin interval: bins at ``0, delta, 2 delta, ...``; targets
            are distances in the same unit (divided by ``delta`` inside).
            Default 1, as mmdet.
    """

    def __init__(self,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 delta: float = 1.0):
        super().__init__(reduction, loss_weight)
        if delta <= 0:
            raise ValueError(f'delta must be positive, got {delta}')
        self.delta = delta

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """
        Args:
            pred: bin logits ``(M, bins)``.
            target: distances ``(M,)``.
            weight: ``(M,)``.
            avg_factor: divide the weighted sum by it (``'mean'``).
            reduction_override: None, ``'none'``, ``'mean'`` or ``'sum'``.
        """
        reduction = self.resolve_reduction(reduction_override)
        return gfocal.distribution_focal_loss(
            pred,
            target,
            weight,
            reduction,
            avg_factor,
            delta=self.delta,
            loss_weight=self.loss_weight)

    def extra_repr(self) -> str:
        return super().extra_repr() + f', delta={self.delta}'
