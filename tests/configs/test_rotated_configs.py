"""The rotated DOTA configs are mmrotate's own, changed only where this package
plugs in (a loss, the IoU calculator), and they build and train inside
mmrotate: mmengine's plain Runner, mmrotate's default scope, mmrotate and
mmdet_losses in one process.

DOTA is not needed: each DOTA config's data is swapped for the tiny
embedded synthetic rotated dataset (DOTA format, 4 classes, 128 px), its
backbone for a ResNet-18 without pretrained weights and its widths for 32
channels. The head, coders, losses, assigner and test_cfg (rotated NMS)
stay the config's own: that wiring is under test. (The rotated quickstarts
train in test_quickstart_configs.py.)
"""
import copy
import os.path as osp

import pytest
import torch
from helpers import config_path
from mmengine.config import Config
from mmengine.runner import Runner

DOTA_CONFIGS = {
    # ours: (mmrotate's config it changes, the keys it may change)
    'rotated_retinanet/rotated-retinanet-rbox-le90_r50_fpn_piou_1x_dota.py':
    ('rotated_retinanet/rotated-retinanet-rbox-le90_r50_fpn_1x_dota.py',
     {'bbox_head.loss_bbox', 'bbox_head.reg_decoded_bbox'}),
    'rotated_retinanet/'
    'rotated-retinanet-rbox-le90_r50_fpn_pruned-iou_1x_dota.py':
    ('rotated_retinanet/rotated-retinanet-rbox-le90_r50_fpn_1x_dota.py',
     {'train_cfg.assigner.iou_calculator'}),
    'rotated_retinanet/rotated-retinanet-rbox-le90_r50_fpn_qfl_1x_dota.py':
    ('rotated_retinanet/rotated-retinanet-rbox-le90_r50_fpn_1x_dota.py',
     {'bbox_head.type', 'bbox_head.loss_cls'}),
    'rotated_retinanet/'
    'rotated-retinanet-rbox-le90_r50_fpn_csl-gaussian_amp-1x_dota.py':
    ('csl/rotated-retinanet-rbox-le90_r50_fpn_csl-gaussian_amp-1x_dota.py',
     {'bbox_head.angle_coder.type'}),
    'rotated_fcos/rotated-fcos-le90_r50_fpn_piou_1x_dota.py':
    ('rotated_fcos/rotated-fcos-le90_r50_fpn_1x_dota.py',
     {'bbox_head.loss_bbox'}),
    'rotated_fcos/rotated-fcos-hbox-le90_r50_fpn_csl-gaussian_1x_dota.py':
    ('rotated_fcos/rotated-fcos-hbox-le90_r50_fpn_csl-gaussian_1x_dota.py',
     {'bbox_head.angle_coder.type'}),
    'rotated_fcos/rotated-fcos-hbox-le90_r50_fpn_ciou_1x_dota.py':
    ('rotated_fcos/rotated-fcos-hbox-le90_r50_fpn_1x_dota.py',
     {'bbox_head.loss_bbox'}),
    'rotated_fcos/rotated-fcos-le90_r50_fpn_polygon-iou_1x_dota.py':
    ('rotated_fcos/rotated-fcos-le90_r50_fpn_1x_dota.py',
     {'bbox_head.loss_bbox'}),
}
WIDTH = 32
SIZE = 128


@pytest.fixture(autouse=True)
def one_thread():
    """Convolutions this small gain nothing from a second thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def mmrotate_config(name: str) -> str:
    import mmrotate
    return osp.join(
        osp.dirname(mmrotate.__file__), '.mim', 'configs', *name.split('/'))


def unscoped(value):
    """A config without the ``_scope_`` keys mmengine adds to what a config
    inherits from another package's."""
    if isinstance(value, dict):
        return {k: unscoped(v) for k, v in value.items() if k != '_scope_'}
    if isinstance(value, (list, tuple)):
        return type(value)(unscoped(v) for v in value)
    return value


def differences(a, b, prefix=''):
    """Dotted keys where two nested config dicts differ."""
    keys = set(a) | set(b)
    out = set()
    for key in keys:
        name = f'{prefix}{key}'
        if isinstance(a.get(key), dict) and isinstance(b.get(key), dict):
            out |= differences(a[key], b[key], name + '.')
        elif a.get(key) != b.get(key):
            out.add(name)
    return out


@pytest.mark.parametrize('ours', sorted(DOTA_CONFIGS))
def test_dota_config_changes_only_the_plugged_part(ours):
    theirs, allowed = DOTA_CONFIGS[ours]
    cfg = Config.fromfile(config_path(*ours.split('/')))
    base = Config.fromfile(mmrotate_config(theirs))
    assert cfg.model._scope_ == 'mmrotate'
    ours_dict, theirs_dict = unscoped(cfg.to_dict()), base.to_dict()
    changed = differences(ours_dict['model'], theirs_dict['model'])
    assert changed, 'nothing plugged in'
    for key in changed:
        assert key.startswith(tuple(allowed)), key
    assert cfg.default_scope == 'mmrotate'
    for key in ('train_dataloader', 'val_dataloader', 'param_scheduler',
                'optim_wrapper', 'train_cfg', 'val_evaluator'):
        assert ours_dict[key] == theirs_dict[key], key
    # mmrotate's lr is for 1 GPU x 2 images: --auto-scale-lr scales it
    assert cfg.auto_scale_lr.base_batch_size == 2


def tiny(cfg: Config, data_root: str, work_dir: str) -> Config:
    """Train 2 iterations of batch 2 on 4 synthetic images, validate on 2."""
    generate = dict(num_train=4, num_val=2, img_size=SIZE, seed=0)
    for name, split in (('train_dataloader', 'train'),
                        ('val_dataloader', 'val'), ('test_dataloader', 'val')):
        loader = copy.deepcopy(cfg[name])
        loader.update(batch_size=2, num_workers=0, persistent_workers=False)
        loader.dataset.update(
            type='mmdet_losses.SyntheticDOTADataset',
            data_root=data_root,
            generate=generate,
            ann_file=f'{split}/labelTxt/',
            data_prefix=dict(img_path=f'{split}/images/'))
        for step in loader.dataset.pipeline:
            if step.type == 'mmdet.Resize':
                step.scale = (SIZE, SIZE)
        cfg[name] = loader
    cfg.train_cfg.update(max_epochs=1, val_interval=1)
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.update(interval=-1, save_last=False)
    cfg.model.test_cfg.update(score_thr=0.0, nms_pre=100)
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=0)
    return cfg


def small_r50_config(cfg: Config) -> Config:
    model = cfg.model
    model.backbone.update(depth=18, init_cfg=None)
    model.neck.update(in_channels=[64, 128, 256, 512], out_channels=WIDTH)
    model.bbox_head.update(
        num_classes=4, in_channels=WIDTH, feat_channels=WIDTH, stacked_convs=1)
    return cfg


@pytest.mark.parametrize('name', sorted(DOTA_CONFIGS))
def test_config_trains_inside_mmrotate(name, tmp_path):
    cfg = small_r50_config(Config.fromfile(config_path(*name.split('/'))))
    cfg = tiny(cfg, str(tmp_path / 'data') + '/', str(tmp_path / 'work'))
    if cfg.optim_wrapper.type == 'AmpOptimWrapper':
        # mmengine's asserts an accelerator; this package's runs on a CPU
        cfg.optim_wrapper.type = 'mmdet_losses.AmpOptimWrapper'
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
    metrics = runner.val_loop.run()
    assert 'dota/mAP' in metrics, metrics
    # the mmdet_losses parts are the ones built
    head = runner.model.bbox_head
    loss = type(head.loss_bbox).__module__
    plugged = any(loss in name for loss in ('piou', 'polygon', 'ciou'))
    assert loss.startswith('mmdet_losses') == plugged, loss
    if 'qfl' in name:
        assert type(head).__name__ == 'RetinaQFLHead'
        assert type(head.loss_cls).__name__ == 'QualityFocalLoss'
    if 'csl' in name:
        coder = head.angle_coder
        assert type(coder).__name__ == 'CircularSmoothLabelCoder'
        # the paper's label: 1 at the target bin (mmrotate's: all zero)
        label = coder.encode(torch.tensor([[0.3]]))
        assert label.max().item() == 1.0
    if 'pruned' in name:
        calculator = head.assigner.iou_calculator
        assert type(calculator).__name__ == 'PrunedRBboxOverlaps2D'
