# YOLOv1 on COCO 2017 (train2017, evaluated on val2017): the VOC config's
# model, 448 x 448 input, augmentation and schedule (the paper's 135 epochs),
# with COCO's 80 classes. The paper reports no COCO result, and this config
# has not been trained here (no COCO data and no GPU).
_base_ = './yolov1_r50_8xb8-448-135e_voc0712.py'

model = dict(bbox_head=dict(num_classes=80))

dataset_type = 'CocoDataset'
data_root = 'data/coco/'
backend_args = None
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=32),
        pipeline={{_base_.train_pipeline}},
        backend_args=backend_args))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline={{_base_.test_pipeline}},
        backend_args=backend_args))
test_dataloader = val_dataloader

val_evaluator = dict(
    _delete_=True,
    type='CocoMetric',
    ann_file=data_root + 'annotations/instances_val2017.json',
    metric='bbox',
    format_only=False,
    backend_args=backend_args)
test_evaluator = val_evaluator
