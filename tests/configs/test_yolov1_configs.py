"""The YOLOv1 VOC and COCO configs build, compute their loss and predict
(quick), and train 2 iterations and evaluate (slow: a ResNet-50 at 448
pixels takes minutes on 2 busy cores).

Neither dataset is on the test machines, so the embedded synthetic shapes
stand in: the configs' own model, pipelines (448 x 448, the paper's
augmentation), optimizer and metric type, with the synthetic images. The
pretrained backbone is not downloaded.
"""
import glob
import os.path as osp

import pytest
import torch
from helpers import config_path
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope

import mmdet_losses
from mmdet_losses.registry import DATASETS, MODELS
from mmdet_losses.utils.runner_setup import build_runner

mmdet_losses.register_all_modules(init_default_scope=False)

CONFIGS = sorted(glob.glob(config_path('yolov1', '*.py')))


def synthetic_dataset(data_root, pipeline, split, num_train, num_val):
    return dict(
        type='SyntheticShapesDataset',
        data_root=data_root,
        generate=dict(num_train=num_train, num_val=num_val),
        ann_file=f'annotations/{split}.json',
        data_prefix=dict(img=f'{split}/'),
        test_mode=split == 'val',
        pipeline=pipeline)


def train_pipeline(cfg):
    train = cfg.train_dataloader.dataset
    while 'datasets' in train or 'dataset' in train:
        train = train['datasets'][0] if 'datasets' in train else \
            train['dataset']
    return train.pipeline


def on_synthetic_data(cfg, data_root, work_dir, num_train=4, num_val=2):
    data_root = data_root.rstrip('/') + '/'
    cfg.train_dataloader.dataset = synthetic_dataset(data_root,
                                                     train_pipeline(cfg),
                                                     'train', num_train,
                                                     num_val)
    cfg.val_dataloader.dataset = synthetic_dataset(
        data_root, cfg.val_dataloader.dataset.pipeline, 'val', num_train,
        num_val)
    cfg.test_dataloader = cfg.val_dataloader
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        loader.batch_size = 2
        loader.num_workers = 0
        loader.persistent_workers = False
    if cfg.val_evaluator.type == 'CocoMetric':
        cfg.val_evaluator.ann_file = data_root + 'annotations/val.json'
    cfg.test_evaluator = cfg.val_evaluator
    cfg.model.bbox_head.num_classes = 4
    cfg.model.backbone.init_cfg = None
    cfg.model.test_cfg.score_thr = 0.0  # an untrained model scores low
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_interval = 1
    cfg.param_scheduler = []
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = 1
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=0)
    return cfg


def test_there_are_voc_and_coco_configs():
    names = [osp.basename(path) for path in CONFIGS]
    assert any('voc0712' in name for name in names), names
    assert any('coco' in name for name in names), names


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_model_and_pipelines_on_one_image(path, tiny_synthetic_root):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmdet_losses'
    head_cfg = cfg.model.bbox_head
    assert (head_cfg.grid_size, head_cfg.num_boxes) == (7, 2)
    assert head_cfg.num_classes == (20 if 'voc' in path else 80)
    assert cfg.train_cfg.max_epochs == 135
    cfg.model.backbone.init_cfg = None
    root = tiny_synthetic_root.rstrip('/') + '/'
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
        train = DATASETS.build(
            synthetic_dataset(root, train_pipeline(cfg), 'train', 4, 2))
        val = DATASETS.build(
            synthetic_dataset(root, cfg.val_dataloader.dataset.pipeline, 'val',
                              4, 2))

    model.train()
    data = model.data_preprocessor(pseudo_collate([train[0]]), True)
    assert data['inputs'].shape == (1, 3, 448, 448)
    losses = model(**data, mode='loss')
    assert set(losses) == {
        'loss_xy', 'loss_wh', 'loss_conf_obj', 'loss_conf_noobj', 'loss_cls'
    }
    sum(losses.values()).backward()
    head = model.bbox_head
    assert torch.isfinite(head.pred.weight.grad).all()
    assert head.pred.weight.grad.abs().sum() > 0

    model.eval()
    head.test_cfg.score_thr = 0.0
    with torch.no_grad():
        data = model.data_preprocessor(pseudo_collate([val[0]]), False)
        raw, = head(model.extract_feat(data['inputs']))
        result, = head.predict_by_feat(
            raw, [s.metainfo for s in data['data_samples']], rescale=True)
    assert raw.shape == (1, 2 * 5 + head_cfg.num_classes, 7, 7)
    boxes = result.bboxes
    assert len(boxes) > 0
    # rescaled to the 256 x 256 original image
    assert (boxes >= 0).all() and (boxes <= 256).all()


@pytest.mark.slow
@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_trains_two_iterations_at_448_and_evaluates(
        path, tmp_path, tiny_synthetic_root):
    cfg = on_synthetic_data(
        Config.fromfile(path), tiny_synthetic_root, str(tmp_path / 'work'))
    runner = build_runner(cfg)
    shapes = []
    head = runner.model.bbox_head
    original = head.loss_by_feat

    def recording(pred_map, *args, **kwargs):
        shapes.append((tuple(pred_map.shape), args[1][0]['batch_input_shape']))
        return original(pred_map, *args, **kwargs)

    head.loss_by_feat = recording
    runner.train()
    assert runner.iter == 2
    # 448 x 448 input, stride 32, pooled to the 7 x 7 grid of B * 5 + C
    assert shapes == [((2, 2 * 5 + 4, 7, 7), (448, 448))] * 2
    metrics = runner.val_loop.run()
    assert any(key.endswith('mAP') for key in metrics), metrics
    assert all(torch.isfinite(torch.tensor(v)) for v in metrics.values())


def test_the_pretrained_backbone_resolves_without_torchvision():
    from mmengine.runner.checkpoint import get_mmcls_models
    cfg = Config.fromfile(CONFIGS[0])
    checkpoint = cfg.model.backbone.init_cfg.checkpoint
    assert checkpoint.startswith('mmcls://')
    assert checkpoint[len('mmcls://'):] in get_mmcls_models()
