r"""The modulated binary cross-entropy that Focal Loss and Quality Focal
Loss share, and the fused pass that computes it.

* Focal Loss, Lin et al., ICCV 2017 (arXiv:1708.02002):
  :math:`-\alpha_t (1 - p_t)^\gamma \log p_t`; with soft targets
  ``t in [0, 1]``, :math:`a(t)\, m^\gamma\, \mathrm{BCE}(x, t)` with
  :math:`m = p + t - 2pt` and :math:`a(t) = \alpha t + (1 - \alpha)(1 - t)`
  (mmdet's ``py_sigmoid_focal_loss``).
* Quality Focal Loss, Li et al., GFL, NeurIPS 2020 (arXiv:2006.04388): the
  same with :math:`m = |t - p|` and :math:`a = 1`, summed over the classes.

:func:`modulated_bce` is the one formula (from logits, with its derivative),
:func:`modulated_bce_of_probs` its form for probabilities (mmdet's
``activated=True``), and :func:`modulated_loss` the front end of
:func:`.classification.sigmoid_focal_loss` and
:func:`.gfocal.quality_focal_loss`: checks, weight shapes and reduction.

From integer labels no one-hot target is built: a chunked pass computes
every entry as a negative, loss and derivative together while the chunk is
in cache, and the few positive entries are corrected afterwards. The
derivative is kept for the backward pass, which only scales it
(:mod:`.precomputed_grad`).
"""
from typing import Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from .checks import check_labels
from .precomputed_grad import (FusedPass, PassResult, autocast_off,
                               compute_dtype, row_chunks)
from .reduction import check_reduction, fused_scale, weight_reduce_loss

# a QFL target given as a pair: labels (N,) and scores (N,)
LabelsAndScores = Tuple[Tensor, Tensor]


def _bce_with_logits(x: Tensor, t: Tensor) -> Tensor:
    """``softplus(x) - x t`` in the cancellation-free form
    ``max(x, 0) - x t + log(1 + exp(-|x|))``."""
    return torch.relu(x).sub_(x * t).add_(F.softplus(-x.abs()))


def modulated_bce(x: Tensor,
                  t: Union[Tensor, float],
                  gamma: float,
                  alpha: Optional[float] = None,
                  quality: bool = False,
                  with_grad: bool = False):
    r"""Element-wise :math:`a(t)\, m^\gamma\, \mathrm{BCE}(x, t)` from logits
    ``x``, and optionally its derivative with respect to ``x``.

    The one formula behind Focal Loss (``quality=False``: modulation
    :math:`m = p + t - 2pt`, weight :math:`a(t) = \alpha t + (1-\alpha)(1-t)`,
    or 1 when ``alpha`` is None) and Quality Focal Loss (``quality=True``:
    :math:`m = |t - p|`, :math:`a = 1`), ``p = sigmoid(x)``. For hard
    targets both modulations equal :math:`1 - p_t`.

    Args:
        x: logits.
        t: targets in ``[0, 1]`` of the same shape, or the number 0.0 or 1.0
            for all entries (a faster path).
        gamma: exponent of the modulation (Focal's gamma, QFL's beta).
        alpha: Focal's class balance.
        quality: QFL's modulation.
        with_grad: also return ``d loss / d x``.

    The derivative is finite everywhere, also for ``gamma < 1`` where
    :math:`m^{\gamma - 1}` is infinite at ``m = 0`` (there the product with
    :math:`dm/dx` is taken as its limit, 0).
    """
    p = torch.sigmoid(x)
    if isinstance(t, (int, float)):
        if t not in (0, 1):
            raise ValueError(f'a scalar target must be 0 or 1, got {t}')
        # m = p for t = 0 and 1 - p for t = 1, in both variants
        positive = t == 1
        m = torch.sigmoid(-x) if positive else p
        bce = F.softplus(-x if positive else x)
        if alpha is None:
            a = 1.0
        else:
            a = alpha if positive else 1 - alpha
        mod = _power(m, gamma)
        loss = mod * bce
        if a != 1.0:
            loss *= a
        if not with_grad:
            return loss
        # d/dx [m^g bce]: t = 0: m^g (g (1 - p) bce + p);
        #                 t = 1: -m^g (g p bce + (1 - p))
        if positive:
            grad = p.mul_(bce).mul_(gamma).add_(m).mul_(mod).mul_(-a)
        else:
            grad = (1 - p).mul_(bce).mul_(gamma).add_(p).mul_(mod).mul_(a)
        return loss, grad

    bce = _bce_with_logits(x, t)
    one_minus_p = torch.sigmoid(-x)
    if quality:
        diff = p - t
        m = diff.abs()
        dm = torch.sign(diff).mul_(p).mul_(one_minus_p)
        a = None
    else:
        m = p + t - 2 * p * t
        dm = (1 - 2 * t).mul_(p).mul_(one_minus_p)
        a = None if alpha is None else (1 - alpha) + (2 * alpha - 1) * t
    mod = _power(m, gamma)
    loss = mod * bce
    if a is not None:
        loss *= a
    if not with_grad:
        return loss
    # gamma m^(gamma - 1) dm = gamma (mod / m) dm; 0 where m = 0 (its limit:
    # there p = t in {0, 1} and dm = 0)
    ratio = mod / m.clamp(min=torch.finfo(m.dtype).tiny)
    grad = ratio.mul_(dm).mul_(bce).mul_(gamma)
    grad.addcmul_(mod, p - t)
    if a is not None:
        grad *= a
    return loss, grad


def _power(m: Tensor, gamma: float) -> Tensor:
    if gamma == 2:
        return m * m
    if gamma == 1:
        return m.clone()
    if gamma == 0:
        return torch.ones_like(m)
    return m.pow(gamma)


def _modulated_pass(x: Tensor, labels: Optional[Tensor],
                    scores: Optional[Tensor], targets: Optional[Tensor],
                    weight: Optional[Tensor], gamma: float,
                    alpha: Optional[float], quality: bool, out: str,
                    scale: float, with_grad: bool) -> PassResult:
    """One chunked pass: the output and ``[the derivative of the output
    with respect to x]`` (None unless ``with_grad``); see :func:`_apply`
    for the arguments."""
    with autocast_off(x.device):
        return _modulated_chunks(x, labels, scores, targets, weight, gamma,
                                 alpha, quality, out, scale, with_grad)


def _modulated_chunks(x: Tensor, labels: Optional[Tensor],
                      scores: Optional[Tensor], targets: Optional[Tensor],
                      weight: Optional[Tensor], gamma: float,
                      alpha: Optional[float], quality: bool, out: str,
                      scale: float, with_grad: bool) -> PassResult:
    dtype = compute_dtype(x)
    n, c = x.shape
    x = x.contiguous()
    grad = x.new_empty((n, c), dtype=dtype) if with_grad else None
    if out == 'elementwise':
        result = x.new_empty((n, c), dtype=dtype)
    elif out == 'rows':
        result = x.new_empty((n, ), dtype=dtype)
    else:
        result = x.new_zeros((), dtype=dtype)
    if weight is not None:
        weight = weight.to(dtype)
    for rows, chunk in row_chunks(x, dtype):
        t = 0.0 if targets is None else targets[rows].to(dtype)
        terms = modulated_bce(chunk, t, gamma, alpha, quality, with_grad)
        loss, chunk_grad = terms if with_grad else (terms, None)
        w = None if weight is None else weight[rows]
        if w is not None and w.dim() == 1:
            w = w[:, None]
        if w is not None:
            loss *= w
        if scale != 1:
            loss *= scale
            w = scale if w is None else w * scale
        if chunk_grad is not None:
            if w is None:
                grad[rows] = chunk_grad
            else:
                torch.mul(chunk_grad, w, out=grad[rows])
        if out == 'elementwise':
            result[rows] = loss
        elif out == 'rows':
            torch.sum(loss, dim=1, out=result[rows])
        else:
            result += loss.sum()
    if labels is not None:
        _correct_positives(x, labels, scores, weight, gamma, alpha, quality,
                           out, scale, dtype, result, grad)
    return result, [grad]


def _apply(x: Tensor, labels: Optional[Tensor], scores: Optional[Tensor],
           targets: Optional[Tensor], weight: Optional[Tensor], gamma: float,
           alpha: Optional[float], quality: bool, out: str, scale: float,
           want_grad: bool) -> Tensor:
    """Modulated BCE of ``(N, C)`` logits, loss and derivative in one pass
    (a :class:`.FusedPass`).

    ``labels`` ``(N,)`` (hard targets, background ``C``) or ``targets``
    ``(N, C)``; ``scores`` ``(N,)`` are the soft targets of the labelled
    entries (QFL). ``weight`` is ``None``, ``(N,)`` or ``(N, C)``.
    ``out`` is ``'elementwise'`` ``(N, C)``, ``'rows'`` ``(N,)`` (the sum
    over classes) or ``'sum'`` (a scalar); weights and ``scale`` are applied
    inside.
    """
    return FusedPass.apply(_modulated_pass,
                           (gamma, alpha, quality, out, scale), 1,
                           out == 'rows', want_grad, x, labels, scores,
                           targets, weight)


def _correct_positives(x: Tensor, labels: Tensor, scores: Optional[Tensor],
                       weight: Optional[Tensor], gamma: float,
                       alpha: Optional[float], quality: bool, out: str,
                       scale: float, dtype: torch.dtype, result: Tensor,
                       grad: Optional[Tensor]) -> None:
    """Turn the labelled entries, computed as negatives by the dense pass,
    into positives (target 1, or the score for QFL)."""
    n, c = x.shape
    pos_rows = (labels < c).nonzero().squeeze(1)
    if pos_rows.numel() == 0:
        return
    flat = pos_rows * c + labels[pos_rows]
    xp = x.reshape(-1)[flat].to(dtype)
    if scores is None:
        new = modulated_bce(xp, 1.0, gamma, alpha, quality, grad is not None)
    else:
        target = scores[pos_rows].to(dtype)
        new = modulated_bce(xp, target, gamma, alpha, quality, grad
                            is not None)
    old = modulated_bce(xp, 0.0, gamma, alpha, quality)
    new_loss, new_grad = new if grad is not None else (new, None)
    w = None
    if weight is not None:
        w = weight[pos_rows] if weight.dim() == 1 else \
            weight.reshape(-1)[flat]
    if scale != 1:
        w = scale if w is None else w * scale
    if w is not None:
        new_loss, old = new_loss * w, old * w
        if new_grad is not None:
            new_grad = new_grad * w
    if out == 'elementwise':
        result.view(-1)[flat] = new_loss
    elif out == 'rows':
        result.index_add_(0, pos_rows, new_loss - old)
    else:
        result += (new_loss - old).sum()
    if new_grad is not None:
        grad.view(-1)[flat] = new_grad


def expand_weight(weight: Optional[Tensor],
                  n: int,
                  c: int,
                  name: str = 'weight') -> Optional[Tensor]:
    """mmdet's accepted weight shapes for (N, C) losses: (N,), (N, 1),
    (N, C) or (N * C,)."""
    if weight is None:
        return None
    if weight.shape == (n, c):
        return weight
    if weight.dim() == 1 and weight.numel() == n:
        return weight
    if weight.shape == (n, 1):
        return weight.reshape(n)
    if weight.numel() == n * c:
        return weight.reshape(n, c)
    raise ValueError(f'{name} of shape {tuple(weight.shape)} fits neither '
                     f'({n},) nor ({n}, {c})')


def modulated_bce_of_probs(p: Tensor,
                           t: Tensor,
                           gamma: float,
                           alpha: Optional[float] = None,
                           quality: bool = False) -> Tensor:
    r""":func:`modulated_bce` of probabilities ``p`` (already through a
    sigmoid), element-wise and by autograd: mmdet's ``activated=True``
    losses (``py_focal_loss_with_prob``, ``quality_focal_loss_with_prob``).
    The BCE is ``torch.nn.functional.binary_cross_entropy`` (logs clamped
    at -100); ``t`` has the shape and dtype of ``p``."""
    m = (t - p).abs() if quality else p + t - 2 * p * t
    # m^gamma has an infinite slope at 0 for gamma < 1: keep it finite
    mod = m.clamp(min=torch.finfo(m.dtype).tiny).pow(gamma)
    loss = F.binary_cross_entropy(p, t, reduction='none') * mod
    if alpha is not None:
        loss = loss * ((1 - alpha) + (2 * alpha - 1) * t)
    return loss


def modulated_loss(pred: Tensor,
                   target: Union[Tensor, LabelsAndScores],
                   weight: Optional[Tensor],
                   gamma: float,
                   alpha: Optional[float],
                   quality: bool,
                   reduction: str,
                   avg_factor: Optional[Union[float, Tensor]],
                   per_row: bool,
                   loss_weight: float = 1.0) -> Tensor:
    """The front end of :func:`.classification.sigmoid_focal_loss` and
    :func:`.gfocal.quality_focal_loss`: checks, weight shapes, reduction.

    Args:
        pred: logits ``(N, C)``.
        target: labels ``(N,)`` (``C`` is background), ``(labels,
            scores)`` (QFL), or targets ``(N, C)`` in ``[0, 1]``.
        weight: ``(N,)``, ``(N, 1)``, ``(N, C)`` or ``(N * C,)``.
        gamma, alpha, quality: see :func:`modulated_bce`.
        reduction, avg_factor, loss_weight: mmdet's
            (:func:`.weight_reduce_loss`), applied inside the pass where
            :func:`.fused_scale` allows it.
        per_row: sum the loss over the classes (QFL's one loss per sample).
    """
    check_reduction(reduction)
    if pred.dim() != 2:
        raise ValueError(f'pred must have shape (N, C), got '
                         f'{tuple(pred.shape)}')
    n, c = pred.shape
    labels = scores = targets = None
    if isinstance(target, (tuple, list)):
        if len(target) != 2:
            raise ValueError('a QFL target tuple must be (labels, scores), '
                             f'got {len(target)} elements')
        labels, scores = target
        if scores.shape != (n, ):
            raise ValueError(f'scores must have shape ({n},), got '
                             f'{tuple(scores.shape)}')
    elif target.dim() == 1:
        labels = target
    else:
        targets = target
        if targets.shape != pred.shape:
            raise ValueError(f'target of shape {tuple(targets.shape)} must '
                             f'match pred {tuple(pred.shape)}, or be labels '
                             f'({n},)')
    if labels is not None:
        if labels.shape != (n, ):
            raise ValueError(f'labels must have shape ({n},), got '
                             f'{tuple(labels.shape)}')
        check_labels(labels, c, 'labels')
    weight = expand_weight(weight, n, c)
    want_grad = torch.is_grad_enabled() and pred.requires_grad
    per_element = 'rows' if per_row else 'elementwise'
    scale = fused_scale(weight, reduction, avg_factor, loss_weight,
                        n if per_row else n * c)
    if scale is None:
        # a learnt weight or a tensor avg_factor: autograd sees them
        loss = _apply(pred, labels, scores, targets, None, gamma, alpha,
                      quality, per_element, 1.0, want_grad)
        if not per_row and weight is not None and weight.dim() == 1:
            weight = weight[:, None]
        return weight_reduce_loss(
            loss, weight, reduction, avg_factor, loss_weight=loss_weight)
    # the weights and their scale inside: one pass, and a backward that is
    # at most one product
    out = per_element if reduction == 'none' else 'sum'
    return _apply(pred, labels, scores, targets, weight, gamma, alpha, quality,
                  out, scale, want_grad)
