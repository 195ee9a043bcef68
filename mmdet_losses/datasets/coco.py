import os.path as osp

from mmdet.datasets import CocoDataset as MMDetCocoDataset

from ..registry import DATASETS
from .paths import require_path
from .validation import AnnotationChecker, as_finite_numbers, box_problem


@DATASETS.register_module()
class CocoDataset(MMDetCocoDataset):
    """mmdet's CocoDataset that checks its input when it loads.

    A missing annotation file or image directory fails at once with the
    path and how to get the data. Annotations with a missing or non-numeric
    ``bbox``, zero or negative width or height, a box outside its image, or
    a ``category_id`` absent from ``categories``, and images without
    ``width``/``height`` or whose file is missing, raise a ``ValueError``
    naming the file and the annotation or image id, unless
    ``bad_annotations='skip'`` (see :mod:`.validation`). As in mmdet, boxes
    with a side under 1 pixel and crowd or ignored annotations are not
    errors.

    Args:
        bad_annotations (str): ``'error'`` (default) or ``'skip'``.
        check_image_files (bool): check that every image file exists
            (one ``stat`` per image). Defaults to True.
    """

    def __init__(self,
                 *args,
                 bad_annotations: str = 'error',
                 check_image_files: bool = True,
                 **kwargs):
        self.bad_annotations = bad_annotations
        self.check_image_files = check_image_files
        super().__init__(*args, **kwargs)

    def load_data_list(self):
        require_path(self.ann_file, f'{type(self).__name__} annotation file')
        image_dir = self.data_prefix.get('img', '')
        if image_dir:
            require_path(image_dir, f'{type(self).__name__} image directory')
        self._checker = AnnotationChecker(self.ann_file, self.bad_annotations)
        data_list = super().load_data_list()
        # an image that failed its own check is dropped under 'skip'
        data_list = [info for info in data_list if info is not None]
        self._checker.finish()
        return data_list

    def parse_data_info(self, raw_data_info: dict):
        img_info = raw_data_info['raw_img_info']
        checker = self._checker
        where = f"image id {img_info.get('img_id')}"
        size = as_finite_numbers(
            [img_info.get('width'),
             img_info.get('height')], 2)
        if size is None or min(size) <= 0:
            checker.problem(
                where, 'missing or invalid width/height',
                f"{img_info.get('width')} x "
                f"{img_info.get('height')}")
            return None
        if self.check_image_files:
            path = osp.join(
                self.data_prefix.get('img', ''), img_info.get('file_name', ''))
            if not osp.isfile(path):
                checker.problem(where, 'image file not found', path)
                return None
        known = set(self.coco.cats)
        kept = []
        for ann in raw_data_info['raw_ann_info']:
            ann_where = f"annotation id {ann.get('id')} ({where})"
            if ann.get('ignore', False):
                kept.append(ann)
                continue
            xywh = as_finite_numbers(ann.get('bbox', ()), 4)
            if xywh is None:
                checker.problem(ann_where, 'missing or non-numeric bbox',
                                f"bbox {ann.get('bbox')!r}")
                continue
            x, y, w, h = xywh
            found = box_problem(x, y, x + w, y + h, *size)
            if found:
                checker.problem(ann_where, *found)
                continue
            if ann.get('category_id') not in known:
                checker.problem(ann_where, 'unknown category',
                                f"category_id {ann.get('category_id')!r}")
                continue
            kept.append(ann)
        return super().parse_data_info(dict(raw_data_info, raw_ann_info=kept))
