# Quickstart: YOLOv1 (S = 8, B = 2) on a ResNet-18 trained from scratch on
# the embedded synthetic shapes (256 x 256 images, generated on first use).
# The stride-32 ResNet-18 maps 256 pixels to 8 x 8 features: one per cell of
# 32 pixels, so the head needs no pooling. Sized for a 2-core CPU; the
# README gives the measured time and mAP.
_base_ = [
    '../_base_/datasets/synthetic_shapes.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='SingleStageDetector',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(
        type='ResNet',
        depth=18,
        num_stages=4,
        out_indices=(3, ),
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        init_cfg=None),
    neck=None,
    bbox_head=dict(
        type='YOLOv1Head',
        num_classes=4,
        in_channels=512,
        grid_size=8,
        num_boxes=2,
        feat_channels=256,
        num_convs=2,
        loss=dict(type='YOLOv1Loss', lambda_coord=5.0, lambda_noobj=0.5)),
    test_cfg=dict(
        score_thr=0.01,
        nms=dict(type='nms', iou_threshold=0.5),
        max_per_img=100))

max_epochs = 24
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[18, 22],
        gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005),
    clip_grad=dict(max_norm=35, norm_type=2))
auto_scale_lr = dict(enable=False, base_batch_size=8)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=4, max_keep_ckpts=2))
log_processor = dict(window_size=10)
