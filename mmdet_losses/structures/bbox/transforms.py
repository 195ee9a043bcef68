"""Rotated box formats, angle conventions and conversions, in plain torch.

This module is the one home of the rotated box geometry of the package;
everything else (box types, coders, heads, datasets, metric, tools) calls it.

Formats, by name:

``rbox``
    ``(cx, cy, w, h, t)``: centre, side lengths and angle ``t`` in radians,
    in image coordinates (x to the right, y down). The ``w`` side points
    along ``(cos t, sin t)``, so a positive ``t`` turns the box clockwise on
    screen. This is the convention of mmcv's ``box_iou_rotated`` and
    ``nms_rotated`` with ``clockwise=True`` (their default), and mmrotate's.
``qbox``
    ``(x1, y1, x2, y2, x3, y3, x4, y4)``: four corners, as DOTA's labelTxt
    lines give them. :func:`rbox2qbox` writes the corners at the box's local
    ``(-w/2, -h/2), (w/2, -h/2), (w/2, h/2), (-w/2, h/2)``: clockwise on
    screen, starting from the corner that is top-left when ``t = 0``.
``hbox``
    ``(x1, y1, x2, y2)``: a horizontal box, mmdet's default format.

Angle versions, mmrotate's names: the same rectangle has several ``rbox``
descriptions (``t + pi`` is the same box; so is ``t + pi/2`` with ``w`` and
``h`` swapped). A version picks one:

``le90`` (the package default)
    ``w >= h`` and ``t`` in ``[-pi/2, pi/2)``.
``le135``
    ``w >= h`` and ``t`` in ``[-pi/4, 3 pi/4)``.
``oc``
    ``t`` in ``[-pi/2, 0)``, ``w`` and ``h`` in any order (OpenCV's
    ``minAreaRect`` family).
"""
import math
from typing import Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from mmdet_losses.functional.polygon_iou import quad_signed_area

ANGLE_VERSIONS = ('le90', 'le135', 'oc')

# the version's first angle, and whether it orders the sides (w >= h)
_VERSIONS = {
    'le90': (-math.pi / 2, True),
    'le135': (-math.pi / 4, True),
    'oc': (-math.pi / 2, False),
}


def check_angle_version(angle_version: str) -> str:
    """Return ``angle_version`` or raise a ValueError naming the options."""
    if angle_version not in _VERSIONS:
        raise ValueError(f'angle_version must be one of {ANGLE_VERSIONS}, '
                         f'got {angle_version!r}')
    return angle_version


def _wrap(angle: Tensor, start: float, period: float) -> Tensor:
    """``angle`` moved by whole periods into ``[start, start + period)``."""
    inside = (angle >= start) & (angle < start + period)
    wrapped = torch.remainder(angle - start, period) + start
    # remainder rounds tiny negative offsets up to exactly one period
    wrapped = torch.where(wrapped >= start + period, wrapped - period, wrapped)
    # angles already in range stay bit for bit (regularising is idempotent)
    return torch.where(inside, angle, wrapped)


def norm_angle(angle: Tensor, angle_version: str = 'le90') -> Tensor:
    """Angles moved by multiples of pi into the range of ``angle_version``.

    A rectangle turned by pi is the same rectangle, so this changes no box.
    The range is ``[-pi/2, pi/2)`` for ``le90`` and ``oc`` (whose narrower
    range needs a side swap: see :func:`regularize_rboxes`) and
    ``[-pi/4, 3 pi/4)`` for ``le135``.
    """
    start, _ = _VERSIONS[check_angle_version(angle_version)]
    return _wrap(angle, start, math.pi)


def regularize_rboxes(boxes: Tensor, angle_version: str = 'le90') -> Tensor:
    """The unique description of each ``rbox`` in ``angle_version``.

    Args:
        boxes: ``(..., 5)`` rboxes.
        angle_version: ``'le90'``, ``'le135'`` or ``'oc'``.

    Returns:
        ``(..., 5)`` rboxes describing the same rectangles. Idempotent; a
        square keeps its sides (``w == h`` counts as ``w >= h``).
    """
    start, width_longer = _VERSIONS[check_angle_version(angle_version)]
    ctr, w, h, t = boxes.split((2, 1, 1, 1), dim=-1)
    if width_longer:
        swap = h > w
        t = _wrap(torch.where(swap, t + math.pi / 2, t), start, math.pi)
    else:
        t = _wrap(t, start, math.pi)
        swap = t >= start + math.pi / 2
        t = torch.where(swap, t - math.pi / 2, t)
    w, h = torch.where(swap, h, w), torch.where(swap, w, h)
    return torch.cat([ctr, w, h, t], dim=-1)


def rbox2qbox(boxes: Tensor) -> Tensor:
    """``(..., 5)`` rboxes to ``(..., 8)`` corners (order: module docstring).
    """
    ctr, w, h, t = boxes.split((2, 1, 1, 1), dim=-1)
    cos, sin = torch.cos(t), torch.sin(t)
    # half of the w side and half of the h side, as image vectors
    half_w = torch.cat([w * cos, w * sin], dim=-1) / 2
    half_h = torch.cat([-h * sin, h * cos], dim=-1) / 2
    corners = [
        ctr - half_w - half_h, ctr + half_w - half_h, ctr + half_w + half_h,
        ctr - half_w + half_h
    ]
    return torch.cat(corners, dim=-1)


def rbox2hbox(boxes: Union[Tensor, np.ndarray]) -> Union[Tensor, np.ndarray]:
    """``(..., 5)`` rboxes to their ``(..., 4)`` horizontal hulls (xyxy).

    Takes a tensor or a numpy array (the assigners' pair search runs in
    numpy) and returns the same kind.
    """
    xp = np if isinstance(boxes, np.ndarray) else torch
    cx, cy, w, h, t = (boxes[..., k] for k in range(5))
    cos, sin = abs(xp.cos(t)), abs(xp.sin(t))
    half_w = (w * cos + h * sin) / 2
    half_h = (w * sin + h * cos) / 2
    return xp.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], -1)


def hbox2rbox(boxes: Tensor) -> Tensor:
    """``(..., 4)`` xyxy boxes to rboxes with ``t = 0`` (sides as given:
    regularise them for a version that orders the sides)."""
    xy1, xy2 = boxes.split((2, 2), dim=-1)
    return torch.cat([(xy1 + xy2) / 2, xy2 - xy1,
                      boxes.new_zeros(boxes.shape[:-1] + (1, ))],
                     dim=-1)


def hbox2qbox(boxes: Tensor) -> Tensor:
    """``(..., 4)`` xyxy boxes to ``(..., 8)`` corners, clockwise on screen
    from the top-left one."""
    x1, y1, x2, y2 = boxes.unbind(dim=-1)
    return torch.stack([x1, y1, x2, y1, x2, y2, x1, y2], dim=-1)


def qbox2hbox(boxes: Tensor) -> Tensor:
    """``(..., 8)`` corners to their ``(..., 4)`` horizontal hulls."""
    points = boxes.reshape(boxes.shape[:-1] + (4, 2))
    return torch.cat([points.amin(dim=-2), points.amax(dim=-2)], dim=-1)


# the six pairs of corners of a quadrilateral: every edge of its convex hull
_PAIRS = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))


def qbox2rbox(boxes: Tensor, angle_version: str = 'le90') -> Tensor:
    """The minimum-area rectangle around each ``(..., 8)`` quadrilateral.

    The smallest rectangle around a point set has a side along an edge of
    the set's convex hull; for four points every hull edge joins two of the
    points, so trying the six directions that join two corners is exact for
    any corner order, convex or not. For rectangles the result is the
    rectangle itself.

    Returns:
        ``(..., 5)`` rboxes, regularised to ``angle_version``.
    """
    points = boxes.reshape(boxes.shape[:-1] + (4, 2))
    pairs = torch.tensor(_PAIRS, device=boxes.device)
    edges = points[..., pairs[:, 1], :] - points[..., pairs[:, 0], :]
    theta = torch.atan2(edges[..., 1], edges[..., 0])  # (..., 6)
    cos, sin = torch.cos(theta)[..., None], torch.sin(theta)[..., None]
    # corners in the frame of each candidate direction: (..., 6, 4)
    x, y = points[..., None, :, 0], points[..., None, :, 1]
    u = x * cos + y * sin
    v = -x * sin + y * cos
    u_min, u_max = u.amin(dim=-1), u.amax(dim=-1)
    v_min, v_max = v.amin(dim=-1), v.amax(dim=-1)
    best = ((u_max - u_min) * (v_max - v_min)).argmin(dim=-1, keepdim=True)

    def pick(x: Tensor) -> Tensor:
        return x.gather(-1, best).squeeze(-1)

    u_mid = (pick(u_min) + pick(u_max)) / 2
    v_mid = (pick(v_min) + pick(v_max)) / 2
    angle = pick(theta)
    cx = u_mid * torch.cos(angle) - v_mid * torch.sin(angle)
    cy = u_mid * torch.sin(angle) + v_mid * torch.cos(angle)
    rboxes = torch.stack(
        [cx, cy,
         pick(u_max) - pick(u_min),
         pick(v_max) - pick(v_min), angle],
        dim=-1)
    return regularize_rboxes(rboxes, angle_version)


def qbox_areas(boxes: Tensor) -> Tensor:
    """Areas of ``(..., 8)`` simple quadrilaterals (shoelace formula)."""
    return quad_signed_area(boxes.reshape(boxes.shape[:-1] + (4, 2))).abs()


def flip_rboxes(boxes: Tensor,
                img_shape: Tuple[int, int],
                direction: str = 'horizontal') -> Tensor:
    """Mirror ``(..., 5)`` rboxes in an image of ``img_shape = (h, w)``.

    A mirror negates the angle; a diagonal flip (both mirrors) is a half
    turn, which keeps it. Coordinates map as mmdet's horizontal boxes do:
    ``x -> width - x``.
    """
    if direction not in ('horizontal', 'vertical', 'diagonal'):
        raise ValueError(f'flip direction must be horizontal, vertical or '
                         f'diagonal, got {direction!r}')
    cx, cy, w, h, t = boxes.unbind(dim=-1)
    if direction in ('horizontal', 'diagonal'):
        cx = img_shape[1] - cx
    if direction in ('vertical', 'diagonal'):
        cy = img_shape[0] - cy
    if direction != 'diagonal':
        t = -t
    return torch.stack([cx, cy, w, h, t], dim=-1)


def rotation_matrix(center: Sequence[float], angle: float) -> Tensor:
    """The 2 x 3 affine matrix turning image points about ``center`` by
    ``angle`` degrees, clockwise on screen for positive angles (mmdet's
    ``BaseBoxes.rotate_`` convention), in float64."""
    a = math.radians(angle)
    cos, sin = math.cos(a), math.sin(a)
    cx, cy = center
    return torch.tensor([[cos, -sin, cx - cos * cx + sin * cy],
                         [sin, cos, cy - sin * cx - cos * cy]],
                        dtype=torch.float64)


def rotate_rboxes(boxes: Tensor, center: Sequence[float],
                  angle: float) -> Tensor:
    """``(..., 5)`` rboxes turned about ``center`` by ``angle`` degrees,
    clockwise on screen for positive angles; the angle grows by ``angle``
    (not regularised)."""
    matrix = rotation_matrix(center, angle).to(boxes)
    ctr, wh, t = boxes.split((2, 2, 1), dim=-1)
    ctr = ctr @ matrix[:, :2].T + matrix[:, 2]
    return torch.cat([ctr, wh, t + math.radians(angle)], dim=-1)


def points_in_rbox_frame(boxes: Union[Tensor, np.ndarray],
                         points: Union[Tensor, np.ndarray]) -> Tuple:
    """Coordinates ``(u, v)`` of points in the frame of rboxes: ``u`` along
    the ``w`` side, ``v`` along the ``h`` side, from the box centre.

    Args:
        boxes: ``(..., 5)`` rboxes; points: ``(..., 2)``; broadcast together
            (e.g. ``points[:, None]`` against ``boxes[None]`` for all pairs).
            Tensors, or numpy arrays (then numpy arrays come back).
    """
    xp = np if isinstance(boxes, np.ndarray) else torch
    dx = points[..., 0] - boxes[..., 0]
    dy = points[..., 1] - boxes[..., 1]
    cos, sin = xp.cos(boxes[..., 4]), xp.sin(boxes[..., 4])
    return dx * cos + dy * sin, -dx * sin + dy * cos


def rboxes_contain_points(boxes: Tensor, points: Tensor) -> Tensor:
    """Whether each point lies inside (or on the border of) each rbox;
    broadcasting as :func:`points_in_rbox_frame`."""
    u, v = points_in_rbox_frame(boxes, points)
    return (u.abs() <= boxes[..., 2] / 2) & (v.abs() <= boxes[..., 3] / 2)


def hbox_inside(hboxes: Tensor,
                img_shape: Tuple[int, int],
                all_inside: bool = False,
                allowed_border: int = 0) -> Tensor:
    """Mask of horizontal hulls ``(..., 4)`` (xyxy) that lie inside the image
    (``all_inside``) or meet it, the image grown by ``allowed_border``
    pixels on every side: the ``is_inside`` of every rotated box type."""
    img_h, img_w = img_shape
    x1, y1, x2, y2 = hboxes.unbind(dim=-1)
    low = -allowed_border
    high_x, high_y = img_w + allowed_border, img_h + allowed_border
    if all_inside:
        return (x1 >= low) & (y1 >= low) & (x2 < high_x) & (y2 < high_y)
    return (x1 < high_x) & (y1 < high_y) & (x2 > low) & (y2 > low)
