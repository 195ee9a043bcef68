"""Test (and evaluate) a detector: mmdet's tools/test.py with this
package's modules; same flags. Reading the config installs this package's
fixes into mmengine (``load_config``; see :mod:`mmdet_losses.utils.compat`),
so mmengine checkpoints load on torch >= 2.6."""
import argparse
import os
import os.path as osp
import warnings
from copy import deepcopy

from mmengine import ConfigDict
from mmengine.config import DictAction

import mmdet_losses
from mmdet_losses.utils.config import set_data_root
from mmdet_losses.utils.registry_errors import unknown_type_explained
from mmdet_losses.utils.runner_setup import (build_runner, close_process_group,
                                             load_config)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a detector')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='the directory to save the file containing evaluation metrics')
    parser.add_argument(
        '--data-root',
        help='the dataset folder: replaces the data_root of every dataloader '
        'and of the evaluators\' annotation files')
    parser.add_argument(
        '--out',
        type=str,
        help='dump predictions to a pickle file for offline evaluation')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images will be saved. '
        'If specified, it will be automatically saved '
        'to the work_dir/timestamp/show_dir')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file. If the value to '
        'be overwritten is a list, it should be like key="[a,b]" or key=a,b '
        'It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" '
        'Note that the quotation marks are necessary and that no white space '
        'is allowed.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--tta', action='store_true')
    parser.add_argument(
        '--dota-task1',
        nargs='?',
        const='test',
        metavar='SUBDIR',
        help='DOTA submission: test on the unlabelled patches '
        '<data_root>/SUBDIR/images/ (default SUBDIR: test) and merge the '
        'detections into whole-image Task1 files in <work_dir>/Task1/')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def _add_tta(cfg):
    if 'tta_model' not in cfg:
        warnings.warn('Cannot find ``tta_model`` in config, '
                      'we will set it as default.')
        cfg.tta_model = dict(
            type='DetTTAModel',
            tta_cfg=dict(
                nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))
    if 'tta_pipeline' not in cfg:
        warnings.warn('Cannot find ``tta_pipeline`` in config, '
                      'we will set it as default.')
        test_data_cfg = cfg.test_dataloader.dataset
        while 'dataset' in test_data_cfg:
            test_data_cfg = test_data_cfg['dataset']
        cfg.tta_pipeline = deepcopy(test_data_cfg.pipeline)
        cfg.tta_pipeline[-1] = dict(
            type='TestTimeAug',
            transforms=[[
                dict(type='RandomFlip', prob=1.),
                dict(type='RandomFlip', prob=0.)
            ],
                        [
                            dict(
                                type='PackDetInputs',
                                meta_keys=('img_id', 'img_path', 'ori_shape',
                                           'img_shape', 'scale_factor', 'flip',
                                           'flip_direction'))
                        ]])
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline


def dota_task1(cfg, subdir):
    """Test a DOTA config on the unlabelled patches of ``subdir`` (under its
    ``data_root``) and write mmrotate's Task1 files of the whole images,
    ``<work_dir>/Task1/Task1_<class>.txt`` and ``Task1.zip``: the test
    setting mmrotate's DOTA config leaves commented out, with the files
    inside the run's work directory."""
    out = osp.join(cfg.work_dir, 'Task1')
    if osp.exists(out):
        # DOTAMetric refuses it, but only after the whole inference
        raise FileExistsError(f'{out} exists already; move it away first')
    dataset = cfg.test_dataloader.dataset
    if 'DOTA' not in dataset.get('type', ''):
        raise ValueError('--dota-task1 needs a DOTA test dataset, not '
                         f'{dataset.get("type")}')
    # ann_file '' makes mmrotate's DOTADataset list images without labels
    dataset.ann_file = ''
    dataset.data_prefix = dict(img_path=subdir.rstrip('/') + '/images/')
    dataset.test_mode = True
    dataset.pipeline = [
        step for step in dataset.pipeline
        if step['type'].split('.')[-1] != 'LoadAnnotations'
    ]
    cfg.test_evaluator = dict(
        type='mmrotate.DOTAMetric',
        format_only=True,
        merge_patches=True,
        outfile_prefix=out)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, args.work_dir,
                      args.launcher)
    set_data_root(cfg, args.data_root)
    cfg.load_from = args.checkpoint
    if args.dota_task1:
        dota_task1(cfg, args.dota_task1)
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        raise ValueError(f'--out must name a .pkl file, got {args.out}')

    mmdet_losses.register_all_modules(init_default_scope=False)
    from mmdet.engine.hooks.utils import trigger_visualization_hook
    from mmdet.evaluation import DumpDetResults
    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)
    if args.tta:
        _add_tta(cfg)

    with unknown_type_explained():
        runner = build_runner(cfg)
        if args.out is not None:
            runner.test_evaluator.metrics.append(
                DumpDetResults(out_file_path=args.out))
        metrics = runner.test()
    close_process_group()
    return metrics


if __name__ == '__main__':
    main()
