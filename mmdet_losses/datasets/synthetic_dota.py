"""The embedded synthetic rotated dataset as an mmrotate dataset."""
from typing import Optional

from mmrotate.datasets import DOTADataset

from ..registry import DATASETS
from .generation import generate_for
from .synthetic_rotated import CLASSES, PALETTE, generate_synthetic_dota


@DATASETS.register_module()
class SyntheticDOTADataset(DOTADataset):
    """mmrotate's ``DOTADataset`` over the embedded synthetic rotated shapes
    (:mod:`.synthetic_rotated`), which are written to ``data_root`` in DOTA
    format on first use; no download. Everything else (parsing, the
    ``diff_thr`` of difficult objects, filtering) is mmrotate's.

    Args:
        generate (dict, optional): arguments of
            :func:`generate_synthetic_dota` (``num_train``, ``num_val``,
            ``img_size``, ``seed``...). Every process that builds the
            dataset must pass the same ones.
    """

    METAINFO = dict(classes=CLASSES, palette=PALETTE)

    def __init__(self, *args, generate: Optional[dict] = None, **kwargs):
        generate_for('SyntheticDOTADataset', generate_synthetic_dota, generate,
                     kwargs.get('data_root'))
        super().__init__(*args, **kwargs)
