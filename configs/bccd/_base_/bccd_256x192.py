# BCCD (blood cells, Pascal VOC layout, 3 classes, 640 x 480) at 256 x 192:
# train on the 205 "train" images, evaluate on the 87 "val" images with the
# COCO metric (AP at IoU 0.50:0.95, AP50, AP75, as the GFL paper reports),
# computed from the VOC annotations (CocoMetric converts them).
# The data root: the environment variable BCCD_ROOT, else the default below
# (relative to the repository root); or --cfg-options
# {train,val,test}_dataloader.dataset.data_root=DIR.
# Two of BCCD's boxes are points (zero width and height, images 338 and 343):
# bad_annotations='skip' drops them with a warning that names them; they can
# be neither learnt nor matched.
dataset_type = 'VOCDataset'
data_root = '{{$BCCD_ROOT:../shared/data/bccd/BCCD/}}'
metainfo = dict(
    classes=('RBC', 'WBC', 'Platelets'),
    palette=[(220, 20, 60), (0, 130, 200), (245, 190, 20)])
img_scale = (256, 192)
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        # CocoMetric builds its ground truth from the raw annotations
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor', 'instances'))
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        bad_annotations='skip',
        ann_file='ImageSets/Main/train.txt',
        data_prefix=dict(sub_data_root=''),
        filter_cfg=dict(filter_empty_gt=True, min_size=32),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        bad_annotations='skip',
        ann_file='ImageSets/Main/val.txt',
        data_prefix=dict(sub_data_root=''),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = dict(
    val_dataloader,
    dataset=dict(
        val_dataloader['dataset'], ann_file='ImageSets/Main/test.txt'))

val_evaluator = dict(
    type='CocoMetric',
    ann_file=None,
    metric='bbox',
    format_only=False,
    backend_args=backend_args)
test_evaluator = val_evaluator
