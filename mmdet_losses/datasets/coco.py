from mmdet.datasets import CocoDataset as MMDetCocoDataset

from ..registry import DATASETS
from .paths import require_path


@DATASETS.register_module()
class CocoDataset(MMDetCocoDataset):
    """mmdet's CocoDataset; a missing annotation file or image directory
    fails at once with the path and how to get the data."""

    def load_data_list(self):
        require_path(self.ann_file, f'{type(self).__name__} annotation file')
        image_dir = self.data_prefix.get('img', '')
        if image_dir:
            require_path(image_dir, f'{type(self).__name__} image directory')
        return super().load_data_list()
