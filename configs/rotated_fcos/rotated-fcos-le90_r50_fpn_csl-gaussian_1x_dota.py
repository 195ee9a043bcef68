# Rotated FCOS with the angle classified by circular smooth labels (CSL,
# Yang and Yan, ECCV 2020): 180 bins of 1 degree, gaussian window of radius
# 1 bin, focal loss on the soft labels (mmrotate's SmoothFocalLoss, weight
# 0.2); the box loss is GIoU on the side distances with the angle factored
# out (use_hbbox_loss). R-50-FPN, 1x, le90, DOTA-v1.0 single-scale 1024
# patches with a 200-pixel gap.
# Published: 71.76 mAP on DOTA-v1.0 test (mmrotate, rotated FCOS + CSL
# gaussian). Not measured by this repository (it needs a GPU and DOTA).
_base_ = './rotated-fcos-le90_r50_fpn_1x_dota.py'
angle_version = 'le90'

model = dict(
    bbox_head=dict(
        use_hbbox_loss=True,
        scale_angle=False,
        angle_coder=dict(
            type='CSLCoder',
            angle_version=angle_version,
            omega=1,
            window='gaussian',
            radius=1),
        loss_bbox=dict(_delete_=True, type='GIoULoss', loss_weight=1.0),
        loss_angle=dict(
            _delete_=True,
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=0.2)))
