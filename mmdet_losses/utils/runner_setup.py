"""Config handling shared by this package's tools (train, test, draw
detections): reading a config is where a tool installs this package's fixes
into mmengine (:mod:`.compat`)."""
import os.path as osp
from typing import Optional

import torch.distributed as dist
from mmengine.config import Config
from mmengine.logging import print_log

from .compat import install as install_compat
from .config import rescope_to_default


def load_config(path: str,
                cfg_options: Optional[dict] = None,
                work_dir: Optional[str] = None,
                launcher: str = 'none') -> Config:
    """Install this package's fixes into mmengine, read a config, apply
    ``--cfg-options`` and ``--work-dir`` the way mmdet's tools do, and pick
    a distributed backend this machine has."""
    # before reading: the config may inherit 'mmdet_losses::...' bases
    install_compat()
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    # work_dir priority: CLI > config > configs' file name
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(path))[0])
    if launcher != 'none':
        _use_gloo_without_cuda(cfg)
    return rescope_to_default(cfg)


def build_runner(cfg: Config):
    """The runner a config asks for (``runner_type``), mmengine's default
    one otherwise, as mmdet's tools build it."""
    from mmengine.runner import Runner

    from ..registry import RUNNERS
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def _use_gloo_without_cuda(cfg: Config) -> None:
    import torch
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    if not torch.cuda.is_available() and dist_cfg.get('backend') in (None,
                                                                     'nccl'):
        print_log(
            'No CUDA device: using the gloo backend for distributed '
            'training instead of nccl.',
            logger='current')
        dist_cfg['backend'] = 'gloo'
    if not torch.cuda.is_available() and 'runner_type' not in cfg:
        # mmengine's Runner joins the process group with
        # torch.cuda.set_device, which fails without a GPU; this package's
        # Runner joins it without CUDA (configs of other packages, e.g.
        # mmrotate's, name no runner)
        cfg.runner_type = 'mmdet_losses.Runner'


def close_process_group() -> None:
    """Destroy the default process group of a distributed run, if any.

    Without it the communication threads are still alive when the
    interpreter exits, and a process that finished its work can abort
    (``terminate called without an active exception``), so its launcher
    reports a failure.
    """
    if dist.is_available() and dist.is_initialized():
        # every rank reaches this line after the same collectives; the
        # barrier keeps one rank from tearing its connections down while a
        # slower peer still flushes its last message to it
        dist.barrier()
        dist.destroy_process_group()
