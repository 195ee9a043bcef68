r"""IoU, GIoU, DIoU and CIoU losses of aligned box pairs, and pairwise IoU.

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

All boxes are ``'xyxy'``. One geometry routine (:func:`pair_geometry`, which
works on the boxes' bounds ``(-x1, -y1, x2, y2)`` inside) computes
intersection, union, enclosing box and centre offset for all of them, aligned
(the losses) or broadcast to all pairs (:func:`box_iou`). The
losses run in a :class:`torch.autograd.Function` whose backward is the
analytic derivative: it keeps no graph of intermediates, which makes it
faster and lighter than autograd through the formula.

On CPU, float32 and float64 pairs go through a compiled kernel instead
(``csrc/iou_family_cpu.cpp``, built on first use, see :mod:`.native`): the
same definitions, loss and derivatives, in one loop over the pairs. The
torch implementation here serves every other device and dtype, and CPUs
where no C++ compiler is found; tests hold each against the references and
the two against each other.

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
import math
from functools import lru_cache
from typing import NamedTuple, Optional

import torch
from torch import Tensor
from torch.autograd import Function
from torch.autograd.function import once_differentiable

from . import native
from .precomputed_grad import autocast_off, precomputed_backward
from .reduction import AVG_FACTOR_EPS, check_reduction, weight_reduce_loss

IOU_MODES = ('log', 'linear', 'square')
PAIRWISE_MODES = ('iou', 'giou', 'diou')
_V_SCALE = 4 / math.pi**2


class PairGeometry(NamedTuple):
    """What :func:`pair_geometry` measures of box pairs.

    ``(2, ...)`` fields hold the x part in row 0 and the y part in row 1.
    Optional fields are None unless asked for.
    """
    union: Tensor  # (...) union area, floored at eps
    iou: Tensor  # (...)
    enclose_wh: Optional[Tensor]  # (2, ...) enclosing box, clamped at 0
    centre_offset: Optional[Tensor]  # (2, ...) 2 * (centre1 - centre2)
    wh1: Optional[Tensor]  # (2, ...) signed width and height of boxes1
    wh2: Optional[Tensor]  # (2, ...) of boxes2
    # (2, ...) derivative of the intersection area with respect to the
    # unclamped intersection width and height: (ih, iw) where the clamp at
    # 0 lets the derivative through (width >= 0), else 0
    d_inter: Optional[Tensor]
    # (4, ...) bounds of boxes1 minus bounds of boxes2 (see _to_bounds):
    # its sign says which box sets each side of the intersection and of the
    # enclosing box
    bounds_diff: Optional[Tensor]


# Inside the IoU family a box is held as its four upper bounds, "bounds
# form": (-x1, -y1, x2, y2) for the 'xyxy' box (x1, y1, x2, y2), the box
# being -x <= -x1, -y <= -y1, x <= x2, y <= y2. With the lower edges negated
# the intersection of two boxes is the elementwise minimum of their bounds,
# the enclosing box the elementwise maximum, and a side is the sum of its two
# bounds: one minimum over four rows and sums, where 'xyxy' needs a minimum
# and a maximum over two rows each and differences. On CPU, where a small
# loss costs per torch call more than per box, that saves calls; the
# negation itself rides on the matrix product that transposes the boxes.
_BOUND_SIGNS = (-1.0, -1.0, 1.0, 1.0)


def _to_bounds(boxes: Tensor) -> Tensor:
    """Coordinate-first ``'xyxy'`` boxes ``(4, ...)`` -> bounds form."""
    signs = boxes.new_tensor(_BOUND_SIGNS)
    return boxes * signs.view((4, ) + (1, ) * (boxes.dim() - 1))


@lru_cache(maxsize=None)
def _bounds_matrix(dtype: torch.dtype, device: torch.device) -> Tensor:
    """``diag(-1, -1, 1, 1)``: ``(n, 4)`` 'xyxy' -> ``(4, n)`` bounds by
    ``B @ boxes.t()`` (on CPU a matrix product transposes several times
    faster than a strided copy), and the way back for gradients."""
    with torch.inference_mode(False):
        return torch.tensor(_BOUND_SIGNS, dtype=dtype, device=device).diag()


def pair_geometry(boxes1: Tensor,
                  boxes2: Tensor,
                  eps: float,
                  enclose: bool = False,
                  centres: bool = False,
                  sizes: bool = False,
                  d_inter: bool = False) -> PairGeometry:
    """The geometry shared by every IoU-family function of this package.

    Args:
        boxes1: ``'xyxy'`` boxes, coordinate first: shape ``(4, ...)``, rows
            ``x1, y1, x2, y2``.
        boxes2: the same, broadcastable against ``boxes1``.
        eps: floor of the union.
        enclose: also measure the smallest enclosing box.
        centres: also measure twice the offset of the centres.
        sizes: also return the widths and heights of both box sets.
        d_inter: also return the derivative of the intersection area (and
            ``bounds_diff``).
    """
    return _bounds_geometry(
        _to_bounds(boxes1), _to_bounds(boxes2), eps, enclose, centres, sizes,
        d_inter, False)


def _bounds_geometry(b1: Tensor, b2: Tensor, eps: float, enclose: bool,
                     centres: bool, sizes: bool, jacobian: bool,
                     reuse_b2: bool) -> PairGeometry:
    """:func:`pair_geometry` of boxes in bounds form ``(4, ...)``.

    With ``reuse_b2`` (``b2`` has the shape of the pairs and is not needed
    afterwards), ``b2`` is overwritten by ``bounds_diff``. The losses call
    this on chunks whose peak memory is what is alive here at once, so
    nothing that was not asked for is kept, and on CPU, where a chunk costs
    more per torch call than per box, views are taken a few at a time
    (``split``, ``unbind``).
    """
    lo1, hi1 = b1.split(2)
    lo2, hi2 = b2.split(2)
    # one box set at a time, and the intersection's lower and upper bounds
    # apart: a temporary is dropped as soon as it is used
    wh1 = lo1 + hi1
    union = torch.mul(*wh1.unbind())
    wh1 = wh1 if sizes else None
    wh2 = lo2 + hi2
    union = torch.addcmul(union, *wh2.unbind())
    wh2 = wh2 if sizes else None
    inter_raw = torch.minimum(lo1, lo2)
    inter_raw += torch.minimum(hi1, hi2)
    inter_wh = inter_raw.clamp(min=0)
    w, h = inter_wh.unbind()
    inter = w * h
    grad = None
    if jacobian:
        # (ih, iw), where the clamp lets the derivative through: autograd's
        # clamp passes it at the bound itself, so a touching pair (width
        # exactly 0) still has one
        grad = inter_raw.ge_(0)
        grad_w, grad_h = grad.unbind()
        grad_w.mul_(h)
        grad_h.mul_(w)
    del inter_raw, inter_wh, w, h
    union = union.sub_(inter).clamp_(min=eps)
    iou = inter.div_(union)
    enclose_wh = diff = centre_offset = None
    if enclose:
        low, high = torch.maximum(b1, b2).split(2)
        enclose_wh = torch.add(low, high, out=low).clamp_(min=0)
    if centres or jacobian:
        diff = torch.sub(b1, b2, out=b2 if reuse_b2 else None)
    if centres:
        # twice a centre is x1 + x2, the upper bound minus the lower one
        low, high = diff.split(2)
        centre_offset = high - low
    return PairGeometry(union, iou, enclose_wh, centre_offset, wh1, wh2, grad,
                        diff)


def _compute_dtype(*tensors: Tensor) -> torch.dtype:
    """float64 stays float64; everything else is computed in float32."""
    if any(t.dtype == torch.float64 for t in tensors):
        return torch.float64
    return torch.float32


def _step(x: Tensor, threshold: float, strict: bool = False) -> Tensor:
    """``1.0`` where ``x >= threshold`` (``>`` if ``strict``), else ``0.0``.

    Masks are floats multiplied in, compared in place on a copy: on CPU a
    bool mask, or a comparison written into another tensor, is several
    times slower."""
    out = x.clone()
    return out.gt_(threshold) if strict else out.ge_(threshold)


def _atan_ratio(wh: Tensor) -> Tensor:
    """``arctan(w / h)`` of ``(2, ...)`` widths/heights; 0 where w = h = 0
    (``h = 0`` alone gives ``+-pi/2`` through ``arctan(+-inf)``)."""
    w, h = wh.unbind()
    return torch.atan(w / h).nan_to_num_(0.0)


def _atan_ratio_grad(wh: Tensor, scale: Tensor) -> Tensor:
    """``scale * d arctan(w/h) / d(w, h) = scale * (h, -w) / (w^2 + h^2)``;
    zero where ``w = h = 0`` (the norm's floor keeps ``0 * factor`` finite).
    """
    w, h = wh.unbind()
    norm = torch.addcmul(w * w, h, h)
    factor = scale / norm.clamp_(min=torch.finfo(norm.dtype).tiny)
    grad = wh.flip(0).mul_(factor)
    grad[1].neg_()
    return grad


def _ciou_alpha(iou: Tensor, v: Tensor, threshold: Optional[float]) -> Tensor:
    # 1 - IoU + v >= 0; where it is 0, v is 0 and so is alpha
    denom = (1 - iou).add_(v).clamp_(min=torch.finfo(iou.dtype).tiny)
    alpha = v / denom
    if threshold is not None:
        alpha *= _step(iou, threshold, strict=True)
    return alpha


class _Spec(NamedTuple):
    kind: str  # 'iou', 'giou', 'diou' or 'ciou'
    mode: str  # IoU loss: 'log', 'linear' or 'square'
    eps: float
    alpha_iou_threshold: Optional[float]


def _loss_terms(geo: PairGeometry, spec: _Spec, alpha: Optional[Tensor],
                jac_t: bool):
    """The loss of each pair and its partial derivatives with respect to
    the geometry: ``(loss, iou, d_iou, d_union, d_enclose, d_centre, d_wh_p,
    d_wh_t)``; ``iou`` is the IoU the derivatives are taken at, None stands
    for a term the loss does not have (``d_iou``: None means -1).
    ``geo.iou``, ``geo.enclose_wh`` and ``geo.centre_offset`` may be
    overwritten."""
    kind, eps = spec.kind, spec.eps
    iou, union = geo.iou, geo.union
    d_union = d_enclose = d_centre = d_wh_p = d_wh_t = None
    if kind == 'iou':
        # mmdet floors the IoU at eps in every mode, not only in 'log';
        # where the floor is taken the derivative is 0, so the floored IoU
        # serves the Jacobian and the raw one becomes the mask
        clamped = iou.clamp(min=eps)
        live = iou.ge_(eps)
        if spec.mode == 'log':
            d_iou = live.div_(clamped).neg_()
            loss = torch.log(clamped).neg_()
        elif spec.mode == 'linear':
            loss = torch.rsub(clamped, 1)
            d_iou = live.neg_()
        else:
            d_iou = live.mul_(clamped).mul_(-2)
            loss = torch.mul(clamped, clamped).neg_().add_(1)
        return loss, clamped, d_iou, None, None, None, None, None
    ew = geo.enclose_wh
    if kind == 'giou':
        # 1 - IoU + (C - U) / C = 2 - IoU - U / C
        w, h = ew.unbind()
        raw = w * h
        d_union = raw.clamp(min=eps).reciprocal_().neg_()  # -1 / C
        ratio = union * d_union  # -U / C
        loss = ratio.add_(2).sub_(iou)
        # dL/dC = U / C^2 where C is not floored; dC/d(cw, ch) = (ch, cw)
        d_c = raw.ge_(eps).mul_(d_union).mul_(d_union).mul_(union)
        d_enclose = ew.flip(0).mul_(d_c)
        return loss, iou, None, d_union, d_enclose, None, None, None
    # 1 - IoU + rho^2 / c^2, rho^2 = |offset|^2 / 4, c^2 = cw^2 + ch^2 + eps
    off = geo.centre_offset
    w, h = ew.unbind()
    inv_diag2 = torch.addcmul(w * w, h, h).add_(eps).reciprocal_()
    x, y = off.unbind()
    dist = torch.addcmul(x * x, y, y)
    dist = dist.mul_(inv_diag2).mul_(0.25)
    loss = torch.rsub(iou, 1).add_(dist)
    d_enclose = ew.mul_(dist.mul_(inv_diag2).mul_(-2))
    d_centre = off.mul_(inv_diag2.mul_(0.5))
    if kind == 'ciou':
        # + alpha v, v = k delta^2, delta = atan(wt / ht) - atan(w / h)
        delta = _atan_ratio(geo.wh2).sub_(_atan_ratio(geo.wh1))
        v = delta * delta * _V_SCALE
        if alpha is None:
            alpha = _ciou_alpha(iou, v, spec.alpha_iou_threshold)
        loss = loss.addcmul_(alpha, v)
        scale = delta.mul_(alpha).mul_(2 * _V_SCALE)
        d_wh_p = _atan_ratio_grad(geo.wh1, -scale)
        if jac_t:
            d_wh_t = _atan_ratio_grad(geo.wh2, scale)
    return loss, iou, None, None, d_enclose, d_centre, d_wh_p, d_wh_t


def _loss_and_jacobian(pred: Tensor, target: Tensor, bounds: Tensor,
                       spec: _Spec, alpha: Optional[Tensor],
                       weight: Optional[Tensor], grad_p: Optional[Tensor],
                       grad_t: Optional[Tensor],
                       grad_bounds: Tensor) -> Tensor:
    """Loss ``(c,)`` of one chunk of aligned pairs ``(c, 4)``, or with
    ``weight`` ``(c,)`` the sum of the weighted losses; where ``grad_p`` /
    ``grad_t`` ``(c, 4)`` are given, the derivatives of that output with
    respect to each box, times ``grad_bounds[3, 3]``, are written into
    them. ``bounds`` is :func:`_bounds_matrix`, ``grad_bounds`` a multiple
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
    geo = _bounds_geometry(
        b1,
        torch.mm(bounds, target.t()),
        eps,
        enclose=kind != 'iou',
        centres=kind in ('diou', 'ciou'),
        sizes=kind == 'ciou' or jac_t,
        jacobian=jac_p or jac_t,
        reuse_b2=True)
    terms = _loss_terms(geo, spec, alpha, jac_t)
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


_KERNEL_DTYPES = (torch.float32, torch.float64)
# the kernel's code of each loss (csrc/iou_family_cpu.cpp, enum Kind)
_KERNEL_KIND = {
    ('iou', 'log'): 0,
    ('iou', 'linear'): 1,
    ('iou', 'square'): 2,
    ('giou', ''): 3,
    ('diou', ''): 4,
    ('ciou', ''): 5
}


def _iou_pass(pred: Tensor, target: Tensor, weight: Optional[Tensor],
              alpha: Optional[Tensor], spec: _Spec, scale: float, jac_p: bool,
              jac_t: bool):
    """One pass over the pairs: the output (the loss of each pair, or with
    ``weight`` the scalar ``scale * sum(weight * loss)``) and the
    derivatives of the output with respect to ``pred`` and ``target``. By
    the compiled kernel where it serves (CPU, float32/float64 inputs), else
    by the torch implementation."""
    dtype = _compute_dtype(pred, target)
    if (pred.device.type == 'cpu' and pred.dtype in _KERNEL_DTYPES
            and target.dtype in _KERNEL_DTYPES):
        kernel = native.iou_family_kernel(dtype)
        if kernel is not None:
            return _kernel_pass(kernel, pred, target, weight, alpha, spec,
                                scale, jac_p, jac_t, dtype)
    with autocast_off(pred.device):
        return _iou_chunks(pred, target, weight, alpha, spec, scale, jac_p,
                           jac_t)


def _kernel_pass(kernel, pred: Tensor, target: Tensor,
                 weight: Optional[Tensor], alpha: Optional[Tensor],
                 spec: _Spec, scale: float, jac_p: bool, jac_t: bool,
                 dtype: torch.dtype):
    """:func:`_iou_pass` by the compiled CPU kernel (:mod:`.native`):
    one loop over the pairs, no temporaries beyond the outputs (inputs
    that are not contiguous are copied once)."""

    def ready(t: Optional[Tensor]) -> Optional[Tensor]:
        return None if t is None else t.to(dtype).contiguous()

    pred, target, weight, alpha = map(ready, (pred, target, weight, alpha))
    n = pred.size(0)
    grads = [
        pred.new_empty((n, 4)) if wanted else None for wanted in (jac_p, jac_t)
    ]
    reduced = weight is not None
    loss = None if reduced else pred.new_empty((n, ))
    threshold = spec.alpha_iou_threshold

    def address(t: Optional[Tensor]) -> Optional[int]:
        return None if t is None else t.data_ptr()

    total = kernel(_KERNEL_KIND[spec.kind, spec.mode], address(pred),
                   address(target), address(weight), address(alpha), spec.eps,
                   0.0 if threshold is None else threshold, threshold
                   is not None, scale if reduced else 1.0, address(loss),
                   *map(address, grads), n)
    if reduced:
        loss = torch.tensor(total, dtype=dtype)
    return loss, grads


def _iou_chunks(pred: Tensor, target: Tensor, weight: Optional[Tensor],
                alpha: Optional[Tensor], spec: _Spec, scale: float,
                jac_p: bool, jac_t: bool):
    dtype = _compute_dtype(pred, target)
    n = pred.size(0)
    reduced = weight is not None
    grads = [
        pred.new_empty((n, 4), dtype=dtype) if wanted else None
        for wanted in (jac_p, jac_t)
    ]
    loss = None if reduced else pred.new_empty((n, ), dtype=dtype)
    partial = []
    bounds = _bounds_matrix(dtype, pred.device)
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


class _IoUFamily(Function):
    """IoU-family loss of aligned ``'xyxy'`` pairs ``(n, 4)``: the loss of
    each pair ``(n,)``, or, given per-pair ``weight``, the scalar
    ``scale * sum(weight * loss)``. The derivatives come out of the forward
    pass (see :mod:`.precomputed_grad`)."""

    @staticmethod
    def forward(ctx, pred: Tensor, target: Tensor, weight: Optional[Tensor],
                alpha: Optional[Tensor], spec: _Spec, want_grad: bool,
                scale: float) -> Tensor:
        ctx.args = (spec, scale, want_grad
                    and ctx.needs_input_grad[0], want_grad
                    and ctx.needs_input_grad[1])
        out, ctx.grads = _iou_pass(pred, target, weight, alpha, *ctx.args)
        ctx.save_for_backward(pred, target, weight, alpha)
        ctx.dtypes = (pred.dtype, target.dtype)
        ctx.reduced = weight is not None
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):

        def recompute():
            pred, target, weight, alpha = ctx.saved_tensors
            return _iou_pass(pred, target, weight, alpha, *ctx.args)[1]

        grads = precomputed_backward(ctx, grad_out, ctx.dtypes,
                                     (lambda g: g) if ctx.reduced else
                                     (lambda g: g[:, None]), recompute)
        return grads[0], grads[1], None, None, None, None, None


def _check_pairs(pred: Tensor, target: Tensor) -> None:
    for name, boxes in (('pred', pred), ('target', target)):
        if not isinstance(boxes, Tensor):
            raise TypeError(f'{name} must be a torch.Tensor, got '
                            f'{type(boxes).__name__}')
        if boxes.dim() == 0 or boxes.size(-1) != 4:
            raise ValueError(f'{name} boxes must have shape (..., 4), got '
                             f'{tuple(boxes.shape)}')
    if pred.shape != target.shape:
        raise ValueError('pred and target must have the same shape, got '
                         f'{tuple(pred.shape)} and {tuple(target.shape)}')


def _iou_family(pred: Tensor,
                target: Tensor,
                spec: _Spec,
                weight: Optional[Tensor] = None,
                reduction: str = 'none',
                avg_factor: Optional[float] = None,
                loss_weight: float = 1.0,
                alpha: Optional[Tensor] = None) -> Tensor:
    _check_pairs(pred, target)
    check_reduction(reduction)
    if spec.eps <= 0:
        raise ValueError(f'eps must be positive, got {spec.eps}')
    if reduction == 'sum' and avg_factor is not None:
        raise ValueError('avg_factor can not be used with reduction="sum"')
    shape = pred.shape[:-1]
    if pred.dim() != 2:
        # a reshape of a tensor that needs a gradient is a node of the graph
        # (and a step of the backward pass) even when it changes nothing
        pred, target = pred.reshape(-1, 4), target.reshape(-1, 4)
    if alpha is not None:
        alpha = alpha.detach().reshape(-1)
    want_grad = torch.is_grad_enabled() and (pred.requires_grad
                                             or target.requires_grad)
    if (weight is not None and weight.requires_grad or reduction == 'none'
            or isinstance(avg_factor, Tensor)):
        loss = _IoUFamily.apply(pred, target, None, alpha, spec, want_grad,
                                1.0)
        loss = weight_reduce_loss(
            loss.reshape(shape), weight, reduction, avg_factor)
        return loss * loss_weight if loss_weight != 1 else loss
    # weighted sum and its scale inside the Function: one pass, and a
    # backward that is at most one product
    numel = pred.size(0)
    if weight is None:
        weight = pred.new_ones(())
    try:
        weight = weight.expand(shape).reshape(-1)
    except RuntimeError:
        raise ValueError(f'weight of shape {tuple(weight.shape)} does not '
                         f'broadcast to the loss shape {tuple(shape)}')
    scale = float(loss_weight)
    if avg_factor is not None:
        scale /= avg_factor + AVG_FACTOR_EPS
    elif reduction == 'mean' and numel > 0:
        scale /= numel
    return _IoUFamily.apply(pred, target, weight, alpha, spec, want_grad,
                            scale)


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
    return _iou_family(pred, target, _Spec('iou', mode, eps, None), weight,
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
    return _iou_family(pred, target, _Spec('giou', '', eps, None), weight,
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
    return _iou_family(pred, target, _Spec('diou', '', eps, None), weight,
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
    return _iou_family(pred, target, _Spec('ciou', '', eps,
                                           alpha_iou_threshold), weight,
                       reduction, avg_factor, loss_weight)


for _loss in (iou_loss, giou_loss, diou_loss, ciou_loss):
    _loss.__doc__ += _REDUCE_ARGS


def box_iou(boxes1: Tensor,
            boxes2: Tensor,
            mode: str = 'iou',
            eps: float = 1e-6) -> Tensor:
    """IoU, GIoU or DIoU of every pair of ``'xyxy'`` boxes, for assigners,
    NMS and metrics.

    Args:
        boxes1: ``(N, 4)``; boxes2: ``(M, 4)``.
        mode: ``'iou'``, ``'giou'`` or ``'diou'`` (IoU minus the normalised
            squared centre distance, as DIoU-NMS uses it).
        eps: floor of the union and the enclosing area, added to ``c^2``.

    Returns:
        ``(N, M)``, in the floating dtype of the inputs (computed in float32
        for float16 and bfloat16). Differentiable through autograd.
    """
    if mode not in PAIRWISE_MODES:
        raise ValueError(f'mode must be one of {PAIRWISE_MODES}, got '
                         f'{mode!r}')
    for name, boxes in (('boxes1', boxes1), ('boxes2', boxes2)):
        if boxes.dim() != 2 or boxes.size(-1) != 4:
            raise ValueError(f'{name} must have shape (n, 4), got '
                             f'{tuple(boxes.shape)}')
    dtype = _compute_dtype(boxes1, boxes2)
    out_dtype = torch.promote_types(boxes1.dtype, boxes2.dtype)
    if not out_dtype.is_floating_point:
        out_dtype = torch.float32
    geo = pair_geometry(
        boxes1.t().to(dtype)[:, :, None],  # (4, N, 1)
        boxes2.t().to(dtype)[:, None, :],  # (4, 1, M)
        eps,
        enclose=mode != 'iou',
        centres=mode == 'diou')
    out = geo.iou
    if mode == 'giou':
        enclose = (geo.enclose_wh[0] * geo.enclose_wh[1]).clamp(min=eps)
        out = out - (enclose - geo.union) / enclose
    elif mode == 'diou':
        ew, off = geo.enclose_wh, geo.centre_offset
        diag2 = ew[0] * ew[0] + ew[1] * ew[1] + eps
        out = out - (off[0] * off[0] + off[1] * off[1]) * 0.25 / diag2
    return out.to(out_dtype)
