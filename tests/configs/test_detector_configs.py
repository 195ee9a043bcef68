"""Every detector config of configs/{retinanet,fcos,atss,gfl,bccd} builds its
model with this package's losses, trains 2 iterations and evaluates, on CPU.

COCO and BCCD are not needed: each config's data is swapped for the tiny
embedded synthetic dataset (4 classes), its backbone for a ResNet-18 without
pretrained weights and its widths for 32 channels. The head type, its
losses, assigner, coder and test_cfg (NMS included) stay the config's own:
that wiring is what is under test. BCCD itself is tested on a few of its
images where the data is present.
"""
import copy
import glob
import os.path as osp
import warnings

import pytest
import torch
from helpers import CONFIG_DIR, ROOT, config_path, shrink_config
from mmengine.config import Config

import mmdet_losses
from mmdet_losses.registry import MODELS
from mmdet_losses.utils.runner_setup import build_runner, load_config

mmdet_losses.register_all_modules(init_default_scope=False)

FAMILIES = ('retinanet', 'fcos', 'atss', 'gfl', 'bccd')
CONFIGS = sorted(
    path for family in FAMILIES
    for path in glob.glob(config_path(family, '**', '*.py'), recursive=True)
    if '_base_' not in path.split(osp.sep))
SYNTHETIC = config_path('_base_', 'datasets', 'synthetic_shapes.py')
WIDTH = 32


def config_id(path: str) -> str:
    return osp.relpath(path, CONFIG_DIR)


def heads(model_cfg):
    """The head configs of a detector config."""
    for key in ('bbox_head', 'rpn_head'):
        if model_cfg.get(key):
            yield model_cfg[key]


def shrink_model(cfg: Config) -> None:
    """A ResNet-18 / 32-channel version of the config's detector, with the
    synthetic dataset's 4 classes and its own head type, losses, assigner,
    coder and test_cfg."""
    model = cfg.model
    model.backbone.update(depth=18, init_cfg=None)
    base = model.backbone.get('base_channels', 64)
    out_indices = model.backbone.get('out_indices', (0, 1, 2, 3))
    model.neck.update(
        in_channels=[base * 2**i for i in out_indices], out_channels=WIDTH)
    for head in heads(model):
        head.update(
            num_classes=4,
            in_channels=WIDTH,
            feat_channels=WIDTH,
            stacked_convs=1)
        if head.get('norm_cfg', {}).get('type') == 'GN':
            head.norm_cfg.num_groups = 8


def on_synthetic_data(cfg: Config, data_root: str, work_dir: str) -> Config:
    """``cfg`` with the synthetic dataset's loaders and metric at 64 px, no
    checkpoint."""
    synthetic = Config.fromfile(SYNTHETIC)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader',
                'val_evaluator', 'test_evaluator'):
        cfg[key] = copy.deepcopy(synthetic[key])
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        for step in cfg[loader].dataset.pipeline:
            if step.type == 'Resize':
                step.scale = (64, 64)
    shrink_model(cfg)
    cfg = shrink_config(cfg, work_dir, data_root)
    cfg.default_hooks.checkpoint.update(interval=-1, save_last=False)
    return cfg


@pytest.fixture(autouse=True)
def cheap_runs(monkeypatch):
    """The runner logs and dumps its config formatted by yapf, a second of
    CPU per config: keep the file's own text instead. Convolutions this
    small run no faster on two threads, and a second thread only spins
    when the cores are busy."""
    monkeypatch.setattr(Config, 'pretty_text',
                        property(lambda cfg: cfg._text or ''))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_every_family_has_configs():
    found = {config_id(path).split(osp.sep)[0] for path in CONFIGS}
    assert found == set(FAMILIES)


@pytest.mark.parametrize('path', CONFIGS, ids=config_id)
def test_config_trains_two_iterations_and_evaluates(path, tmp_path,
                                                    tiny_synthetic_root):
    cfg = on_synthetic_data(
        load_config(path), tiny_synthetic_root, str(tmp_path / 'work'))
    runner = build_runner(cfg)
    runner.train()
    assert runner.iter == 2
    metrics = runner.val_loop.run()
    assert 'coco/bbox_mAP' in metrics, metrics


def loss_modules(head):
    return {
        name: module
        for name, module in head.named_children() if name.startswith('loss_')
    }


@pytest.mark.parametrize('path', CONFIGS, ids=config_id)
def test_losses_resolve_to_this_package(path):
    """The configs inherit mmdet's, whose dicts mmengine tags with mmdet's
    scope; the losses must still be this package's."""
    cfg = load_config(path)
    shrink_model(cfg)
    model = MODELS.build(cfg.model)
    losses = loss_modules(model.bbox_head)
    assert {'loss_cls', 'loss_bbox'} <= set(losses)
    for name, loss in losses.items():
        assert type(loss).__module__.startswith('mmdet_losses.'), (
            f'{name} of {config_id(path)} is {type(loss).__module__}.'
            f'{type(loss).__name__}')


BCCD_CONFIG = config_path('bccd', 'gfl_r18_fpn_bccd.py')


def bccd_root() -> str:
    """The data root the BCCD configs resolve, from the repository root."""
    cfg = load_config(BCCD_CONFIG)
    root = cfg.train_dataloader.dataset.data_root
    return root if osp.isabs(root) else osp.normpath(osp.join(ROOT, root))


needs_bccd = pytest.mark.skipif(
    not osp.isdir(bccd_root()),
    reason=f'BCCD not found at {bccd_root()} (set BCCD_ROOT to its '
    'BCCD/ folder)')


@needs_bccd
def test_bccd_splits_load_without_the_two_point_boxes():
    from mmengine.registry import DefaultScope

    from mmdet_losses.registry import DATASETS
    cfg = load_config(BCCD_CONFIG)
    sizes, skipped = {}, []
    with DefaultScope.overwrite_default_scope('mmdet_losses'):
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader'):
            dataset_cfg = dict(cfg[loader].dataset, data_root=bccd_root())
            with warnings.catch_warnings(record=True) as warned:
                warnings.simplefilter('always')
                dataset = DATASETS.build(dataset_cfg)
                dataset.full_init()
            skipped += [
                str(w.message) for w in warned if 'skipped' in str(w.message)
            ]
            sizes[loader] = len(dataset)
    assert sizes == dict(
        train_dataloader=205, val_dataloader=87, test_dataloader=72)
    assert len(skipped) == 2
    assert 'BloodImage_00343.xml' in skipped[0]
    assert 'BloodImage_00338.xml' in skipped[1]


@needs_bccd
def test_bccd_config_trains_and_evaluates_on_real_images(tmp_path):
    """Four BCCD training images, two validation images, at 160 x 120: the
    VOC annotations reach CocoMetric through the 'instances' meta key."""
    cfg = load_config(BCCD_CONFIG, work_dir=str(tmp_path / 'work'))
    for loader, count in (('train_dataloader', 4), ('val_dataloader', 2)):
        cfg[loader].update(
            batch_size=2, num_workers=0, persistent_workers=False)
        cfg[loader].dataset.update(data_root=bccd_root(), indices=count)
        for step in cfg[loader].dataset.pipeline:
            if step.type == 'Resize':
                step.scale = (160, 120)
    cfg.train_cfg.update(max_epochs=1, val_interval=1)
    cfg.default_hooks.checkpoint.update(interval=-1, save_last=False)
    cfg.model.test_cfg.score_thr = 0.0
    runner = build_runner(cfg)
    runner.train()
    assert runner.iter == 2
    metrics = runner.val_loop.run()
    assert {'coco/bbox_mAP', 'coco/bbox_mAP_50',
            'coco/bbox_mAP_75'} <= set(metrics)
