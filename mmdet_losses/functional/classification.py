r"""Classification losses: binary and softmax cross-entropy, NLL, and the
modulated binary cross-entropy that Focal Loss and Quality Focal Loss share.

* BCE: :math:`-(t \log s + (1 - t) \log(1 - s))`, ``s = sigmoid(x)``, from
  logits.
* Cross-entropy: :math:`-\log \mathrm{softmax}(x)_y`, with class weights,
  ``ignore_index`` and label smoothing (``torch.nn.functional``'s).
* NLL: :math:`-x_y`, ``x`` already log-probabilities.
* Focal Loss, Lin et al., ICCV 2017 (arXiv:1708.02002):
  :math:`-\alpha_t (1 - p_t)^\gamma \log p_t`; with soft targets
  ``t in [0, 1]``, :math:`a(t)\, m^\gamma\, \mathrm{BCE}(x, t)` with
  :math:`m = p + t - 2pt` and :math:`a(t) = \alpha t + (1 - \alpha)(1 - t)`
  (mmdet's ``py_sigmoid_focal_loss``).

Weighting and reduction follow mmdet (:mod:`.reduction`). Labels are checked
(:mod:`.checks`): one out of range raises a ValueError that names it.

Focal Loss from integer labels never builds a one-hot target: a chunked pass
computes every entry as a negative, loss and derivative together while the
chunk is in cache, and the few positive entries are corrected afterwards.
The derivative is kept for the backward pass, which only scales it.
"""
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd import Function
from torch.autograd.function import once_differentiable

from .checks import check_labels
from .precomputed_grad import autocast_off, precomputed_backward
from .reduction import AVG_FACTOR_EPS, check_reduction, weight_reduce_loss

# elements per chunk on CPU: a chunk's temporaries stay in cache
_CHUNK_ELEMENTS = 1 << 16


def _chunk_rows(rows: int, row_size: int, device: torch.device) -> int:
    """Rows per chunk: all of them on accelerators (one launch per op)."""
    if device.type != 'cpu':
        return max(rows, 1)
    return max(_CHUNK_ELEMENTS // max(row_size, 1), 1)


def _compute_dtype(x: Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


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
                    scale: float, with_grad: bool):
    """One chunked pass: the output and the derivative of the output with
    respect to ``x`` (None unless ``with_grad``); see :class:`_ModulatedBCE`
    for the arguments."""
    with autocast_off(x.device):
        return _modulated_chunks(x, labels, scores, targets, weight, gamma,
                                 alpha, quality, out, scale, with_grad)


def _modulated_chunks(x: Tensor, labels: Optional[Tensor],
                      scores: Optional[Tensor], targets: Optional[Tensor],
                      weight: Optional[Tensor], gamma: float,
                      alpha: Optional[float], quality: bool, out: str,
                      scale: float, with_grad: bool):
    dtype = _compute_dtype(x)
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
    step = _chunk_rows(n, c, x.device)
    for start in range(0, n, step):
        rows = slice(start, start + step)
        chunk = x[rows].to(dtype)
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
    return result, grad


class _ModulatedBCE(Function):
    """Modulated BCE of ``(N, C)`` logits, loss and derivative in one pass
    (see :mod:`.precomputed_grad`).

    ``labels`` ``(N,)`` (hard targets, background ``C``) or ``targets``
    ``(N, C)``; ``scores`` ``(N,)`` are the soft targets of the labelled
    entries (QFL). ``weight`` is ``None``, ``(N,)`` or ``(N, C)``.
    ``out`` is ``'elementwise'`` ``(N, C)``, ``'rows'`` ``(N,)`` (the sum
    over classes) or ``'sum'`` (a scalar); weights and ``scale`` are applied
    inside.
    """

    @staticmethod
    def forward(ctx, x: Tensor, labels: Optional[Tensor],
                scores: Optional[Tensor], targets: Optional[Tensor],
                weight: Optional[Tensor], gamma: float, alpha: Optional[float],
                quality: bool, out: str, scale: float,
                want_grad: bool) -> Tensor:
        ctx.args = (gamma, alpha, quality, out, scale)
        with_grad = want_grad and ctx.needs_input_grad[0]
        result, grad = _modulated_pass(x, labels, scores, targets, weight,
                                       *ctx.args, with_grad)
        ctx.grads = [grad]
        ctx.save_for_backward(x, labels, scores, targets, weight)
        ctx.dtype = x.dtype
        return result

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):

        def recompute():
            return [_modulated_pass(*ctx.saved_tensors, *ctx.args, True)[1]]

        out = ctx.args[3]
        grad, = precomputed_backward(
            ctx, grad_out, [ctx.dtype],
            (lambda g: g[:, None]) if out == 'rows' else (lambda g: g),
            recompute)
        return (grad, ) + (None, ) * 10


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


def _expand_weight(weight: Optional[Tensor],
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


def _modulated_loss(pred: Tensor,
                    target,
                    weight: Optional[Tensor],
                    gamma: float,
                    alpha: Optional[float],
                    quality: bool,
                    reduction: str,
                    avg_factor,
                    per_row: bool,
                    loss_weight: float = 1.0) -> Tensor:
    """Shared front end of :func:`sigmoid_focal_loss` and
    :func:`quality_focal_loss`: checks, weight shapes, reduction."""
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
    weight = _expand_weight(weight, n, c)
    want_grad = torch.is_grad_enabled() and pred.requires_grad
    if reduction == 'sum' and avg_factor is not None:
        raise ValueError('avg_factor can not be used with reduction="sum"')
    per_element = 'rows' if per_row else 'elementwise'
    if (weight is not None and weight.requires_grad
            or isinstance(avg_factor, Tensor)):
        # a learnt weight or a tensor avg_factor: autograd sees them
        loss = _ModulatedBCE.apply(pred, labels, scores, targets, None, gamma,
                                   alpha, quality, per_element, 1.0, want_grad)
        if not per_row and weight is not None and weight.dim() == 1:
            weight = weight[:, None]
        loss = weight_reduce_loss(loss, weight, reduction, avg_factor)
        return loss * loss_weight if loss_weight != 1 else loss
    if reduction == 'none':
        return _ModulatedBCE.apply(pred, labels, scores, targets, weight,
                                   gamma, alpha, quality, per_element,
                                   float(loss_weight), want_grad)
    # the weighted sum and its scale inside: one pass, and a backward that
    # is at most one product
    scale = float(loss_weight)
    count = n if per_row else n * c
    if avg_factor is not None:
        scale /= avg_factor + AVG_FACTOR_EPS
    elif reduction == 'mean' and count > 0:
        scale /= count
    return _ModulatedBCE.apply(pred, labels, scores, targets, weight, gamma,
                               alpha, quality, 'sum', scale, want_grad)


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
    return _modulated_loss(pred, target, weight, gamma, alpha, False,
                           reduction, avg_factor, False, loss_weight)


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
        target = F.one_hot(target.long(), c + 1)[:, :c]
    elif target.shape != pred.shape:
        raise ValueError(f'target of shape {tuple(target.shape)} must match '
                         f'pred {tuple(pred.shape)}, or be labels ({n},)')
    target = target.to(pred.dtype)
    m = pred + target - 2 * pred * target
    # m^gamma has an infinite slope at 0 for gamma < 1: keep it finite
    mod = m.clamp(min=torch.finfo(m.dtype).tiny).pow(gamma)
    a = (1 - alpha) + (2 * alpha - 1) * target
    loss = F.binary_cross_entropy(pred, target, reduction='none') * mod * a
    weight = _expand_weight(weight, n, c)
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
        target = pred.new_zeros((n, c))
        rows = (valid & (label < c)).nonzero().squeeze(1)
        target[rows, label[rows]] = 1
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
