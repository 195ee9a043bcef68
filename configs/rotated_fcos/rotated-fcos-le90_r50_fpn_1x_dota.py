# Rotated FCOS (side distances in the box frame + an angle branch, rotated
# IoU loss on the decoded boxes), R-50-FPN, 1x (12 epochs), le90, DOTA-v1.0
# single-scale 1024 x 1024 patches with a 200-pixel gap, trained on trainval.
# Published: 71.28 mAP on the DOTA-v1.0 test set (mmrotate 1.x model zoo,
# same settings). Not measured by this repository (it needs a GPU and DOTA).
_base_ = '../rotated_retinanet/rotated-retinanet-rbox-le90_r50_fpn_1x_dota.py'
angle_version = 'le90'

model = dict(
    type='FCOS',
    neck=dict(add_extra_convs='on_output', relu_before_extra_convs=True),
    bbox_head=dict(
        _delete_=True,
        type='RotatedFCOSHead',
        num_classes=15,
        in_channels=256,
        stacked_convs=4,
        feat_channels=256,
        strides=[8, 16, 32, 64, 128],
        center_sampling=True,
        center_sample_radius=1.5,
        norm_on_bbox=True,
        centerness_on_reg=True,
        use_hbbox_loss=False,
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
        loss_angle=None,
        loss_centerness=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    # FCOS assigns by position: no assigner
    train_cfg=None)
