import mmdet.datasets  # noqa: F401  (registers mmdet's datasets, transforms)

from .coco import CocoDataset
from .synthetic import generate_synthetic_coco
from .synthetic_dataset import SyntheticShapesDataset
from .voc import VOCDataset

__all__ = [
    'CocoDataset', 'VOCDataset', 'SyntheticShapesDataset',
    'generate_synthetic_coco'
]
