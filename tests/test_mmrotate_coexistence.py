"""mmrotate and mmdet_losses load in one process, in either order, register
no name twice, and an mmrotate rotated RetinaNet config builds with
``type='mmdet_losses.PIoULoss'``."""
import subprocess
import sys

import pytest
from helpers import ROOT

# every registry mmrotate fills: none of its names may be registered again
# by this package (a box type registered twice raises in mmdet)
REGISTRIES = ('MODELS', 'TASK_UTILS', 'DATASETS', 'TRANSFORMS', 'METRICS',
              'VISUALIZERS', 'HOOKS')


def run(code: str) -> str:
    result = subprocess.run([sys.executable, '-c', code],
                            cwd=ROOT,
                            capture_output=True,
                            text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.parametrize('first', ['mmrotate', 'mmdet_losses'])
def test_both_register_everything_in_one_process(first):
    mmrotate = ('from mmrotate.utils import register_all_modules as r; '
                'r(init_default_scope=False)')
    ours = ('import mmdet_losses; '
            'mmdet_losses.register_all_modules(init_default_scope=False)')
    steps = [mmrotate, ours] if first == 'mmrotate' else [ours, mmrotate]
    names = '; '.join(f'import mmrotate.registry as R; '
                      f'import mmdet_losses.registry as O; '
                      f'print("{name}", sorted(set(R.{name}.module_dict) & '
                      f'set(O.{name}.module_dict)))' for name in REGISTRIES)
    out = run('; '.join(steps) + '; ' + names)
    for line in out.strip().splitlines():
        registry, shared = line.split(' ', 1)
        assert shared == '[]', f'{registry} names registered twice: {shared}'
    assert len(out.strip().splitlines()) == len(REGISTRIES)


def test_mmrotate_config_builds_with_our_loss():
    out = run("""
import mmrotate, mmdet_losses
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmrotate.registry import MODELS
from mmrotate.utils import register_all_modules
register_all_modules()
cfg = Config.fromfile(
    'configs/rotated_retinanet/'
    'rotated-retinanet-rbox-le90_r50_fpn_piou_1x_dota.py')
assert cfg.default_scope == 'mmrotate'
cfg.model.backbone.init_cfg = None
model = MODELS.build(cfg.model)
print(type(model.bbox_head).__module__, type(model.bbox_head.loss_bbox))
""")
    head, loss = out.split(' ', 1)
    assert head.startswith('mmdet.models.dense_heads')  # mmrotate's setting
    assert 'mmdet_losses.models.losses.piou_loss.PIoULoss' in loss
