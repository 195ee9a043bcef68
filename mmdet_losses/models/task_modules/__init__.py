import mmdet.models.task_modules  # noqa: F401  (registers mmdet's first)

from .assigners import PrunedRBboxOverlaps2D, pruned_rbbox_overlaps
from .diou_nms import diou_nms, register_diou_nms, register_diou_nms_if_used

__all__ = [
    'PrunedRBboxOverlaps2D', 'pruned_rbbox_overlaps', 'diou_nms',
    'register_diou_nms', 'register_diou_nms_if_used'
]
