import torch
from mmrotate.structures.bbox import rbox2qbox
from torch import Tensor

from mmdet_losses.functional.polygon_iou import quad_iou_loss
from mmdet_losses.registry import MODELS
from .base import RotatedPairLoss


@MODELS.register_module()
class PolygonIoULoss(RotatedPairLoss):
    """IoU loss of rotated boxes on their exact polygon IoU, differentiable
    in both boxes (:func:`mmdet_losses.functional.polygon_iou.quad_iou_loss`;
    Zhou et al., "IoU Loss for 2D/3D Object Detection", 3DV 2019).

    The loss of mmrotate's ``RotatedIoULoss``, which needs mmcv's
    ``diff_iou_rotated_2d`` (CUDA only), in pure torch: the same config
    trains on a CPU as on a GPU, e.g. mmrotate's rotated FCOS with
    ``loss_bbox=dict(type='mmdet_losses.PolygonIoULoss')``.

    Boxes are decoded ``(cx, cy, w, h, t)`` rboxes (``RotatedBoxes`` or
    tensors; a head passes them with ``reg_decoded_bbox=True``, or decodes
    them itself as mmrotate's ``RotatedFCOSHead`` does). Only pairs with a
    positive weight are computed: dense heads hand the loss every anchor,
    with zero weights and zero targets on the negatives.

    Args:
        mode: ``'log'`` (``-ln IoU``, default, as mmrotate's
            ``RotatedIoULoss``), ``'linear'`` or ``'square'``.
        linear: mmrotate's older switch: True means ``mode='linear'``.
        eps: floor of the IoU.
        reduction, loss_weight: mmdet's.
    """

    def __init__(self,
                 linear: bool = False,
                 eps: float = 1e-6,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 mode: str = 'log') -> None:
        super().__init__(reduction, loss_weight)
        self.mode = 'linear' if linear else mode
        self.eps = eps

    def pairs(self, pred: Tensor, target: Tensor) -> Tensor:
        if pred.dtype in (torch.float16, torch.bfloat16):
            # half-precision corners (spacing 0.125 at 150 px) give wrong
            # intersections; computed in float32, as the IoU family is
            pred, target = pred.float(), target.float()
        return quad_iou_loss(
            rbox2qbox(pred), rbox2qbox(target), self.mode, self.eps)

    def extra_repr(self) -> str:
        return super().extra_repr() + f', mode={self.mode!r}'
