"""The pure-torch core of mmdet_losses: every formula of the package lives
here, importable with torch alone (no mmdet, mmcv or mmengine), like
``torchvision.ops``. ``csrc/`` holds the IoU family's CPU kernel, the same
definitions as :mod:`.iou_family` in C++, compiled on first use
(:mod:`.native`).

A new module adds its import here and its names to ``__all__``.
"""
from .boxes import (box_area, convert_boxes, cxcywh_to_xyxy, distance_to_xyxy,
                    xywh_to_xyxy, xyxy_to_cxcywh, xyxy_to_distance,
                    xyxy_to_xywh)
from .checks import check_labels, check_range, device_checks, set_device_checks
from .classification import (binary_cross_entropy, cross_entropy,
                             focal_loss_with_prob, mask_cross_entropy,
                             modulated_bce, nll_loss, sigmoid_focal_loss)
from .csl import circular_bin_distance, circular_smooth_label
from .gfocal import distribution_focal_loss, quality_focal_loss
from .iou_family import (box_iou, ciou_loss, diou_loss, giou_loss, iou_loss,
                         pair_geometry)
from .piou import piou_loss, pixel_iou, pixel_overlaps
from .polygon_iou import (quad_intersection_area, quad_iou_loss, quad_overlaps,
                          quad_signed_area)
from .rbox import points_in_rbox_frame, rbox_half_extents
from .reduction import reduce_loss, weight_reduce_loss
from .regression import l1_loss, mse_loss, smooth_l1_loss
from .yolov1 import (YOLOv1Targets, safe_sqrt, yolov1_decode,
                     yolov1_encode_targets, yolov1_loss, yolov1_loss_terms,
                     yolov1_to_cxcywh)

__all__ = [
    'box_area',
    'convert_boxes',
    'cxcywh_to_xyxy',
    'distance_to_xyxy',
    'xywh_to_xyxy',
    'xyxy_to_cxcywh',
    'xyxy_to_distance',
    'xyxy_to_xywh',
    'check_labels',
    'check_range',
    'device_checks',
    'set_device_checks',
    'binary_cross_entropy',
    'cross_entropy',
    'focal_loss_with_prob',
    'mask_cross_entropy',
    'modulated_bce',
    'nll_loss',
    'sigmoid_focal_loss',
    'circular_bin_distance',
    'circular_smooth_label',
    'distribution_focal_loss',
    'quality_focal_loss',
    'box_iou',
    'ciou_loss',
    'diou_loss',
    'giou_loss',
    'iou_loss',
    'pair_geometry',
    'piou_loss',
    'pixel_iou',
    'pixel_overlaps',
    'quad_intersection_area',
    'quad_iou_loss',
    'quad_overlaps',
    'quad_signed_area',
    'points_in_rbox_frame',
    'rbox_half_extents',
    'reduce_loss',
    'weight_reduce_loss',
    'l1_loss',
    'mse_loss',
    'smooth_l1_loss',
    'safe_sqrt',
    'yolov1_decode',
    'yolov1_encode_targets',
    'yolov1_loss',
    'yolov1_loss_terms',
    'yolov1_to_cxcywh',
    'YOLOv1Targets',
]
