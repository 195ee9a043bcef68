"""``mmdet_losses`` and ``mmdet_losses.functional`` import with torch alone:
run in a fresh interpreter where mmdet, mmcv and mmengine cannot be
imported."""
import os
import subprocess
import sys

ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = r'''
import importlib.abc
import sys


class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('mmdet', 'mmcv', 'mmengine'):
            raise ImportError(f'{name} is blocked')
        return None


sys.meta_path.insert(0, Block())
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


def test_functional_imports_without_openmmlab():
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, '-c', SCRIPT],
                         cwd=ROOT,
                         env=env,
                         capture_output=True,
                         text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == 'ok'
