import mmdet.evaluation  # noqa: F401

from .dota_merge import merge_patch_detections, parse_patch_name, patch_name
from .dota_metric import DOTAMetric
from .rotated_map import average_precision, eval_rbbox_map, mean_ap

__all__ = [
    'DOTAMetric', 'eval_rbbox_map', 'mean_ap', 'average_precision',
    'merge_patch_detections', 'parse_patch_name', 'patch_name'
]
