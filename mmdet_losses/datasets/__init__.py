import mmdet.datasets  # noqa: F401  (registers mmdet's datasets, transforms)

from .coco import CocoDataset
from .dota import DOTADataset, SyntheticRotatedDataset
from .rotated_transforms import ConvertBoxType, RandomRotate
from .synthetic import generate_synthetic_coco
from .synthetic_dataset import SyntheticShapesDataset
from .synthetic_rotated import generate_synthetic_dota
from .voc import VOCDataset

__all__ = [
    'DOTADataset', 'SyntheticRotatedDataset', 'ConvertBoxType', 'RandomRotate',
    'generate_synthetic_dota', 'CocoDataset', 'VOCDataset',
    'SyntheticShapesDataset', 'generate_synthetic_coco'
]
