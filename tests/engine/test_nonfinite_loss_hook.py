"""A NaN loss stops training with the iteration, the loss term and the
images named, and the last good checkpoint stays the last one."""
import math

import pytest
import torch
from helpers import config_path, shrink_config
from mmengine.config import Config
from mmengine.hooks import Hook

import mmdet_losses
from mmdet_losses.utils.checkpoint import (find_resumable_checkpoint,
                                           is_complete_checkpoint)
from mmdet_losses.utils.runner_setup import build_runner

mmdet_losses.register_all_modules(init_default_scope=False)

QUICKSTART = config_path('quickstart', 'gfl_r18_fpn_qfl-dfl-ciou_synthetic.py')


class PoisonWeights(Hook):
    """Turns the weights into NaN before iteration ``at`` (1-based)."""

    priority = 'VERY_HIGH'

    def __init__(self, at):
        self.at = at

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 == self.at:
            with torch.no_grad():
                for p in runner.model.parameters():
                    p.fill_(math.nan)


def _runner(tmp_path, tiny_root, **overrides):
    cfg = shrink_config(
        Config.fromfile(QUICKSTART),
        str(tmp_path / 'work'),
        tiny_root,
        max_epochs=3)
    cfg.merge_from_dict(overrides)
    return build_runner(cfg)


def test_nan_loss_stops_with_details_and_keeps_last_checkpoint(
        tmp_path, tiny_synthetic_root):
    runner = _runner(tmp_path, tiny_synthetic_root)
    runner.register_hook(PoisonWeights(at=4))  # 2 iterations per epoch
    with pytest.raises(FloatingPointError) as info:
        runner.train()
    message = str(info.value)
    assert 'Non-finite loss at iteration 4 (epoch 2)' in message
    assert 'loss_cls=nan' in message or 'loss=nan' in message
    assert 'images [' in message and ']' in message
    work = tmp_path / 'work'
    assert 'epoch_1.pth' in message
    assert not (work / 'epoch_2.pth').exists()
    kept = find_resumable_checkpoint(str(work))
    assert kept.endswith('epoch_1.pth') and is_complete_checkpoint(kept)
    state = torch.load(kept, weights_only=False)['state_dict']
    assert all(
        torch.isfinite(v).all() for v in state.values()
        if v.is_floating_point())


def test_the_hook_can_be_turned_off(tmp_path, tiny_synthetic_root):
    runner = _runner(tmp_path, tiny_synthetic_root,
                     **{'default_hooks.nonfinite': None})
    assert not any(
        type(h).__name__ == 'NonFiniteLossHook' for h in runner.hooks)
    runner = _runner(tmp_path, tiny_synthetic_root)
    assert any(type(h).__name__ == 'NonFiniteLossHook' for h in runner.hooks)
