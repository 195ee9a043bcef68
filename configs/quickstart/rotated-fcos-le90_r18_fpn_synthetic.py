# Quickstart: rotated FCOS (side distances in the box frame, an angle
# branch, rotated IoU loss on the decoded boxes, le90) with the rotated
# RetinaNet quickstart's backbone, FPN, data and schedule.
_base_ = './rotated-retinanet-rbox-le90_r18_fpn_synthetic.py'
angle_version = 'le90'

model = dict(
    type='FCOS',
    bbox_head=dict(
        _delete_=True,
        type='RotatedFCOSHead',
        num_classes=4,
        in_channels=64,
        stacked_convs=2,
        feat_channels=64,
        norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
        strides=[8, 16, 32],
        regress_ranges=((-1, 48), (48, 96), (96, 1e8)),
        center_sampling=True,
        center_sample_radius=1.5,
        norm_on_bbox=True,
        centerness_on_reg=True,
        scale_angle=True,
        bbox_coder=dict(
            type='DistanceAnglePointCoder', angle_version=angle_version),
        loss_cls=dict(
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0),
        loss_bbox=dict(type='RotatedIoULoss', loss_weight=1.0),
        loss_centerness=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    train_cfg=None)
