"""Wrong config combinations fail (or warn) when the runner builds the
model."""
import pytest
from helpers import config_path, shrink_config
from mmengine.config import Config

import mmdet_losses
from mmdet_losses.utils.runner_setup import build_runner

mmdet_losses.register_all_modules(init_default_scope=False)

QUICKSTART = config_path('quickstart', 'gfl_r18_fpn_qfl-dfl-ciou_synthetic.py')


def _retinanet_cfg(tmp_path, tiny_root, **head):
    """The quickstart config with a small RetinaNet head."""
    cfg = shrink_config(
        Config.fromfile(QUICKSTART), str(tmp_path / 'work'), tiny_root)
    cfg.model = dict(
        type='RetinaNet',
        data_preprocessor=cfg.model.data_preprocessor,
        backbone=cfg.model.backbone,
        neck=cfg.model.neck,
        bbox_head=dict(
            type='RetinaHead',
            num_classes=4,
            in_channels=64,
            stacked_convs=1,
            feat_channels=32,
            anchor_generator=dict(
                type='AnchorGenerator',
                octave_base_scale=4,
                scales_per_octave=1,
                ratios=[1.0],
                strides=[8, 16, 32, 64]),
            bbox_coder=dict(type='DeltaXYWHBBoxCoder'),
            loss_cls=dict(
                type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25),
            **head),
        train_cfg=dict(
            assigner=dict(
                type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4),
            sampler=dict(type='PseudoSampler'),
            allowed_border=-1,
            pos_weight=-1,
            debug=False),
        test_cfg=dict(
            nms_pre=100,
            score_thr=0.0,
            nms=dict(type='nms', iou_threshold=0.5),
            max_per_img=10))
    return cfg


@pytest.mark.parametrize('loss', ['IoULoss', 'GIoULoss', 'CIoULoss'])
def test_iou_loss_on_deltas_is_refused_with_the_fix(tmp_path,
                                                    tiny_synthetic_root, loss):
    cfg = _retinanet_cfg(
        tmp_path, tiny_synthetic_root, loss_bbox=dict(type=loss))
    with pytest.raises(ValueError) as info:
        build_runner(cfg)
    message = str(info.value)
    assert f'uses {loss}' in message
    assert 'model.bbox_head.reg_decoded_bbox=True' in message


def test_iou_loss_on_decoded_boxes_and_l1_on_deltas_are_fine(
        tmp_path, tiny_synthetic_root):
    build_runner(
        _retinanet_cfg(
            tmp_path,
            tiny_synthetic_root,
            reg_decoded_bbox=True,
            loss_bbox=dict(type='GIoULoss')))
    build_runner(
        _retinanet_cfg(
            tmp_path, tiny_synthetic_root, loss_bbox=dict(type='L1Loss')))


def test_num_classes_must_match_the_dataset(tmp_path, tiny_synthetic_root):
    cfg = shrink_config(
        Config.fromfile(QUICKSTART), str(tmp_path / 'work'),
        tiny_synthetic_root)
    cfg.model.bbox_head.num_classes = 80
    with pytest.raises(ValueError) as info:
        build_runner(cfg)
    message = str(info.value)
    assert 'model.bbox_head.num_classes=80' in message
    assert '4 classes' in message and "'rectangle'" in message


def test_dfl_range_too_small_for_the_images_warns(tmp_path,
                                                  tiny_synthetic_root):
    cfg = shrink_config(
        Config.fromfile(QUICKSTART), str(tmp_path / 'work'),
        tiny_synthetic_root)
    cfg.model.bbox_head.reg_max = 1  # 1 bin x 64 px stride < 128 px
    with pytest.warns(UserWarning, match='DFL covers distances up to'):
        build_runner(cfg)


def test_quickstart_dfl_range_does_not_warn(tmp_path, tiny_synthetic_root,
                                            recwarn):
    cfg = shrink_config(
        Config.fromfile(QUICKSTART), str(tmp_path / 'work'),
        tiny_synthetic_root)
    build_runner(cfg)
    assert not [w for w in recwarn if 'DFL covers' in str(w.message)]
