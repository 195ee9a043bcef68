r"""IoU, GIoU, DIoU and CIoU losses of aligned box pairs.

* IoU loss, UnitBox (Yu et al., ACM MM 2016, arXiv:1608.01471):
  :math:`-\ln IoU`, or :math:`1 - IoU` (linear), or :math:`1 - IoU^2`
  (square).
* GIoU, Rezatofighi et al., CVPR 2019 (arXiv:1902.09630):
  :math:`1 - IoU + (C - U) / C`, C the area of the smallest enclosing box.
* DIoU, Zheng et al., AAAI 2020 (arXiv:1911.08287):
  :math:`1 - IoU + \rho^2 / c^2`, rho the distance of the centres, c the
  diagonal of the enclosing box.
* CIoU, same paper: DIoU :math:`+ \alpha v`, with
  :math:`v = 4/\pi^2 (\arctan(w_t/h_t) - \arctan(w/h))^2` and
  :math:`\alpha = v / ((1 - IoU) + v)`, a weight without gradient.

All boxes are ``'xyxy'``. The formulas and the geometry they share with the
pairwise :func:`box_iou` live in :mod:`.iou_geometry`; this module runs them
over the pairs. The losses run in a :class:`torch.autograd.Function` whose
backward is the analytic derivative: it keeps no graph of intermediates,
which makes it faster and lighter than autograd through the formula.

On CPU, float32 and float64 pairs go through a compiled kernel instead
(``csrc/iou_family_cpu.cpp``, built on first use and called by
:func:`.native.iou_family_pass`): the same definitions, loss and
derivatives, in one loop over the pairs. The torch implementation here
serves every other device and dtype, and CPUs where no C++ compiler is
found; tests hold each against the references and the two against each
other.

Numerics, the same for every loss here:

* the union and the enclosing area are floored at ``eps``, ``c^2`` gets
  ``+ eps`` (mmdet's ``bbox_overlaps`` and ``diou_loss`` conventions); values
  differ from ``union + eps`` (torchvision) by a relative ``eps / union``;
* the intersection width is clamped at 0 and its derivative passes at 0;
  where two coordinates tie (identical boxes) ``min``/``max`` share the
  derivative half and half, as autograd does, so the gradient of an exact
  match is zero;
* float16 and bfloat16 inputs are computed in float32 and the loss is
  returned in float32 (as ``torch.autocast`` does for its losses); their
  gradients are cast back to the input dtype, saturating at the largest
  finite float16 instead of overflowing to inf;
* ``arctan(w / h)`` is taken as 0 for a box with ``w = h = 0`` and its
  derivative there as 0, so zero-area and inverted boxes give finite values
  and gradients (mmdet's ``h + eps`` gives a gradient of ``1 / eps``);
* a box with an infinite or NaN coordinate has no loss: what comes out for
  its pair is not specified (NaN, mostly); no other pair's loss or
  derivative changes (a reduced loss is NaN).
"""
from typing import Optional

import torch
from torch import Tensor

from . import native
from .boxes import check_box_pairs
from .iou_geometry import (LossSpec, bounds_geometry, bounds_matrix, box_iou,
                           loss_terms, pair_geometry)
from .precomputed_grad import (FusedPass, PassResult, autocast_off,
                               compute_dtype)
from .reduction import fused_scale, weight_reduce_loss

# box_iou and pair_geometry stand here too, the family's public names since
# the package began (mmdet_losses.functional, the DIoU-NMS module)
__all__ = [
    'IOU_MODES', 'box_iou', 'ciou_loss', 'diou_loss', 'giou_loss', 'iou_loss',
    'pair_geometry'
]

IOU_MODES = ('log', 'linear', 'square')


def _loss_and_jacobian(pred: Tensor, target: Tensor, bounds: Tensor,
                       spec: LossSpec, alpha: Optional[Tensor],
                       weight: Optional[Tensor], grad_p: Optional[Tensor],
                       grad_t: Optional[Tensor],
                       grad_bounds: Tensor) -> Tensor:
    """Loss ``(c,)`` of one chunk of aligned pairs ``(c, 4)``, or with
    ``weight`` ``(c,)`` the sum of the weighted losses; where ``grad_p`` /
    ``grad_t`` ``(c, 4)`` are given, the derivatives of that output with
    respect to each box, times ``grad_bounds[3, 3]``, are written into
    them. ``bounds`` is :func:`bounds_matrix`, ``grad_bounds`` a multiple
    of it.

    Each loss term depends on its own pair only, so these derivatives are
    the whole Jacobian. They are assembled, in bounds form, from the partial
    derivatives of the loss with respect to the geometry (IoU, union,
    intersection and enclosing sides, centre offset, aspect ratios) and the
    derivatives of the geometry with respect to the bounds: ``min``/``max``
    pass the derivative to the smaller/larger bound, half and half on a
    tie, as autograd does.

    Memory: the bounds of ``pred`` are held in the storage of ``grad_p``,
    which is free until the Jacobian is written into it, and every
    temporary is released or overwritten as soon as it is used.
    """
    eps, kind = spec.eps, spec.kind
    jac_p, jac_t = grad_p is not None, grad_t is not None
    # (c, 4) -> (4, c) bounds by a matrix product (on CPU several times
    # faster than a strided copy); the prediction's into its gradient
    b1 = torch.mm(
        bounds, pred.t(), out=None if grad_p is None else grad_p.view(4, -1))
    geo = bounds_geometry(
        b1,
        torch.mm(bounds, target.t()),
        eps,
        enclose=kind != 'iou',
        centres=kind in ('diou', 'ciou'),
        sizes=kind == 'ciou' or jac_t,
        jacobian=jac_p or jac_t,
        reuse_b2=True)
    terms = loss_terms(geo, spec, alpha, jac_t)
    loss, iou, d_iou, d_union, d_enclose, d_centre, d_wh_p, d_wh_t = terms
    del terms
    if weight is not None:
        # reduced at once: the per-pair losses are not kept
        loss = torch.dot(loss, weight)
    if not (jac_p or jac_t):
        return loss
    union, d_iwh, wh1, wh2 = geo.union, geo.d_inter, geo.wh1, geo.wh2
    sign = geo.bounds_diff.sign_()
    del geo
    if wh1 is None and jac_p:
        # over the lower bounds of the prediction, read for the last time
        low, high = b1.split(2)
        wh1 = torch.add(low, high, out=low)

    # IoU = I / U with U = A_p + A_t - I: dL/dU = -dL/dIoU IoU / U (+ the
    # loss's own d_union), 0 where U is floored; dL/dI = dL/dIoU / U - dL/dU
    inv_union = union.reciprocal()
    g_union = iou.mul_(inv_union)
    if d_iou is not None:
        g_union.mul_(d_iou).neg_()
    if d_union is not None:
        g_union += d_union
        del d_union
    g_union.mul_(union.gt_(eps))
    g_inter = inv_union.neg_() if d_iou is None else inv_union.mul_(d_iou)
    g_inter -= g_union
    del d_iou
    d_iwh.mul_(g_inter)
    del g_inter
    # with s = sign(b_p - b_t): d min(b_p, b_t)/d b_p = (1 - s) / 2 for the
    # intersection, d max/d b_p = (1 + s) / 2 for the enclosing box. With
    # A, E the derivatives for the intersection and enclosing sides, W for
    # the box's own sides and Dc for the centre offset:
    # J_p = (A + E) / 2 + W_p + s (E - A) / 2 + r Dc and
    # J_t = (A + E) / 2 + W_t - s (E - A) / 2 - r Dc, r = -1 on the lower
    # bounds and +1 on the upper ones
    if d_enclose is None:
        half_sum = d_iwh.mul_(0.5)
        half_diff, diff_sign = half_sum, -1.0  # (E - A) / 2 = -A / 2
    else:
        half_sum = d_enclose.add_(d_iwh).mul_(0.5)
        half_diff = torch.sub(half_sum, d_iwh, out=d_iwh)
        diff_sign = 1.0
        del d_enclose
    sign_lo_hi = sign.view(2, 2, -1)
    # the target first: the prediction's Jacobian is then built in place,
    # over the signs
    for grad, side in ((grad_t, -1.0), (grad_p, 1.0)):
        if grad is None:
            continue
        last = side > 0
        if last:
            jac, jac_lo_hi = sign, sign_lo_hi.mul_(half_diff)
        else:
            jac = torch.empty_like(sign)
            jac_lo_hi = torch.mul(
                sign_lo_hi, half_diff, out=jac.view(2, 2, -1))
        # W: dA/d(w, h) = (h, w), plus the aspect-ratio term of CIoU
        base = half_sum if last else half_sum.clone()
        base_w, base_h = base.unbind()
        w, h = (wh1 if last else wh2).unbind()
        base_w.addcmul_(h, g_union)
        base_h.addcmul_(w, g_union)
        d_wh = d_wh_p if last else d_wh_t
        if d_wh is not None:
            base += d_wh
        if side * diff_sign > 0:
            jac_lo_hi.add_(base)
        else:
            torch.sub(base, jac_lo_hi, out=jac_lo_hi)
        if d_centre is not None:
            jac_lo, jac_hi = jac_lo_hi.unbind()
            jac_lo.sub_(d_centre, alpha=side)
            jac_hi.add_(d_centre, alpha=side)
        if weight is not None:
            jac.mul_(weight)
        # (4, c) -> (c, 4), back from bounds form and scaled: for the
        # prediction this overwrites its bounds, used above
        torch.mm(jac.t(), grad_bounds, out=grad)
    return loss


def _chunk_size(n: int, device: torch.device) -> int:
    """Pairs per chunk: on CPU, equal chunks of at most 8000 pairs, so that
    a ``(4, chunk)`` float32 temporary stays below glibc's 128 KiB mmap
    threshold (above it every temporary costs fresh pages), a chunk's
    temporaries stay in cache, and their memory stays bounded however many
    pairs there are, while the per-call overhead is amortised. On
    accelerators, one chunk."""
    if device.type != 'cpu' or n <= 8000:
        return max(n, 1)
    return -(-n // -(-n // 8000))


def _iou_pass(pred: Tensor, target: Tensor, weight: Optional[Tensor],
              alpha: Optional[Tensor], spec: LossSpec, scale: float,
              jac_p: bool, jac_t: bool) -> PassResult:
    """One pass over the pairs: the output (the loss of each pair, or with
    ``weight`` the scalar ``scale * sum(weight * loss)``) and the
    derivatives of the output with respect to ``pred`` and ``target``. By
    the compiled kernel where it serves (CPU, float32/float64 inputs), else
    by the torch implementation."""
    done = native.iou_family_pass(pred, target, weight, alpha, spec, scale,
                                  jac_p, jac_t)
    if done is not None:
        return done
    with autocast_off(pred.device):
        return _iou_chunks(pred, target, weight, alpha, spec, scale, jac_p,
                           jac_t)


def _iou_chunks(pred: Tensor, target: Tensor, weight: Optional[Tensor],
                alpha: Optional[Tensor], spec: LossSpec, scale: float,
                jac_p: bool, jac_t: bool) -> PassResult:
    """:func:`_iou_pass` by the torch implementation, chunk by chunk."""
    dtype = compute_dtype(pred, target)
    n = pred.size(0)
    reduced = weight is not None
    grads = [
        pred.new_empty((n, 4), dtype=dtype) if wanted else None
        for wanted in (jac_p, jac_t)
    ]
    loss = None if reduced else pred.new_empty((n, ), dtype=dtype)
    partial = []
    bounds = bounds_matrix(dtype, pred.device)
    grad_bounds = bounds * scale if reduced else bounds
    if reduced and weight.dtype != dtype:
        weight = weight.to(dtype)
    if alpha is not None and alpha.dtype != dtype:
        alpha = alpha.to(dtype)
    step = _chunk_size(n, pred.device)
    for start in range(0, n, step):
        rows = slice(start, start + step)
        # the matrix products need one dtype; half inputs are cast a chunk
        # at a time, so that their memory stays bounded too
        pred_rows, target_rows = pred[rows], target[rows]
        if pred_rows.dtype != dtype:
            pred_rows = pred_rows.to(dtype)
        if target_rows.dtype != dtype:
            target_rows = target_rows.to(dtype)
        chunk_loss = _loss_and_jacobian(
            pred_rows, target_rows, bounds, spec,
            None if alpha is None else alpha[rows],
            weight[rows] if reduced else None,
            None if grads[0] is None else grads[0][rows],
            None if grads[1] is None else grads[1][rows], grad_bounds)
        if reduced:
            partial.append(chunk_loss)
        else:
            loss[rows] = chunk_loss
    if not reduced:
        return loss, grads
    if not partial:
        return pred.new_zeros((), dtype=dtype), grads
    return torch.stack(partial).sum().mul_(scale), grads


def _apply(pred: Tensor, target: Tensor, weight: Optional[Tensor],
           alpha: Optional[Tensor], spec: LossSpec, want_grad: bool,
           scale: float) -> Tensor:
    """The loss of each pair ``(n,)``, or, given per-pair ``weight``, the
    scalar ``scale * sum(weight * loss)``, as a :class:`.FusedPass`: the
    derivatives come out of the forward pass."""
    return FusedPass.apply(_iou_pass, (spec, scale), 2, weight is None,
                           want_grad, pred, target, weight, alpha)


def _iou_family(pred: Tensor,
                target: Tensor,
                spec: LossSpec,
                weight: Optional[Tensor] = None,
                reduction: str = 'none',
                avg_factor: Optional[float] = None,
                loss_weight: float = 1.0,
                alpha: Optional[Tensor] = None) -> Tensor:
    """The front end of the four losses: checks, shapes, reduction."""
    check_box_pairs(pred, target)
    if spec.eps <= 0:
        raise ValueError(f'eps must be positive, got {spec.eps}')
    shape = pred.shape[:-1]
    if pred.dim() != 2:
        # a reshape of a tensor that needs a gradient is a node of the graph
        # (and a step of the backward pass) even when it changes nothing
        pred, target = pred.reshape(-1, 4), target.reshape(-1, 4)
    if alpha is not None:
        alpha = alpha.detach().reshape(-1)
    want_grad = torch.is_grad_enabled() and (pred.requires_grad
                                             or target.requires_grad)
    scale = fused_scale(weight, reduction, avg_factor, loss_weight,
                        pred.size(0))
    if scale is None or reduction == 'none':
        loss = _apply(pred, target, None, alpha, spec, want_grad, 1.0)
        return weight_reduce_loss(
            loss.reshape(shape),
            weight,
            reduction,
            avg_factor,
            loss_weight=loss_weight)
    # weighted sum and its scale inside the Function: one pass, and a
    # backward that is at most one product
    if weight is None:
        weight = pred.new_ones(())
    try:
        weight = weight.expand(shape).reshape(-1)
    except RuntimeError:
        raise ValueError(f'weight of shape {tuple(weight.shape)} does not '
                         f'broadcast to the loss shape {tuple(shape)}')
    return _apply(pred, target, weight, alpha, spec, want_grad, scale)


_REDUCE_ARGS = """
    Keyword args (all optional; the defaults return the loss of each pair):
        weight: per-pair weights, broadcastable to the loss shape.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``; a reduced loss is
            computed in one pass with its gradient (mmdet's
            ``weight_reduce_loss`` rules, see :mod:`.reduction`).
        avg_factor: with ``'mean'``, divide the sum by it instead.
        loss_weight: factor of the loss, applied in the same pass.
"""


def iou_loss(pred: Tensor,
             target: Tensor,
             mode: str = 'log',
             eps: float = 1e-6,
             *,
             weight: Optional[Tensor] = None,
             reduction: str = 'none',
             avg_factor: Optional[float] = None,
             loss_weight: float = 1.0) -> Tensor:
    r"""IoU loss of aligned ``'xyxy'`` boxes, UnitBox (arXiv:1608.01471).

    Args:
        pred, target: boxes ``(..., 4)``, ``'xyxy'``.
        mode: ``'log'``: :math:`-\ln IoU`; ``'linear'``: :math:`1 - IoU`;
            ``'square'``: :math:`1 - IoU^2`.
        eps: floor of the union and of the IoU (in every mode, as mmdet).

    Returns:
        The loss of each pair, shape ``(...)``, or the reduced loss.
    """
    if mode not in IOU_MODES:
        raise ValueError(f'mode must be one of {IOU_MODES}, got {mode!r}')
    return _iou_family(pred, target, LossSpec('iou', mode, eps, None), weight,
                       reduction, avg_factor, loss_weight)


def giou_loss(pred: Tensor,
              target: Tensor,
              eps: float = 1e-7,
              *,
              weight: Optional[Tensor] = None,
              reduction: str = 'none',
              avg_factor: Optional[float] = None,
              loss_weight: float = 1.0) -> Tensor:
    r"""GIoU loss :math:`1 - IoU + (C - U) / C` of aligned ``'xyxy'`` boxes
    (Rezatofighi et al., CVPR 2019, arXiv:1902.09630); in ``[0, 2]``.

    ``eps`` floors the union U and the enclosing area C. Returns the loss of
    each pair, shape ``(...)``, or the reduced loss.
    """
    return _iou_family(pred, target, LossSpec('giou', '', eps, None), weight,
                       reduction, avg_factor, loss_weight)


def diou_loss(pred: Tensor,
              target: Tensor,
              eps: float = 1e-7,
              *,
              weight: Optional[Tensor] = None,
              reduction: str = 'none',
              avg_factor: Optional[float] = None,
              loss_weight: float = 1.0) -> Tensor:
    r"""DIoU loss :math:`1 - IoU + \rho^2 / c^2` of aligned ``'xyxy'``
    boxes (Zheng et al., AAAI 2020, arXiv:1911.08287); in ``[0, 2)``.

    ``eps`` floors the union and is added to ``c^2``. Returns the loss of
    each pair, shape ``(...)``, or the reduced loss.
    """
    return _iou_family(pred, target, LossSpec('diou', '', eps, None), weight,
                       reduction, avg_factor, loss_weight)


def ciou_loss(pred: Tensor,
              target: Tensor,
              eps: float = 1e-7,
              alpha_iou_threshold: Optional[float] = None,
              *,
              weight: Optional[Tensor] = None,
              reduction: str = 'none',
              avg_factor: Optional[float] = None,
              loss_weight: float = 1.0) -> Tensor:
    r"""CIoU loss :math:`1 - IoU + \rho^2 / c^2 + \alpha v` of aligned
    ``'xyxy'`` boxes (Zheng et al., AAAI 2020, arXiv:1911.08287).

    :math:`v = \frac{4}{\pi^2}(\arctan\frac{w_t}{h_t} -
    \arctan\frac{w}{h})^2` and :math:`\alpha = v / ((1 - IoU) + v)`
    carries no gradient, as in the authors' code, mmdet and torchvision.

    Args:
        pred, target: boxes ``(..., 4)``, ``'xyxy'``.
        eps: floor of the union, added to ``c^2``.
        alpha_iou_threshold: ``None`` (the default here): alpha is never
            gated, as in the AAAI paper and
            ``torchvision.ops.complete_box_iou_loss``; ``0.5``: alpha is 0
            where ``IoU <= 0.5``, as in mmdet's ``ciou_loss`` (and the
            default of the ``CIoULoss`` module of this package).

    Returns:
        The loss of each pair, shape ``(...)``, or the reduced loss.
    """
    return _iou_family(pred, target,
                       LossSpec('ciou', '', eps, alpha_iou_threshold), weight,
                       reduction, avg_factor, loss_weight)


for _loss in (iou_loss, giou_loss, diou_loss, ciou_loss):
    _loss.__doc__ += _REDUCE_ARGS
