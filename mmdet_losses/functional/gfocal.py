r"""Generalized Focal Loss: Quality Focal Loss and Distribution Focal Loss
(Li et al., NeurIPS 2020, arXiv:2006.04388).

* QFL: :math:`-|y - \sigma|^\beta ((1 - y)\log(1 - \sigma) + y \log\sigma)`,
  ``y`` the IoU of the box on positives and 0 elsewhere, sigmoid only.
* DFL: :math:`-((y_{i+1} - y)\log S_i + (y - y_i)\log S_{i+1})` with
  :math:`y_i = \lfloor y \rfloor`, ``S`` the softmax over the bins.

DFL bins. ``pred`` has one column per bin, at ``0, delta, 2 delta, ...,
(K - 1) delta``. mmdet's ``reg_max = n`` means ``K = n + 1`` bins (17 for
the GFL default 16); ultralytics' ``reg_max = n`` means ``K = n`` bins.
Targets are distances in the same units as ``delta``, and must lie in
``[0, (K - 1) delta)``: the right bin ``y_i + 1`` must exist. GFLHead clamps
its targets to ``reg_max - 0.01``. With ``delta != 1`` the head's integral
must give the expected distance ``delta * sum_i i S_i`` (mmdet's
``Integral`` assumes ``delta = 1``), and its targets (in stride units)
must be passed as they are, not divided: the loss divides by ``delta``.
"""
from typing import Optional, Union

import torch
from torch import Tensor

from .checks import check_labels, check_range, label_targets
from .focal import LabelsAndScores, modulated_bce_of_probs, modulated_loss
from .precomputed_grad import (FusedPass, PassResult, autocast_off,
                               compute_dtype, row_chunks)
from .reduction import check_reduction, fused_scale, weight_reduce_loss


def quality_focal_loss(pred: Tensor,
                       target: Union[LabelsAndScores, Tensor],
                       weight: Optional[Tensor] = None,
                       beta: float = 2.0,
                       reduction: str = 'mean',
                       avg_factor: Optional[float] = None,
                       activated: bool = False,
                       loss_weight: float = 1.0) -> Tensor:
    r"""Quality Focal Loss of ``(N, C)`` predictions, summed over classes.

    Args:
        pred: logits ``(N, C)``, or probabilities with ``activated=True``.
        target: ``(labels, scores)``: labels ``(N,)`` in ``[0, C]``
            (``C`` is background) and the quality (IoU) targets ``(N,)`` of
            the labelled class; or soft targets ``(N, C)`` in ``[0, 1]``.
        weight: per-sample weights ``(N,)``.
        beta: exponent of :math:`|y - \sigma|`, 2 in the paper.
        reduction, avg_factor: mmdet's (:func:`.weight_reduce_loss`).
        activated: ``pred`` are probabilities (mmdet's
            ``quality_focal_loss_with_prob``); computed by autograd.
        loss_weight: factor of the loss.

    Returns:
        ``(N,)`` with ``reduction='none'``, else a scalar.
    """
    if not activated:
        return modulated_loss(pred, target, weight, beta, None, True,
                              reduction, avg_factor, True, loss_weight)
    check_reduction(reduction)
    n, c = pred.shape
    if isinstance(target, (tuple, list)):
        labels, scores = target
        check_labels(labels, c, 'labels')
        soft = label_targets(labels, c, pred, scores)
    else:
        if target.shape != pred.shape:
            raise ValueError(f'target of shape {tuple(target.shape)} must '
                             f'match pred {tuple(pred.shape)}')
        soft = target.to(pred.dtype)
    loss = modulated_bce_of_probs(pred, soft, beta, quality=True).sum(dim=1)
    return loss_weight * weight_reduce_loss(loss, weight, reduction,
                                            avg_factor)


def _dfl_pass(x: Tensor, position: Tensor, weight: Optional[Tensor],
              reduce: bool, scale: float, with_grad: bool) -> PassResult:
    """One chunked pass: the loss of each row, or with ``reduce`` the
    scalar ``scale * sum(weight * loss)``, and ``[its derivative]`` (None
    unless ``with_grad``)."""
    with autocast_off(x.device):
        return _dfl_chunks(x, position, weight, reduce, scale, with_grad)


def _dfl_chunks(x: Tensor, position: Tensor, weight: Optional[Tensor],
                reduce: bool, scale: float, with_grad: bool) -> PassResult:
    dtype = compute_dtype(x)
    m, k = x.shape
    grad = x.new_empty((m, k), dtype=dtype) if with_grad else None
    loss = x.new_empty((m, ), dtype=dtype)
    if weight is not None:
        weight = weight.to(dtype)
    for rows, chunk in row_chunks(x, dtype):
        y = position[rows].to(dtype)
        left = y.long()
        w_right = y - left
        w_left = 1 - w_right
        # left + 1 may be K when y is K - 1 exactly: its weight is 0
        right = (left + 1).clamp_(max=k - 1)
        lse = torch.logsumexp(chunk, dim=1)
        picked = chunk.gather(1, left[:, None]).squeeze(1).mul_(w_left)
        picked.addcmul_(chunk.gather(1, right[:, None]).squeeze(1), w_right)
        torch.sub(lse, picked, out=loss[rows])
        if with_grad:
            g = grad[rows]
            torch.sub(chunk, lse[:, None], out=g)
            g.exp_()
            g.scatter_add_(1, left[:, None], -w_left[:, None])
            g.scatter_add_(1, right[:, None], -w_right[:, None])
            if reduce:
                w = scale if weight is None else weight[rows] * scale
                g *= w if weight is None else w[:, None]
    if not reduce:
        return loss, [grad]
    if weight is None:
        return loss.sum() * scale, [grad]
    return torch.dot(loss, weight) * scale, [grad]


def _apply(x: Tensor, position: Tensor, weight: Optional[Tensor], reduce: bool,
           scale: float, want_grad: bool) -> Tensor:
    """DFL of ``(M, K)`` logits: ``logsumexp(x) - (w_l x_l + w_r x_r)``,
    whose derivative is ``softmax(x) - w_l e_l - w_r e_r``; both come out
    of one chunked pass (a :class:`.FusedPass`)."""
    return FusedPass.apply(_dfl_pass, (reduce, scale), 1, not reduce,
                           want_grad, x, position, weight)


def distribution_focal_loss(pred: Tensor,
                            target: Tensor,
                            weight: Optional[Tensor] = None,
                            reduction: str = 'mean',
                            avg_factor: Optional[float] = None,
                            delta: float = 1.0,
                            loss_weight: float = 1.0) -> Tensor:
    r"""Distribution Focal Loss of ``(M, K)`` bin logits.

    Args:
        pred: logits over ``K`` bins at ``0, delta, ..., (K - 1) delta``:
            mmdet's ``reg_max = n`` gives ``K = n + 1``.
        target: distances ``(M,)`` in ``[0, (K - 1) delta)``; a target out
            of range raises a ValueError naming it.
        weight: per-target weights ``(M,)``.
        reduction, avg_factor: mmdet's (:func:`.weight_reduce_loss`).
        delta: bin interval; the loss sees ``target / delta``.
        loss_weight: factor of the loss, applied in the same pass.

    Returns:
        ``(M,)`` with ``reduction='none'``, else a scalar.
    """
    check_reduction(reduction)
    if pred.dim() != 2:
        raise ValueError('pred must have shape (M, K) (K bins), got '
                         f'{tuple(pred.shape)}')
    m, k = pred.shape
    if target.shape != (m, ):
        raise ValueError(f'target must have shape ({m},), got '
                         f'{tuple(target.shape)}')
    if delta <= 0:
        raise ValueError(f'delta must be positive, got {delta}')
    if k < 2:
        raise ValueError(f'DFL needs at least 2 bins, got {k}')
    position = target if delta == 1 else target / delta
    high = (k - 1) * delta
    check_range(
        target,
        0,
        high,
        'target',
        hint=f'{k} bins of width {delta} cover [0, {high}]; targets must '
        f'stay below the last bin (mmdet clamps them to reg_max - 0.01; '
        f'pred has one column per bin: mmdet reg_max={k - 1})')
    if weight is not None and weight.shape != (m, ):
        if weight.numel() != m:
            raise ValueError(f'weight must have shape ({m},), got '
                             f'{tuple(weight.shape)}')
        weight = weight.reshape(m)
    want_grad = torch.is_grad_enabled() and pred.requires_grad
    scale = fused_scale(weight, reduction, avg_factor, loss_weight, m)
    if scale is None or reduction == 'none':
        loss = _apply(pred, position, None, False, 1.0, want_grad)
        return weight_reduce_loss(
            loss, weight, reduction, avg_factor, loss_weight=loss_weight)
    return _apply(pred, position, weight, True, scale, want_grad)
