"""Every quickstart config trains 2 iterations and evaluates on CPU, in
full precision and with ``--amp`` (bfloat16 autocast on a CPU)."""
import glob
import math
import os.path as osp

import pytest
import torch
from helpers import config_path, shrink_config
from mmengine.config import Config

import mmdet_losses
from mmdet_losses.utils.runner_setup import build_runner

mmdet_losses.register_all_modules(init_default_scope=False)

QUICKSTART = sorted(glob.glob(config_path('quickstart', '*.py')))


@pytest.mark.parametrize('path', QUICKSTART, ids=osp.basename)
def test_quickstart_trains_two_iterations_and_evaluates(
        path, tmp_path, tiny_synthetic_root):
    cfg = shrink_config(
        Config.fromfile(path), str(tmp_path / 'work'), tiny_synthetic_root)
    runner = build_runner(cfg)
    runner.train()
    assert runner.iter == 2
    metrics = runner.val_loop.run()
    assert any(key.endswith('mAP') for key in metrics), metrics


@pytest.mark.parametrize('path', QUICKSTART, ids=osp.basename)
def test_quickstart_trains_with_amp_without_nan(path, tmp_path,
                                                tiny_synthetic_root):
    cfg = shrink_config(
        Config.fromfile(path), str(tmp_path / 'work'), tiny_synthetic_root)
    cfg.optim_wrapper.type = 'mmdet_losses.AmpOptimWrapper'
    runner = build_runner(cfg)
    seen = []
    original = runner.model.loss

    def recording_loss(*args, **kwargs):
        # inside the wrapper's autocast region
        seen.append(
            torch.get_autocast_dtype('cpu') if torch.
            is_autocast_enabled('cpu') else None)
        return original(*args, **kwargs)

    runner.model.loss = recording_loss
    runner.train()  # NonFiniteLossHook raises on a NaN/Inf loss
    assert seen == [torch.bfloat16, torch.bfloat16]
    logged = runner.message_hub.get_scalar('train/loss').data[0]
    assert all(math.isfinite(v) for v in logged)


def test_there_is_a_quickstart_config():
    assert QUICKSTART
