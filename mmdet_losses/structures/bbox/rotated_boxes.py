"""``RotatedBoxes``: mmdet's box type for ``(cx, cy, w, h, t)`` boxes."""
from typing import Optional, Tuple, Union

import cv2
import numpy as np
import torch
from mmdet.structures.bbox import BaseBoxes, register_box
from torch import BoolTensor, Tensor

from .rotated_overlaps import rbox_overlaps
from .transforms import (flip_rboxes, hbox_inside, qbox2rbox, rbox2hbox,
                         rbox2qbox, rboxes_contain_points, regularize_rboxes,
                         rotate_rboxes)


@register_box('rbox')
class RotatedBoxes(BaseBoxes):
    """Rotated boxes ``(cx, cy, w, h, t)``, ``t`` in radians, clockwise on
    screen (the format is described in
    :mod:`mmdet_losses.structures.bbox.transforms`).

    Registered with mmdet's box types as ``'rbox'``, so pipelines and
    heads can name it (``LoadAnnotations(box_type='qbox')`` then
    ``ConvertBoxType(box_type_mapping=dict(gt_bboxes='rbox'))``), and
    ``convert_to('qbox' | 'hbox')`` works.

    Geometric transforms keep the angles as they come (not regularised);
    coders and heads regularise to their ``angle_version``.
    """

    box_dim = 5

    def regularize_boxes(self, pattern: str = 'le90') -> Tensor:
        """The boxes described in angle version ``pattern`` (a tensor)."""
        return regularize_rboxes(self.tensor, pattern)

    @property
    def centers(self) -> Tensor:
        return self.tensor[..., :2]

    @property
    def areas(self) -> Tensor:
        return self.tensor[..., 2] * self.tensor[..., 3]

    @property
    def widths(self) -> Tensor:
        return self.tensor[..., 2]

    @property
    def heights(self) -> Tensor:
        return self.tensor[..., 3]

    def flip_(self,
              img_shape: Tuple[int, int],
              direction: str = 'horizontal') -> None:
        self.tensor = flip_rboxes(self.tensor, img_shape, direction)

    def translate_(self, distances: Tuple[float, float]) -> None:
        boxes = self.tensor.clone()
        boxes[..., :2] += boxes.new_tensor(distances)
        self.tensor = boxes

    def clip_(self, img_shape: Tuple[int, int]) -> None:
        """Leave the boxes as they are.

        A rotated box cut at the image border is no longer a rectangle of
        the same object; mmdet's ``Resize`` calls this for every image, so
        it is a no-op rather than an error.
        """

    def rotate_(self, center: Tuple[float, float], angle: float) -> None:
        """Turn about ``center`` by ``angle`` degrees, clockwise on screen
        for positive angles (mmdet's convention)."""
        self.tensor = rotate_rboxes(self.tensor, center, angle)

    def project_(self, homography_matrix: Union[Tensor, np.ndarray]) -> None:
        """Map the corners through a 3 x 3 homography; the result is the
        smallest rotated box around them (exact for similarities)."""
        matrix = torch.as_tensor(homography_matrix).to(self.tensor)
        corners = rbox2qbox(self.tensor).reshape(-1, 4, 2)
        corners = torch.cat(
            [corners, corners.new_ones(*corners.shape[:2], 1)],
            dim=-1) @ matrix.T
        corners = corners[..., :2] / corners[..., 2:3]
        self.tensor = qbox2rbox(corners.reshape(*self.tensor.shape[:-1], 8))

    def rescale_(self, scale_factor: Tuple[float, float]) -> None:
        """Scale the image by ``(sx, sy)``: exact when ``sx == sy``.

        Otherwise the image of a rectangle is a parallelogram; the box keeps
        the image of the ``w`` side, and the height that keeps the area.
        """
        sx, sy = float(scale_factor[0]), float(scale_factor[1])
        if sx == sy:
            boxes = self.tensor.clone()
            boxes[..., :4] *= sx
            self.tensor = boxes
            return
        cx, cy, w, h, t = self.tensor.unbind(dim=-1)
        cos, sin = torch.cos(t), torch.sin(t)
        new_w = w * torch.sqrt((sx * cos)**2 + (sy * sin)**2)
        new_t = torch.atan2(sy * sin, sx * cos)
        new_h = (w * h * sx * sy) / new_w.clamp(min=1e-12)
        new_h = torch.where(w > 0, new_h,
                            h * torch.sqrt((sx * sin)**2 + (sy * cos)**2))
        self.tensor = torch.stack([cx * sx, cy * sy, new_w, new_h, new_t],
                                  dim=-1)

    def resize_(self, scale_factor: Tuple[float, float]) -> None:
        """Scale ``w`` by ``scale_factor[0]`` and ``h`` by
        ``scale_factor[1]`` about each centre."""
        boxes = self.tensor.clone()
        boxes[..., 2:4] *= boxes.new_tensor(scale_factor)
        self.tensor = boxes

    def is_inside(self,
                  img_shape: Tuple[int, int],
                  all_inside: bool = False,
                  allowed_border: int = 0) -> BoolTensor:
        """Boxes whose hull lies inside the image (``all_inside``) or meets
        it, the image grown by ``allowed_border`` pixels on every side."""
        return hbox_inside(
            rbox2hbox(self.tensor), img_shape, all_inside, allowed_border)

    def find_inside_points(self,
                           points: Tensor,
                           is_aligned: bool = False) -> BoolTensor:
        """``(m, n)`` (or ``(m,)`` aligned) mask of points inside boxes."""
        boxes = self.tensor
        assert boxes.dim() == 2, 'boxes dimension must be 2.'
        if is_aligned:
            assert boxes.size(0) == points.size(0)
            return rboxes_contain_points(boxes, points)
        return rboxes_contain_points(boxes[None], points[:, None])

    @staticmethod
    def overlaps(boxes1: BaseBoxes,
                 boxes2: BaseBoxes,
                 mode: str = 'iou',
                 is_aligned: bool = False,
                 eps: float = 1e-6) -> Tensor:
        """Rotated IoU or IoF (see :func:`.rotated_overlaps.rbox_overlaps`;
        ``eps`` is mmcv's own)."""
        boxes1 = boxes1.convert_to('rbox').tensor
        boxes2 = boxes2.convert_to('rbox').tensor
        return rbox_overlaps(boxes1, boxes2, mode, is_aligned)

    @staticmethod
    def from_instance_masks(masks) -> 'RotatedBoxes':
        """The smallest rotated box around each mask (bitmap or polygon)."""
        from mmdet.structures.mask import BitmapMasks, PolygonMasks
        corners = []
        if isinstance(masks, BitmapMasks):
            for mask in masks.masks:
                ys, xs = np.nonzero(mask)
                corners.append(_min_area_corners(np.stack([xs, ys], -1)))
        elif isinstance(masks, PolygonMasks):
            for polygons in masks.masks:
                points = np.concatenate(polygons).reshape(-1, 2) \
                    if polygons else np.zeros((0, 2))
                corners.append(_min_area_corners(points))
        else:
            raise TypeError(f'masks must be BitmapMasks or PolygonMasks, '
                            f'got {type(masks).__name__}')
        if not corners:
            return RotatedBoxes(torch.zeros(0, 5))
        return RotatedBoxes(qbox2rbox(torch.tensor(np.stack(corners))))


def _min_area_corners(points: np.ndarray) -> np.ndarray:
    """Eight corner coordinates of OpenCV's smallest rectangle around
    ``points`` (zeros for no points)."""
    if len(points) == 0:
        return np.zeros(8, np.float32)
    rect = cv2.minAreaRect(points.astype(np.float32))
    return cv2.boxPoints(rect).reshape(8)


def rboxes_as_tensor(boxes: Union[Tensor, BaseBoxes],
                     dtype: Optional[torch.dtype] = None) -> Tensor:
    """The ``(n, 5)`` rbox tensor of ``RotatedBoxes``, other box types
    (converted) or a plain ``(n, 5)`` tensor; anything else is an error."""
    if isinstance(boxes, BaseBoxes):
        boxes = boxes.convert_to('rbox').tensor
    elif not isinstance(boxes, Tensor) or boxes.size(-1) != 5:
        shape = tuple(boxes.shape) if isinstance(boxes, Tensor) else None
        raise TypeError(f'expected RotatedBoxes or an (n, 5) rbox tensor, '
                        f'got {type(boxes).__name__} of shape {shape}')
    return boxes if dtype is None else boxes.to(dtype)
