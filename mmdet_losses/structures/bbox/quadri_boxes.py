"""``QuadriBoxes``: mmdet's box type for four-corner boxes, as DOTA's
labelTxt files give them; pipelines convert them to ``RotatedBoxes``."""
from typing import Tuple, Union

import numpy as np
import torch
from mmdet.structures.bbox import BaseBoxes, register_box
from torch import BoolTensor, Tensor

from .rotated_boxes import RotatedBoxes
from .transforms import hbox_inside, qbox2hbox, qbox_areas, rotation_matrix


@register_box('qbox')
class QuadriBoxes(BaseBoxes):
    """Quadrilaterals ``(x1, y1, ..., x4, y4)``, registered as ``'qbox'``.

    ``widths`` and ``heights`` are those of the horizontal hull; ``clip_`` is
    a no-op (clamping corners would change the shape of the object).
    """

    box_dim = 8

    @property
    def points(self) -> Tensor:
        """The corners, ``(..., 4, 2)``."""
        return self.tensor.reshape(self.tensor.shape[:-1] + (4, 2))

    @property
    def centers(self) -> Tensor:
        return self.points.mean(dim=-2)

    @property
    def areas(self) -> Tensor:
        return qbox_areas(self.tensor)

    @property
    def widths(self) -> Tensor:
        hull = qbox2hbox(self.tensor)
        return hull[..., 2] - hull[..., 0]

    @property
    def heights(self) -> Tensor:
        hull = qbox2hbox(self.tensor)
        return hull[..., 3] - hull[..., 1]

    def flip_(self,
              img_shape: Tuple[int, int],
              direction: str = 'horizontal') -> None:
        if direction not in ('horizontal', 'vertical', 'diagonal'):
            raise ValueError(f'flip direction must be horizontal, vertical '
                             f'or diagonal, got {direction!r}')
        boxes = self.tensor.clone()
        if direction in ('horizontal', 'diagonal'):
            boxes[..., 0::2] = img_shape[1] - boxes[..., 0::2]
        if direction in ('vertical', 'diagonal'):
            boxes[..., 1::2] = img_shape[0] - boxes[..., 1::2]
        self.tensor = boxes

    def translate_(self, distances: Tuple[float, float]) -> None:
        self.tensor = self.tensor + self.tensor.new_tensor(distances).repeat(4)

    def clip_(self, img_shape: Tuple[int, int]) -> None:
        """Leave the corners as they are (see the class docstring)."""

    def _map_points(self, matrix: Tensor) -> None:
        points = self.points
        points = torch.cat(
            [points, points.new_ones(points.shape[:-1] +
                                     (1, ))], dim=-1) @ matrix.T
        if matrix.size(0) == 3:
            points = points[..., :2] / points[..., 2:3]
        self.tensor = points.reshape(self.tensor.shape)

    def rotate_(self, center: Tuple[float, float], angle: float) -> None:
        """Turn about ``center`` by ``angle`` degrees, clockwise on screen
        for positive angles."""
        self._map_points(rotation_matrix(center, angle).to(self.tensor))

    def project_(self, homography_matrix: Union[Tensor, np.ndarray]) -> None:
        self._map_points(torch.as_tensor(homography_matrix).to(self.tensor))

    def rescale_(self, scale_factor: Tuple[float, float]) -> None:
        self.tensor = self.tensor * self.tensor.new_tensor(
            scale_factor).repeat(4)

    def resize_(self, scale_factor: Tuple[float, float]) -> None:
        """Scale the corners about each centre."""
        centers = self.centers[..., None, :]
        points = (self.points -
                  centers) * self.tensor.new_tensor(scale_factor) + centers
        self.tensor = points.reshape(self.tensor.shape)

    def is_inside(self,
                  img_shape: Tuple[int, int],
                  all_inside: bool = False,
                  allowed_border: int = 0) -> BoolTensor:
        """Boxes whose hull lies inside the image (``all_inside``) or meets
        it, the image grown by ``allowed_border`` pixels on every side."""
        return hbox_inside(
            qbox2hbox(self.tensor), img_shape, all_inside, allowed_border)

    def find_inside_points(self,
                           points: Tensor,
                           is_aligned: bool = False) -> BoolTensor:
        """``(m, n)`` (or ``(m,)`` aligned) mask of points inside (or on)
        convex quadrilaterals, whichever their corner order's orientation.
        """
        corners = self.points
        assert corners.dim() == 3, 'boxes dimension must be 2.'
        if not is_aligned:
            corners, points = corners[None], points[:, None]
        else:
            assert corners.size(0) == points.size(0)
        edges = corners.roll(-1, dims=-2) - corners
        to_point = points[..., None, :] - corners
        cross = edges[..., 0] * to_point[..., 1] - \
            edges[..., 1] * to_point[..., 0]
        return (cross >= 0).all(dim=-1) | (cross <= 0).all(dim=-1)

    @staticmethod
    def overlaps(boxes1: BaseBoxes,
                 boxes2: BaseBoxes,
                 mode: str = 'iou',
                 is_aligned: bool = False,
                 eps: float = 1e-6) -> Tensor:
        """Polygon IoU or IoF with mmcv's ``box_iou_quadri`` (convex
        quadrilaterals)."""
        from mmcv.ops import box_iou_quadri
        boxes1 = boxes1.convert_to('qbox').tensor
        boxes2 = boxes2.convert_to('qbox').tensor
        if boxes1.size(0) == 0 or boxes2.size(0) == 0:
            shape = (boxes1.size(0), ) if is_aligned else \
                (boxes1.size(0), boxes2.size(0))
            return boxes1.new_zeros(shape)
        return box_iou_quadri(
            boxes1.float(), boxes2.float(), mode=mode,
            aligned=is_aligned).to(boxes1.dtype)

    @staticmethod
    def from_instance_masks(masks) -> 'QuadriBoxes':
        """The corners of the smallest rotated box around each mask."""
        return RotatedBoxes.from_instance_masks(masks).convert_to('qbox')
