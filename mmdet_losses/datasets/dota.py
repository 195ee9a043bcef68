"""DOTA (Xia et al., "DOTA: A Large-scale Dataset for Object Detection in
Aerial Images", CVPR 2018) and the embedded synthetic rotated dataset."""
import glob
import os.path as osp
from typing import List, Optional

from mmdet.datasets import BaseDetDataset

from ..registry import DATASETS
from .dota_io import DOTA_V1_CLASSES, load_dota_txt
from .paths import require_path
from .synthetic_rotated import CLASSES as SYNTHETIC_CLASSES
from .synthetic_rotated import PALETTE as SYNTHETIC_PALETTE
from .synthetic_rotated import generate_synthetic_dota
from .validation import AnnotationChecker

DOTA_V1_PALETTE = [(165, 42, 42), (189, 183, 107), (0, 255, 0), (255, 0, 0),
                   (138, 43, 226), (255, 128, 0), (255, 0, 255), (0, 255, 255),
                   (255, 193, 193), (0, 51, 153), (255, 250, 205),
                   (0, 139, 139), (255, 255, 0), (147, 116, 116), (0, 0, 255)]


@DATASETS.register_module()
class DOTADataset(BaseDetDataset):
    """DOTA-v1.0 in its own format: a directory of labelTxt files
    (``ann_file``) and a directory of images (``data_prefix['img_path']``,
    or ``['img']``), ``<id>.txt`` labelling ``<id>.<img_suffix>``. The
    format and the checks of each line are in :mod:`.dota_io`.

    Each object becomes an instance whose ``bbox`` is its 8 corner
    coordinates (load it with ``LoadAnnotations(box_type='qbox')`` and
    convert it with ``ConvertBoxType(box_type_mapping=dict(
    gt_bboxes='rbox'))``).

    Args:
        diff_thr: objects with a difficulty above it are *ignored*
            (``ignore_flag=1``: not trained on, and neither a hit nor a
            miss for ``DOTAMetric``). None (default): 0 in test mode, as
            DOTA's evaluation ignores difficult objects; no threshold when
            training, where difficult objects are trained on.
        img_suffix: extension of the images.
        bad_annotations: ``'error'`` (default) raises at the first bad line
            with its file and line number; ``'skip'`` drops bad lines (and
            images that are missing) and warns once with their count.
        ann_file: the labelTxt directory; empty (``''``) lists the images
            alone, without labels, for a test set.
    """

    METAINFO = dict(classes=DOTA_V1_CLASSES, palette=DOTA_V1_PALETTE)

    def __init__(self,
                 *args,
                 diff_thr: Optional[int] = None,
                 img_suffix: str = 'png',
                 bad_annotations: str = 'error',
                 **kwargs) -> None:
        self.diff_thr = diff_thr
        self.img_suffix = img_suffix.lstrip('.')
        self.bad_annotations = bad_annotations
        super().__init__(*args, **kwargs)

    @property
    def image_dir(self) -> str:
        return self.data_prefix.get('img_path') or \
            self.data_prefix.get('img', '')

    def _ignore_above(self) -> Optional[int]:
        if self.diff_thr is not None:
            return self.diff_thr
        return 0 if self.test_mode else None

    def load_data_list(self) -> List[dict]:
        name = type(self).__name__
        require_path(self.image_dir, f'{name} image directory')
        if not self.ann_file:  # a test set without labels
            pattern = osp.join(self.image_dir, f'*.{self.img_suffix}')
            return [
                self._info(osp.splitext(osp.basename(path))[0], [])
                for path in sorted(glob.glob(pattern))
            ]
        require_path(self.ann_file, f'{name} labelTxt directory')
        checker = AnnotationChecker(self.ann_file, self.bad_annotations)
        classes = self.metainfo['classes']
        label_of = {c: i for i, c in enumerate(classes)}
        limit = self._ignore_above()
        data_list = []
        for txt in sorted(glob.glob(osp.join(self.ann_file, '*.txt'))):
            img_id = osp.splitext(osp.basename(txt))[0]
            instances = [
                dict(
                    bbox=obj.polygon.tolist(),
                    bbox_label=label_of[obj.name],
                    ignore_flag=int(limit is not None
                                    and obj.difficulty > limit))
                for obj in load_dota_txt(txt, classes, checker)
            ]
            info = self._info(img_id, instances)
            if not osp.isfile(info['img_path']):
                checker.problem(txt, 'image not found', info['img_path'])
                continue
            data_list.append(info)
        checker.finish()
        return data_list

    def _info(self, img_id: str, instances: List[dict]) -> dict:
        file_name = f'{img_id}.{self.img_suffix}'
        return dict(
            img_id=img_id,
            file_name=file_name,
            img_path=osp.join(self.image_dir, file_name),
            instances=instances)

    def filter_data(self) -> List[dict]:
        """Drop images without objects when
        ``filter_cfg=dict(filter_empty_gt=True)`` (never in test mode)."""
        if self.test_mode or not (self.filter_cfg or {}).get(
                'filter_empty_gt', False):
            return self.data_list
        return [info for info in self.data_list if info['instances']]

    def get_cat_ids(self, idx: int) -> List[int]:
        return [
            instance['bbox_label']
            for instance in self.get_data_info(idx)['instances']
        ]


@DATASETS.register_module()
class SyntheticRotatedDataset(DOTADataset):
    """The embedded synthetic rotated dataset (:mod:`.synthetic_rotated`),
    in DOTA format, written to ``data_root`` on first use.

    Args:
        generate (dict, optional): arguments of
            :func:`~.synthetic_rotated.generate_synthetic_dota`
            (``num_train``, ``num_val``, ``img_size``, ``seed``...). Every
            process that builds the dataset must pass the same ones.
    """

    METAINFO = dict(classes=SYNTHETIC_CLASSES, palette=SYNTHETIC_PALETTE)

    def __init__(self, *args, generate: Optional[dict] = None, **kwargs):
        data_root = kwargs.get('data_root')
        if not data_root:
            raise ValueError('SyntheticRotatedDataset needs a data_root to '
                             'write the generated images to.')
        generate_synthetic_dota(osp.expanduser(data_root), **(generate or {}))
        super().__init__(*args, **kwargs)
