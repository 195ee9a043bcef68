"""Geometry of rotated boxes that the package's own code needs.

Boxes are mmrotate's ``rbox`` (``RotatedBoxes``): ``(cx, cy, w, h, t)``, in
pixels, the angle ``t`` in radians, image coordinates (x right, y down), the
w side along ``(cos t, sin t)`` and the h side along ``(-sin t, cos t)``, the
orientation of mmcv's ``box_iou_rotated`` and ``nms_rotated``. Box types,
angle versions and their conversions belong to mmrotate
(``mmrotate.structures.bbox``); this module holds only the two pieces of
geometry that the pure-torch PIoU, the pruned rotated IoU calculator and the
synthetic data generator share, so that each is written once. Both accept
torch tensors or numpy arrays and return the same kind, because the
calculator's pair search and the generator run in numpy.
"""
from typing import Tuple, TypeVar

import numpy as np
import torch

Array = TypeVar('Array', torch.Tensor, np.ndarray)

__all__ = ['rbox_half_extents', 'points_in_rbox_frame']


def _xp(boxes):
    return np if isinstance(boxes, np.ndarray) else torch


def rbox_half_extents(boxes: Array) -> Tuple[Array, Array]:
    """Half width and half height of the horizontal hull of ``(..., 5)``
    rboxes: ``(w |cos t| + h |sin t|) / 2`` and ``(w |sin t| + h |cos t|)
    / 2``. The hull is ``cx -+ half_x``, ``cy -+ half_y``."""
    xp = _xp(boxes)
    w, h, t = boxes[..., 2], boxes[..., 3], boxes[..., 4]
    cos, sin = xp.abs(xp.cos(t)), xp.abs(xp.sin(t))
    return (w * cos + h * sin) / 2, (w * sin + h * cos) / 2


def points_in_rbox_frame(boxes: Array, points: Array) -> Tuple[Array, Array]:
    """Coordinates ``(u, v)`` of points in the frame of rboxes: ``u`` along
    the w side, ``v`` along the h side, from the box centre.

    Args:
        boxes: ``(..., 5)`` rboxes; points: ``(..., 2)`` ``(x, y)``;
            broadcast together (``points[:, None]`` against ``boxes[None]``
            gives every pair).
    """
    xp = _xp(boxes)
    dx = points[..., 0] - boxes[..., 0]
    dy = points[..., 1] - boxes[..., 1]
    cos, sin = xp.cos(boxes[..., 4]), xp.sin(boxes[..., 4])
    return dx * cos + dy * sin, dy * cos - dx * sin
