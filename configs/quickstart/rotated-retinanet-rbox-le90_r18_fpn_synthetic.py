# Quickstart: rotated RetinaNet (Focal loss, smooth L1 on the anchors'
# (x, y, w, h, angle) deltas, le90) with a half-width ResNet-18 (32 base
# channels) and a 64-channel FPN on P3-P5, trained from scratch on the
# embedded synthetic rotated shapes (256 x 256 images, generated on first
# use). Sized for a 2-core CPU: the assigner's IoU thresholds are lowered to
# 0.4 / 0.3 (from mmrotate's 0.5 / 0.4) so that objects turned away from the
# horizontal anchors still get positive anchors. The README gives the
# measured time and mAP.
_base_ = [
    '../_base_/models/resnet18-half_fpn64.py',
    '../_base_/datasets/synthetic_rotated.py',
    '../_base_/default_runtime.py',
]
angle_version = 'le90'

model = dict(
    type='RetinaNet',
    # rotated boxes stay box objects until the head
    data_preprocessor=dict(boxtype2tensor=False),
    # P3-P5 only
    neck=dict(
        _delete_=True,
        type='FPN',
        in_channels=[64, 128, 256],
        out_channels=64,
        start_level=0,
        num_outs=3),
    bbox_head=dict(
        type='RotatedRetinaHead',
        num_classes=4,
        in_channels=64,
        stacked_convs=2,
        feat_channels=64,
        norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
        anchor_generator=dict(
            type='FakeRotatedAnchorGenerator',
            angle_version=angle_version,
            octave_base_scale=4,
            scales_per_octave=2,
            ratios=[1.0, 0.5, 2.0],
            strides=[8, 16, 32]),
        bbox_coder=dict(
            type='DeltaXYWHTRBBoxCoder',
            angle_version=angle_version,
            norm_factor=None,
            edge_swap=True,
            proj_xy=True,
            target_means=(.0, .0, .0, .0, .0),
            target_stds=(1.0, 1.0, 1.0, 1.0, 1.0)),
        loss_cls=dict(
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.0)),
    train_cfg=dict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=0.4,
            neg_iou_thr=0.3,
            min_pos_iou=0,
            ignore_iof_thr=-1,
            iou_calculator=dict(type='RBboxOverlaps2D')),
        sampler=dict(type='PseudoSampler'),
        allowed_border=-1,
        pos_weight=-1,
        debug=False),
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.05,
        nms=dict(type='nms_rotated', iou_threshold=0.1),
        max_per_img=100))

# 8 epochs of 50 iterations (batch 8), lr steps after epochs 6 and 7
max_epochs = 8
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
        milestones=[6, 7],
        gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=35, norm_type=2))
auto_scale_lr = dict(enable=False, base_batch_size=8)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=4, max_keep_ckpts=2))
log_processor = dict(window_size=10)
visualizer = dict(
    type='RotatedDetLocalVisualizer',
    vis_backends=[dict(type='LocalVisBackend')],
    name='visualizer')
# a fixed seed, so that a run gives the number the README reports (the
# configs built on this one inherit it)
randomness = dict(seed=0)
