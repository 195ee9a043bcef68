import xml.etree.ElementTree as ET

from mmdet.datasets import VOCDataset as MMDetVOCDataset

from ..registry import DATASETS
from .paths import require_path
from .validation import AnnotationChecker, as_finite_numbers, box_problem

BOX_FIELDS = ('xmin', 'ymin', 'xmax', 'ymax')


@DATASETS.register_module()
class VOCDataset(MMDetVOCDataset):
    """mmdet's VOCDataset that checks its input when it loads.

    A missing image-set file fails at once with the path and how to get the
    data. An XML file that does not parse, and an object without ``name``
    or a ``bndbox`` field, with a non-numeric coordinate, a zero or negative
    size, a box outside the image, or a class name outside ``classes``
    raises a ``ValueError`` naming the XML file and the object, unless
    ``bad_annotations='skip'`` (see :mod:`.validation`).

    Args:
        bad_annotations (str): ``'error'`` (default) or ``'skip'``.
    """

    def __init__(self, *args, bad_annotations: str = 'error', **kwargs):
        self.bad_annotations = bad_annotations
        super().__init__(*args, **kwargs)

    def load_data_list(self):
        require_path(self.ann_file, f'{type(self).__name__} image-set file')
        self._checker = AnnotationChecker(self.ann_file, self.bad_annotations)
        data_list = [
            info for info in super().load_data_list() if info is not None
        ]
        self._checker.finish()
        return data_list

    def parse_data_info(self, img_info: dict):
        self._xml_path = img_info['xml_path']
        try:
            return super().parse_data_info(img_info)
        except ET.ParseError as error:
            self._checker.problem(img_info['xml_path'], 'XML does not parse',
                                  str(error))
        except FileNotFoundError as error:
            self._checker.problem(img_info['xml_path'], 'file not found',
                                  str(error))
        return None

    def _parse_instance_info(self, raw_ann_info, minus_one: bool = True):
        root = raw_ann_info.getroot()
        size = root.find('size')
        width = height = None
        if size is not None:
            dims = as_finite_numbers(
                [size.findtext('width'),
                 size.findtext('height')], 2)
            if dims is not None:
                width, height = dims
        for index, obj in enumerate(list(root.findall('object'))):
            found = self._object_problem(obj, width, height)
            if found:
                self._checker.problem(f'{self._xml_path}: object #{index}',
                                      *found)
                root.remove(obj)
        return super()._parse_instance_info(raw_ann_info, minus_one)

    def _object_problem(self, obj, width, height):
        name = obj.findtext('name')
        if not name:
            return ('object without a name', '')
        if name not in self._metainfo['classes']:
            return ('unknown class name',
                    f'{name!r} not in {tuple(self._metainfo["classes"])}')
        box = obj.find('bndbox')
        if box is None:
            return ('object without bndbox', f'class {name!r}')
        missing = [f for f in BOX_FIELDS if box.findtext(f) is None]
        if missing:
            return ('bndbox without ' + ', '.join(missing), f'class {name!r}')
        values = as_finite_numbers([box.findtext(f) for f in BOX_FIELDS], 4)
        if values is None:
            return ('non-numeric bndbox', ', '.join(f'{f}={box.findtext(f)!r}'
                                                    for f in BOX_FIELDS))
        return box_problem(*values, width, height)
