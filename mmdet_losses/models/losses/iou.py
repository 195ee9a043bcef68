"""IoU-family loss modules: ``IoULoss``, ``GIoULoss``, ``DIoULoss`` and
``CIoULoss``, with mmdet's names and arguments, on
:mod:`mmdet_losses.functional.iou_family`."""
import warnings
from typing import Optional

from torch import Tensor

from mmdet_losses.functional import iou_family
from mmdet_losses.registry import MODELS
from .base import BaseBoxLoss, LossArgumentError


class _IoUFamilyLoss(BaseBoxLoss):
    """Common forward of the four modules; ``_loss`` is the functional."""

    def __init__(self, eps: float, reduction: str, loss_weight: float,
                 box_format: str):
        super().__init__(reduction, loss_weight, box_format)
        self.eps = eps

    def _loss(self, pred: Tensor, target: Tensor, **kwargs) -> Tensor:
        raise NotImplementedError

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                points: Optional[Tensor] = None,
                **kwargs) -> Tensor:
        """
        Args:
            pred: predicted boxes ``(n, 4)`` in ``box_format``.
            target: target boxes ``(n, 4)`` in ``box_format``.
            weight: ``(n,)`` or ``(n, 4)`` (averaged to ``(n,)``).
            avg_factor: divide the weighted sum by it (``'mean'``).
            reduction_override: None, ``'none'``, ``'mean'`` or ``'sum'``.
            points: ``(n, 2)``, the points of ``'ltrb'`` distances.

        Returns:
            ``(n,)`` with ``reduction='none'``, else a scalar.
        """
        reduction = self.resolve_reduction(reduction_override)
        zero = self.zero_weight_loss(pred, weight, reduction)
        if zero is not None:
            return zero
        weight = self.per_box_weight(weight, pred)
        pred, target = self.to_xyxy(pred, target, points)
        # loss_weight goes in: the reduced loss and its gradient come out
        # of one pass
        return self._loss(
            pred,
            target,
            weight=weight,
            reduction=reduction,
            avg_factor=avg_factor,
            loss_weight=self.loss_weight)

    def extra_repr(self) -> str:
        return super().extra_repr() + f', eps={self.eps}'


@MODELS.register_module()
class IoULoss(_IoUFamilyLoss):
    """UnitBox IoU loss (arXiv:1608.01471): ``-ln IoU`` (``mode='log'``),
    ``1 - IoU`` (``'linear'``) or ``1 - IoU^2`` (``'square'``).

    Args:
        linear: deprecated mmdet switch for ``mode='linear'``.
        eps: floor of the union and of the IoU.
        reduction, loss_weight: see :class:`.BaseLoss`.
        mode: ``'log'`` (default), ``'linear'`` or ``'square'``.
        box_format: ``'xyxy'`` (default), ``'cxcywh'`` or ``'ltrb'``.
    """

    def __init__(self,
                 linear: bool = False,
                 eps: float = 1e-6,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 mode: str = 'log',
                 box_format: str = 'xyxy'):
        super().__init__(eps, reduction, loss_weight, box_format)
        if mode not in iou_family.IOU_MODES:
            raise LossArgumentError(
                f'mode must be one of {iou_family.IOU_MODES}, '
                f'got {mode!r}')
        if linear:
            warnings.warn(
                'IoULoss(linear=True) is deprecated, use '
                "mode='linear'", DeprecationWarning)
            mode = 'linear'
        self.linear = linear
        self.mode = mode

    def _loss(self, pred: Tensor, target: Tensor, **kwargs) -> Tensor:
        return iou_family.iou_loss(pred, target, self.mode, self.eps, **kwargs)

    def extra_repr(self) -> str:
        return super().extra_repr() + f', mode={self.mode!r}'


@MODELS.register_module()
class GIoULoss(_IoUFamilyLoss):
    """GIoU loss ``1 - IoU + (C - U) / C`` (arXiv:1902.09630).

    Args:
        eps: floor of the union and of the enclosing area.
        reduction, loss_weight: see :class:`.BaseLoss`.
        box_format: ``'xyxy'`` (default), ``'cxcywh'`` or ``'ltrb'``.
    """

    def __init__(self,
                 eps: float = 1e-6,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 box_format: str = 'xyxy'):
        super().__init__(eps, reduction, loss_weight, box_format)

    def _loss(self, pred: Tensor, target: Tensor, **kwargs) -> Tensor:
        return iou_family.giou_loss(pred, target, self.eps, **kwargs)


@MODELS.register_module()
class DIoULoss(_IoUFamilyLoss):
    """DIoU loss ``1 - IoU + rho^2 / c^2`` (arXiv:1911.08287).

    Args:
        eps: floor of the union, added to ``c^2``.
        reduction, loss_weight: see :class:`.BaseLoss`.
        box_format: ``'xyxy'`` (default), ``'cxcywh'`` or ``'ltrb'``.
    """

    def __init__(self,
                 eps: float = 1e-6,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 box_format: str = 'xyxy'):
        super().__init__(eps, reduction, loss_weight, box_format)

    def _loss(self, pred: Tensor, target: Tensor, **kwargs) -> Tensor:
        return iou_family.diou_loss(pred, target, self.eps, **kwargs)


@MODELS.register_module()
class CIoULoss(_IoUFamilyLoss):
    """CIoU loss ``1 - IoU + rho^2 / c^2 + alpha v`` (arXiv:1911.08287).

    Args:
        eps: floor of the union, added to ``c^2``.
        reduction, loss_weight: see :class:`.BaseLoss`.
        alpha_iou_threshold: alpha is 0 where ``IoU <= threshold``.
            Default ``0.5``: mmdet's ``CIoULoss``, so that mmdet configs
            train the same in this scope. ``None``: never gated, as the AAAI
            paper and ``torchvision.ops.complete_box_iou_loss`` (and the
            default of :func:`mmdet_losses.functional.ciou_loss`).
        box_format: ``'xyxy'`` (default), ``'cxcywh'`` or ``'ltrb'``.
    """

    def __init__(self,
                 eps: float = 1e-6,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 alpha_iou_threshold: Optional[float] = 0.5,
                 box_format: str = 'xyxy'):
        super().__init__(eps, reduction, loss_weight, box_format)
        self.alpha_iou_threshold = alpha_iou_threshold

    def _loss(self, pred: Tensor, target: Tensor, **kwargs) -> Tensor:
        return iou_family.ciou_loss(pred, target, self.eps,
                                    self.alpha_iou_threshold, **kwargs)

    def extra_repr(self) -> str:
        return (super().extra_repr() +
                f', alpha_iou_threshold={self.alpha_iou_threshold}')
