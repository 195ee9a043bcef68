# The embedded synthetic rotated dataset (mmdet_losses/datasets/
# synthetic_rotated.py): 4 classes (rectangle, ellipse, triangle, ship) at
# any angle, 256 x 256 images, DOTA format, written to data_root on first
# use; no download. Boxes load as corners and become rotated boxes (le90 is
# applied by the heads' coders).
dataset_type = 'SyntheticRotatedDataset'
data_root = 'data/synthetic_rotated/'
generate = dict(num_train=400, num_val=100, img_size=256, seed=0)
img_scale = (256, 256)
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True, box_type='qbox'),
    dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(
        type='RandomFlip',
        prob=0.75,
        direction=['horizontal', 'vertical', 'diagonal']),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    # after Resize: the metric compares boxes in the original image scale
    dict(type='LoadAnnotations', with_bbox=True, box_type='qbox'),
    dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        generate=generate,
        ann_file='train/labelTxt/',
        data_prefix=dict(img_path='train/images/'),
        filter_cfg=dict(filter_empty_gt=True),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        generate=generate,
        ann_file='val/labelTxt/',
        data_prefix=dict(img_path='val/images/'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# DOTA's protocol: VOC07 11-point AP at IoU 0.5, difficult objects ignored
val_evaluator = dict(type='DOTAMetric', metric='mAP')
test_evaluator = val_evaluator
