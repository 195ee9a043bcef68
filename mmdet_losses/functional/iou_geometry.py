r"""The geometry of box pairs and the terms of the IoU family: each formula
of IoU, GIoU, DIoU and CIoU once, for the losses (:mod:`.iou_family`) and
the pairwise :func:`box_iou`.

* IoU loss, UnitBox (Yu et al., ACM MM 2016, arXiv:1608.01471):
  :math:`-\ln IoU`, or :math:`1 - IoU` (linear), or :math:`1 - IoU^2`
  (square).
* GIoU, Rezatofighi et al., CVPR 2019 (arXiv:1902.09630):
  :math:`IoU - (C - U) / C`, C the area of the smallest enclosing box.
* DIoU, Zheng et al., AAAI 2020 (arXiv:1911.08287):
  :math:`IoU - \rho^2 / c^2`, rho the distance of the centres, c the
  diagonal of the enclosing box.
* CIoU, same paper: the DIoU loss :math:`+ \alpha v`, with
  :math:`v = 4/\pi^2 (\arctan(w_t/h_t) - \arctan(w/h))^2` and
  :math:`\alpha = v / ((1 - IoU) + v)`, a weight without gradient.

All boxes are ``'xyxy'``. One geometry routine (:func:`pair_geometry`, which
works on the boxes' bounds ``(-x1, -y1, x2, y2)`` inside) computes
intersection, union, enclosing box and centre offset for all of them,
aligned (the losses) or broadcast to all pairs (:func:`box_iou`).
:func:`loss_terms` gives the loss of each pair with its partial derivatives
with respect to that geometry, from which :mod:`.iou_family` assembles the
Jacobian. The C++ kernel (``csrc/iou_family_cpu.cpp``) restates these
definitions in one loop; tests hold the two against each other.

The terms are written for speed (in place on what they own; see
``docs/losses.md``, "How they are fast"); :func:`box_iou` goes through
autograd, so the shared terms never overwrite their inputs.
"""
import math
from functools import lru_cache
from typing import NamedTuple, Optional, Tuple

import torch
from torch import Tensor

from .precomputed_grad import compute_dtype

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
def bounds_matrix(dtype: torch.dtype, device: torch.device) -> Tensor:
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
    return bounds_geometry(
        _to_bounds(boxes1), _to_bounds(boxes2), eps, enclose, centres, sizes,
        d_inter, False)


def bounds_geometry(b1: Tensor, b2: Tensor, eps: float, enclose: bool,
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
        # the sum goes into the maximum's storage unless autograd records
        # it (box_iou of boxes that need a gradient): out= has no backward
        graph = torch.is_grad_enabled() and (b1.requires_grad
                                             or b2.requires_grad)
        enclose_wh = torch.add(
            low, high, out=None if graph else low).clamp_(min=0)
    if centres or jacobian:
        diff = torch.sub(b1, b2, out=b2 if reuse_b2 else None)
    if centres:
        # twice a centre is x1 + x2, the upper bound minus the lower one
        low, high = diff.split(2)
        centre_offset = high - low
    return PairGeometry(union, iou, enclose_wh, centre_offset, wh1, wh2, grad,
                        diff)


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


def _enclose_cover(enclose_wh: Tensor, union: Tensor,
                   eps: float) -> Tuple[Tensor, Tensor, Tensor]:
    """GIoU's ``(C - U) / C = 1 - U / C`` (arXiv:1902.09630): ``(U / C,
    1 / C, C)``, with ``C = cw ch`` floored at ``eps`` (the raw ``C`` last,
    for the floor's mask)."""
    w, h = enclose_wh.unbind()
    area = w * h
    inv_area = area.clamp(min=eps).reciprocal_()
    return union * inv_area, inv_area, area


def _centre_distance(centre_offset: Tensor, enclose_wh: Tensor,
                     eps: float) -> Tuple[Tensor, Tensor]:
    """DIoU's ``rho^2 / c^2`` (arXiv:1911.08287) and ``1 / c^2``, with
    ``rho^2 = |offset|^2 / 4`` (the offset is twice the centres') and
    ``c^2 = cw^2 + ch^2 + eps``."""
    w, h = enclose_wh.unbind()
    inv_diag2 = torch.addcmul(w * w, h, h).add_(eps).reciprocal_()
    x, y = centre_offset.unbind()
    dist = torch.addcmul(x * x, y, y).mul_(inv_diag2).mul_(0.25)
    return dist, inv_diag2


class LossSpec(NamedTuple):
    """Which loss of the family, and its parameters."""
    kind: str  # 'iou', 'giou', 'diou' or 'ciou'
    mode: str  # IoU loss: 'log', 'linear' or 'square'; '' for the others
    eps: float
    alpha_iou_threshold: Optional[float]


def loss_terms(geo: PairGeometry, spec: LossSpec, alpha: Optional[Tensor],
               jac_t: bool):
    """The loss of each pair and its partial derivatives with respect to
    the geometry: ``(loss, iou, d_iou, d_union, d_enclose, d_centre, d_wh_p,
    d_wh_t)``; ``iou`` is the IoU the derivatives are taken at, None stands
    for a term the loss does not have (``d_iou``: None means -1).
    ``geo.iou``, ``geo.enclose_wh`` and ``geo.centre_offset`` may be
    overwritten; ``alpha`` (CIoU), where given, is used as it is.
    ``jac_t``: also the aspect-ratio derivative of the target's sides."""
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
        cover, inv_c, raw_c = _enclose_cover(ew, union, eps)
        loss = cover.neg_().add_(2).sub_(iou)
        d_union = inv_c.neg_()  # -1 / C
        # dL/dC = U / C^2 where C is not floored; dC/d(cw, ch) = (ch, cw)
        d_c = raw_c.ge_(eps).mul_(d_union).mul_(d_union).mul_(union)
        d_enclose = ew.flip(0).mul_(d_c)
        return loss, iou, None, d_union, d_enclose, None, None, None
    # 1 - IoU + rho^2 / c^2
    off = geo.centre_offset
    dist, inv_diag2 = _centre_distance(off, ew, eps)
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
    dtype = compute_dtype(boxes1, boxes2)
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
        # IoU - (C - U) / C
        cover = _enclose_cover(geo.enclose_wh, geo.union, eps)[0]
        out = out + cover - 1
    elif mode == 'diou':
        out = out - _centre_distance(geo.centre_offset, geo.enclose_wh, eps)[0]
    return out.to(out_dtype)
