"""Classification loss modules: ``CrossEntropyLoss`` (softmax, or sigmoid
BCE with ``use_sigmoid=True``, or Mask R-CNN's mask BCE with
``use_mask=True``), ``NLLLoss`` and ``FocalLoss``, with mmdet's names and
arguments, on :mod:`mmdet_losses.functional.classification`."""
import warnings
from functools import partial
from typing import Callable, List, Optional

from torch import Tensor

from mmdet_losses.functional import classification
from mmdet_losses.registry import MODELS
from .base import (BaseLoss, LossArgumentError, SpatialLayout,
                   negative_labels_to)


@MODELS.register_module()
class CrossEntropyLoss(BaseLoss):
    """Cross-entropy, softmax or sigmoid (mmdet's ``CrossEntropyLoss``).

    Args:
        use_sigmoid: sigmoid BCE from logits; integer labels ``(N,)`` with
            ``C`` = background are expanded to one-hot.
        use_mask: Mask R-CNN's BCE of each RoI's own class mask.
        reduction, loss_weight: see :class:`.BaseLoss`.
        class_weight: per-class weights (softmax: torch's ``weight``;
            sigmoid: ``pos_weight``).
        ignore_index: label to leave out (default None: -100, torch's).
        avg_non_ignore: average over the labels not ignored only.
        label_smoothing: softmax only, as
            ``torch.nn.functional.cross_entropy``.
    """

    def __init__(self,
                 use_sigmoid: bool = False,
                 use_mask: bool = False,
                 reduction: str = 'mean',
                 class_weight: Optional[List[float]] = None,
                 ignore_index: Optional[int] = None,
                 loss_weight: float = 1.0,
                 avg_non_ignore: bool = False,
                 label_smoothing: float = 0.0):
        super().__init__(reduction, loss_weight)
        if use_sigmoid and use_mask:
            raise LossArgumentError(
                'use_sigmoid and use_mask exclude each other')
        if label_smoothing and (use_sigmoid or use_mask):
            raise ValueError('label_smoothing is for the softmax '
                             'cross-entropy only')
        self.use_sigmoid = use_sigmoid
        self.use_mask = use_mask
        self.class_weight = class_weight
        self.ignore_index = ignore_index
        self.avg_non_ignore = avg_non_ignore
        self.label_smoothing = label_smoothing
        if (ignore_index is not None and not avg_non_ignore
                and reduction == 'mean'):
            warnings.warn('CrossEntropyLoss with ignore_index averages over '
                          'all labels, ignored ones included; set '
                          'avg_non_ignore=True to average over the others '
                          '(torch does)')

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                ignore_index: Optional[int] = None,
                **kwargs) -> Tensor:
        """
        Args:
            cls_score: logits ``(N, C)`` (softmax: ``C`` includes the
                background class).
            label: integer labels ``(N,)`` (or targets shaped like
                ``cls_score`` for BCE); with ``use_sigmoid`` a negative
                label is ignored, as in mmdet.
            weight: per-sample weights.
            avg_factor: divide the weighted sum by it (``'mean'``).
            reduction_override: None, ``'none'``, ``'mean'`` or ``'sum'``.
            ignore_index: overrides the module's.
            kwargs: ``use_mask``'s ``label`` of each RoI, as mmdet passes
                it.
        """
        reduction = self.resolve_reduction(reduction_override)
        if ignore_index is None:
            ignore_index = self.ignore_index
        class_weight = None
        if self.class_weight is not None:
            class_weight = cls_score.new_tensor(self.class_weight)
        if self.use_mask:
            # mmdet asserts these
            if ignore_index is not None:
                raise LossArgumentError('the mask cross-entropy has no '
                                        'ignore_index')
            if reduction != 'mean' or avg_factor is not None:
                raise LossArgumentError(
                    "the mask cross-entropy takes reduction='mean' without "
                    'avg_factor only')
            loss = classification.mask_cross_entropy(
                cls_score,
                label,
                weight,
                reduction=reduction,
                avg_factor=avg_factor,
                class_weight=class_weight,
                ignore_index=ignore_index,
                **kwargs)
        elif self.use_sigmoid:
            if cls_score.dim() != label.dim():
                # mmdet ignores negative labels here
                label = negative_labels_to(
                    label, -100 if ignore_index is None else ignore_index)
            loss = classification.binary_cross_entropy(cls_score, label,
                                                       weight, reduction,
                                                       avg_factor,
                                                       class_weight,
                                                       ignore_index,
                                                       self.avg_non_ignore)
        else:
            loss = classification.cross_entropy(cls_score, label, weight,
                                                reduction, avg_factor,
                                                class_weight, ignore_index,
                                                self.avg_non_ignore,
                                                self.label_smoothing)
        return self.loss_weight * loss

    @property
    def cls_criterion(self) -> Callable[..., Tensor]:
        """The functional loss of this configuration, called as mmdet's
        ``CrossEntropyLoss.cls_criterion`` is: ``(cls_score, label,
        weight, reduction=..., avg_factor=..., class_weight=...,
        ignore_index=..., avg_non_ignore=...)``."""
        if self.use_mask:
            return classification.mask_cross_entropy
        if self.use_sigmoid:
            return classification.binary_cross_entropy
        return partial(
            classification.cross_entropy, label_smoothing=self.label_smoothing)

    def extra_repr(self) -> str:
        return (super().extra_repr() + f', use_sigmoid={self.use_sigmoid}, '
                f'avg_non_ignore={self.avg_non_ignore}')


@MODELS.register_module()
class NLLLoss(BaseLoss):
    """Negative log-likelihood of log-probabilities (``LogSoftmax`` +
    ``NLLLoss`` = ``CrossEntropyLoss``).

    Args:
        reduction, loss_weight: see :class:`.BaseLoss`.
        class_weight: per-class weights.
        ignore_index: label to leave out.
        avg_non_ignore: average over the labels not ignored only.
    """

    def __init__(self,
                 reduction: str = 'mean',
                 class_weight: Optional[List[float]] = None,
                 ignore_index: int = -100,
                 loss_weight: float = 1.0,
                 avg_non_ignore: bool = False):
        super().__init__(reduction, loss_weight)
        self.class_weight = class_weight
        self.ignore_index = ignore_index
        self.avg_non_ignore = avg_non_ignore

    def forward(self,
                pred: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """``pred``: log-probabilities ``(N, C)``; ``label``: ``(N,)``."""
        reduction = self.resolve_reduction(reduction_override)
        class_weight = None
        if self.class_weight is not None:
            class_weight = pred.new_tensor(self.class_weight)
        return self.loss_weight * classification.nll_loss(
            pred, label, weight, reduction, avg_factor, class_weight,
            self.ignore_index, self.avg_non_ignore)


def _fits_rows(weight: Tensor, n: int, c: int) -> bool:
    """The weights of an ``(n, c)`` loss mmdet's Focal takes: ``(n, c)``,
    one per row (``(n,)``, ``(n, 1)``) or ``n * c`` flattened."""
    return (weight.shape in ((n, c), (n, ), (n, 1)) or weight.numel() == n * c)


@MODELS.register_module()
class FocalLoss(BaseLoss):
    """Sigmoid Focal Loss (arXiv:1708.02002), mmdet's ``FocalLoss``.

    Args:
        use_sigmoid: must be True (the softmax variant is not provided, as
            in mmdet).
        gamma: focusing exponent (2.0).
        alpha: weight of the positives (0.25).
        reduction, loss_weight: see :class:`.BaseLoss`.
        activated: ``pred`` are probabilities, not logits.
    """

    def __init__(self,
                 use_sigmoid: bool = True,
                 gamma: float = 2.0,
                 alpha: float = 0.25,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 activated: bool = False):
        super().__init__(reduction, loss_weight)
        if use_sigmoid is not True:
            raise LossArgumentError('FocalLoss supports use_sigmoid=True only')
        self.use_sigmoid = use_sigmoid
        self.gamma = gamma
        self.alpha = alpha
        self.activated = activated

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """
        Args:
            pred: logits ``(N, C)`` (probabilities if ``activated``), a
                dense map ``(N, C, d1, ...)``, or one logit per sample
                ``(N,)`` with binary targets ``(N,)``.
            target: labels ``(N,)`` in ``[0, C]``, ``C`` = background (a
                negative label is background too, as in mmdet's CUDA op); or
                one-hot / soft targets shaped like ``pred``; for a map,
                also labels ``(N, d1, ...)``.
            weight: ``(N,)``, ``(N, C)`` or ``(N * C,)``; for a map, shaped
                like ``pred`` or ``(N, d1, ...)``.
            avg_factor: divide the weighted sum by it (``'mean'``).
            reduction_override: None, ``'none'``, ``'mean'`` or ``'sum'``.

        Returns:
            The loss shaped like ``pred`` with ``reduction='none'``, else a
            scalar.
        """
        reduction = self.resolve_reduction(reduction_override)
        layout = None
        column = pred.dim() == 1 and target.shape == pred.shape
        if column:
            # one logit per sample and its binary target, as mmdet takes
            pred, target = pred[:, None], target[:, None]
        elif pred.dim() > 2:
            # mmdet's FocalLoss takes a map with a one-hot target of its
            # shape: the same loss on the (N * d1 * ..., C) rows
            layout = SpatialLayout(pred)
            pred, target = layout.rows(pred), layout.rows(target)
            if weight is not None:
                weight = layout.rows(weight)
        kwargs = dict(
            gamma=self.gamma,
            alpha=self.alpha,
            reduction=reduction,
            avg_factor=avg_factor)
        if weight is not None and not _fits_rows(weight, *pred.shape):
            # mmdet asserts
            raise LossArgumentError(
                f'weight of shape {tuple(weight.shape)} fits neither '
                f'{tuple(pred.shape[:1])} nor {tuple(pred.shape)}')
        if target.dim() == pred.dim() - 1:
            # a negative label is background, as in mmdet's CUDA op
            target = negative_labels_to(target, pred.size(1))
        if self.activated:
            loss = self.loss_weight * classification.focal_loss_with_prob(
                pred, target, weight, **kwargs)
        else:
            # loss_weight goes in: the loss and its gradient in one pass
            loss = classification.sigmoid_focal_loss(
                pred, target, weight, loss_weight=self.loss_weight, **kwargs)
        if reduction == 'none':
            if layout is not None:
                loss = layout.restore(loss)
            elif column:
                loss = loss[:, 0]
        return loss

    def extra_repr(self) -> str:
        return (super().extra_repr() +
                f', gamma={self.gamma}, alpha={self.alpha}, '
                f'activated={self.activated}')
