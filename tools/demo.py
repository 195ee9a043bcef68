"""Train and evaluate the quickstart detector on the embedded dataset.

    python tools/demo.py [--config CONFIG] [--work-dir DIR]

Runs tools/train.py, then tools/test.py on the last checkpoint (printing the
COCO bbox mAP), then writes ``loss_curve.png`` and ``predictions.png``
(ground truth beside predictions on validation images) into the work dir.
"""
import argparse
import json
import os.path as osp
import pickle
import subprocess
import sys
import time

import numpy as np

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(HERE)
DEFAULT_CONFIG = osp.join(ROOT, 'configs', 'quickstart',
                          'gfl_r18_fpn_qfl-dfl-ciou_synthetic.py')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument(
        '--num-images',
        type=int,
        default=8,
        help='validation images drawn in predictions.png')
    parser.add_argument('--score-thr', type=float, default=0.3)
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        help='passed to tools/train.py and tools/test.py')
    return parser.parse_args(argv)


def run(step: str, command: list) -> None:
    print(f'\n[demo] {step}: {" ".join(command)}', flush=True)
    start = time.time()
    subprocess.run(command, check=True)
    print(f'[demo] {step} took {time.time() - start:.0f} s', flush=True)


def last_checkpoint(work_dir: str) -> str:
    from mmdet_losses.utils.checkpoint import find_resumable_checkpoint
    checkpoint = find_resumable_checkpoint(work_dir)
    if checkpoint is None:
        raise FileNotFoundError(f'training wrote no checkpoint in {work_dir}')
    return checkpoint


def draw_predictions(cfg, predictions_file: str, out_file: str,
                     num_images: int, score_thr: float) -> str:
    import cv2

    from mmdet_losses.visualization.plots import plot_detection_grid
    with open(predictions_file, 'rb') as f:
        predictions = pickle.load(f)
    dataset = cfg.test_dataloader.dataset
    with open(osp.join(dataset.data_root, dataset.ann_file)) as f:
        coco = json.load(f)
    category_index = {c['id']: i for i, c in enumerate(coco['categories'])}
    gts = {}
    for ann in coco['annotations']:
        x, y, w, h = ann['bbox']
        gts.setdefault(ann['image_id'], []).append(
            ([x, y, x + w, y + h], category_index[ann['category_id']]))
    samples = []
    for pred in predictions[:num_images]:
        image = cv2.imread(pred['img_path'])[..., ::-1]
        instances = pred['pred_instances']
        gt = gts.get(pred['img_id'], [])
        samples.append(
            dict(
                image=image,
                title=osp.basename(pred['img_path']),
                pred_boxes=instances['bboxes'].numpy(),
                pred_labels=instances['labels'].numpy(),
                pred_scores=instances['scores'].numpy(),
                gt_boxes=np.array([b for b, _ in gt]).reshape(-1, 4),
                gt_labels=np.array([lb for _, lb in gt], dtype=np.int64)))
    from mmdet_losses.datasets.synthetic import CLASSES, PALETTE
    classes = cfg.get('metainfo', {}).get('classes', CLASSES)
    return plot_detection_grid(
        samples, out_file, classes, PALETTE, score_thr=score_thr, ncols=2)


def main(argv=None):
    args = parse_args(argv)
    start = time.time()
    options = ['--cfg-options', *args.cfg_options] if args.cfg_options else []
    python = sys.executable
    run('train', [
        python,
        osp.join(HERE, 'train.py'), args.config, '--work-dir', args.work_dir,
        *options
    ])
    checkpoint = last_checkpoint(args.work_dir)
    predictions = osp.join(args.work_dir, 'predictions.pkl')
    run('test', [
        python,
        osp.join(HERE, 'test.py'), args.config, checkpoint, '--work-dir',
        args.work_dir, '--out', predictions, *options
    ])

    from mmengine.config import Config

    import mmdet_losses  # noqa: F401
    from mmdet_losses.visualization.plots import (load_json_log,
                                                  plot_training_curves)
    cfg = Config.fromfile(args.config)
    train_records, val_records = load_json_log(args.work_dir)
    curve = plot_training_curves({'train': train_records},
                                 osp.join(args.work_dir, 'loss_curve.png'),
                                 title=osp.basename(args.config))
    grid = draw_predictions(cfg, predictions,
                            osp.join(args.work_dir, 'predictions.png'),
                            args.num_images, args.score_thr)
    print('\n[demo] done in {:.1f} min'.format((time.time() - start) / 60))
    if val_records:
        final = val_records[-1]
        print('[demo] COCO bbox mAP {:.3f}  mAP@0.5 {:.3f}  mAP@0.75 {:.3f}'.
              format(final['coco/bbox_mAP'], final['coco/bbox_mAP_50'],
                     final['coco/bbox_mAP_75']))
    print(f'[demo] loss curve: {curve}\n[demo] predictions: {grid}')


if __name__ == '__main__':
    main()
