# Quickstart: mmrotate's rotated RetinaNet (rbox, le90: Focal loss, L1 on the
# anchors' (x, y, w, h, angle) deltas) on the embedded synthetic rotated
# shapes (256 x 256 images, DOTA format, generated on first use), sized for
# a 2-core CPU: a half-width ResNet-18 (32 base channels) trained from
# scratch and a 64-channel FPN on P3-P5 (the model part of
# ../_base_/models/resnet18-half_fpn64.py, which cannot be a second base
# here: both define `model`), 2 stacked convs in the head, the assigner's
# IoU thresholds lowered to 0.4 / 0.3 (from 0.5 / 0.4) so that objects
# turned away from the horizontal anchors still get positive anchors. Only
# the sizes, data and schedule differ from mmrotate's DOTA config; the
# README gives the measured time and mAP.
_base_ = 'mmrotate::rotated_retinanet/rotated-retinanet-rbox-le90_r50_fpn_1x_dota.py'  # noqa: E501
custom_imports = dict(imports=['mmdet_losses'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        depth=18,
        base_channels=32,
        out_indices=(1, 2, 3),
        frozen_stages=-1,
        norm_eval=False,
        init_cfg=None),
    neck=dict(
        in_channels=[64, 128, 256],
        out_channels=64,
        start_level=0,
        add_extra_convs=False,
        num_outs=3),
    bbox_head=dict(
        num_classes=4,
        in_channels=64,
        stacked_convs=2,
        feat_channels=64,
        norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
        anchor_generator=dict(scales_per_octave=2, strides=[8, 16, 32])),
    train_cfg=dict(assigner=dict(pos_iou_thr=0.4, neg_iou_thr=0.3)),
    test_cfg=dict(nms_pre=1000, max_per_img=100))

# the embedded synthetic rotated shapes: rectangle, ellipse, triangle, ship
dataset_type = 'mmdet_losses.SyntheticDOTADataset'
data_root = 'data/synthetic_rotated/'
generate = dict(num_train=400, num_val=100, img_size=256, seed=0)
img_scale = (256, 256)
# mmrotate's DOTA pipelines at 256 px
train_pipeline = [
    dict(type='mmdet.LoadImageFromFile'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, box_type='qbox'),
    dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
    dict(type='mmdet.Resize', scale=img_scale, keep_ratio=True),
    dict(
        type='mmdet.RandomFlip',
        prob=0.75,
        direction=['horizontal', 'vertical', 'diagonal']),
    dict(type='mmdet.PackDetInputs')
]
val_pipeline = [
    dict(type='mmdet.LoadImageFromFile'),
    dict(type='mmdet.Resize', scale=img_scale, keep_ratio=True),
    # after Resize: the metric compares boxes in the original image scale
    dict(type='mmdet.LoadAnnotations', with_bbox=True, box_type='qbox'),
    dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
    dict(
        type='mmdet.PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        generate=generate,
        ann_file='train/labelTxt/',
        data_prefix=dict(img_path='train/images/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=1,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        generate=generate,
        ann_file='val/labelTxt/',
        data_prefix=dict(img_path='val/images/'),
        pipeline=val_pipeline))
test_dataloader = val_dataloader

# 8 epochs of 50 iterations (batch 8), lr steps after epochs 6 and 7
max_epochs = 8
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
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
optim_wrapper = dict(optimizer=dict(lr=0.02))
auto_scale_lr = dict(enable=False, base_batch_size=8)
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=4, max_keep_ckpts=2))
log_processor = dict(window_size=10)
# a fixed seed, so that a run gives the number the README reports (the
# configs built on this one inherit it)
randomness = dict(seed=0)
