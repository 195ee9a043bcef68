from mmdet.datasets import VOCDataset as MMDetVOCDataset

from ..registry import DATASETS
from .paths import require_path


@DATASETS.register_module()
class VOCDataset(MMDetVOCDataset):
    """mmdet's VOCDataset; a missing image-set file fails at once with the
    path and how to get the data."""

    def load_data_list(self):
        require_path(self.ann_file, f'{type(self).__name__} image-set file')
        return super().load_data_list()
