"""Train a detector: mmdet's tools/train.py, with this package's modules.

Flags are mmdet's. Differences: ``--amp`` also works on a CPU (bfloat16),
``--resume auto`` skips an incomplete last checkpoint, a distributed run on
a machine without CUDA uses the gloo backend, and an unknown ``type`` in the
config names what this package registers of that kind.

Reading the config installs this package's fixes into mmengine
(``load_config``; see :mod:`mmdet_losses.utils.compat`): ``--resume`` of an
mmengine checkpoint works on torch >= 2.6, checkpoints are written
atomically, and ``'mmdet_losses::...'`` bases resolve.
"""
import argparse
import os

from mmengine.config import DictAction

import mmdet_losses
from mmdet_losses.utils.checkpoint import find_resumable_checkpoint
from mmdet_losses.utils.config import set_data_root
from mmdet_losses.utils.registry_errors import unknown_type_explained
from mmdet_losses.utils.runner_setup import (build_runner, close_process_group,
                                             load_config)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--data-root',
        help='the dataset folder: replaces the data_root of every dataloader '
        'and of the evaluators\' annotation files')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training (bfloat16 on a CPU)')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='enable automatically scaling LR.')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='If a checkpoint path is given, resume from it; without one, '
        'resume from the last complete checkpoint in the work directory.')
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
    # torch.distributed.launch passes --local-rank (torch >= 2.0)
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def build_train_config(args):
    cfg = load_config(args.config, args.cfg_options, args.work_dir,
                      args.launcher)
    set_data_root(cfg, args.data_root)

    if args.amp:
        # this package's wrapper: mmengine's on an accelerator, bf16 on a CPU
        cfg.optim_wrapper.type = 'mmdet_losses.AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if args.auto_scale_lr:
        if 'auto_scale_lr' in cfg and \
                'enable' in cfg.auto_scale_lr and \
                'base_batch_size' in cfg.auto_scale_lr:
            cfg.auto_scale_lr.enable = True
        else:
            raise RuntimeError('Can not find "auto_scale_lr" or '
                               '"auto_scale_lr.enable" or '
                               '"auto_scale_lr.base_batch_size" in your'
                               ' configuration file.')

    if args.resume == 'auto':
        last = find_resumable_checkpoint(cfg.work_dir)
        cfg.resume = last is not None
        cfg.load_from = last
        if last is None:
            print(f'No complete checkpoint in {cfg.work_dir}: training '
                  'from the start.')
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = build_train_config(args)
    mmdet_losses.register_all_modules(init_default_scope=False)
    with unknown_type_explained():
        runner = build_runner(cfg)
        runner.train()
    close_process_group()


if __name__ == '__main__':
    main()
