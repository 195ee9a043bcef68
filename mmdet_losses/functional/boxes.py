"""Horizontal box formats and the converters between them.

Every function names the format it takes; the last dimension holds the four
numbers of a box, and any leading dimensions are kept.

* ``'xyxy'``: ``(x1, y1, x2, y2)``, top-left and bottom-right corners.
* ``'cxcywh'``: ``(cx, cy, w, h)``, centre, width and height.
* ``'xywh'``: ``(x1, y1, w, h)``, top-left corner, width and height (COCO).
* ``'ltrb'``: ``(left, top, right, bottom)`` distances from a point to the
  four sides of the box, as regressed by FCOS and GFL; needs the points.

A box with ``x2 < x1`` or ``y2 < y1`` is *inverted*; the converters keep
its numbers as they are (no sorting, no clamping) and :func:`box_area` gives
it a negative area, as :func:`torchvision.ops.box_area` does.
"""
from typing import Optional

import torch
from torch import Tensor

BOX_FORMATS = ('xyxy', 'cxcywh', 'xywh', 'ltrb')


def _check_boxes(boxes: Tensor, name: str = 'boxes') -> None:
    if not isinstance(boxes, Tensor):
        raise TypeError(f'{name} must be a torch.Tensor, got '
                        f'{type(boxes).__name__}')
    if boxes.dim() == 0 or boxes.size(-1) != 4:
        raise ValueError(f'{name} must have shape (..., 4), got '
                         f'{tuple(boxes.shape)}')


def check_box_pairs(pred: Tensor, target: Tensor) -> None:
    """Raise unless ``pred`` and ``target`` are aligned pairs of boxes: two
    tensors ``(..., 4)`` of the same shape."""
    _check_boxes(pred, 'pred')
    _check_boxes(target, 'target')
    if pred.shape != target.shape:
        raise ValueError('pred and target must have the same shape, got '
                         f'{tuple(pred.shape)} and {tuple(target.shape)}')


def _check_points(points: Optional[Tensor], boxes: Tensor) -> Tensor:
    if points is None:
        raise ValueError("the 'ltrb' box format needs the points the "
                         'distances are measured from (points=...)')
    if points.dim() == 0 or points.size(-1) != 2:
        raise ValueError('points must have shape (..., 2), got '
                         f'{tuple(points.shape)}')
    try:
        torch.broadcast_shapes(points.shape[:-1], boxes.shape[:-1])
    except RuntimeError:
        raise ValueError(f'points of shape {tuple(points.shape)} do not '
                         f'match boxes of shape {tuple(boxes.shape)}')
    return points


def box_area(boxes_xyxy: Tensor) -> Tensor:
    """Area ``(x2 - x1) * (y2 - y1)`` of ``'xyxy'`` boxes, shape ``(...)``.

    Inverted boxes get a negative area; zero-width boxes a zero one.
    """
    _check_boxes(boxes_xyxy, 'boxes_xyxy')
    wh = boxes_xyxy[..., 2:] - boxes_xyxy[..., :2]
    return wh[..., 0] * wh[..., 1]


def cxcywh_to_xyxy(boxes: Tensor) -> Tensor:
    """``(cx, cy, w, h)`` -> ``(x1, y1, x2, y2)``."""
    _check_boxes(boxes)
    centre, half = boxes[..., :2], boxes[..., 2:] * 0.5
    return torch.cat([centre - half, centre + half], dim=-1)


def xyxy_to_cxcywh(boxes: Tensor) -> Tensor:
    """``(x1, y1, x2, y2)`` -> ``(cx, cy, w, h)``."""
    _check_boxes(boxes)
    lo, hi = boxes[..., :2], boxes[..., 2:]
    return torch.cat([(lo + hi) * 0.5, hi - lo], dim=-1)


def xywh_to_xyxy(boxes: Tensor) -> Tensor:
    """``(x1, y1, w, h)`` -> ``(x1, y1, x2, y2)``."""
    _check_boxes(boxes)
    lo = boxes[..., :2]
    return torch.cat([lo, lo + boxes[..., 2:]], dim=-1)


def xyxy_to_xywh(boxes: Tensor) -> Tensor:
    """``(x1, y1, x2, y2)`` -> ``(x1, y1, w, h)``."""
    _check_boxes(boxes)
    lo = boxes[..., :2]
    return torch.cat([lo, boxes[..., 2:] - lo], dim=-1)


def distance_to_xyxy(points: Tensor, distances: Tensor) -> Tensor:
    """Boxes from the distances ``(left, top, right, bottom)`` of
    ``points`` ``(..., 2)`` to their sides: ``(x - l, y - t, x + r, y + b)``.

    The inverse of :func:`xyxy_to_distance`; FCOS (Tian et al., ICCV 2019)
    and GFL (Li et al., NeurIPS 2020) regress boxes this way. No clamping:
    negative distances give inverted boxes.
    """
    _check_boxes(distances, 'distances')
    _check_points(points, distances)
    return torch.cat(
        [points - distances[..., :2], points + distances[..., 2:]], dim=-1)


def xyxy_to_distance(points: Tensor, boxes: Tensor) -> Tensor:
    """Distances ``(left, top, right, bottom)`` from ``points`` ``(..., 2)``
    to the sides of ``'xyxy'`` boxes: ``(x - x1, y - y1, x2 - x, y2 - y)``.

    A point outside its box gets a negative distance; nothing is clamped
    (mmdet's ``bbox2distance`` clamps to ``[0, max_dis - 0.01]``, which a
    caller that needs it does on the result).
    """
    _check_boxes(boxes)
    _check_points(points, boxes)
    return torch.cat([points - boxes[..., :2], boxes[..., 2:] - points],
                     dim=-1)


# each format but 'xyxy' and 'ltrb' (which needs the points): its converters
# to and from 'xyxy'
_CONVERTERS = {
    'cxcywh': (cxcywh_to_xyxy, xyxy_to_cxcywh),
    'xywh': (xywh_to_xyxy, xyxy_to_xywh),
}


def _convert(boxes: Tensor, fmt: str, to_xyxy: bool,
             points: Optional[Tensor]) -> Tensor:
    """``boxes`` from ``fmt`` to ``'xyxy'`` (``to_xyxy``) or back."""
    if fmt == 'xyxy':
        return boxes
    if fmt == 'ltrb':
        convert = distance_to_xyxy if to_xyxy else xyxy_to_distance
        return convert(points, boxes)
    return _CONVERTERS[fmt][0 if to_xyxy else 1](boxes)


def check_box_format(fmt: str) -> str:
    """Return ``fmt`` if it names a known format, else raise ValueError."""
    if fmt not in BOX_FORMATS:
        raise ValueError(f'unknown box format {fmt!r}; expected one of '
                         f'{BOX_FORMATS}')
    return fmt


def convert_boxes(boxes: Tensor,
                  src: str,
                  dst: str,
                  points: Optional[Tensor] = None) -> Tensor:
    """Convert ``boxes`` from format ``src`` to format ``dst``.

    Args:
        boxes: boxes in format ``src``, shape ``(..., 4)``.
        src, dst: one of ``'xyxy'``, ``'cxcywh'``, ``'xywh'``, ``'ltrb'``.
        points: the points ``(..., 2)`` that ``'ltrb'`` distances are
            measured from; required when ``src`` or ``dst`` is ``'ltrb'``.

    Returns:
        The boxes in format ``dst``; ``boxes`` itself when ``src == dst``.
    """
    check_box_format(src)
    check_box_format(dst)
    _check_boxes(boxes)
    if 'ltrb' in (src, dst):
        _check_points(points, boxes)
    if src == dst:
        return boxes
    return _convert(_convert(boxes, src, True, points), dst, False, points)
