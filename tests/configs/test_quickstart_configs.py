"""Every quickstart config trains 2 iterations and evaluates, on CPU."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

import mmdet_losses
from helpers import config_path, shrink_config
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


def test_there_is_a_quickstart_config():
    assert QUICKSTART
