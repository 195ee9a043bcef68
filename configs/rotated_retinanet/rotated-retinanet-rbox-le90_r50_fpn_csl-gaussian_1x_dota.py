# Rotated RetinaNet with the angle classified by circular smooth labels
# (CSL, Yang and Yan, ECCV 2020): 45 bins of 4 degrees, gaussian window of
# radius 3 bins, focal loss on the soft labels (mmrotate's SmoothFocalLoss,
# weight 0.8); the box branch keeps (x, y, w, h) deltas with L1. R-50-FPN,
# 1x, le90, DOTA-v1.0 single-scale 1024 patches with a 200-pixel gap.
# Published: 69.51 mAP on DOTA-v1.0 test (mmrotate 1.x, CSL gaussian). Not
# measured by this repository (it needs a GPU and DOTA).
_base_ = './rotated-retinanet-rbox-le90_r50_fpn_1x_dota.py'
angle_version = 'le90'

model = dict(
    bbox_head=dict(
        type='AngleBranchRetinaHead',
        # the angle branch predicts the angle of the w side: no edge swap
        bbox_coder=dict(edge_swap=False),
        angle_coder=dict(
            type='CSLCoder',
            angle_version=angle_version,
            omega=4,
            window='gaussian',
            radius=3),
        loss_angle=dict(
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=0.8)))
