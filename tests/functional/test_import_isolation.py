"""``mmdet_losses`` and ``mmdet_losses.functional`` import with torch alone
and change nothing in mmengine: each case runs in a fresh interpreter."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

BLOCKED = r'''
import importlib.abc
import sys


class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('mmdet', 'mmcv', 'mmengine'):
            raise ImportError(f'{name} is blocked')
        return None


sys.meta_path.insert(0, Block())
'''

IMPORT = r'''
import sys

import torch

import mmdet_losses
import mmdet_losses.functional as F

boxes = torch.tensor([[0., 0., 2., 2.]])
assert F.giou_loss(boxes, boxes).item() == 0
loaded = sorted(m for m in sys.modules
                if m.split('.')[0] in ('mmdet', 'mmcv', 'mmengine'))
assert not loaded, loaded
print('ok')
'''

# what utils.compat replaces in mmengine, read after the imports above
MMENGINE_STATE = r'''
import mmengine.config.config as config_module
from mmengine.config.utils import MODULE2PACKAGE
from mmengine.fileio.backends import LocalBackend
from mmengine.fileio.backends.registry_utils import (backends,
                                                     prefix_to_backends)
from mmengine.runner.checkpoint import CheckpointLoader, load_from_local


def state():
    return dict(
        config_package='mmdet_losses' in MODULE2PACKAGE,
        config_path=hasattr(config_module.get_installed_path,
                            '_mmdet_losses'),
        loader=CheckpointLoader._schemes[''] is not load_from_local,
        backend=backends['local'] is not LocalBackend,
        prefix=prefix_to_backends[''] is not LocalBackend)


print('after import', sorted(k for k, v in state().items() if v))
mmdet_losses.install_mmengine_compat()
print('after install', sorted(k for k, v in state().items() if v))
'''


def _run(script: str) -> str:
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, '-c', script],
                         cwd=ROOT,
                         env=env,
                         capture_output=True,
                         text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_functional_imports_without_openmmlab():
    assert _run(BLOCKED + IMPORT).strip() == 'ok'


def test_imports_load_and_patch_nothing_where_openmmlab_is_installed():
    """With mmengine installed, the imports still load none of it; what
    install_mmengine_compat() changes is unchanged until it is called."""
    pytest.importorskip('mmengine')
    lines = _run(IMPORT + MMENGINE_STATE).splitlines()
    assert lines[0] == 'ok'
    assert lines[1] == 'after import []'
    assert lines[2] == ('after install [\'backend\', \'config_package\', '
                        '\'config_path\', \'loader\', \'prefix\']')
