import mmdet.models.task_modules  # noqa: F401  (registers mmdet's first)

from .assigners import PrunedRBboxOverlaps2D, pruned_rbbox_overlaps
from .coders import CircularSmoothLabelCoder
from .diou_nms import diou_nms, register_diou_nms, register_diou_nms_if_used

__all__ = [
    'PrunedRBboxOverlaps2D', 'pruned_rbbox_overlaps',
    'CircularSmoothLabelCoder', 'diou_nms', 'register_diou_nms',
    'register_diou_nms_if_used'
]
