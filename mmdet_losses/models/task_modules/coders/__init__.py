from .angle_coder import CSLCoder, PseudoAngleCoder  # noqa: F401
from .delta_xywht_rbbox_coder import DeltaXYWHTRBBoxCoder
from .distance_angle_point_coder import DistanceAnglePointCoder

__all__ = ['DeltaXYWHTRBBoxCoder', 'DistanceAnglePointCoder']
