# YOLOv1 on Pascal VOC: train on VOC 2007 + 2012 trainval, test on VOC 2007
# test (11-point mAP, the VOC 2007 devkit's metric).
#
# Paper (Redmon et al., "You Only Look Once", CVPR 2016, arXiv:1506.02640):
# 63.4 mAP on VOC 2007 test, with its own 24-convolution network pretrained on
# ImageNet, 448 x 448 input, S = 7, B = 2, lambda_coord = 5, lambda_noobj =
# 0.5; about 135 epochs of VOC 07+12 trainval at batch 64, SGD with momentum
# 0.9 and weight decay 0.0005; learning rate raised from 1e-3 to 1e-2 over
# the first epochs, then 1e-2 for 75 epochs, 1e-3 for 30 and 1e-4 for 30;
# dropout 0.5 after its first fully connected layer; augmentation by random
# scaling and translation of up to 20% of the image size and random exposure
# and saturation of up to a factor of 1.5 in HSV (section 2.2).
#
# This config keeps the loss, the input, the grid, the schedule and the
# augmentation, on an ImageNet-pretrained ResNet-50 (mmcls weights: they load
# without torchvision) instead of the paper's network, and a convolutional
# head instead of its fully connected layers (see YOLOv1Head). Warm-up over 5
# epochs and gradient clipping are our choices. Batch 64 = 8 GPUs x 8 images.
# It has not been trained here (no VOC data and no GPU): no number of ours
# to set beside the paper's 63.4 yet.
_base_ = [
    'mmdet::_base_/datasets/voc0712.py',
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
        depth=50,
        num_stages=4,
        out_indices=(3, ),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint='mmcls://resnet50')),
    neck=None,
    # 448 / 32 = 14 x 14 features, pooled 2 x 2 into the 7 x 7 grid
    bbox_head=dict(
        type='YOLOv1Head',
        num_classes=20,
        in_channels=2048,
        grid_size=7,
        num_boxes=2,
        feat_channels=1024,
        num_convs=2,
        loss=dict(type='YOLOv1Loss', lambda_coord=5.0, lambda_noobj=0.5)),
    test_cfg=dict(
        score_thr=0.005,
        nms=dict(type='nms', iou_threshold=0.5),
        max_per_img=100))

img_scale = (448, 448)
backend_args = None
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=False),
    # scaling and translation of up to 20% of the image size
    dict(
        type='RandomAffine',
        max_rotate_degree=0.0,
        max_shear_degree=0.0,
        scaling_ratio_range=(0.8, 1.2),
        max_translate_ratio=0.2,
        border_val=(114, 114, 114)),
    # exposure (all channels scaled alike: V of HSV) and saturation by up to
    # a factor of 1.5
    dict(
        type='PhotoMetricDistortion',
        brightness_delta=0,
        contrast_range=(1 / 1.5, 1.5),
        saturation_range=(1 / 1.5, 1.5),
        hue_delta=0),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=img_scale, keep_ratio=False),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]

voc_trainval = dict(
    type={{_base_.dataset_type}},
    data_root={{_base_.data_root}},
    filter_cfg=dict(filter_empty_gt=True, min_size=32),
    pipeline=train_pipeline,
    backend_args=backend_args)
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    # epochs are epochs of VOC 07+12 trainval, as the paper counts them (no
    # RepeatDataset)
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        ignore_keys=['dataset_type'],
        datasets=[
            dict(
                voc_trainval,
                ann_file='VOC2007/ImageSets/Main/trainval.txt',
                data_prefix=dict(sub_data_root='VOC2007/')),
            dict(
                voc_trainval,
                ann_file='VOC2012/ImageSets/Main/trainval.txt',
                data_prefix=dict(sub_data_root='VOC2012/')),
        ]))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

max_epochs = 135
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.1,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[75, 105],
        gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005),
    clip_grad=dict(max_norm=35, norm_type=2))
auto_scale_lr = dict(enable=False, base_batch_size=64)

default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=5))
