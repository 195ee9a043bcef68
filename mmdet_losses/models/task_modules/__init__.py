import mmdet.models.task_modules  # noqa: F401  (registers mmdet's first)

from .assigners import RBboxOverlaps2D
from .coders import DeltaXYWHTRBBoxCoder, DistanceAnglePointCoder
from .diou_nms import diou_nms  # noqa: F401  (also registers it with mmcv)
from .prior_generators import FakeRotatedAnchorGenerator

__all__ = [
    'RBboxOverlaps2D', 'DeltaXYWHTRBBoxCoder', 'DistanceAnglePointCoder',
    'FakeRotatedAnchorGenerator'
]
