import os.path as osp
from typing import Optional

from ..registry import DATASETS
from .coco import CocoDataset
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
        data_root = kwargs.get('data_root')
        if not data_root:
            raise ValueError('SyntheticShapesDataset needs a data_root to '
                             'write the generated images to.')
        generate_synthetic_coco(osp.expanduser(data_root), **(generate or {}))
        super().__init__(*args, **kwargs)
