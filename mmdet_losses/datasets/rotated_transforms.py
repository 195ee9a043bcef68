"""Data transforms for rotated boxes (mmrotate's names and arguments).

mmdet's ``RandomFlip`` (horizontal, vertical, diagonal) and ``Resize`` work
on ``RotatedBoxes`` as they are; these add what mmdet lacks.
"""
from typing import Dict, Optional, Sequence

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmdet.structures.bbox import BaseBoxes

from mmdet_losses.structures import rotation_matrix
from ..registry import TRANSFORMS


@TRANSFORMS.register_module()
class ConvertBoxType(BaseTransform):
    """Convert box fields to another registered box type, e.g.
    ``box_type_mapping=dict(gt_bboxes='rbox')`` after
    ``LoadAnnotations(box_type='qbox')``: DOTA's corners become the smallest
    rotated boxes around them.
    """

    def __init__(self, box_type_mapping: Dict[str, str]) -> None:
        self.box_type_mapping = dict(box_type_mapping)

    def transform(self, results: dict) -> dict:
        for key, box_type in self.box_type_mapping.items():
            if key not in results:
                continue
            boxes = results[key]
            if not isinstance(boxes, BaseBoxes):
                raise TypeError(
                    f'ConvertBoxType converts box types, but results'
                    f'[{key!r}] is a {type(boxes).__name__}: load it with '
                    "LoadAnnotations(box_type='qbox') (or another box type)")
            results[key] = boxes.convert_to(box_type)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}('
                f'box_type_mapping={self.box_type_mapping})')


@TRANSFORMS.register_module()
class RandomRotate(BaseTransform):
    """Turn the image and its boxes about the image centre by a random
    angle, with probability ``prob``.

    The angle is uniform in ``[-angle_range, angle_range]`` degrees
    (clockwise on screen for positive angles), or a multiple of 90 degrees
    when the image holds an object of ``rect_obj_labels`` (round or square
    things, e.g. storage tanks, whose box angle carries no information and
    whose box would grow under other turns). The image keeps its size;
    corners turned in are filled with ``img_border_value``, and objects
    whose centre leaves the image are dropped.

    Boxes must be a box type (``RotatedBoxes`` or ``QuadriBoxes``).
    """

    def __init__(self,
                 prob: float = 0.5,
                 angle_range: float = 180,
                 rect_obj_labels: Optional[Sequence[int]] = None,
                 img_border_value: float = 0,
                 interpolation: int = cv2.INTER_LINEAR) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must lie in [0, 1], got {prob}')
        if not 0 <= angle_range <= 180:
            raise ValueError(f'angle_range must lie in [0, 180] degrees, '
                             f'got {angle_range}')
        self.prob = prob
        self.angle_range = angle_range
        self.rect_obj_labels = set(rect_obj_labels or ())
        self.img_border_value = img_border_value
        self.interpolation = interpolation

    @cache_randomness
    def _random_angle(self, rectangular: bool) -> Optional[float]:
        if np.random.rand() >= self.prob:
            return None
        if rectangular:
            return 90.0 * np.random.randint(4)
        return float(np.random.uniform(-self.angle_range, self.angle_range))

    def transform(self, results: dict) -> dict:
        labels = results.get('gt_bboxes_labels')
        rectangular = labels is not None and bool(
            self.rect_obj_labels.intersection(np.asarray(labels).tolist()))
        angle = self._random_angle(rectangular)
        if angle is None:
            return results
        height, width = results['img'].shape[:2]
        # boxes measure pixel edges, cv2 pixel centres: half a pixel apart
        matrix = rotation_matrix(((width - 1) / 2, (height - 1) / 2),
                                 angle).numpy()
        results['img'] = cv2.warpAffine(
            results['img'],
            matrix, (width, height),
            flags=self.interpolation,
            borderValue=self.img_border_value)
        boxes = results.get('gt_bboxes')
        if boxes is not None:
            if not isinstance(boxes, BaseBoxes):
                raise TypeError('RandomRotate needs box types (load with '
                                "LoadAnnotations(box_type='qbox') and "
                                'ConvertBoxType)')
            boxes.rotate_((width / 2, height / 2), angle)
            centers = boxes.centers
            keep = ((centers[:, 0] >= 0) & (centers[:, 0] < width) &
                    (centers[:, 1] >= 0) & (centers[:, 1] < height)).numpy()
            results['gt_bboxes'] = boxes[keep]
            for key in ('gt_bboxes_labels', 'gt_ignore_flags'):
                if key in results:
                    results[key] = results[key][keep]
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(prob={self.prob}, '
                f'angle_range={self.angle_range}, '
                f'rect_obj_labels={sorted(self.rect_obj_labels)})')
