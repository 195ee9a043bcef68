r"""Classification losses: binary and softmax cross-entropy, NLL, and
Focal Loss.

* BCE: :math:`-(t \log s + (1 - t) \log(1 - s))`, ``s = sigmoid(x)``, from
  logits.
* Cross-entropy: :math:`-\log \mathrm{softmax}(x)_y`, with class weights,
  ``ignore_index`` and label smoothing (``torch.nn.functional``'s).
* NLL: :math:`-x_y`, ``x`` already log-probabilities.
* Focal Loss, Lin et al., ICCV 2017 (arXiv:1708.02002):
  :math:`-\alpha_t (1 - p_t)^\gamma \log p_t`, the modulated BCE of
  :mod:`.focal` (formula, fused pass and front end, shared with Quality
  Focal Loss).

Weighting and reduction follow mmdet (:mod:`.reduction`). Labels are checked
(:mod:`.checks`): one out of range raises a ValueError that names it.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from .checks import check_labels, label_targets
from .focal import (expand_weight, modulated_bce, modulated_bce_of_probs,
                    modulated_loss)
from .reduction import check_reduction, weight_reduce_loss

# modulated_bce stands here too, where the package has always exported it
__all__ = [
    'binary_cross_entropy', 'cross_entropy', 'focal_loss_with_prob',
    'mask_cross_entropy', 'modulated_bce', 'nll_loss', 'sigmoid_focal_loss'
]


def sigmoid_focal_loss(pred: Tensor,
                       target: Tensor,
                       weight: Optional[Tensor] = None,
                       gamma: float = 2.0,
                       alpha: float = 0.25,
                       reduction: str = 'mean',
                       avg_factor: Optional[float] = None,
                       loss_weight: float = 1.0) -> Tensor:
    r"""Sigmoid Focal Loss from logits (Lin et al., ICCV 2017,
    arXiv:1708.02002): :math:`-\alpha_t (1 - p_t)^\gamma \log p_t`.

    Args:
        pred: logits ``(N, C)``.
        target: integer labels ``(N,)`` in ``[0, C]`` (``C`` is background),
            or one-hot / soft targets ``(N, C)`` in ``[0, 1]``.
        weight: ``(N,)`` per sample or ``(N, C)`` (or ``(N * C,)``).
        gamma: focusing exponent, 2 in the paper; 0 gives the alpha-weighted
            BCE.
        alpha: weight of the positives, 0.25 in the paper (negatives get
            ``1 - alpha``).
        reduction, avg_factor: mmdet's (:func:`.weight_reduce_loss`).
        loss_weight: factor of the loss, applied in the same pass.

    Returns:
        ``(N, C)`` with ``reduction='none'``, else a scalar.
    """
    return modulated_loss(pred, target, weight, gamma, alpha, False, reduction,
                          avg_factor, False, loss_weight)


def focal_loss_with_prob(pred: Tensor,
                         target: Tensor,
                         weight: Optional[Tensor] = None,
                         gamma: float = 2.0,
                         alpha: float = 0.25,
                         reduction: str = 'mean',
                         avg_factor: Optional[float] = None) -> Tensor:
    """Focal Loss of probabilities ``pred`` (``(N, C)``, already through a
    sigmoid): mmdet's ``FocalLoss(activated=True)``. Targets, weights and
    reduction as :func:`sigmoid_focal_loss`; the BCE is
    ``torch.nn.functional.binary_cross_entropy`` (logs clamped at -100)."""
    check_reduction(reduction)
    n, c = pred.shape
    if target.dim() == 1:
        check_labels(target, c, 'labels')
        target = label_targets(target, c, pred)
    elif target.shape != pred.shape:
        raise ValueError(f'target of shape {tuple(target.shape)} must match '
                         f'pred {tuple(pred.shape)}, or be labels ({n},)')
    loss = modulated_bce_of_probs(pred, target.to(pred.dtype), gamma, alpha)
    weight = expand_weight(weight, n, c)
    if weight is not None and weight.dim() == 1:
        weight = weight[:, None]
    return weight_reduce_loss(loss, weight, reduction, avg_factor)


def binary_cross_entropy(pred: Tensor,
                         label: Tensor,
                         weight: Optional[Tensor] = None,
                         reduction: str = 'mean',
                         avg_factor: Optional[float] = None,
                         class_weight: Optional[Tensor] = None,
                         ignore_index: Optional[int] = -100,
                         avg_non_ignore: bool = False) -> Tensor:
    """Sigmoid BCE from logits, mmdet's ``CrossEntropyLoss(use_sigmoid=True)``.

    Args:
        pred: logits ``(N, C)``, or any shape with ``label`` of that shape.
        label: integer labels ``(N,)`` in ``[0, C]`` (``C``: background, all
            zero targets) or ``ignore_index``, expanded to one-hot; or
            targets in ``[0, 1]`` of the shape of ``pred``.
        weight: per-sample weights (``(N,)`` with labels).
        class_weight: ``pos_weight`` of
            ``torch.nn.functional.binary_cross_entropy_with_logits``.
        ignore_index: labels (or targets) equal to it are left out.
        avg_non_ignore: with ``'mean'``, average over the entries not
            ignored instead of all.
    """
    ignore_index = -100 if ignore_index is None else ignore_index
    if pred.dim() != label.dim():
        n, c = pred.shape
        check_labels(label, c, 'label', ignore_index=ignore_index)
        valid = (label >= 0) & (label != ignore_index)
        target = label_targets(label, c, pred, valid=valid)
        valid = valid[:, None].expand(n, c).to(pred.dtype)
        if weight is not None:
            weight = weight.reshape(n, 1).to(pred.dtype) * valid
        else:
            weight = valid
    else:
        target = label.to(pred.dtype)
        valid = ((label >= 0) & (label != ignore_index)).to(pred.dtype)
        weight = valid if weight is None else weight * valid
    if avg_factor is None and avg_non_ignore and reduction == 'mean':
        avg_factor = valid.sum().item()
    loss = F.binary_cross_entropy_with_logits(
        pred, target, pos_weight=class_weight, reduction='none')
    return weight_reduce_loss(loss, weight, reduction, avg_factor)


def _softmax_family(pred: Tensor, label: Tensor, weight: Optional[Tensor],
                    reduction: str, avg_factor, class_weight, ignore_index,
                    avg_non_ignore: bool, label_smoothing: float,
                    log_probs: bool) -> Tensor:
    check_reduction(reduction)
    ignore_index = -100 if ignore_index is None else ignore_index
    if pred.dim() < 2:
        raise ValueError(f'pred must have shape (N, C, ...), got '
                         f'{tuple(pred.shape)}')
    soft = label.is_floating_point()
    if soft:
        if label.shape != pred.shape:
            raise ValueError('class-probability targets must match pred '
                             f'{tuple(pred.shape)}, got '
                             f'{tuple(label.shape)}')
    else:
        check_labels(
            label,
            pred.size(1),
            'label',
            allow_background=False,
            ignore_index=ignore_index)
    if log_probs:
        if label_smoothing:
            raise ValueError('nll_loss has no label smoothing; use '
                             'cross_entropy')
        loss = F.nll_loss(
            pred,
            label,
            weight=class_weight,
            reduction='none',
            ignore_index=ignore_index)
    else:
        loss = F.cross_entropy(
            pred,
            label,
            weight=class_weight,
            reduction='none',
            ignore_index=ignore_index,
            label_smoothing=label_smoothing)
    if avg_factor is None and avg_non_ignore and reduction == 'mean':
        avg_factor = label.numel() if soft else \
            (label != ignore_index).sum().item()
    if weight is not None:
        weight = weight.to(loss.dtype)
    return weight_reduce_loss(loss, weight, reduction, avg_factor)


def cross_entropy(pred: Tensor,
                  label: Tensor,
                  weight: Optional[Tensor] = None,
                  reduction: str = 'mean',
                  avg_factor: Optional[float] = None,
                  class_weight: Optional[Tensor] = None,
                  ignore_index: Optional[int] = -100,
                  avg_non_ignore: bool = False,
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy ``-log softmax(pred)[label]``.

    Args:
        pred: logits ``(N, C)`` or ``(N, C, d1, ...)``.
        label: integer labels ``(N,)`` / ``(N, d1, ...)`` in ``[0, C - 1]``
            or ``ignore_index``; or class probabilities shaped like ``pred``.
        weight: per-element weights of the loss (``(N,)``...).
        class_weight: ``(C,)`` weights of the classes (torch's ``weight``).
        ignore_index: label left out (loss 0).
        avg_non_ignore: with ``'mean'``, divide by the number of labels not
            ignored (torch's mean without class weights) instead of all.
        label_smoothing: as ``torch.nn.functional.cross_entropy``.

    The mean is mmdet's: a plain mean over the elements (or the
    ``avg_factor``), never divided by the summed class weights as torch's
    ``reduction='mean'`` is.
    """
    return _softmax_family(
        pred,
        label,
        weight,
        reduction,
        avg_factor,
        class_weight,
        ignore_index,
        avg_non_ignore,
        label_smoothing,
        log_probs=False)


def nll_loss(pred: Tensor,
             label: Tensor,
             weight: Optional[Tensor] = None,
             reduction: str = 'mean',
             avg_factor: Optional[float] = None,
             class_weight: Optional[Tensor] = None,
             ignore_index: Optional[int] = -100,
             avg_non_ignore: bool = False) -> Tensor:
    """Negative log-likelihood ``-pred[label]`` of log-probabilities ``pred``
    (``(N, C)`` or ``(N, C, d1, ...)``): ``log_softmax`` then ``nll_loss``
    equals :func:`cross_entropy`. Arguments as :func:`cross_entropy`."""
    return _softmax_family(
        pred,
        label,
        weight,
        reduction,
        avg_factor,
        class_weight,
        ignore_index,
        avg_non_ignore,
        0.0,
        log_probs=True)


def mask_cross_entropy(pred: Tensor,
                       target: Tensor,
                       label: Tensor,
                       reduction: str = 'mean',
                       avg_factor: Optional[float] = None,
                       class_weight: Optional[Tensor] = None,
                       ignore_index: Optional[int] = None,
                       **kwargs) -> Tensor:
    """Sigmoid BCE of the mask logits of each RoI's own class, mmdet's
    ``CrossEntropyLoss(use_mask=True)`` (Mask R-CNN).

    Args:
        pred: mask logits ``(N, C, H, W)``; target: ``(N, H, W)`` in
            ``[0, 1]``; label: class of each RoI ``(N,)`` in ``[0, C)``.

    Returns:
        The mean over all pixels, shape ``(1,)`` (mmdet's convention; only
        ``reduction='mean'`` without ``avg_factor`` is defined).
    """
    if ignore_index is not None:
        raise ValueError('mask cross-entropy has no ignore_index')
    if reduction != 'mean' or avg_factor is not None:
        raise ValueError('mask cross-entropy supports only '
                         "reduction='mean' without avg_factor")
    check_labels(label, pred.size(1), 'label', allow_background=False)
    rois = torch.arange(pred.size(0), device=pred.device)
    picked = pred[rois, label].squeeze(1)
    return F.binary_cross_entropy_with_logits(
        picked, target, weight=class_weight, reduction='mean')[None]
