"""Exact IoU of convex quadrilaterals (rotated boxes given by their
corners), vectorised over pairs and differentiable.

The intersection of two convex polygons is the convex polygon whose
vertices are the corners of each polygon lying inside the other and the
crossings of their edges. For quadrilaterals that is at most 4 + 4 + 16
candidate points per pair: all are computed at once, the valid ones sorted
by angle about their mean, and the area taken with the shoelace formula.
The order of the points is a constant of the backward; the area is
differentiable in the point coordinates, which are differentiable in the
corners, so gradients flow to both boxes (as the rotated IoU loss of
Zhou et al., "IoU Loss for 2D/3D Object Detection", 3DV 2019, needs).

Corners are ``(..., 8)`` (``x1, y1, ..., x4, y4``) in order around the
polygon, either orientation; mmrotate's ``rbox2qbox`` gives
them for ``(cx, cy, w, h, t)`` boxes. Pure torch, any device.
"""
from typing import Tuple

import torch
from torch import Tensor

__all__ = [
    'quad_intersection_area', 'quad_iou_loss', 'quad_overlaps',
    'quad_signed_area'
]


def quad_signed_area(quads: Tensor) -> Tensor:
    """Signed shoelace area of ``(..., k, 2)`` polygon vertices (positive
    when they turn counter-clockwise in x-right, y-up axes).

    The vertices are taken about their mean: far from the origin the
    products of the shoelace formula would cancel most of their digits.
    """
    centred = quads - quads.mean(dim=-2, keepdim=True)
    x, y = centred[..., 0], centred[..., 1]
    return (x * y.roll(-1, dims=-1) - x.roll(-1, dims=-1) * y).sum(-1) / 2


def _cross(a: Tensor, b: Tensor) -> Tensor:
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def _inside(points: Tensor, quads: Tensor, tol: Tensor) -> Tensor:
    """Whether ``(n, k, 2)`` points lie in (or within ``tol`` of the border
    of) the ``(n, 4, 2)`` convex quadrilaterals."""
    edges = quads.roll(-1, dims=-2) - quads  # (n, 4, 2)
    to_point = points[:, :, None, :] - quads[:, None, :, :]  # (n, k, 4, 2)
    side = _cross(edges[:, None], to_point)  # (n, k, 4)
    orientation = torch.sign(quad_signed_area(quads))[:, None, None]
    # cross / |edge| is the distance to the edge's line, signed
    length = edges.norm(dim=-1)[:, None].clamp(min=1e-30)
    return (orientation * side / length >= -tol[:, None, None]).all(-1)


def _edge_crossings(quads1: Tensor, quads2: Tensor,
                    tol: Tensor) -> Tuple[Tensor, Tensor]:
    """The ``(n, 16, 2)`` crossings of every edge of ``quads1`` with every
    edge of ``quads2``, and whether each exists."""
    p = quads1[:, :, None, :]  # (n, 4, 1, 2): start of edge a
    r = (quads1.roll(-1, dims=-2) - quads1)[:, :, None, :]
    q = quads2[:, None, :, :]  # (n, 1, 4, 2): start of edge b
    s = (quads2.roll(-1, dims=-2) - quads2)[:, None, :, :]
    denom = _cross(r, s)  # (n, 4, 4)
    scale = r.norm(dim=-1) * s.norm(dim=-1)
    parallel = denom.abs() <= 1e-12 * scale
    safe = torch.where(parallel, torch.ones_like(denom), denom)
    qp = q - p
    t = _cross(qp, s) / safe  # position along edge a, in [0, 1]
    u = _cross(qp, r) / safe  # position along edge b
    # the tolerance in length units, as a fraction of each edge
    tol_t = tol[:, None, None] / r.norm(dim=-1).clamp(min=1e-30)
    tol_u = tol[:, None, None] / s.norm(dim=-1).clamp(min=1e-30)
    valid = ~parallel & (t >= -tol_t) & (t <= 1 + tol_t) & \
        (u >= -tol_u) & (u <= 1 + tol_u)
    points = p + t[..., None] * r
    n = quads1.size(0)
    return points.reshape(n, 16, 2), valid.reshape(n, 16)


def quad_intersection_area(quads1: Tensor, quads2: Tensor) -> Tensor:
    """Area of the intersection of aligned pairs of convex quadrilaterals.

    Args:
        quads1, quads2: ``(n, 8)`` corners (see the module docstring).

    Returns:
        ``(n,)`` areas, differentiable in both inputs.
    """
    n = quads1.size(0)
    if n == 0:
        return quads1.new_zeros(0)
    quads1 = quads1.reshape(n, 4, 2)
    quads2 = quads2.reshape(n, 4, 2)
    # work about the first polygon's centre: coordinates in the thousands
    # would otherwise lose digits in the cross products
    origin = quads1.mean(dim=1, keepdim=True).detach()
    quads1, quads2 = quads1 - origin, quads2 - origin
    # boundary tolerance: a relative 1e-6 of the pair's size in float32,
    # far below any area that counts, 1e-12 in float64
    extent = torch.cat([quads1, quads2], dim=1).detach().abs().amax(dim=(1, 2))
    rel = 1e-6 if quads1.dtype in (torch.float32, torch.float16,
                                   torch.bfloat16) else 1e-12
    tol = rel * (extent + 1)

    crossings, crossing_ok = _edge_crossings(quads1, quads2, tol)
    points = torch.cat([quads1, quads2, crossings], dim=1)  # (n, 24, 2)
    valid = torch.cat([
        _inside(quads1, quads2, tol),
        _inside(quads2, quads1, tol), crossing_ok
    ],
                      dim=1)

    count = valid.sum(dim=1, keepdim=True)
    with torch.no_grad():
        weights = valid.to(points.dtype)[..., None]
        centre = (points * weights).sum(1) / count.clamp(min=1)
        offset = points - centre[:, None]
        angle = torch.atan2(offset[..., 1], offset[..., 0])
        # invalid points sort last
        angle = torch.where(valid, angle, torch.full_like(angle, 10.))
        order = angle.argsort(dim=1)
    ordered = points.gather(1, order[..., None].expand(-1, -1, 2))
    # beyond the valid ones, repeat the first point: zero-area segments
    rank = torch.arange(points.size(1), device=points.device)
    ordered = torch.where((rank[None] < count)[..., None], ordered,
                          ordered[:, :1])
    area = quad_signed_area(ordered).abs()
    # fewer than three points enclose nothing
    return torch.where(count.squeeze(1) >= 3, area, torch.zeros_like(area))


def quad_overlaps(quads1: Tensor,
                  quads2: Tensor,
                  mode: str = 'iou',
                  eps: float = 0.0) -> Tensor:
    """IoU (or IoF: over the area of ``quads1``) of aligned pairs of convex
    quadrilaterals, ``(n, 8)`` each; ``(n,)``, 0 where the denominator is
    not above ``eps``."""
    if mode not in ('iou', 'iof'):
        raise ValueError(f"mode must be 'iou' or 'iof', got {mode!r}")
    inter = quad_intersection_area(quads1, quads2)
    area1 = quad_signed_area(quads1.reshape(-1, 4, 2)).abs()
    if mode == 'iou':
        area2 = quad_signed_area(quads2.reshape(-1, 4, 2)).abs()
        denom = area1 + area2 - inter
    else:
        denom = area1
    safe = torch.where(denom > eps, denom, torch.ones_like(denom))
    return torch.where(denom > eps, inter / safe, torch.zeros_like(inter))


def quad_iou_loss(pred: Tensor,
                  target: Tensor,
                  mode: str = 'log',
                  eps: float = 1e-6) -> Tensor:
    """IoU loss of aligned pairs of convex quadrilaterals, ``(n,)``.

    The UnitBox family (Yu et al., ACM MM 2016) on the exact polygon IoU:
    ``'log'``: ``-ln IoU``, ``'linear'``: ``1 - IoU``, ``'square'``:
    ``1 - IoU^2``, with the IoU floored at ``eps`` in every mode (as the
    horizontal :func:`~mmdet_losses.functional.iou_family.iou_loss`).

    Args:
        pred, target: ``(n, 8)`` corners.
    """
    if mode not in ('log', 'linear', 'square'):
        raise ValueError(f"mode must be 'log', 'linear' or 'square', got "
                         f'{mode!r}')
    if pred.shape != target.shape or pred.size(-1) != 8:
        raise ValueError(f'pred and target must both be (n, 8) corners, got '
                         f'{tuple(pred.shape)} and {tuple(target.shape)}')
    iou = quad_overlaps(pred, target).clamp(min=eps)
    if mode == 'log':
        return -iou.log()
    if mode == 'linear':
        return 1 - iou
    return 1 - iou * iou
