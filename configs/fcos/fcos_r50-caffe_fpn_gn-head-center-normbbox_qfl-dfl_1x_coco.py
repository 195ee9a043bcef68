# FCOS with GFL's representations (FCOSGFLHead): QFL (beta 2) on a joint
# classification-quality score instead of Focal loss + centerness branch,
# and a DFL-learnt distribution per side (reg_max 16, weight 0.25) with
# GIoU (weight 2) on the decoded boxes, as GFL. Points, regress ranges and
# center sampling as the FCOS config it inherits. Should land near 39.0 AP
# (GFL paper, FCOS: Table 1(a) 39.0 with QFL, Table 2(a) 39.0 with
# General + DFL; the two together are not reported).
_base_ = './fcos_r50-caffe_fpn_gn-head-center-normbbox-centeronreg-giou_1x_coco.py'  # noqa: E501

model = dict(
    bbox_head=dict(
        type='FCOSGFLHead',
        reg_max=16,
        bin_interval=1.0,
        loss_cls=dict(
            _delete_=True,
            type='QualityFocalLoss',
            use_sigmoid=True,
            beta=2.0,
            loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
        loss_dfl=dict(type='DistributionFocalLoss', loss_weight=0.25)))
