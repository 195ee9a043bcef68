"""DOTA's annotation format: reading, checking and writing labelTxt files.

One object per line, ``x1 y1 x2 y2 x3 y3 x4 y4 class difficult``: the four
corners of the object in pixels, its class name and a difficulty flag (0 or
1; 2 marks objects cut by a patch border, see ``tools/data/dota_split.py``).
The original DOTA-v1.0 files may start with ``imagesource:...`` and
``gsd:...`` lines, which are metadata and skipped.

Task1 result files (what DOTA's evaluation server takes) hold one file per
class, ``Task1_<class>.txt``, one detection per line:
``image_id score x1 y1 x2 y2 x3 y3 x4 y4``.

The dataset classes, the synthetic generator and the split and merge tools
all read and write through this module.
"""
import math
import os
import os.path as osp
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence

import numpy as np
import torch

from mmdet_losses.structures import qbox_areas
from .validation import AnnotationChecker

DOTA_V1_CLASSES = ('plane', 'baseball-diamond', 'bridge', 'ground-track-field',
                   'small-vehicle', 'large-vehicle', 'ship', 'tennis-court',
                   'basketball-court', 'storage-tank', 'soccer-ball-field',
                   'roundabout', 'harbor', 'swimming-pool', 'helicopter')

METADATA_PREFIXES = ('imagesource:', 'gsd:')
# a polygon smaller than this (square pixels) cannot be a box target
MIN_AREA = 1e-3


class DotaObject(NamedTuple):
    """One labelled object: ``(8,)`` float64 corners, class, difficulty."""
    polygon: np.ndarray
    name: str
    difficulty: int


def _parse_line(fields: List[str], classes: Optional[Sequence[str]]):
    """``(polygon, name, difficulty)`` or ``(kind, detail)`` of the problem.
    """
    if len(fields) != 10:
        return None, ('wrong number of fields',
                      f'{len(fields)} fields; a DOTA line holds 8 '
                      'coordinates, a class name and a difficulty')
    try:
        coords = [float(v) for v in fields[:8]]
    except ValueError:
        return None, ('non-numeric coordinate', ' '.join(fields[:8]))
    if not all(math.isfinite(v) for v in coords):
        return None, ('non-finite coordinate', ' '.join(fields[:8]))
    name = fields[8]
    if classes is not None and name not in classes:
        return None, ('unknown class name',
                      f'{name!r} not in {tuple(classes)}')
    try:
        difficulty = int(fields[9])
    except ValueError:
        return None, ('non-integer difficulty', repr(fields[9]))
    return (np.array(coords), name, difficulty), None


def load_dota_txt(path: str,
                  classes: Optional[Sequence[str]] = None,
                  checker: Optional[AnnotationChecker] = None
                  ) -> List[DotaObject]:
    """The objects of one labelTxt file.

    Args:
        path: the file.
        classes: the known class names; None accepts any name.
        checker: where bad lines go (named by ``path:line``); None raises a
            ``ValueError`` at the first one.

    A bad line has a wrong number of fields, a non-numeric or non-finite
    coordinate, a class outside ``classes``, a non-integer difficulty, or a
    polygon of (nearly) zero area.
    """
    checker = checker or AnnotationChecker(path)
    objects, where = [], []
    with open(path, encoding='utf-8') as f:
        for line_no, line in enumerate(f, 1):
            text = line.strip()
            if not text or text.lower().startswith(METADATA_PREFIXES):
                continue
            parsed, problem = _parse_line(text.split(), classes)
            if problem:
                checker.problem(f'{path}:{line_no}', *problem)
                continue
            objects.append(DotaObject(*parsed))
            where.append(line_no)
    if not objects:
        return objects
    areas = qbox_areas(
        torch.from_numpy(np.stack([o.polygon for o in objects])))
    kept = []
    for obj, line_no, area in zip(objects, where, areas.tolist()):
        if area < MIN_AREA:
            checker.problem(f'{path}:{line_no}', 'zero-area polygon',
                            ' '.join(f'{v:g}' for v in obj.polygon))
        else:
            kept.append(obj)
    return kept


def format_dota_line(polygon: Iterable[float], name: str,
                     difficulty: int) -> str:
    """One labelTxt line (coordinates with one decimal)."""
    coords = ' '.join(f'{float(v):.1f}' for v in polygon)
    return f'{coords} {name} {int(difficulty)}'


def write_dota_txt(path: str, objects: Iterable[DotaObject]) -> None:
    """Write a labelTxt file (parent directories are created)."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        for obj in objects:
            f.write(format_dota_line(*obj) + '\n')


def write_task1(out_dir: str, classes: Sequence[str],
                detections: Dict[str, Dict[str, np.ndarray]]) -> List[str]:
    """Write DOTA Task1 result files, one per class.

    Args:
        out_dir: where ``Task1_<class>.txt`` go.
        classes: every class gets a file, empty if it has no detection.
        detections: ``{image_id: {class: (n, 9) [score, x1, y1, ...]}}``.

    Returns:
        The paths written.
    """
    os.makedirs(out_dir, exist_ok=True)
    lines: Dict[str, List[str]] = {name: [] for name in classes}
    for image_id in sorted(detections):
        for name, dets in detections[image_id].items():
            for det in dets:
                coords = ' '.join(f'{v:.2f}' for v in det[1:9])
                lines[name].append(f'{image_id} {det[0]:.4f} {coords}')
    paths = []
    for name in classes:
        path = osp.join(out_dir, f'Task1_{name}.txt')
        with open(path, 'w', encoding='utf-8') as f:
            f.writelines(line + '\n' for line in lines[name])
        paths.append(path)
    return paths
