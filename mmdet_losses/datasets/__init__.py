import mmdet.datasets  # noqa: F401  (registers mmdet's datasets, transforms)

from .coco import CocoDataset
from .synthetic import generate_synthetic_coco
from .synthetic_dataset import SyntheticShapesDataset
from .synthetic_dota import SyntheticDOTADataset
from .synthetic_rotated import generate_synthetic_dota
from .voc import VOCDataset

__all__ = [
    'CocoDataset', 'VOCDataset', 'SyntheticShapesDataset',
    'SyntheticDOTADataset', 'generate_synthetic_coco',
    'generate_synthetic_dota'
]
