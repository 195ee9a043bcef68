"""Train and evaluate the quickstart detector on the embedded dataset.

    python tools/demo.py [--config CONFIG] [--work-dir DIR]

Runs tools/train.py, then tools/test.py on the last checkpoint (printing the
COCO bbox mAP), then writes ``loss_curve.png`` and ``predictions.png``
(ground truth beside predictions on validation images) into the work dir.
"""
import argparse
import os.path as osp
import subprocess
import sys
import time

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

    import mmdet_losses
    from mmdet_losses.visualization.detections import draw_prediction_file
    from mmdet_losses.visualization.logs import load_run, plot_curves

    # the config may inherit 'mmdet_losses::...' bases
    mmdet_losses.install_mmengine_compat()
    cfg = Config.fromfile(args.config)
    train_log = load_run(args.work_dir, 'train')
    val_records = train_log.val
    curve = plot_curves([train_log],
                        osp.join(args.work_dir, 'loss_curve.png'),
                        title=osp.basename(args.config))
    grid = draw_prediction_file(
        cfg,
        predictions,
        osp.join(args.work_dir, 'predictions.png'),
        num_images=args.num_images,
        score_thr=args.score_thr)
    print('\n[demo] done in {:.1f} min'.format((time.time() - start) / 60))
    if val_records:
        final = val_records[-1]
        print('[demo] COCO bbox mAP {:.3f}  mAP@0.5 {:.3f}  mAP@0.75 {:.3f}'.
              format(final['coco/bbox_mAP'], final['coco/bbox_mAP_50'],
                     final['coco/bbox_mAP_75']))
    print(f'[demo] loss curve: {curve}\n[demo] predictions: {grid}')


if __name__ == '__main__':
    main()
