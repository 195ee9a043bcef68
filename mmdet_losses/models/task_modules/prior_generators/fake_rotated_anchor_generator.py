"""Horizontal anchors served as rotated boxes, for rotated anchor heads."""
from typing import Optional, Tuple

import torch
from mmdet.models.task_modules.prior_generators import AnchorGenerator
from torch import Tensor

from mmdet_losses.registry import TASK_UTILS
from mmdet_losses.structures import (RotatedBoxes, check_angle_version,
                                     hbox2rbox, regularize_rboxes)


@TASK_UTILS.register_module()
class FakeRotatedAnchorGenerator(AnchorGenerator):
    """mmdet's ``AnchorGenerator`` (same arguments), its anchors returned as
    ``RotatedBoxes`` with angle 0.

    Args:
        angle_version: if given, the anchors are regularised to it (a tall
            anchor becomes a wide one turned by -pi/2: the same box);
            ``None`` keeps ``t = 0`` and the sides as generated.
    """

    def __init__(self,
                 *args,
                 angle_version: Optional[str] = None,
                 **kwargs) -> None:
        kwargs.pop('use_box_type', None)
        super().__init__(*args, **kwargs)
        if angle_version is not None:
            check_angle_version(angle_version)
        self.angle_version = angle_version

    def _as_rboxes(self, anchors: Tensor) -> RotatedBoxes:
        rboxes = hbox2rbox(anchors)
        if self.angle_version is not None:
            rboxes = regularize_rboxes(rboxes, self.angle_version)
        return RotatedBoxes(rboxes, clone=False)

    def single_level_grid_priors(self,
                                 featmap_size: Tuple[int, int],
                                 level_idx: int,
                                 dtype: torch.dtype = torch.float32,
                                 device='cuda') -> RotatedBoxes:
        anchors = super().single_level_grid_priors(
            featmap_size, level_idx, dtype=dtype, device=device)
        return self._as_rboxes(anchors)

    def sparse_priors(self,
                      prior_idxs: Tensor,
                      featmap_size: Tuple[int, int],
                      level_idx: int,
                      dtype: torch.dtype = torch.float32,
                      device='cuda') -> RotatedBoxes:
        anchors = super().sparse_priors(
            prior_idxs, featmap_size, level_idx, dtype=dtype, device=device)
        return self._as_rboxes(anchors)
