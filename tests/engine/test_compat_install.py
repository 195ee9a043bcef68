"""When this package's fixes to mmengine (utils/compat.py) are installed:
never on import, including the imports a config's ``custom_imports`` and a
``type='mmdet_losses.X'`` lookup make; always by the explicit entry points.
Each case runs in a fresh interpreter, since the install is process-wide."""
import os
import subprocess
import sys

import pytest
import torch
from helpers import ROOT, config_path

QUICKSTART = config_path('quickstart', 'gfl_r18_fpn_qfl-dfl-ciou_synthetic.py')

NEW_TORCH = tuple(int(p) for p in torch.__version__.split('.')[:2]) >= (2, 6)


def _run(script: str, *args: str) -> list:
    out = subprocess.run([sys.executable, '-c', script, *args],
                         cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=ROOT),
                         capture_output=True,
                         text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    # mmengine logs to stdout too: keep the script's own lines
    return [
        line[3:] for line in out.stdout.splitlines() if line.startswith('>> ')
    ]


IMPORTS_AND_LOOKUPS = r'''
import sys
import torch
from mmengine.logging import MessageHub
from mmengine.runner.checkpoint import _load_checkpoint, save_checkpoint
from mmengine.utils import import_modules_from_strings

import mmdet_losses.utils.compat as compat

# what mmengine's own Runner stores: HistoryBuffers holding numpy values
hub = MessageHub.get_instance('test')
hub.update_scalar('train/loss', 0.5)
hub.update_info('iter', 3)
path = sys.argv[1]
save_checkpoint({'state_dict': {'w': torch.ones(2)},
                 'message_hub': hub.state_dict()}, path)

# a config's custom_imports, then a scoped type lookup under mmdet's scope
import_modules_from_strings(['mmdet_losses', 'mmdet_losses.registry',
                             'mmdet_losses.models', 'mmdet_losses.engine'])
from mmdet.registry import MODELS
from mmengine.registry import DefaultScope
with DefaultScope.overwrite_default_scope('mmdet'):
    loss = MODELS.build(dict(type='mmdet_losses.CIoULoss'))
print('>> built', type(loss).__module__)
print('>> installed after imports:', compat.is_installed())
try:
    _load_checkpoint(path)
    print('>> load before install: ok')
except Exception as error:
    print('>> load before install:', type(error).__name__)

import mmdet_losses
mmdet_losses.install_mmengine_compat()
print('>> installed after the call:', compat.is_installed())
checkpoint = _load_checkpoint(path)
buffer = checkpoint['message_hub']['log_scalars']['train/loss']
print('>> loaded', type(buffer).__name__, buffer.current())
'''


def test_imports_patch_nothing_and_the_install_makes_resume_load(tmp_path):
    lines = _run(IMPORTS_AND_LOOKUPS, str(tmp_path / 'epoch_1.pth'))
    assert lines[0] == 'built mmdet_losses.models.losses.iou'
    assert lines[1] == 'installed after imports: False'
    if NEW_TORCH:
        # mmengine 0.10.7 alone: torch's weights_only default refuses it
        assert lines[2] == 'load before install: UnpicklingError'
    assert lines[3] == 'installed after the call: True'
    assert lines[4] == 'loaded HistoryBuffer 0.5'


ENTRY_POINT = r'''
import sys
import mmdet_losses.utils.compat as compat
print('>> before:', compat.is_installed())
entry, config, work_dir = sys.argv[1:4]
if entry == 'register_all_modules':
    import mmdet_losses
    mmdet_losses.register_all_modules(init_default_scope=False)
elif entry == 'Runner':
    from mmengine.config import Config
    from mmdet_losses.engine.runner import Runner
    cfg = Config.fromfile(config)
    cfg.work_dir = work_dir
    Runner.from_cfg(cfg)
elif entry == 'LossSafetyHook':
    from mmengine.registry import HOOKS, DefaultScope
    with DefaultScope.overwrite_default_scope('mmdet'):
        HOOKS.build(dict(type='mmdet_losses.LossSafetyHook'))
elif entry == 'load_config':
    from mmdet_losses.utils.runner_setup import load_config
    load_config(config, work_dir=work_dir)
print('>> after:', compat.is_installed())
'''


@pytest.mark.parametrize(
    'entry',
    ['register_all_modules', 'Runner', 'LossSafetyHook', 'load_config'])
def test_each_entry_point_installs(tmp_path, entry):
    lines = _run(ENTRY_POINT, entry, QUICKSTART, str(tmp_path / 'work'))
    assert lines[0] == 'before: False'
    assert lines[-1] == 'after: True'
