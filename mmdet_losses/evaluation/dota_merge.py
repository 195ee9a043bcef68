"""From patch detections back to whole DOTA images.

``tools/data/dota_split.py`` names a patch ``<image>__<rate>__<x>___<y>``:
the image scaled by ``rate``, then cut at pixel ``(x, y)`` (DOTA devkit's
naming). A detection ``(cx, cy, w, h, t)`` in a patch lies at
``((cx + x) / rate, (cy + y) / rate, w / rate, h / rate, t)`` in the
image. Patches overlap, so merged detections go through a rotated NMS per
class.
"""
import re
from collections import defaultdict
from typing import Dict, Iterable, Tuple

import numpy as np
import torch

PATCH_NAME = re.compile(
    r'^(?P<image>.+)__(?P<rate>\d+(?:\.\d+)?)__(?P<x>\d+)___(?P<y>\d+)$')


def patch_name(image_id: str, rate: float, x: int, y: int) -> str:
    """The name of a patch (see the module docstring)."""
    return f'{image_id}__{rate:g}__{int(x)}___{int(y)}'


def parse_patch_name(name: str) -> Tuple[str, float, int, int]:
    """``(image_id, rate, x, y)`` of a patch name; a ValueError names a
    name that is not one."""
    match = PATCH_NAME.match(name)
    if match is None:
        raise ValueError(
            f'{name!r} is not a patch name <image>__<rate>__<x>___<y> '
            '(as tools/data/dota_split.py writes them)')
    return (match['image'], float(match['rate']), int(match['x']),
            int(match['y']))


def merge_patch_detections(
    patches: Iterable[Tuple[str, np.ndarray, np.ndarray, np.ndarray]],
    iou_thr: float = 0.1,
    max_per_img: int = -1
) -> Dict[str, Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Detections of whole images from those of their patches.

    Args:
        patches: ``(patch name, rboxes (n, 5), scores (n,), labels (n,))``.
        iou_thr: IoU of mmcv's rotated NMS, per class (mmrotate merges
            DOTA patches at 0.1).
        max_per_img: keep at most this many per image (-1: all).

    Returns:
        ``{image_id: (rboxes, scores, labels)}``, scores decreasing.
    """
    from mmcv.ops import batched_nms
    grouped = defaultdict(list)
    for name, boxes, scores, labels in patches:
        image_id, rate, x, y = parse_patch_name(name)
        boxes = np.asarray(boxes, np.float32).reshape(-1, 5).copy()
        boxes[:, :2] += (x, y)
        boxes[:, :4] /= rate
        grouped[image_id].append(
            (boxes, np.asarray(scores,
                               np.float32), np.asarray(labels, np.int64)))
    merged = {}
    for image_id, parts in grouped.items():
        boxes = torch.from_numpy(np.concatenate([p[0] for p in parts]))
        scores = torch.from_numpy(np.concatenate([p[1] for p in parts]))
        labels = torch.from_numpy(np.concatenate([p[2] for p in parts]))
        if len(boxes):
            dets, keep = batched_nms(
                boxes, scores, labels,
                dict(type='nms_rotated', iou_threshold=iou_thr))
            if max_per_img > 0:
                keep = keep[:max_per_img]
            boxes, scores, labels = boxes[keep], dets[:len(keep), -1], \
                labels[keep]
        merged[image_id] = (boxes.numpy(), scores.numpy(), labels.numpy())
    return merged
