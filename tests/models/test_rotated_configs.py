"""The rotated RetinaNet and FCOS DOTA configs build their models, train 2
iterations and evaluate, on CPU (their PIoU and CSL variants: in
tests/configs/test_piou_csl_dota_configs.py).

DOTA is not needed: each config's data is swapped for the tiny synthetic
rotated dataset (4 classes, DOTA format), its backbone for a ResNet-18
without pretrained weights and its widths for 32 channels. The head type,
its coder, losses, assigner and test_cfg (rotated NMS included) stay the
config's own: that wiring is what is under test. The DOTA pipelines are
checked on their own against a DOTA-format directory.
"""
import copy
import os.path as osp

import pytest
import torch
from helpers import CONFIG_DIR, config_path, shrink_config
from mmengine.config import Config
from mmengine.registry import DefaultScope

import mmdet_losses
from mmdet_losses.registry import DATASETS
from mmdet_losses.utils.runner_setup import build_runner, load_config

mmdet_losses.register_all_modules(init_default_scope=False)

CONFIGS = [
    config_path('rotated_retinanet',
                'rotated-retinanet-rbox-le90_r50_fpn_1x_dota.py'),
    config_path('rotated_fcos', 'rotated-fcos-le90_r50_fpn_1x_dota.py'),
]
SYNTHETIC = config_path('_base_', 'datasets', 'synthetic_rotated.py')
DOTA = config_path('_base_', 'datasets', 'dota.py')
WIDTH = 32


@pytest.fixture(autouse=True)
def cheap_runs(monkeypatch):
    """Keep the config's own text instead of a yapf-formatted dump, and run
    these small convolutions on one thread (a second one only spins when
    the cores are busy)."""
    monkeypatch.setattr(Config, 'pretty_text',
                        property(lambda cfg: cfg._text or ''))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def on_synthetic_data(cfg: Config, data_root: str, work_dir: str) -> Config:
    synthetic = Config.fromfile(SYNTHETIC)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader',
                'val_evaluator', 'test_evaluator'):
        cfg[key] = copy.deepcopy(synthetic[key])
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        for step in cfg[loader].dataset.pipeline:
            if step.type == 'Resize':
                step.scale = (128, 128)
    model = cfg.model
    model.backbone.update(depth=18, init_cfg=None)
    model.neck.update(in_channels=[64, 128, 256, 512], out_channels=WIDTH)
    model.bbox_head.update(
        num_classes=4, in_channels=WIDTH, feat_channels=WIDTH, stacked_convs=1)
    if model.bbox_head.get('norm_cfg', {}).get('type') == 'GN':
        model.bbox_head.norm_cfg.num_groups = 8
    cfg = shrink_config(cfg, work_dir, data_root)
    cfg.default_hooks.checkpoint.update(interval=-1, save_last=False)
    return cfg


@pytest.mark.parametrize(
    'path', CONFIGS, ids=lambda p: osp.relpath(p, CONFIG_DIR))
def test_config_trains_two_iterations_and_evaluates(path, tmp_path,
                                                    tiny_synthetic_root):
    cfg = load_config(path)
    assert cfg.model.data_preprocessor.boxtype2tensor is False
    assert cfg.model.test_cfg.nms.type == 'nms_rotated'
    cfg = on_synthetic_data(cfg, tiny_synthetic_root, str(tmp_path / 'work'))
    runner = build_runner(cfg)
    runner.train()
    assert runner.iter == 2
    metrics = runner.val_loop.run()
    assert 'dota/mAP' in metrics, metrics


def test_dota_pipelines_read_a_dota_directory(tmp_path):
    """The DOTA dataset config on a DOTA-format directory: rotated boxes at
    1024 px for training, original-scale boxes for evaluation."""
    import cv2
    import numpy as np
    for split in ('trainval', 'val'):
        (tmp_path / split / 'images').mkdir(parents=True)
        (tmp_path / split / 'annfiles').mkdir()
        cv2.imwrite(
            str(tmp_path / split / 'images' / 'P0__1__0___0.png'),
            np.zeros((512, 512, 3), np.uint8))
        (tmp_path / split / 'annfiles' / 'P0__1__0___0.txt').write_text(
            '10 10 110 10 110 60 10 60 plane 0\n'
            '200 200 260 220 250 250 190 230 ship 1\n')
    cfg = Config.fromfile(DOTA)
    with DefaultScope.overwrite_default_scope('mmdet_losses'):
        train = DATASETS.build(
            dict(cfg.train_dataloader.dataset, data_root=str(tmp_path) + '/'))
        sample = train[0]['data_samples']
        assert sample.gt_instances.bboxes.tensor.shape == (2, 5)
        # resized from 512 to 1024: the 100 x 50 plane doubles
        plane = sample.gt_instances.bboxes.tensor[0]
        assert sorted(plane[2:4].tolist()) == pytest.approx([100., 200.],
                                                            abs=1e-3)
        val = DATASETS.build(
            dict(cfg.val_dataloader.dataset, data_root=str(tmp_path) + '/'))
        sample = val[0]['data_samples']
        assert len(sample.gt_instances) == 1  # the ship is difficult
        assert len(sample.ignored_instances) == 1
        assert sample.gt_instances.bboxes.tensor[0, 2] == pytest.approx(100)
