from typing import Optional

from ..registry import DATASETS
from .coco import CocoDataset
from .generation import generate_for
from .synthetic import CLASSES, PALETTE, generate_synthetic_coco


@DATASETS.register_module()
class SyntheticShapesDataset(CocoDataset):
    """The embedded synthetic shapes dataset (:mod:`.synthetic`), written to
    ``data_root`` on first use.

    Args:
        generate (dict, optional): arguments of
            :func:`generate_synthetic_coco` (``num_train``, ``num_val``,
            ``img_size``, ``seed``...). Every process that builds the
            dataset must pass the same ones.
    """

    METAINFO = dict(classes=CLASSES, palette=PALETTE)

    def __init__(self, *args, generate: Optional[dict] = None, **kwargs):
        generate_for('SyntheticShapesDataset', generate_synthetic_coco,
                     generate, kwargs.get('data_root'))
        super().__init__(*args, **kwargs)
