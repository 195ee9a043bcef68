# Quickstart: the rotated RetinaNet quickstart with the angle classified by
# circular smooth labels (CSL, Yang and Yan, ECCV 2020): 45 bins of 4
# degrees, gaussian window of radius 3 bins, focal loss on the soft labels
# (weight 0.8, mmrotate's DOTA setting); the box branch keeps smooth L1 on
# the (x, y, w, h) deltas. Same data and schedule as the smooth L1
# quickstart; the README compares them (3 seeds).
_base_ = './rotated-retinanet-rbox-le90_r18_fpn_synthetic.py'
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
