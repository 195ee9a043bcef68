# GFL paper Table 3, DFL row: ATSS's Focal loss + centerness branch, with
# GFL's general distribution (reg_max 16, bin interval 1) learnt by DFL
# (weight 0.25) and GIoU on the decoded boxes. GFLAblationHead, everything
# else as atss_r50_fpn_1x_coco.py. Should land near 39.5 AP.
_base_ = '../../atss/atss_r50_fpn_1x_coco.py'

model = dict(
    bbox_head=dict(
        type='GFLAblationHead',
        bbox_repr='general',
        reg_max=16,
        bin_interval=1.0,
        bbox_coder=dict(_delete_=True, type='DistancePointBBoxCoder'),
        loss_dfl=dict(type='DistributionFocalLoss', loss_weight=0.25)))
