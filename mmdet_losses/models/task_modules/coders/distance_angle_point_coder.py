"""Point-to-side distances plus an angle, for anchor-free rotated heads
(FCOS, Tian et al., ICCV 2019, with a rotated box frame)."""
from typing import Optional, Sequence, Union

import torch
from mmdet.models.task_modules.coders import BaseBBoxCoder
from mmdet.structures.bbox import BaseBoxes
from torch import Tensor

from mmdet_losses.registry import TASK_UTILS
from mmdet_losses.structures import (RotatedBoxes, check_angle_version,
                                     points_in_rbox_frame, rboxes_as_tensor,
                                     regularize_rboxes)


@TASK_UTILS.register_module()
class DistanceAnglePointCoder(BaseBBoxCoder):
    """Encode a rotated box seen from a point as ``(l, t, r, b, angle)``.

    ``l, t, r, b`` are the distances from the point to the box's four sides,
    measured in the box's own frame: ``l`` and ``r`` along the ``w`` side,
    ``t`` and ``b`` along the ``h`` side. With ``(u, v)`` the point in that
    frame (:func:`~mmdet_losses.structures.points_in_rbox_frame`)::

        l = w/2 + u,  r = w/2 - u,  t = h/2 + v,  b = h/2 - v

    A point lies inside the box when all four are positive. Decoding puts
    the centre at ``point + R(angle) ((r - l) / 2, (b - t) / 2)`` with
    ``w = l + r`` and ``h = t + b``, and regularises to ``angle_version``.
    The boxes are encoded as given: regularise them first for a unique
    angle.

    Args:
        angle_version: convention of the decoded boxes.
        use_box_type: decode to ``RotatedBoxes`` rather than a tensor.
    """

    encode_size = 5

    def __init__(self,
                 angle_version: str = 'le90',
                 use_box_type: bool = True,
                 **kwargs) -> None:
        super().__init__(use_box_type=use_box_type, **kwargs)
        self.angle_version = check_angle_version(angle_version)

    def encode(self,
               points: Tensor,
               gt_bboxes: Union[Tensor, BaseBoxes],
               max_dis: Optional[float] = None,
               eps: float = 0.1) -> Tensor:
        """``(..., 5)`` targets of ``(..., 2)`` points for ``(..., 5)``
        boxes, broadcast together.

        Args:
            max_dis: clamp distances below ``max_dis - eps`` (as mmdet's
                ``DistancePointBBoxCoder``), for bounded distributions.
        """
        boxes = rboxes_as_tensor(gt_bboxes)
        u, v = points_in_rbox_frame(boxes, points)
        half_w, half_h = boxes[..., 2] / 2, boxes[..., 3] / 2
        distances = torch.stack(
            [half_w + u, half_h + v, half_w - u, half_h - v], dim=-1)
        if max_dis is not None:
            distances = distances.clamp(min=0, max=max_dis - eps)
        angle = boxes[..., 4:5].expand(distances.shape[:-1] + (1, ))
        return torch.cat([distances, angle], dim=-1)

    def decode(self,
               points: Tensor,
               pred_bboxes: Tensor,
               max_shape: Optional[Sequence[int]] = None
               ) -> Union[Tensor, RotatedBoxes]:
        """Rotated boxes from ``(..., 2)`` points and ``(..., 5)``
        ``(l, t, r, b, angle)``; ``max_shape`` is accepted for mmdet's heads
        and ignored (rotated boxes are not clipped)."""
        if pred_bboxes.size(-1) != 5:
            raise ValueError(f'expected (l, t, r, b, angle) per point, got '
                             f'{pred_bboxes.size(-1)} values')
        left, top, right, bottom, angle = pred_bboxes.unbind(dim=-1)
        cos, sin = torch.cos(angle), torch.sin(angle)
        du, dv = (right - left) / 2, (bottom - top) / 2
        points = points[..., :2]
        boxes = torch.stack([
            points[..., 0] + du * cos - dv * sin, points[..., 1] + du * sin +
            dv * cos, left + right, top + bottom, angle
        ],
                            dim=-1)
        boxes = regularize_rboxes(boxes, self.angle_version)
        return RotatedBoxes(boxes, clone=False) if self.use_box_type \
            else boxes
