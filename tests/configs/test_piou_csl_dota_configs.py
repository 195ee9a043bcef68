"""The PIoU and CSL DOTA configs build their models, train 2 iterations
and evaluate, on CPU.

DOTA is not needed: each config's data is swapped for the tiny embedded
synthetic rotated dataset (DOTA format, 4 classes, 128 px), its backbone
for a ResNet-18 without pretrained weights and its widths for 32 channels.
The head type, box and angle coders, losses, assigner and test_cfg (rotated
NMS) stay the config's own: that wiring is under test. (The quickstart
configs are covered by test_quickstart_configs.py.)
"""
import copy

import pytest
import torch
from helpers import config_path, shrink_config
from mmengine.config import Config

import mmdet_losses
from mmdet_losses.functional.csl import csl_decode
from mmdet_losses.models.losses.piou_loss import PIoULoss
from mmdet_losses.models.task_modules.coders.angle_coder import CSLCoder
from mmdet_losses.utils.runner_setup import build_runner, load_config

mmdet_losses.register_all_modules(init_default_scope=False)

CONFIGS = {
    'rotated_retinanet/rotated-retinanet-rbox-le90_r50_fpn_piou_1x_dota.py':
    'piou',
    'rotated_fcos/rotated-fcos-le90_r50_fpn_piou_1x_dota.py':
    'piou',
    'rotated_retinanet/'
    'rotated-retinanet-rbox-le90_r50_fpn_csl-gaussian_1x_dota.py':
    'csl',
    'rotated_fcos/rotated-fcos-le90_r50_fpn_csl-gaussian_1x_dota.py':
    'csl',
}
SYNTHETIC = config_path('_base_', 'datasets', 'synthetic_rotated.py')
WIDTH = 32
SIZE = 128


@pytest.fixture(autouse=True)
def cheap_runs(monkeypatch):
    """Keep the config's own text in the logs (formatting it with yapf
    costs a second), and one thread: convolutions this small gain nothing
    from a second one."""
    monkeypatch.setattr(Config, 'pretty_text',
                        property(lambda cfg: cfg._text or ''))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def on_synthetic_rotated(cfg: Config, data_root: str, work_dir: str) -> Config:
    synthetic = Config.fromfile(SYNTHETIC)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader',
                'val_evaluator', 'test_evaluator'):
        cfg[key] = copy.deepcopy(synthetic[key])
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        for step in cfg[loader].dataset.pipeline:
            if step.type == 'Resize':
                step.scale = (SIZE, SIZE)
    model = cfg.model
    model.backbone.update(depth=18, init_cfg=None)
    model.neck.update(in_channels=[64, 128, 256, 512], out_channels=WIDTH)
    model.bbox_head.update(
        num_classes=4, in_channels=WIDTH, feat_channels=WIDTH, stacked_convs=1)
    cfg = shrink_config(cfg, work_dir, data_root)
    cfg.default_hooks.checkpoint.update(interval=-1, save_last=False)
    return cfg


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_config_trains_two_iterations_and_evaluates(name, tmp_path,
                                                    tiny_synthetic_root):
    cfg = on_synthetic_rotated(
        load_config(config_path(name)), tiny_synthetic_root,
        str(tmp_path / 'work'))
    runner = build_runner(cfg)
    head = runner.model.bbox_head
    if CONFIGS[name] == 'piou':
        assert isinstance(head.loss_bbox, PIoULoss)
        # PIoU needs boxes, not deltas (FCOS decodes its own)
        assert getattr(head, 'reg_decoded_bbox', True)
    else:
        assert isinstance(head.angle_coder, CSLCoder)
        assert head.loss_angle is not None
    runner.train()
    assert runner.iter == 2
    metrics = runner.val_loop.run()
    assert any(key.endswith('mAP') for key in metrics), metrics


def test_csl_retinanet_predicts_the_angle_of_its_best_bin():
    """The CSL head's boxes take their angle from the angle branch: the
    centre of the highest-scoring bin."""
    cfg = load_config(
        config_path(
            'rotated_retinanet',
            'rotated-retinanet-rbox-le90_r50_fpn_csl-gaussian_1x_'
            'dota.py'))
    cfg.model.backbone.update(depth=18, init_cfg=None)
    from mmdet_losses.registry import MODELS
    head_cfg = cfg.model.bbox_head
    head_cfg.update(
        num_classes=2, in_channels=WIDTH, feat_channels=WIDTH, stacked_convs=1)
    head = MODELS.build(head_cfg)
    coder = head.angle_coder
    scores = torch.randn(5, coder.encoded_size)
    start, length = coder.angle_range
    torch.testing.assert_close(
        head.decode_angle(scores), csl_decode(scores, start, length))
