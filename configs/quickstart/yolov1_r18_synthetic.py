# Quickstart: YOLOv1 (S = 8, B = 2, the paper's loss weights) on the first
# three stages of a half-width ResNet-18 (base_channels=32), trained from
# scratch on the embedded synthetic shapes (256 x 256 images, generated on
# first use). The stride-16 features (16 x 16) are pooled 2 x 2 into the
# 8 x 8 grid of 32-pixel cells. Sized for a CPU: batch 4, AdamW, 26 epochs;
# docs/yolov1.md gives the measured time and mAP, and what else was tried.
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
        base_channels=32,
        # the first three stages: stride 16, 16 x 16 features at 256
        num_stages=3,
        strides=(1, 2, 2),
        dilations=(1, 1, 1),
        out_indices=(2, ),
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        init_cfg=None),
    neck=None,
    bbox_head=dict(
        type='YOLOv1Head',
        num_classes=4,
        in_channels=128,
        grid_size=8,
        num_boxes=2,
        feat_channels=128,
        num_convs=2,
        loss=dict(type='YOLOv1Loss', lambda_coord=5.0, lambda_noobj=0.5)),
    test_cfg=dict(
        score_thr=0.001,
        nms=dict(type='nms', iou_threshold=0.5),
        max_per_img=100))

max_epochs = 26
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=13)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[20, 25],
        gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.002, weight_decay=0.0001),
    clip_grad=dict(max_norm=35, norm_type=2))
auto_scale_lr = dict(enable=False, base_batch_size=4)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=13, max_keep_ckpts=1))
log_processor = dict(window_size=10)
train_dataloader = dict(batch_size=4)
# a fixed seed, so that a run gives the number the README reports
randomness = dict(seed=0)
