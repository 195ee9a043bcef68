"""A deterministic synthetic rotated-object dataset, written in DOTA format.

No download: the rotated quickstart and the tests train on it anywhere.
Each image (a smooth, striped background, like a dim aerial view) holds 1 to
``max_objects`` filled shapes of four classes at any angle:

* ``rectangle``: aspect ratio 1.3 to 2.5;
* ``ellipse``: aspect ratio 1.5 to 3;
* ``triangle``: isosceles, apex on one short side, aspect ratio 1 to 2;
* ``ship``: elongated (aspect ratio 2.5 to 4.5), one pointed end.

Every shape fills its rotated box: the box touches the shape on all four
sides, so the label is the tight oriented box. Each class has its own range
of fill colours (red, blue, green, yellow; as real classes often have), so a
small network trained for minutes tells the classes apart and spends its
training on the geometry of rotated boxes. Long sides run from
``3 * min_size`` to 40% of the image side (log-uniform); objects lie wholly
inside the image and may occlude up to 30% of an earlier object; an object
left with less than 80% of itself visible is marked difficult (1).

Image ``i`` of a split is drawn from its own random stream,
``numpy.random.default_rng([seed, split, i])``: the same arguments give the
same bytes, and more images leave the earlier ones unchanged.

Layout under ``root``: ``{train,val}/images/NNNNNN.png``,
``{train,val}/labelTxt/NNNNNN.txt`` and ``meta.json`` (the arguments).
"""
import math
import os
import os.path as osp
from typing import List, Tuple

import cv2
import numpy as np
import torch
from mmrotate.structures.bbox import rbox2qbox

from mmdet_losses.functional.rbox import (points_in_rbox_frame,
                                          rbox_half_extents)
from .generation import class_colour, write_once

CLASSES = ('rectangle', 'ellipse', 'triangle', 'ship')
PALETTE = [(220, 20, 60), (0, 130, 200), (60, 180, 75), (245, 130, 48)]
# centre of each class's fill colour (BGR), drawn within +-35 per channel
CLASS_COLORS = {
    'rectangle': (60, 60, 210),
    'ellipse': (210, 110, 40),
    'triangle': (60, 190, 60),
    'ship': (50, 200, 220)
}
SPLITS = ('train', 'val')
FORMAT_VERSION = 3  # 3: corners in the order of mmrotate's rbox2qbox
# aspect-ratio range (long side / short side) of each class
ASPECT = {
    'rectangle': (1.3, 2.5),
    'ellipse': (1.5, 3.0),
    'triangle': (1.0, 2.0),
    'ship': (2.5, 4.5)
}
DotaLine = Tuple[np.ndarray, str, int]
MAX_COVERED = 0.3  # largest share of an earlier object a new one may cover
MIN_VISIBLE = 0.8  # below this visible share an object is difficult


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth colour field with faint stripes and noise, float (h, w, 3)."""
    base = rng.uniform(50, 170, size=3)
    coarse = rng.normal(0, 20, size=(int(rng.integers(2, 6)), ) * 2 + (3, ))
    field = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    angle = rng.uniform(0, np.pi)
    stripes = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi /
                     rng.uniform(20, 60))[..., None] * rng.uniform(0, 10)
    return base + field + stripes + rng.normal(0, 5, size=(size, size, 3))


def _inside(name: str, u: np.ndarray, v: np.ndarray, w: float, h: float,
            flip: bool) -> np.ndarray:
    """Whether box-frame points ``(u, v)`` (``u`` along ``w``) lie in the
    shape that fills a ``w x h`` box."""
    a, b = w / 2, h / 2
    if flip:  # triangles and ships point either way along u
        u = -u
    in_box = (np.abs(u) <= a) & (np.abs(v) <= b)
    if name == 'rectangle':
        return in_box
    if name == 'ellipse':
        return (u / a)**2 + (v / b)**2 <= 1
    if name == 'triangle':  # base on u = -a, apex at (a, 0)
        return in_box & (np.abs(v) <= b * (a - u) / (2 * a))
    if name == 'ship':  # stern on u = -a, a bow of length min(a, 3b) to +a
        bow = min(a, 3 * b)
        return in_box & (u <= a - bow * np.abs(v) / b)
    raise ValueError(f'unknown shape class {name!r}')


def _sample_box(rng: np.random.Generator, name: str, size: int,
                min_size: int) -> np.ndarray:
    """A rotated box ``(cx, cy, w, h, t)``, w the long side, inside the
    image."""
    low, high = math.log(3 * min_size), math.log(0.4 * size)
    long_side = math.exp(rng.uniform(low, high))
    ratio = rng.uniform(*ASPECT[name])
    short_side = max(long_side / ratio, float(min_size))
    t = rng.uniform(-np.pi / 2, np.pi / 2)
    half_x, half_y = rbox_half_extents(
        np.array([0.0, 0.0, long_side, short_side, t]))
    cx = rng.uniform(half_x + 1, size - half_x - 1)
    cy = rng.uniform(half_y + 1, size - half_y - 1)
    return np.array([cx, cy, long_side, short_side, t])


def _shape_mask(box: np.ndarray, name: str, flip: bool,
                size: int) -> np.ndarray:
    """The (size, size) mask of the shape, tested at pixel centres (in the
    box's hull only)."""
    mask = np.zeros((size, size), bool)
    half_x, half_y = rbox_half_extents(box)
    x1, y1, x2, y2 = (box[0] - half_x, box[1] - half_y, box[0] + half_x,
                      box[1] + half_y)
    cols = slice(max(int(x1), 0), min(int(np.ceil(x2)), size))
    rows = slice(max(int(y1), 0), min(int(np.ceil(y2)), size))
    yy, xx = np.mgrid[rows, cols] + 0.5
    u, v = points_in_rbox_frame(box, np.stack([xx, yy], -1))
    mask[rows, cols] = _inside(name, u, v, box[2], box[3], flip)
    return mask


def draw_image(rng: np.random.Generator, size: int, max_objects: int,
               min_size: int) -> Tuple[np.ndarray, List[DotaLine]]:
    """One image (uint8, BGR) and its objects: corners ``(8,)`` (mmrotate's
    ``rbox2qbox``), class name, difficulty."""
    image = _background(rng, size)
    masks: List[np.ndarray] = []
    placed: List[Tuple[np.ndarray, str]] = []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        name = CLASSES[int(rng.integers(len(CLASSES)))]
        flip = bool(rng.integers(2))
        for _attempt in range(20):
            box = _sample_box(rng, name, size, min_size)
            mask = _shape_mask(box, name, flip, size)
            if all((m & mask).sum() <= MAX_COVERED * m.sum() for m in masks):
                break
        else:
            continue
        # the class's colour range, with a linear shading
        color = class_colour(rng, CLASS_COLORS[name], image[mask].mean(0))
        yy, xx = np.mgrid[0:size, 0:size]
        shade = ((xx - box[0]) * rng.uniform(-0.5, 0.5) +
                 (yy - box[1]) * rng.uniform(-0.5, 0.5))[..., None]
        image[mask] = (color + shade)[mask]
        masks.append(mask)
        placed.append((box, name))
    objects = []
    for index, (box, name) in enumerate(placed):
        visible = masks[index].copy()
        for later in masks[index + 1:]:
            visible &= ~later
        difficult = int(visible.sum() < MIN_VISIBLE * masks[index].sum())
        corners = rbox2qbox(torch.from_numpy(box)).numpy()
        objects.append((corners, name, difficult))
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), objects


def _write_split(root: str, split: str, split_id: int, num_images: int,
                 seed: int, img_size: int, max_objects: int,
                 min_size: int) -> None:
    os.makedirs(osp.join(root, split, 'images'), exist_ok=True)
    os.makedirs(osp.join(root, split, 'labelTxt'), exist_ok=True)
    for index in range(num_images):
        rng = np.random.default_rng([seed, split_id, index])
        image, objects = draw_image(rng, img_size, max_objects, min_size)
        ok, encoded = cv2.imencode('.png', image)
        assert ok, 'PNG encoding failed'
        with open(osp.join(root, split, 'images', f'{index:06d}.png'),
                  'wb') as f:
            f.write(encoded.tobytes())
        with open(
                osp.join(root, split, 'labelTxt', f'{index:06d}.txt'),
                'w',
                encoding='utf-8') as f:
            for corners, name, difficult in objects:
                coords = ' '.join(f'{v:.1f}' for v in corners)
                f.write(f'{coords} {name} {difficult}\n')


def generate_synthetic_dota(root: str,
                            num_train: int = 400,
                            num_val: int = 100,
                            img_size: int = 256,
                            max_objects: int = 8,
                            min_size: int = 8,
                            seed: int = 0,
                            verbose: bool = True) -> str:
    """Write the dataset under ``root`` unless it is already there (see the
    module docstring for the layout;
    :func:`~.generation.write_once` for concurrency).

    Returns:
        ``root``.
    """
    if min_size < 2 or 3 * min_size > 0.4 * img_size:
        raise ValueError(f'min_size={min_size} must lie in [2, '
                         f'{0.4 * img_size / 3:g}] for img_size={img_size}')
    meta = dict(
        format_version=FORMAT_VERSION,
        num_train=num_train,
        num_val=num_val,
        img_size=img_size,
        max_objects=max_objects,
        min_size=min_size,
        seed=seed)

    def write(tmp: str) -> None:
        for split_id, (split,
                       count) in enumerate(zip(SPLITS, (num_train, num_val))):
            _write_split(tmp, split, split_id, count, seed, img_size,
                         max_objects, min_size)

    description = (f'synthetic rotated dataset ({num_train} train + '
                   f'{num_val} val images, seed {seed})')
    return write_once(root, meta, write, 'synthetic rotated dataset',
                      description, verbose)
