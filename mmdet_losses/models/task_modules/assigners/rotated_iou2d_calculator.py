"""Rotated IoU for assigners (``iou_calculator=dict(type='RBboxOverlaps2D')``
in e.g. mmdet's ``MaxIoUAssigner``)."""
from typing import Union

from mmdet.structures.bbox import BaseBoxes
from torch import Tensor

from mmdet_losses.registry import TASK_UTILS
from mmdet_losses.structures import rbox_overlaps, rboxes_as_tensor


@TASK_UTILS.register_module()
class RBboxOverlaps2D:
    """IoU or IoF between rotated boxes, equal to mmcv's
    ``box_iou_rotated`` but computed only for pairs whose horizontal hulls
    meet (:func:`~mmdet_losses.structures.rbox_overlaps`): the all-anchors
    by all-boxes matrix of an assigner costs a few percent of the dense
    kernel.

    Args:
        prune: ``False`` runs the dense kernel (for comparison).
    """

    def __init__(self, prune: bool = True) -> None:
        self.prune = prune

    def __call__(self,
                 bboxes1: Union[Tensor, BaseBoxes],
                 bboxes2: Union[Tensor, BaseBoxes],
                 mode: str = 'iou',
                 is_aligned: bool = False) -> Tensor:
        """``(m, n)`` overlaps (``(m,)`` aligned) of ``RotatedBoxes``,
        other box types (converted) or ``(n, 5)`` rbox tensors."""
        return rbox_overlaps(
            rboxes_as_tensor(bboxes1),
            rboxes_as_tensor(bboxes2),
            mode=mode,
            is_aligned=is_aligned,
            prune=self.prune)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(prune={self.prune})'
