"""Delta (x, y, w, h, angle) coder between rotated anchors and rotated
boxes, the rotated extension of the R-CNN box parameterisation
(Girshick et al., "Rich feature hierarchies...", CVPR 2014) used by
rotated RetinaNet (Yang et al., "R3Det", AAAI 2021, and mmrotate)."""
import math
from typing import Optional, Sequence, Union

import torch
from mmdet.models.task_modules.coders import BaseBBoxCoder
from mmdet.structures.bbox import BaseBoxes
from torch import Tensor

from mmdet_losses.registry import TASK_UTILS
from mmdet_losses.structures import (RotatedBoxes, check_angle_version,
                                     norm_angle, rboxes_as_tensor,
                                     regularize_rboxes)


def _half_turn_wrap(angle: Tensor) -> Tensor:
    """Angle differences as the same turn of a rectangle within
    ``[-pi/2, pi/2)``: a box turned by pi is the same box."""
    return norm_angle(angle, 'le90')


@TASK_UTILS.register_module()
class DeltaXYWHTRBBoxCoder(BaseBBoxCoder):
    """Encode rotated boxes as deltas from rotated anchors, and back.

    With anchor ``(ax, ay, aw, ah, at)`` and box ``(gx, gy, gw, gh, gt)``
    (the box regularised to ``angle_version`` first)::

        dx, dy = R(-at) (g - a) / (aw, ah)   if proj_xy
                 (g - a) / (aw, ah)          otherwise
        dw, dh = log(gw / aw), log(gh / ah)
        dt     = wrap(gt - at)               in [-pi/2, pi/2)

    then ``(d - target_means) / target_stds``; with ``norm_factor`` the
    angle delta is divided by ``norm_factor * pi`` first.

    With ``edge_swap`` the box may instead be described by its other side
    pair, ``(gh, gw, gt + pi/2)``, whichever needs the smaller turn from
    the anchor: the angle delta stays within ``[-pi/4, pi/4]`` and a square
    anchor never has to learn a quarter turn.

    Decoding inverts these steps and regularises the boxes to
    ``angle_version``.

    Args:
        target_means, target_stds: normalisation of the five deltas.
        angle_version: ``'le90'`` (default), ``'le135'`` or ``'oc'``; the
            convention of the decoded boxes and of the box targets.
        norm_factor: divide the angle delta by ``norm_factor * pi``.
        edge_swap: let the box swap its sides to turn less (see above).
        proj_xy: express the centre offset in the anchor's own frame.
        use_box_type: decode to ``RotatedBoxes`` rather than a tensor.
    """

    encode_size = 5

    def __init__(self,
                 target_means: Sequence[float] = (0., 0., 0., 0., 0.),
                 target_stds: Sequence[float] = (1., 1., 1., 1., 1.),
                 angle_version: str = 'le90',
                 norm_factor: Optional[float] = None,
                 edge_swap: bool = True,
                 proj_xy: bool = True,
                 use_box_type: bool = True,
                 **kwargs) -> None:
        super().__init__(use_box_type=use_box_type, **kwargs)
        if len(target_means) != 5 or len(target_stds) != 5:
            raise ValueError('target_means and target_stds need 5 values '
                             '(x, y, w, h, angle)')
        self.means = tuple(float(m) for m in target_means)
        self.stds = tuple(float(s) for s in target_stds)
        self.angle_version = check_angle_version(angle_version)
        self.norm_factor = norm_factor
        self.edge_swap = edge_swap
        self.proj_xy = proj_xy

    def angle_deltas(self, anchor_angles: Tensor, angles: Tensor) -> Tensor:
        """The normalised angle delta that turns ``anchor_angles`` into
        ``angles`` (the fifth delta, for heads that predict angles apart).
        """
        dt = _half_turn_wrap(angles - anchor_angles)
        if self.norm_factor:
            dt = dt / (self.norm_factor * math.pi)
        return (dt - self.means[4]) / self.stds[4]

    def encode(self, bboxes: Union[Tensor, BaseBoxes],
               gt_bboxes: Union[Tensor, BaseBoxes]) -> Tensor:
        """Deltas ``(n, 5)`` from anchors ``bboxes`` to ``gt_bboxes``."""
        anchors = rboxes_as_tensor(bboxes)
        gts = regularize_rboxes(
            rboxes_as_tensor(gt_bboxes), self.angle_version)
        if anchors.shape != gts.shape:
            raise ValueError(f'anchors {tuple(anchors.shape)} and boxes '
                             f'{tuple(gts.shape)} must pair up')
        ax, ay, aw, ah, at = anchors.unbind(dim=-1)
        gx, gy, gw, gh, gt = gts.unbind(dim=-1)
        ox, oy = gx - ax, gy - ay
        if self.proj_xy:
            cos, sin = torch.cos(at), torch.sin(at)
            ox, oy = cos * ox + sin * oy, -sin * ox + cos * oy
        dx, dy = ox / aw, oy / ah
        turn = _half_turn_wrap(gt - at)
        if self.edge_swap:
            other = _half_turn_wrap(gt - at + math.pi / 2)
            swap = other.abs() < turn.abs()
            gw, gh = torch.where(swap, gh, gw), torch.where(swap, gw, gh)
            gt = torch.where(swap, gt + math.pi / 2, gt)
        deltas = torch.stack([
            dx, dy,
            torch.log(gw / aw),
            torch.log(gh / ah),
            self.angle_deltas(at, gt)
        ],
                             dim=-1)
        means = deltas.new_tensor(self.means[:4])
        stds = deltas.new_tensor(self.stds[:4])
        return torch.cat([(deltas[..., :4] - means) / stds, deltas[..., 4:]],
                         dim=-1)

    def decode(self,
               bboxes: Union[Tensor, BaseBoxes],
               pred_bboxes: Tensor,
               max_shape: Optional[Sequence[int]] = None,
               wh_ratio_clip: float = 16 / 1000
               ) -> Union[Tensor, RotatedBoxes]:
        """Boxes from anchors ``(n, 5)`` (or ``(b, n, 5)``) and deltas.

        Args:
            max_shape: accepted for mmdet's heads; rotated boxes are not
                clipped to the image.
            wh_ratio_clip: ``dw`` and ``dh`` are clamped to
                ``|log(wh_ratio_clip)|``, so a box grows at most by that
                factor's inverse (``exp`` cannot overflow).
        """
        anchors = rboxes_as_tensor(bboxes).to(pred_bboxes.dtype)
        if pred_bboxes.size(-1) != 5:
            raise ValueError(f'expected 5 deltas per box, got '
                             f'{pred_bboxes.size(-1)}')
        deltas = pred_bboxes * pred_bboxes.new_tensor(self.stds) + \
            pred_bboxes.new_tensor(self.means)
        dx, dy, dw, dh, dt = deltas.unbind(dim=-1)
        if self.norm_factor:
            dt = dt * (self.norm_factor * math.pi)
        limit = abs(math.log(wh_ratio_clip))
        dw, dh = dw.clamp(-limit, limit), dh.clamp(-limit, limit)
        ax, ay, aw, ah, at = anchors.unbind(dim=-1)
        ox, oy = dx * aw, dy * ah
        if self.proj_xy:
            cos, sin = torch.cos(at), torch.sin(at)
            ox, oy = cos * ox - sin * oy, sin * ox + cos * oy
        boxes = torch.stack(
            [ax + ox, ay + oy, aw * dw.exp(), ah * dh.exp(), at + dt], dim=-1)
        boxes = regularize_rboxes(boxes, self.angle_version)
        return RotatedBoxes(boxes, clone=False) if self.use_box_type \
            else boxes
