"""Merge patch detections into whole DOTA images and write Task1 files.

Takes the predictions ``tools/test.py CONFIG CKPT --out preds.pkl`` dumped
for patches cut by ``tools/data/dota_split.py``, maps every box back to its
image through the patch name (``<image>__<rate>__<x>___<y>``), removes the
duplicates of overlapping patches with a rotated NMS per class, and writes
``Task1_<class>.txt`` files (``image score x1 y1 ... x4 y4`` per line), the
format of DOTA's evaluation server. With ``--ann-dir`` (whole-image
labelTxt files) it also evaluates the merged detections with DOTA's
protocol (``DOTAMetric``'s) and prints the per-class AP.

    python tools/test.py CONFIG CKPT --out work_dirs/preds.pkl
    python tools/data/dota_merge.py work_dirs/preds.pkl \\
        --out-dir work_dirs/Task1 --config CONFIG
"""
import argparse
import glob
import os.path as osp
from typing import Dict, Optional, Sequence

import numpy as np
import torch

from mmdet_losses.datasets.dota_io import (DOTA_V1_CLASSES, load_dota_txt,
                                           write_task1)
from mmdet_losses.evaluation.dota_merge import merge_patch_detections
from mmdet_losses.evaluation.dota_metric import as_rbox_array, task1_detections
from mmdet_losses.evaluation.rotated_map import eval_rbbox_map, mean_ap
from mmdet_losses.structures import qbox2rbox


def config_classes(path: str) -> Sequence[str]:
    """The class names of a config's test dataset."""
    import mmdet_losses
    from mmdet_losses.registry import DATASETS
    from mmdet_losses.utils.runner_setup import load_config
    mmdet_losses.register_all_modules(init_default_scope=True)
    dataset = load_config(path).test_dataloader.dataset
    while 'dataset' in dataset:
        dataset = dataset.dataset
    classes = (dataset.get('metainfo') or {}).get('classes')
    return tuple(classes or DATASETS.get(dataset.type).METAINFO['classes'])


def load_patches(path: str):
    """``(patch name, rboxes, scores, labels)`` from a ``--out`` pickle."""
    from mmengine.fileio import load
    for sample in load(path):
        pred = sample['pred_instances']
        name = osp.splitext(osp.basename(sample['img_path']))[0]
        yield (name, as_rbox_array(pred['bboxes']),
               torch.as_tensor(pred['scores']).numpy(),
               torch.as_tensor(pred['labels']).numpy())


def evaluate(merged: Dict, ann_dir: str, classes: Sequence[str],
             iou_thr: float, use_07_metric: bool) -> float:
    """mAP of merged detections against whole-image labelTxt files."""
    label_of = {name: i for i, name in enumerate(classes)}
    det_results, annotations = [], []
    for txt in sorted(glob.glob(osp.join(ann_dir, '*.txt'))):
        image_id = osp.splitext(osp.basename(txt))[0]
        objects = load_dota_txt(txt, classes)
        difficult = np.array([o.difficulty > 0 for o in objects], bool)
        polygons = torch.tensor(
            np.array([o.polygon for o in objects]),
            dtype=torch.float64).reshape(-1, 8)
        boxes = qbox2rbox(polygons).numpy()
        labels = np.array([label_of[o.name] for o in objects], np.int64)
        annotations.append(
            dict(
                bboxes=boxes[~difficult],
                labels=labels[~difficult],
                bboxes_ignore=boxes[difficult],
                labels_ignore=labels[difficult]))
        rboxes, scores, det_labels = merged.get(image_id, (np.zeros(
            (0, 5)), np.zeros(0), np.zeros(0, int)))
        det_results.append([
            np.hstack([rboxes[det_labels == c], scores[det_labels == c, None]])
            for c in range(len(classes))
        ])
    per_class = eval_rbbox_map(det_results, annotations, iou_thr,
                               use_07_metric)
    width = max(len(c) for c in classes)
    print(f'{"class":<{width}}  {"gts":>6}  {"dets":>7}  {"AP":>6}')
    for name, result in zip(classes, per_class):
        print(f'{name:<{width}}  {result["num_gts"]:>6}  '
              f'{result["num_dets"]:>7}  {result["ap"]:>6.3f}')
    value = mean_ap(per_class)
    print(f'{"mAP":<{width}}  {"":>6}  {"":>7}  {value:>6.3f}')
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Merge patch detections into whole images; write DOTA '
        'Task1 files.')
    parser.add_argument('pred', help='pickle written by tools/test.py --out')
    parser.add_argument(
        '--out-dir',
        required=True,
        help='directory for the Task1_<class>.txt files')
    parser.add_argument(
        '--config', help='take the class names from this config')
    parser.add_argument(
        '--classes',
        default='dota1.0',
        help="'dota1.0' (default) or a comma-separated list (without "
        '--config)')
    parser.add_argument(
        '--iou-thr',
        type=float,
        default=0.1,
        help='rotated NMS IoU of the merge (default 0.1)')
    parser.add_argument(
        '--max-per-img',
        type=int,
        default=-1,
        help='detections kept per image (-1: all)')
    parser.add_argument(
        '--ann-dir',
        help='whole-image labelTxt directory: evaluate the merged result')
    parser.add_argument('--eval-iou-thr', type=float, default=0.5)
    parser.add_argument(
        '--area',
        action='store_true',
        help='area under the curve instead of VOC07 11-point')
    return parser.parse_args(argv)


def main(argv=None) -> Optional[float]:
    args = parse_args(argv)
    if args.config:
        classes = config_classes(args.config)
    elif args.classes == 'dota1.0':
        classes = DOTA_V1_CLASSES
    else:
        classes = tuple(c.strip() for c in args.classes.split(','))
    merged = merge_patch_detections(
        load_patches(args.pred), args.iou_thr, args.max_per_img)
    paths = write_task1(args.out_dir, classes,
                        task1_detections(merged, classes))
    count = sum(len(m[1]) for m in merged.values())
    print(f'{len(merged)} images, {count} detections -> {len(paths)} Task1 '
          f'files in {args.out_dir}')
    if args.ann_dir:
        return evaluate(merged, args.ann_dir, classes, args.eval_iou_thr,
                        not args.area)
    return None


if __name__ == '__main__':
    main()
