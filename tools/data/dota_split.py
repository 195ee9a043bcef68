"""Cut DOTA images into overlapping square patches, with their labels.

DOTA's images run up to 20,000 pixels a side; detectors train and test on
patches (1024 x 1024, 200 pixels of overlap by default, DOTA devkit's and
mmrotate's single-scale setting). For every rate of ``--rates`` each image
is scaled by the rate, then cut into windows ``--size`` pixels wide every
``--size - --gap`` pixels, the last window flush with the image's far
edge; windows that overhang a small image are padded.

An object goes to a window when at least ``--iof-thr`` of its area lies in
it (IoF, measured on the convex hull of its corners); its corners are kept
whole and shifted, and an object cut by the window border is marked
difficult 2 (``DOTADataset`` ignores difficulty > 0 when evaluating).

Input: directories holding ``images/`` and, for labelled sets,
``labelTxt/`` (DOTA's layout). Output: ``<out>/images/<patch>.png`` and,
when labels exist, ``<out>/annfiles/<patch>.txt``. A patch is named
``<image>__<rate>__<x>___<y>``; ``tools/data/dota_merge.py`` maps
detections back through these names.

    python tools/data/dota_split.py --src data/DOTA/train data/DOTA/val \\
        --out data/split_ss_dota/trainval --nproc 8
    python tools/data/dota_split.py --src data/DOTA/test \\
        --out data/split_ss_dota/test --nproc 8
"""
import argparse
import glob
import math
import multiprocessing
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import shapely
from tqdm import tqdm

from mmdet_losses.datasets.dota_io import (DOTA_V1_CLASSES, DotaObject,
                                           load_dota_txt, write_dota_txt)
from mmdet_losses.datasets.validation import AnnotationChecker
from mmdet_losses.evaluation.dota_merge import patch_name

IMAGE_SUFFIXES = ('png', 'jpg', 'jpeg', 'bmp', 'tif', 'tiff')


def window_starts(length: int, size: int, gap: int) -> List[int]:
    """Start offsets of the windows along one side of ``length`` pixels:
    every ``size - gap`` pixels, the last one ending at the far edge."""
    if gap >= size:
        raise ValueError(f'gap ({gap}) must be smaller than size ({size})')
    if length <= size:
        return [0]
    step = size - gap
    count = math.ceil((length - size) / step) + 1
    starts = [step * i for i in range(count)]
    starts[-1] = length - size
    return starts


def hull_areas_in_window(polygons: np.ndarray,
                         window: Tuple[int, int, int,
                                       int]) -> Tuple[np.ndarray, np.ndarray]:
    """Areas of the convex hulls of ``(n, 8)`` polygons, and of their parts
    inside an ``(x1, y1, x2, y2)`` window."""
    hulls = shapely.convex_hull(
        shapely.multipoints(polygons.reshape(-1, 4, 2)))
    inside = shapely.intersection(hulls, shapely.box(*window))
    return shapely.area(hulls), shapely.area(inside)


def split_objects(objects: Sequence[DotaObject], rate: float,
                  window: Tuple[int, int, int,
                                int], iof_thr: float) -> List[DotaObject]:
    """The objects of one window, in its coordinates (see the module
    docstring)."""
    if not objects:
        return []
    polygons = np.stack([o.polygon for o in objects]) * rate
    area, inside = hull_areas_in_window(polygons, window)
    iof = inside / np.maximum(area, 1e-12)
    offset = np.tile(window[:2], 4)
    kept = []
    for obj, polygon, share in zip(objects, polygons, iof):
        if share >= iof_thr:
            difficulty = obj.difficulty if share >= 1 - 1e-9 else 2
            kept.append(DotaObject(polygon - offset, obj.name, difficulty))
    return kept


def find_image(image_dir: str, image_id: str) -> Optional[str]:
    for suffix in IMAGE_SUFFIXES:
        path = osp.join(image_dir, f'{image_id}.{suffix}')
        if osp.isfile(path):
            return path
    return None


def pad_to(patch: np.ndarray, size: int, value: Sequence[int]) -> np.ndarray:
    """``patch`` in the top-left corner of a ``size x size`` canvas filled
    with ``value`` (per channel)."""
    fill = np.asarray(value, patch.dtype)
    fill = fill[0] if patch.ndim == 2 else fill[:patch.shape[2]]
    canvas = np.empty((size, size) + patch.shape[2:], patch.dtype)
    canvas[...] = fill
    canvas[:patch.shape[0], :patch.shape[1]] = patch
    return canvas


def split_image(task: Tuple) -> Tuple[int, int]:
    """Write the patches of one image; returns (patches, objects written).
    """
    (image_path, objects, out_dir, sizes, gaps, rates, iof_thr, padding,
     padding_value, skip_empty) = task
    image = cv2.imread(image_path, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f'cannot read image {image_path}')
    image_id = osp.splitext(osp.basename(image_path))[0]
    labelled = objects is not None
    patches = written = 0
    for rate in rates:
        scaled = image if rate == 1 else cv2.resize(
            image, None, fx=rate, fy=rate, interpolation=cv2.INTER_CUBIC)
        height, width = scaled.shape[:2]
        for size, gap in zip(sizes, gaps):
            for y in window_starts(height, size, gap):
                for x in window_starts(width, size, gap):
                    window = (x, y, x + size, y + size)
                    kept = split_objects(objects, rate, window,
                                         iof_thr) if labelled else []
                    if labelled and skip_empty and not kept:
                        continue
                    patch = scaled[y:y + size, x:x + size]
                    if padding and patch.shape[:2] != (size, size):
                        patch = pad_to(patch, size, padding_value)
                    name = patch_name(image_id, rate, x, y)
                    cv2.imwrite(
                        osp.join(out_dir, 'images', f'{name}.png'), patch)
                    if labelled:
                        write_dota_txt(
                            osp.join(out_dir, 'annfiles', f'{name}.txt'), kept)
                        written += len(kept)
                    patches += 1
    return patches, written


def collect_tasks(args, classes) -> Tuple[List[Tuple], AnnotationChecker]:
    checker = AnnotationChecker(', '.join(args.src), args.bad_annotations)
    tasks = []
    common = (args.out, args.sizes, args.gaps, args.rates, args.iof_thr,
              not args.no_padding, args.padding_value, args.skip_empty)
    for src in args.src:
        image_dir = osp.join(src, 'images')
        label_dir = osp.join(src, 'labelTxt')
        if not osp.isdir(image_dir):
            raise FileNotFoundError(f'no images/ directory in {src}')
        if osp.isdir(label_dir):
            for txt in sorted(glob.glob(osp.join(label_dir, '*.txt'))):
                image_id = osp.splitext(osp.basename(txt))[0]
                image = find_image(image_dir, image_id)
                if image is None:
                    checker.problem(txt, 'image not found',
                                    f'{image_dir}/{image_id}.*')
                    continue
                objects = load_dota_txt(txt, classes, checker)
                tasks.append((image, objects) + common)
        else:
            for image in sorted(glob.glob(osp.join(image_dir, '*'))):
                if image.rsplit('.', 1)[-1].lower() in IMAGE_SUFFIXES:
                    tasks.append((image, None) + common)
    return tasks, checker


def parse_classes(text: str) -> Optional[Tuple[str, ...]]:
    if text == 'dota1.0':
        return DOTA_V1_CLASSES
    if text == 'any':
        return None
    return tuple(name.strip() for name in text.split(','))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Cut DOTA images (and labels) into patches.')
    parser.add_argument(
        '--src',
        nargs='+',
        required=True,
        help='directories holding images/ and, if labelled, labelTxt/')
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument(
        '--sizes',
        type=int,
        nargs='+',
        default=[1024],
        help='patch sizes (default 1024)')
    parser.add_argument(
        '--gaps',
        type=int,
        nargs='+',
        default=[200],
        help='overlaps of neighbouring patches, one per size (default 200)')
    parser.add_argument(
        '--rates',
        type=float,
        nargs='+',
        default=[1.0],
        help='image scales, e.g. 0.5 1.0 1.5 for multi-scale (default 1)')
    parser.add_argument(
        '--iof-thr',
        type=float,
        default=0.7,
        help='least share of an object inside a patch to keep it there')
    parser.add_argument(
        '--no-padding',
        action='store_true',
        help='keep patches of small images small instead of padding them')
    parser.add_argument(
        '--padding-value',
        type=int,
        nargs='+',
        default=[104, 116, 124],
        help='BGR colour of the padding (default: the ImageNet mean)')
    parser.add_argument(
        '--skip-empty',
        action='store_true',
        help='write no patch without objects (labelled sets only)')
    parser.add_argument(
        '--classes',
        default='dota1.0',
        help="'dota1.0' (default), 'any', or a comma-separated list")
    parser.add_argument(
        '--bad-annotations',
        choices=('error', 'skip'),
        default='error',
        help='a bad label line stops with its file and line (error), or '
        'is dropped and counted (skip)')
    parser.add_argument(
        '--nproc',
        type=int,
        default=max(1, (os.cpu_count() or 2) // 2),
        help='worker processes')
    args = parser.parse_args(argv)
    if len(args.gaps) != len(args.sizes):
        parser.error('give one --gaps value per --sizes value')
    return args


def main(argv=None) -> Dict[str, int]:
    args = parse_args(argv)
    classes = parse_classes(args.classes)
    tasks, checker = collect_tasks(args, classes)
    checker.finish()
    os.makedirs(osp.join(args.out, 'images'), exist_ok=True)
    if any(task[1] is not None for task in tasks):
        os.makedirs(osp.join(args.out, 'annfiles'), exist_ok=True)
    patches = objects = 0
    progress = tqdm(total=len(tasks), unit='image', file=sys.stdout)
    if args.nproc > 1 and len(tasks) > 1:
        with multiprocessing.Pool(args.nproc) as pool:
            for made, kept in pool.imap_unordered(split_image, tasks):
                patches, objects = patches + made, objects + kept
                progress.update()
    else:
        for task in tasks:
            made, kept = split_image(task)
            patches, objects = patches + made, objects + kept
            progress.update()
    progress.close()
    print(f'{len(tasks)} images -> {patches} patches with {objects} objects '
          f'in {args.out}')
    return dict(images=len(tasks), patches=patches, objects=objects)


if __name__ == '__main__':
    main()
