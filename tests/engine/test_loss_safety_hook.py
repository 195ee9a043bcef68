"""mmengine's own Runner (what mmdet's tools/train.py builds) gets this
package's safety from the one line
``custom_hooks = [dict(type='mmdet_losses.LossSafetyHook')]``: the model
checks stop a wrong config before training, a NaN loss stops training, and
an mmengine checkpoint resumes on torch >= 2.6."""
import glob
import math
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from helpers import CONFIG_DIR, ROOT
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner
from stock_runner_configs import SAFETY_HOOK, write_stock_config

import mmdet_losses
from mmdet_losses.engine.runner import Runner as OurRunner

HERE = osp.dirname(osp.abspath(__file__))
COCO_FAMILIES = ('retinanet', 'fcos', 'gfl', 'atss')


@pytest.fixture(autouse=True)
def cheap_config_text(monkeypatch):
    """The runner logs its config formatted by yapf, about a second of CPU
    each: keep the file's own text instead."""
    monkeypatch.setattr(Config, 'pretty_text',
                        property(lambda cfg: cfg._text or ''))


def _stock_runner(tmp_path, data_root, **kwargs) -> Runner:
    # a file name of its own: mmengine names a runner's logger and scope
    # after its config file and the second
    path = write_stock_config(
        str(tmp_path / f'{tmp_path.name}.py'), data_root,
        str(tmp_path / 'work'), **kwargs)
    runner = Runner.from_cfg(Config.fromfile(path))
    assert type(runner) is Runner  # mmengine's, not ours
    return runner


@pytest.mark.parametrize('safety', [True, False])
def test_iou_loss_on_deltas_stops_a_stock_runner_with_the_hook(
        tmp_path, tiny_synthetic_root, safety):
    runner = _stock_runner(
        tmp_path,
        tiny_synthetic_root,
        safety=safety,
        loss_bbox=dict(type='mmdet_losses.CIoULoss'))
    loss = runner.model.bbox_head.loss_bbox
    assert type(loss).__module__.startswith('mmdet_losses.')
    if not safety:
        # what issue 16 describes: deltas compared as boxes, no complaint
        runner.train()
        assert runner.iter == 2
        return
    with pytest.raises(ValueError) as info:
        runner.train()
    message = str(info.value)
    assert 'model.bbox_head (RetinaHead) uses CIoULoss' in message
    assert 'model.bbox_head.reg_decoded_bbox=True' in message
    assert runner.iter == 0
    assert not glob.glob(str(tmp_path / 'work' / '*.pth'))


def test_iou_loss_on_decoded_boxes_trains_under_the_hook(
        tmp_path, tiny_synthetic_root):
    runner = _stock_runner(
        tmp_path,
        tiny_synthetic_root,
        reg_decoded_bbox=True,
        loss_bbox=dict(type='mmdet_losses.CIoULoss'))
    runner.train()
    assert runner.iter == 2


def test_num_classes_mismatch_stops_a_stock_runner(tmp_path,
                                                   tiny_synthetic_root):
    runner = _stock_runner(tmp_path, tiny_synthetic_root, num_classes=80)
    with pytest.raises(ValueError) as info:
        runner.train()
    message = str(info.value)
    assert 'model.bbox_head.num_classes=80' in message
    assert '4 classes' in message


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


def test_nan_loss_stops_a_stock_runner(tmp_path, tiny_synthetic_root):
    runner = _stock_runner(tmp_path, tiny_synthetic_root, max_epochs=2)
    runner.register_hook(PoisonWeights(at=3))  # 2 iterations per epoch
    with pytest.raises(FloatingPointError) as info:
        runner.train()
    message = str(info.value)
    assert 'Non-finite loss at iteration 3 (epoch 2)' in message
    assert 'epoch_1.pth' in message
    assert not (tmp_path / 'work' / 'epoch_2.pth').exists()


def test_under_our_runner_the_hook_leaves_losses_to_nonfinite_hook(
        tmp_path, tiny_synthetic_root, monkeypatch):
    """Our configs already have a NonFiniteLossHook and our Runner checks
    the model when it builds it: the safety hook does neither again."""
    from helpers import config_path, shrink_config

    from mmdet_losses.engine.hooks import LossSafetyHook, loss_safety_hook
    from mmdet_losses.utils.runner_setup import build_runner
    mmdet_losses.register_all_modules(init_default_scope=False)
    cfg = shrink_config(
        Config.fromfile(
            config_path('quickstart',
                        'gfl_r18_fpn_qfl-dfl-ciou_synthetic.py')),
        str(tmp_path / 'work'), tiny_synthetic_root)
    cfg.custom_hooks = [SAFETY_HOOK]
    runner = build_runner(cfg)
    assert isinstance(runner, OurRunner)
    hook = next(h for h in runner.hooks if isinstance(h, LossSafetyHook))
    checked = []
    monkeypatch.setattr(loss_safety_hook, 'check_detector',
                        lambda *args: checked.append(args))
    hook.before_run(runner)
    assert checked == [] and hook._watch_losses is False


def _family_configs():
    for family in COCO_FAMILIES:
        for path in sorted(
                glob.glob(
                    osp.join(CONFIG_DIR, family, '**', '*.py'),
                    recursive=True)):
            yield osp.relpath(path, CONFIG_DIR)


@pytest.mark.parametrize('name', list(_family_configs()))
def test_coco_configs_list_the_safety_hook(name):
    mmdet_losses.install_mmengine_compat()
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    assert SAFETY_HOOK in cfg.get('custom_hooks', []), name


RESUME_SCRIPT = r'''
import sys
sys.path.insert(0, {here!r})
from mmengine.config import Config
from mmengine.runner import Runner
from stock_runner_configs import write_stock_config

Config.pretty_text = property(lambda cfg: cfg._text or '')
tmp, data_root = sys.argv[1], sys.argv[2]
work = tmp + '/work'


def runner(name, **kwargs):
    path = write_stock_config(f'{{tmp}}/{{name}}.py', data_root, work,
                              **kwargs)
    return Runner.from_cfg(Config.fromfile(path))


runner('first', safety=False).train()
checkpoint = work + '/epoch_1.pth'
import mmdet_losses.utils.compat as compat
print('installed after custom_imports:', compat.is_installed())

plain = runner('plain', safety=False, max_epochs=2, load_from=checkpoint)
try:
    plain.train()
    print('plain resume: ok')
except Exception as error:
    print('plain resume:', type(error).__name__, str(error)[:300])

safe = runner('safe', safety=True, max_epochs=2, load_from=checkpoint)
print('installed after the hook:', compat.is_installed())
safe.train()
print('safe resume: epoch', safe.epoch, 'iter', safe.iter)
'''


@pytest.mark.skipif(
    tuple(int(p) for p in torch.__version__.split('.')[:2]) < (2, 6),
    reason='torch < 2.6 loads checkpoints with weights_only=False')
def test_stock_runner_resumes_an_mmengine_checkpoint_with_the_hook(
        tmp_path, tiny_synthetic_root):
    """In a fresh interpreter: a checkpoint of mmengine's own runner does
    not resume on torch >= 2.6 with mmengine alone (``custom_imports`` of
    this package changes nothing), and does once the safety hook is in the
    config."""
    out = subprocess.run([
        sys.executable, '-c',
        RESUME_SCRIPT.format(here=HERE),
        str(tmp_path), tiny_synthetic_root
    ],
                         cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=ROOT),
                         capture_output=True,
                         text=True,
                         timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    lines = out.stdout.splitlines()
    assert 'installed after custom_imports: False' in lines
    plain = next(line for line in lines if line.startswith('plain resume'))
    assert 'UnpicklingError' in plain, plain
    assert 'Weights only load failed' in plain, plain
    assert 'installed after the hook: True' in lines
    assert 'safe resume: epoch 2 iter 4' in lines
