from .box_converters import QuadriBoxes, RotatedBoxes
from .rotated_boxes import rboxes_as_tensor
from .rotated_overlaps import rbox_overlaps
from .transforms import (ANGLE_VERSIONS, check_angle_version, flip_rboxes,
                         hbox2qbox, hbox2rbox, norm_angle,
                         points_in_rbox_frame, qbox2hbox, qbox2rbox,
                         qbox_areas, rbox2hbox, rbox2qbox,
                         rboxes_contain_points, regularize_rboxes,
                         rotate_rboxes, rotation_matrix)

__all__ = [
    'RotatedBoxes', 'QuadriBoxes', 'rbox_overlaps', 'rboxes_as_tensor',
    'ANGLE_VERSIONS', 'check_angle_version', 'norm_angle', 'regularize_rboxes',
    'rbox2qbox', 'rbox2hbox', 'hbox2rbox', 'hbox2qbox', 'qbox2hbox',
    'qbox2rbox', 'qbox_areas', 'flip_rboxes', 'rotate_rboxes',
    'rotation_matrix', 'points_in_rbox_frame', 'rboxes_contain_points'
]
