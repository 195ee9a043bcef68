"""A deterministic synthetic detection dataset, written in COCO format.

It needs no download, so the quickstart and the tests train on it anywhere.
Each image holds 1 to ``max_objects`` filled shapes of four classes on a
textured background: sizes from ``min_size`` pixels to half the image side,
aspect ratios from 1:3 to 3:1, partial occlusion between objects, and a
share of small objects. Each class has its own range of shaded fill colours
(red, blue, green, yellow), so a small network trained from scratch for a
few minutes tells the classes apart and spends its training on the boxes.

Image ``i`` of a split is drawn from its own random stream,
``numpy.random.default_rng([seed, split, i])``, so the same arguments give
the same bytes, and adding images does not change the earlier ones.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Tuple

import cv2
import numpy as np

from .generation import class_colour, write_once

CLASSES = ('rectangle', 'ellipse', 'triangle', 'cross')
PALETTE = [(220, 20, 60), (0, 130, 200), (60, 180, 75), (245, 130, 48)]
# centre of each class's fill colour (BGR), drawn within +-35 per channel
CLASS_COLORS = [(60, 60, 210), (210, 110, 40), (60, 190, 60), (50, 200, 220)]
SPLITS = ('train', 'val')
# 2: a colour range per class, objects from 16 px by default
FORMAT_VERSION = 2

# An object is placed only where it leaves at least this share of every
# earlier object's box uncovered: occlusion, but no vanished objects.
MAX_COVERED = 0.4


def _textured_background(rng: np.random.Generator, size: int) -> np.ndarray:
    base = rng.uniform(60, 190, size=3)
    coarse = rng.normal(0, 25, size=(rng.integers(3, 9), ) * 2 + (3, ))
    texture = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(6, 40)
    stripes = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi /
                     period)[..., None] * rng.uniform(0, 15)
    noise = rng.normal(0, 6, size=(size, size, 3))
    return base + texture + stripes + noise


def _inside_triangle(px, py, corners) -> np.ndarray:
    (x1, y1), (x2, y2), (x3, y3) = corners
    d1 = (px - x2) * (y1 - y2) - (x1 - x2) * (py - y2)
    d2 = (px - x3) * (y2 - y3) - (x2 - x3) * (py - y3)
    d3 = (px - x1) * (y3 - y1) - (x3 - x1) * (py - y1)
    negative = (d1 < 0) | (d2 < 0) | (d3 < 0)
    positive = (d1 > 0) | (d2 > 0) | (d3 > 0)
    return ~(negative & positive)


def _shape_mask(cls: str, w: int, h: int,
                rng: np.random.Generator) -> np.ndarray:
    """A (h, w) boolean mask of the shape filling a w x h box, tested at
    pixel centres in plain numpy (no drawing library version in the bytes).
    """
    py, px = np.mgrid[0:h, 0:w] + 0.5
    if cls == 'rectangle':
        return np.ones((h, w), bool)
    if cls == 'ellipse':
        return ((px - w / 2) / (w / 2))**2 + ((py - h / 2) / (h / 2))**2 <= 1
    if cls == 'triangle':
        # apex in the middle of one side, base along the opposite side
        corners = [
            [(0, h), (w, h), (w / 2, 0)],
            [(0, 0), (w, 0), (w / 2, h)],
            [(w, 0), (w, h), (0, h / 2)],
            [(0, 0), (0, h), (w, h / 2)],
        ][int(rng.integers(4))]
        return _inside_triangle(px, py, corners)
    if cls == 'cross':
        tw, th = w / 3, h / 3
        return (np.abs(px - w / 2) <= tw / 2) | (np.abs(py - h / 2) <= th / 2)
    raise ValueError(f'unknown shape class {cls!r}')


def _covered_share(box: np.ndarray, others: List[np.ndarray]) -> float:
    """The largest share of one of ``others`` (xyxy) that ``box`` covers."""
    worst = 0.0
    for other in others:
        iw = min(box[2], other[2]) - max(box[0], other[0])
        ih = min(box[3], other[3]) - max(box[1], other[1])
        if iw > 0 and ih > 0:
            area = (other[2] - other[0]) * (other[3] - other[1])
            worst = max(worst, iw * ih / area)
    return worst


def draw_image(rng: np.random.Generator, size: int, max_objects: int,
               min_size: int) -> Tuple[np.ndarray, List[Dict]]:
    """One image (uint8, BGR) and its objects (``bbox`` xyxy, ``label``)."""
    image = _textured_background(rng, size)
    objects: List[Dict] = []
    boxes: List[np.ndarray] = []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        for _attempt in range(20):
            # one object in three is small; sizes log-uniform otherwise
            top = 2.0 * min_size if rng.random() < 1 / 3 else size / 2
            scale = float(np.exp(rng.uniform(np.log(min_size), np.log(top))))
            ratio = float(np.exp(rng.uniform(np.log(1 / 3), np.log(3))))
            w = int(np.clip(round(scale * np.sqrt(ratio)), min_size, size - 2))
            h = int(np.clip(round(scale / np.sqrt(ratio)), min_size, size - 2))
            x0 = int(rng.integers(0, size - w + 1))
            y0 = int(rng.integers(0, size - h + 1))
            box = np.array([x0, y0, x0 + w, y0 + h], np.float64)
            if _covered_share(box, boxes) <= MAX_COVERED:
                break
        else:
            continue
        label = int(rng.integers(len(CLASSES)))
        mask = _shape_mask(CLASSES[label], w, h, rng)
        region = image[y0:y0 + h, x0:x0 + w]
        # the class's colour range, with a linear shading
        color = class_colour(rng, CLASS_COLORS[label],
                             region.reshape(-1, 3).mean(0))
        gy, gx = np.mgrid[0:h, 0:w]
        shade = (gx / max(w - 1, 1) * rng.uniform(-30, 30) +
                 gy / max(h - 1, 1) * rng.uniform(-30, 30))[..., None]
        region[mask] = (color + shade)[mask]
        # the tight box of the drawn pixels (amodal: occluders come later)
        ys, xs = np.nonzero(mask)
        tight = np.array([
            x0 + xs.min(), y0 + ys.min(), x0 + xs.max() + 1, y0 + ys.max() + 1
        ], np.float64)
        boxes.append(tight)
        objects.append(dict(bbox=tight.tolist(), label=label))
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), objects


def _write_split(root: str, split: str, split_id: int, num_images: int,
                 seed: int, img_size: int, max_objects: int,
                 min_size: int) -> None:
    os.makedirs(osp.join(root, split), exist_ok=True)
    images, annotations = [], []
    for index in range(num_images):
        rng = np.random.default_rng([seed, split_id, index])
        image, objects = draw_image(rng, img_size, max_objects, min_size)
        file_name = f'{index:06d}.png'
        ok, encoded = cv2.imencode('.png', image)
        assert ok, 'PNG encoding failed'
        with open(osp.join(root, split, file_name), 'wb') as f:
            f.write(encoded.tobytes())
        image_id = index + 1
        images.append(
            dict(
                id=image_id,
                file_name=file_name,
                width=img_size,
                height=img_size))
        for obj in objects:
            x1, y1, x2, y2 = obj['bbox']
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=image_id,
                    category_id=obj['label'] + 1,
                    bbox=[x1, y1, x2 - x1, y2 - y1],
                    area=(x2 - x1) * (y2 - y1),
                    iscrowd=0))
    coco = dict(
        images=images,
        annotations=annotations,
        categories=[
            dict(id=i + 1, name=name, supercategory='shape')
            for i, name in enumerate(CLASSES)
        ])
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    with open(osp.join(root, 'annotations', f'{split}.json'), 'w') as f:
        json.dump(coco, f, sort_keys=True, separators=(',', ':'))


def generate_synthetic_coco(root: str,
                            num_train: int = 300,
                            num_val: int = 100,
                            img_size: int = 256,
                            max_objects: int = 6,
                            min_size: int = 16,
                            seed: int = 0,
                            verbose: bool = True) -> str:
    """Write the dataset under ``root`` unless it is already there.

    Layout: ``{train,val}/NNNNNN.png`` and ``annotations/{train,val}.json``
    (COCO, category ids from 1), plus ``meta.json`` with the arguments.
    Safe to call from several processes at once
    (:func:`~.generation.write_once`).

    Returns:
        ``root``.

    Raises:
        ValueError: ``root`` holds this dataset made with other arguments.
    """
    meta = dict(
        format_version=FORMAT_VERSION,
        num_train=num_train,
        num_val=num_val,
        img_size=img_size,
        max_objects=max_objects,
        min_size=min_size,
        seed=seed)
    if min_size < 2 or 2 * min_size > img_size:
        raise ValueError(f'min_size={min_size} must lie in [2, img_size/2]')

    def write(tmp: str) -> None:
        for split_id, (split,
                       count) in enumerate(zip(SPLITS, (num_train, num_val))):
            _write_split(tmp, split, split_id, count, seed, img_size,
                         max_objects, min_size)

    description = (f'synthetic shapes dataset ({num_train} train + '
                   f'{num_val} val images, seed {seed})')
    return write_once(root, meta, write, 'synthetic dataset', description,
                      verbose)
